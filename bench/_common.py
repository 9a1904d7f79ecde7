"""What the load and freshness benchmarks share: clocks, meters, child services, output.

- ``ScaledClock``: platform time running ``scale`` times faster than real time, the same in
  every process (it is derived from ``time.monotonic``, which is system-wide on Linux);
- ``PeakRss``, ``LoopLag``, ``cpu_seconds``: this process's own figures;
- ``Service``: an asyncio server (the relay, a fake platform) in a niced child process,
  driven by commands over a pipe, so that its CPU and memory are not the bot's;
- ``quantile``, ``print_table``, ``machine``, ``write_json``: reporting.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import math
import multiprocessing
import os
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the benchmarks import bot/, adapters/ and tests/
    sys.path.insert(0, str(ROOT))


# --------------------------------------------------------------------------- clocks


@dataclass(frozen=True, slots=True)
class ScaledClock:
    """A monotonic clock running ``scale`` times faster than real time from ``origin``.

    The bot's status boards and a fake platform's flood control both read it, so the
    platform's real budgets (seconds between edits) are enforced ``scale`` times faster.
    Picklable: a child process rebuilds the very same clock."""

    origin: float
    scale: float = 1.0

    def __call__(self) -> float:
        return self.origin + (time.monotonic() - self.origin) * self.scale

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.scale)

    def to_real(self, moment: float) -> float:
        """The ``time.monotonic`` value at which this clock showed ``moment``."""
        return self.origin + (moment - self.origin) / self.scale


# --------------------------------------------------------------------------- meters


class PeakRss:
    """This process's peak resident set size, sampled by a thread (so a blocked event loop
    cannot hide a peak) while the ``with`` block runs."""

    def __init__(self, every: float = 0.02) -> None:
        self._process = psutil.Process()
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="peak-rss", daemon=True)
        self.peak = 0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            self._stop.wait(self._every)

    def __enter__(self) -> PeakRss:
        self.peak = self._process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)


class LoopLag:
    """Event-loop lag: how late a task asking to sleep ``period`` seconds wakes up. Stalls
    over ``stall`` seconds are kept with their time (seconds since the start) to diagnose."""

    def __init__(self, period: float = 0.01, stall: float = 0.25) -> None:
        self.period = period
        self.stall = stall
        self.samples: list[float] = []  # seconds
        self.stalls: list[tuple[float, float]] = []  # (at, lag) in seconds
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        origin = time.perf_counter()
        while True:
            start = time.perf_counter()
            await asyncio.sleep(self.period)
            lag = max(0.0, time.perf_counter() - start - self.period)
            self.samples.append(lag)
            if lag > self.stall:
                self.stalls.append((start - origin, lag))

    async def __aenter__(self) -> LoopLag:
        self._task = asyncio.create_task(self._run(), name="loop-lag")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def summary_ms(self) -> dict[str, Any]:
        values = [x * 1000 for x in self.samples] or [0.0]
        worst = sorted(self.stalls, key=lambda s: -s[1])[:5]
        return {
            "p50": quantile(values, 0.50),
            "p99": quantile(values, 0.99),
            "max": max(values),
            "worst_stalls": [[round(at, 1), round(lag * 1000)] for at, lag in worst],
        }


class GcPauses:
    """The garbage collector's pauses while the ``with`` block runs (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.pauses: list[float] = []  # seconds
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append(time.perf_counter() - self._started)

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def summary_ms(self) -> dict[str, float]:
        return {
            "count": len(self.pauses),
            "total": sum(self.pauses) * 1000,
            "max": max(self.pauses, default=0.0) * 1000,
        }


def cpu_seconds() -> float:
    """CPU time (user + system) of this process so far, all its threads included."""
    times = psutil.Process().cpu_times()
    return float(times.user + times.system)


# --------------------------------------------------------------------------- child services

Handler = Callable[[str, Any], Awaitable[Any]]


class ServiceError(RuntimeError):
    """A child service failed; the message carries its traceback."""


class Service:
    """An asyncio server in a child process, at a lower priority (it stands in for a remote
    machine and must not take the bot's CPU), answering commands sent over a pipe.

    ``target(conn, *args)`` runs in the child: it builds its server, then hands a handler
    to :func:`serve_commands`. The first message it sends is its greeting (URLs...)."""

    def __init__(self, target: Callable[..., None], *args: Any) -> None:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited loop
        self._conn, child = context.Pipe()
        self._process = context.Process(target=target, args=(child, *args), daemon=True)
        self.greeting: Any = None

    def start(self, timeout: float = 60.0) -> Any:
        self._process.start()
        self.greeting = self._receive(timeout)
        return self.greeting

    def _receive(self, timeout: float) -> Any:
        if not self._conn.poll(timeout):
            raise ServiceError(f"no answer from the child service within {timeout:.0f} s")
        kind, value = self._conn.recv()
        if kind == "error":
            raise ServiceError(value)
        return value

    async def call(self, command: str, payload: Any = None, within: float = 120.0) -> Any:
        """Send ``command`` and wait (off the event loop) ``within`` seconds for its answer."""
        self._conn.send((command, payload))
        return await asyncio.to_thread(self._receive, within)

    def stop(self) -> None:
        if self._process.is_alive():
            with contextlib.suppress(BrokenPipeError, OSError):
                self._conn.send(("stop", None))
            self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=5)


def run_child(conn: Connection, main: Callable[[], Awaitable[None]]) -> None:
    """The body of a child service: lower priority, run ``main``, report a crash."""
    os.nice(10)
    try:
        asyncio.run(main())
    except BaseException:
        import traceback

        conn.send(("error", traceback.format_exc()))
        raise


async def serve_commands(conn: Connection, greeting: Any, handler: Handler) -> None:
    """Send ``greeting``, then answer every command with ``handler`` until ``stop``."""
    conn.send(("ok", greeting))
    while True:
        command, payload = await asyncio.to_thread(conn.recv)
        if command == "stop":
            return
        try:
            conn.send(("ok", await handler(command, payload)))
        except Exception:
            import traceback

            conn.send(("error", traceback.format_exc()))


# --------------------------------------------------------------------------- reporting


def quantile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0 < q ≤ 1); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return float(ordered[rank - 1])


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain text table, columns right-aligned."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)))
    for row in cells:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def machine() -> dict[str, Any]:
    """Where and when the figures were taken."""
    model = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "cpu": model,
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def write_json(path: str | None, data: dict[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
