"""Per-provider concurrency with visible queue positions.

Relays cap concurrent jobs per key (seed 004: two at once), so each provider runs at most
``max_concurrent`` jobs; the others wait in arrival order and are told their position
whenever it changes ("#3 in queue"). A plain ``asyncio.Semaphore`` cannot say where a
waiter stands, hence this small FIFO.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

PositionCallback = Callable[[int], None]


class ProviderSlots:
    """A FIFO semaphore whose waiters learn their 1-based position in the queue."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.running = 0
        self._waiters: deque[tuple[asyncio.Future[None], PositionCallback]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def position_if_queued_now(self) -> int:
        """The position a new arrival would get (0: it would start at once)."""
        if self.running < self.capacity and not self._waiters:
            return 0
        return len(self._waiters) + 1

    @asynccontextmanager
    async def slot(self, on_position: PositionCallback) -> AsyncIterator[None]:
        """Hold one of the provider's slots for the duration of the block."""
        await self._acquire(on_position)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, on_position: PositionCallback) -> None:
        if self.running < self.capacity and not self._waiters:
            self.running += 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (future, on_position)
        self._waiters.append(entry)
        on_position(len(self._waiters))
        try:
            await future
        except BaseException:
            if future.done() and not future.cancelled():
                # we were handed a slot just as we were cancelled: pass it on
                self._release()
            else:
                # _release may already have dropped our cancelled entry from the deque
                with contextlib.suppress(ValueError):
                    self._waiters.remove(entry)
                self._announce()
            raise

    def _release(self) -> None:
        self.running -= 1
        while self._waiters and self.running < self.capacity:
            future, _ = self._waiters.popleft()
            if future.done():
                continue
            self.running += 1
            future.set_result(None)
        self._announce()

    def _announce(self) -> None:
        for index, (future, on_position) in enumerate(self._waiters, start=1):
            if not future.done():
                on_position(index)
