"""Benchmark: does downloading a big MP4 keep memory flat?

Serves a synthesised MP4 padded to ``--mb`` MB from an aiohttp server on 127.0.0.1
(``FileResponse``: streamed from disk), downloads it with ``bot.media.download_video``
(streamed in 64 KiB chunks, then probed), and samples this process's RSS every ~5 ms in a
background task. Server and client share the process, so the figure is an upper bound for
the client alone. Target: peak RSS rise during the download < 20 MB.

    python bench/download_rss.py [--mb 200]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from aiohttp import web

from bot.media import download_video
from bot.providers.synth import synthesize_mp4

TARGET_RISE_MB = 20.0
SAMPLE_EVERY = 0.005
MB = 1_000_000


@dataclass(frozen=True, slots=True)
class Result:
    size_bytes: int
    seconds: float
    baseline_rss: int
    peak_rss: int
    samples: int

    @property
    def rise_mb(self) -> float:
        return (self.peak_rss - self.baseline_rss) / MB

    @property
    def throughput_mb_s(self) -> float:
        return self.size_bytes / MB / self.seconds


def make_source(directory: Path, size_mb: int) -> Path:
    """A real 2 s clip, grown to ``size_mb`` MB with a trailing ``free`` box.

    Encoded once to learn its size, then again (the encoder is deterministic) with the
    padding that brings it to the exact size.
    """
    path = directory / "source.mp4"
    synthesize_mp4(path, seconds=2, width=320, height=568)
    padding = max(0, size_mb * MB - path.stat().st_size)
    return synthesize_mp4(path, seconds=2, width=320, height=568, padding_bytes=padding)


async def serve(files: dict[str, Path]) -> tuple[web.AppRunner, str]:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(files[request.match_info["name"]])

    app = web.Application()
    app.add_routes([web.get("/{name}", handler)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


async def sample_peak(process: psutil.Process, stop: asyncio.Event) -> tuple[int, int]:
    """Highest RSS seen until ``stop`` is set, and the number of samples taken."""
    peak, samples = 0, 0
    while not stop.is_set():
        peak = max(peak, process.memory_info().rss)
        samples += 1
        await asyncio.sleep(SAMPLE_EVERY)
    return max(peak, process.memory_info().rss), samples + 1


async def run(size_mb: int, workdir: Path) -> Result:
    source = make_source(workdir, size_mb)
    warmup = synthesize_mp4(workdir / "warmup.mp4", seconds=1, width=320, height=568)
    runner, base = await serve({"big.mp4": source, "warmup.mp4": warmup})
    process = psutil.Process()
    try:
        async with httpx.AsyncClient() as client:
            # Warm-up: import and initialise every code path (httpx, h11, PyAV) once.
            await download_video(client, f"{base}/warmup.mp4", workdir / "out", max_bytes=10 * MB)
            gc.collect()
            baseline = process.memory_info().rss
            stop = asyncio.Event()
            sampler = asyncio.create_task(sample_peak(process, stop))
            started = time.perf_counter()
            video = await download_video(
                client, f"{base}/big.mp4", workdir / "out", max_bytes=(size_mb + 10) * MB
            )
            elapsed = time.perf_counter() - started
            stop.set()
            peak, samples = await sampler
    finally:
        await runner.cleanup()
    assert video.size_bytes == source.stat().st_size, "downloaded size differs from the source"
    return Result(video.size_bytes, elapsed, baseline, peak, samples)


def report(result: Result) -> bool:
    passed = result.rise_mb < TARGET_RISE_MB
    rows = [
        ("file size", f"{result.size_bytes / MB:.1f} MB"),
        ("download + probe time", f"{result.seconds:.2f} s"),
        ("throughput", f"{result.throughput_mb_s:.0f} MB/s"),
        ("RSS baseline", f"{result.baseline_rss / MB:.1f} MB"),
        ("RSS peak", f"{result.peak_rss / MB:.1f} MB"),
        ("peak RSS rise", f"{result.rise_mb:.1f} MB"),
        ("RSS samples", str(result.samples)),
        (f"target rise < {TARGET_RISE_MB:g} MB", "PASS" if passed else "FAIL"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"python {platform.python_version()}, {psutil.cpu_count()} CPUs, {platform.machine()}")
    for name, value in rows:
        print(f"  {name:<{width}}  {value:>12}")
    return passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="size of the served MP4 in MB")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sora-bench-") as tmp:
        result = asyncio.run(run(args.mb, Path(tmp)))
    return 0 if report(result) else 1


if __name__ == "__main__":
    sys.exit(main())
