"""A local fake Discord (REST + gateway) that real, unmodified discord.py runs against.

Point discord.py at it with ``fake.patch_discord(monkeypatch)`` (``Route.BASE`` and
``DiscordWebSocket.DEFAULT_GATEWAY``), then drive users from the test::

    async with FakeDiscord(clock=clock) as fake:
        fake.patch_discord(monkeypatch)
        ...start a discord.Client with fake.token...
        slash = await fake.send_slash_command(fake.member, fake.general, "sora", {"prompt": "cat"})
        response = await fake.wait_for_response(slash)

The world starts with one guild (``fake.guild``: #general, #videos; owner, an admin with
Manage Server, a moderator role, two plain members). Time (token lifetime, 1 h edit age,
message budget) is measured on the injected ``clock``; advertised waits in rate-limit
headers are multiplied by ``time_scale`` because discord.py sleeps them for real.
Pieces (all ``tests/discord_fake_*``): ``model`` (who exists), ``records`` (what
happened), ``state`` (registries, message rules), ``rules`` (errors, validation),
``render`` (JSON shapes), ``rest`` / ``commands`` / ``webhooks`` (HTTP), ``gateway``,
``drivers`` + ``options`` (users acting).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

import discord
import pytest
import yarl
from aiohttp import web

from tests.discord_fake_channels import BotRoutes
from tests.discord_fake_commands import CommandRoutes
from tests.discord_fake_drivers import UserDrivers
from tests.discord_fake_gateway import FakeGateway
from tests.discord_fake_model import (
    DEFAULT_FILESIZE_LIMIT,
    PRIVILEGED_INTENTS,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    Perm,
)
from tests.discord_fake_observe import Observations
from tests.discord_fake_records import (
    FakeAttachment,
    FakeInteraction,
    FakeMessage,
    InteractionResponse,
    RequestRecord,
)
from tests.discord_fake_render import guild_payload
from tests.discord_fake_rest import FakeRest
from tests.discord_fake_state import DiscordState
from tests.discord_fake_webhooks import WebhookRoutes

__all__ = [  # what tests import from here; the rest stays in the discord_fake_* modules
    "TOKEN",
    "FakeAttachment",
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeInteraction",
    "FakeMember",
    "FakeMessage",
    "FakeRole",
    "FakeUser",
    "InteractionResponse",
    "ManualClock",
    "Perm",
    "RequestRecord",
    "running_fake",
]

TOKEN = "FAKE0bot0token.not-a-real-secret.0000"


class ManualClock:
    """A clock that moves only when told to (or when something sleeps on it)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


