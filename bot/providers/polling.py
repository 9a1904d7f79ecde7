"""What the two task formats (``videos``, ``unified``) share: the poll loop, the status
vocabulary, and the submit-once and job-body helpers.

Both formats submit a job, then ask for its state until it ends (upstream-api.md §1.1,
§1.2):

- :func:`poll` calls an async ``fetch`` over and over and yields each snapshot. Between
  polls it sleeps the relay's hint (videos: ``openai-poll-after-ms``) or the configured
  interval. A 429, a 5xx or a transport failure *during a poll* is retried with
  exponential backoff and jitter (Retry-After wins when given): a poll is a read and safe
  to repeat, unlike the submit. Anything else (401, 403, a 404 for an unknown id) is raised
  as the mapped ``ProviderError`` and ends the job. The caller stops the loop by leaving
  its ``async for``; the per-job deadline of ``BaseProvider`` bounds the whole thing.
- :func:`phase_of` folds the relays' many status words into four phases, and
  :class:`ProgressTracker` turns snapshots into the Queued/Progress events worth showing.
- :func:`fetch_finished` downloads a finished video, retrying a 429, a transient error
  and a 502 a few times: the job is done (and maybe billed) upstream, one bad minute of a
  proxy must not throw the video away. All three formats use it.
- :func:`send_create` sends the create exactly once (never retried: no idempotency keys);
  :func:`failure_in` / :func:`job_failure` read a failure out of a job body in either
  error envelope (the base provider keeps the API key out of every failure message).

Sleeping goes through the provider's injected ``sleep`` so tests record the delays
instead of waiting.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Generic, TypeVar

import httpx

from bot.errors import ErrorCategory, ProviderError
from bot.models import Progress, ProviderEvent, Queued
from bot.providers.base import RunState, Sleep
from bot.providers.http import (
    error_from_payload,
    error_from_response,
    parse_error_body,
    parse_timestamp,
    transport_error,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


# --------------------------------------------------------------------------- status words


class JobPhase(Enum):
    """Where a relay job stands, whatever word the relay used for it."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    UNKNOWN = "unknown"  # "unknown", a missing status, or a word we have not met


# Official OpenAI words, relay additions and new-api's upper-case task states (§1.1, §1.2).
_PHASES: dict[str, JobPhase] = {
    **dict.fromkeys(
        ("queued", "pending", "not_start", "submitted", "waiting", "created"), JobPhase.QUEUED
    ),
    **dict.fromkeys(
        ("in_progress", "processing", "running", "generating", "started"), JobPhase.RUNNING
    ),
    **dict.fromkeys(("completed", "complete", "succeeded", "success", "finished"), JobPhase.DONE),
    **dict.fromkeys(("failed", "failure", "error", "cancelled", "canceled"), JobPhase.FAILED),
}


def phase_of(status: object) -> JobPhase:
    """Normalise a relay status (any case, ``-`` or space for ``_``) to a :class:`JobPhase`."""
    if not isinstance(status, str):
        return JobPhase.UNKNOWN
    word = status.strip().lower().replace("-", "_").replace(" ", "_")
    return _PHASES.get(word, JobPhase.UNKNOWN)


# --------------------------------------------------------------------------- the loop


