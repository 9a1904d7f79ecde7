"""The ``chat`` wire format end to end through ``ChatProvider.generate`` against
``httpx.MockTransport``: seed 002's recorded stream, the remix request, the variants and
every way a stream can fail (upstream-api.md §1.3, §2)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.errors import ErrorCategory, InvalidRequest
from bot.models import (
    Accepted,
    ChatMessage,
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
from bot.providers.chat import CUT_MESSAGE, READ_TIMEOUT_FLOOR, ChatProvider
from bot.providers.chat_parser import parse_transcript
from bot.providers.simulator import Fault, Simulator
from tests.relay_fakes import BASE, FakeTime, WireUnderTest, drive, simulator_on

FIXTURES = Path("/work/shared/fixtures")
API_KEY = "sk-test-c4a8e1f09b7d6e5a3c21"
SEED_TASK = "task_01k7e5w9z5f2d91pekrqy59rwc"
SEED_VIDEO = "https://example.com/?video-file=2"
CHUNK_SIZES = (1, 7, 3, 13, 2, 29, 5, 64)  # uneven, so UTF-8 and lines split mid-way


CHAT = WireUnderTest(
    ChatProvider,
    "chatrelay",
    "chat",
    API_KEY,
    GenerationRequest(prompt="牛马跳舞", model="sora-2", seconds=10),
    settings={"models": ["sora-2", "sora-2-hd-15s-chat"]},
)


def sse(*deltas: dict[str, Any] | str, done: bool = True) -> bytes:
    """An SSE body: a dict is a chunk's ``delta``; a str goes on the wire as is."""
    lines = []
    for item in deltas:
        if isinstance(item, str):
            lines.append(item)
            continue
        chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": item}]}
        lines.append(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n")
    if done:
        lines.append("data: [DONE]\n\n")
    return "".join(lines).encode()


def texts(*pieces: str) -> list[dict[str, Any]]:
    return [{"content": piece} for piece in pieces]


async def in_pieces(body: bytes, cut: type[httpx.HTTPError] | None = None) -> AsyncIterator[bytes]:
    position, index = 0, 0
    while position < len(body):
        size = CHUNK_SIZES[index % len(CHUNK_SIZES)]
        yield body[position : position + size]
        position, index = position + size, index + 1
    if cut is not None:
        raise cut("peer closed connection without sending complete message body")


@dataclass
class Relay:
    """The mock relay: one scripted chat answer, and a CDN serving the MP4.

    A stream answer is cut into uneven pieces, so this replaces the shared ``FakeRelay``
    (the ``relay`` fixture below overrides the one in ``conftest``)."""

    mp4: bytes
    body: bytes = b""
    status: int = 200
    content_type: str = "text/event-stream"
    cut: type[httpx.HTTPError] | None = None
    refuse: type[httpx.HTTPError] | None = None
    video_status: int = 200
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("/chat/completions"):
            if self.refuse is not None:
                raise self.refuse("scripted failure", request=request)
            headers = {"content-type": self.content_type}
            if self.status != 200:
                return httpx.Response(self.status, content=self.body, headers=headers)
            return httpx.Response(200, content=in_pieces(self.body, self.cut), headers=headers)
        if self.video_status != 200:
            return httpx.Response(self.video_status, json={"error": {"message": "gone"}})
        return httpx.Response(200, content=self.mp4, headers={"content-type": "video/mp4"})

    @property
    def chat_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith("/chat/completions")]

    def sent_body(self) -> dict[str, Any]:
        (request,) = self.chat_requests
        return json.loads(request.content)


@pytest.fixture
def relay(mp4_bytes: bytes) -> Relay:
    return Relay(mp4=mp4_bytes)


async def generate(
    relay: Relay, tmp_path: Path, request: GenerationRequest | None = None, **config: Any
) -> list[ProviderEvent]:
    """Every event of one chat job against ``relay`` (real sleeps: a stream never polls)."""
    return await CHAT.run(relay, None, tmp_path, request, **config)


def the_failure(events: list[ProviderEvent]) -> Failed:
    assert isinstance(events[-1], Failed), events
    assert API_KEY not in events[-1].message
    return events[-1]


