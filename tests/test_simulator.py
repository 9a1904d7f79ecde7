"""The relay simulator over loopback with plain httpx: wire shapes, MP4s, faults.

Jobs run on a fake clock (``SimTime``): tests move time by hand, and chat streams move it
through the injected ``sleep``, so nothing here waits for real time to pass.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from PIL import Image

from bot.models import WireFormat
from bot.providers.simulator import Fault, FilePart, Simulator
from tests.relay_fakes import FakeTime, simulator_on

KEY = "sim-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
JOB_SECONDS = 1.0
VIDEO_BODY = {"model": "sim-video", "prompt": "a cat", "seconds": "4", "size": "1280x720"}
UNIFIED_BODY: dict[str, Any] = {
    "images": [],
    "model": "sim-video",
    "orientation": "portrait",
    "prompt": "a cat",
    "size": "small",
    "duration": 10,
}


class SimTime(FakeTime):
    """The simulator's clock; its ``sleep`` moves the clock instead of waiting."""

    def __init__(self) -> None:
        super().__init__(start=1000.0)

    def finish(self) -> None:
        """Move the clock just past the end of a job started now."""
        self.now += JOB_SECONDS * 1.01


MakeSim = Callable[..., Awaitable[Simulator]]


@pytest.fixture
def fake_time() -> SimTime:
    return SimTime()


@pytest.fixture
async def make_sim(tmp_path: Path, fake_time: SimTime) -> AsyncIterator[MakeSim]:
    started: list[Simulator] = []

    async def make(**options: Any) -> Simulator:
        settings: dict[str, Any] = {
            "api_key": KEY,
            "job_seconds": JOB_SECONDS,
            "video_scale": 0.1,
            "video_seconds_cap": 0.5,
            "seed": 7,
        } | options
        sim = simulator_on(fake_time, tmp_path / f"media{len(started)}", **settings)
        await sim.start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        await sim.stop()


@pytest.fixture
async def sim(make_sim: MakeSim) -> Simulator:
    return await make_sim()


def keyed_client(sim: Simulator) -> httpx.AsyncClient:
    """A client on ``sim``'s base URL that sends the right key."""
    return httpx.AsyncClient(base_url=sim.base_url, headers=AUTH)


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with keyed_client(sim) as http:
        yield http


def probe(data: bytes, tmp_path: Path) -> tuple[int, int]:
    """Open an MP4 with PyAV: it must hold a video and an audio stream; returns (w, h)."""
    assert data[4:8] == b"ftyp"
    path = tmp_path / "probe.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        assert container.streams.audio, "no audio stream"
        video = container.streams.video[0]
        return video.codec_context.width, video.codec_context.height


def png(width: int, height: int) -> bytes:
    with io.BytesIO() as out:
        Image.new("RGB", (width, height), (200, 120, 40)).save(out, format="PNG")
        return out.getvalue()


async def chat(http: httpx.AsyncClient, prompt: Any, **extra: Any) -> str:
    """POST a streaming chat request and return the raw SSE text."""
    messages = extra.pop("messages", [{"role": "user", "content": prompt}])
    body = {"model": "sim-video", "stream": True, "messages": messages} | extra
    async with http.stream("POST", "/chat/completions", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return "".join([part async for part in response.aiter_text()])


def sse_events(raw: str) -> list[dict[str, Any]]:
    """The JSON payloads of ``data:`` lines (PING comments and [DONE] left out)."""
    lines = [line[6:] for line in raw.split("\n") if line.startswith("data: ")]
    return [json.loads(line) for line in lines if line != "[DONE]"]


def deltas(raw: str, field: str = "content") -> list[str]:
    pieces = []
    for event in sse_events(raw):
        for choice in event.get("choices", []):
            value = choice["delta"].get(field)
            if value:
                pieces.append(value)
    return pieces


# --------------------------------------------------------------------------- shared routes


async def test_models_lists_the_configured_models(client: httpx.AsyncClient) -> None:
    body = (await client.get("/models")).json()
    assert body["object"] == "list"
    assert [(m["id"], m["object"]) for m in body["data"]] == [
        ("sim-video", "model"),
        ("sim-video-pro", "model"),
    ]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/models"), ("POST", "/videos"), ("GET", "/video/query?id=x"), ("POST", "/x")],
)
@pytest.mark.parametrize("auth", [None, "Bearer wrong"])
async def test_a_bad_or_missing_key_is_401_new_api(
    sim: Simulator, method: str, path: str, auth: str | None
) -> None:
    headers = {"Authorization": auth} if auth else {}
    async with httpx.AsyncClient(base_url=sim.base_url, headers=headers) as http:
        response = await http.request(method, path, json={})
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["message"].startswith("无效的令牌 (request id: 20")
    assert (error["type"], error["code"]) == ("new_api_error", "")
    assert sim.requests[-1].authorized is False
    assert "wrong" not in repr(sim.requests[-1])


