"""The whole Telegram stack for tests: simulator relay, fake Bot API, real core, real PTB.

Time for the status board and the fake's flood control is a ``VirtualClock``: sleeping
advances it, so the real Telegram edit budgets (1 s private, 3 s groups) are enforced
without the tests waiting for them.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image
from pydantic import SecretStr

from adapters.telegram import TelegramAdapter
from bot.cli.runtime import open_core
from bot.config import BotConfig, QuotaConfig, Settings, StorageConfig, TelegramConfig
from bot.core import Core
from bot.providers.simulator import Simulator
from tests.telegram_fake import TOKEN, FakeBotApi

FORMATS = ("videos", "chat", "unified")


class VirtualClock:
    """A monotonic clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


@dataclass
class World:
    """Everything that outlives one run of the bot (so a test can restart it)."""

    sim: Simulator
    fake: FakeBotApi
    clock: VirtualClock
    settings: Settings


@dataclass
class Running:
    core: Core
    adapter: TelegramAdapter


@asynccontextmanager
async def world(
    tmp_path: Path,
    *,
    job_seconds: float = 0.3,
    max_concurrent: int = 4,
    moderators: list[str] | None = None,
    quota: dict[str, Any] | None = None,
    video_scale: float = 0.25,
    video_seconds: float = 1.0,
) -> AsyncIterator[World]:
    clock = VirtualClock()
    async with (
        Simulator(
            tmp_path / "sim",
            job_seconds=job_seconds,
            poll_after_ms=50,
            video_scale=video_scale,
            video_seconds_cap=video_seconds,
        ) as sim,
        FakeBotApi(clock=clock) as fake,
    ):
        settings = Settings(
            storage=StorageConfig(path=tmp_path / "bot.db", media_dir=tmp_path / "media"),
            providers=[
                sim.provider_config(f, name=f, max_concurrent=max_concurrent) for f in FORMATS
            ],
            quota=QuotaConfig(**(quota or {"default_limit": 5})),
            bot=BotConfig(max_jobs_per_user=3),
            telegram=TelegramConfig(
                token=SecretStr(TOKEN), api_url=fake.url, moderators=moderators or []
            ),
        )
        yield World(sim, fake, clock, settings)


@asynccontextmanager
async def running(w: World) -> AsyncIterator[Running]:
    """The bot as ``sora-bot run`` starts it, on the world's clock."""
    async with open_core(w.settings) as core:
        core.s.monotonic = w.clock
        core.s.sleep = w.clock.sleep
        adapter = TelegramAdapter(core, w.settings.telegram, poll_timeout=1)
        await adapter.start()
        try:
            await core.recover("telegram")
            yield Running(core, adapter)
        finally:
            await core.shutdown()  # as ``sora-bot run`` stops: jobs first, then Telegram
            await adapter.stop()


def jpeg(width: int = 64, height: int = 64) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 40)).save(buffer, "JPEG")
    return buffer.getvalue()
