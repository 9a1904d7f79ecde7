"""Benchmark: the download and upload path of a finished video, 10 MB and 200 MB.

For each size, a synthesised MP4 padded to that size is

1. downloaded from a local HTTP server (``aiohttp`` ``FileResponse``, streamed from disk) by
   ``bot.media.download_video``: streamed in 64 KiB chunks to a ``.part`` file, renamed,
   then probed with PyAV — what every provider does with a finished video;
2. uploaded by the Telegram adapter's outbox (``TelegramOutbox.send_video``: the real
   python-telegram-bot ``sendVideo``, multipart over httpx) to the fake Bot API of the
   tests (``tests/telegram_fake.py``), as a self-hosted Bot API server (2,000 MB limit)
   would receive it.

Both servers run in a child process, so this process's figures are the bot's alone. The
resident set size is sampled by a thread every 2 ms (a thread, so a phase that blocks the
event loop is still seen); the baseline is taken right before each phase, after a warm-up
download and upload of a small file (imports, PyAV and PTB initialisation not counted).

Targets: every byte arrives (sizes checked on both ends); the peak RSS rise of a download
stays under 20 MB whatever the size; so does an upload's (``--upload-target-mb``).

    python bench/transfer.py [--sizes 10 200] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import psutil
from aiohttp import web
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.telegram import build_application  # noqa: E402
from adapters.telegram.outbox import TelegramOutbox  # noqa: E402
from bot.config import TelegramConfig  # noqa: E402
from bot.media import download_video  # noqa: E402
from bot.models import Conversation, Platform, VideoFile  # noqa: E402
from bot.providers.synth import synthesize_mp4  # noqa: E402
from tests.telegram_fake import TOKEN, FakeBotApi  # noqa: E402

MB = 1_000_000
DOWNLOAD_TARGET_MB = 20.0
SAMPLE_EVERY = 0.002


@dataclass(frozen=True, slots=True)
class Phase:
    """One measured transfer."""

    direction: str  # "download" | "upload"
    size_mb: int
    bytes: int
    seconds: float
    baseline_rss_mb: float
    peak_rss_mb: float
    cpu_s: float  # this process's CPU time (user + system), the sampler thread included
    samples: int

    @property
    def rise_mb(self) -> float:
        return self.peak_rss_mb - self.baseline_rss_mb

    @property
    def throughput_mb_s(self) -> float:
        return self.bytes / MB / self.seconds


class PeakRss:
    """Samples this process's RSS from a thread while the ``with`` block runs."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self.baseline = 0
        self.peak = 0
        self.samples = 0
        self.cpu = 0.0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            self.samples += 1
            self._stop.wait(SAMPLE_EVERY)

    def __enter__(self) -> PeakRss:
        gc.collect()
        self.baseline = self.peak = self._process.memory_info().rss
        self.cpu = -self._cpu()
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)
        self.cpu += self._cpu()

    def _cpu(self) -> float:
        times = self._process.cpu_times()
        return times.user + times.system


def make_source(directory: Path, size_mb: int) -> Path:
    """A real 2 s clip, grown to ``size_mb`` MB with a trailing ``free`` box.

    Encoded once to learn its size, then again (the encoder is deterministic) with the
    padding that brings it to the exact size.
    """
    path = directory / f"source-{size_mb}.mp4"
    synthesize_mp4(path, seconds=2, width=320, height=568)
    padding = max(0, size_mb * MB - path.stat().st_size)
    return synthesize_mp4(path, seconds=2, width=320, height=568, padding_bytes=padding)


# --------------------------------------------------------------------------- the child process


def _serve(
    files: dict[str, str], ready: multiprocessing.Queue[Any], stop: EventType
) -> None:  # pragma: no cover - runs in the child
    """The CDN (files by name) and the fake Bot API, until ``stop``; then report what the
    Bot API received: ``[(chat_id, video bytes)]``."""

    async def main() -> None:
        async def file(request: web.Request) -> web.StreamResponse:
            return web.FileResponse(files[request.match_info["name"]])

        app = web.Application()
        app.add_routes([web.get("/{name}", file)])
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        cdn = f"http://127.0.0.1:{runner.addresses[0][1]}"
        async with FakeBotApi() as fake:
            ready.put((cdn, fake.url))
            while not stop.is_set():  # noqa: ASYNC110 - a process Event cannot be awaited
                await asyncio.sleep(0.05)
            ready.put([(u.chat_id, u.file_size("video")) for u in fake.videos])
        await runner.cleanup()

    asyncio.run(main())


# --------------------------------------------------------------------------- the measured side


