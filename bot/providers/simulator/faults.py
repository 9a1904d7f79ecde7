"""What can go wrong on purpose: the ``Fault`` vocabulary and the book of pending faults.

A fault is either *injected* by a test (``Simulator.inject``: the next ``count`` matching
requests or jobs get it) or *marked* in the prompt text (``[sim:moderation]``, or
``[sim:server_error@poll]`` for a transient error on the job's first poll), so the CLI demo
can show every failure a real relay produces (upstream-api.md §2).

Three kinds:

- submit errors answer the create request with an error instead of a job;
- job faults ride along with a job and change how it evolves or is delivered;
- transient errors (``RATE_LIMIT``, ``SERVER_ERROR``) can also hit a poll or a download.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from bot.models import WireFormat

FaultPoint = Literal["submit", "poll", "content"]


class Fault(StrEnum):
    """One way a relay answers badly. The value is also the prompt marker's name."""

    RATE_LIMIT = "rate_limit"  # 429 new-api "当前分组上游负载已饱和，请稍后再试" + Retry-After
    SERVER_ERROR = "server_error"  # 502 nginx / Cloudflare HTML page
    MODERATION = "moderation"  # accepted, later failed with moderation_blocked
    SENSITIVE = "sensitive"  # 500 sensitive_words_detected at submit
    CUT_STREAM = "cut_stream"  # chat: the stream ends after the task id
    EXPIRED = "expired"  # videos: content → 502; links → 404
    JSON_CONTENT = "json_content"  # videos: content answers JSON {"video_url": …}
    NEVER_FINISH = "never_finish"  # stays in progress forever
    MODEL_NOT_FOUND = "model_not_found"  # 503 "…无可用渠道…"
    BALANCE = "balance"  # 403 insufficient_user_quota
    MISSING_STATUS = "missing_status"  # videos: a poll body with `error` and no `status`
    STALE_STATUS = "stale_status"  # videos: queued/0 until done, then completed/100
    ERROR_IN_STREAM = "error_in_stream"  # chat: HTTP 200 stream carrying data: {"error": …}


SUBMIT_ERRORS = frozenset(
    {Fault.RATE_LIMIT, Fault.SERVER_ERROR, Fault.SENSITIVE, Fault.MODEL_NOT_FOUND, Fault.BALANCE}
)
TRANSIENT = frozenset({Fault.RATE_LIMIT, Fault.SERVER_ERROR})
_ALL_FORMATS = frozenset(WireFormat)
# Where each fault makes sense; a fault never fires on a format it cannot show on.
APPLIES_TO: dict[Fault, frozenset[WireFormat]] = {
    **{fault: _ALL_FORMATS for fault in Fault},
    Fault.CUT_STREAM: frozenset({WireFormat.CHAT}),
    Fault.ERROR_IN_STREAM: frozenset({WireFormat.CHAT}),
    Fault.JSON_CONTENT: frozenset({WireFormat.VIDEOS}),
    Fault.MISSING_STATUS: frozenset({WireFormat.VIDEOS}),
    Fault.STALE_STATUS: frozenset({WireFormat.VIDEOS}),
}
_MARKER = re.compile(r"\[sim:([a-z_]+)(?:@(submit|poll|content))?\]")


@dataclass(slots=True)
class _Pending:
    fault: Fault
    remaining: int
    format: WireFormat | None
    point: FaultPoint | None  # None: a job fault
    job_id: str | None = None  # set for a transient error marked in one job's prompt


@dataclass(frozen=True, slots=True)
class Markers:
    """What a prompt asked for: the prompt without its markers, and the marked faults."""

    prompt: str
    submit_error: Fault | None
    job_faults: frozenset[Fault]
    later_errors: tuple[tuple[Fault, FaultPoint], ...]


def parse_markers(text: str) -> Markers:
    """Find ``[sim:<fault>]`` / ``[sim:<fault>@poll]`` markers; unknown names stay as text."""
    submit_error: Fault | None = None
    job_faults: set[Fault] = set()
    later: list[tuple[Fault, FaultPoint]] = []

    def take(match: re.Match[str]) -> str:
        nonlocal submit_error
        try:
            fault = Fault(match.group(1))
        except ValueError:
            return match.group(0)
        point = match.group(2)
        if fault in TRANSIENT and point in ("poll", "content"):
            later.append((fault, "poll" if point == "poll" else "content"))
        elif fault in SUBMIT_ERRORS:
            submit_error = submit_error or fault
        else:
            job_faults.add(fault)
        return ""

    cleaned = _MARKER.sub(take, text).strip()
    return Markers(cleaned, submit_error, frozenset(job_faults), tuple(later))


class FaultBook:
    """Faults waiting for their request or job, consumed first-injected first."""

    def __init__(self) -> None:
        self._pending: list[_Pending] = []

    def inject(
        self,
        fault: Fault,
        *,
        count: int = 1,
        format: WireFormat | None = None,
        on: FaultPoint | None = None,
    ) -> None:
        """Arm ``fault`` for the next ``count`` matching requests (or jobs, for job faults)."""
        if count < 1:
            raise ValueError("count must be at least 1")
        if format is not None and format not in APPLIES_TO[fault]:
            raise ValueError(f"fault {fault} cannot happen on the {format} format")
        if fault in TRANSIENT:
            point: FaultPoint | None = on or "submit"
            if point == "poll" and format is WireFormat.CHAT:
                raise ValueError("the chat format has no poll: use on='submit' or 'content'")
        elif on is not None and not (on == "submit" and fault in SUBMIT_ERRORS):
            raise ValueError(f"fault {fault} has a fixed place; `on` is only for transient faults")
        else:
            point = "submit" if fault in SUBMIT_ERRORS else None
        self._pending.append(_Pending(fault, count, format, point))

    def arm_for_job(self, job_id: str, fault: Fault, point: FaultPoint) -> None:
        """A transient error marked in a prompt: it hits this job's next ``point`` request."""
        self._pending.append(_Pending(fault, 1, None, point, job_id))

    def take_error(
        self, point: FaultPoint, fmt: WireFormat, job_id: str | None = None
    ) -> Fault | None:
        """The error that answers this request instead of the normal answer, if one is due."""
        for entry in self._pending:
            if (
                entry.point == point
                and (entry.format is None or entry.format is fmt)
                and fmt in APPLIES_TO[entry.fault]
                and (entry.job_id is None or entry.job_id == job_id)
            ):
                self._consume(entry)
                return entry.fault
        return None

    def take_job_faults(self, fmt: WireFormat) -> frozenset[Fault]:
        """The job faults a new job of format ``fmt`` carries (one of each kind at most)."""
        taken: set[Fault] = set()
        for entry in list(self._pending):
            if (
                entry.point is None
                and entry.fault not in taken
                and (entry.format is None or entry.format is fmt)
                and fmt in APPLIES_TO[entry.fault]
            ):
                taken.add(entry.fault)
                self._consume(entry)
        return frozenset(taken)

    def _consume(self, entry: _Pending) -> None:
        entry.remaining -= 1
        if entry.remaining <= 0:
            self._pending.remove(entry)
