"""What a restart can reuse of a job the previous process was delivering.

A job reaches ``uploading`` only once its video is downloaded, checked and probed in the
job's work directory (``media_dir/<job id>``), and that directory is removed only when the
job ends. So after a crash or a kill during the upload the finished video is usually still
on disk: delivering that copy is faster than asking the relay again, works for the chat
format (which cannot follow a job after a restart), and survives the relay's asset expiring
(upstream-api.md §1.1: "keep your own copy until it is delivered").
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from bot.errors import MediaError
from bot.media import probe_video
from bot.models import VideoFile

log = logging.getLogger(__name__)


async def local_copy(workdir: Path) -> VideoFile | None:
    """The video a killed job left in ``workdir``, probed, or None.

    The oldest MP4 is the download itself (a re-encode to fit the upload limit is written
    later, and may have been cut short by the kill); one that no longer probes is skipped.
    """

    def candidates() -> list[Path]:
        if not workdir.is_dir():
            return []
        return sorted(workdir.glob("*.mp4"), key=lambda path: path.stat().st_mtime_ns)

    for path in await asyncio.to_thread(candidates):
        try:
            return await asyncio.to_thread(probe_video, path)
        except (MediaError, OSError) as exc:
            log.info("%s cannot be delivered after the restart: %s", path.name, exc)
    return None