@dataclass(frozen=True, slots=True)
class Polled(Generic[T]):
    """One successful poll: the parsed snapshot and the relay's hint for the next one."""

    snapshot: T
    next_after: float | None = None  # seconds, e.g. from ``openai-poll-after-ms``


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How fast to poll and how to back off.

    A relay's hint is floored at ``min_interval`` (a hint of 0 must not become a busy
    loop; ``unified`` uses ``interval`` because its relays answer 429 to faster polling)
    and capped at ``max_retry_after``, as is a Retry-After.

    There is deliberately no "give up after N failures": the job is already submitted
    (maybe billed), so a relay outage is waited out until ``BaseProvider``'s deadline.
    """

    interval: float
    min_interval: float = 1.0
    max_backoff: float = 60.0
    max_retry_after: float = 600.0

    def hinted(self, hint: float | None) -> float:
        """The delay before the next poll after a success."""
        if hint is None:
            return self.interval
        return min(max(hint, self.min_interval), self.max_retry_after)

    def backoff(self, failures: int, retry_after: float | None, jitter: float) -> float:
        """The delay after the ``failures``-th consecutive failure (1-based).

        Exponential from twice the interval, capped, stretched by up to 25 % jitter so many
        jobs hitting one relay do not retry in step. A Retry-After longer than that wins.
        """
        cap = max(self.max_backoff, self.interval)
        delay = min(cap, self.interval * 2.0 ** min(failures, 16))
        delay = min(cap, delay * (1.0 + 0.25 * jitter))
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_retry_after))
        return delay


async def poll(
    fetch: Callable[[], Awaitable[Polled[T]]],
    *,
    sleep: Sleep,
    policy: PollPolicy,
    first_delay: float = 0.0,
    what: str = "poll",
    rng: Callable[[], float] = random.random,
) -> AsyncGenerator[T, None]:
    """Yield a snapshot per successful ``fetch()``, forever; the caller breaks out.

    ``fetch`` raises ``ProviderError`` for an error answer; an ``httpx.HTTPError`` it lets
    through counts as a transient transport failure. Retryable categories (rate limited,
    transient) are retried after :meth:`PollPolicy.backoff`; others propagate at once.
    """
    delay = first_delay
    failures = 0
    while True:
        if delay > 0:
            await sleep(delay)
        try:
            polled = await fetch()
        except httpx.HTTPError as exc:
            error = transport_error(exc, what)
        except ProviderError as exc:
            if not exc.category.retryable:
                raise
            error = exc
        else:
            failures = 0
            delay = policy.hinted(polled.next_after)
            yield polled.snapshot
            continue
        failures += 1
        delay = policy.backoff(failures, error.retry_after, rng())
        log.warning(
            "%s failed (%s, attempt %d), retrying in %.1fs",
            what,
            error.category.value,
            failures,
            delay,
        )


# --------------------------------------------------------------------------- shared job helpers


@dataclass(slots=True)
class ProgressTracker:
    """Turns successive (phase, percent) readings into Queued/Progress events worth showing.

    ``Queued`` once when the job is first seen waiting; ``Progress`` only when the percent
    rises (relays may sit at 0 until done, or jump). A running job without a number shows
    as 0 % so the user sees that generation started.
    """

    best: int = -1
    queued_shown: bool = False

    def update(self, phase: JobPhase, percent: int | None) -> list[ProviderEvent]:
        events: list[ProviderEvent] = []
        if phase is JobPhase.QUEUED and not self.queued_shown and self.best < 0:
            self.queued_shown = True
            events.append(Queued())
        if percent is None and phase is JobPhase.RUNNING:
            percent = 0
        if percent is None or percent <= self.best or phase is JobPhase.DONE:
            return events
        if phase is JobPhase.RUNNING or percent > 0:
            self.best = percent
            events.append(Progress(percent))
        return events


def json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    """The JSON object of a 2xx answer, unwrapped from a ``{"code", "data": {...}}`` envelope.

    A 200 carrying an HTML proxy page or garbage is TRANSIENT (the poll retries it).
    """
    try:
        data = response.json()
    except ValueError:
        _, text = parse_error_body(response.content)
        raise ProviderError(
            ErrorCategory.TRANSIENT,
            f"{what}: HTTP {response.status_code} without JSON ({text[:120] or 'empty body'})",
            status=response.status_code,
        ) from None
    if not isinstance(data, dict):
        raise ProviderError(ErrorCategory.TRANSIENT, f"{what}: the answer is not a JSON object")
    inner = data.get("data")
    if "status" not in data and "id" not in data and isinstance(inner, dict):
        return inner
    return data


_SUCCESS_CODES = {"", "0", "200", "success", "ok"}


def failure_in(raw: Mapping[str, Any], upstream_id: str | None) -> ProviderError | None:
    """The failure a job body reports by itself: an ``error`` object, or the second envelope
    (``{"code": "insufficient_user_quota", "message": "…", "data": null}``); else ``None``."""
    error = raw.get("error")
    if (isinstance(error, dict) and error) or (isinstance(error, str) and error.strip()):
        return error_from_payload({"error": error}, upstream_id=upstream_id)
    code, message = str(raw.get("code") or "").lower(), raw.get("message") or raw.get("msg")
    if message and code not in _SUCCESS_CODES and raw.get("data") is None:
        return error_from_payload(
            {"code": raw.get("code"), "message": message}, upstream_id=upstream_id
        )
    return None


def job_failure(raw: Mapping[str, Any], upstream_id: str) -> ProviderError:
    """Why a job in the FAILED phase failed, in the relay's words when it gave any."""
    found = failure_in(raw, upstream_id)
    if found is not None:
        return found
    for key in ("fail_reason", "failure_reason", "reason", "message", "msg"):
        reason = raw.get(key)
        if isinstance(reason, str) and reason.strip():
            return error_from_payload({"message": reason}, upstream_id=upstream_id)
    status = str(raw.get("status") or "failed").lower()
    return ProviderError(
        ErrorCategory.GENERATION_FAILED,
        f"the relay reports the job {status} without a reason",
        upstream_id=upstream_id,
    )


