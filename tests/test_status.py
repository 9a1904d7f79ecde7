"""Status rendering (escaping, limits, progress) and the per-chat edit budget of StatusBoard.

The board runs on a fake clock whose ``sleep`` advances time at once: no real waiting.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.errors import MessageGone, PlatformRateLimited
from bot.models import Capabilities, Conversation, MessageRef, Orientation, Platform, VideoFile
from bot.status import (
    StatusBoard,
    StatusView,
    escape,
    format_duration,
    progress_bar,
    render_caption,
    render_status,
    render_text,
    text_length,
)

# --------------------------------------------------------------------------- fakes


class FakeClock:
    """Monotonic time that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


@dataclass(frozen=True)
class Call:
    kind: str  # "send" | "edit"
    chat: tuple[Platform, str]
    message_id: str
    text: str
    at: float
    ok: bool


class RecordingOutbox:
    """Records every status call with its time; failures are scripted per call."""

    def __init__(self, clock: FakeClock, interval: float = 3.0) -> None:
        self.clock = clock
        self.interval = interval
        self.calls: list[Call] = []
        self.failures: list[Exception] = []  # raised by the next calls, in order
        self.gone: set[str] = set()
        self.on_edit: Callable[[MessageRef, str], None] | None = None
        self._ids = 0

    def capabilities(self, conversation: Conversation) -> Capabilities:
        return Capabilities(
            upload_limit_bytes=50 << 20,
            text_limit=4096,
            caption_limit=1024,
            edit_interval=self.interval,
            buttons=False,
        )

    def _record(self, kind: str, conversation: Conversation, message_id: str, text: str) -> None:
        failure = self.failures.pop(0) if self.failures else None
        if failure is None and message_id in self.gone:
            failure = MessageGone()
        chat = (conversation.platform, conversation.channel)
        self.calls.append(Call(kind, chat, message_id, text, self.clock(), failure is None))
        if failure is not None:
            raise failure

    async def send_status(
        self, conversation: Conversation, text: str, *, reply_to: MessageRef | None
    ) -> MessageRef:
        self._ids += 1
        self._record("send", conversation, str(self._ids), text)
        return MessageRef(conversation, str(self._ids))

    async def edit_status(self, message: MessageRef, text: str) -> None:
        if self.on_edit is not None:
            self.on_edit(message, text)
        self._record("edit", message.conversation, message.message_id, text)

    async def send_video(
        self,
        conversation: Conversation,
        video: VideoFile,
        *,
        caption: str,
        thumbnail: Path | None,
        reply_to: MessageRef | None,
        job_id: str,
        buttons: bool,
        in_place_of: MessageRef | None = None,
    ) -> MessageRef:
        return MessageRef(conversation, "video")

    async def send_text(
        self, conversation: Conversation, text: str, *, reply_to: MessageRef | None
    ) -> MessageRef:
        return MessageRef(conversation, "text")

    def edits(self, message: MessageRef | None = None, *, ok: bool = True) -> list[str]:
        return [
            c.text
            for c in self.calls
            if c.kind == "edit"
            and (not ok or c.ok)
            and (message is None or c.message_id == message.message_id)
        ]


def chat(channel: str = "c1", platform: Platform = Platform.TELEGRAM) -> Conversation:
    return Conversation(platform=platform, scope="g", channel=channel)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def outbox(clock: FakeClock) -> RecordingOutbox:
    return RecordingOutbox(clock)


@pytest.fixture
def board(outbox: RecordingOutbox, clock: FakeClock) -> StatusBoard:
    return StatusBoard(outbox, clock=clock, sleep=clock.sleep)


async def post(
    board: StatusBoard, text: str = "start", where: Conversation | None = None
) -> MessageRef:
    ref = await board.post(where or chat(), text, reply_to=None)
    assert ref is not None
    return ref


# --------------------------------------------------------------------------- the board


