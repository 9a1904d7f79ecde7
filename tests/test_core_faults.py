"""The core when things go wrong upstream, on the platform, or in the process itself."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.providers.simulator import Fault, Simulator
from bot.records import JobState
from tests.core_harness import ask, generate, key, ledger_kinds, running, settings_for
from tests.fakes import FakeOutbox


@pytest.fixture
async def sim(tmp_path: Path):
    async with Simulator(
        tmp_path / "sim", job_seconds=0.3, poll_after_ms=20, video_seconds_cap=1.0, retry_after=0
    ) as simulator:
        yield simulator


# fault, format, words the user must read, whether the credit comes back
FAULTS = [
    (Fault.MODERATION, "videos", "declined", True),
    (Fault.MODERATION, "chat", "declined", True),
    (Fault.SENSITIVE, "videos", "declined", True),
    (Fault.MODEL_NOT_FOUND, "videos", "sim-video", True),
    (Fault.MODEL_NOT_FOUND, "unified", "isn’t available", True),
    (Fault.BALANCE, "videos", "run out of credit", True),
    (Fault.BALANCE, "unified", "run out of credit", True),
    (Fault.RATE_LIMIT, "videos", "busy", True),
    (Fault.SERVER_ERROR, "videos", "problem", True),
    (Fault.EXPIRED, "videos", "expired", True),
    (Fault.EXPIRED, "unified", "expired", True),
    (Fault.CUT_STREAM, "chat", "Task id: task_", True),
    (Fault.ERROR_IN_STREAM, "chat", "Failed", True),
    (Fault.MISSING_STATUS, "videos", "Failed", True),
]


@pytest.mark.parametrize(("fault", "fmt", "words", "refunded"), FAULTS)
async def test_every_fault_ends_in_a_clear_failure_and_the_right_ledger(
    sim: Simulator, tmp_path: Path, fault: Fault, fmt: str, words: str, refunded: bool
) -> None:
    sim.inject(fault, format=fmt)
    outbox = FakeOutbox()
    async with running(settings_for(sim, tmp_path), outbox) as core:
        await generate(core, f"--provider {fmt} a fox in the snow")
        assert outbox.videos == []
        final = outbox.final_status(next(iter(outbox.statuses)))
        assert "Failed" in final and words in final, final
        assert ("refunded" in final) is refunded
        assert await ledger_kinds(core) == ["reserve", "refund" if refunded else "commit"]
        # the bot keeps serving
        await generate(core, f"--provider {fmt} a fox in the sun")
        assert len(outbox.videos) == 1


@pytest.mark.parametrize(
    ("fault", "fmt"), [(Fault.JSON_CONTENT, "videos"), (Fault.STALE_STATUS, "videos")]
)
async def test_quirks_that_are_not_failures_still_deliver(
    sim: Simulator, tmp_path: Path, fault: Fault, fmt: str
) -> None:
    sim.inject(fault, format=fmt)
    outbox = FakeOutbox()
    async with running(settings_for(sim, tmp_path), outbox) as core:
        await generate(core, f"--provider {fmt} a fox")
        assert len(outbox.videos) == 1
        assert await ledger_kinds(core) == ["reserve", "commit"]


async def test_deadline_fails_the_job_with_the_minutes(sim: Simulator, tmp_path: Path) -> None:
    sim.inject(Fault.NEVER_FINISH)
    settings = settings_for(sim, tmp_path, providers={"videos": {"deadline_minutes": 0.01}})
    outbox = FakeOutbox()
    async with running(settings, outbox) as core:
        await generate(core, "--provider videos a slow snail")
        final = outbox.final_status(next(iter(outbox.statuses)))
        assert "0.01 minutes" in final and "refunded" in final
        assert await ledger_kinds(core) == ["reserve", "refund"]


async def test_a_relay_that_bills_failures_is_not_refunded(sim: Simulator, tmp_path: Path) -> None:
    sim.inject(Fault.MODERATION, format="chat")
    settings = settings_for(sim, tmp_path, providers={"chat": {"bills_failures": True}})
    outbox = FakeOutbox()
    async with running(settings, outbox) as core:
        await generate(core, "--provider chat a fox")
        final = outbox.final_status(next(iter(outbox.statuses)))
        assert "still counts" in final
        assert await ledger_kinds(core) == ["reserve", "commit"]


async def test_refund_policy_off_keeps_the_credit(sim: Simulator, tmp_path: Path) -> None:
    sim.inject(Fault.MODERATION, format="videos")
    settings = settings_for(sim, tmp_path, quota={"refund_on_failure": False})
    async with running(settings, FakeOutbox()) as core:
        await generate(core, "a fox")
        assert await ledger_kinds(core) == ["reserve", "commit"]


async def test_a_deleted_status_message_does_not_stop_delivery(
    sim: Simulator, tmp_path: Path
) -> None:
    outbox = FakeOutbox(gone={"1"})  # the first message posted is the status
    async with running(settings_for(sim, tmp_path), outbox) as core:
        await generate(core, "a fox")
        assert len(outbox.videos) == 1
        assert await ledger_kinds(core) == ["reserve", "commit"]


async def test_a_failure_with_the_status_gone_is_still_told(sim: Simulator, tmp_path: Path) -> None:
    sim.inject(Fault.MODERATION, format="videos")
    outbox = FakeOutbox(gone={"1"})
    async with running(settings_for(sim, tmp_path), outbox) as core:
        await generate(core, "a fox", message_id="77")
        assert len(outbox.texts) == 1
        _, text, reply_to = outbox.texts[0]
        assert "declined" in text and reply_to is not None and reply_to.message_id == "77"


@pytest.fixture
async def big_sim(tmp_path: Path):
    """Full-size frames, so a video carries enough bits for re-encoding to matter."""
    async with Simulator(
        tmp_path / "big", job_seconds=0.3, poll_after_ms=20, video_scale=1.0, video_seconds_cap=3
    ) as simulator:
        yield simulator


async def test_oversize_video_is_reencoded_to_fit(big_sim: Simulator, tmp_path: Path) -> None:
    outbox = FakeOutbox()
    async with running(settings_for(big_sim, tmp_path), outbox) as core:
        await generate(core, "a fox")
        natural = outbox.videos[0].video.size_bytes
        outbox.upload_limit_bytes = int(natural * 0.6)
        await generate(core, "a fox again")
        fitted = outbox.videos[1].video
        assert fitted.size_bytes <= outbox.upload_limit_bytes
        assert fitted.has_audio
        statuses = list(outbox.statuses.values())[1]
        assert any("compress" in text or "limit" in text for text in statuses)


@pytest.mark.parametrize(("fmt", "delivered_as_link"), [("unified", True), ("videos", False)])
async def test_a_video_that_cannot_fit_falls_back_to_its_link(
    sim: Simulator, tmp_path: Path, fmt: str, delivered_as_link: bool
) -> None:
    outbox = FakeOutbox(upload_limit_bytes=2_000)
    async with running(settings_for(sim, tmp_path), outbox) as core:
        await generate(core, f"--provider {fmt} a fox")
        assert outbox.videos == []
        if delivered_as_link:
            ((_, text, _),) = outbox.texts
            assert "http://127.0.0.1" in text and "MB" in text
            assert await ledger_kinds(core) == ["reserve", "commit"]
        else:  # the videos format answered bytes, there is no link to give
            final = outbox.final_status(next(iter(outbox.statuses)))
            assert "could not be posted" in final and "refunded" in final
            assert await ledger_kinds(core) == ["reserve", "refund"]


async def test_platform_refusing_the_upload_size_triggers_a_smaller_encode(
    big_sim: Simulator, tmp_path: Path
) -> None:
    outbox = FakeOutbox()
    async with running(settings_for(big_sim, tmp_path), outbox) as core:
        await generate(core, "a fox")
        natural = outbox.videos[0].video.size_bytes
        outbox.refuse_uploads_over = int(natural * 0.9)  # the platform's real limit is lower
        await generate(core, "a fox again")
        assert len(outbox.videos) == 2
        assert outbox.videos[1].video.size_bytes <= outbox.refuse_uploads_over


async def test_an_unexpected_crash_in_a_job_is_reported_and_refunded(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outbox = FakeOutbox()
    async with running(settings_for(sim, tmp_path), outbox) as core:
        original = outbox.send_video

        async def explode(*args: object, **kwargs: object) -> object:
            raise RuntimeError("boom")

        monkeypatch.setattr(outbox, "send_video", explode)
        await generate(core, "a fox")
        final = outbox.final_status(next(iter(outbox.statuses)))
        assert "Failed" in final and "refunded" in final and "boom" not in final
        assert await ledger_kinds(core) == ["reserve", "refund"]
        monkeypatch.setattr(outbox, "send_video", original)
        await generate(core, "a fox again")
        assert len(outbox.videos) == 1


async def _wait_for(predicate) -> None:  # type: ignore[no-untyped-def]
    """Poll a condition on real time (the simulator's jobs run on real time here)."""
    async with asyncio.timeout(10):
        while not await predicate():  # noqa: ASYNC110 - the state lives in SQLite, not in an Event
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("fmt", ["videos", "unified"])
async def test_restart_mid_job_delivers_once_and_charges_once(tmp_path: Path, fmt: str) -> None:
    async with Simulator(tmp_path / "sim", job_seconds=1.5, poll_after_ms=20) as sim:
        settings = settings_for(sim, tmp_path)
        first = FakeOutbox()
        async with running(settings, first) as core:
            await core.handle(ask(f"--provider {fmt} a fox"))

            await _wait_for(lambda: _submitted(core))
        # the process is gone mid-job; a new one starts on the same database
        second = FakeOutbox()
        async with running(settings, second) as core:
            await core.wait_idle()
            assert len(second.videos) == 1 and first.videos == []
            assert await ledger_kinds(core) == ["reserve", "commit"]
            status_id = next(iter(first.statuses))
            assert "Done" in second.final_status(status_id)  # the old status, edited anew
        create_paths = ("/v1/videos", "/v1/video/create")
        assert sum(r.method == "POST" and r.path in create_paths for r in sim.requests) == 1


async def test_restart_mid_chat_stream_fails_and_refunds_with_the_task_id(tmp_path: Path) -> None:
    async with Simulator(tmp_path / "sim", job_seconds=1.5, poll_after_ms=20) as sim:
        settings = settings_for(sim, tmp_path)
        first = FakeOutbox()
        async with running(settings, first) as core:
            await core.handle(ask("--provider chat a fox"))

            await _wait_for(lambda: _submitted(core))
        second = FakeOutbox()
        async with running(settings, second) as core:
            await core.wait_idle()
            job = await core.s.jobs.get(await _only_job_id(core))
            assert job is not None and job.state is JobState.FAILED
            assert await ledger_kinds(core) == ["reserve", "refund"]
        # the old status message (made by the first process) was edited by the second
        texts = second.edit_log
        assert texts, "the status message must say what happened"


async def _submitted(core) -> bool:  # type: ignore[no-untyped-def]
    """The (only) job has been accepted upstream: a restart now must resume, not resubmit."""
    jobs = await core.s.jobs.unfinished()
    return bool(jobs) and jobs[0].upstream_id is not None


async def _only_job_id(core) -> str:  # type: ignore[no-untyped-def]
    rows = await core.s.quotas.history(key(), 10)
    return next(r.job_id for r in rows if r.job_id)


async def test_queue_positions_are_shown_and_concurrency_capped(
    sim: Simulator, tmp_path: Path
) -> None:
    settings = settings_for(
        sim, tmp_path, bot={"max_jobs_per_user": 10}, providers={"videos": {"max_concurrent": 1}}
    )
    outbox = FakeOutbox()
    async with running(settings, outbox) as core:
        for n in range(3):
            await core.handle(ask(f"--provider videos fox {n}"))
        await core.wait_idle()
        assert len(outbox.videos) == 3
        third = list(outbox.statuses.values())[2]
        assert any("#2" in text for text in third), third
        assert any("#1" in text for text in third), third
    # one slot: each job was submitted only after the previous one was delivered
    submits = [r for r in sim.requests if r.method == "POST" and r.path == "/v1/videos"]
    contents = [r for r in sim.requests if r.path.endswith("/content")]
    assert len(submits) == 3 and len(contents) == 3
    order = [r.path for r in sim.requests if r in submits or r in contents]
    assert order == [
        p for pair in zip(["/v1/videos"] * 3, [c.path for c in contents], strict=True) for p in pair
    ]


async def test_shutdown_is_prompt_and_leaves_running_jobs_to_resume(
    sim: Simulator, tmp_path: Path
) -> None:
    sim.inject(Fault.NEVER_FINISH)
    async with running(settings_for(sim, tmp_path), FakeOutbox()) as core:
        reply = await core.handle(ask("a fox"))
        assert reply is not None and reply.kind == "accepted"

        await _wait_for(lambda: _submitted(core))
        loop = asyncio.get_running_loop()
        started = loop.time()
        await core.shutdown()
        assert loop.time() - started < 2.0
        (job,) = await core.s.jobs.unfinished()
        assert job.state is JobState.RUNNING  # not failed: the next start resumes it
        refused = await core.handle(ask("another fox"))
        assert refused is not None and refused.kind == "error"
        assert await ledger_kinds(core) == ["reserve"]


def test_sigterm_stops_the_demo_promptly(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "demo", "--out", str(tmp_path / "demo"), "--speed", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "LANG": "en_US.UTF-8"},
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:  # wait until the first job is under way
            if "job" in line and "on its way" in line:
                break
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=15)
        assert time.monotonic() - started < 10
        assert process.returncode == 143
        assert "resume on the next start" in err
    finally:
        process.kill()