# --------------------------------------------------------------------------- videos


async def test_videos_job_runs_to_a_playable_mp4(
    sim: Simulator, client: httpx.AsyncClient, fake_time: SimTime, tmp_path: Path
) -> None:
    created = await client.post("/videos", json=VIDEO_BODY)
    assert created.headers["openai-poll-after-ms"] == "200"
    video = created.json()
    assert set(video) == {
        "id", "object", "model", "status", "progress", "created_at", "completed_at",
        "expires_at", "seconds", "size", "remixed_from_video_id", "error",
    }  # fmt: skip
    assert re.fullmatch(r"video_[0-9a-f]{32}", video["id"])
    assert (video["status"], video["progress"], video["seconds"]) == ("queued", 0, "4")
    early = await client.get(f"/videos/{video['id']}/content")
    assert early.status_code == 400
    assert "Task is not completed yet" in early.json()["error"]["message"]

    fake_time.now += JOB_SECONDS * 0.5
    running = (await client.get(f"/videos/{video['id']}")).json()
    assert running["status"] == "in_progress" and 0 < running["progress"] < 100
    fake_time.finish()
    done = (await client.get(f"/videos/{video['id']}")).json()
    assert (done["status"], done["progress"]) == ("completed", 100)
    assert done["expires_at"] > done["completed_at"] >= done["created_at"]

    content = await client.get(f"/videos/{video['id']}/content")
    assert content.headers["content-type"] == "video/mp4"
    assert int(content.headers["content-length"]) == len(content.content)
    assert probe(content.content, tmp_path) == (128, 72)  # 1280x720 scaled by 0.1


async def test_videos_multipart_reference_must_match_the_size(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    fields = {"model": "sim-video", "prompt": "walk", "seconds": "8", "size": "720x1280"}
    good = await client.post(
        "/videos", data=fields, files={"input_reference": ("ref.png", png(720, 1280), "image/png")}
    )
    assert good.status_code == 200
    form = sim.requests[-1].form
    assert form is not None and form["seconds"] == "8"
    assert form["input_reference"] == FilePart(
        "ref.png", "image/png", len(png(720, 1280)), (720, 1280)
    )
    bad = await client.post(
        "/videos", data=fields, files={"input_reference": ("ref.png", png(640, 480), "image/png")}
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_image_size"


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"seconds": 4}, 400, "invalid_json"),
        ({"size": "640x480"}, 400, "invalid_size"),
        ({"size": "1024x1792"}, 400, "invalid_size"),  # pro sizes need a pro model
        ({"seconds": "5"}, 400, "invalid_value"),
        ({"model": "sora-2"}, 503, "model_not_found"),
        ({"model": None}, 400, "missing_model"),
    ],
)
async def test_videos_rejects_what_new_api_rejects(
    client: httpx.AsyncClient, changes: dict[str, Any], status: int, code: str
) -> None:
    body = {k: v for k, v in (VIDEO_BODY | changes).items() if v is not None}
    response = await client.post("/videos", json=body)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    pro = await client.post(
        "/videos", json=VIDEO_BODY | {"model": "sim-video-pro", "size": "1024x1792"}
    )
    assert pro.status_code == 200


async def test_videos_colon_ids_and_new_api_statuses(make_sim: MakeSim, fake_time: SimTime) -> None:
    sim = await make_sim(id_style="colon", status_style="newapi")
    async with keyed_client(sim) as http:
        video_id = (await http.post("/videos", json=VIDEO_BODY)).json()["id"]
        assert re.fullmatch(r"sim-video:task_[0-9a-z]{26}", video_id)
        encoded = video_id.replace(":", "%3A")
        fake_time.now += JOB_SECONDS * 0.5
        running = (await http.get(f"/videos/{encoded}")).json()
        assert sim.requests[-1].raw_path == f"/v1/videos/{encoded}"
        assert running["status"] == "IN_PROGRESS"
        assert re.fullmatch(r"\d+%", running["progress"])
        fake_time.finish()
        done = (await http.get(f"/videos/{encoded}")).json()
        assert (done["status"], done["progress"]) == ("SUCCESS", "100%")


