"""The ``videos`` wire format against recorded-looking relay answers (httpx.MockTransport):
what goes over the wire and the jobs that complete. ``test_videos_faults`` has the rest.

Every test drives ``VideosProvider.generate``/``resume`` end to end and asserts what went
over the wire (paths, body types, headers) and the events that came back. Time is fake:
``sleep`` records the delays, ``clock`` follows them.
"""

from __future__ import annotations

import email.parser
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from bot.models import (
    Accepted,
    Completed,
    ImageInput,
    Orientation,
    ParentRef,
    Progress,
    ProviderEvent,
    Queued,
)
from bot.providers.simulator import Simulator
from bot.providers.videos import VideosProvider
from tests.relay_fakes import (
    Answer,
    FakeRelay,
    FakeTime,
    accept_then_stop,
    answer,
    drive,
    mp4_answer,
)
from tests.videos_relay import (
    API_KEY,
    COLON_ID,
    CONTENT,
    ENCODED_COLON_ID,
    POLL,
    VIDEO_ID,
    completed_route,
    job,
    request,
    run,
    sim_request,
    simulate,
    videos_simulator,
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
        POLL,
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
    relay.on("GET", POLL, answer(body=job("completed", 100)))
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
    encoded = ENCODED_COLON_ID
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
    encoded = ENCODED_COLON_ID
    relay.on("POST", f"/v1/videos/{encoded}/remix", answer(body=job("queued")))
    relay.on("GET", POLL, answer(body=job("completed")))
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
        POLL,
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
    relay.on("GET", POLL, *(answer(body=job(s)) for s in statuses[1:]))
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
        POLL,
        *stale,
        answer(body=job("unknown")),
        answer(body=job(None)),
        answer(body=job("completed", 0)),
    )
    completed_route(relay, mp4_bytes)

    events = await run(relay, fake_time, tmp_path)

    assert events[:2] == [Accepted(VIDEO_ID), Queued()]
    assert isinstance(events[2], Completed) and len(events) == 3
    assert len(relay.sent("GET", POLL)) == 8


# --------------------------------------------------------------------------- content


async def test_relative_content_link_on_the_relay_host_is_fetched_with_auth(
    relay: FakeRelay, fake_time: FakeTime, tmp_path: Path, mp4_bytes: bytes
) -> None:
    relay.on("POST", "/v1/videos", answer(body=job("completed")))
    relay.on("GET", CONTENT, answer(body={"url": "/files/fox.mp4"}))
    relay.on("GET", "/files/fox.mp4", mp4_answer(mp4_bytes))

    events = await run(relay, fake_time, tmp_path)

    assert isinstance(events[-1], Completed)
    assert events[-1].video_url == "https://relay.test/files/fox.mp4"
    assert relay.sent("GET", "/files/fox.mp4")[0].headers["authorization"] == f"Bearer {API_KEY}"


SIGNED_LINK = "https://cdn.example.com/files/fox.mp4?sig=abc"
PLAIN_LINK = "https://cdn.example.com/files/fox.mp4"


@pytest.mark.parametrize(
    ("content", "link", "reported_url"),
    [
        # a JSON answer naming the link: the link is reported with the video
        (answer(body={"data": {"video_url": SIGNED_LINK}}), SIGNED_LINK, SIGNED_LINK),
        # a redirect: followed, whatever the video_url says
        (answer(302, headers={"location": PLAIN_LINK}), PLAIN_LINK, None),
    ],
    ids=["json-link", "redirect"],
)
async def test_content_is_fetched_from_the_cdn_without_our_key(
    relay: FakeRelay,
    fake_time: FakeTime,
    tmp_path: Path,
    mp4_bytes: bytes,
    content: Answer,
    link: str,
    reported_url: str | None,
) -> None:
    relay.on("POST", "/v1/videos", answer(body=job("completed")))
    relay.on("GET", CONTENT, content)
    relay.on("GET", link, mp4_answer(mp4_bytes))

    events = await run(relay, fake_time, tmp_path)

    done = events[-1]
    assert isinstance(done, Completed)
    if reported_url is not None:
        assert done.video_url == reported_url
    assert done.video.size_bytes == len(mp4_bytes)
    (cdn,) = relay.sent_to_host("cdn.example.com")
    assert "authorization" not in cdn.headers


# --------------------------------------------------------------------------- pacing


async def test_poll_hint_is_floored_so_a_zero_hint_is_no_busy_loop(
    relay: FakeRelay, fake_time: FakeTime, tmp_path: Path, mp4_bytes: bytes
) -> None:
    relay.on(
        "POST", "/v1/videos", answer(body=job("queued"), headers={"openai-poll-after-ms": "0"})
    )
    relay.on("GET", POLL, answer(body=job("completed")))
    completed_route(relay, mp4_bytes)

    await run(relay, fake_time, tmp_path)

    assert fake_time.sleeps == [1.0]


# --------------------------------------------------------------------------- the simulator


@pytest.fixture
async def sim(fake_time: FakeTime) -> AsyncIterator[Simulator]:
    async with videos_simulator(fake_time) as simulator:
        yield simulator


async def test_simulator_new_api_style_relay_with_colon_ids(
    fake_time: FakeTime, tmp_path: Path
) -> None:
    async with videos_simulator(
        fake_time, seed=None, id_style="colon", status_style="newapi"
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
    config = sim.provider_config("videos")
    accepted = await accept_then_stop(VideosProvider, config, tmp_path, sim_request(), fake_time)

    events = await drive(
        VideosProvider,
        config,
        tmp_path,
        sim_request(),
        fake_time=fake_time,
        resume=accepted.upstream_id,
    )

    assert isinstance(events[-1], Completed)
    assert events[-1].upstream_id == accepted.upstream_id
    assert [r.method for r in sim.requests].count("POST") == 1
