"""The Telegram adapter: python-telegram-bot in front of the command core.

Updates arrive by long polling (PTB's ``Updater``, which retries network failures and
Telegram restarts of ``getUpdates`` with backoff). Each update is handled concurrently
(``concurrent_updates``) and quickly: the core answers at once and runs the job as a
background task, so one slow job never delays other updates. ``telegram.api_url`` points
PTB at a local Bot API server (https://github.com/tdlib/telegram-bot-api), which is also how
the tests point it at a fake one. ``connected`` (``/healthz``) turns False while
``getUpdates`` fails (Telegram down, a revoked token, a second instance polling) and True
again with the next poll that succeeds.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeDefault,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler
from telegram.request import HTTPXRequest

from adapters.telegram.handlers import UpdateHandler
from adapters.telegram.ingest import KnownUsers
from adapters.telegram.moderators import Moderators
from adapters.telegram.outbox import TelegramOutbox
from bot import texts
from bot.config import TelegramConfig
from bot.core import Core
from bot.errors import ConfigError
from bot.lifecycle import StartStop
from bot.models import Platform

__all__ = ["TelegramAdapter", "TelegramOutbox", "build_application"]

log = logging.getLogger(__name__)


# Loggers that print request URLs, which carry the bot token (``/bot<token>/method``).
URL_LOGGERS = ("httpx", "telegram.Bot", "telegram.ext.ExtBot", "telegram.ext.Updater")
# The updates the bot acts on; the rest (edits, reactions, member changes…) would only
# cost traffic in busy groups.
ALLOWED_UPDATES: Final = [Update.MESSAGE, Update.CALLBACK_QUERY]
# Start-up calls (deleteWebhook / setWebhook) retried with backoff before giving up, so a
# Telegram hiccup while the bot starts does not stop it (about 13 s of retries in all).
BOOTSTRAP_RETRIES: Final = 5
# https://core.telegram.org/bots/api#setwebhook: secret_token is 1-256 of these characters
WEBHOOK_SECRET: Final = re.compile(r"[A-Za-z0-9_-]{1,256}")


class TokenRedactor(logging.Filter):
    """Replaces the bot token in log records with ``<token>``: secrets never reach logs."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self._token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if self._token and self._token in record.getMessage():
            record.msg = record.getMessage().replace(self._token, "<token>")
            record.args = None
        return True


class PollingRequest(HTTPXRequest):
    """The connection ``getUpdates`` runs on, watched: ``failing`` from a poll that failed
    (a network error or an error status) until the next one that succeeds. PTB retries the
    poll by itself; this only lets the adapter say whether updates are coming in."""

    def __init__(self) -> None:
        super().__init__(connection_pool_size=1)  # PTB's own choice for getUpdates
        self.failing = False

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        try:
            code, payload = await super().do_request(*args, **kwargs)
        except Exception:  # not CancelledError: stopping is no failure
            self.failing = True
            raise
        self.failing = not 200 <= code < 300
        return code, payload


def build_application(config: TelegramConfig, polling: PollingRequest | None = None) -> Application:  # type: ignore[type-arg]
    """A PTB application for ``config``: token, Bot API server, concurrent updates, and
    ``polling`` as the connection of ``getUpdates``."""
    if config.token is None:
        raise ConfigError("telegram.token: not set")
    if config.webhook_url:
        secret = config.webhook_secret.get_secret_value() if config.webhook_secret else ""
        if not WEBHOOK_SECRET.fullmatch(secret):
            # without it anyone who learns the URL can post updates as any user, a
            # configured moderator included
            raise ConfigError(
                "telegram.webhook_secret: required in webhook mode, 1-256 characters "
                "of A-Z, a-z, 0-9, _ and -"
            )
    api = config.api_url.rstrip("/")
    builder = (
        ApplicationBuilder()
        .token(config.token.get_secret_value())
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .concurrent_updates(True)
    )
    if polling is not None:
        builder = builder.get_updates_request(polling)
    return builder.build()


def command_list(language: str, quota_key: str) -> list[BotCommand]:
    """The commands shown in Telegram's menu; ``quota_key`` describes ``/quota``."""
    return [
        BotCommand("sora", texts.t(language, "command.sora")),
        BotCommand("quota", texts.t(language, quota_key)),
        BotCommand("help", texts.t(language, "command.help")),
    ]