async def test_videos_remix_needs_a_completed_source(
    sim: Simulator, client: httpx.AsyncClient, fake_time: SimTime
) -> None:
    source = (await client.post("/videos", json=VIDEO_BODY)).json()["id"]
    too_early = await client.post(f"/videos/{source}/remix", json={"prompt": "now at night"})
    assert too_early.status_code == 400
    assert too_early.json()["error"]["code"] == "task_origin_not_exist"
    unknown = await client.post("/videos/video_nope/remix", json={"prompt": "x"})
    assert unknown.json()["error"]["code"] == "task_origin_not_exist"
    fake_time.finish()
    remix = (await client.post(f"/videos/{source}/remix", json={"prompt": "now at night"})).json()
    assert remix["remixed_from_video_id"] == source
    assert (remix["size"], remix["seconds"], remix["status"]) == ("1280x720", "4", "queued")
    assert sim.jobs[remix["id"]].seed != sim.jobs[source].seed


# --------------------------------------------------------------------------- unified


async def test_unified_job_runs_to_a_public_link(
    sim: Simulator, client: httpx.AsyncClient, fake_time: SimTime, tmp_path: Path
) -> None:
    created = (await client.post("/video/create", json=UNIFIED_BODY)).json()
    assert re.fullmatch(r"sim-video:task_[0-9a-z]{26}", created["id"])
    assert created["status"] == "pending" and created["status_update_time"] > 1e12
    query = {"id": created["id"]}
    first = (await client.get("/video/query", params=query)).json()
    assert "%3A" in sim.requests[-1].raw_path
    assert (first["status"], first["progress"], first["video_url"]) == ("pending", "0", None)
    assert first["created_at"] < 1e12 < first["status_update_time"]
    statuses = []
    for _ in range(4):
        fake_time.now += JOB_SECONDS * 0.35
        answer = (await client.get("/video/query", params=query)).json()
        statuses.append(answer["status"])
    assert statuses == ["processing", "processing", "completed", "completed"]
    assert answer["progress"] == "100"
    async with httpx.AsyncClient() as anonymous:  # public link: no key needed
        video = await anonymous.get(answer["video_url"])
    assert video.headers["content-type"] == "video/mp4"
    assert probe(video.content, tmp_path) == (72, 128)


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"images": None}, "images"),
        ({"duration": "10"}, "cannot unmarshal string"),
        ({"duration": 12}, "duration"),
        ({"model": "sim-video-pro"}, "large"),  # pro accepts only size large
        ({"orientation": "square"}, "orientation"),
    ],
)
async def test_unified_rejects_bad_fields(
    client: httpx.AsyncClient, changes: dict[str, Any], needle: str
) -> None:
    body = {k: v for k, v in (UNIFIED_BODY | changes).items() if v is not None}
    response = await client.post("/video/create", json=body)
    assert response.status_code == 400
    envelope = response.json()
    assert envelope["data"] is None and envelope["code"]
    assert needle in envelope["message"]


# --------------------------------------------------------------------------- chat


async def test_chat_stream_looks_like_seed_002(
    sim: Simulator, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    raw = await chat(client, "a fox in the snow, 16:9")
    assert ": PING" in raw
    assert raw.rstrip().endswith("data: [DONE]")
    events = sse_events(raw)
    assert {e["object"] for e in events} == {"chat.completion.chunk"}
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert events[-1]["choices"][0]["finish_reason"] == "stop"
    pieces = deltas(raw)
    text = "".join(pieces)
    job = next(iter(sim.jobs.values()))
    block = json.loads(text.split("```json\n", 1)[1].split("\n```", 1)[0])
    assert block == {
        "prompt": "a fox in the snow, 16:9",
        "orientation": "landscape",
        "duration": 10,
    }
    for needle in (f"> ID: `{job.id}`", "> 排队中.", "> 生成中.", ">🏃 进度 ", "> 生成完成 ✅"):
        assert needle in text
    assert f"> sid: {job.sid}" in text
    assert max(len(p) for p in pieces) <= 12
    assert not any(job.id in piece for piece in pieces)  # ids are cut across chunks
    link = re.search(r"\[视频文件\]\((\S+?)\)", text)
    assert link and not link.group(1).endswith(".mp4")
    assert re.search(r"\[预览图\]\(\S+\.webp\)", text)
    async with httpx.AsyncClient() as anonymous:
        video = await anonymous.get(link.group(1))
    assert video.headers["content-type"] == "video/mp4"
    assert probe(video.content, tmp_path) == (128, 72)


async def test_chat_continuation_carries_the_parent_sid(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    first = "".join(deltas(await chat(client, "牛马跳舞")))
    parent = next(iter(sim.jobs.values()))
    image = "data:image/png;base64," + base64.b64encode(png(32, 48)).decode()
    messages = [
        {"role": "user", "content": "牛马跳舞"},
        {"role": "assistant", "content": first},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "让牛的头上顶着光圈"},
                {"type": "image_url", "image_url": {"url": image}},
            ],
        },
    ]
    second = "".join(deltas(await chat(client, None, messages=messages)))
    block = json.loads(second.split("```json\n", 1)[1].split("\n```", 1)[0])
    assert block["sid"] == parent.sid and block["prompt"] == "让牛的头上顶着光圈"
    child = list(sim.jobs.values())[-1]
    assert (child.remixed_from, child.parent_sid) == (parent.id, parent.sid)
    assert child.sid != parent.sid and child.seed != parent.seed
    assert isinstance(child.image, FilePart) and child.image.image_size == (32, 48)


