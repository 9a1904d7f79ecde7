"""Virtual time for ``bench/freshness.py``: an event loop whose clock jumps ahead whenever
nothing is ready to run, and a database that answers on the loop's own thread.

With them a ten-minute job runs in a fraction of a second and every run is the same: the
loop's ``time()`` is the only clock the bot reads (its status boards, ``asyncio.sleep``,
``asyncio.timeout``), and nothing runs outside the loop's thread — ``run_in_executor``
(hence ``asyncio.to_thread``: probing and thumbnailing the video) runs inline, and
``InlineDatabase`` runs each SQL statement inline instead of on aiosqlite's worker thread —
so time never jumps while some work is still under way elsewhere.
"""

from __future__ import annotations

import asyncio
import selectors
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, TypeVar

from storage.db import Database

T = TypeVar("T")


class _JumpingSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """Polls for I/O without waiting; when the loop would wait ``timeout`` seconds for its
    next timer, the virtual clock moves on by that much instead."""

    def __init__(self, advance: Callable[[float], None]) -> None:
        super().__init__()
        self._advance = advance

    def select(self, timeout: float | None = None) -> list[tuple[Any, int]]:
        ready: list[tuple[Any, int]] = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:  # no timer at all: only real I/O could wake us
            return super().select(None)  # type: ignore[no-any-return]
        self._advance(timeout)
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop on virtual time (module docstring). ``time()`` starts at 0."""

    def __init__(self) -> None:
        self._virtual_now = 0.0
        super().__init__(_JumpingSelector(self._advance))

    def _advance(self, seconds: float) -> None:
        self._virtual_now += seconds

    def time(self) -> float:
        return self._virtual_now

    def run_in_executor(  # type: ignore[override]
        self, executor: Executor | None, func: Callable[..., T], *args: Any
    ) -> asyncio.Future[T]:
        future: asyncio.Future[T] = self.create_future()
        try:
            future.set_result(func(*args))
        except BaseException as exc:  # handed to the awaiting coroutine, as an executor would
            future.set_exception(exc)
        return future


class InlineDatabase(Database):
    """The repositories' ``Database``, answering on the calling thread (plain ``sqlite3``,
    same pragmas). Open the file once with ``Database.open`` first, to migrate it."""

    def __init__(self, path: Path) -> None:  # no aiosqlite connection: not calling super
        self._path = path
        self._sync = sqlite3.connect(path, isolation_level=None)
        self._sync.row_factory = sqlite3.Row
        for pragma in ("journal_mode = WAL", "foreign_keys = ON", "synchronous = NORMAL"):
            self._sync.execute(f"PRAGMA {pragma}")

    async def fetch_all(
        self, sql: str, params: Mapping[str, object] | Sequence[object] = ()
    ) -> list[sqlite3.Row]:
        return self._sync.execute(sql, params).fetchall()

    def close(self) -> None:
        self._sync.close()
