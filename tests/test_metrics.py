"""Job state lines and Prometheus metrics through real job lifecycles (simulator, SQLite)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from bot.cli.runtime import open_core
from bot.config import Settings
from bot.core import Core
from bot.errors import PlatformRateLimited
from bot.models import MessageRef
from bot.observability.journal import JOB_LOGGER, JobJournal
from bot.observability.metrics import Metrics, RateLimitCounting
from bot.observability.telemetry import JobChange, NoTelemetry
from bot.ports import Outbox
from bot.providers.simulator import Fault, Simulator
from bot.queue import ProviderSlots
from bot.records import ACTIVE, CANCELLED, JobClosed, JobRecord, JobRepository, JobState
from tests.core_harness import PLATFORM, ask, settings_for
from tests.fakes import FakeOutbox

LIFECYCLE = ["queued", "submitting", "running", "uploading", "delivered"]


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Simulator]:
    async with Simulator(
        tmp_path / "sim", job_seconds=0.3, poll_after_ms=20, video_seconds_cap=1.0
    ) as simulator:
        yield simulator


@asynccontextmanager
async def observed(settings: Settings, outbox: FakeOutbox) -> AsyncIterator[tuple[Core, Metrics]]:
    metrics = Metrics(CollectorRegistry())
    async with open_core(settings, telemetry=metrics) as core:
        core.s.attach(PLATFORM.value, outbox)
        yield core, metrics


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def job_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == JOB_LOGGER]


async def test_a_delivered_job_counts_each_state_once_and_times_each_phase(
    sim: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=JOB_LOGGER)
    async with observed(settings_for(sim, tmp_path), FakeOutbox()) as (core, metrics):
        await core.handle(ask("--provider videos a paper boat"))
        await core.wait_idle()

    for state in JobState:
        expected = 1.0 if state.value in LIFECYCLE else 0.0
        count = value(metrics, "sora_bot_job_transitions_total", provider="videos", state=state)
        assert count == expected, state
        # the other providers' series exist from the start, at zero
        assert value(metrics, "sora_bot_job_transitions_total", provider="chat", state=state) == 0
    for state in ACTIVE:
        assert value(metrics, "sora_bot_jobs_active", provider="videos", state=state) == 0
    for histogram in ("queue_wait", "generation", "delivery"):
        name = f"sora_bot_{histogram}_seconds"
        assert value(metrics, f"{name}_count", provider="videos") == 1, histogram
        assert value(metrics, f"{name}_count", provider="chat") == 0, histogram
    assert value(metrics, "sora_bot_generation_seconds_sum", provider="videos") >= 0.3  # type: ignore[operator]
    assert value(metrics, "sora_bot_upstream_errors_total", provider="videos", category="auth") == 0
    assert value(metrics, "sora_bot_queue_waiting", provider="videos") == 0
    assert value(metrics, "sora_bot_queue_running", provider="videos") == 0

    lines = job_lines(caplog)
    assert [r.state for r in lines] == LIFECYCLE  # type: ignore[attr-defined]
    assert [getattr(r, "previous", None) for r in lines] == [None, *LIFECYCLE[:-1]]
    done = lines[-1]
    assert done.user == "telegram:group-1:alice" and done.provider == "videos"  # type: ignore[attr-defined]
    assert done.model == "sim-video" and done.job == lines[0].job  # type: ignore[attr-defined]
    durations = [done.queued_s, done.generation_s, done.delivery_s, done.total_s]  # type: ignore[attr-defined]
    assert all(d >= 0 for d in durations)
    assert done.generation_s >= 0.3 and done.total_s >= done.generation_s  # type: ignore[attr-defined]
    assert not hasattr(lines[0], "total_s")  # unknown until the job ends


async def test_an_upstream_failure_is_counted_by_category(
    sim: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=JOB_LOGGER)
    sim.inject(Fault.MODERATION, format="videos")
    async with observed(settings_for(sim, tmp_path), FakeOutbox()) as (core, metrics):
        await core.handle(ask("--provider videos a paper boat"))
        await core.wait_idle()

    errors = "sora_bot_upstream_errors_total"
    assert value(metrics, errors, provider="videos", category="content_policy") == 1
    assert value(metrics, errors, provider="videos", category="transient") == 0
    failed = value(metrics, "sora_bot_job_transitions_total", provider="videos", state="failed")
    assert failed == 1
    assert value(metrics, "sora_bot_generation_seconds_count", provider="videos") == 0
    for state in ACTIVE:
        assert value(metrics, "sora_bot_jobs_active", provider="videos", state=state) == 0
    last = job_lines(caplog)[-1]
    assert last.state == "failed" and last.error == "content_policy"  # type: ignore[attr-defined]
    assert last.generation_s >= 0 and last.total_s >= 0  # type: ignore[attr-defined]


class FloodedOutbox(FakeOutbox):
    """Refuses the first ``floods`` status edits the way a platform's 429 does."""

    floods: int = 2

    async def edit_status(self, message: MessageRef, text: str) -> None:
        if self.floods > 0:
            self.floods -= 1
            raise PlatformRateLimited(0.0)
        await super().edit_status(message, text)