async def test_upstream_text_is_escaped_exactly_once(sim: Simulator, tmp_path: Path) -> None:
    sim.inject(Fault.SERVER_ERROR, format="videos")  # an nginx page: <title>502 Bad Gateway
    outbox = FakeOutbox()
    async with running(settings_for(sim, tmp_path), outbox) as core:
        await generate(core, "--provider videos a <b>bold</b> & fox")
        final = outbox.final_status(next(iter(outbox.statuses)))
        assert "&lt;b&gt;bold&lt;/b&gt; &amp; fox" in final
        assert "&amp;lt;" not in final and "&amp;amp;" not in final


async def test_recover_twice_does_not_run_a_job_twice(tmp_path: Path) -> None:
    async with Simulator(tmp_path / "sim", job_seconds=1.0, poll_after_ms=20) as sim:
        settings = settings_for(sim, tmp_path)
        async with running(settings, FakeOutbox()) as core:
            await core.handle(ask("--provider videos a fox"))
            await _wait_for(lambda: _submitted(core))
        second = FakeOutbox()
        async with running(settings, second, recover=False) as core:
            assert await core.recover("telegram") == 1
            assert await core.recover("telegram") == 0
            await core.wait_idle()
            assert len(second.videos) == 1
        assert sum(r.method == "POST" and r.path == "/v1/videos" for r in sim.requests) == 1


async def test_a_rate_limited_upload_is_retried(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.errors import PlatformRateLimited

    outbox = FakeOutbox()
    original = outbox.send_video
    calls = 0

    async def flaky(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 1:
            raise PlatformRateLimited(0.01)
        return await original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(outbox, "send_video", flaky)
    async with running(settings_for(sim, tmp_path), outbox) as core:
        await generate(core, "a fox")
        assert calls == 2 and len(outbox.videos) == 1
        assert await ledger_kinds(core) == ["reserve", "commit"]
