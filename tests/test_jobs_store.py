"""The database (pragmas, migrations) and the job repository."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.models import ChatMessage
from bot.records import ACTIVE, JobRecord, JobState, KnownUser, new_job_id
from storage.db import Database, Migration, MigrationError, load_migrations
from storage.jobs import SqliteJobRepository

START = datetime(2025, 5, 14, 12, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
async def jobs(tmp_path: Path, clock: FakeClock) -> AsyncIterator[SqliteJobRepository]:
    async with Database.open(tmp_path / "bot.db") as database:
        yield SqliteJobRepository(database, clock=clock)


def make_job(**overrides: Any) -> JobRecord:
    values: dict[str, Any] = {
        "id": new_job_id(),
        "platform": "telegram",
        "scope": "-100123",
        "channel": "-100123",
        "user_id": "42",
        "user_name": "Alice",
        "provider": "relay",
        "format": "chat",
        "model": "sora-2",
        "seconds": 10,
        "orientation": "portrait",
        "prompt": "一只猫在弹钢琴",
        "created_at": START,
        "updated_at": START,
    }
    values.update(overrides)
    return JobRecord(**values)


# --------------------------------------------------------------------------- database


async def test_database_is_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    async with Database.open(tmp_path / "nested" / "dir" / "bot.db") as database:
        assert await database.journal_mode() == "wal"
        async with database.connection.execute("PRAGMA foreign_keys") as cursor:
            assert (await cursor.fetchone())[0] == 1  # type: ignore[index]
        async with database.connection.execute("PRAGMA busy_timeout") as cursor:
            assert (await cursor.fetchone())[0] == 5000  # type: ignore[index]
    assert (tmp_path / "nested" / "dir" / "bot.db").exists()


async def test_migrations_apply_once_and_reopening_keeps_the_data(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    shipped = load_migrations()
    assert [migration.version for migration in shipped][:1] == [1]
    record = make_job()
    async with Database.open(path) as database:
        assert await database.user_version() == len(shipped)
        assert await SqliteJobRepository(database).create(record)
    async with Database.open(path) as database:
        assert await database.user_version() == len(shipped)
        assert await SqliteJobRepository(database).get(record.id) == record


async def test_a_failing_migration_is_rolled_back(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    good = Migration(1, "first", "CREATE TABLE first (id INTEGER PRIMARY KEY);")
    bad = Migration(
        2, "second", "CREATE TABLE second (id INTEGER);\nINSERT INTO nowhere VALUES (1);"
    )
    with pytest.raises(MigrationError, match="0002_second"):
        async with Database.open(path, migrations=[good, bad]):
            pass
    async with Database.open(path, migrations=[good]) as database:
        assert await database.user_version() == 1
        async with database.connection.execute(
            "SELECT name FROM sqlite_master WHERE name = 'second'"
        ) as cursor:
            assert await cursor.fetchall() == []


async def test_a_database_newer_than_the_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    two = [Migration(1, "a", "SELECT 1;"), Migration(2, "b", "SELECT 1;")]
    async with Database.open(path, migrations=two):
        pass
    with pytest.raises(MigrationError, match="newer"):
        async with Database.open(path, migrations=two[:1]):
            pass


# --------------------------------------------------------------------------- jobs


def test_job_ids_are_short_and_callback_safe() -> None:
    ids = {new_job_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"[a-z2-7]{10}", job_id) for job_id in ids)


async def test_create_and_get_round_trip_every_field(jobs: SqliteJobRepository) -> None:
    parent = make_job()
    assert await jobs.create(parent)
    child = make_job(
        id=jobs.new_id(),
        thread="77",
        locale="zh",
        orientation="landscape",
        image_path="/data/media/in.png",
        image_url="https://cdn.example/in.png",
        parent_id=parent.id,
        upstream_id="task_abc",
        history=(ChatMessage("user", "a cat"), ChatMessage("assistant", "任务 id: task_abc")),
        transcript="done",
        state=JobState.RUNNING,
        status_message_id="100",
        reply_to_message_id="99",
        cost=2,
        created_at=START + timedelta(seconds=1),
        updated_at=START + timedelta(seconds=1),
    )
    assert await jobs.create(child)
    stored = await jobs.get(child.id)
    assert stored == child
    assert stored is not None and isinstance(stored.state, JobState)
    assert await jobs.get("missing") is None


async def test_update_sets_fields_and_timestamps(
    jobs: SqliteJobRepository, clock: FakeClock
) -> None:
    job = make_job()
    assert await jobs.create(job)
    clock.now = START + timedelta(minutes=1)
    running = await jobs.update(job.id, state=JobState.RUNNING, upstream_id="video_1")
    assert (running.state, running.upstream_id) == (JobState.RUNNING, "video_1")
    assert running.updated_at == clock.now
    assert running.created_at == START
    assert running.finished_at is None

    clock.now = START + timedelta(minutes=5)
    delivered = await jobs.update(
        job.id, state="delivered", result_message_id="101", video_url="https://x/v.mp4"
    )
    assert delivered.state is JobState.DELIVERED
    assert delivered.finished_at == clock.now
    assert await jobs.get(job.id) == delivered


async def test_update_refuses_unknown_fields_and_jobs(jobs: SqliteJobRepository) -> None:
    job = make_job()
    assert await jobs.create(job)
    with pytest.raises(ValueError, match="colour"):
        await jobs.update(job.id, colour="red")
    with pytest.raises(ValueError, match="created_at"):
        await jobs.update(job.id, created_at=START)
    with pytest.raises(ValueError):
        await jobs.update(job.id, state="exploded")
    with pytest.raises(KeyError):
        await jobs.update("missing", state=JobState.FAILED)
    assert await jobs.get(job.id) == job


async def test_find_by_message_matches_status_and_result(jobs: SqliteJobRepository) -> None:
    job = make_job(status_message_id="100")
    assert await jobs.create(job)
    await jobs.update(job.id, result_message_id="101")
    assert (await jobs.find_by_message("telegram", "-100123", "100")) is not None
    found = await jobs.find_by_message("telegram", "-100123", "101")
    assert found is not None and found.id == job.id
    assert await jobs.find_by_message("telegram", "-100999", "100") is None  # other chat
    assert await jobs.find_by_message("discord", "-100123", "100") is None
    assert await jobs.find_by_message("telegram", "-100123", "102") is None


async def test_find_by_message_inside_a_thread(jobs: SqliteJobRepository) -> None:
    job = make_job(platform="discord", channel="500", thread="501", status_message_id="900")
    assert await jobs.create(job)
    for channel in ("500", "501"):
        found = await jobs.find_by_message("discord", channel, "900")
        assert found is not None and found.id == job.id


async def test_unfinished_lists_active_jobs_oldest_first(jobs: SqliteJobRepository) -> None:
    created = [
        make_job(created_at=START + timedelta(minutes=n), updated_at=START + timedelta(minutes=n))
        for n in (3, 1, 2, 0)
    ]
    for record in created:
        assert await jobs.create(record)
    await jobs.update(created[3].id, state=JobState.FAILED, error_category="timeout")
    await jobs.update(created[1].id, state=JobState.DOWNLOADING)
    unfinished = await jobs.unfinished()
    assert [job.id for job in unfinished] == [created[1].id, created[2].id, created[0].id]
    assert all(job.state in ACTIVE for job in unfinished)


async def test_active_count_and_max_active(jobs: SqliteJobRepository) -> None:
    first, second = make_job(), make_job()
    assert await jobs.create(first, max_active=2)
    assert await jobs.create(second, max_active=2)
    third = make_job()
    assert not await jobs.create(third, max_active=2)
    assert await jobs.get(third.id) is None
    assert await jobs.active_count("telegram", "42") == 2
    assert await jobs.active_count("telegram", "43") == 0
    await jobs.update(first.id, state=JobState.DELIVERED)
    assert await jobs.active_count("telegram", "42") == 1
    assert await jobs.create(third, max_active=2)
    assert await jobs.create(make_job(user_id="43"), max_active=1)  # another user
    assert await jobs.create(make_job())  # no limit given


async def test_max_active_holds_under_concurrency(jobs: SqliteJobRepository) -> None:
    results = await asyncio.gather(*(jobs.create(make_job(), max_active=2) for _ in range(30)))
    assert results.count(True) == 2
    assert await jobs.active_count("telegram", "42") == 2


async def test_duplicate_ids_and_unknown_parents_are_integrity_errors(
    jobs: SqliteJobRepository,
) -> None:
    job = make_job()
    assert await jobs.create(job)
    with pytest.raises(sqlite3.IntegrityError):
        await jobs.create(replace(job, prompt="again"))
    with pytest.raises(sqlite3.IntegrityError):
        await jobs.create(make_job(parent_id="nosuchjob0"))


async def test_user_directory_upserts_and_matches_usernames_case_blind(tmp_path: Path) -> None:
    from storage.users import SqliteUserDirectory

    async with Database.open(tmp_path / "bot.db") as database:
        users = SqliteUserDirectory(database)
        await users.remember("telegram", "Bob_X", "7", "Bob")
        assert await users.find("telegram", "@bob_x") == KnownUser("7", "Bob")
        assert await users.find("discord", "bob_x") is None  # per platform
        await users.remember("telegram", "bob_x", "8", "Robert")  # the name moved to user 8
        assert await users.find("telegram", "BOB_X") == KnownUser("8", "Robert")
        assert await users.find("telegram", "nobody") is None
