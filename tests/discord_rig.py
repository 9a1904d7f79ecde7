"""The whole Discord stack for tests: simulator relay, fake Discord (REST + gateway), the
real core and real, unmodified discord.py.

One ``ManualClock`` is the time of the status board, of the fake's budgets (5 messages per
5 s per channel, the 15-minute token, the one-hour edit age) and, when asked, of the
simulated jobs: sleeping on it advances it, so Discord's real budgets are enforced without
the tests waiting for them. discord.py's own rate-limit sleeps are real, so the fake
advertises its waits scaled down (``time_scale``).
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pydantic import SecretStr

from adapters.discord import DiscordAdapter
from bot.cli.runtime import open_core
from bot.config import BotConfig, DiscordConfig, QuotaConfig, Settings, StorageConfig
from bot.core import Core
from bot.providers.simulator import Simulator
from bot.records import JobRecord
from tests.discord_fake import FakeDiscord, FakeInteraction, ManualClock, running_fake
from tests.discord_fake_records import FakeMessage

FORMATS = ("videos", "chat", "unified")
NO_DEADLINE = 1e9  # the fake's 3-second acknowledgement deadline, off unless tested


@dataclass
class World:
    """Everything that outlives one run of the bot (so a test can restart it)."""

    sim: Simulator
    fake: FakeDiscord
    clock: ManualClock
    settings: Settings


@dataclass
class Running:
    core: Core
    adapter: DiscordAdapter


@asynccontextmanager
async def world(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    formats: Sequence[str] = FORMATS,
    job_seconds: float = 0.3,
    jobs_on_clock: bool = False,
    max_concurrent: int = 4,
    message_content: bool = False,
    sharded: bool = False,
    moderator_roles: Sequence[str] = (),
    moderators: Sequence[str] = (),
    quota: dict[str, Any] | None = None,
    video_scale: float = 0.25,
    video_seconds: float = 1.0,
    models: Sequence[str] = ("sim-video", "sim-video-pro"),
    prompt_max_chars: int = 2000,
    **fake_options: Any,
) -> AsyncIterator[World]:
    """``jobs_on_clock``: simulated jobs progress on the manual clock (long jobs in little
    real time, see ``ticking``) instead of real time."""
    clock = ManualClock()
    fake_options.setdefault("ack_deadline", NO_DEADLINE)
    fake_options.setdefault("time_scale", 0.001)
    async with (
        Simulator(
            tmp_path / "sim",
            models=tuple(models),
            job_seconds=job_seconds,
            poll_after_ms=50,
            video_scale=video_scale,
            video_seconds_cap=video_seconds,
            clock=clock if jobs_on_clock else time.monotonic,
        ) as sim,
        running_fake(monkeypatch, clock=clock, **fake_options) as fake,
    ):
        settings = Settings(
            storage=StorageConfig(path=tmp_path / "bot.db", media_dir=tmp_path / "media"),
            providers=[
                sim.provider_config(f, name=f, max_concurrent=max_concurrent) for f in formats
            ],
            quota=QuotaConfig(**(quota or {"default_limit": 5})),
            bot=BotConfig(max_jobs_per_user=3, prompt_max_chars=prompt_max_chars),
            discord=DiscordConfig(
                token=SecretStr(fake.token),
                guild_ids=[fake.guild.id],
                message_content=message_content,
                sharded=sharded,
                moderator_roles=list(moderator_roles),
                moderators=list(moderators),
            ),
        )
        yield World(sim, fake, clock, settings)


@asynccontextmanager
async def running(w: World) -> AsyncIterator[Running]:
    """The bot as ``sora-bot run`` starts it, on the world's clock."""
    async with open_core(w.settings) as core:
        core.s.monotonic = w.clock
        core.s.sleep = w.clock.sleep
        adapter = DiscordAdapter(core, w.settings.discord, guild_ready_timeout=0.01)
        await adapter.start()
        try:
            await core.recover("discord")
            yield Running(core, adapter)
        finally:
            await core.shutdown()  # as ``sora-bot run`` stops: jobs first, then Discord
            await adapter.stop()


@asynccontextmanager
async def ticking(clock: ManualClock, step: float, every: float = 0.005) -> AsyncIterator[None]:
    """Advance ``clock`` by ``step`` seconds every ``every`` real seconds meanwhile."""

    async def tick() -> None:
        while True:
            await asyncio.sleep(every)
            clock.advance(step)

    task = asyncio.create_task(tick())
    try:
        yield
    finally:
        task.cancel()


async def sora(
    fake: FakeDiscord, prompt: str, *, user: Any = None, channel: Any = None, **options: Any
) -> FakeInteraction:
    """``/sora prompt:…`` typed by ``user`` (a plain member by default) in #general."""
    return await fake.send_slash_command(
        user or fake.member, channel or fake.general, "sora", {"prompt": prompt, **options}
    )


def results(fake: FakeDiscord, channel: Any = None) -> list[FakeMessage]:
    """The bot's result messages (those carrying a video) in ``channel``, oldest first."""
    return [
        m
        for m in fake.messages_in(channel or fake.general, include_ephemeral=False)
        if m.attachments and m.author.id == fake.bot.id
    ]


async def wait_results(
    fake: FakeDiscord, count: int, *, channel: Any = None, within: float = 20.0
) -> list[FakeMessage]:
    await fake.wait_for(lambda: len(results(fake, channel)) >= count, within)
    return results(fake, channel)


async def job_of(bot: Running, message: FakeMessage) -> JobRecord:
    job = await bot.core.s.jobs.find_by_message("discord", str(message.channel_id), str(message.id))
    assert job is not None
    return job


def jpeg(width: int = 64, height: int = 64) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 40)).save(buffer, "JPEG")
    return buffer.getvalue()