DOWNLOAD_ATTEMPTS = 3


async def fetch_finished(
    fetch: Callable[[], Awaitable[T]],
    *,
    sleep: Sleep,
    policy: PollPolicy,
    attempts: int = DOWNLOAD_ATTEMPTS,
    rng: Callable[[], float] = random.random,
) -> T:
    """``await fetch()`` (a finished video's download), tried up to ``attempts`` times.

    Retried, with :meth:`PollPolicy.backoff`: what a poll retries (429, 5xx, transport
    failures), and a 502, which relays answer for an expired asset (upstream-api.md §1.1)
    but any proxy may answer for a minute; it is believed to mean "expired" only when it
    lasts. Anything else is raised at once. The per-job deadline bounds the waits.
    """
    for attempt in range(1, attempts + 1):
        try:
            return await fetch()
        except ProviderError as exc:
            healable = exc.category.retryable or (
                exc.category is ErrorCategory.EXPIRED and exc.status == 502
            )
            if not healable or attempt == attempts:
                raise
            delay = policy.backoff(attempt, exc.retry_after, rng())
            log.warning(
                "video download failed (%s, attempt %d), retrying in %.1fs",
                exc.category.value,
                attempt,
                delay,
            )
            await sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover - the last attempt raises


async def send_create(
    client: httpx.AsyncClient,
    url: str,
    run: RunState,
    *,
    headers: Mapping[str, str],
    request_timeout: float,
    what: str,
    **body: Any,
) -> httpx.Response:
    """POST a create (or remix) request exactly once; raise ``ProviderError`` on any failure.

    ``run.sent`` is set just before sending: from then on a timeout or cut connection is
    ambiguous (the relay may have accepted and billed the job), and since no API here has
    an idempotency key it is reported, never retried (upstream-api.md §2).
    """
    run.sent = True
    try:
        response = await client.post(url, headers=dict(headers), timeout=request_timeout, **body)
    except httpx.HTTPError as exc:
        reason = transport_error(exc, what).message
        raise ProviderError(
            ErrorCategory.TRANSIENT, f"{reason}; not resent, the relay may have accepted it"
        ) from exc
    if response.status_code >= 400:
        raise error_from_response(response)
    return response


def link_headers(link: str, base_url: str, auth: Mapping[str, str]) -> dict[str, str] | None:
    """Our auth header for a download link on the relay's own host; ``None`` for a CDN,
    which must never see the key."""
    target, relay = httpx.URL(link), httpx.URL(base_url)
    same = (target.scheme, target.host, target.port) == (relay.scheme, relay.host, relay.port)
    return dict(auth) if same else None


def resolve_link(link: str, base_url: str) -> str:
    """An absolute URL for a link a relay may give relative to itself."""
    return str(httpx.URL(base_url).join(link))


def as_datetime(value: object) -> datetime | None:
    """A relay timestamp (seconds or milliseconds) as an aware UTC ``datetime``."""
    seconds = parse_timestamp(value)
    if seconds is None or seconds <= 0:
        return None
    return datetime.fromtimestamp(seconds, UTC)


def video_link(body: dict[str, Any]) -> str | None:
    """``video_url`` / ``url``, at the top level or under ``data``: where relays put it."""
    for holder in (body, body.get("data")):
        if isinstance(holder, dict):
            for key in ("video_url", "url"):
                value = holder.get(key)
                if isinstance(value, str) and value.strip():
                    return value.strip()
    return None


def accepted_id(job: dict[str, Any], *keys: str, what: str) -> str:
    """The upstream id of a create answer, or the error it carries instead.

    Some relays answer 200 with the second envelope (``{"code", "message", "data": null}``).
    """
    for key in keys:
        value = job.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    error = failure_in(job, None)
    if error is not None:
        raise error
    raise ProviderError(
        ErrorCategory.TRANSIENT, f"the relay accepted the request but sent no {what}"
    )