class TelegramAdapter(StartStop):
    """Connects one bot account to ``core``; use as ``async with TelegramAdapter(...)``."""

    platform = Platform.TELEGRAM.value

    def __init__(
        self,
        core: Core,
        config: TelegramConfig,
        *,
        private_interval: float | None = None,
        group_interval: float | None = None,
        poll_timeout: float = 30.0,
    ) -> None:
        self.core = core
        self.config = config
        # before PTB is built: the Bot logs its URL (with the token) when constructed
        self._redactor = TokenRedactor(config.token.get_secret_value() if config.token else "")
        for name in URL_LOGGERS:
            logging.getLogger(name).addFilter(self._redactor)
        self._polling = PollingRequest()
        self.app = build_application(config, self._polling)
        settings = core.s.settings
        intervals = {
            k: v
            for k, v in (("private_interval", private_interval), ("group_interval", group_interval))
            if v is not None
        }
        self.outbox = TelegramOutbox(
            self.app.bot,
            upload_limit_mb=config.upload_limit_mb,
            locale=settings.bot.locale,
            sleep=core.s.sleep,
            **intervals,  # type: ignore[arg-type]
        )
        self.moderators = Moderators(self.app.bot, config.moderators)
        self.known_users = KnownUsers(core.s.users)
        self._poll_timeout = poll_timeout
        self._handler = UpdateHandler(
            core=core,
            outbox=self.outbox,
            moderators=self.moderators,
            known_users=self.known_users,
            image_dir=Path(core.s.media_dir) / "telegram-images",
        )
        self.app.add_handler(TypeHandler(Update, self._on_update))
        self.app.add_error_handler(self._on_error)

    @property
    def connected(self) -> bool:
        """Receiving updates: the updater runs and, when polling, its last ``getUpdates``
        did not fail (PTB's updater retries lost connections by itself)."""
        updater = self.app.updater
        if updater is None or not updater.running:
            return False
        return bool(self.config.webhook_url) or not self._polling.failing

    @property
    def bot(self) -> Bot:
        return self.app.bot

    async def start(self) -> None:
        """Log in, attach the outbox to the core, register commands, start receiving."""
        await self.app.initialize()
        me = self.app.bot
        self._handler.bind(me.id, me.username)
        self.core.s.attach(self.platform, self.outbox)
        await self._register_commands()
        await self.app.start()
        updater = self.app.updater
        assert updater is not None
        if self.config.webhook_url:
            secret = self.config.webhook_secret
            await updater.start_webhook(
                listen=self.config.webhook_listen,
                port=self.config.webhook_port,
                # served under the public URL's path, so a reverse proxy can pass it through
                url_path=urlsplit(self.config.webhook_url).path.strip("/"),
                webhook_url=self.config.webhook_url,
                secret_token=secret.get_secret_value() if secret else None,
                allowed_updates=ALLOWED_UPDATES,
                bootstrap_retries=BOOTSTRAP_RETRIES,
            )
        else:
            await updater.start_polling(
                poll_interval=0.0,
                timeout=int(self._poll_timeout),
                allowed_updates=ALLOWED_UPDATES,
                bootstrap_retries=BOOTSTRAP_RETRIES,
            )

    async def stop(self) -> None:
        updater = self.app.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()
        for name in URL_LOGGERS:
            logging.getLogger(name).removeFilter(self._redactor)

    async def _register_commands(self) -> None:
        """The member list for everyone (``/quota``: your own credits) and the moderator
        list for chat administrators (``/quota``: manage members' credits too)."""
        for language in ("en", "zh"):
            code = None if language == "en" else language
            try:
                await self.app.bot.set_my_commands(
                    command_list(language, "command.quota.me"),
                    scope=BotCommandScopeDefault(),
                    language_code=code,
                )
                await self.app.bot.set_my_commands(
                    command_list(language, "command.quota"),
                    scope=BotCommandScopeAllChatAdministrators(),
                    language_code=code,
                )
            except TelegramError as exc:
                log.warning("could not register the command list: %s", exc)

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._handler.handle(update)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("handling a Telegram update failed", exc_info=context.error)
