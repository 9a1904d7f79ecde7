"""ProviderSlots: FIFO order, positions, and cancellation at awkward moments."""

from __future__ import annotations

import asyncio

import pytest

from bot.queue import ProviderSlots


async def test_fifo_with_positions() -> None:
    slots = ProviderSlots(1)
    order: list[str] = []
    positions: dict[str, list[int]] = {"b": [], "c": []}
    gate = asyncio.Event()

    async def job(name: str) -> None:
        async with slots.slot(positions.setdefault(name, []).append):
            order.append(name)
            if name == "a":
                await gate.wait()

    tasks = [asyncio.create_task(job(n)) for n in "abc"]
    await asyncio.sleep(0)
    assert slots.running == 1 and slots.waiting == 2
    assert positions["b"] == [1] and positions["c"] == [2]
    gate.set()
    await asyncio.gather(*tasks)
    assert order == ["a", "b", "c"]
    assert positions["c"] == [2, 1]  # told when it moved up
    assert slots.running == 0


async def test_cancelling_holder_and_waiter_together_leaks_nothing() -> None:
    """Shutdown cancels every job in one step: a waiter already dropped by the holder's
    release must still end in CancelledError (not ValueError) and leave no slot taken."""
    slots = ProviderSlots(1)
    hold = asyncio.Event()

    async def holder() -> None:
        async with slots.slot(lambda n: None):
            await hold.wait()

    async def waiter() -> None:
        async with slots.slot(lambda n: None):
            raise AssertionError("must not run")

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    second = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    first.cancel()  # the holder releases first, dropping the waiter's cancelled entry
    second.cancel()
    results = await asyncio.gather(first, second, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
    assert slots.running == 0 and slots.waiting == 0


async def test_a_cancelled_waiter_gives_its_place_to_the_next() -> None:
    slots = ProviderSlots(1)
    hold = asyncio.Event()
    ran: list[str] = []

    async def job(name: str) -> None:
        async with slots.slot(lambda n: None):
            ran.append(name)
            if name == "a":
                await hold.wait()

    a = asyncio.create_task(job("a"))
    await asyncio.sleep(0)
    b = asyncio.create_task(job("b"))
    c = asyncio.create_task(job("c"))
    await asyncio.sleep(0)
    b.cancel()
    with pytest.raises(asyncio.CancelledError):
        await b
    hold.set()
    await asyncio.gather(a, c)
    assert ran == ["a", "c"]
