"""An httpx transport that bounds the requests in flight, so httpcore's pool never queues.

Why: with more requests than ``max_connections`` in flight, httpcore 1.0's connection pool
re-scans every connection for every queued request on each request start and end
(quadratic; https://github.com/encode/httpcore/pull/1035), and it closes idle connections
as soon as the pool holds more than ``max_keepalive_connections`` of *any* kind (same PR,
"bug 1"), so busy pools reconnect all the time. Measured with ``bench/load.py`` (1,000 jobs
polling a relay that answered slowly): the pool took 60 % of the event loop, the loop
stalled for up to 15 s, polls timed out and jobs failed. Waiting here, on an
``asyncio.Semaphore``, instead of in the pool keeps each pass short, and a keep-alive limit
equal to the connection limit keeps the connections open (figures at ``DEFAULT_LIMIT``
and in ``docs/performance.md``).

A permit is held from the request until its response is closed (a streamed download holds
one for as long as it streams), exactly as a pooled connection would be, and the client's
pool timeout bounds the wait for one (``httpx.PoolTimeout``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx

# requests in flight (and connections kept) per client. The pool still scans all its
# connections once for each idle one (httpcore connection_pool.py:294), so fewer is
# cheaper. bench/load.py, 1,000 jobs polling every 5 s a relay answering in 1.5 s: 100 →
# 0.03 CPU s per job, loop lag p99 22 ms; 200 → 0.11 s, p99 495 ms (max 1.3 s); the pool
# as it was (200 connections, 40 kept alive, queueing in httpcore) → 0.13 s, p99 896 ms
# (max 9.8 s). The cost: at most 100 / latency requests per second (67/s at 1.5 s).
DEFAULT_LIMIT = 100


class BoundedTransport(httpx.AsyncBaseTransport):
    """At most ``limit`` requests in flight through ``inner``; more wait their turn here.

    ``inner`` defaults to an ``httpx.AsyncHTTPTransport`` with ``limit`` connections, all
    of which may stay open between requests."""

    def __init__(
        self, limit: int = DEFAULT_LIMIT, inner: httpx.AsyncBaseTransport | None = None
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._inner = inner or httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit)
        )
        self._permits = asyncio.Semaphore(limit)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # the client's pool timeout bounds the wait for a permit, as it bounded the wait
        # for a pooled connection
        wait = request.extensions.get("timeout", {}).get("pool")
        try:
            async with asyncio.timeout(wait):
                await self._permits.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no request slot free in time", request=request) from None
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException:
            self._permits.release()
            raise
        response.stream = _ReleasingStream(response.stream, self._permits.release)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class _ReleasingStream(httpx.AsyncByteStream):
    """A response body that gives its permit back when it is closed (once)."""

    def __init__(
        self, inner: httpx.SyncByteStream | httpx.AsyncByteStream, release: Callable[[], None]
    ) -> None:
        assert isinstance(inner, httpx.AsyncByteStream), "an async transport answers async streams"
        self._inner = inner
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()
