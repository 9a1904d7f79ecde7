"""The ``unified`` wire format (``/v1/video/create`` + ``/v1/video/query``) over MockTransport.

Bodies are shaped like seed 003 and upstream-api.md §1.2: ``duration`` an integer, ids
with ``:``, ``status_update_time`` in milliseconds, progress as a string.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest

from bot.config import ProviderConfig
from bot.errors import ErrorCategory, InvalidRequest
from bot.models import (
    Accepted,
    Completed,
    Failed,
    GenerationRequest,
    ImageInput,
    Orientation,
    ParentRef,
    Progress,
    ProviderEvent,
    Queued,
)
from bot.providers.simulator import Fault, Simulator
from bot.providers.unified import UnifiedProvider
from tests.relay_fakes import (
    FakeRelay,
    FakeTime,
    WireUnderTest,
    accept_then_stop,
    answer,
    drive,
    fail_with,
    mp4_answer,
    simulator_on,
    synth_clip,
)

API_KEY = "sk-test-unified-5a4b3c2d1e0f"
TASK_ID = "sora-2:task_01k900ag82ecgbewj2xa3758z0"
QUERY = "/v1/video/query?id=sora-2%3Atask_01k900ag82ecgbewj2xa3758z0"
CDN_LINK = "https://cdn.example.com/v/task_01k900ag.mp4"


def task(status: str | None, progress: Any = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"id": TASK_ID, "status_update_time": 1762010677921}
    if status is not None:
        body["status"] = status
    if progress is not None:
        body["progress"] = progress
    body.update(extra)
    return body


@pytest.fixture(scope="module")
def mp4_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Landscape, unlike the shared portrait clip: the tests check the size is read."""
    return synth_clip(tmp_path_factory, width=112, height=64)


def request(**overrides: Any) -> GenerationRequest:
    values: dict[str, Any] = {"prompt": "make animate", "model": "sora-2", "seconds": 10}
    return GenerationRequest(**{**values, **overrides})


UNIFIED = WireUnderTest(
    UnifiedProvider,
    "unified-relay",
    "unified",
    API_KEY,
    request(),
    settings={"poll_interval": 20.0},
)
run = UNIFIED.run


def cdn_serves(relay: FakeRelay, mp4: bytes) -> None:
    relay.on("GET", CDN_LINK, mp4_answer(mp4))


async def test_create_body_query_encoding_and_download(
    relay: FakeRelay, fake_time: FakeTime, tmp_path: Path, mp4_bytes: bytes
) -> None:
    relay.on("POST", "/v1/video/create", answer(body=task("pending")))
    relay.on(
        "GET",
        QUERY,
        answer(body=task("queued", "0")),
        answer(body=task("processing", "45%")),
        answer(body=task("processing", "30")),  # a jump back is never shown
        answer(body=task("completed", "100", video_url=CDN_LINK, expires_at=1762097077)),
    )
    cdn_serves(relay, mp4_bytes)

    events = await run(relay, fake_time, tmp_path, request(orientation=Orientation.LANDSCAPE))

    (create,) = relay.sent("POST", "/v1/video/create")
    assert create.headers["authorization"] == f"Bearer {API_KEY}"
    assert json.loads(create.content) == {
        "images": [],
        "model": "sora-2",
        "orientation": "landscape",
        "prompt": "make animate",
        "size": "small",
        "duration": 10,
    }
    assert events[:3] == [Accepted(TASK_ID), Queued(), Progress(45)]
    done = events[-1]
    assert isinstance(done, Completed) and len(events) == 4
    assert (done.upstream_id, done.video_url) == (TASK_ID, CDN_LINK)
    assert (done.video.width, done.video.height) == (112, 64)
    assert done.expires_at is not None and int(done.expires_at.timestamp()) == 1762097077
    assert len(relay.sent("GET", QUERY)) == 4
    (cdn,) = relay.sent_to_host("cdn.example.com")
    assert "authorization" not in cdn.headers  # a CDN never sees the key
    assert fake_time.sleeps == [20.0] * 4  # never faster than poll_interval


async def test_image_goes_as_a_public_url(
    relay: FakeRelay, fake_time: FakeTime, tmp_path: Path, mp4_bytes: bytes
) -> None:
    image = ImageInput(url="https://filesystem.site/cdn/20250612/cat.png")
    relay.on("POST", "/v1/video/create", answer(body=task("pending")))
    relay.on("GET", QUERY, answer(body=task("completed", video_url=CDN_LINK)))
    cdn_serves(relay, mp4_bytes)

    events = await run(relay, fake_time, tmp_path, request(image=image))

    body = json.loads(relay.sent("POST", "/v1/video/create")[0].content)
    assert body["images"] == ["https://filesystem.site/cdn/20250612/cat.png"]
    assert isinstance(body["duration"], int)
    assert isinstance(events[-1], Completed)


