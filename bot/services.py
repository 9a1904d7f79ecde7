"""The core's collaborators, injected once: configuration, providers, stores, clocks.

Adapters *attach* themselves as stations (an ``Outbox`` plus the ``StatusBoard`` that does
every status edit for that platform within its budgets).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bot.config import Settings
from bot.errors import ConfigError
from bot.observability.telemetry import NoTelemetry, Telemetry
from bot.periods import Window, current_window
from bot.ports import Outbox, VideoProvider
from bot.records import (
    JobRepository,
    MemoryUserDirectory,
    QuotaKey,
    QuotaLedger,
    UserDirectory,
)
from bot.status import StatusBoard


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Station:
    outbox: Outbox
    board: StatusBoard


@dataclass(slots=True)
class Services:
    settings: Settings
    providers: Mapping[str, VideoProvider]
    quotas: QuotaLedger
    jobs: JobRepository
    media_dir: Path
    now: Callable[[], datetime] = utc_now
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    stations: dict[str, Station] = field(default_factory=dict)
    users: UserDirectory = field(default_factory=MemoryUserDirectory)
    telemetry: Telemetry = field(default_factory=NoTelemetry)  # metrics (sora-bot run)
    # whether the database accepts writes now (/healthz); None: nothing to probe
    database_writable: Callable[[], Awaitable[bool]] | None = None

    def attach(self, platform: str, outbox: Outbox) -> Station:
        outbox = self.telemetry.watch_outbox(platform, outbox)  # counts rate limits
        station = Station(outbox, StatusBoard(outbox, clock=self.monotonic, sleep=self.sleep))
        self.stations[platform] = station
        return station

    def station(self, platform: str) -> Station:
        try:
            return self.stations[platform]
        except KeyError:
            raise ConfigError(f"platform {platform!r} is not attached") from None

    def window(self) -> Window:
        quota = self.settings.quota
        return current_window(self.now(), quota.period, quota.reset_hour, quota.timezone)

    def quota_key(self, platform: str, scope: str, user_id: str) -> QuotaKey:
        return QuotaKey(platform=platform, scope=scope, user_id=user_id)

    def is_configured_moderator(self, platform: str, user_id: str) -> bool:
        return f"{platform}:{user_id}" in self.settings.bot.moderators

    def format_reset(self, window: Window) -> str:
        from zoneinfo import ZoneInfo

        local = window.end.astimezone(ZoneInfo(self.settings.quota.timezone))
        return local.strftime("%Y-%m-%d %H:%M %Z")
