"""Discord's status budget on the core's board: about 5 edits per 5 s per channel for all
jobs together, and one progress edit per 2 s per job (``Capabilities.message_interval``);
phase changes and final texts do not wait for the job's own interval."""

from __future__ import annotations

import itertools

from bot.models import Capabilities, Conversation, Platform
from bot.status_board import StatusBoard
from tests.test_status import FakeClock, RecordingOutbox

CHANNEL_INTERVAL = 1.25
JOB_INTERVAL = 2.0


class PacedOutbox(RecordingOutbox):
    def capabilities(self, conversation: Conversation) -> Capabilities:
        return Capabilities(
            upload_limit_bytes=10 << 20,
            text_limit=2000,
            caption_limit=2000,
            edit_interval=CHANNEL_INTERVAL,
            buttons=True,
            markup="markdown",
            message_interval=JOB_INTERVAL,
        )


CHANNEL = Conversation(Platform.DISCORD, scope="guild", channel="42")


def _board() -> tuple[StatusBoard, PacedOutbox, FakeClock]:
    clock = FakeClock()
    outbox = PacedOutbox(clock)
    return StatusBoard(outbox, clock=clock, sleep=clock.sleep), outbox, clock


async def test_one_job_shows_progress_at_most_every_two_seconds() -> None:
    board, outbox, clock = _board()
    ref = await board.post(CHANNEL, "start", reply_to=None)
    assert ref is not None
    for n in range(12):
        board.update(ref, f"progress {n}")
        await clock.sleep(0.5)
    await board.drain()
    edits = [c for c in outbox.calls if c.kind == "edit"]
    times = [outbox.calls[0].at] + [c.at for c in edits]
    assert all(later - earlier >= JOB_INTERVAL for earlier, later in itertools.pairwise(times))
    assert edits[-1].text == "progress 11"  # the latest text always lands
    assert len(edits) < 12  # stale progress was dropped, not queued

    last = edits[-1].at
    board.update(ref, "phase change", urgent=True)
    await board.drain()
    phase = outbox.calls[-1]
    assert phase.text == "phase change"
    assert phase.at - last == CHANNEL_INTERVAL  # the channel's slot, not the job's 2 s
    assert await board.finish(ref, "done")
    assert outbox.calls[-1].at - phase.at == CHANNEL_INTERVAL


async def test_jobs_of_one_channel_share_five_edits_per_five_seconds() -> None:
    board, outbox, clock = _board()
    refs = [await board.post(CHANNEL, f"job {n}", reply_to=None) for n in range(4)]
    for step in range(20):
        for ref in refs:
            assert ref is not None
            board.update(ref, f"{ref.message_id}: {step}")
        await clock.sleep(0.3)
    await board.drain()
    calls = outbox.calls
    assert all(b.at - a.at >= CHANNEL_INTERVAL for a, b in itertools.pairwise(calls))
    for ref in refs:
        assert ref is not None
        mine = [c.at for c in calls if c.message_id == ref.message_id]
        assert all(b - a >= JOB_INTERVAL for a, b in itertools.pairwise(mine))
        assert [c.text for c in calls if c.message_id == ref.message_id][-1].endswith(": 19")
    window = 5.0
    assert max(sum(1 for c in calls if t <= c.at < t + window) for t in (c.at for c in calls)) <= 4
