"""The ``videos`` wire format when jobs fail: failed and cancelled jobs, content that is no
video, submit and poll errors, the deadline, and the simulator's faults.

Like ``test_videos_provider``, every test drives ``VideosProvider`` end to end on fake time
against scripted relay answers (httpx.MockTransport) and asserts the events and the wire.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import httpx
import pytest

from bot.errors import ErrorCategory
from bot.models import Completed, Failed
from bot.providers.simulator import Fault
from tests.relay_fakes import Answer, FakeRelay, FakeTime, answer, fail_with
from tests.videos_relay import (
    API_KEY,
    CONTENT,
    POLL,
    VIDEO_ID,
    completed_route,
    job,
    run,
    sim_request,
    simulate,
    videos_simulator,
)

# --------------------------------------------------------------------------- failed jobs


@pytest.mark.parametrize(
    ("body", "category", "words"),
    [
        (
            job(
                "failed",
                error={
                    "code": "moderation_blocked",
                    "message": "Your request was blocked by our moderation system.",
                },
            ),
            ErrorCategory.CONTENT_POLICY,
            "blocked by our moderation system",
        ),
        (job("FAILURE", fail_reason="upstream render crashed"), "generation_failed", "crashed"),
        (job("cancelled"), ErrorCategory.GENERATION_FAILED, "cancelled"),
        # no status at all, but an error object: failed (§1.1)
        (
            {"id": VIDEO_ID, "error": {"code": "moderation_blocked", "message": "blocked"}},
            ErrorCategory.CONTENT_POLICY,
            "blocked",
        ),
        (
            {"code": "insufficient_user_quota", "message": "用户额度不足", "data": None},
            ErrorCategory.BALANCE,
            "额度不足",
        ),
    ],
)
async def test_failed_jobs_carry_the_relays_reason(
    relay: FakeRelay,
    fake_time: FakeTime,
    tmp_path: Path,
    body: dict[str, Any],
    category: str,
    words: str,
) -> None:
    relay.on("POST", "/v1/videos", answer(body=job("queued")))
    relay.on("GET", POLL, answer(body=job("in_progress", 10)), answer(body=body))

    events = await run(relay, fake_time, tmp_path)

    failed = events[-1]
    assert isinstance(failed, Failed)
    assert failed.category == category
    assert words in failed.message
    assert failed.upstream_id == VIDEO_ID
    assert not relay.sent("GET", CONTENT)


# --------------------------------------------------------------------------- content


PROXY_PAGE = b"<html><title>502 Bad Gateway</title></html>"
EXPIRED_JSON = {"error": {"code": "video_expired", "message": "the video has expired"}}


@pytest.mark.parametrize(
    ("content", "category", "message"),
    [
        # a JSON answer with an error reports its words
        (answer(body=EXPIRED_JSON), ErrorCategory.EXPIRED, "the video has expired"),
        # gone content is expired
        (answer(502, content=PROXY_PAGE), ErrorCategory.EXPIRED, None),
        (answer(410, content=PROXY_PAGE), ErrorCategory.EXPIRED, None),
        (answer(404, content=PROXY_PAGE), ErrorCategory.EXPIRED, None),
        # an HTML page instead of the video is refused
        (
            answer(content=b"<html>login</html>", headers={"content-type": "text/html"}),
            ErrorCategory.GENERATION_FAILED,
            None,
        ),
    ],
    ids=["json-error", "gone-502", "gone-410", "gone-404", "html-page"],
)
async def test_content_that_is_no_video_fails_the_job(
    relay: FakeRelay,
    fake_time: FakeTime,
    tmp_path: Path,
    content: Answer,
    category: str,
    message: str | None,
) -> None:
    relay.on("POST", "/v1/videos", answer(body=job("completed")))
    relay.on("GET", CONTENT, content)

    events = await run(relay, fake_time, tmp_path)

    failed = events[-1]
    assert isinstance(failed, Failed)
    assert failed.category == category
    if message is not None:
        assert failed.message == message
    assert failed.upstream_id == VIDEO_ID
    assert not any(tmp_path.iterdir())  # noqa: ASYNC240 - no partial download left behind


# --------------------------------------------------------------------------- submit errors


@pytest.mark.parametrize(
    ("status", "body", "category"),
    [
        (401, {"error": {"message": "无效的令牌", "type": "new_api_error"}}, ErrorCategory.AUTH),
        (
            403,
            {
                "code": "insufficient_user_quota",
                "message": "用户额度不足, 剩余额度: 0",
                "data": None,
            },
            ErrorCategory.BALANCE,
        ),
        (
            503,
            {
                "error": {
                    "message": "当前分组 default 下对于模型 sora-2 无可用渠道 (request id: 2025)",
                    "type": "new_api_error",
                    "code": "model_not_found",
                }
            },
            ErrorCategory.MODEL_UNAVAILABLE,
        ),
        (
            400,
            {"error": {"message": "size must be 720x1280", "code": "invalid_size"}},
            ErrorCategory.BAD_REQUEST,
        ),
        (
            429,
            {"error": {"message": "当前分组上游负载已饱和，请稍后再试"}},
            ErrorCategory.RATE_LIMITED,
        ),
        (502, b"<html><head><title>502 Bad Gateway</title></head></html>", ErrorCategory.TRANSIENT),
    ],
)
async def test_submit_errors_map_to_categories_and_are_never_retried(
    relay: FakeRelay,
    fake_time: FakeTime,
    tmp_path: Path,
    status: int,
    body: Any,
    category: str,
) -> None:
    if isinstance(body, bytes):
        relay.on("POST", "/v1/videos", answer(status, content=body))
    else:
        relay.on("POST", "/v1/videos", answer(status, body))

    events = await run(relay, fake_time, tmp_path)

    assert len(events) == 1 and isinstance(events[0], Failed)
    assert events[0].category == category
    assert events[0].message  # something a person can read
    assert len(relay.sent("POST", "/v1/videos")) == 1
    assert fake_time.sleeps == []


@pytest.mark.parametrize("error", [httpx.ReadTimeout, httpx.RemoteProtocolError])
@pytest.mark.parametrize("bills_failures", [False, True])
async def test_ambiguous_create_failure_is_not_resent(
    relay: FakeRelay,
    fake_time: FakeTime,
    tmp_path: Path,
    error: type[httpx.RequestError],
    bills_failures: bool,
) -> None:
    relay.on("POST", "/v1/videos", fail_with(error))

    events = await run(relay, fake_time, tmp_path, bills_failures=bills_failures)

    (failed,) = events
    assert isinstance(failed, Failed) and failed.category == ErrorCategory.TRANSIENT
    assert "not resent" in failed.message
    assert failed.refundable is not bills_failures  # it was sent: a billing relay billed it
    assert len(relay.sent("POST", "/v1/videos")) == 1


async def test_the_api_key_never_reaches_a_failure_message(
    relay: FakeRelay, fake_time: FakeTime, tmp_path: Path
) -> None:
    echo = {"error": {"message": f"Incorrect API key provided: {API_KEY}", "code": "bad_key"}}
    relay.on("POST", "/v1/videos", answer(401, echo))

    (failed,) = await run(relay, fake_time, tmp_path)

    assert isinstance(failed, Failed) and failed.category == ErrorCategory.AUTH
    assert API_KEY not in failed.message and "Incorrect API key provided" in failed.message


# --------------------------------------------------------------------------- poll errors


async def test_poll_backs_off_on_429_and_5xx_then_recovers(
    relay: FakeRelay, fake_time: FakeTime, tmp_path: Path, mp4_bytes: bytes
) -> None:
    relay.on("POST", "/v1/videos", answer(body=job("queued")))
    relay.on(
        "GET",
        POLL,
        answer(429, {"error": {"message": "too many"}}, headers={"retry-after": "90"}),
        answer(503, content=b""),
        answer(502, content=b"<html><title>502 Bad Gateway</title></html>"),
        fail_with(httpx.ConnectError),
        fail_with(httpx.ReadTimeout),
        answer(body=job("completed", 100)),
    )
    completed_route(relay, mp4_bytes)

    events = await run(relay, fake_time, tmp_path)

    assert isinstance(events[-1], Completed)
    first, retry_after, *backoff = fake_time.sleeps
    assert first == 10.0
    assert retry_after == 90.0  # Retry-After is longer than the backoff: it wins
    # failures 2..5 in a row: 40, then capped at 60 s, each with at most 25 % jitter
    assert 40.0 <= backoff[0] <= 50.0
    assert backoff[1:] == [60.0, 60.0, 60.0]
    assert len(relay.sent("POST", "/v1/videos")) == 1


@pytest.mark.parametrize(
    ("status", "body", "category"),
    [
        (401, {"error": {"message": "无效的令牌"}}, ErrorCategory.AUTH),
        (403, {"error": {"message": "该令牌无权访问"}}, ErrorCategory.AUTH),
        (
            404,
            {"error": {"message": "Video with id 'x' does not exist.", "code": "not_found"}},
            ErrorCategory.BAD_REQUEST,
        ),
    ],
)
async def test_poll_errors_that_cannot_heal_end_the_job_at_once(
    relay: FakeRelay,
    fake_time: FakeTime,
    tmp_path: Path,
    status: int,
    body: dict[str, Any],
    category: str,
) -> None:
    relay.on("POST", "/v1/videos", answer(body=job("queued")))
    relay.on("GET", POLL, answer(status, body))

    events = await run(relay, fake_time, tmp_path)

    assert isinstance(events[-1], Failed) and events[-1].category == category
    assert events[-1].upstream_id == VIDEO_ID
    assert len(relay.sent("GET", POLL)) == 1


async def test_deadline_ends_a_job_that_never_finishes(tmp_path: Path, relay: FakeRelay) -> None:
    deadline_minutes = 0.005  # 0.3 s of fake time; the fake sleep stalls beyond it
    fake_time = FakeTime(stall_after=deadline_minutes * 60)
    relay.on("POST", "/v1/videos", answer(body=job("queued")))
    relay.on("GET", POLL, answer(body=job("queued")))

    events = await run(
        relay, fake_time, tmp_path, poll_interval=0.1, deadline_minutes=deadline_minutes
    )

    failed = events[-1]
    assert isinstance(failed, Failed) and failed.category == ErrorCategory.TIMEOUT
    assert failed.upstream_id == VIDEO_ID
    assert not relay.sent("GET", CONTENT)


# --------------------------------------------------------------------------- the simulator


@pytest.mark.parametrize(
    ("fault", "point", "outcome"),
    [
        (Fault.MODERATION, None, ErrorCategory.CONTENT_POLICY),
        (Fault.EXPIRED, None, ErrorCategory.EXPIRED),
        (Fault.MISSING_STATUS, None, ErrorCategory.GENERATION_FAILED),
        (Fault.MODEL_NOT_FOUND, None, ErrorCategory.MODEL_UNAVAILABLE),
        (Fault.BALANCE, None, ErrorCategory.BALANCE),
        (Fault.SENSITIVE, None, ErrorCategory.CONTENT_POLICY),
        (Fault.SERVER_ERROR, None, ErrorCategory.TRANSIENT),
        (Fault.STALE_STATUS, None, "completed"),
        (Fault.JSON_CONTENT, None, "completed"),
        (Fault.RATE_LIMIT, "poll", "completed"),
        (Fault.SERVER_ERROR, "poll", "completed"),
    ],
)
async def test_simulator_faults(
    fake_time: FakeTime,
    tmp_path: Path,
    fault: Fault,
    point: Literal["poll"] | None,
    outcome: str,
) -> None:
    async with videos_simulator(fake_time) as sim:
        sim.inject(fault, on=point)

        events = await simulate(sim, fake_time, tmp_path, sim_request())

    last = events[-1]
    if outcome == "completed":
        assert isinstance(last, Completed)
        assert (last.video_url is not None) is (fault is Fault.JSON_CONTENT)
    else:
        assert isinstance(last, Failed) and last.category == outcome
    assert [r.method for r in sim.requests].count("POST") == 1
