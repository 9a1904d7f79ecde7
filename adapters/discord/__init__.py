"""The Discord adapter: discord.py in front of the command core.

``start`` logs in, attaches the outbox to the core, registers the persistent result
buttons, syncs the application commands (to the configured guilds, which is instant, or
globally) and runs the gateway connection as a background task; discord.py reconnects
(and resumes) by itself after drops, and ``connected`` follows it. Interactions are
handled concurrently by discord.py; each one is answered at once and the job itself runs
as a core task. See ``docs/discord.md`` for the setup (application, intents, permissions).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Final

import discord
from discord import app_commands

from adapters.discord.client import ShardedSoraClient, SoraClient, build_client
from adapters.discord.commands import CommandCatalog, TextsTranslator, register_commands
from adapters.discord.handlers import DiscordHandlers
from adapters.discord.moderators import Moderators
from adapters.discord.outbox import DiscordOutbox
from adapters.discord.redact import SecretRedactor
from adapters.discord.status_api import StatusRoute
from adapters.discord.views import AgainButton, RemixButton
from bot import texts
from bot.config import DiscordConfig
from bot.core import Core
from bot.errors import ConfigError
from bot.lifecycle import StartStop
from bot.models import MessageRef, Platform

__all__ = ["DiscordAdapter", "DiscordOutbox"]

log = logging.getLogger(__name__)

READY_TIMEOUT: Final = 120.0  # seconds to wait for the gateway's READY at start


class DiscordAdapter(StartStop):
    """Connects one bot application to ``core``; use as ``async with DiscordAdapter(...)``."""

    platform = Platform.DISCORD.value

    def __init__(
        self,
        core: Core,
        config: DiscordConfig,
        *,
        guild_ready_timeout: float = 2.0,
        ready_timeout: float = READY_TIMEOUT,
    ) -> None:
        if config.token is None:
            raise ConfigError("discord.token: not set")
        self.core = core
        self.config = config
        self._token = config.token.get_secret_value()
        self._redactor = SecretRedactor(self._token)
        self._redactor.install()
        self._ready_timeout = ready_timeout
        self.client: SoraClient | ShardedSoraClient = build_client(
            config, guild_ready_timeout=guild_ready_timeout
        )
        self.tree: app_commands.CommandTree[SoraClient | ShardedSoraClient] = (
            app_commands.CommandTree(self.client)
        )
        self.route = StatusRoute(self._token, self.client.http.user_agent)
        settings = core.s.settings
        self.outbox = DiscordOutbox(
            self.client,
            self.route,
            edit_interval=config.edit_interval,
            job_edit_interval=config.job_edit_interval,
            monotonic=lambda: core.s.monotonic(),
            locale=settings.bot.locale,
            on_moved=self._status_moved,
        )
        self.moderators = Moderators(
            config.moderator_roles,
            config.moderators,
            is_configured=lambda user_id: core.s.is_configured_moderator(self.platform, user_id),
        )
        self.handlers = DiscordHandlers(
            core=core,
            outbox=self.outbox,
            moderators=self.moderators,
            image_dir=Path(core.s.media_dir) / "discord-images",
            bot_user_id=lambda: self.client.user.id if self.client.user else None,
            reply_to_continue_hint=config.message_content,
        )
        self.client.sora_actions = self.handlers
        self.client.add_dynamic_items(AgainButton, RemixButton)
        register_commands(self.tree, self.handlers, CommandCatalog.from_settings(settings))
        self.tree.error(self._on_command_error)
        self._gateway: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def connected(self) -> bool:
        """Connected to the gateway (discord.py reconnects by itself after a drop)."""
        return (
            self._gateway is not None
            and not self._gateway.done()
            and not self.client.is_closed()
            and self.client.gateway_connected
        )

    async def start(self) -> None:
        """Log in, attach the outbox, sync the commands, connect; return once READY.

        A start that fails closes what it opened (HTTP sessions, the log filter): the
        caller's ``async with`` never reaches ``stop`` then."""
        try:
            try:
                await self.client.login(self._token)
            except discord.LoginFailure:
                raise ConfigError("discord.token: Discord refused the token") from None
            await self.route.open()
            self.core.s.attach(self.platform, self.outbox)
            await self._sync_commands()
            self._gateway = asyncio.create_task(
                self.client.connect(reconnect=True), name="discord-gateway"
            )
            await self._wait_until_ready()
            # from now on an end of the connection is a failure nobody awaits: log it
            self._gateway.add_done_callback(self._gateway_ended)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        self._stopping = True
        await self.client.close()
        if self._gateway is not None:
            await asyncio.gather(self._gateway, return_exceptions=True)
            self._gateway = None
        await self.route.close()
        self._redactor.remove()

    def _gateway_ended(self, task: asyncio.Task[None]) -> None:
        """discord.py gives up reconnecting only on fatal closes (token reset, intents
        refused): say so loudly, as ``connected`` stays False until a restart."""
        if task.cancelled() or self._stopping:
            return
        error = task.exception()
        log.error(
            "the Discord gateway connection ended for good; restart the bot once fixed (%r)",
            error,
            exc_info=error,
        )

    async def _wait_until_ready(self) -> None:
        assert self._gateway is not None
        ready = asyncio.ensure_future(self.client.wait_until_ready())
        try:
            done, _ = await asyncio.wait(
                {ready, self._gateway},
                timeout=self._ready_timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            ready.cancel()
        if self._gateway in done:
            error = self._gateway.exception()
            if isinstance(error, discord.PrivilegedIntentsRequired):
                raise ConfigError(
                    "discord.message_content: the Message Content intent is not enabled for "
                    "this application in the Developer Portal (Bot → Privileged Gateway "
                    "Intents); enable it or set message_content = false"
                ) from None
            raise ConfigError(f"discord: the gateway connection ended ({error!r})")
        if not done:
            raise ConfigError(f"discord: no READY from the gateway in {self._ready_timeout:g} s")

    async def _sync_commands(self) -> None:
        """To each configured guild (instant), else globally (may take a while to show)."""
        await self.tree.set_translator(TextsTranslator())
        if not self.config.guild_ids:
            try:
                await self.tree.sync()
            except discord.HTTPException as exc:
                log.warning("could not register the application commands: %s", exc)
            return
        for guild_id in self.config.guild_ids:  # one unknown guild must not cost the others
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            try:
                await self.tree.sync(guild=guild)
            except discord.HTTPException as exc:
                log.warning("could not register the commands in guild %s: %s", guild_id, exc)

    async def _status_moved(self, old: MessageRef, new: MessageRef) -> None:
        """A status replaced by a fresh message: the job row follows, so that a reply to the
        new message continues the job and a restart edits the new one."""
        jobs = self.core.s.jobs
        job = await jobs.find_by_message(self.platform, old.conversation.channel, old.message_id)
        if job is not None and job.status_message_id == old.message_id:
            await jobs.update(job.id, status_message_id=new.message_id)

    async def _on_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        log.error("a Discord command failed", exc_info=error)
        text = texts.t(str(interaction.locale.value), "discord.command_failed")
        with contextlib.suppress(discord.HTTPException):
            if interaction.response.is_done():  # deferred: replace "thinking…"
                await interaction.edit_original_response(content=text)
            else:
                await interaction.response.send_message(text, ephemeral=True)