async def test_identical_texts_are_never_sent(board: StatusBoard, outbox: RecordingOutbox) -> None:
    ref = await post(board, "A")
    board.update(ref, "A")
    await board.drain()
    assert outbox.edits() == []
    board.update(ref, "B")
    board.update(ref, "B")
    await board.drain()
    board.update(ref, "B", urgent=True)
    assert await board.finish(ref, "B") is True
    assert outbox.edits() == ["B"]


async def test_ten_jobs_in_one_chat_share_one_budget(
    board: StatusBoard, outbox: RecordingOutbox, clock: FakeClock
) -> None:
    start = clock()

    async def job(number: int) -> bool:
        ref = await post(board, f"job {number} queued")
        for percent in range(0, 100, 2):
            board.update(ref, f"job {number} {percent}%", urgent=percent % 20 == 0)
            await clock.sleep(0.25)
        return await board.finish(ref, f"job {number} done")

    results = await asyncio.gather(*(job(n) for n in range(10)))

    assert results == [True] * 10
    times = [c.at for c in outbox.calls]
    assert all(later - earlier >= 3.0 - 1e-9 for earlier, later in itertools.pairwise(times))
    assert len(outbox.calls) <= (clock() - start) / 3.0 + 1
    for number in range(10):
        mine = [c.text for c in outbox.calls if c.text.startswith(f"job {number} ")]
        assert mine[-1] == f"job {number} done"
        assert len(mine) == len(set(mine))  # never the same text twice


async def test_a_send_in_its_turn_shares_the_budget_and_holds_edits_back(
    board: StatusBoard, outbox: RecordingOutbox, clock: FakeClock
) -> None:
    """A result upload counts against the chat's flood budget when it lands, and no status
    edit of that chat goes out while it is under way."""
    ref = await post(board, "0%")
    sent_at: list[tuple[float, float]] = []

    async def upload() -> None:
        async with board.turn(chat()):
            started = clock()
            board.update(ref, "during the upload")  # must wait: the upload holds the turn
            await clock.sleep(5.0)  # a slow upload
            sent_at.append((started, clock()))

    board.update(ref, "50%")
    await upload()
    await board.drain()

    (started, landed), edits = sent_at[0], [c for c in outbox.calls if c.kind == "edit"]
    assert started >= outbox.calls[0].at + 3.0  # waited for its slot after the post
    assert [c.text for c in edits][-1] == "during the upload"
    assert all(not started < c.at < landed + 3.0 - 1e-9 for c in edits)
    board.rate_limited(chat(), 30.0)  # a refused send pushes the whole chat back
    pushed_from = clock()
    board.update(ref, "after the push")
    await board.drain()
    assert outbox.calls[-1].text == "after the push" and outbox.calls[-1].at >= pushed_from + 30


async def test_final_text_lands_after_a_flood_of_progress(
    board: StatusBoard, outbox: RecordingOutbox
) -> None:
    ref = await post(board)
    for percent in range(100):
        board.update(ref, f"{percent}%")
    assert await board.finish(ref, "done") is True
    assert outbox.edits(ref)[-1] == "done"
    board.update(ref, "late progress")  # after the end: ignored
    await board.drain()
    assert outbox.edits(ref)[-1] == "done"


async def test_phase_change_overtakes_progress_and_final_overtakes_both(
    board: StatusBoard, outbox: RecordingOutbox
) -> None:
    a, b, c = await post(board, "a"), await post(board, "b"), await post(board, "c")
    board.update(a, "a 10%")
    board.update(b, "b generating", urgent=True)
    finishing = asyncio.ensure_future(board.finish(c, "c done"))
    await board.drain()
    assert await finishing is True
    assert outbox.edits() == ["c done", "b generating", "a 10%"]


