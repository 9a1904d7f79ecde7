"""The simulator's media: a real MP4 (and a WebP preview) per finished job, made once.

Files are rendered on first need (the poll that sees the job complete, or the first
download), in a worker thread so the server keeps answering, and cached under one
directory: the one given, or a temporary one removed on close.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import tempfile
from pathlib import Path

from PIL import Image

from bot.providers.simulator.jobs import SimJob
from bot.providers.synth import synthesize_mp4

_MIN_SIDE = 16


class MediaStore:
    """Renders and caches each job's MP4 and preview."""

    def __init__(self, media_dir: Path | None, *, scale: float, seconds_cap: float) -> None:
        if scale <= 0:
            raise ValueError("video_scale must be positive")
        self._given = media_dir
        self._scale = scale
        self._seconds_cap = seconds_cap
        self._dir: Path | None = None
        self._renders: dict[str, asyncio.Task[Path]] = {}

    @property
    def directory(self) -> Path:
        if self._dir is None:
            raise RuntimeError("the media store is not open")
        return self._dir

    def open(self) -> None:
        if self._given is not None:
            self._given.mkdir(parents=True, exist_ok=True)
            self._dir = self._given
        else:
            self._dir = Path(tempfile.mkdtemp(prefix="sora-sim-"))

    async def close(self) -> None:
        """Wait for renders in flight, then remove the directory if it was a temporary one."""
        pending = list(self._renders.values())
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        self._renders.clear()
        if self._given is None and self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = None

    def dimensions(self, job: SimJob) -> tuple[int, int]:
        """The rendered size: the job's picture scaled by ``video_scale``, even numbers."""
        width = max(_MIN_SIDE, round(job.width * self._scale))
        height = max(_MIN_SIDE, round(job.height * self._scale))
        return width - width % 2, height - height % 2

    def duration(self, job: SimJob) -> float:
        return float(min(job.seconds, self._seconds_cap))

    async def video(self, job: SimJob) -> Path:
        """The job's MP4, rendered now if this is the first time anyone needs it."""
        render = self._renders.get(job.id)
        if render is None:
            render = asyncio.create_task(self._render(job), name=f"sim-render-{job.id}")
            self._renders[job.id] = render
        # shielded: a client hanging up mid-poll must not cancel a render others await
        path = await asyncio.shield(render)
        job.video_path = path
        return path

    async def _render(self, job: SimJob) -> Path:
        target = self.directory / f"{job.file_token}.mp4"
        if target.exists():
            return target
        partial = target.with_suffix(".part")
        width, height = self.dimensions(job)
        await asyncio.to_thread(
            synthesize_mp4,
            partial,
            seconds=self.duration(job),
            width=width,
            height=height,
            seed=job.seed,
        )
        os.replace(partial, target)
        return target

    def preview(self, job: SimJob) -> bytes:
        """A small WebP still in the job's colours (what relays link as 预览图)."""
        width, height = self.dimensions(job)
        seed = job.seed
        colour = (40 + seed % 180, 40 + (seed >> 8) % 180, 40 + (seed >> 16) % 180)
        with Image.new("RGB", (width, height), colour) as image, io.BytesIO() as out:
            image.save(out, format="WEBP", quality=60)
            return out.getvalue()
