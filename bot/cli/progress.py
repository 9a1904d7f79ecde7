"""A one-line terminal progress display for ``sora-bot generate`` (no dependency needed).

On a TTY the line is redrawn in place; otherwise (CI logs, pipes) a line is printed only
when the phase or the percent changes, so logs stay short and readable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 28


class ProgressLine:
    def __init__(
        self, stream: TextIO | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._clock = clock
        self._started = clock()
        self._last: tuple[str, int | None] | None = None

    def show(self, phase: str, percent: int | None = None) -> None:
        if (phase, percent) == self._last:
            return
        self._last = (phase, percent)
        elapsed = self._clock() - self._started
        minutes, seconds = divmod(int(elapsed), 60)
        if percent is None:
            bar = " " * BAR_WIDTH
            figure = "    "
        else:
            filled = BAR_WIDTH * percent // 100
            bar = "█" * filled + "░" * (BAR_WIDTH - filled)
            figure = f"{percent:3d}%"
        line = f"[{bar}] {figure}  {phase:<12} {minutes}:{seconds:02d}"
        if self._tty:
            self._stream.write("\r" + line + "\x1b[K")
        else:
            self._stream.write(line + "\n")
        self._stream.flush()

    def done(self, message: str) -> None:
        if self._tty:
            self._stream.write("\n")
        self._stream.write(message + "\n")
        self._stream.flush()