async def measure(
    sources: dict[int, Path], warmup: Path, cdn: str, api: str, work: Path
) -> list[Phase]:
    app = build_application(TelegramConfig(token=SecretStr(TOKEN), api_url=api))
    await app.bot.initialize()
    outbox = TelegramOutbox(app.bot, upload_limit_mb=2000)
    phases: list[Phase] = []
    try:
        async with httpx.AsyncClient() as client:
            # Warm-up: every code path (httpx, h11, PyAV, PTB's multipart) once.
            small = await download_video(client, f"{cdn}/{warmup.name}", work, max_bytes=10 * MB)
            await _upload(outbox, small, chat=1)
            for chat, (size_mb, source) in enumerate(sorted(sources.items()), start=2):
                url = f"{cdn}/{source.name}"
                with PeakRss() as rss:
                    started = time.perf_counter()
                    video = await download_video(client, url, work, max_bytes=(size_mb + 10) * MB)
                    seconds = time.perf_counter() - started
                phases.append(_phase("download", size_mb, video.size_bytes, seconds, rss))
                with PeakRss() as rss:
                    started = time.perf_counter()
                    await _upload(outbox, video, chat=chat)
                    seconds = time.perf_counter() - started
                phases.append(_phase("upload", size_mb, video.size_bytes, seconds, rss))
                video.path.unlink()
    finally:
        await app.bot.shutdown()
    return phases


async def _upload(outbox: TelegramOutbox, video: VideoFile, *, chat: int) -> None:
    """One ``sendVideo`` into its own private chat (the fake's flood limit is per chat)."""
    conversation = Conversation(Platform.TELEGRAM, scope="direct", channel=str(chat))
    await outbox.send_video(
        conversation,
        video,
        caption="bench",
        thumbnail=None,
        reply_to=None,
        job_id=f"bench{chat}",
        buttons=False,
    )


def _phase(direction: str, size_mb: int, size: int, seconds: float, rss: PeakRss) -> Phase:
    return Phase(
        direction, size_mb, size, seconds, rss.baseline / MB, rss.peak / MB, rss.cpu, rss.samples
    )


# --------------------------------------------------------------------------- report


def commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
    except OSError:
        return None
    return out.stdout.strip() or None


def report(phases: list[Phase], upload_target: float) -> bool:
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}")
    print(
        f"{'path':<9} {'size':>7} {'seconds':>8} {'MB/s':>6} {'CPU s':>6} {'RSS before':>10} "
        f"{'RSS peak':>9} {'rise':>7}  target"
    )
    passed = True
    for p in phases:
        target = DOWNLOAD_TARGET_MB if p.direction == "download" else upload_target
        ok = p.rise_mb < target
        passed = passed and ok
        print(
            f"{p.direction:<9} {p.size_mb:>4} MB {p.seconds:>8.2f} {p.throughput_mb_s:>6.0f} "
            f"{p.cpu_s:>6.2f} "
            f"{p.baseline_rss_mb:>7.1f} MB {p.peak_rss_mb:>6.1f} MB {p.rise_mb:>4.1f} MB  "
            f"{'PASS' if ok else 'FAIL'} (< {target:g} MB)"
        )
    return passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 200], help="sizes in MB")
    parser.add_argument(
        "--upload-target-mb",
        type=float,
        default=DOWNLOAD_TARGET_MB,
        help="largest acceptable peak RSS rise of an upload",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sora-bench-transfer-") as tmp:
        work = Path(tmp)
        sources = {size: make_source(work, size) for size in args.sizes}
        warmup = synthesize_mp4(work / "warmup.mp4", seconds=1, width=320, height=568)
        files = {p.name: str(p) for p in [warmup, *sources.values()]}
        ready: multiprocessing.Queue[Any] = multiprocessing.Queue()
        stop = multiprocessing.Event()
        child = multiprocessing.Process(target=_serve, args=(files, ready, stop), daemon=True)
        child.start()
        try:
            cdn, api = ready.get(timeout=30)
            phases = asyncio.run(measure(sources, warmup, cdn, api, work / "downloads"))
        finally:
            stop.set()
        received = dict(ready.get(timeout=30))
        child.join(timeout=10)
    passed = report(phases, args.upload_target_mb)
    expected = {chat: p.bytes for chat, p in enumerate(phases[1::2], start=2)}
    complete = all(received.get(chat) == size for chat, size in expected.items())
    if not complete:
        print(f"FAIL  the Bot API received {received}, expected {expected}")
    if args.json:
        document = {
            "benchmark": "transfer",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": commit(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "results": [
                asdict(p) | {"rise_mb": p.rise_mb, "mb_s": p.throughput_mb_s} for p in phases
            ],
            "received_complete": complete,
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return 0 if passed and complete else 1


if __name__ == "__main__":
    sys.exit(main())
