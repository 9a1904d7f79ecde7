"""The ``videos`` wire format against recorded-looking relay answers (httpx.MockTransport).

Every test drives ``VideosProvider.generate``/``resume`` end to end and asserts what went
over the wire (paths, body types, headers) and the events that came back. Time is fake:
``sleep`` records the delays, ``clock`` follows them.
"""

from __future__ import annotations

import asyncio
import email.parser
import io
import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from PIL import Image

from bot.config import ProviderConfig
from bot.errors import ErrorCategory
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
from bot.providers import build_provider
from bot.providers.simulator import Fault, Simulator
from bot.providers.synth import synthesize_mp4
from bot.providers.videos import VideosProvider

API_KEY = "sk-test-9f8e7d6c5b4a39281706"
BASE = "https://relay.test/v1"
VIDEO_ID = "video_68f10985d6c4819097007665bdcfba5f"
COLON_ID = "sora-2:task_01k900ag82ecgbewj2xa3758z0"

Answer = Callable[[httpx.Request], httpx.Response]


def answer(
    status: int = 200,
    body: Any = None,
    *,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """A response factory: JSON ``body`` or raw ``content``."""

    def make(request: httpx.Request) -> httpx.Response:
        if content is not None:
            return httpx.Response(status, content=content, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return make


def fail_with(exc_type: type[httpx.RequestError]) -> Answer:
    def make(request: httpx.Request) -> httpx.Response:
        raise exc_type("scripted failure", request=request)

    return make


def job(status: str | None, progress: Any = 0, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"id": VIDEO_ID, "object": "video", "model": "sora-2"}
    if status is not None:
        body["status"] = status
    body.update({"progress": progress, "seconds": "8", "size": "720x1280", "error": None})
    body.update(extra)
    return body


class FakeRelay:
    """Scripted answers per ``METHOD raw-path``; the last answer of a route repeats."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Answer]] = {}
        self.requests: list[httpx.Request] = []

    def on(self, method: str, path: str, *answers: Answer) -> None:
        self.routes[f"{method} {path}"] = list(answers)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = f"{request.method} {request.url.raw_path.decode()}"
        if request.url.host != "relay.test":
            key = f"{request.method} {request.url}"
        script = self.routes.get(key)
        if not script:
            return httpx.Response(404, json={"error": {"message": f"no route {key}"}})
        current = script.pop(0) if len(script) > 1 else script[0]
        return current(request)

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.raw_path == path.encode()]


class FakeTime:
    """An injected clock and sleep: sleeping records the delay and moves the clock."""

    def __init__(self, stall_after: float | None = None) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.stall_after = stall_after

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.stall_after is not None and self.now > self.stall_after:
            await asyncio.Event().wait()  # the relay never answers in time
        await asyncio.sleep(0)


@pytest.fixture(scope="module")
def mp4_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("synth") / "clip.mp4"
    return synthesize_mp4(path, seconds=0.5, width=64, height=112, fps=8).read_bytes()


@pytest.fixture
def relay() -> FakeRelay:
    return FakeRelay()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def make_provider(
    relay: FakeRelay, fake_time: FakeTime, **overrides: Any
) -> tuple[VideosProvider, httpx.AsyncClient]:
    settings: dict[str, Any] = {
        "name": "relay",
        "format": "videos",
        "base_url": BASE,
        "api_key": API_KEY,
        "models": ["sora-2"],
        "poll_interval": 10.0,
        **overrides,
    }
    client = httpx.AsyncClient(transport=httpx.MockTransport(relay.handle))
    provider = build_provider(
        ProviderConfig(**settings), client, sleep=fake_time.sleep, clock=fake_time.clock
    )
    assert isinstance(provider, VideosProvider)
    return provider, client


def request(**overrides: Any) -> GenerationRequest:
    values: dict[str, Any] = {"prompt": "a red fox in the snow", "model": "sora-2", "seconds": 8}
    return GenerationRequest(**{**values, **overrides})


async def run(
    relay: FakeRelay,
    fake_time: FakeTime,
    workdir: Path,
    req: GenerationRequest | None = None,
    *,
    resume: str | None = None,
    **overrides: Any,
) -> list[ProviderEvent]:
    provider, client = make_provider(relay, fake_time, **overrides)
    async with client:
        if resume is not None:
            stream = provider.resume(resume, req or request(), workdir)
        else:
            stream = provider.generate(req or request(), workdir)
        events = [event async for event in stream]
    for event in events:  # the key never leaks, whatever went wrong
        if isinstance(event, Failed):
            assert API_KEY not in event.message
    return events


def completed_route(relay: FakeRelay, mp4: bytes, video_id: str = VIDEO_ID) -> None:
    relay.on(
        "GET",
        f"/v1/videos/{video_id}/content",
        answer(content=mp4, headers={"content-type": "video/mp4"}),
    )


# --------------------------------------------------------------------------- happy paths


async def test_text_to_video_sends_json_with_string_seconds_and_completes(
    relay: FakeRelay, fake_time: FakeTime, tmp_path: Path, mp4_bytes: bytes
) -> None:
    relay.on(
        "POST",
        "/v1/videos",
        answer(body=job("queued"), headers={"openai-poll-after-ms": "2500"}),
    )
    relay.on(
        "GET",
        f"/v1/videos/{VIDEO_ID}",
        answer(body=job("in_progress", 30), headers={"openai-poll-after-ms": "4000"}),
        answer(body=job("in_progress", "55%")),
        answer(body=job("completed", 100, expires_at=1760713477)),
    )
    completed_route(relay, mp4_bytes)

    events = await run(relay, fake_time, tmp_path, request(orientation=Orientation.LANDSCAPE))

    create = relay.sent("POST", "/v1/videos")
    assert len(create) == 1
    assert create[0].headers["authorization"] == f"Bearer {API_KEY}"
    assert create[0].headers["content-type"] == "application/json"
    assert json.loads(create[0].content) == {
        "model": "sora-2",
        "prompt": "a red fox in the snow",
        "seconds": "8",
        "size": "1280x720",
    }
    assert events[:4] == [Accepted(VIDEO_ID), Queued(), Progress(30), Progress(55)]
    done = events[-1]
    assert isinstance(done, Completed)
    assert done.upstream_id == VIDEO_ID
    assert (done.video.width, done.video.height, done.video.has_audio) == (64, 112, True)
    assert done.video.path.read_bytes() == mp4_bytes
    assert done.expires_at is not None and int(done.expires_at.timestamp()) == 1760713477
    # the hint of each answer sets the next delay; without a hint, the configured interval
    assert fake_time.sleeps == [2.5, 4.0, 10.0]


async def test_image_goes_up_as_multipart_resized_to_exactly_the_size(
    relay: FakeRelay, fake_time: FakeTime, tmp_path: Path, mp4_bytes: bytes
) -> None:
    picture = tmp_path / "cat.png"
    Image.new("RGB", (300, 200), (200, 30, 30)).save(picture)
    workdir = tmp_path / "work"
    workdir.mkdir()
    relay.on("POST", "/v1/videos", answer(body=job("queued")))
    relay.on("GET", f"/v1/videos/{VIDEO_ID}", answer(body=job("completed", 100)))
    completed_route(relay, mp4_bytes)

    events = await run(relay, fake_time, workdir, request(image=ImageInput(path=picture)))

    assert isinstance(events[-1], Completed)
    (create,) = relay.sent("POST", "/v1/videos")
    content_type = create.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    message = email.parser.BytesParser().parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + create.content
    )
    parts = {part.get_param("name", header="content-disposition"): part for part in message.walk()}
    assert parts["seconds"].get_payload() == "8"
    assert parts["size"].get_payload() == "720x1280"
    assert parts["model"].get_payload() == "sora-2"
    reference = parts["input_reference"]
    assert reference.get_filename()
    payload = reference.get_payload(decode=True)
    assert isinstance(payload, bytes)
    with Image.open(io.BytesIO(payload)) as sent:
        assert sent.size == (720, 1280)
    # the prepared image was a temporary file: only the video is left in the workdir
    assert [p.suffix for p in workdir.iterdir()] == [".mp4"]


async def test_colon_ids_are_url_encoded_on_the_wire_and_kept_raw(
    relay: FakeRelay, fake_time: FakeTime, tmp_path: Path, mp4_bytes: bytes
) -> None:
    encoded = "sora-2%3Atask_01k900ag82ecgbewj2xa3758z0"
    relay.on("POST", "/v1/videos", answer(body={"id": COLON_ID, "status": "SUBMITTED"}))
    relay.on("GET", f"/v1/videos/{encoded}", answer(body={"id": COLON_ID, "status": "SUCCESS"}))
    completed_route(relay, mp4_bytes, encoded)

    events = await run(relay, fake_time, tmp_path)

    assert events[0] == Accepted(COLON_ID)
    assert isinstance(events[-1], Completed) and events[-1].upstream_id == COLON_ID
    assert len(relay.sent("GET", f"/v1/videos/{encoded}/content")) == 1


async def test_remix_posts_only_the_prompt_to_the_parent_remix_endpoint(
    relay: FakeRelay, fake_time: FakeTime, tmp_path: Path, mp4_bytes: bytes
) -> None:
    encoded = "sora-2%3Atask_01k900ag82ecgbewj2xa3758z0"
    relay.on("POST", f"/v1/videos/{encoded}/remix", answer(body=job("queued")))
    relay.on("GET", f"/v1/videos/{VIDEO_ID}", answer(body=job("completed")))
    completed_route(relay, mp4_bytes)
    parent = ParentRef(upstream_id=COLON_ID, prompt="a red fox")

    events = await run(relay, fake_time, tmp_path, request(prompt="make it night", parent=parent))

    (remix,) = relay.sent("POST", f"/v1/videos/{encoded}/remix")
    assert json.loads(remix.content) == {"prompt": "make it night"}
    assert not relay.sent("POST", "/v1/videos")
    assert events[0] == Accepted(VIDEO_ID) and isinstance(events[-1], Completed)


async def test_resume_polls_at_once_and_completes(
    relay: FakeRelay, fake_time: FakeTime, tmp_path: Path, mp4_bytes: bytes
) -> None:
    relay.on(
        "GET",
        f"/v1/videos/{VIDEO_ID}",
        answer(body=job("in_progress", 70)),
        answer(body=job("completed", 100)),
    )
    completed_route(relay, mp4_bytes)

    events = await run(relay, fake_time, tmp_path, resume=VIDEO_ID)

    assert events[0] == Progress(70) and isinstance(events[-1], Completed)
    assert not relay.sent("POST", "/v1/videos")
    assert fake_time.sleeps == [10.0]  # the first query went out without waiting


# --------------------------------------------------------------------------- status words


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["NOT_START", "SUBMITTED", "QUEUED", "IN_PROGRESS", "SUCCESS"], [Queued(), Progress(0)]),
        (["pending", "processing", "succeeded"], [Queued(), Progress(0)]),
        (["queued", "running", "Completed"], [Queued(), Progress(0)]),
    ],
)
async def test_status_vocabularies_normalise_case_insensitively(
    relay: FakeRelay,
    fake_time: FakeTime,
    tmp_path: Path,
    mp4_bytes: bytes,
    statuses: list[str],
    expected: list[ProviderEvent],
) -> None:
    relay.on("POST", "/v1/videos", answer(body=job(statuses[0])))
    relay.on("GET", f"/v1/videos/{VIDEO_ID}", *(answer(body=job(s)) for s in statuses[1:]))
    completed_route(relay, mp4_bytes)

    events = await run(relay, fake_time, tmp_path)

    assert events[1:-1] == expected
    assert isinstance(events[-1], Completed)


async def test_stale_progress_still_completes(
    relay: FakeRelay, fake_time: FakeTime, tmp_path: Path, mp4_bytes: bytes
) -> None:
    stale = [answer(body=job("queued", 0)) for _ in range(5)]
    # "unknown" and a missing status without an error are stale answers, not failures
    relay.on("POST", "/v1/videos", answer(body=job("queued")))
    relay.on(
        "GET",
        f"/v1/videos/{VIDEO_ID}",
        *stale,
        answer(body=job("unknown")),
        answer(body=job(None)),
        answer(body=job("completed", 0)),
    )
    completed_route(relay, mp4_bytes)

    events = await run(relay, fake_time, tmp_path)

    assert events[:2] == [Accepted(VIDEO_ID), Queued()]
    assert isinstance(events[2], Completed) and len(events) == 3
    assert len(relay.sent("GET", f"/v1/videos/{VIDEO_ID}")) == 8


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
    relay.on(
        "GET", f"/v1/videos/{VIDEO_ID}", answer(body=job("in_progress", 10)), answer(body=body)
    )

    events = await run(relay, fake_time, tmp_path)

    failed = events[-1]
    assert isinstance(failed, Failed)
    assert failed.category == category
    assert words in failed.message
    assert failed.upstream_id == VIDEO_ID
    assert not relay.sent("GET", f"/v1/videos/{VIDEO_ID}/content")


# --------------------------------------------------------------------------- content


async def test_json_content_answer_is_followed_to_the_cdn_without_our_key(
    relay: FakeRelay, fake_time: FakeTime, tmp_path: Path, mp4_bytes: bytes
) -> None:
    link = "https://cdn.example.com/files/fox.mp4?sig=abc"
    relay.on("POST", "/v1/videos", answer(body=job("completed")))
    relay.on("GET", f"/v1/videos/{VIDEO_ID}/content", answer(body={"data": {"video_url": link}}))
    relay.on("GET", link, answer(content=mp4_bytes, headers={"content-type": "video/mp4"}))

    events = await run(relay, fake_time, tmp_path)

    done = events[-1]
    assert isinstance(done, Completed) and done.video_url == link
    assert done.video.size_bytes == len(mp4_bytes)
    (cdn,) = [r for r in relay.requests if r.url.host == "cdn.example.com"]
    assert "authorization" not in cdn.headers


async def test_relative_content_link_on_the_relay_host_is_fetched_with_auth(
    relay: FakeRelay, fake_time: FakeTime, tmp_path: Path, mp4_bytes: bytes
) -> None:
    relay.on("POST", "/v1/videos", answer(body=job("completed")))
    relay.on("GET", f"/v1/videos/{VIDEO_ID}/content", answer(body={"url": "/files/fox.mp4"}))
    relay.on(
        "GET", "/files/fox.mp4", answer(content=mp4_bytes, headers={"content-type": "video/mp4"})
    )

    events = await run(relay, fake_time, tmp_path)

    assert isinstance(events[-1], Completed)
    assert events[-1].video_url == "https://relay.test/files/fox.mp4"
    assert relay.sent("GET", "/files/fox.mp4")[0].headers["authorization"] == f"Bearer {API_KEY}"


async def test_content_redirect_to_a_cdn_drops_our_key(
    relay: FakeRelay, fake_time: FakeTime, tmp_path: Path, mp4_bytes: bytes
) -> None:
    link = "https://cdn.example.com/files/fox.mp4"
    relay.on("POST", "/v1/videos", answer(body=job("completed")))
    relay.on("GET", f"/v1/videos/{VIDEO_ID}/content", answer(302, headers={"location": link}))
    relay.on("GET", link, answer(content=mp4_bytes, headers={"content-type": "video/mp4"}))

    events = await run(relay, fake_time, tmp_path)

    assert isinstance(events[-1], Completed)
    assert events[-1].video.size_bytes == len(mp4_bytes)
    (cdn,) = [r for r in relay.requests if r.url.host == "cdn.example.com"]
    assert "authorization" not in cdn.headers


async def test_json_content_answer_with_an_error_reports_it(
    relay: FakeRelay, fake_time: FakeTime, tmp_path: Path
) -> None:
    gone = {"error": {"code": "video_expired", "message": "the video has expired"}}
    relay.on("POST", "/v1/videos", answer(body=job("completed")))
    relay.on("GET", f"/v1/videos/{VIDEO_ID}/content", answer(body=gone))

    events = await run(relay, fake_time, tmp_path)

    assert isinstance(events[-1], Failed)
    assert (events[-1].category, events[-1].message) == ("expired", "the video has expired")


@pytest.mark.parametrize("status", [502, 410, 404])
async def test_gone_content_is_expired(
    relay: FakeRelay, fake_time: FakeTime, tmp_path: Path, status: int
) -> None:
    relay.on("POST", "/v1/videos", answer(body=job("completed")))
    relay.on(
        "GET",
        f"/v1/videos/{VIDEO_ID}/content",
        answer(status, content=b"<html><title>502 Bad Gateway</title></html>"),
    )

    events = await run(relay, fake_time, tmp_path)

    assert isinstance(events[-1], Failed)
    assert events[-1].category == ErrorCategory.EXPIRED
    assert events[-1].upstream_id == VIDEO_ID


async def test_html_page_instead_of_the_video_is_refused(
    relay: FakeRelay, fake_time: FakeTime, tmp_path: Path
) -> None:
    relay.on("POST", "/v1/videos", answer(body=job("completed")))
    relay.on(
        "GET",
        f"/v1/videos/{VIDEO_ID}/content",
        answer(content=b"<html>login</html>", headers={"content-type": "text/html"}),
    )

    events = await run(relay, fake_time, tmp_path)

    assert isinstance(events[-1], Failed)
    assert events[-1].category == ErrorCategory.GENERATION_FAILED
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
        f"/v1/videos/{VIDEO_ID}",
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
    relay.on("GET", f"/v1/videos/{VIDEO_ID}", answer(status, body))

    events = await run(relay, fake_time, tmp_path)

    assert isinstance(events[-1], Failed) and events[-1].category == category
    assert events[-1].upstream_id == VIDEO_ID
    assert len(relay.sent("GET", f"/v1/videos/{VIDEO_ID}")) == 1


async def test_poll_hint_is_floored_so_a_zero_hint_is_no_busy_loop(
    relay: FakeRelay, fake_time: FakeTime, tmp_path: Path, mp4_bytes: bytes
) -> None:
    relay.on(
        "POST", "/v1/videos", answer(body=job("queued"), headers={"openai-poll-after-ms": "0"})
    )
    relay.on("GET", f"/v1/videos/{VIDEO_ID}", answer(body=job("completed")))
    completed_route(relay, mp4_bytes)

    await run(relay, fake_time, tmp_path)

    assert fake_time.sleeps == [1.0]


async def test_deadline_ends_a_job_that_never_finishes(tmp_path: Path, relay: FakeRelay) -> None:
    deadline_minutes = 0.005  # 0.3 s of fake time; the fake sleep stalls beyond it
    fake_time = FakeTime(stall_after=deadline_minutes * 60)
    relay.on("POST", "/v1/videos", answer(body=job("queued")))
    relay.on("GET", f"/v1/videos/{VIDEO_ID}", answer(body=job("queued")))

    events = await run(
        relay, fake_time, tmp_path, poll_interval=0.1, deadline_minutes=deadline_minutes
    )

    failed = events[-1]
    assert isinstance(failed, Failed) and failed.category == ErrorCategory.TIMEOUT
    assert failed.upstream_id == VIDEO_ID
    assert not relay.sent("GET", f"/v1/videos/{VIDEO_ID}/content")


# --------------------------------------------------------------------------- the simulator


async def simulate(
    sim: Simulator, fake_time: FakeTime, workdir: Path, req: GenerationRequest, **overrides: Any
) -> list[ProviderEvent]:
    async with httpx.AsyncClient() as client:
        provider = build_provider(
            sim.provider_config("videos", **overrides),
            client,
            sleep=fake_time.sleep,
            clock=fake_time.clock,
        )
        return [event async for event in provider.generate(req, workdir)]


@pytest.fixture
async def sim(fake_time: FakeTime) -> AsyncIterator[Simulator]:
    async with Simulator(
        job_seconds=60.0, clock=fake_time.clock, sleep=fake_time.sleep, seed=7
    ) as simulator:
        yield simulator


def sim_request(**overrides: Any) -> GenerationRequest:
    return request(model="sim-video", **overrides)


async def test_simulator_new_api_style_relay_with_colon_ids(
    fake_time: FakeTime, tmp_path: Path
) -> None:
    async with Simulator(
        job_seconds=60.0,
        clock=fake_time.clock,
        sleep=fake_time.sleep,
        id_style="colon",
        status_style="newapi",
    ) as sim:
        events = await simulate(sim, fake_time, tmp_path, sim_request(seconds=4))

    accepted, done = events[0], events[-1]
    assert isinstance(accepted, Accepted) and ":" in accepted.upstream_id
    assert isinstance(done, Completed) and done.upstream_id == accepted.upstream_id
    assert done.video.path.is_file() and done.video.duration > 0
    progress = [e.percent for e in events if isinstance(e, Progress)]
    assert progress == sorted(progress) and progress[-1] > 0
    create = sim.requests[0]
    assert create.json["seconds"] == "4"
    polls = [r for r in sim.requests if r.method == "GET"]
    assert polls and all("%3A" in r.raw_path for r in polls)
    assert all(s >= 1.0 for s in fake_time.sleeps)  # the 200 ms hint is floored


async def test_simulator_image_then_remix(
    sim: Simulator, fake_time: FakeTime, tmp_path: Path
) -> None:
    picture = tmp_path / "wide.png"
    Image.new("RGB", (640, 480), (10, 120, 200)).save(picture)
    workdir = tmp_path / "work"

    first = await simulate(sim, fake_time, workdir, sim_request(image=ImageInput(path=picture)))
    done = first[-1]
    assert isinstance(done, Completed)
    form = sim.requests[0].form
    assert form is not None and form["seconds"] == "8"
    assert form["input_reference"].image_size == (720, 1280)  # type: ignore[union-attr]

    parent = ParentRef(upstream_id=done.upstream_id, prompt="a red fox")
    second = await simulate(
        sim, fake_time, workdir, sim_request(prompt="now at night", parent=parent)
    )
    remixed = second[-1]
    assert isinstance(remixed, Completed) and remixed.upstream_id != done.upstream_id
    assert sim.jobs[remixed.upstream_id or ""].remixed_from == done.upstream_id


async def test_simulator_resume_after_a_restart(
    sim: Simulator, fake_time: FakeTime, tmp_path: Path
) -> None:
    async with httpx.AsyncClient() as client:
        before = build_provider(
            sim.provider_config("videos"), client, sleep=fake_time.sleep, clock=fake_time.clock
        )
        stream = before.generate(sim_request(), tmp_path)
        assert isinstance(stream, AsyncGenerator)
        accepted = await anext(stream)
        await stream.aclose()  # the bot stops here
    assert isinstance(accepted, Accepted)

    async with httpx.AsyncClient() as client:
        after = build_provider(
            sim.provider_config("videos"), client, sleep=fake_time.sleep, clock=fake_time.clock
        )
        events = [e async for e in after.resume(accepted.upstream_id, sim_request(), tmp_path)]

    assert isinstance(events[-1], Completed)
    assert events[-1].upstream_id == accepted.upstream_id
    assert [r.method for r in sim.requests].count("POST") == 1


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
    sim: Simulator,
    fake_time: FakeTime,
    tmp_path: Path,
    fault: Fault,
    point: Literal["poll"] | None,
    outcome: str,
) -> None:
    sim.inject(fault, on=point)

    events = await simulate(sim, fake_time, tmp_path, sim_request())

    last = events[-1]
    if outcome == "completed":
        assert isinstance(last, Completed)
        assert (last.video_url is not None) is (fault is Fault.JSON_CONTENT)
    else:
        assert isinstance(last, Failed) and last.category == outcome
    assert [r.method for r in sim.requests].count("POST") == 1
