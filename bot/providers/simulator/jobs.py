"""Simulated jobs: what was asked, and where a job stands at a given moment.

A job's state is a pure function of the time since it was created (``job_seconds`` in
all): pending for the first 5 %, queued until 15 %, then running with rising progress,
then completed. Faults bend that line (moderation fails half-way, never-finish stops at
99 %, stale status hides progress until the end). Nothing runs in the background: every
poll simply reads the clock, so a test can drive jobs with a fake clock.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

from bot.models import Orientation, WireFormat
from bot.providers.simulator.faults import Fault

PENDING_UNTIL = 0.05
QUEUED_UNTIL = 0.15
MODERATION_AT = 0.5
MODERATION_MESSAGE = "Your request was blocked by our moderation system."


class FilePart(NamedTuple):
    """An uploaded file as recorded: never its bytes, only what a test wants to check."""

    filename: str | None
    content_type: str | None
    size: int
    image_size: tuple[int, int] | None  # (width, height) when Pillow could decode it


class Phase(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Where a job stands: its phase, percent done and seconds since it was created."""

    phase: Phase
    progress: int
    elapsed: float
    failure: tuple[str, str] | None = None  # (code, message) once failed


@dataclass(slots=True)
class SimJob:
    """One job the simulator accepted. Tests read these fields; handlers update a few."""

    id: str
    format: WireFormat
    model: str
    prompt: str
    seconds: int  # what was asked for; the MP4 is capped at ``video_seconds_cap``
    size: str  # the wire value: "720x1280", "small"/"large", "9:16"
    orientation: Orientation
    width: int  # the full-size picture the real service would render
    height: int
    started: float  # the simulator clock at creation
    created_at: int  # epoch seconds
    faults: frozenset[Fault]
    file_token: str  # names the public file links, so ids with ':' never land in a path
    remixed_from: str | None = None
    sid: str | None = None  # chat: this job's share id, printed as `sid: s_…`
    parent_sid: str | None = None  # chat: the sid of the earlier answer it continues
    image: FilePart | str | None = None  # an uploaded file, or an image URL / data URL
    images: tuple[str, ...] = ()  # unified: the `images` list as sent
    video_path: Path | None = None
    content_fetches: int = field(default=0)

    @property
    def seed(self) -> int:
        """A per-job seed for the picture, so a remix looks different from its source."""
        return int(hashlib.sha256(self.id.encode()).hexdigest()[:8], 16)


def snapshot(job: SimJob, now: float, job_seconds: float) -> Snapshot:
    """The state of ``job`` at clock time ``now``."""
    elapsed = max(0.0, now - job.started)
    done = elapsed / job_seconds if job_seconds > 0 else 1.0
    if Fault.MISSING_STATUS in job.faults and done >= QUEUED_UNTIL:
        return Snapshot(
            Phase.FAILED, 0, elapsed, ("video_generation_failed", "Video generation failed")
        )
    if Fault.MODERATION in job.faults and done >= MODERATION_AT:
        progress = _running_progress(MODERATION_AT)
        failure = ("moderation_blocked", MODERATION_MESSAGE)
        return Snapshot(Phase.FAILED, progress, elapsed, failure)
    if done < PENDING_UNTIL:
        state = Snapshot(Phase.PENDING, 0, elapsed)
    elif done < QUEUED_UNTIL:
        state = Snapshot(Phase.QUEUED, 0, elapsed)
    elif done < 1.0 or Fault.NEVER_FINISH in job.faults:
        state = Snapshot(Phase.RUNNING, _running_progress(done), elapsed)
    else:
        return Snapshot(Phase.COMPLETED, 100, elapsed)
    if Fault.STALE_STATUS in job.faults:
        return Snapshot(Phase.QUEUED, 0, elapsed)
    return state


def _running_progress(done: float) -> int:
    return max(1, min(99, int((done - QUEUED_UNTIL) / (1.0 - QUEUED_UNTIL) * 100)))
