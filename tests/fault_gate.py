"""A recording, holding HTTP proxy on loopback: where the fault suite stops the world.

The bot under test talks to the fake Bot API and to the simulator relay *through* a
``Gate``. Every request is recorded (method, path, form fields, and the JSON answer), and
a ``Hold`` can park one chosen request at a chosen stage, so that a test kills the bot at
a point it can name instead of at a moment it guesses:

- ``request``: the gate has the request but the target never sees it (the bot died while
  sending);
- ``response``: the target acted and answered, but the bot never gets the answer (the bot
  died while the answer was on its way);
- ``stream``: the first ``nth`` chunks of a streamed answer reach the bot, then nothing
  (the bot died in the middle of a chat-format stream).

A ``Refusal`` answers matching requests itself instead (a 429 storm, an upload refused
with 400 or 413), without the target ever seeing them.

A parked request stays parked until ``drop_all`` (after the kill): it is never forwarded
late, so a create request held before the relay saw it is never sent at all. Once a hold
has tripped, every later request it matches is parked before the target sees it (the
network is gone from that point on): the bot's own retries after a timeout — PTB gives up
on an answer after 5 s and the outbox retries small calls — cannot slip past the point
while the test waits for the other jobs to reach theirs.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web

Stage = Literal["request", "response", "stream"]
# Per-hop headers a proxy must not copy (RFC 9110 §7.6.1), plus the ones aiohttp recomputes.
_HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "upgrade"}
)
_MULTIPART_FIELD = re.compile(rb'name="([^"]+)"\r\n\r\n([^\r]*)\r\n')
_BUFFERED_TYPES = ("application/json",)  # small answers the gate keeps a parsed copy of


@dataclass
class Exchange:
    """One request through the gate and, once known, the target's answer."""

    method: str
    path: str
    query: dict[str, str]
    fields: dict[str, str]
    at: float = 0.0  # the gate's clock when the request arrived
    status: int | None = None
    result: Any = None  # the parsed JSON answer (buffered answers only)

    @property
    def api_method(self) -> str:
        """The Bot API method (``/bot<token>/sendVideo`` → ``sendVideo``)."""
        return self.path.rsplit("/", 1)[-1]


@dataclass
class Hold:
    """Parks the ``nth`` request that ``matches`` at ``stage`` (``stream``: after ``nth``
    chunks of the first matching answer)."""

    name: str
    matches: Callable[[Exchange], bool]
    stage: Stage
    nth: int = 1
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    seen: int = 0
    exchange: Exchange | None = None
    _dropped: asyncio.Event = field(default_factory=asyncio.Event)

    def claims(self, exchange: Exchange) -> Stage | None:
        """Where to park this request, if anywhere (counts matching requests)."""
        if not self.matches(exchange):
            return None
        if self.exchange is not None:
            return "request"  # a retry, or a later call, after the point: parked at once
        self.seen += 1
        if self.stage == "stream" or self.seen == self.nth:
            self.exchange = exchange
            return self.stage
        return None

    async def park(self) -> None:
        self.reached.set()
        await self._dropped.wait()

    def drop(self) -> None:
        self._dropped.set()


@dataclass
class Refusal:
    """Answers the next ``count`` requests that ``matches`` with ``status`` and ``body``."""

    matches: Callable[[Exchange], bool]
    status: int
    body: dict[str, Any]
    count: int
    answered: list[Exchange] = field(default_factory=list)


class Gate:
    """A proxy from ``url`` (once started) to ``target``; see the module docstring.

    ``clock`` stamps each exchange (``Exchange.at``): give it the test's virtual clock to
    check waits the bot made on it."""

    def __init__(self, target: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.target = target.rstrip("/")
        self.clock = clock
        self.exchanges: list[Exchange] = []
        self.holds: list[Hold] = []
        self.refusals: list[Refusal] = []
        self.url = ""
        self._activity = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Gate:
        self._session = aiohttp.ClientSession(
            auto_decompress=False, timeout=aiohttp.ClientTimeout(total=None)
        )
        app = web.Application(client_max_size=512 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.drop_all()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    # ------------------------------------------------------------------ test controls

    def hold(
        self, name: str, matches: Callable[[Exchange], bool], stage: Stage, nth: int = 1
    ) -> Hold:
        hold = Hold(name, matches, stage, nth)
        self.holds.append(hold)
        return hold

    def refuse(
        self,
        matches: Callable[[Exchange], bool],
        *,
        status: int,
        body: dict[str, Any],
        count: int = 1,
    ) -> Refusal:
        refusal = Refusal(matches, status, body, count)
        self.refusals.append(refusal)
        return refusal

    def drop_all(self) -> None:
        """End every parked request without forwarding it (call after the kill)."""
        for hold in self.holds:
            hold.drop()
        self.holds.clear()

    def answer(self, matches: Callable[[Exchange], bool]) -> Any:
        """The parsed JSON answer to the first request that ``matches`` (None if none yet)."""
        return next((ex.result for ex in self.exchanges if matches(ex)), None)

    async def next_activity(self) -> None:
        """Wait for the next request through the gate (the bot polls ``getUpdates`` at least
        twice a second, so a condition on shared state is re-checked often enough)."""
        self._activity.clear()
        await self._activity.wait()

    # ------------------------------------------------------------------ the proxy

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        exchange = Exchange(
            request.method,
            request.path,
            dict(request.query),
            _fields(request.content_type, body),
            at=self.clock(),
        )
        self.exchanges.append(exchange)
        self._activity.set()
        refusal = next((r for r in self.refusals if r.count > 0 and r.matches(exchange)), None)
        if refusal is not None:
            refusal.count -= 1
            refusal.answered.append(exchange)
            exchange.status, exchange.result = refusal.status, refusal.body
            return web.json_response(refusal.body, status=refusal.status)
        hold, stage = next(
            ((h, stage) for h in self.holds if (stage := h.claims(exchange)) is not None),
            (None, None),
        )
        if hold is not None and stage == "request":
            await hold.park()
            return web.Response(status=502)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        async with self._session.request(
            request.method,
            self.target + request.path_qs,
            data=body or None,
            headers=headers,
            allow_redirects=False,
        ) as upstream:
            exchange.status = upstream.status
            answer_headers = {
                k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_HEADERS
            }
            buffered = upstream.content_type in _BUFFERED_TYPES
            if buffered or (hold is not None and stage == "response"):
                payload = await upstream.read()
                if buffered:
                    exchange.result = json.loads(payload or b"null")
                if hold is not None and stage == "response":
                    await hold.park()
                    return web.Response(status=502)
                return web.Response(status=upstream.status, body=payload, headers=answer_headers)
            response = web.StreamResponse(status=upstream.status, headers=answer_headers)
            await response.prepare(request)
            chunks = 0
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
                chunks += 1
                if hold is not None and stage == "stream" and chunks >= hold.nth:
                    await hold.park()
                    return response
            await response.write_eof()
            return response


def _fields(content_type: str, body: bytes) -> dict[str, str]:
    """The form fields of a request body (PTB posts urlencoded forms, multipart for files)."""
    if not body:
        return {}
    if content_type == "application/x-www-form-urlencoded":
        return dict(parse_qsl(body.decode("utf-8", "replace")))
    if content_type == "multipart/form-data":
        return {k.decode(): v.decode("utf-8", "replace") for k, v in _MULTIPART_FIELD.findall(body)}
    if content_type == "application/json":
        data = json.loads(body)
        if isinstance(data, dict):
            return {k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
    return {}
