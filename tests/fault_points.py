"""The kill points of ``tests/test_fault_kill.py``: where to park a job, what it promises.

A kill point is a request the gate parks (``tests/fault_gate.py``) so that SIGKILL lands
at a moment the test can name; ``expected`` is what the design promises for a job killed
there, known gaps included and explained.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from tests.fault_gate import Exchange, Hold
from tests.fault_rig import CREATE_PATHS, FORMATS, STATUS_MARK, FaultWorld, JobAudit, is_final

# --------------------------------------------------------------------------- matchers


def is_create(fmt: str, prompt: str = "") -> Callable[[Exchange], bool]:
    """A create request of ``fmt`` whose body mentions ``prompt``."""
    return lambda ex: (
        ex.method == "POST"
        and ex.path == CREATE_PATHS[fmt]
        and any(prompt in value for value in ex.fields.values())
    )


def is_poll(fmt: str, upstream_id: Callable[[], str | None]) -> Callable[[Exchange], bool]:
    """A status poll (``videos``/``unified``) of the job whose id ``upstream_id`` gives."""

    def matches(ex: Exchange) -> bool:
        wanted = upstream_id()
        if ex.method != "GET" or wanted is None:
            return False
        if fmt == "videos":
            return ex.path == f"/v1/videos/{wanted}"
        return ex.path == "/v1/video/query" and ex.query.get("id") == wanted

    return matches


def is_call(method: str, chat_id: int, *, status: bool = False) -> Callable[[Exchange], bool]:
    """A Bot API call to ``chat_id``; with ``status``, only a new status message."""

    def matches(ex: Exchange) -> bool:
        if ex.api_method != method or ex.fields.get("chat_id") != str(chat_id):
            return False
        return not status or ex.fields.get("text", "").startswith(STATUS_MARK)

    return matches


def is_final_edit(chat_id: int) -> Callable[[Exchange], bool]:
    """The edit that makes a status message in ``chat_id`` say Done or Failed."""
    return lambda ex: (
        ex.api_method == "editMessageText"
        and ex.fields.get("chat_id") == str(chat_id)
        and is_final(ex.fields.get("text", ""))
    )


# --------------------------------------------------------------------------- kill points

POINTS = (
    "status_post",  # the status message is on its way to Telegram
    "status_answer",  # Telegram posted it, the bot never heard back
    "create_post",  # the create request is on its way to the relay
    "create_answer",  # the relay accepted the job, the bot never heard its id
    "progress",  # upstream id recorded, generation under way
    "upload_post",  # the video is done and on its way to Telegram
    "upload_answer",  # Telegram posted the video, the bot never heard back
    "final_edit",  # the job is settled, the status edit saying so is on its way
)


def chat_of(fmt: str, point: str) -> int:
    """Each job has its own user and private chat (and so its own flood budget)."""
    return 100 * (1 + FORMATS.index(fmt)) + POINTS.index(point)


@dataclass(frozen=True)
class Expect:
    state: str  # delivered | failed
    creates: int
    videos: int = 0  # videos in the chat (more than 1 only where a known gap allows it)
    stale: int = 0  # bot messages left showing progress (a known gap)


def expected(fmt: str, point: str) -> Expect:
    """What the design promises for ``fmt`` killed at ``point``."""
    match point:
        case "status_post":
            return Expect("delivered", creates=1, videos=1)
        case "status_answer":
            # known gap: the first status message exists but its id was lost, so the
            # restarted job posts another; the orphan keeps saying "Waiting in line"
            return Expect("delivered", creates=1, videos=1, stale=1)
        case "create_post":
            return Expect("failed", creates=0)  # sent or not? never resend: refund
        case "create_answer":
            return Expect("failed", creates=1)
        case "progress" if fmt == "chat":
            return Expect("failed", creates=1)  # a cut stream cannot be followed again
        case "progress":
            return Expect("delivered", creates=1, videos=1)  # resumed by its upstream id
        case "upload_post" | "final_edit":
            # the downloaded copy waits on disk until delivered, whatever the format
            return Expect("delivered", creates=1, videos=1)
        case "upload_answer":
            # known gap: Telegram cannot be asked whether an upload landed, so a video
            # whose answer was lost is sent again (at least once, never lost)
            return Expect("delivered", creates=1, videos=2)
    raise ValueError(point)


def arm(w: FaultWorld, fmt: str, point: str, rng: random.Random) -> Hold:
    """Park the request that marks ``point`` for the ``fmt`` job of chat ``chat_of``."""
    chat = chat_of(fmt, point)
    relay, telegram = w.relay_gate, w.telegram_gate
    name = f"{fmt}@{point}"
    # the relay sees every job of the format: match this job's request by its prompt
    create = is_create(fmt, prompt_of(fmt, point))
    match point:
        case "status_post" | "status_answer":
            stage = "request" if point == "status_post" else "response"
            return telegram.hold(name, is_call("sendMessage", chat, status=True), stage)
        case "create_post":
            return relay.hold(name, create, "request")
        case "create_answer" if fmt == "chat":
            return relay.hold(name, create, "stream", nth=1)
        case "create_answer":
            return relay.hold(name, create, "response")
        case "progress" if fmt == "chat":
            return relay.hold(name, create, "stream", nth=rng.randint(8, 16))
        case "progress":
            # polls carry no prompt: the job's id, learnt from the create answer
            polls = is_poll(fmt, lambda: (relay.answer(create) or {}).get("id"))
            # videos: the relay's poll hint is floored at 1 s, so the first poll is mid-way
            return relay.hold(
                name, polls, "request", nth=1 if fmt == "videos" else rng.randint(2, 5)
            )
        case "upload_post" | "upload_answer":
            stage = "request" if point == "upload_post" else "response"
            return telegram.hold(name, is_call("sendVideo", chat), stage)
        case "final_edit":
            return telegram.hold(name, is_final_edit(chat), "request")
    raise ValueError(point)


def prompt_of(fmt: str, point: str) -> str:
    return f"a {fmt} fox number {POINTS.index(point)}"


def broken_invariants(job: JobAudit) -> list[str]:
    """What breaks the promises every job keeps, whatever happened to it."""
    problems = []
    if job.state not in ("delivered", "failed"):
        problems.append(f"still {job.state}")
    settled = "commit" if job.state == "delivered" else "refund"
    if job.ledger != ["reserve", settled]:
        problems.append(f"ledger {job.ledger}")  # charged at most once, settled once
    if job.creates > 1:
        problems.append(f"{job.creates} creates")
    phase = [*job.status_text.splitlines(), "", "", ""][2]
    told = "Done!" in phase if job.state == "delivered" else "Failed." in phase
    if not told or (job.state == "failed" and "refunded" not in phase):
        problems.append(f"status says {phase!r}")
    if (job.state == "delivered") != (job.videos > 0) or job.videos > 2:
        problems.append(f"{job.state} with {job.videos} video(s) in the chat")
    return problems


def unexpected(job: JobAudit, expect: Expect) -> list[str]:
    """``broken_invariants`` plus how ``job`` differs from what its kill point promises."""
    problems = broken_invariants(job)
    seen = Expect(job.state, job.creates, job.videos, len(job.stale))
    if seen != expect:
        problems.append(f"{seen} != {expect}")
    return problems


class Blackout:
    """A matcher for every request from the ``k``-th on (``getUpdates`` aside): hold it
    on both gates and the network goes dark at a request chosen by number."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.seen = 0

    def __call__(self, exchange: Exchange) -> bool:
        if exchange.api_method == "getUpdates":
            return False
        self.seen += 1
        return self.seen >= self.k
