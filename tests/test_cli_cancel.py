"""``sora-bot jobs cancel`` while the bot runs the job: it stops at its next step, delivers
nothing, tells the user, and the credit comes back exactly once.

The bot here is a real core over the simulator and a SQLite file; the cancel runs the
command's own code on its own connection to that file, as a second process would.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.cli import build_parser, jobs_admin
from bot.core import Core
from bot.models import Completed, GenerationRequest, ProviderEvent
from bot.periods import current_window
from bot.ports import VideoProvider
from bot.providers.simulator import Simulator
from bot.records import JobRecord, JobState
from storage.db import Database
from storage.jobs import SqliteJobRepository
from storage.quotas import SqliteQuotaLedger
from tests.admin_seed import make_job, write_config
from tests.core_harness import CHAT, PLATFORM, ask, key, ledger_kinds, running, settings_for
from tests.fakes import FakeOutbox

WAIT = 30.0  # seconds; a hang fails here instead of at the suite's timeout


class HeldAtCompletion:
    """A provider whose jobs stop just before reporting their finished video, until
    ``release`` is set: the moment an operator cancels a job the relay has completed."""

    def __init__(self, inner: VideoProvider) -> None:
        self.inner = inner
        self.reached = asyncio.Event()
        self.release = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def generate(self, request: GenerationRequest, workdir: Path) -> AsyncIterator[Any]:
        events: AsyncIterator[ProviderEvent] = self.inner.generate(request, workdir)
        async with contextlib.aclosing(events):  # type: ignore[type-var]
            async for event in events:
                if isinstance(event, Completed):
                    self.reached.set()
                    await self.release.wait()
                yield event


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Simulator]:
    async with Simulator(
        tmp_path / "sim", job_seconds=0.3, poll_after_ms=20, video_seconds_cap=1.0
    ) as simulator:
        yield simulator


def hold(core: Core, provider: str = "videos") -> HeldAtCompletion:
    held = HeldAtCompletion(core.s.providers[provider])
    core.s.providers = {**core.s.providers, provider: held}
    return held


async def cancel(tmp_path: Path, job_id: str) -> int:
    config = write_config(tmp_path, tmp_path / "bot.db")
    args: argparse.Namespace = build_parser().parse_args(
        ["--config", str(config), "jobs", "cancel", job_id]
    )
    return await jobs_admin.run(args)


async def only_job(core: Core, user: str = "alice") -> JobRecord:
    jobs = [job for job in await core.s.jobs.unfinished() if job.user_id == user]
    assert len(jobs) == 1
    return jobs[0]


async def test_a_running_job_cancelled_is_never_delivered(sim: Simulator, tmp_path: Path) -> None:
    outbox = FakeOutbox()
    async with running(settings_for(sim, tmp_path), outbox) as core:
        held = hold(core)
        reply = await core.handle(ask("a lighthouse in a storm"))
        assert reply is not None and reply.kind == "accepted"
        async with asyncio.timeout(WAIT):
            await held.reached.wait()  # the relay finished; the bot is about to deliver
        job = await only_job(core)
        assert job.state is JobState.RUNNING
        assert await cancel(tmp_path, job.id) == 0
        held.release.set()
        async with asyncio.timeout(WAIT):
            await core.wait_idle()
        assert outbox.videos == []
        final = outbox.final_status(str(job.status_message_id))
        assert "An operator cancelled this job" in final and "refunded" in final
        assert await ledger_kinds(core) == ["reserve", "refund"]
        stored = await core.s.jobs.get(job.id)
        assert stored is not None
        assert (stored.state, stored.error_category) == (JobState.FAILED, "cancelled")
        assert await cancel(tmp_path, job.id) == 1  # nothing left to cancel or refund
        assert await ledger_kinds(core) == ["reserve", "refund"]


async def test_a_queued_job_cancelled_is_never_submitted(sim: Simulator, tmp_path: Path) -> None:
    settings = settings_for(sim, tmp_path, providers={"videos": {"max_concurrent": 1}})
    outbox = FakeOutbox()
    async with running(settings, outbox) as core:
        held = hold(core)
        await core.handle(ask("first, holding the only slot", user="bob"))
        async with asyncio.timeout(WAIT):
            await held.reached.wait()
        await core.handle(ask("second, waiting in line"))
        waiting = await only_job(core)
        assert waiting.state is JobState.QUEUED
        assert await cancel(tmp_path, waiting.id) == 0
        held.release.set()
        async with asyncio.timeout(WAIT):
            await core.wait_idle()
        assert len(sim.jobs) == 1  # the cancelled job never reached the relay
        assert len(outbox.videos) == 1  # bob's
        stored = await core.s.jobs.get(waiting.id)
        assert stored is not None and stored.status_message_id is not None
        assert "An operator cancelled" in outbox.final_status(stored.status_message_id)
        assert await ledger_kinds(core) == ["reserve", "refund"]
        assert await ledger_kinds(core, "bob") == ["reserve", "commit"]


async def test_a_job_cancelled_while_the_bot_is_down_is_not_resumed(
    sim: Simulator, tmp_path: Path
) -> None:
    """Two jobs left queued by a stopped bot; the operator cancels one before the restart."""
    window = current_window(datetime.now(UTC), "day")
    left = {
        user: make_job(
            platform="telegram", scope=CHAT.scope, channel=CHAT.channel, user_id=user,
            provider="videos", model="sim-video", seconds=4,
        )
        for user in ("alice", "bob")
    }  # fmt: skip
    async with Database.open(tmp_path / "bot.db") as database:
        ledger = SqliteQuotaLedger(database)
        for user, job in left.items():
            assert await SqliteJobRepository(database).create(job)
            assert await ledger.reserve(key(user), job.id, 1, window, 5)
    assert await cancel(tmp_path, left["alice"].id) == 0
    outbox = FakeOutbox()
    async with running(settings_for(sim, tmp_path), outbox, recover=False) as core:
        assert await core.recover(PLATFORM.value) == 1  # bob's only
        async with asyncio.timeout(WAIT):
            await core.wait_idle()
        assert len(sim.jobs) == 1 and len(outbox.videos) == 1
        assert await ledger_kinds(core) == ["reserve", "refund"]
        assert await ledger_kinds(core, "bob") == ["reserve", "commit"]
