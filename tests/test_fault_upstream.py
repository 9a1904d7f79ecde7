"""Every simulator fault at every step it can hit, for every format, through the whole core.

``tests/test_core_faults.py`` checks a hand-picked list of (fault, format) pairs at their
default step, and the provider tests check the formats' reactions one by one. This is the
rest of the matrix: each fault kind (``Fault``, 13 of them) on each format it can show on
(``APPLIES_TO``), at each step it can hit (create, poll, download), against a relay that
refunds failures and one that bills them (``bills_failures``, seed 000). The pairs the
hand-picked list already has are left out (``ALREADY_COVERED``).

All cases run at once in one core: each job carries its fault as a prompt marker
(``[sim:<fault>@<step>]``), so it hits that job only. For every job: the user is told
(the status message's final text, the words of its category), the ledger is right (refund
if and only if the failure is refundable), nothing is delivered for a failure; and the bot
keeps serving (a clean job per format succeeds afterwards).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.config import BotConfig, QuotaConfig, Settings, StorageConfig
from bot.providers.simulator import Fault, Simulator
from bot.providers.simulator.faults import APPLIES_TO, SUBMIT_ERRORS, TRANSIENT
from bot.records import JobState
from tests.core_harness import FORMATS, ask, ledger_kinds, running
from tests.fakes import FakeOutbox
from tests.test_core_faults import FAULTS as HAND_PICKED

pytestmark = pytest.mark.fault  # part of the fault suite: python -m pytest -m fault

# (fault, format) pairs tests/test_core_faults.py already drives at their default step
ALREADY_COVERED = {(fault, fmt) for fault, fmt, _, _ in HAND_PICKED} | {
    (Fault.JSON_CONTENT, "videos"),
    (Fault.STALE_STATUS, "videos"),
}
# what the user reads, per outcome; None: the video is delivered
WORDS: dict[Fault, str | None] = {
    Fault.MODERATION: "declined",
    Fault.SENSITIVE: "declined",
    Fault.MODEL_NOT_FOUND: "isn’t available",
    Fault.BALANCE: "run out of credit",
    Fault.EXPIRED: "expired",
    Fault.MISSING_STATUS: "could not be generated",
    Fault.CUT_STREAM: "Task id: task_",
    Fault.ERROR_IN_STREAM: "Failed",
    Fault.STALE_STATUS: None,
    Fault.JSON_CONTENT: None,
}
TRANSIENT_WORDS = {Fault.RATE_LIMIT: "busy", Fault.SERVER_ERROR: "problem"}


@dataclass(frozen=True)
class Case:
    fault: Fault
    fmt: str
    step: str  # submit | poll | content | job (a job fault rides the whole job)
    billed: bool  # the relay bills failed calls

    @property
    def name(self) -> str:
        return f"{self.fault.value}@{self.step}/{self.fmt}{'/billed' if self.billed else ''}"

    @property
    def words(self) -> str | None:
        """What the final status must say; None when the job must still deliver."""
        if self.fault in TRANSIENT:
            # a failed create is never resent; a poll or a download is retried
            return TRANSIENT_WORDS[self.fault] if self.step == "submit" else None
        if self.fault is Fault.EXPIRED and self.fmt == "videos":
            return "expired"
        return WORDS[self.fault]

    @property
    def marker(self) -> str:
        step = f"@{self.step}" if self.fault in TRANSIENT else ""
        return f"[sim:{self.fault.value}{step}]"


def steps(fault: Fault, fmt: str) -> list[str]:
    if fault in TRANSIENT:
        return ["submit", "content"] if fmt == "chat" else ["submit", "poll", "content"]
    return ["submit"] if fault in SUBMIT_ERRORS else ["job"]


def matrix() -> list[Case]:
    cases = []
    for fault in Fault:
        if fault is Fault.NEVER_FINISH:
            continue  # needs its own short deadline: test_a_job_that_never_finishes_…
        for fmt in FORMATS:
            if fmt not in APPLIES_TO[fault]:
                continue
            for step in steps(fault, fmt):
                for billed in (False, True):
                    default_step = step in ("submit", "job")
                    if not billed and default_step and (fault, fmt) in ALREADY_COVERED:
                        continue
                    cases.append(Case(fault, fmt, step, billed))
    return cases


CASES = matrix()


def settings(sim: Simulator, tmp_path: Path, **provider: object) -> Settings:
    """Per format a relay that refunds failures and one that bills them (``<fmt>-billed``)."""
    providers = [
        sim.provider_config(fmt, name=name, max_concurrent=64, bills_failures=billed, **provider)
        for fmt in FORMATS
        for name, billed in ((fmt, False), (f"{fmt}-billed", True))
    ]
    return Settings(
        storage=StorageConfig(path=tmp_path / "bot.db", media_dir=tmp_path / "media"),
        providers=providers,
        quota=QuotaConfig(default_limit=5),
        bot=BotConfig(max_jobs_per_user=2),
    )


@pytest.fixture
async def sim(tmp_path: Path):
    async with Simulator(
        tmp_path / "sim", job_seconds=0.3, poll_after_ms=20, video_seconds_cap=1.0, retry_after=0
    ) as simulator:
        yield simulator


def test_the_matrix_covers_every_fault_kind_and_format() -> None:
    assert {case.fault for case in CASES} | {Fault.NEVER_FINISH} == set(Fault)
    assert {case.fmt for case in CASES} == set(FORMATS)
    assert {case.step for case in CASES} == {"submit", "poll", "content", "job"}
    assert len(CASES) >= 40


async def test_every_fault_at_every_step_tells_the_user_and_settles_right(
    sim: Simulator, tmp_path: Path
) -> None:
    outbox = FakeOutbox()
    async with running(settings(sim, tmp_path), outbox) as core:
        users = {f"user{n}": case for n, case in enumerate(CASES)}
        for user, case in users.items():
            provider = f"{case.fmt}-billed" if case.billed else case.fmt
            await core.handle(ask(f"--provider {provider} a fox {case.marker}", user=user))
        await core.wait_idle()
        problems = {}
        for user, case in users.items():
            found = await _check(core, outbox, user, case)
            if found:
                problems[case.name] = found
        assert not problems, problems
        await _keeps_serving(core, outbox)


async def _check(core, outbox: FakeOutbox, user: str, case: Case) -> list[str]:  # type: ignore[no-untyped-def]
    """What is wrong with the job of ``case`` (asked by ``user``)."""
    entries = await core.s.quotas.history(core.s.quota_key("telegram", "group-1", user), 10)
    (job_id,) = {entry.job_id for entry in entries}
    job = await core.s.jobs.get(job_id)
    final = outbox.final_status(job.status_message_id)
    kinds = await ledger_kinds(core, user)
    videos = [v for v in outbox.videos if v.job_id == job_id]
    problems = []
    if case.words is None:
        if job.state is not JobState.DELIVERED or len(videos) != 1 or "Done!" not in final:
            problems.append(f"not delivered: {job.state} {final!r}")
        if kinds != ["reserve", "commit"]:
            problems.append(f"ledger {kinds}")
        return problems
    if job.state is not JobState.FAILED or videos:
        problems.append(f"not failed: {job.state}, {len(videos)} video(s)")
    if "Failed." not in final or case.words not in final:
        problems.append(f"status says {final!r}")
    refunded = not case.billed
    if kinds != ["reserve", "refund" if refunded else "commit"]:
        problems.append(f"ledger {kinds}")
    if ("refunded" in final) is not refunded or ("still counts" in final) is refunded:
        problems.append(f"the credit is not explained: {final!r}")
    return problems


async def _keeps_serving(core, outbox: FakeOutbox) -> None:  # type: ignore[no-untyped-def]
    before = len(outbox.videos)
    for fmt in FORMATS:
        await core.handle(ask(f"--provider {fmt} a calm sea", user=f"after-{fmt}"))
    await core.wait_idle()
    assert len(outbox.videos) == before + len(FORMATS)


@pytest.mark.parametrize("fmt", ["unified", "chat"])  # videos: test_core_faults
async def test_a_job_that_never_finishes_hits_the_deadline(
    sim: Simulator, tmp_path: Path, fmt: str
) -> None:
    outbox = FakeOutbox()
    async with running(settings(sim, tmp_path, deadline_minutes=0.01), outbox) as core:
        await core.handle(ask(f"--provider {fmt} a slow snail [sim:never_finish]"))
        await core.wait_idle()
        final = outbox.final_status(next(iter(outbox.statuses)))
        assert "0.01 minutes" in final and "refunded" in final
        assert await ledger_kinds(core) == ["reserve", "refund"]
        assert outbox.videos == []


@pytest.mark.parametrize(
    ("fault", "count", "words"),
    [
        (Fault.RATE_LIMIT, 2, None),  # a short storm on the download is waited out
        (Fault.SERVER_ERROR, 2, None),
        (Fault.SERVER_ERROR, 3, "expired"),  # a 502 that lasts: the asset is gone
        (Fault.RATE_LIMIT, 3, "busy"),
    ],
)
async def test_download_storms(
    sim: Simulator, tmp_path: Path, fault: Fault, count: int, words: str | None
) -> None:
    """A finished video's download is retried (``fetch_finished``, 3 attempts) for every
    format; polls are retried until the deadline, so a poll storm never fails a job."""
    outbox = FakeOutbox()
    async with running(settings(sim, tmp_path), outbox) as core:
        for fmt in FORMATS:
            sim.inject(fault, on="content", count=count, format=fmt)
            if fmt != "chat":
                sim.inject(Fault.RATE_LIMIT, on="poll", count=4, format=fmt)
            await core.handle(ask(f"--provider {fmt} a fox", user=fmt))
        await core.wait_idle()
        for fmt in FORMATS:
            final = outbox.final_status((await _only_job(core, fmt)).status_message_id)
            if words is None:
                assert "Done!" in final, final
                assert await ledger_kinds(core, fmt) == ["reserve", "commit"]
            else:
                assert "Failed." in final and words in final and "refunded" in final, final
                assert await ledger_kinds(core, fmt) == ["reserve", "refund"]
        assert len(outbox.videos) == (len(FORMATS) if words is None else 0)


async def _only_job(core, user: str):  # type: ignore[no-untyped-def]
    entries = await core.s.quotas.history(core.s.quota_key("telegram", "group-1", user), 10)
    (job_id,) = {entry.job_id for entry in entries}
    return await core.s.jobs.get(job_id)