async def test_platform_rate_limits_are_counted_per_platform(
    sim: Simulator, tmp_path: Path
) -> None:
    outbox = FloodedOutbox()
    async with observed(settings_for(sim, tmp_path), outbox) as (core, metrics):
        counted = "sora_bot_platform_rate_limited_total"
        assert value(metrics, counted, platform="telegram") == 0  # shown from the start
        await core.handle(ask("--provider videos a paper boat"))
        await core.wait_idle()
        assert outbox.floods == 0 and len(outbox.videos) == 1
        assert value(metrics, counted, platform="telegram") == 2


async def test_queue_gauges_read_the_provider_slots_when_scraped() -> None:
    metrics = Metrics(CollectorRegistry())
    slots = ProviderSlots(1)
    metrics.watch_queues({"relay": slots})
    async with slots.slot(lambda position: None):
        waiter = asyncio.create_task(slots.slot(lambda position: None).__aenter__())
        await asyncio.sleep(0)  # let it queue
        assert value(metrics, "sora_bot_queue_waiting", provider="relay") == 1
        assert value(metrics, "sora_bot_queue_running", provider="relay") == 1
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
    assert value(metrics, "sora_bot_queue_waiting", provider="relay") == 0
    assert value(metrics, "sora_bot_queue_running", provider="relay") == 0


def change(state: JobState, previous: JobState | None, **durations: float) -> JobChange:
    return JobChange(
        job_id="j",
        user="telegram:direct:1",
        provider="p",
        model="m",
        state=state,
        previous=previous,
        **durations,
    )


def test_a_resumed_job_moves_the_active_gauge_without_going_negative() -> None:
    metrics = Metrics(CollectorRegistry())
    metrics.job_changed(change(JobState.RUNNING, None))  # first seen after a restart
    assert value(metrics, "sora_bot_jobs_active", provider="p", state="running") == 1
    metrics.job_changed(change(JobState.UPLOADING, JobState.RUNNING))  # generation unknown
    metrics.job_changed(change(JobState.DELIVERED, JobState.UPLOADING, delivery=2.0))
    for state in ("running", "uploading"):
        assert value(metrics, "sora_bot_jobs_active", provider="p", state=state) == 0
    assert value(metrics, "sora_bot_generation_seconds_count", provider="p") is None
    assert value(metrics, "sora_bot_delivery_seconds_sum", provider="p") == 2.0


# --------------------------------------------------------------------------- the journal


class MemoryJobs:
    """Just enough of a ``JobRepository`` for the journal: records by id."""

    def __init__(self) -> None:
        self.rows: dict[str, JobRecord] = {}

    async def create(self, record: JobRecord, *, max_active: int | None = None) -> bool:
        self.rows[record.id] = record
        return True

    async def update(self, job_id: str, **fields: object) -> JobRecord:
        current = self.rows[job_id]
        if "state" in fields and not current.active:
            raise JobClosed(job_id, current.state)
        self.rows[job_id] = replace(current, **fields)  # type: ignore[arg-type]
        return self.rows[job_id]

    async def get(self, job_id: str) -> JobRecord | None:
        return self.rows.get(job_id)


