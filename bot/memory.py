"""Give freed heap memory back to the system on glibc.

Each job allocates and frees a few MB across threads (HTTP chunks, PyAV decoding for the
thumbnail, SQLite). glibc keeps freed blocks in per-thread arenas and returns them only
when asked, so a long-running bot's RSS ratchets up although nothing leaks (the load
benchmark, now ``bench/load.py``: ~0.7 MB per job before, flat after). ``malloc_trim(0)``
asks; it is cheap, and we call it at most once per ``interval`` seconds.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


def _load_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


class HeapTrimmer:
    def __init__(self, interval: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._trim = _load_trim()
        self._interval = interval
        self._clock = clock
        self._last = float("-inf")

    @property
    def available(self) -> bool:
        return self._trim is not None

    def maybe_trim(self) -> bool:
        """Trim if the platform can and the last trim is old enough; True if it ran."""
        now = self._clock()
        if self._trim is None or now - self._last < self._interval:
            return False
        self._last = now
        self._trim(0)
        return True
