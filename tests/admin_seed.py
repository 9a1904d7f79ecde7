"""A database with users, jobs and credits for the admin command tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.periods import current_window
from bot.records import JobRecord, JobState, QuotaKey, new_job_id
from storage.db import Database
from storage.jobs import SqliteJobRepository
from storage.quotas import SqliteQuotaLedger

SCOPE = "-100123"
DEFAULT_LIMIT = 5


def write_config(tmp_path: Path, db_path: Path, extra: str = "") -> Path:
    """A config naming only the database and the quota (the admin commands need no more)."""
    path = tmp_path / "sora-bot.toml"
    path.write_text(
        f'[storage]\npath = "{db_path}"\n\n[quota]\ndefault_limit = {DEFAULT_LIMIT}\n{extra}',
        encoding="utf-8",
    )
    return path


def make_job(minutes: int = 0, **overrides: Any) -> JobRecord:
    created = datetime.now(UTC) - timedelta(hours=1) + timedelta(minutes=minutes)
    values: dict[str, Any] = {
        "id": new_job_id(),
        "platform": "telegram",
        "scope": SCOPE,
        "channel": SCOPE,
        "user_id": "42",
        "user_name": "Alice",
        "provider": "relay",
        "format": "videos",
        "model": "sora-2",
        "seconds": 8,
        "orientation": "portrait",
        "prompt": "a paper boat on a rainy street",
        "cost": 1,
        "created_at": created,
        "updated_at": created,
    }
    values.update(overrides)
    return JobRecord(**values)


@dataclass
class Seeded:
    queued: JobRecord  # alice, reserved
    delivered: JobRecord  # bob, committed
    failed: JobRecord  # alice, timeout, refunded
    uploading: JobRecord  # carol, reserved


async def seed(db_path: Path) -> Seeded:
    """Three users in one scope, one job of each kind an operator meets."""
    window = current_window(datetime.now(UTC), "day")
    made = Seeded(
        queued=make_job(3),
        delivered=make_job(1, user_id="7", user_name="Bob", state=JobState.DELIVERED),
        failed=make_job(
            2, state=JobState.FAILED, error_category="timeout", error_message="no video"
        ),
        uploading=make_job(0, user_id="9", user_name="Carol", state=JobState.UPLOADING),
    )
    async with Database.open(db_path) as database:
        jobs, ledger = SqliteJobRepository(database), SqliteQuotaLedger(database)
        for job in (made.queued, made.delivered, made.failed, made.uploading):
            assert await jobs.create(job)
            key = QuotaKey(job.platform, job.scope, job.user_id)
            assert await ledger.reserve(key, job.id, job.cost, window, DEFAULT_LIMIT)
        await ledger.commit(made.delivered.id)
        await ledger.refund(made.failed.id, note="timeout")
    return made
