"""Re-encode a video so it fits a platform's upload limit (Discord 10 MiB, Telegram 50 MB).

One-pass x264 in average-bitrate mode with a VBV cap lands near the target but can
overshoot on short clips, so the result is measured and, if still too big, encoded again
with a proportionally lower target (a bounded number of times). Blocking and CPU-bound:
callers run ``fit_to_size`` in ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import av.container
import av.stream
import av.video.frame

from bot.errors import MediaError
from bot.media.probe import open_video, probe_video
from bot.models import VideoFile

MAX_ATTEMPTS = 3
AUDIO_BITRATE = 64_000
LOW_AUDIO_BITRATE = 32_000  # when the whole budget is under ~256 kb/s
MIN_VIDEO_BITRATE = 48_000  # below this nothing watchable comes out
# Bits per pixel per frame under which x264 output turns to mush: scale down instead.
MIN_BITS_PER_PIXEL = 0.06
MIN_SHORT_SIDE = 144
# moov index (~20 bytes per sample), mdat/box headers and rate-control error.
_OVERHEAD_FRACTION = 0.05
_OVERHEAD_BYTES = 32_000
_RETRY_MARGIN = 0.9


@dataclass(frozen=True, slots=True)
class EncodePlan:
    """What one encode attempt aims at."""

    video_bitrate: int
    audio_bitrate: int
    width: int
    height: int


def fit_to_size(video: VideoFile, max_bytes: int, dest: Path) -> VideoFile:
    """Write a version of ``video`` no larger than ``max_bytes`` to ``dest``; return it probed.

    A video that already fits is copied unchanged. Otherwise it is re-encoded (libx264 +
    AAC, ``+faststart`` so players can start before the end arrives), at a lower
    resolution when the budget is too thin for the original one. The source file is never
    modified. Raises ``MediaError`` when the budget cannot hold a watchable video.
    """
    if dest.resolve() == video.path.resolve():
        raise MediaError("fit_to_size needs a destination other than the source")
    if video.size_bytes <= max_bytes:
        shutil.copyfile(video.path, dest)
        return probe_video(dest)
    if video.duration <= 0:
        raise MediaError("cannot fit a video of unknown duration")
    plan = plan_encode(video, max_bytes, _frame_rate(video.path))
    part = dest.with_suffix(".part")
    try:
        for _attempt in range(MAX_ATTEMPTS):
            _encode(video.path, part, plan)
            size = part.stat().st_size
            if size <= max_bytes:
                os.replace(part, dest)
                return probe_video(dest)
            lower = int(plan.video_bitrate * max_bytes / size * _RETRY_MARGIN)
            if lower < MIN_VIDEO_BITRATE:
                break
            plan = replace(plan, video_bitrate=lower)
    finally:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
    raise MediaError(f"could not fit the video under {max_bytes} bytes")


def plan_encode(video: VideoFile, max_bytes: int, fps: float) -> EncodePlan:
    """Bitrates and resolution for ``video`` to land under ``max_bytes`` (``MediaError`` if not).

    The budget minus container headroom, spread over the duration, is the total bitrate;
    audio takes 64 kb/s (32 kb/s on very small budgets), video the rest. When that leaves
    fewer than ``MIN_BITS_PER_PIXEL`` per pixel per frame, the picture is scaled down,
    keeping the aspect ratio and even sides (yuv420p needs them).
    """
    usable_bits = (max_bytes * (1 - _OVERHEAD_FRACTION) - _OVERHEAD_BYTES) * 8
    total_bitrate = usable_bits / video.duration
    audio_bitrate = 0
    if video.has_audio:
        audio_bitrate = AUDIO_BITRATE if total_bitrate >= 4 * AUDIO_BITRATE else LOW_AUDIO_BITRATE
    video_bitrate = int(total_bitrate - audio_bitrate)
    if video_bitrate < MIN_VIDEO_BITRATE:
        raise MediaError(
            f"{max_bytes} bytes cannot hold {video.duration:.1f} s of video "
            f"(would leave {max(video_bitrate, 0) // 1000} kb/s)"
        )
    width, height = _scaled_size(video.width, video.height, video_bitrate, fps)
    return EncodePlan(video_bitrate, audio_bitrate, width, height)


def _scaled_size(width: int, height: int, video_bitrate: int, fps: float) -> tuple[int, int]:
    pixels_affordable = video_bitrate / (MIN_BITS_PER_PIXEL * max(fps, 1.0))
    scale = min(1.0, math.sqrt(pixels_affordable / (width * height)))
    short_side = min(width, height)
    if short_side * scale < MIN_SHORT_SIDE:
        scale = min(1.0, MIN_SHORT_SIDE / short_side)
    return _even(width * scale), _even(height * scale)


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def _frame_rate(path: Path) -> float:
    with open_video(path) as container:
        if not container.streams.video:
            raise MediaError(f"no video stream in {path.name}")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
    return float(rate) if rate else 30.0


def _encode(source: Path, dest: Path, plan: EncodePlan) -> None:
    """One encode of ``source`` into ``dest`` following ``plan``."""
    with open_video(source) as inp:
        video_in = inp.streams.video[0]
        video_in.thread_type = "AUTO"
        audio_in = inp.streams.audio[0] if inp.streams.audio and plan.audio_bitrate else None
        try:
            with av.open(
                str(dest), mode="w", format="mp4", options={"movflags": "+faststart"}
            ) as out:
                video_out = _add_video_stream(out, video_in, plan)
                audio_out = _add_audio_stream(out, audio_in, plan) if audio_in else None
                wanted = [video_in] + ([audio_in] if audio_in else [])
                for packet in inp.demux(*wanted):
                    for frame in packet.decode():
                        if isinstance(frame, av.video.frame.VideoFrame):
                            out.mux(video_out.encode(_scaled_frame(frame, plan)))
                        elif audio_out is not None:
                            out.mux(audio_out.encode(frame))
                out.mux(video_out.encode(None))
                if audio_out is not None:
                    out.mux(audio_out.encode(None))
        except av.FFmpegError as exc:
            raise MediaError(f"re-encoding failed: {exc}") from exc


def _add_video_stream(
    out: av.container.OutputContainer, video_in: av.stream.Stream, plan: EncodePlan
) -> av.VideoStream:
    rate = video_in.average_rate or video_in.guessed_rate or Fraction(30)
    stream = out.add_stream("libx264", rate=rate)
    stream.width, stream.height, stream.pix_fmt = plan.width, plan.height, "yuv420p"
    stream.bit_rate = plan.video_bitrate
    # Keep the source's timestamps as they are (variable frame rate survives).
    if video_in.time_base is not None:
        stream.codec_context.time_base = video_in.time_base
    stream.options = {
        "preset": "veryfast",
        "maxrate": str(int(plan.video_bitrate * 1.25)),
        "bufsize": str(int(plan.video_bitrate * 2)),
    }
    return stream


def _add_audio_stream(
    out: av.container.OutputContainer, audio_in: av.stream.Stream, plan: EncodePlan
) -> av.AudioStream:
    rate = audio_in.codec_context.sample_rate or 44_100
    stream = out.add_stream("aac", rate=rate)
    stream.layout = "mono" if audio_in.codec_context.channels == 1 else "stereo"
    stream.bit_rate = plan.audio_bitrate
    return stream


def _scaled_frame(frame: av.video.frame.VideoFrame, plan: EncodePlan) -> av.video.frame.VideoFrame:
    scaled = frame.reformat(width=plan.width, height=plan.height, format="yuv420p")
    scaled.pts, scaled.time_base = frame.pts, frame.time_base
    # The decoder's I/P/B labels would force x264's frame types: let it choose.
    scaled.pict_type = av.video.frame.PictureType.NONE
    return scaled