def progress_of(events: Iterable[ProviderEvent]) -> list[int]:
    return [e.percent for e in events if isinstance(e, Progress)]


# --------------------------------------------------------------------------- seed 002


async def test_seed002_replay(relay: Relay, tmp_path: Path) -> None:
    relay.body = (FIXTURES / "seed002-stream.sse").read_bytes()

    events = await generate(relay, tmp_path)

    assert events[0] == Accepted(SEED_TASK)
    assert Queued() in events
    assert progress_of(events) == [36, 44, 61, 69, 81]
    completed = events[-1]
    assert isinstance(completed, Completed)
    assert completed.upstream_id == SEED_TASK
    assert completed.video_url == SEED_VIDEO
    expected = (FIXTURES / "seed002-assistant-content.md").read_text(encoding="utf-8")
    assert completed.transcript is not None
    assert completed.transcript.strip() == expected.strip()
    assert parse_transcript(completed.transcript).sid == "s_68eca3f141808191b1fd30fea1b731bd"
    assert completed.video.path.exists() and completed.video.path.parent == tmp_path
    assert completed.video.width == 64 and completed.video.height == 112


async def test_the_request_on_the_wire(relay: Relay, tmp_path: Path) -> None:
    relay.body = (FIXTURES / "seed002-stream.sse").read_bytes()

    await generate(relay, tmp_path)

    (request,) = relay.chat_requests
    assert str(request.url) == f"{BASE}/chat/completions"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["accept"] == "text/event-stream"
    assert request.extensions["timeout"]["read"] >= READ_TIMEOUT_FLOOR
    assert relay.sent_body() == {
        "model": "sora-2",
        "messages": [{"role": "user", "content": "牛马跳舞\n\n生成视频比例9:16"}],
        "stream": True,
    }
    video_request = relay.requests[-1]
    assert video_request.url == SEED_VIDEO
    assert "authorization" not in video_request.headers  # a CDN never sees the key


async def test_landscape_is_written_into_the_prompt(relay: Relay, tmp_path: Path) -> None:
    relay.body = (FIXTURES / "seed002-stream.sse").read_bytes()
    request = GenerationRequest(
        prompt="海边", model="sora-2", seconds=10, orientation=Orientation.LANDSCAPE
    )

    await generate(relay, tmp_path, request)

    assert relay.sent_body()["messages"][-1]["content"] == "海边\n\n生成视频比例16:9"


async def test_a_continuation_resends_the_history_verbatim(relay: Relay, tmp_path: Path) -> None:
    recorded = json.loads((FIXTURES / "seed002-remix-request.json").read_text(encoding="utf-8"))
    first, answer, instruction = recorded["messages"]
    parent = ParentRef(
        upstream_id="task_01k7dzptgwf2z87wj2c3t36qk0",
        prompt=first["content"],
        history=(
            ChatMessage("user", first["content"]),
            ChatMessage("assistant", answer["content"]),
        ),
    )
    request = GenerationRequest(
        prompt=instruction["content"], model="sora-2", seconds=10, parent=parent
    )
    relay.body = (FIXTURES / "seed002-stream.sse").read_bytes()

    events = await generate(relay, tmp_path, request)

    assert relay.sent_body() == recorded
    assert isinstance(events[-1], Completed)


async def test_an_image_file_goes_inline_and_a_url_as_is(relay: Relay, tmp_path: Path) -> None:
    image = tmp_path / "cat.png"
    image.write_bytes(b"\x89PNG fake")
    relay.body = (FIXTURES / "seed002-stream.sse").read_bytes()

    for given, url in [
        (ImageInput(path=image), "data:image/png;base64,iVBORyBmYWtl"),
        (ImageInput(url="https://img.test/cat.jpg"), "https://img.test/cat.jpg"),
    ]:
        relay.requests.clear()
        request = GenerationRequest(prompt="猫", model="sora-2", seconds=10, image=given)
        await generate(relay, tmp_path, request)
        (message,) = relay.sent_body()["messages"]
        assert message["content"] == [
            {"type": "text", "text": "猫\n\n生成视频比例9:16"},
            {"type": "image_url", "image_url": {"url": url}},
        ]


