"""A core wired to the simulator, a temporary SQLite file and a ``FakeOutbox``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot.cli.runtime import open_core
from bot.config import BotConfig, QuotaConfig, Settings, StorageConfig
from bot.core import Core
from bot.models import Conversation, Invocation, MessageRef, Platform, Reply, UserRef
from bot.providers.simulator import Simulator
from bot.records import QuotaKey
from tests.fakes import FakeOutbox

PLATFORM = Platform.TELEGRAM
CHAT = Conversation(PLATFORM, scope="group-1", channel="group-1")
FORMATS = ("videos", "chat", "unified")


def settings_for(
    sim: Simulator,
    tmp_path: Path,
    *,
    quota: Mapping[str, Any] | None = None,
    bot: Mapping[str, Any] | None = None,
    providers: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """One provider per format, named after it ("videos", "chat", "unified")."""
    overrides = providers or {}
    return Settings(
        storage=StorageConfig(path=tmp_path / "bot.db", media_dir=tmp_path / "media"),
        providers=[sim.provider_config(f, name=f, **overrides.get(f, {})) for f in FORMATS],
        quota=QuotaConfig(**(quota or {"default_limit": 5})),
        bot=BotConfig(**(bot or {})),
    )


def ask(
    text: str,
    *,
    user: str = "alice",
    command: str = "sora",
    reply_to: MessageRef | None = None,
    moderator: bool = False,
    options: Mapping[str, str] | None = None,
    locale: str = "en",
    message_id: str | None = None,
) -> Invocation:
    return Invocation(
        user=UserRef(PLATFORM, user, display_name=user.title()),
        conversation=CHAT,
        text=text,
        command=command,
        is_moderator=moderator,
        locale=locale,
        options=dict(options or {}),
        reply_to=reply_to,
        message=MessageRef(CHAT, message_id) if message_id else None,
    )


def key(user: str = "alice") -> QuotaKey:
    return QuotaKey(PLATFORM.value, CHAT.scope, user)


@asynccontextmanager
async def running(
    settings: Settings, outbox: FakeOutbox, *, recover: bool = True
) -> AsyncIterator[Core]:
    async with open_core(settings) as core:
        core.s.attach(PLATFORM.value, outbox)
        if recover:
            await core.recover(PLATFORM.value)
        yield core


async def generate(core: Core, text: str, **kwargs: Any) -> Reply | None:
    """Ask for a video and wait until every job has finished."""
    reply = await core.handle(ask(text, **kwargs))
    await core.wait_idle()
    return reply


async def ledger_kinds(core: Core, user: str = "alice") -> list[str]:
    """The user's ledger, oldest first, as kinds."""
    entries = await core.s.quotas.history(key(user), 100)
    return [entry.kind for entry in reversed(entries)]
