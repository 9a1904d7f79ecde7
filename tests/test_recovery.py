"""Restart recovery of jobs that had ended, or were being delivered, when the process died.

Regression tests for two gaps the kill -9 suite (``tests/test_fault_kill.py``) found:

- a job already delivered (or failed) whose final status edit was still waiting for the
  chat's budget when the process stopped kept showing "Uploading" forever: the row was
  final, so no restart looked at it again;
- a chat-format job stopped during its upload was failed and refunded although its
  finished video was on disk (the chat format cannot follow a job again).

Each test stops the first core the way SIGTERM does (``Core.shutdown`` cancels the job
while it waits on a blocked outbox call) and starts a second one on the same database.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.models import Conversation, MessageRef, VideoFile
from bot.providers.simulator import Fault, Simulator
from bot.records import JobState
from tests.core_harness import ask, ledger_kinds, running, settings_for
from tests.fakes import FakeOutbox


class StuckOutbox(FakeOutbox):
    """A ``FakeOutbox`` on which the calls that match never return (the process is about
    to be stopped while they wait)."""

    def __init__(self, *, stuck_edit: str | None = None, stuck_upload: bool = False) -> None:
        super().__init__()
        self.stuck_edit = stuck_edit
        self.stuck_upload = stuck_upload
        self.stuck = asyncio.Event()  # set once a call got stuck

    async def edit_status(self, message: MessageRef, text: str) -> None:
        if self.stuck_edit is not None and self.stuck_edit in text:
            await self._hang()
        await super().edit_status(message, text)

    async def send_video(
        self, conversation: Conversation, video: VideoFile, **kwargs
    ) -> MessageRef:  # type: ignore[no-untyped-def, override]
        if self.stuck_upload:
            await self._hang()
        return await super().send_video(conversation, video, **kwargs)

    async def _hang(self) -> None:
        self.stuck.set()
        await asyncio.Event().wait()


@pytest.fixture
async def sim(tmp_path: Path):
    async with Simulator(
        tmp_path / "sim", job_seconds=0.3, poll_after_ms=20, video_seconds_cap=1.0
    ) as simulator:
        yield simulator


async def _stop_when_stuck(core, outbox: StuckOutbox) -> str:  # type: ignore[no-untyped-def]
    """Wait for the stuck call, stop the core as SIGTERM does; the (only) job's id."""
    async with asyncio.timeout(20):
        await outbox.stuck.wait()
    await core.shutdown()
    (job,) = await core.s.jobs.unfinished()
    return job.id


def _creates(sim: Simulator) -> int:
    paths = ("/v1/videos", "/v1/video/create", "/v1/chat/completions")
    return sum(r.method == "POST" and r.path in paths for r in sim.requests)


async def test_a_delivered_job_whose_done_edit_was_lost_says_done_after_a_restart(
    sim: Simulator, tmp_path: Path
) -> None:
    settings = settings_for(sim, tmp_path)
    first = StuckOutbox(stuck_edit="Done!")
    async with running(settings, first) as core:
        await core.handle(ask("--provider videos a fox"))
        job_id = await _stop_when_stuck(core, first)
        assert len(first.videos) == 1  # the video went out before the process stopped
    second = FakeOutbox()
    async with running(settings, second) as core:
        await core.wait_idle()
        job = await core.s.jobs.get(job_id)
        assert job is not None and job.state is JobState.DELIVERED
        assert job.result_message_id == first.videos[0].ref.message_id
        assert second.videos == []  # not sent again
        assert "Done!" in second.final_status(job.status_message_id or "")
        assert await ledger_kinds(core) == ["reserve", "commit"]
    assert _creates(sim) == 1


async def test_a_failed_job_whose_failure_edit_was_lost_is_told_not_resumed(
    sim: Simulator, tmp_path: Path
) -> None:
    sim.inject(Fault.MODERATION, format="videos")
    settings = settings_for(sim, tmp_path)
    first = StuckOutbox(stuck_edit="Failed.")
    async with running(settings, first) as core:
        await core.handle(ask("--provider videos a fox"))
        job_id = await _stop_when_stuck(core, first)
        assert await ledger_kinds(core) == ["reserve", "refund"]  # settled before the edit
    polls_before = len(sim.requests)
    second = FakeOutbox()
    async with running(settings, second) as core:
        await core.wait_idle()
        job = await core.s.jobs.get(job_id)
        assert job is not None and job.state is JobState.FAILED
        final = second.final_status(job.status_message_id or "")
        assert "declined" in final and "refunded" in final
        assert await ledger_kinds(core) == ["reserve", "refund"]  # not refunded twice
    assert len(sim.requests) == polls_before  # its credit was back: never followed again


@pytest.mark.parametrize("fmt", ["chat", "unified"])
async def test_a_job_stopped_during_its_upload_delivers_its_copy_on_disk(
    sim: Simulator, tmp_path: Path, fmt: str
) -> None:
    settings = settings_for(sim, tmp_path)
    first = StuckOutbox(stuck_upload=True)
    async with running(settings, first) as core:
        await core.handle(ask(f"--provider {fmt} a fox"))
        job_id = await _stop_when_stuck(core, first)
    asked = len(sim.requests)
    second = FakeOutbox()
    async with running(settings, second) as core:
        await core.wait_idle()
        job = await core.s.jobs.get(job_id)
        assert job is not None and job.state is JobState.DELIVERED
        assert len(second.videos) == 1 and second.videos[0].video.duration > 0
        assert await ledger_kinds(core) == ["reserve", "commit"]
    assert len(sim.requests) == asked  # nothing asked of the relay: not even a download
    assert not (tmp_path / "media" / job_id).exists()  # the copy is gone once delivered


async def test_a_chat_job_stopped_during_its_upload_without_its_copy_is_refunded(
    sim: Simulator, tmp_path: Path
) -> None:
    import shutil

    settings = settings_for(sim, tmp_path)
    first = StuckOutbox(stuck_upload=True)
    async with running(settings, first) as core:
        await core.handle(ask("--provider chat a fox"))
        job_id = await _stop_when_stuck(core, first)
    shutil.rmtree(tmp_path / "media" / job_id)  # the media volume was lost
    second = FakeOutbox()
    async with running(settings, second) as core:
        await core.wait_idle()
        job = await core.s.jobs.get(job_id)
        assert job is not None and job.state is JobState.FAILED
        assert second.videos == []
        assert "refunded" in second.final_status(job.status_message_id or "")
        assert await ledger_kinds(core) == ["reserve", "refund"]
