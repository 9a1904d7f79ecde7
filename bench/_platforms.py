"""The platforms ``bench/load.py`` runs the bot against, as seen from the bot's process.

- ``core``: no adapter; the core's ``Outbox`` is a recording double that refuses (like a
  429) any call in a chat sooner than the chat's budget after the previous one;
- ``telegram``: the real adapter (python-telegram-bot) against the fake Bot API of the
  tests, in a child process;
- ``discord``: the real adapter (discord.py) against the fake Discord of the tests, in a
  child process.

Each driver: ``launch`` (before the event loop: start the child, give the settings),
``start(core)``, ``submit(jobs)``, ``delivered()``, ``report()``, ``stop()``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from _common import ScaledClock, Service
from _services import tag_of

from bot.config import DiscordConfig, TelegramConfig
from bot.core import Core
from bot.errors import PlatformRateLimited
from bot.models import Conversation, Invocation, MessageRef, Platform, UserRef, VideoFile
from tests.fakes import FakeOutbox

CORE_EDIT_INTERVAL = 1.0  # the core double's budget: one call per second per chat


@dataclass(frozen=True, slots=True)
class JobSpec:
    """Job ``n``: who asks (user index), where (chat index), with which words."""

    n: int
    user: int
    chat: int

    @property
    def prompt(self) -> str:
        return f"bench{self.n} a paper boat drifting on a pond at dawn"


@dataclass
class PlatformReport:
    rate_limited: int  # 429s the platform answered
    status_posts: int
    status_edits: int
    uploads: dict[int, float]  # job number -> when its video had arrived (monotonic)
    unanswered: int = 0  # commands the bot never acknowledged (Discord: 3 s to defer)


class Driver(Protocol):
    name: str

    def launch(self) -> dict[str, Any]: ...

    async def start(self, core: Core) -> None: ...

    async def submit(self, jobs: list[JobSpec]) -> int: ...

    async def delivered(self) -> int: ...

    async def report(self) -> PlatformReport: ...

    async def stop(self) -> None: ...


# --------------------------------------------------------------------------- core


class BudgetedOutbox(FakeOutbox):
    """A recording ``Outbox`` that behaves like a platform with one call per
    ``interval`` per chat: a call sooner than that is refused with ``PlatformRateLimited``
    (and counted), like a 429."""

    def __init__(self, clock: Callable[[], float], interval: float) -> None:
        super().__init__(edit_interval=interval)
        self.clock = clock
        self.rate_limited = 0
        self.posts = 0
        self.arrivals: dict[int, float] = {}
        self._last: dict[str, float] = {}

    def _admit(self, conversation: Conversation) -> None:
        now, last = self.clock(), self._last.get(conversation.channel)
        if last is not None and now - last < self.edit_interval - 1e-6:
            self.rate_limited += 1
            raise PlatformRateLimited(last + self.edit_interval - now)
        self._last[conversation.channel] = now

    async def send_status(
        self, conversation: Conversation, text: str, *, reply_to: MessageRef | None
    ) -> MessageRef:
        self._admit(conversation)
        self.posts += 1
        return await super().send_status(conversation, text, reply_to=reply_to)

    async def edit_status(self, message: MessageRef, text: str) -> None:
        self._admit(message.conversation)
        await super().edit_status(message, text)

    async def send_video(
        self,
        conversation: Conversation,
        video: VideoFile,
        *,
        caption: str,
        thumbnail: Path | None,
        reply_to: MessageRef | None,
        job_id: str,
        buttons: bool,
        in_place_of: MessageRef | None = None,
    ) -> MessageRef:
        self._admit(conversation)
        ref = await super().send_video(
            conversation,
            video,
            caption=caption,
            thumbnail=thumbnail,
            reply_to=reply_to,
            job_id=job_id,
            buttons=buttons,
            in_place_of=in_place_of,
        )
        n = tag_of(caption)
        if n is not None:
            self.arrivals[n] = time.monotonic()
        return ref

    async def send_text(
        self, conversation: Conversation, text: str, *, reply_to: MessageRef | None
    ) -> MessageRef:
        self._admit(conversation)
        return await super().send_text(conversation, text, reply_to=reply_to)


class CoreDriver:
    """The core alone: invocations handed to ``Core.handle`` all at once."""

    name = "core"

    def __init__(self, clock: ScaledClock) -> None:
        self.outbox = BudgetedOutbox(clock, CORE_EDIT_INTERVAL)
        self._core: Core | None = None

    def launch(self) -> dict[str, Any]:
        return {}

    async def start(self, core: Core) -> None:
        self._core = core
        core.s.attach(Platform.CONSOLE.value, self.outbox)

    async def submit(self, jobs: list[JobSpec]) -> int:
        import asyncio

        assert self._core is not None
        core = self._core

        def invocation(job: JobSpec) -> Invocation:
            chat = f"chat-{job.chat}"
            return Invocation(
                user=UserRef(Platform.CONSOLE, f"user-{job.user}"),
                conversation=Conversation(Platform.CONSOLE, chat, chat),
                text=job.prompt,
                locale="en",
            )

        replies = await asyncio.gather(*(core.handle(invocation(job)) for job in jobs))
        return sum(1 for reply in replies if reply is not None and reply.kind == "accepted")

    async def delivered(self) -> int:
        return len(self.outbox.videos)

    async def report(self) -> PlatformReport:
        edits = len(self.outbox.edit_log)
        return PlatformReport(
            self.outbox.rate_limited, self.outbox.posts, edits, dict(self.outbox.arrivals)
        )

    async def stop(self) -> None:
        return None


# --------------------------------------------------------------------------- Telegram


class TelegramDriver:
    """python-telegram-bot against the fake Bot API; ``chats`` supergroups, or each
    user's private chat when ``chats`` is 0."""

    name = "telegram"

    def __init__(self, clock: ScaledClock, chats: int) -> None:
        from _services import telegram

        self._service = Service(telegram, clock)
        self._private = chats == 0
        self._adapter: Any = None

    def launch(self) -> dict[str, Any]:
        from pydantic import SecretStr

        from tests.telegram_fake import TOKEN

        url = self._service.start()
        return {"telegram": TelegramConfig(token=SecretStr(TOKEN), api_url=url)}

    async def start(self, core: Core) -> None:
        from adapters.telegram import TelegramAdapter

        settings = core.s.settings.telegram
        self._adapter = TelegramAdapter(core, settings, poll_timeout=1)
        await self._adapter.start()

    async def submit(self, jobs: list[JobSpec]) -> int:
        messages = []
        for job in jobs:
            user = 10_000 + job.user
            chat = user if self._private else -(100_000 + job.chat)
            messages.append((chat, user, f"/sora {job.prompt}"))
        return int(await self._service.call("push", messages))

    async def delivered(self) -> int:
        return int(await self._service.call("delivered"))

    async def report(self) -> PlatformReport:
        return PlatformReport(**await self._service.call("report"))

    async def stop(self) -> None:
        if self._adapter is not None:
            await self._adapter.stop()
        self._service.stop()