class FakeDiscord(UserDrivers, Observations):
    """One application/bot, its guilds, a REST API and a gateway on 127.0.0.1."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        shard_count: int = 1,
        token_lifetime: float = 900.0,
        ack_deadline: float = 3.0,
        old_message_age: float = 3600.0,
        message_budget: tuple[int, float] = (5, 5.0),
        time_scale: float = 1.0,
        count_webhook_edits: bool = True,
        filesize_limit: int = DEFAULT_FILESIZE_LIMIT,
        heartbeat_interval_ms: int = 41_250,
        allowed_intents: int = PRIVILEGED_INTENTS,
        token: str = TOKEN,
    ) -> None:
        self.state = DiscordState(clock=clock, token=token)
        self.gateway = FakeGateway(
            self.state, heartbeat_interval_ms=heartbeat_interval_ms, allowed_intents=allowed_intents
        )
        self.rest = FakeRest(
            self.state,
            self.gateway,
            shard_count=shard_count,
            message_budget=message_budget,
            time_scale=time_scale,
            count_webhook_edits=count_webhook_edits,
            old_message_age=old_message_age,
        )
        self.bot_api = BotRoutes(self.rest)
        self.commands_api = CommandRoutes(self.rest)
        self.webhooks = WebhookRoutes(
            self.rest, token_lifetime=token_lifetime, ack_deadline=ack_deadline
        )
        self.url = ""
        self._runner: web.AppRunner | None = None
        owner = self.state.add_user("olivia")
        self.state.app_owner = owner
        self.guild: FakeGuild = self.state.add_guild(
            "Sora Lab", owner, filesize_limit=filesize_limit
        )
        self.general = self.add_channel("general")
        self.videos = self.add_channel("videos")
        self.admin_role = self.add_role("Admins", Perm.MANAGE_GUILD)
        self.moderator_role = self.add_role("Moderators")
        self.owner: FakeMember = self.guild.members[owner.id]
        self.admin = self.add_member("adam", [self.admin_role])
        self.moderator = self.add_member("maya", [self.moderator_role])
        self.member = self.add_member("pat")
        self.other_member = self.add_member("quinn")

    # ------------------------------------------------------------------ lifetime

    async def __aenter__(self) -> FakeDiscord:
        app = web.Application(middlewares=[self._middleware], client_max_size=1 << 30)
        self.bot_api.add_routes(app)
        self.commands_api.add_routes(app)
        self.webhooks.add_routes(app)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/resume-gateway", self.gateway.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        port = self._runner.addresses[0][1]
        self.url = self.state.base_url = f"http://127.0.0.1:{port}"
        self.gateway.url = f"ws://127.0.0.1:{port}/gateway"
        self.gateway.resume_url = f"ws://127.0.0.1:{port}/resume-gateway"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path in ("/gateway", "/resume-gateway"):
            return await handler(request)
        return await self.rest.middleware(request, handler)

    @property
    def api_base(self) -> str:
        return f"{self.url}/api/v10"

    def patch_discord(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Point discord.py's REST base and default gateway at this fake (undone by pytest)."""
        monkeypatch.setattr(discord.http.Route, "BASE", self.api_base)
        monkeypatch.setattr(
            discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(self.gateway.url)
        )

    @contextlib.contextmanager
    def patched(self) -> Iterator[None]:
        """``patch_discord`` outside a test function: restored on exit."""
        with pytest.MonkeyPatch.context() as monkeypatch:
            self.patch_discord(monkeypatch)
            yield

    # ------------------------------------------------------------------ world

    @property
    def token(self) -> str:
        return self.state.token

    @property
    def bot(self) -> FakeUser:
        return self.state.bot

    @property
    def application_id(self) -> int:
        return self.state.application_id

    def add_guild(
        self,
        name: str,
        *,
        owner: FakeMember | None = None,
        filesize_limit: int = DEFAULT_FILESIZE_LIMIT,
    ) -> FakeGuild:
        """A new guild with @everyone, the bot and its role. Add its channels, then connect
        the client (or ``announce_guild`` it to a client already connected)."""
        user = (
            owner.user
            if owner
            else self.state.add_user(f"owner-of-{name.lower().replace(' ', '-')}")
        )
        return self.state.add_guild(name, user, filesize_limit=filesize_limit)

    def add_channel(self, name: str, *, guild: FakeGuild | None = None) -> FakeChannel:
        return self.state.add_channel(guild or self.guild, name)

    def add_role(
        self, name: str, permissions: int = 0, *, guild: FakeGuild | None = None
    ) -> FakeRole:
        return self.state.add_role(guild or self.guild, name, permissions)

    def add_member(
        self,
        username: str,
        roles: Sequence[FakeRole] = (),
        *,
        guild: FakeGuild | None = None,
        locale: str = "en-US",
    ) -> FakeMember:
        user = self.state.add_user(username, locale=locale)
        return self.state.add_member(guild or self.guild, user, list(roles))

    async def set_bot_permissions(
        self, channel: FakeChannel, *, allow: int = 0, deny: int = 0
    ) -> None:
        """A member overwrite for the bot on ``channel`` (e.g. deny SEND_MESSAGES)."""
        channel.overwrites[self.bot.id] = (1, allow, deny)
        await self.gateway.dispatch("CHANNEL_UPDATE", channel.payload(), guild_id=channel.guild_id)
        self.state.notify()

    async def announce_guild(self, guild: FakeGuild) -> bool:
        """GUILD_CREATE for a guild added after the bot connected (the bot "joins" it)."""
        data = guild_payload(guild, self.bot.id, all_members=False)
        del data["unavailable"]  # absent for a join, so discord.py fires on_guild_join
        return await self.gateway.dispatch("GUILD_CREATE", data, guild_id=guild.id)

    async def delete_channel(self, channel: FakeChannel) -> None:
        channel.deleted = True
        await self.gateway.dispatch("CHANNEL_DELETE", channel.payload(), guild_id=channel.guild_id)
        self.state.notify()

    # ------------------------------------------------------------------ gateway faults

    async def drop_gateway(
        self, *, code: int = 4000, shard_id: int | None = None, abrupt: bool = False
    ) -> int:
        """Close the bot's socket(s); the session stays resumable. Returns sockets closed."""
        return await self.gateway.drop(code=code, shard_id=shard_id, abrupt=abrupt)

    async def request_reconnect(self, shard_id: int | None = None) -> None:
        await self.gateway.request_reconnect(shard_id)

    def invalidate_sessions(self) -> None:
        self.gateway.invalidate_sessions()

    @property
    def identifies(self) -> int:
        return self.gateway.identifies

    @property
    def resumes(self) -> int:
        return self.gateway.resumes


@contextlib.asynccontextmanager
async def running_fake(
    monkeypatch: pytest.MonkeyPatch, **options: Any
) -> AsyncIterator[FakeDiscord]:
    """A started ``FakeDiscord`` with discord.py patched to use it for this test."""
    async with FakeDiscord(**options) as fake:
        fake.patch_discord(monkeypatch)
        yield fake