def job(job_id: str = "j1", **fields: object) -> JobRecord:
    at = datetime(2025, 5, 1, tzinfo=UTC)
    base = JobRecord(
        id=job_id,
        platform="telegram",
        scope="direct",
        channel="42",
        user_id="42",
        provider="relay",
        format="videos",
        model="sora-2",
        seconds=4,
        orientation="portrait",
        prompt="a cat",
        created_at=at,
        updated_at=at,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


class Recorder(NoTelemetry):
    def __init__(self) -> None:
        self.changes: list[JobChange] = []

    def job_changed(self, change: JobChange) -> None:
        self.changes.append(change)


async def test_the_journal_times_each_phase_on_its_clock() -> None:
    now = [100.0]
    recorder = Recorder()
    journal = JobJournal(MemoryJobs(), recorder, clock=lambda: now[0])  # type: ignore[arg-type]
    await journal.create(job())
    for state, at in [
        (JobState.SUBMITTING, 102.0),
        (JobState.RUNNING, 103.0),
        (JobState.RUNNING, 110.0),  # same state again: no line
        (JobState.UPLOADING, 132.0),
        (JobState.DELIVERED, 135.5),
    ]:
        now[0] = at
        await journal.update("j1", state=state)
    assert [c.state for c in recorder.changes] == [
        JobState.QUEUED,
        JobState.SUBMITTING,
        JobState.RUNNING,
        JobState.UPLOADING,
        JobState.DELIVERED,
    ]
    done = recorder.changes[-1]
    assert (done.queued, done.generation, done.delivery, done.total) == (2.0, 30.0, 3.5, 35.5)
    assert recorder.changes[3].delivery is None and recorder.changes[3].total is None


async def test_a_job_from_an_earlier_process_gets_its_total_from_the_stored_times() -> None:
    recorder = Recorder()
    jobs = MemoryJobs()
    await jobs.create(job(state=JobState.RUNNING))
    journal = JobJournal(jobs, recorder)  # type: ignore[arg-type]
    finished = datetime(2025, 5, 1, 0, 1, 30, tzinfo=UTC)
    await journal.update(
        "j1", state=JobState.FAILED, error_category="timeout", finished_at=finished
    )
    (failed,) = recorder.changes
    assert failed.previous is None and failed.error == "timeout"
    assert failed.total == 90.0 and failed.generation is None


async def test_a_job_cancelled_by_another_process_is_reported_once() -> None:
    recorder = Recorder()
    jobs = MemoryJobs()
    journal = JobJournal(jobs, recorder)  # type: ignore[arg-type]
    await journal.create(job())
    await journal.update("j1", state=JobState.RUNNING)
    # ``sora-bot jobs cancel`` writes the row directly, from its own process
    jobs.rows["j1"] = replace(jobs.rows["j1"], state=JobState.FAILED, error_category=CANCELLED)
    for _ in range(2):  # the runner's next step, then its attempt to record a failure
        with pytest.raises(JobClosed):
            await journal.update("j1", state=JobState.UPLOADING)
    assert [c.state for c in recorder.changes] == [
        JobState.QUEUED,
        JobState.RUNNING,
        JobState.FAILED,
    ]
    cancelled = recorder.changes[-1]
    assert cancelled.previous is JobState.RUNNING and cancelled.error == CANCELLED
    assert cancelled.total is not None


@pytest.mark.parametrize(
    ("wrapper", "port"), [(JobJournal, JobRepository), (RateLimitCounting, Outbox)]
)
def test_the_wrappers_offer_every_method_of_the_port_they_wrap(wrapper: type, port: type) -> None:
    methods = {name for name in vars(port) if not name.startswith("_")}
    assert methods and methods <= set(dir(wrapper))
