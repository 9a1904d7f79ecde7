"""``async with`` for the things the bot starts and stops (adapters, servers)."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class StartStop:
    """Base of a service with ``start()`` and ``stop()``: ``async with`` starts it and
    always stops it, whatever ends the block."""

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