async def test_chat_variant_b_speaks_sora2api(make_sim: MakeSim) -> None:
    sim = await make_sim(chat_variant="B")
    async with keyed_client(sim) as http:
        raw = await chat(http, "竖屏 a lighthouse")
    reasoning = "".join(deltas(raw, "reasoning_content"))
    assert re.search(r"\*\*Video Generation Progress\*\*: \d+% \(processing\)", reasoning)
    content = "".join(deltas(raw))
    assert re.fullmatch(
        r"```html\n<video src='http://127\.0\.0\.1:\d+/files/\w+\.mp4' controls></video>\n```",
        content,
    )
    assert sse_events(raw)[-1]["choices"][0]["finish_reason"] == "STOP"


# --------------------------------------------------------------------------- faults


async def submit(http: httpx.AsyncClient, fmt: WireFormat, prompt: str = "a cat") -> httpx.Response:
    """One create request of ``fmt`` (a chat answer is read to its end)."""
    if fmt is WireFormat.VIDEOS:
        return await http.post("/videos", json=VIDEO_BODY | {"prompt": prompt})
    if fmt is WireFormat.UNIFIED:
        return await http.post("/video/create", json=UNIFIED_BODY | {"prompt": prompt})
    messages = [{"role": "user", "content": prompt}]
    body = {"model": "sim-video", "stream": True, "messages": messages}
    return await http.post("/chat/completions", json=body)


@pytest.mark.parametrize("fmt", list(WireFormat))
async def test_rate_limit_is_new_api_429_with_retry_after(
    sim: Simulator, client: httpx.AsyncClient, fmt: WireFormat
) -> None:
    sim.inject(Fault.RATE_LIMIT, count=2, format=fmt)
    for _ in range(2):
        limited = await submit(client, fmt)
        assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
        assert "当前分组上游负载已饱和，请稍后再试" in limited.json()["error"]["message"]
    assert (await submit(client, fmt)).status_code == 200