async def test_stale_progress_is_dropped(
    board: StatusBoard, outbox: RecordingOutbox, clock: FakeClock
) -> None:
    ref = await post(board)
    for percent in range(1, 51):
        board.update(ref, f"{percent}%")
    await board.drain()
    assert outbox.edits() == ["50%"]
    start = clock()
    for percent in range(51, 100):
        board.update(ref, f"{percent}%")
        await clock.sleep(0.5)
    await board.drain()
    sent = outbox.edits()[1:]
    assert sent[-1] == "99%"
    assert len(sent) < 49  # most of the 49 updates were overtaken before their turn
    assert len(sent) <= (clock() - start) / 3.0 + 1


async def test_retry_after_pushes_the_chat_back_and_retries_with_latest_text(
    board: StatusBoard, outbox: RecordingOutbox
) -> None:
    ref = await post(board)
    other = await post(board)
    outbox.failures.append(PlatformRateLimited(30.0))

    def newer_progress_arrives(message: MessageRef, text: str) -> None:
        board.update(message, "2%")
        outbox.on_edit = None

    outbox.on_edit = newer_progress_arrives
    board.update(ref, "1%")
    await board.drain()
    board.update(other, "other")
    await board.drain()

    refused, landed, next_one = outbox.calls[2:]
    assert (refused.ok, landed.ok) == (False, True)
    assert landed.text == "2%"
    assert landed.at - refused.at >= 30.0
    assert next_one.at - landed.at >= 3.0
    assert outbox.edits() == ["2%", "other"]


async def test_rate_limited_post_is_retried(board: StatusBoard, outbox: RecordingOutbox) -> None:
    outbox.failures.append(PlatformRateLimited(12.0))
    ref = await board.post(chat(), "hello", reply_to=None)
    assert ref is not None
    refused, sent = outbox.calls
    assert not refused.ok and sent.ok
    assert sent.at - refused.at >= 12.0


async def test_gone_message_ignores_updates_and_finish_fails(
    board: StatusBoard, outbox: RecordingOutbox
) -> None:
    ref = await post(board)
    neighbour = await post(board)
    outbox.gone.add(ref.message_id)
    board.update(ref, "10%")
    await board.drain()
    assert board.is_gone(ref)
    attempts = len(outbox.calls)
    board.update(ref, "20%", urgent=True)
    assert await board.finish(ref, "done") is False
    assert len(outbox.calls) == attempts
    assert await board.finish(neighbour, "neighbour done") is True  # the chat carries on


async def test_post_into_a_vanished_chat_returns_none(
    board: StatusBoard, outbox: RecordingOutbox
) -> None:
    outbox.failures.append(MessageGone())
    assert await board.post(chat(), "hi", reply_to=None) is None


async def test_separate_chats_do_not_share_a_budget(
    board: StatusBoard, outbox: RecordingOutbox, clock: FakeClock
) -> None:
    start = clock()
    here = await post(board, where=chat("x"))
    there = await post(board, where=chat("y"))
    elsewhere = await post(board, where=chat("x", Platform.DISCORD))
    assert [c.at for c in outbox.calls] == [start, start, start]
    for ref in (here, there, elsewhere):
        board.update(ref, "50%")
    await board.drain()
    edit_times = [c.at for c in outbox.calls if c.kind == "edit"]
    assert len(edit_times) == 3
    assert max(edit_times) - start < 2 * 3.0


async def test_unexpected_errors_do_not_stop_the_board(
    board: StatusBoard, outbox: RecordingOutbox
) -> None:
    ref = await post(board)
    outbox.failures.append(RuntimeError("boom"))
    board.update(ref, "10%")
    await board.drain()
    assert outbox.edits(ref) == []  # progress is dropped after an unexplained failure
    outbox.failures.append(RuntimeError("boom again"))
    assert await board.finish(ref, "done") is True  # a final text is retried
    assert outbox.edits(ref) == ["done"]

    other = await post(board)
    outbox.failures.extend(RuntimeError("down") for _ in range(5))
    assert await board.finish(other, "never") is False


