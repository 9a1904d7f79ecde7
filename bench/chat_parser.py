"""Benchmark: how fast do the chat format's parsers read a stream?

Three transcript workloads go through ``TranscriptParser.feed`` in small deltas (the way a
relay streams tokens), and two SSE workloads through ``SSEJSONDecoder`` line by line:

- seed 002's assistant text, repeated to ~1 MB, in 10-byte and in 3-byte deltas;
- a synthetic ~1 MB transcript of long progress lines (``进度 1..2..….99..``, ~300
  characters each): the unfinished line is read at every delta, the worst realistic case;
- one 1 MB line with no newline at all (must stay linear, not quadratic);
- seed 002's SSE stream (one compact JSON per ``data:`` line) repeated to ~10 MB;
- seed 002's documentation example (pretty-printed JSON across lines) repeated to ~5 MB.

"events/s" is deltas fed per second for the transcript rows and JSON payloads decoded per
second for the SSE rows. Real answers are a few kilobytes, so any figure above ~0.1 MB/s
is far more than a relay can send.

    python bench/chat_parser.py [--scale 1.0]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.providers.chat_parser import TranscriptParser
from bot.providers.sse import SSEJSONDecoder

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
FALLBACK_FIXTURES = Path("/work/shared/fixtures")
MB = 1_000_000


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    megabytes: float
    events: int
    seconds: float

    @property
    def mb_s(self) -> float:
        return self.megabytes / self.seconds

    @property
    def events_s(self) -> float:
        return self.events / self.seconds


def fixture(name: str) -> str:
    for directory in (FIXTURES, FALLBACK_FIXTURES):
        if (directory / name).exists():
            return (directory / name).read_text(encoding="utf-8")
    sys.exit(f"fixture {name} not found under {FIXTURES} or {FALLBACK_FIXTURES}")


def repeat_to(text: str, size: int) -> str:
    return text * max(1, size // len(text.encode()))


def time_transcript(name: str, text: str, step: int, check: Callable[[object], bool]) -> Row:
    parser = TranscriptParser()
    started = time.perf_counter()
    for position in range(0, len(text), step):
        parser.feed(text[position : position + step])
    state = parser.finish()
    seconds = time.perf_counter() - started
    if not check(state):
        sys.exit(f"{name}: wrong result {state}")
    deltas = (len(text) + step - 1) // step
    return Row(name, len(text.encode()) / MB, deltas, seconds)


def time_sse(name: str, body: str, expected_payloads: int) -> Row:
    lines = body.splitlines()
    decoder = SSEJSONDecoder()
    payloads = 0
    started = time.perf_counter()
    for line in lines:
        payloads += len(decoder.feed_line(line))
        if decoder.done:
            decoder = SSEJSONDecoder()  # the body is several streams end to end
    payloads += len(decoder.close())
    seconds = time.perf_counter() - started
    if payloads != expected_payloads:
        sys.exit(f"{name}: decoded {payloads} payloads, expected {expected_payloads}")
    return Row(name, len(body.encode()) / MB, payloads, seconds)


def run(scale: float) -> list[Row]:
    seed = fixture("seed002-assistant-content.md") + "\n"
    seed_text = repeat_to(seed, int(MB * scale))
    block = "> 排队中......\n>🏃 进度 " + "..".join(str(n) for n in range(1, 100)) + "..\n"
    progress_text = repeat_to(block, int(MB * scale)) + "[视频文件](https://cdn.test/v)\n"
    one_line = "x" * int(MB * scale) + " https://cdn.test/one.mp4 end"

    def seed_ok(state: object) -> bool:
        return getattr(state, "progress", None) == 81 and getattr(state, "video_url", None)

    rows = [
        time_transcript("transcript: seed 002 x N, 10-byte deltas", seed_text, 10, seed_ok),
        time_transcript("transcript: seed 002 x N, 3-byte deltas", seed_text, 3, seed_ok),
        time_transcript(
            "transcript: long progress lines, 10-byte deltas",
            progress_text,
            10,
            lambda s: getattr(s, "progress", None) == 99,
        ),
        time_transcript(
            "transcript: one 1 MB line, 10-byte deltas",
            one_line,
            10,
            lambda s: getattr(s, "video_url", None) == "https://cdn.test/one.mp4",
        ),
    ]
    stream = fixture("seed002-stream.sse")
    copies = max(1, int(10 * MB * scale) // len(stream.encode()))
    rows.append(time_sse("sse: seed 002 stream x N (compact)", stream * copies, 78 * copies))
    doc = fixture("seed002-doc-example.txt") + "\n\n"
    copies = max(1, int(5 * MB * scale) // len(doc.encode()))
    rows.append(time_sse("sse: seed 002 doc example x N (pretty)", doc * copies, 78 * copies))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="workload size factor")
    args = parser.parse_args()
    print(f"Python {platform.python_version()} on {platform.machine()} ({platform.system()})")
    rows = run(args.scale)
    width = max(len(r.name) for r in rows)
    print(f"{'workload':<{width}}  {'MB':>6}  {'seconds':>8}  {'MB/s':>8}  {'events/s':>10}")
    for r in rows:
        print(
            f"{r.name:<{width}}  {r.megabytes:>6.2f}  {r.seconds:>8.3f}  "
            f"{r.mb_s:>8.2f}  {r.events_s:>10,.0f}"
        )


if __name__ == "__main__":
    main()
