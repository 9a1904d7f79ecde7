"""Read what a finished MP4 is (duration, size, audio) and cut a thumbnail from it, with PyAV.

Both are blocking and CPU-bound: callers run them in ``asyncio.to_thread``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av
import av.container
import av.video.frame
from PIL import Image

from bot.errors import MediaError
from bot.models import VideoFile

_THUMBNAIL_AT = 0.5  # seconds: past a fade-in, still the opening scene
_SHORT_CLIP = 1.0  # clips shorter than this use their first frame
_JPEG_QUALITIES = (85, 75, 65, 55, 45, 35, 25)


@contextmanager
def open_video(path: Path) -> Iterator[av.container.InputContainer]:
    """Open ``path`` for reading; anything FFmpeg cannot open becomes ``MediaError``."""
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, OSError) as exc:
        raise MediaError(f"not a readable video: {path.name} ({type(exc).__name__})") from exc
    try:
        yield container
    finally:
        container.close()


def probe_video(path: Path) -> VideoFile:
    """Duration (s), width, height, audio presence and size of the video at ``path``.

    Decodes the first frame too, so a file whose header parses but whose picture does not
    (a truncated or mislabelled download) is caught here rather than at upload.
    Raises ``MediaError`` when there is no readable video stream.
    """
    with open_video(path) as container:
        if not container.streams.video:
            raise MediaError(f"no video stream in {path.name}")
        stream = container.streams.video[0]
        first = _first_frame(container, path)
        width = stream.codec_context.width or first.width
        height = stream.codec_context.height or first.height
        if container.duration is not None:
            duration = container.duration / av.time_base
        elif stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        else:
            duration = 0.0
        has_audio = bool(container.streams.audio)
    return VideoFile(
        path=path,
        size_bytes=path.stat().st_size,
        duration=duration,
        width=width,
        height=height,
        has_audio=has_audio,
    )


def make_thumbnail(
    video: Path, dest: Path, *, max_side: int = 320, max_bytes: int = 200_000
) -> Path:
    """Write a JPEG of a frame near the start of ``video`` to ``dest`` and return ``dest``.

    Telegram's ``sendVideo`` takes a thumbnail only as a JPEG under 200 kB whose sides are
    at most 320 px (https://core.telegram.org/bots/api#sendvideo). The frame is the first
    one at or after 0.5 s (the first frame of clips under a second); quality, then size,
    is lowered until the file is below ``max_bytes``.
    """
    with open_video(video) as container:
        if not container.streams.video:
            raise MediaError(f"no video stream in {video.name}")
        duration = (container.duration or 0) / av.time_base
        target = _THUMBNAIL_AT if duration >= _SHORT_CLIP else 0.0
        frame = _frame_at(container, target, video)
        image = frame.to_image()
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    while True:
        for quality in _JPEG_QUALITIES:
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=quality, optimize=True)
            if buffer.tell() < max_bytes:
                dest.write_bytes(buffer.getvalue())
                return dest
        if min(image.size) <= 16:
            raise MediaError(f"cannot make a thumbnail under {max_bytes} bytes")
        image = image.resize(
            (max(1, image.width * 3 // 4), max(1, image.height * 3 // 4)),
            Image.Resampling.LANCZOS,
        )


def _first_frame(container: av.container.InputContainer, path: Path) -> av.video.frame.VideoFrame:
    return _frame_at(container, 0.0, path)


def _frame_at(
    container: av.container.InputContainer, seconds: float, path: Path
) -> av.video.frame.VideoFrame:
    """The first decodable frame at or after ``seconds``, else the last one before it."""
    stream = container.streams.video[0]
    latest: av.video.frame.VideoFrame | None = None
    try:
        for frame in container.decode(stream):
            latest = frame
            if frame.time is None or frame.time >= seconds:
                break
    except av.FFmpegError as exc:
        if latest is None:
            raise MediaError(f"cannot decode the video in {path.name}") from exc
    if latest is None:
        raise MediaError(f"no decodable video frame in {path.name}")
    return latest