async def test_finish_works_for_a_message_posted_before_a_restart(
    board: StatusBoard, outbox: RecordingOutbox
) -> None:
    old = MessageRef(chat(), "from-before")
    assert await board.finish(old, "done") is True
    assert await board.finish(old, "done") is True  # same text again: nothing to send
    assert await board.finish(old, "done, delivered") is True  # a new final text still lands
    assert outbox.edits(old) == ["done", "done, delivered"]


async def test_aclose_releases_waiting_finishers(outbox: RecordingOutbox, clock: FakeClock) -> None:
    async def sleep_forever(seconds: float) -> None:
        await asyncio.Event().wait()

    board = StatusBoard(outbox, clock=clock, sleep=sleep_forever)
    ref = await post(board)
    waiting = asyncio.ensure_future(board.finish(ref, "done"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert not waiting.done()
    await board.aclose()
    assert await waiting is False
    assert await board.post(chat(), "after close", reply_to=None) is None


# --------------------------------------------------------------------------- rendering


def view(**changes: object) -> StatusView:
    base: dict[str, object] = {
        "prompt": "a cat surfing",
        "model": "sora-2",
        "seconds": 12,
        "orientation": Orientation.LANDSCAPE,
        "phase": "generating",
        "percent": 42,
        "elapsed": 83.0,
        "eta": 120.0,
    }
    base.update(changes)
    return StatusView(**base)  # type: ignore[arg-type]


def test_escape_html() -> None:
    assert escape('<b>Tom & "Jerry"</b>', "html") == '&lt;b&gt;Tom &amp; "Jerry"&lt;/b&gt;'


def test_escape_markdown_neutralises_markup_and_mentions() -> None:
    raw = "**b** _i_ ~~s~~ ||spoiler|| > quote `code` [link](http://x) @everyone @here <@1> <@&9>"
    escaped = escape(raw, "markdown")
    assert re.findall(r"(?<!\\)[*_~|>`\[\]]", escaped) == []
    assert "@everyone" not in escaped and "@here" not in escaped
    assert "<@1>" not in escaped and "<@&9>" not in escaped
    assert escaped.replace("\\", "").replace("\u200b", "") == raw


def test_escape_markdown_line_starts() -> None:
    assert escape("# title\n- item\n1. first", "markdown") == "\\# title\n\\- item\n1\\. first"


def test_escape_plain_only_breaks_mentions() -> None:
    assert escape("*hi* @everyone", "plain") == "*hi* @\u200beveryone"


def test_progress_bar() -> None:
    assert progress_bar(42) == "▰▰▰▰▱▱▱▱▱▱ 42%"
    assert progress_bar(0) == "▱" * 10 + " 0%"
    assert progress_bar(100) == "▰" * 10 + " 100%"
    assert progress_bar(150) == "▰" * 10 + " 100%"
    assert progress_bar(99, width=7) == "▰▰▰▰▰▰▱ 99%"


def test_format_duration() -> None:
    assert [format_duration(s) for s in (0, 5.4, 83, 3725, -3)] == [
        "0:00",
        "0:05",
        "1:23",
        "1:02:05",
        "0:00",
    ]


def test_generating_status_in_both_languages() -> None:
    english = render_status(view(), "en", "plain", 4096)
    assert english.splitlines() == [
        "🎬 a cat surfing",
        "sora-2 · 12s · landscape",
        "🎞️ Generating ▰▰▰▰▱▱▱▱▱▱ 42%",
        "⏱️ 1:23 elapsed · about 2:00 left",
    ]
    chinese = render_status(view(), "zh-CN", "plain", 4096)
    assert "横屏" in chinese and "正在生成" in chinese and "预计还要 2:00" in chinese


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"phase": "queued", "position": 3, "percent": None}, "Waiting in line (#3)"),
        ({"phase": "queued", "position": None, "percent": None}, "Waiting in line"),
        ({"phase": "fitting", "percent": None}, "Shrinking the video"),
        ({"phase": "done", "percent": 100}, "took 1:23"),
    ],
)
def test_phases(changes: dict[str, object], expected: str) -> None:
    rendered = render_status(view(**changes), "en", "plain", 4096)
    assert expected in rendered
    assert "▰" not in rendered


