"""The composition root: every lifetime (HTTP client, database, core) opened in one place."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from bot.config import Settings
from bot.core import Core
from bot.observability.journal import JobJournal
from bot.observability.telemetry import NoTelemetry, Telemetry
from bot.providers import build_provider
from bot.providers.transport import DEFAULT_LIMIT, BoundedTransport
from bot.services import Services
from storage.db import Database
from storage.jobs import SqliteJobRepository
from storage.quotas import SqliteQuotaLedger
from storage.users import SqliteUserDirectory


@asynccontextmanager
async def open_core(
    settings: Settings, *, media_dir: Path | None = None, telemetry: Telemetry | None = None
) -> AsyncIterator[Core]:
    """A ready core over the configured providers and database; shut down on exit.

    Every job state change is logged (``JobJournal``) and reported to ``telemetry``
    (``sora-bot run`` passes its metrics; by default nothing is recorded)."""
    telemetry = telemetry if telemetry is not None else NoTelemetry()
    # requests beyond the limit wait in the transport, not in httpcore's pool (see there)
    transport = BoundedTransport(DEFAULT_LIMIT)
    async with (
        httpx.AsyncClient(timeout=60.0, transport=transport, follow_redirects=True) as client,
        Database.open(settings.storage.path) as database,
    ):
        providers = {p.name: build_provider(p, client) for p in settings.providers}
        services = Services(
            settings=settings,
            providers=providers,
            quotas=SqliteQuotaLedger(database),
            jobs=JobJournal(SqliteJobRepository(database), telemetry),
            media_dir=media_dir or settings.storage.media_dir,
            telemetry=telemetry,
            database_writable=database.writable,
            users=SqliteUserDirectory(database),
        )
        core = Core(services)
        await core.settle_orphans()
        telemetry.watch_queues(core.slots)
        try:
            yield core
        finally:
            await core.shutdown()