async def test_a_large_image_is_refused_before_sending(relay: Relay, tmp_path: Path) -> None:
    image = tmp_path / "huge.jpg"
    image.write_bytes(b"\xff" * (4 * 1024 * 1024 + 1))
    request = GenerationRequest(prompt="猫", model="sora-2", seconds=10, image=ImageInput(image))

    with pytest.raises(InvalidRequest) as refused:
        await generate(relay, tmp_path, request)

    assert refused.value.key == "image_too_large"
    assert relay.requests == []


# --------------------------------------------------------------------------- variants


async def test_variant_b_reasoning_progress_and_video_tag(relay: Relay, tmp_path: Path) -> None:
    relay.body = sse(
        {"role": "assistant", "content": None, "reasoning_content": "**Generation Process"},
        {"content": None, "reasoning_content": " Begins**\n\nInitializing...\n"},
        {"reasoning_content": "**Video Generation Progress**: 4"},
        {"reasoning_content": "0% (processing)\n"},
        {"reasoning_content": "**Video Generation Progress**: 85% (processing)\n"},
        {"content": "```html\n<video src='https://cdn.test/b/v.mp4' controls></video>\n```"},
        'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "STOP"}]}\n\n',
    )

    events = await generate(relay, tmp_path)

    assert progress_of(events) == [40, 85]
    completed = events[-1]
    assert isinstance(completed, Completed)
    assert completed.video_url == "https://cdn.test/b/v.mp4"
    assert completed.upstream_id is None
    assert completed.transcript == (
        "```html\n<video src='https://cdn.test/b/v.mp4' controls></video>\n```"
    )


async def test_english_markers_sid_without_backticks_and_pings(
    relay: Relay, tmp_path: Path
) -> None:
    deltas = texts("> ID: task_en", "1\n> Queuing", "...\n> Generating.\n> Progress 2")
    relay.body = sse(
        ": PING\n\n",
        *deltas,
        ": PING\n\n",
        *texts(
            "0..", "70..\n> Generating Complete ✅\n> sid: s_abc\n", "[Play](https://cdn.test/e)"
        ),
    )

    events = await generate(relay, tmp_path)

    assert events[:4] == [Accepted("task_en1"), Queued(), Progress(20), Progress(70)]
    assert isinstance(events[-1], Completed)
    assert events[-1].video_url == "https://cdn.test/e"
    assert parse_transcript(events[-1].transcript or "").sid == "s_abc"


async def test_a_split_progress_number_is_never_reported_in_part(
    relay: Relay, tmp_path: Path
) -> None:
    relay.body = sse(*texts("> ID: `task_s`\n>🏃 进度 3", "6", "..4", "4..", "9", "9..\n"))

    events = await generate(relay, tmp_path)

    assert progress_of(events) == [36, 44, 99]
    assert the_failure(events).upstream_id == "task_s"  # and no link: a failure


# --------------------------------------------------------------------------- failures


async def test_an_error_event_inside_a_200_stream(relay: Relay, tmp_path: Path) -> None:
    error = {"error": {"message": "prompt has sensitive words", "code": "sensitive_words_detected"}}
    relay.body = sse(*texts("> ID: `task_e`\n"), f"data: {json.dumps(error)}\n\n")

    failed = the_failure(await generate(relay, tmp_path))

    assert failed.category == ErrorCategory.CONTENT_POLICY
    assert failed.message == "prompt has sensitive words"
    assert failed.upstream_id == "task_e"


@pytest.mark.parametrize(
    ("reason", "category"),
    [("内容违规", ErrorCategory.CONTENT_POLICY), ("上游超时", ErrorCategory.GENERATION_FAILED)],
)
async def test_a_failure_marker(
    relay: Relay, tmp_path: Path, reason: str, category: ErrorCategory
) -> None:
    relay.body = sse(*texts("> ID: `task_x`\n> 排队中...\n", f"❌ 生成失败: {reason}"))

    failed = the_failure(await generate(relay, tmp_path))

    assert failed.category == category
    assert failed.message == reason
    assert failed.upstream_id == "task_x"