def test_failed_status_shows_reason_and_task_id() -> None:
    rendered = render_status(
        view(phase="failed", reason="No video after 30 minutes.", task_id="task_01"),
        "en",
        "html",
        4096,
    )
    assert "<b>Failed. No video after 30 minutes.</b>" in rendered
    assert "Task id: task_01" in rendered
    assert "left" not in rendered


def test_prompt_cannot_inject_html() -> None:
    rendered = render_status(view(prompt='</b><a href="http://evil">x</a>'), "en", "html", 4096)
    assert "<a" not in rendered
    assert rendered.count("<b>") == rendered.count("</b>") == 2


def test_prompt_cannot_ping_everyone_on_discord() -> None:
    rendered = render_status(view(prompt="@everyone look **here** <@1>"), "en", "markdown", 2000)
    assert "@everyone" not in rendered and "<@1>" not in rendered
    assert "\\*\\*here\\*\\*" in rendered


@pytest.mark.parametrize("locale", ["en", "zh"])
@pytest.mark.parametrize(("markup", "limit"), [("html", 4096), ("markdown", 2000), ("plain", 2000)])
@pytest.mark.parametrize("filler", ["a", "&", "🏄", "*"])
def test_long_prompt_is_cut_to_the_limit(locale: str, markup: str, limit: int, filler: str) -> None:
    rendered = render_status(view(prompt=filler * 5000), locale, markup, limit)  # type: ignore[arg-type]
    assert len(rendered) <= text_length(rendered) <= limit
    assert text_length(rendered) > limit - 20  # the prompt used the room there was
    assert "…" in rendered.splitlines()[0]
    assert "42%" in rendered


def test_tiny_limit_still_valid_html() -> None:
    rendered = render_status(view(prompt="&&&&"), "en", "html", 12)
    assert text_length(rendered) <= 12
    assert "<b" not in rendered and not re.search(r"&[#\w]*…$", rendered)


def test_long_failure_reason_leaves_room_for_the_prompt() -> None:
    rendered = render_status(view(phase="failed", reason="x" * 5000), "en", "plain", 2000)
    assert text_length(rendered) <= 2000
    assert "a cat surfing" in rendered


def test_caption_fits_and_counts_credits() -> None:
    caption = render_caption("surf " * 500, "sora-2", 8, 3, locale="en", markup="html", limit=1024)
    assert text_length(caption) <= 1024
    assert caption.endswith("sora-2 · 8s · 3 credits left")
    unlimited = render_caption("<cat>", "m", 4, None, locale="zh", markup="html", limit=1024)
    assert unlimited == "&lt;cat&gt;\nm · 4 秒"


def test_render_text_escapes_parameters() -> None:
    rendered = render_text("en", "unknown_user", {"user": "<@everyone>"}, markup="markdown")
    assert "@everyone" not in rendered
    assert rendered.startswith("I can’t find the user")


async def test_finish_gives_up_after_repeated_rate_limits() -> None:
    """A chat that answers every edit with RetryAfter must not hang the job for ever."""
    from bot.errors import PlatformRateLimited
    from bot.models import Capabilities, Conversation, MessageRef, Platform

    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    class Flooded:
        edits = 0

        def capabilities(self, conversation: Conversation) -> Capabilities:
            return Capabilities(50_000_000, 4096, 1024, 1.0, True, "html")

        async def edit_status(self, message: MessageRef, text: str) -> None:
            self.edits += 1
            raise PlatformRateLimited(30.0)

    outbox = Flooded()
    board = StatusBoard(outbox, clock=lambda: now[0], sleep=sleep)  # type: ignore[arg-type]
    ref = MessageRef(Conversation(Platform.TELEGRAM, "g", "g"), "1")
    assert await board.finish(ref, "done") is False
    assert outbox.edits == 5
    assert now[0] >= 4 * 30.0  # each retry waited for the chat's pushed-back slot
    await board.aclose()