async def test_server_error_is_a_proxy_page_at_submit_or_poll(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    sim.inject(Fault.SERVER_ERROR)
    page = await client.post("/videos", json=VIDEO_BODY)
    assert page.status_code == 502 and page.headers["content-type"].startswith("text/html")
    assert "<center>nginx</center>" in page.text
    video_id = (await client.post("/videos", json=VIDEO_BODY)).json()["id"]
    sim.inject(Fault.SERVER_ERROR, on="poll")
    poll = await client.get(f"/videos/{video_id}")
    assert poll.status_code == 502 and "Cloudflare" in poll.text
    assert (await client.get(f"/videos/{video_id}")).status_code == 200


@pytest.mark.parametrize("fmt", [WireFormat.VIDEOS, WireFormat.UNIFIED])
async def test_moderation_fails_an_accepted_job(
    sim: Simulator, client: httpx.AsyncClient, fake_time: SimTime, fmt: WireFormat
) -> None:
    sim.inject(Fault.MODERATION)
    job_id = (await submit(client, fmt)).json()["id"]
    fake_time.finish()
    if fmt is WireFormat.VIDEOS:
        answer = (await client.get(f"/videos/{job_id}")).json()
    else:
        answer = (await client.get("/video/query", params={"id": job_id})).json()
        assert answer["video_url"] is None
    assert answer["status"] == "failed"
    assert answer["error"]["code"] == "moderation_blocked"


@pytest.mark.parametrize("variant", ["A", "B"])
async def test_moderation_in_a_chat_stream(make_sim: MakeSim, variant: str) -> None:
    sim = await make_sim(chat_variant=variant)
    sim.inject(Fault.MODERATION, format="chat")
    async with keyed_client(sim) as http:
        raw = await chat(http, "a cat")
    text = "".join(deltas(raw))
    assert "❌ 生成失败: Your request was blocked by our moderation system." in text
    assert "视频文件" not in text and "<video" not in text
    assert raw.rstrip().endswith("data: [DONE]")


@pytest.mark.parametrize("fmt", list(WireFormat))
async def test_sensitive_words_and_unknown_models(
    sim: Simulator, client: httpx.AsyncClient, fmt: WireFormat
) -> None:
    sim.inject(Fault.SENSITIVE, format=fmt)
    sensitive = await submit(client, fmt)
    assert sensitive.status_code == 500
    assert sensitive.json()["error"]["code"] == "sensitive_words_detected"
    sim.inject(Fault.MODEL_NOT_FOUND, format=fmt)
    gone = await submit(client, fmt)
    assert gone.status_code == 503
    error = gone.json()["error"]
    assert (error["code"], error["type"]) == ("model_not_found", "new_api_error")
    assert "当前分组 default 下对于模型 sim-video 无可用渠道 (request id: " in error["message"]


async def test_balance_uses_both_envelopes(sim: Simulator, client: httpx.AsyncClient) -> None:
    sim.inject(Fault.BALANCE, count=3)
    videos = await submit(client, WireFormat.VIDEOS)
    assert videos.status_code == 403
    assert videos.json() | {"message": ""} == {
        "code": "insufficient_user_quota",
        "message": "",
        "data": None,
    }
    unified = (await submit(client, WireFormat.UNIFIED)).json()
    inner = json.loads(unified["message"])  # JSON inside the message string
    assert inner["error"]["code"] == "insufficient_user_quota"
    chat_answer = await submit(client, WireFormat.CHAT)
    assert chat_answer.json()["error"]["code"] == "insufficient_user_quota"


async def test_chat_cut_stream_ends_after_the_task_id(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    sim.inject(Fault.CUT_STREAM)
    raw = await chat(client, "a cat")
    assert "> ID: `task_" in "".join(deltas(raw))
    assert "[DONE]" not in raw and "视频文件" not in raw


@pytest.mark.parametrize("variant", ["A", "B"])
async def test_chat_error_inside_a_200_stream(make_sim: MakeSim, variant: str) -> None:
    sim = await make_sim(chat_variant=variant)
    sim.inject(Fault.ERROR_IN_STREAM)
    async with keyed_client(sim) as http:
        raw = await chat(http, "a cat")
    errors = [event["error"] for event in sse_events(raw) if "error" in event]
    assert len(errors) == 1 and errors[0]["message"]
    assert raw.rstrip().endswith("data: [DONE]")


async def test_expired_assets(
    sim: Simulator, client: httpx.AsyncClient, fake_time: SimTime
) -> None:
    sim.inject(Fault.EXPIRED, count=3)
    video_id = (await submit(client, WireFormat.VIDEOS)).json()["id"]
    task_id = (await submit(client, WireFormat.UNIFIED)).json()["id"]
    text = "".join(deltas(await chat(client, "a cat")))
    fake_time.finish()
    assert (await client.get(f"/videos/{video_id}")).json()["status"] == "completed"
    content = await client.get(f"/videos/{video_id}/content")
    assert content.status_code == 502 and content.json()["error"]["code"] == "video_expired"
    link = (await client.get("/video/query", params={"id": task_id})).json()["video_url"]
    chat_link = re.search(r"\[视频文件\]\((\S+?)\)", text)
    assert chat_link
    async with httpx.AsyncClient() as anonymous:
        for url in (link, chat_link.group(1)):
            assert (await anonymous.get(url)).status_code == 404


async def test_json_content_points_at_a_public_link(
    sim: Simulator, client: httpx.AsyncClient, fake_time: SimTime, tmp_path: Path
) -> None:
    sim.inject(Fault.JSON_CONTENT)
    video_id = (await submit(client, WireFormat.VIDEOS)).json()["id"]
    fake_time.finish()
    content = await client.get(f"/videos/{video_id}/content")
    assert content.headers["content-type"].startswith("application/json")
    async with httpx.AsyncClient() as anonymous:
        video = await anonymous.get(content.json()["video_url"])
    assert probe(video.content, tmp_path) == (128, 72)


async def test_never_finish_stale_and_missing_status(
    sim: Simulator, client: httpx.AsyncClient, fake_time: SimTime
) -> None:
    ids = {}
    for fault in (Fault.NEVER_FINISH, Fault.STALE_STATUS, Fault.MISSING_STATUS):
        sim.inject(fault)
        ids[fault] = (await submit(client, WireFormat.VIDEOS)).json()["id"]

    async def poll(fault: Fault) -> dict[str, Any]:
        body: dict[str, Any] = (await client.get(f"/videos/{ids[fault]}")).json()
        return body

    fake_time.now += JOB_SECONDS * 0.6
    stale = await poll(Fault.STALE_STATUS)
    assert (stale["status"], stale["progress"]) == ("queued", 0)
    missing = await poll(Fault.MISSING_STATUS)
    assert "status" not in missing and missing["error"]["code"]
    fake_time.now += JOB_SECONDS * 100
    stale_done = await poll(Fault.STALE_STATUS)
    assert (stale_done["status"], stale_done["progress"]) == ("completed", 100)
    forever = await poll(Fault.NEVER_FINISH)
    assert forever["status"] == "in_progress" and forever["progress"] == 99


async def test_injections_count_and_respect_the_format(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    sim.inject(Fault.MODERATION, count=2, format="unified")
    videos_job = (await submit(client, WireFormat.VIDEOS)).json()["id"]
    unified_jobs = [(await submit(client, WireFormat.UNIFIED)).json()["id"] for _ in range(3)]
    assert sim.jobs[videos_job].faults == frozenset()
    assert [Fault.MODERATION in sim.jobs[j].faults for j in unified_jobs] == [True, True, False]
    impossible: list[tuple[Fault, dict[str, Any]]] = [
        (Fault.CUT_STREAM, {"format": "videos"}),
        (Fault.SERVER_ERROR, {"format": "chat", "on": "poll"}),
        (Fault.MODERATION, {"on": "poll"}),
        (Fault.RATE_LIMIT, {"count": 0}),
    ]
    for fault, options in impossible:
        with pytest.raises(ValueError):
            sim.inject(fault, **options)


async def test_prompt_markers_trigger_faults(sim: Simulator, client: httpx.AsyncClient) -> None:
    marked = (await submit(client, WireFormat.VIDEOS, "[sim:moderation] a cat")).json()["id"]
    assert sim.jobs[marked].faults == {Fault.MODERATION}
    assert sim.jobs[marked].prompt == "a cat"
    assert sim.requests[-1].json["prompt"] == "[sim:moderation] a cat"
    refused = await submit(client, WireFormat.UNIFIED, "a cat [sim:sensitive]")
    assert refused.status_code == 500
    flaky = (await submit(client, WireFormat.VIDEOS, "a cat [sim:server_error@poll]")).json()["id"]
    assert (await client.get(f"/videos/{flaky}")).status_code == 502
    assert (await client.get(f"/videos/{flaky}")).status_code == 200


def test_every_fault_is_exercised_above() -> None:
    source = Path(__file__).read_text(encoding="utf-8")
    assert [fault for fault in Fault if f"Fault.{fault.name}" not in source] == []


async def test_stop_ends_open_streams_and_removes_its_temporary_dir() -> None:
    sim = Simulator(job_seconds=0.05, video_scale=0.1, video_seconds_cap=0.5)
    await sim.start()
    media_dir = sim.media_dir
    sim.inject(Fault.NEVER_FINISH)
    body = {"model": "sim-video", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    async with (
        httpx.AsyncClient(
            base_url=sim.base_url, headers={"Authorization": "Bearer sim-key"}
        ) as http,
        http.stream("POST", "/chat/completions", json=body) as response,
    ):
        lines = response.aiter_lines()
        text = ""  # the marker may be split across chunks: look in the accumulated text
        async with asyncio.timeout(5):
            async for line in lines:
                if line.startswith("data: {"):
                    delta = json.loads(line[6:])["choices"][0]["delta"]
                    text += delta.get("content") or ""
                if "生成中" in text:
                    break
        await asyncio.wait_for(sim.stop(), timeout=5)
        rest = await asyncio.wait_for(_drain(lines), timeout=5)
    assert not any("[DONE]" in line for line in rest)
    assert not media_dir.exists()


async def _drain(lines: AsyncIterator[str]) -> list[str]:
    return [line async for line in lines]
