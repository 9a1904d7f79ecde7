"""Read the markdown progress log of the ``chat`` format (upstream-api.md §1.3).

A chat relay reports a video job as prose streamed token by token. Variant A (most relays)::

    ```json
    {"prompt": "…", "orientation": "portrait"}
    ```
    > ID: `task_01k8sxz17gewz8kac074xz4crh`
    > 排队中...
    > 生成中.
    >🏃 进度 36..44..61..69..81..
    > 生成完成 ✅
    > sid: s_68eca3f141808191b1fd30fea1b731bd
    [预览图](https://…webp)
    [视频文件](https://…)

Variant B (relays built on sora2api) puts ``**Video Generation Progress**: 40%`` lines in
``reasoning_content``, the result as ``<video src='…'>`` and a failure as
``❌ 生成失败: <reason>``. English relays write "Queuing", "Progress", "Generating Complete".

Ids, URLs and numbers are split across chunks, so the parser works on the ACCUMULATED
text and reports a token only once it is complete: an id or a bare URL once a character
follows it, a markdown link once its ``)`` arrived, a progress number once a terminator
(``..``, ``%``, end of line, or whitespace then more text) follows, so "进度 3" never
reports 3 while "36" is on its way. The ``json`` block at the top echoes the user's prompt
and is not read for markers (unless it is never closed).

:class:`TranscriptParser` is incremental: complete lines are scanned once, and only the
current unfinished line is rescanned as text arrives (for a very long line, only after it
grew by a quarter), so a megabyte fed ten bytes at a time stays linear.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Rescan an unfinished line at every delta while it is this short; beyond, only after it
# grew by _LONG_LINE_GROWTH (amortised linear time for pathological single-line streams).
_SHORT_LINE = 2048
_LONG_LINE_GROWTH = 1.25
_MAX_FENCE_CHARS = 64 * 1024
_MAX_CANDIDATES = 8  # bare .mp4 URLs and preview links kept per transcript

_FLAGS = re.IGNORECASE | re.MULTILINE
_ID = re.compile(
    r"^[^\w\n]*(?:任务[^\S\n]*)?(?:task[^\S\n]?_?)?id[*_]*[^\S\n]*[:：][^\S\n]*[*_`]*"
    r"(?P<id>[A-Za-z0-9][A-Za-z0-9_\-:]*)",
    _FLAGS,
)
_SID = re.compile(
    r"(?<!\w)sid[*_]*[^\S\n]*[:：][^\S\n]*[*_`]*(?P<sid>[A-Za-z0-9][A-Za-z0-9_\-]*)", _FLAGS
)
_QUEUED = re.compile(r"排队|queu(?:ing|ed)|in queue", _FLAGS)
_GENERATING = re.compile(r"生成中|\bgenerating\b(?![^\S\n]*complete)", _FLAGS)
_DONE = re.compile(r"生成完成|生成成功|\bgenerat(?:ing|ion)[^\S\n]+complete", _FLAGS)
_PROGRESS = re.compile(r"(?:进度|progress)[^\d\n]{0,32}(?P<run>\d[\d.%…,，\t /]*)", _FLAGS)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_STILL_GROWING = re.compile(r"\d+[ \t]*\Z")  # a run's last number, not yet terminated
_RUN = re.compile(r"[\d.%…,，\t /]*")
_MARKER_REACH = 48  # "progress" plus the 32 characters allowed before its first number
_FAILURE = re.compile(r"❌|生成失败|任务失败|\bgeneration[^\S\n]+failed", _FLAGS)
_FAILURE_WORDS = re.compile(
    r"^[^\S\n]*(?:(?:视频)?生成失败|任务失败|(?:video[^\S\n]+)?generation[^\S\n]+failed|failed"
    r"|error|错误|失败)?[^\S\n]*[:：]?[^\S\n]*",
    _FLAGS,
)
_MD_LINK = re.compile(
    r"(?P<bang>!?)\[(?P<text>[^\]\n]*)\]\((?P<url>[^)\s]+)(?:[^\S\n]+\"[^\"\n]*\")?\)"
)
_VIDEO_TAG = re.compile(
    r"<(?:video|source)\b[^>]*?\bsrc[^\S\n]*=[^\S\n]*(?P<q>['\"])(?P<url>[^'\"\n]+)(?P=q)",
    _FLAGS,
)
_BARE_MP4 = re.compile(
    r"https?://[^\s<>\"'()\[\]`]+?\.mp4(?:[?#][^\s<>\"'()\[\]`]*)?(?![\w.\-/])", _FLAGS
)
_FENCE = re.compile(r"^[^\S\n]*(?:>[^\S\n]*)*```[^\S\n]*(?P<info>[^\s`]*)[^\n]*$", _FLAGS)

_VIDEO_WORDS = ("视频", "播放", "下载", "video", "play", "watch", "download", "mp4")
_PREVIEW_WORDS = ("预览图", "封面", "缩略", "preview", "thumbnail", "cover", "poster")


@dataclass(frozen=True, slots=True)
class ChatState:
    """What a chat transcript says so far. ``progress`` is the highest number seen."""

    task_id: str | None = None
    queued: bool = False
    generating: bool = False
    progress: int | None = None
    done: bool = False
    sid: str | None = None
    video_url: str | None = None
    preview_url: str | None = None
    failure: str | None = None

    def combined_with(self, other: ChatState) -> ChatState:
        """Both channels of one answer (content, reasoning): ours win, flags add up."""
        progresses = [p for p in (self.progress, other.progress) if p is not None]
        return ChatState(
            task_id=self.task_id or other.task_id,
            queued=self.queued or other.queued,
            generating=self.generating or other.generating,
            progress=max(progresses) if progresses else None,
            done=self.done or other.done,
            sid=self.sid or other.sid,
            video_url=self.video_url or other.video_url,
            preview_url=self.preview_url or other.preview_url,
            failure=self.failure or other.failure,
        )


@dataclass(slots=True)
class _Facts:
    """Mutable accumulator behind ``ChatState``: first value found wins, progress is a max."""

    task_id: str | None = None
    queued: bool = False
    generating: bool = False
    progress: int | None = None
    done: bool = False
    sid: str | None = None
    linked_video: str | None = None  # a markdown link whose text names the video
    tagged_video: str | None = None  # <video src=…>
    mp4s: list[str] = field(default_factory=list)  # bare .mp4 URLs, the last resort
    previews: list[str] = field(default_factory=list)  # picture links, never the video
    failure: str | None = None

    def note_progress(self, percent: int) -> None:
        if self.progress is None or percent > self.progress:
            self.progress = percent

    def state(self) -> ChatState:
        bare = next((u for u in self.mp4s if u not in self.previews), None)
        return ChatState(
            task_id=self.task_id,
            queued=self.queued,
            generating=self.generating or self.progress is not None,
            progress=self.progress,
            done=self.done,
            sid=self.sid,
            video_url=self.linked_video or self.tagged_video or bare,
            preview_url=self.previews[0] if self.previews else None,
            failure=self.failure,
        )


def _terminated(text: str, end: int, complete: bool) -> bool:
    """Is the token ending at ``end`` complete: does anything but blanks follow it?"""
    while end < len(text) and text[end] in " \t":
        end += 1
    return end < len(text) or complete


def _link_kind(bang: str, text: str) -> str | None:
    lowered = text.lower()
    if bang or any(word in lowered for word in _PREVIEW_WORDS):
        return "preview"
    if "预览" in lowered:  # 数据预览: the task's data page, neither video nor picture
        return None
    return "video" if any(word in lowered for word in _VIDEO_WORDS) else None


def _failure_reason(text: str, start: int) -> str:
    line_end = text.find("\n", start)
    rest = text[start : len(text) if line_end < 0 else line_end].lstrip("❌")
    words = _FAILURE_WORDS.match(rest)
    reason = (rest[words.end() :] if words else rest).strip()
    return reason or rest.strip(" \t:：") or "generation failed"


def _scan(
    text: str, facts: _Facts, *, complete: bool, known: _Facts | None = None, progress: bool = True
) -> None:
    """Add what ``text`` says to ``facts``; ``complete``: nothing will follow ``text``.

    ``known`` (default ``facts``) holds what is already settled: its first-found values
    are not searched for again. ``progress=False`` leaves the numbers to the caller. Cheap
    substring tests gate each regular expression (most lines hold none of the markers).
    """
    known = known or facts
    lowered = text.lower()
    if known.task_id is None and "id" in lowered:
        facts.task_id = _first_token(_ID, "id", text, complete)
        facts.task_id = facts.task_id.rstrip(":") if facts.task_id else None
    if known.sid is None and "sid" in lowered:
        facts.sid = _first_token(_SID, "sid", text, complete)
    if not known.queued and ("排队" in text or "queu" in lowered):
        facts.queued = facts.queued or _QUEUED.search(text) is not None
    if not known.generating and ("生成中" in text or "generating" in lowered):
        facts.generating = facts.generating or _GENERATING.search(text) is not None
    if not known.done and ("生成" in text or "complete" in lowered):
        facts.done = facts.done or _DONE.search(text) is not None
    if progress and ("进度" in text or "progress" in lowered):
        for m in _PROGRESS.finditer(text):
            _read_run(m.group("run"), facts, growing=m.end("run") == len(text) and not complete)
    if "](" in text:
        _scan_links(text, facts, known)
    if known.tagged_video is None and facts.tagged_video is None and "<" in text:
        tag = _VIDEO_TAG.search(text)
        facts.tagged_video = tag.group("url") if tag else None
    if known.linked_video is None and len(known.mp4s) < _MAX_CANDIDATES and ".mp4" in lowered:
        for m in _BARE_MP4.finditer(text):
            url = m.group()
            if _terminated(text, m.end(), complete) and url not in facts.mp4s:
                facts.mp4s.append(url)
    if known.failure is None and facts.failure is None and _may_fail(text, lowered):
        failure = _FAILURE.search(text)
        if failure is not None:
            facts.failure = _failure_reason(text, failure.start())


def _first_token(pattern: re.Pattern[str], group: str, text: str, complete: bool) -> str | None:
    for m in pattern.finditer(text):
        if _terminated(text, m.end(group), complete):
            return m.group(group)
    return None


def _scan_links(text: str, facts: _Facts, known: _Facts) -> None:
    if known.linked_video is not None and len(known.previews) >= _MAX_CANDIDATES:
        return
    for m in _MD_LINK.finditer(text):
        kind = _link_kind(m.group("bang"), m.group("text"))
        if kind == "video" and facts.linked_video is None:
            facts.linked_video = m.group("url")
        elif kind == "preview" and len(facts.previews) < _MAX_CANDIDATES:
            facts.previews.append(m.group("url"))


def _may_fail(text: str, lowered: str) -> bool:
    return "❌" in text or "失败" in text or "failed" in lowered


def _read_run(run: str, facts: _Facts, *, growing: bool) -> int:
    """Note the highest percentage in a progress run ("36..44..61..", "40%"); return how
    many leading characters of ``run`` are settled. With ``growing`` the run touches the
    end of the text, so its last number may be unfinished ("36..4" → 44?) and is skipped."""
    if growing:
        unfinished = _STILL_GROWING.search(run)
        if unfinished is not None:
            run = run[: unfinished.start()]
    percents = [v for v in (int(float(n)) for n in _NUMBER.findall(run)) if v <= 100]
    if percents:
        facts.note_progress(max(percents))
    return len(run)


class _TailProgress:
    """Progress numbers of the unfinished line, each read once as the line grows.

    ``position`` is where the next read starts; ``in_run`` says it is inside a progress run
    (``进度 36..44..`` with more numbers to come), so the marker need not be seen again.
    """

    def __init__(self) -> None:
        self.position = 0
        self.in_run = False

    def read(self, tail: str, facts: _Facts) -> None:
        start = self.position
        if self.in_run:
            run = _RUN.match(tail, start)
            if run is not None and self._take(tail, run.start(), run.end(), facts):
                return
            start = self.position
        for marker in _PROGRESS.finditer(tail, start):
            if self._take(tail, marker.start("run"), marker.end("run"), facts):
                return
            start = self.position
        # a marker may be arriving ("进", "Progr…") or waiting for its first digit
        self.position = max(start, len(tail) - _MARKER_REACH)

    def _take(self, tail: str, start: int, end: int, facts: _Facts) -> bool:
        """Read the run ``tail[start:end]``; True when it reaches the end of the tail."""
        growing = end == len(tail)
        settled = _read_run(tail[start:end], facts, growing=growing)
        self.in_run = growing
        self.position = start + settled if growing else end
        return growing


class TranscriptParser:
    """Feed the assistant text as it streams; each call returns the state so far."""

    def __init__(self) -> None:
        self._facts = _Facts()  # from complete lines: settled
        self._settled = ChatState()  # self._facts as a state
        self._tail: list[str] = []  # the unfinished last line, in pieces
        self._tail_len = 0
        self._tail_scanned_len = 0
        self._tail_facts = _Facts()  # tentative, from the last scan of the tail
        self._tail_progress = _TailProgress()
        self._fence: str | None = None  # "json" (masked) or "other" while inside ``` … ```
        self._fence_text: list[str] = []
        self._fence_chars = 0
        self._state = ChatState()

    @property
    def state(self) -> ChatState:
        return self._state

    def feed(self, delta: str) -> ChatState:
        """Append ``delta`` to the transcript and return what it says now."""
        if not delta:
            return self._state
        newline = delta.rfind("\n")
        changed = newline >= 0
        if changed:
            self._commit("".join(self._tail) + delta[: newline + 1])
            self._new_tail(delta[newline + 1 :])
        else:
            self._tail.append(delta)
            self._tail_len += len(delta)
        if self._tail_len <= _SHORT_LINE or self._tail_len >= (
            self._tail_scanned_len * _LONG_LINE_GROWTH
        ):
            changed = self._scan_tail() or changed
        return self._publish() if changed else self._state

    def finish(self) -> ChatState:
        """The transcript is complete: trust its last tokens, read an unclosed json block."""
        if self._tail:
            self._commit("".join(self._tail), complete=True)
            self._new_tail("")
        if self._fence == "json" and self._fence_text:
            _scan("".join(self._fence_text), self._facts, complete=True)
            self._settled = self._facts.state()
        return self._publish()

    # ------------------------------------------------------------------ internals

    def _new_tail(self, text: str) -> None:
        self._tail = [text] if text else []
        self._tail_len = len(text)
        self._tail_scanned_len = 0
        self._tail_facts = _Facts()
        self._tail_progress = _TailProgress()

    def _commit(self, block: str, *, complete: bool = False) -> None:
        """Scan complete lines once, skipping the inside of a ```json block."""
        position = 0
        for fence in _FENCE.finditer(block):
            self._take(block[position : fence.start()], complete=False)
            info = fence.group("info").lower()
            if self._fence is None:
                self._fence = "json" if info == "json" else "other"
                self._fence_text, self._fence_chars = [], 0
            elif not info:
                self._fence = None
            position = fence.end()
        self._take(block[position:], complete=complete)
        self._settled = self._facts.state()

    def _take(self, segment: str, *, complete: bool) -> None:
        if not segment:
            return
        if self._fence != "json":
            _scan(segment, self._facts, complete=complete)
        elif self._fence_chars < _MAX_FENCE_CHARS:
            self._fence_text.append(segment)
            self._fence_chars += len(segment)

    def _scan_tail(self) -> bool:
        """Read the unfinished line (tentatively); True when it says something new."""
        tail = "".join(self._tail)
        self._tail = [tail] if tail else []
        self._tail_scanned_len = len(tail)
        if self._fence == "json" or _FENCE.match(tail):
            return False
        facts = _Facts(progress=self._tail_facts.progress)
        _scan(tail, facts, complete=False, known=self._facts, progress=False)
        self._tail_progress.read(tail, facts)
        changed = facts != self._tail_facts
        self._tail_facts = facts
        return changed

    def _publish(self) -> ChatState:
        tail = self._tail_facts
        if self._tail_len and tail != _EMPTY:
            self._state = self._settled.combined_with(tail.state())
        else:
            self._state = self._settled
        return self._state


_EMPTY = _Facts()


def parse_transcript(text: str, *, final: bool = False) -> ChatState:
    """The state of a whole transcript. ``final``: the stream has ended, so the last
    token is complete too (a number at the very end counts)."""
    parser = TranscriptParser()
    parser.feed(text)
    return parser.finish() if final else parser.state
