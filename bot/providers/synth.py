"""Synthesise small, real, playable MP4s (H.264 + AAC) with PyAV, for the simulator and tests.

The picture is a moving gradient with a progress bar, the sound a soft tone, so a person
opening the demo's output sees and hears that it is a real video.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import av.audio.frame

SAMPLE_RATE = 44_100
_AUDIO_FRAME = 1024


def synthesize_mp4(
    path: Path,
    *,
    seconds: float = 2.0,
    width: int = 320,
    height: int = 568,
    fps: int = 12,
    seed: int = 0,
    bitrate: int | None = None,
    padding_bytes: int = 0,
) -> Path:
    """Write an MP4 of ``seconds`` at ``width``x``height`` to ``path`` and return it.

    ``seed`` varies the colours (so remixes look different); ``bitrate`` (bits/s) makes
    larger files for the oversize path; ``padding_bytes`` appends a ``free`` box so a test
    can have a big file without a long encode.
    """
    width -= width % 2
    height -= height % 2
    frames = max(1, round(seconds * fps))
    with av.open(str(path), mode="w", format="mp4") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "ultrafast", "tune": "zerolatency"}
        if bitrate:
            video.bit_rate = bitrate
            video.options = {"preset": "ultrafast", "x264-params": "nal-hrd=cbr"}
        audio = container.add_stream("aac", rate=SAMPLE_RATE)
        audio.layout = "mono"

        for index in range(frames):
            frame = _frame(width, height, index, frames, seed)
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)

        total_samples = int(seconds * SAMPLE_RATE)
        pitch = 330.0 + 55.0 * (seed % 5)
        for start in range(0, total_samples, _AUDIO_FRAME):
            count = min(_AUDIO_FRAME, total_samples - start)
            samples = bytearray()
            for n in range(start, start + count):
                value = 0.15 * math.sin(2 * math.pi * pitch * n / SAMPLE_RATE)
                samples += int(value * 32767).to_bytes(2, "little", signed=True)
            aframe = av.audio.frame.AudioFrame(format="s16", layout="mono", samples=count)
            aframe.planes[0].update(bytes(samples))
            aframe.sample_rate = SAMPLE_RATE
            aframe.pts = start
            aframe.time_base = Fraction(1, SAMPLE_RATE)
            for packet in audio.encode(aframe):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)
    if padding_bytes > 0:
        _append_free_box(path, padding_bytes)
    return path


def _frame(width: int, height: int, index: int, frames: int, seed: int) -> av.VideoFrame:
    """One yuv420p frame: a luma gradient drifting over time, a tint per seed, a time bar."""
    frame = av.VideoFrame(width, height, "yuv420p")
    shift = (index * 4 + seed * 37) % 256
    ramp = bytes((x * 200 // width + shift) % 200 + 28 for x in range(width))
    bar_rows = max(4, height // 40)
    bar = b"\xeb" * int(width * (index + 1) / frames)
    bar_row = bar + ramp[len(bar) :]
    y_plane = frame.planes[0]
    stride = y_plane.line_size
    rows = [
        (bar_row if y >= height - bar_rows else ramp[(y // 8) % 8 :] + ramp[: (y // 8) % 8])
        for y in range(height)
    ]
    y_plane.update(b"".join(row.ljust(stride, b"\0") for row in rows))
    # chroma near neutral (128) with a gentle tint per seed that drifts over time
    tint_u = 96 + (seed * 47) % 64
    tint_v = 96 + (seed * 89 + index // 2) % 64
    for plane_index, value in ((1, tint_u), (2, tint_v)):
        plane = frame.planes[plane_index]
        plane.update(bytes([value]) * (plane.line_size * plane.height))
    return frame


def _append_free_box(path: Path, size: int) -> None:
    """Append an ISO-BMFF ``free`` box: players skip it, the file grows by ``size`` bytes."""
    size = max(size, 8)
    with path.open("ab") as fh:
        fh.write(size.to_bytes(4, "big") + b"free")
        remaining = size - 8
        chunk = b"\0" * min(remaining, 1 << 20)
        while remaining > 0:
            fh.write(chunk[: min(remaining, len(chunk))])
            remaining -= min(remaining, len(chunk))
