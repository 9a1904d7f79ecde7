"""``BoundedTransport``: requests beyond the limit wait for a permit, which a response
holds until it is closed; the client's pool timeout bounds the wait."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.providers.transport import BoundedTransport


class Body(httpx.AsyncByteStream):
    """A body read from the network (a real transport's, not pre-read like ``content=``)."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"x" * 10


class GatedRelay:
    """A mock relay whose answers wait for ``gate``; counts the requests being served."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.serving = 0
        self.most = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.serving += 1
        self.most = max(self.most, self.serving)
        try:
            await self.gate.wait()
        finally:
            self.serving -= 1
        return httpx.Response(200, stream=Body())


async def test_no_more_than_the_limit_in_flight_and_all_answered() -> None:
    relay = GatedRelay()
    transport = BoundedTransport(3, inner=httpx.MockTransport(relay))
    async with httpx.AsyncClient(transport=transport) as client:
        calls = [asyncio.create_task(client.get(f"http://relay/{n}")) for n in range(10)]
        for _ in range(20):
            await asyncio.sleep(0)
        assert relay.serving == 3  # the other seven wait in the transport
        relay.gate.set()
        answers = await asyncio.gather(*calls)
    assert relay.most == 3
    assert [a.status_code for a in answers] == [200] * 10
    assert all(a.content == b"x" * 10 for a in answers)


async def test_a_streamed_response_holds_its_permit_until_closed() -> None:
    relay = GatedRelay()
    relay.gate.set()
    transport = BoundedTransport(1, inner=httpx.MockTransport(relay))
    async with httpx.AsyncClient(transport=transport) as client:
        async with client.stream("GET", "http://relay/video") as first:
            second = asyncio.create_task(client.get("http://relay/status"))
            for _ in range(20):
                await asyncio.sleep(0)
            assert not second.done()  # the download still holds the only permit
            assert await first.aread() == b"x" * 10
        assert (await second).status_code == 200


async def test_the_pool_timeout_bounds_the_wait_and_failures_give_the_permit_back() -> None:
    relay = GatedRelay()

    async def refusing(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/broken":
            raise httpx.ConnectError("refused", request=request)
        return await relay(request)

    transport = BoundedTransport(1, inner=httpx.MockTransport(refusing))
    async with httpx.AsyncClient(
        transport=transport, timeout=httpx.Timeout(5.0, pool=0.05)
    ) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("http://relay/broken")
        hanging = asyncio.create_task(client.get("http://relay/slow"))  # takes the permit
        for _ in range(20):
            await asyncio.sleep(0)
        with pytest.raises(httpx.PoolTimeout):
            await client.get("http://relay/next")
        relay.gate.set()
        assert (await hanging).status_code == 200
        assert (await client.get("http://relay/after")).status_code == 200


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        BoundedTransport(0)