# --------------------------------------------------------------------------- Discord


class DiscordDriver:
    """discord.py against the fake Discord: one guild, ``chats`` channels, ``users``
    members typing ``/sora``."""

    name = "discord"

    def __init__(self, clock: ScaledClock, chats: int, users: int) -> None:
        from _services import discord

        self._service = Service(discord, clock, max(1, chats), users)
        self._adapter: Any = None
        self._saved: tuple[Any, Any] | None = None

    def launch(self) -> dict[str, Any]:
        from pydantic import SecretStr

        greeting = self._service.start()
        self._greeting = greeting
        config = DiscordConfig(token=SecretStr(greeting["token"]), guild_ids=[greeting["guild"]])
        return {"discord": config}

    async def start(self, core: Core) -> None:
        import discord
        import yarl

        from adapters.discord import DiscordAdapter

        # discord.py has no option for its hosts: point its class attributes at the fake
        # (as tests/discord_fake.py does), and put them back in ``stop``
        route, gateway = discord.http.Route, discord.gateway.DiscordWebSocket
        self._saved = (route.BASE, gateway.DEFAULT_GATEWAY)
        route.BASE = self._greeting["api_base"]
        gateway.DEFAULT_GATEWAY = yarl.URL(self._greeting["gateway"])
        self._adapter = DiscordAdapter(core, core.s.settings.discord, guild_ready_timeout=0.5)
        await self._adapter.start()

    async def submit(self, jobs: list[JobSpec]) -> int:
        commands = [(job.user, job.chat, job.prompt) for job in jobs]
        return int(await self._service.call("go", commands, within=600.0))

    async def delivered(self) -> int:
        return int(await self._service.call("delivered"))

    async def report(self) -> PlatformReport:
        return PlatformReport(**await self._service.call("report"))

    async def stop(self) -> None:
        import discord

        if self._adapter is not None:
            await self._adapter.stop()
        if self._saved is not None:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._saved
        self._service.stop()