@pytest.mark.parametrize(
    ("req", "key"),
    [
        (request(image=ImageInput(path=Path("/tmp/cat.png"))), "image_needs_url"),
        (request(parent=ParentRef(upstream_id=TASK_ID, prompt="x")), "remix_not_supported"),
        (request(seconds=12), "bad_seconds"),
    ],
)
async def test_requests_the_format_cannot_carry_are_refused_before_sending(
    relay: FakeRelay, fake_time: FakeTime, tmp_path: Path, req: GenerationRequest, key: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await run(relay, fake_time, tmp_path, req)
    assert refused.value.key == key
    assert relay.requests == []


async def test_done_without_a_link_keeps_polling_and_resume_queries_at_once(
    relay: FakeRelay, fake_time: FakeTime, tmp_path: Path, mp4_bytes: bytes
) -> None:
    relay.on(
        "GET",
        QUERY,
        answer(body=task("completed", "100", video_url=None)),
        answer(body=task("completed", "100", video_url=CDN_LINK)),
    )
    cdn_serves(relay, mp4_bytes)

    events = await run(relay, fake_time, tmp_path, resume=TASK_ID)

    assert isinstance(events[-1], Completed)
    assert not relay.sent("POST", "/v1/video/create")
    assert fake_time.sleeps == [20.0]


async def test_query_429_backs_off_from_twice_the_interval(
    relay: FakeRelay, fake_time: FakeTime, tmp_path: Path, mp4_bytes: bytes
) -> None:
    busy = {"error": {"message": "请求过于频繁", "type": "new_api_error"}}
    relay.on("POST", "/v1/video/create", answer(body=task("pending")))
    relay.on(
        "GET",
        QUERY,
        answer(429, busy),
        answer(429, busy, headers={"retry-after": "5"}),
        fail_with(httpx.ReadTimeout),
        answer(body=task("completed", video_url=CDN_LINK)),
    )
    cdn_serves(relay, mp4_bytes)

    events = await run(relay, fake_time, tmp_path)

    assert isinstance(events[-1], Completed)
    first, *backoff = fake_time.sleeps
    assert first == 20.0
    assert 40.0 <= backoff[0] <= 50.0
    assert backoff[1:] == [60.0, 60.0]  # capped; a short Retry-After does not shorten it


@pytest.mark.parametrize(
    ("status", "body", "category"),
    [
        (
            403,
            {"code": "insufficient_user_quota", "message": "用户额度不足", "data": None},
            ErrorCategory.BALANCE,
        ),
        # the same envelope inside an HTTP 200
        (
            200,
            {"code": "pre_consume_token_quota_failed", "message": "预扣费失败", "data": None},
            ErrorCategory.BALANCE,
        ),
        # the upstream error as JSON inside the message string
        (
            500,
            {
                "code": "upstream_error",
                "message": json.dumps(
                    {"error": {"code": "sensitive_words_detected", "message": "敏感词"}}
                ),
                "data": None,
            },
            ErrorCategory.CONTENT_POLICY,
        ),
        (401, {"error": {"message": "无效的令牌", "type": "new_api_error"}}, ErrorCategory.AUTH),
        (404, {"error": {"message": "model not found: sora-2"}}, ErrorCategory.MODEL_UNAVAILABLE),
    ],
)
async def test_create_errors_in_both_envelopes(
    relay: FakeRelay,
    fake_time: FakeTime,
    tmp_path: Path,
    status: int,
    body: dict[str, Any],
    category: str,
) -> None:
    relay.on("POST", "/v1/video/create", answer(status, body))

    (failed,) = await run(relay, fake_time, tmp_path)

    assert isinstance(failed, Failed) and failed.category == category
    assert "{" not in failed.message  # the decoded words, not the raw JSON
    assert len(relay.requests) == 1


async def test_create_timeout_is_not_resent(
    relay: FakeRelay, fake_time: FakeTime, tmp_path: Path
) -> None:
    relay.on("POST", "/v1/video/create", fail_with(httpx.ReadTimeout))

    (failed,) = await run(relay, fake_time, tmp_path, bills_failures=True)

    assert isinstance(failed, Failed) and failed.category == ErrorCategory.TRANSIENT
    assert failed.refundable is False
    assert len(relay.requests) == 1


@pytest.mark.parametrize(
    ("body", "category", "words"),
    [
        (task("failed", fail_reason="视频生成失败"), ErrorCategory.GENERATION_FAILED, "生成失败"),
        (
            task("failed", error={"code": "moderation_blocked", "message": "blocked"}),
            ErrorCategory.CONTENT_POLICY,
            "blocked",
        ),
        (task("cancelled"), ErrorCategory.GENERATION_FAILED, "cancelled"),
    ],
)
async def test_failed_tasks(
    relay: FakeRelay,
    fake_time: FakeTime,
    tmp_path: Path,
    body: dict[str, Any],
    category: str,
    words: str,
) -> None:
    relay.on("POST", "/v1/video/create", answer(body=task("pending")))
    relay.on("GET", QUERY, answer(body=body))

    events = await run(relay, fake_time, tmp_path)

    assert isinstance(events[-1], Failed)
    assert (events[-1].category, events[-1].upstream_id) == (category, TASK_ID)
    assert words in events[-1].message


async def test_expired_link_is_reported_as_expired(
    relay: FakeRelay, fake_time: FakeTime, tmp_path: Path
) -> None:
    relay.on("POST", "/v1/video/create", answer(body=task("pending")))
    relay.on("GET", QUERY, answer(body=task("completed", video_url=CDN_LINK)))
    relay.on("GET", CDN_LINK, answer(404, content=b"Not Found"))

    events = await run(relay, fake_time, tmp_path)

    assert isinstance(events[-1], Failed) and events[-1].category == ErrorCategory.EXPIRED


# --------------------------------------------------------------------------- the simulator


@pytest.fixture
async def sim(fake_time: FakeTime) -> AsyncIterator[Simulator]:
    async with simulator_on(fake_time, job_seconds=90.0, seed=3) as simulator:
        yield simulator


def sim_config(sim: Simulator) -> ProviderConfig:
    """The provider config on the simulator, polling every 15 s."""
    return sim.provider_config("unified", poll_interval=15.0)


async def simulate(
    sim: Simulator,
    fake_time: FakeTime,
    workdir: Path,
    req: GenerationRequest,
    *,
    resume: str | None = None,
) -> list[ProviderEvent]:
    """Every event of one ``unified`` job on the simulator."""
    return await drive(
        UnifiedProvider, sim_config(sim), workdir, req, fake_time=fake_time, resume=resume
    )


async def test_simulator_happy_path_with_an_image_url(
    sim: Simulator, fake_time: FakeTime, tmp_path: Path
) -> None:
    image = ImageInput(url=f"{sim.origin}/files/cat.png")
    req = request(model="sim-video", seconds=15, image=image)

    events = await simulate(sim, fake_time, tmp_path, req)

    accepted, done = events[0], events[-1]
    assert isinstance(accepted, Accepted) and accepted.upstream_id.startswith("sim-video:task_")
    assert isinstance(done, Completed) and done.video_url and done.video.path.is_file()
    assert any(isinstance(e, Progress) and e.percent > 0 for e in events)
    create = sim.requests[0]
    assert create.json["duration"] == 15 and create.json["images"] == [image.url]
    queries = [r for r in sim.requests if r.path == "/v1/video/query"]
    assert all("%3A" in r.raw_path for r in queries)
    assert fake_time.sleeps and min(fake_time.sleeps) >= 15.0  # never faster than configured


async def test_simulator_resume_after_a_restart(
    sim: Simulator, fake_time: FakeTime, tmp_path: Path
) -> None:
    req = request(model="sim-video")
    accepted = await accept_then_stop(UnifiedProvider, sim_config(sim), tmp_path, req, fake_time)

    events = await simulate(sim, fake_time, tmp_path, req, resume=accepted.upstream_id)

    assert isinstance(events[-1], Completed)
    assert events[-1].upstream_id == accepted.upstream_id
    assert [r.path for r in sim.requests].count("/v1/video/create") == 1


@pytest.mark.parametrize(
    ("fault", "point", "outcome"),
    [
        (Fault.MODERATION, None, ErrorCategory.CONTENT_POLICY),
        (Fault.BALANCE, None, ErrorCategory.BALANCE),
        (Fault.MODEL_NOT_FOUND, None, ErrorCategory.MODEL_UNAVAILABLE),
        (Fault.EXPIRED, None, ErrorCategory.EXPIRED),
        (Fault.RATE_LIMIT, "poll", "completed"),
        # one 502 on the download is retried; only a lasting one means "expired"
        # (tests/test_fault_upstream.py::test_download_storms)
        (Fault.SERVER_ERROR, "content", "completed"),
    ],
)
async def test_simulator_faults(
    sim: Simulator,
    fake_time: FakeTime,
    tmp_path: Path,
    fault: Fault,
    point: Literal["poll", "content"] | None,
    outcome: str,
) -> None:
    sim.inject(fault, on=point, format="unified")
    events = await simulate(sim, fake_time, tmp_path, request(model="sim-video"))

    last = events[-1]
    if outcome == "completed":
        assert isinstance(last, Completed)
    else:
        assert isinstance(last, Failed) and last.category == outcome