@pytest.mark.parametrize("error", [httpx.RemoteProtocolError, httpx.ReadError, httpx.ReadTimeout])
async def test_a_cut_stream_keeps_the_task_id(
    relay: Relay, tmp_path: Path, error: type[httpx.HTTPError]
) -> None:
    relay.body = sse(*texts("> ID: `task_cut`\n> 排队中...\n>🏃 进度 12.."), done=False)
    relay.cut = error

    events = await generate(relay, tmp_path)

    failed = the_failure(events)
    assert (failed.category, failed.message) == (ErrorCategory.TRANSIENT, CUT_MESSAGE)
    assert failed.upstream_id == "task_cut"
    assert failed.refundable
    assert len(relay.chat_requests) == 1  # never resent


async def test_a_cut_after_the_link_still_delivers(relay: Relay, tmp_path: Path) -> None:
    relay.body = sse(*texts("> ID: `task_l`\n[视频文件](https://cdn.test/l)"), done=False)
    relay.cut = httpx.ReadTimeout

    events = await generate(relay, tmp_path)

    assert isinstance(events[-1], Completed) and events[-1].video_url == "https://cdn.test/l"


async def test_a_clean_end_without_a_link(relay: Relay, tmp_path: Path) -> None:
    relay.body = sse(*texts("> ID: `task_n`\n> 生成中.\n"))

    failed = the_failure(await generate(relay, tmp_path))

    assert failed.category == ErrorCategory.TRANSIENT
    assert failed.upstream_id == "task_n"


async def test_a_content_filter_finish(relay: Relay, tmp_path: Path) -> None:
    relay.body = sse(
        *texts("> ID: `task_cf`\n"),
        'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "content_filter"}]}\n\n',
    )

    failed = the_failure(await generate(relay, tmp_path))

    assert (failed.category, failed.upstream_id) == (ErrorCategory.CONTENT_POLICY, "task_cf")


@pytest.mark.parametrize(
    ("status", "body", "category"),
    [
        (401, {"error": {"message": f"无效的令牌 {API_KEY}", "type": "new_api_error"}}, "auth"),
        (403, {"code": "insufficient_user_quota", "message": "余额不足", "data": None}, "balance"),
        (
            503,
            {
                "error": {
                    "message": "当前分组 default 下对于模型 sora-2 无可用渠道",
                    "code": "model_not_found",
                }
            },
            "model_unavailable",
        ),
        (502, "<html><title>502 Bad Gateway</title></html>", "transient"),
    ],
)
async def test_error_answers(
    relay: Relay, tmp_path: Path, status: int, body: Any, category: str
) -> None:
    relay.status = status
    relay.body = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    relay.content_type = "text/html" if isinstance(body, str) else "application/json"

    failed = the_failure(await generate(relay, tmp_path))

    assert failed.category == category
    assert failed.upstream_id is None


async def test_a_transport_error_before_any_byte_is_not_resent(
    relay: Relay, tmp_path: Path
) -> None:
    relay.refuse = httpx.ConnectError

    failed = the_failure(await generate(relay, tmp_path))

    assert failed.category == ErrorCategory.TRANSIENT
    assert "not resent" in failed.message
    assert len(relay.chat_requests) == 1


async def test_a_relay_that_bills_failures_makes_them_unrefundable(
    relay: Relay, tmp_path: Path
) -> None:
    relay.body = sse(*texts("> ID: `task_b`\n❌ 生成失败: 内容违规"))

    failed = the_failure(await generate(relay, tmp_path, bills_failures=True))

    assert not failed.refundable


async def test_an_expired_video_link(relay: Relay, tmp_path: Path) -> None:
    relay.body = (FIXTURES / "seed002-stream.sse").read_bytes()
    relay.video_status = 404

    failed = the_failure(await generate(relay, tmp_path))

    assert failed.category == ErrorCategory.EXPIRED
    assert failed.upstream_id == SEED_TASK


