"""What the ``videos`` format tests share: ids, job bodies, and the provider on a relay.

``test_videos_provider`` (the wire and the happy paths) and ``test_videos_faults`` (every
way a job can fail) both drive ``VideosProvider`` through ``run``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.models import GenerationRequest, ProviderEvent
from bot.providers.simulator import Simulator
from bot.providers.videos import VideosProvider
from tests.relay_fakes import FakeRelay, FakeTime, WireUnderTest, drive, mp4_answer, simulator_on

API_KEY = "sk-test-9f8e7d6c5b4a39281706"
VIDEO_ID = "video_68f10985d6c4819097007665bdcfba5f"
COLON_ID = "sora-2:task_01k900ag82ecgbewj2xa3758z0"
ENCODED_COLON_ID = "sora-2%3Atask_01k900ag82ecgbewj2xa3758z0"
POLL = f"/v1/videos/{VIDEO_ID}"
CONTENT = f"/v1/videos/{VIDEO_ID}/content"


def job(status: str | None, progress: Any = 0, **extra: Any) -> dict[str, Any]:
    """A video object as the relay returns it; ``status=None`` leaves the status out."""
    body: dict[str, Any] = {"id": VIDEO_ID, "object": "video", "model": "sora-2"}
    if status is not None:
        body["status"] = status
    body.update({"progress": progress, "seconds": "8", "size": "720x1280", "error": None})
    body.update(extra)
    return body


def request(**overrides: Any) -> GenerationRequest:
    values: dict[str, Any] = {"prompt": "a red fox in the snow", "model": "sora-2", "seconds": 8}
    return GenerationRequest(**{**values, **overrides})


VIDEOS = WireUnderTest(
    VideosProvider, "relay", "videos", API_KEY, request(), settings={"poll_interval": 10.0}
)
run = VIDEOS.run


def completed_route(relay: FakeRelay, mp4: bytes, video_id: str = VIDEO_ID) -> None:
    """The relay serves ``mp4`` as the content of ``video_id``."""
    relay.on("GET", f"/v1/videos/{video_id}/content", mp4_answer(mp4))


# --------------------------------------------------------------------------- the simulator


def videos_simulator(fake_time: FakeTime, **options: Any) -> Simulator:
    """The simulator the videos tests run against: 60 s jobs, seed 7 unless overridden."""
    return simulator_on(fake_time, **({"job_seconds": 60.0, "seed": 7} | options))


def sim_request(**overrides: Any) -> GenerationRequest:
    return request(model="sim-video", **overrides)


async def simulate(
    sim: Simulator, fake_time: FakeTime, workdir: Path, req: GenerationRequest, **overrides: Any
) -> list[ProviderEvent]:
    """Every event of one ``videos`` job on the simulator."""
    config = sim.provider_config("videos", **overrides)
    return await drive(VideosProvider, config, workdir, req, fake_time=fake_time)