async def test_a_video_that_does_not_decode(relay: Relay, tmp_path: Path) -> None:
    relay.body = (FIXTURES / "seed002-stream.sse").read_bytes()
    relay.mp4 = b"\x00\x00\x00\x18ftypisom" + b"\x00" * 64  # MP4 by its header only

    failed = the_failure(await generate(relay, tmp_path))

    assert (failed.category, failed.upstream_id) == (ErrorCategory.GENERATION_FAILED, SEED_TASK)


async def test_a_relative_link_on_the_relay_gets_the_key(relay: Relay, tmp_path: Path) -> None:
    relay.body = sse(*texts("> ID: `task_r`\n[视频文件](/files/r.mp4)\n"))

    events = await generate(relay, tmp_path)

    assert isinstance(events[-1], Completed)
    assert events[-1].video_url == "https://relay.test/files/r.mp4"
    assert relay.requests[-1].headers["authorization"] == f"Bearer {API_KEY}"


# --------------------------------------------------------------------------- simulator


@pytest.fixture
async def simulator(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Simulator]:
    """A simulator on fake time (its ``sleep`` paces the chat streams); variant "A" unless
    the test asks for another through indirect parametrization."""
    variant = getattr(request, "param", "A")
    async with simulator_on(
        FakeTime(start=1000.0),
        tmp_path / "media",
        chat_variant=variant,
        job_seconds=1.0,
        video_scale=0.1,
        video_seconds_cap=0.5,
        seed=5,
    ) as sim:
        yield sim


async def sim_generate(sim: Simulator, request: GenerationRequest, workdir: Path) -> list[Any]:
    return await drive(ChatProvider, sim.provider_config("chat"), workdir, request)


async def test_simulator_generate_then_continue(simulator: Simulator, tmp_path: Path) -> None:
    first = GenerationRequest(prompt="a fox in the snow", model="sim-video", seconds=10)

    events = await sim_generate(simulator, first, tmp_path / "one")

    done = events[-1]
    assert isinstance(done, Completed) and done.transcript
    assert events[0] == Accepted(done.upstream_id or "")
    assert progress_of(events) and progress_of(events) == sorted(progress_of(events))
    assert done.video.path.exists() and done.video.has_audio
    history = (ChatMessage("user", first.prompt), ChatMessage("assistant", done.transcript))
    parent = ParentRef(done.upstream_id, first.prompt, history)
    second = GenerationRequest(prompt="now at night", model="sim-video", seconds=10, parent=parent)

    again = await sim_generate(simulator, second, tmp_path / "two")

    assert isinstance(again[-1], Completed)
    assert simulator.jobs[again[-1].upstream_id or ""].remixed_from == done.upstream_id


@pytest.mark.parametrize("simulator", ["B"], indirect=True)
async def test_simulator_variant_b(simulator: Simulator, tmp_path: Path) -> None:
    request = GenerationRequest(prompt="a lighthouse", model="sim-video", seconds=10)

    events = await sim_generate(simulator, request, tmp_path)

    assert isinstance(events[-1], Completed)
    assert progress_of(events)[-1] >= 90


async def test_simulator_cut_stream(simulator: Simulator, tmp_path: Path) -> None:
    simulator.inject(Fault.CUT_STREAM, format="chat")
    request = GenerationRequest(prompt="a cat", model="sim-video", seconds=10)

    failed = the_failure(await sim_generate(simulator, request, tmp_path))

    assert failed.category == ErrorCategory.TRANSIENT
    assert failed.upstream_id and failed.upstream_id.startswith("task_")


@pytest.mark.parametrize("simulator", ["A", "B"], indirect=True)
@pytest.mark.parametrize(
    ("fault", "category"),
    [
        (Fault.MODERATION, ErrorCategory.CONTENT_POLICY),
        (Fault.ERROR_IN_STREAM, ErrorCategory.GENERATION_FAILED),
    ],
)
async def test_simulator_failures_in_the_stream(
    simulator: Simulator, tmp_path: Path, fault: Fault, category: ErrorCategory
) -> None:
    simulator.inject(fault, format="chat")
    request = GenerationRequest(prompt="a cat", model="sim-video", seconds=10)

    failed = the_failure(await sim_generate(simulator, request, tmp_path))

    assert failed.category == category
