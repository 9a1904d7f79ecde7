"""Test doubles shared by the provider tests (videos, unified, chat and the simulator).

- ``FakeRelay``: scripted answers per route behind ``httpx.MockTransport``, recording every
  request so a test can assert what went over the wire.
- ``FakeTime``: an injected clock and sleep, so polling and deadlines run instantly.
- ``WireUnderTest``: one wire format's provider built from a ``ProviderConfig`` and driven
  to its last event, against the ``FakeRelay`` (or any handler) or a live simulator.

Every run checks that the API key never reaches a ``Failed`` message, whatever went wrong.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from bot.config import ProviderConfig
from bot.models import Accepted, Failed, GenerationRequest, ProviderEvent
from bot.providers import build_provider
from bot.providers.base import BaseProvider
from bot.providers.simulator import Simulator
from bot.providers.synth import synthesize_mp4

BASE = "https://relay.test/v1"
MP4_HEADERS = {"content-type": "video/mp4"}

Answer = Callable[[httpx.Request], httpx.Response]
P = TypeVar("P", bound=BaseProvider)


def answer(
    status: int = 200,
    body: Any = None,
    *,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """A response factory: JSON ``body`` or raw ``content``."""

    def make(request: httpx.Request) -> httpx.Response:
        if content is not None:
            return httpx.Response(status, content=content, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return make


def mp4_answer(mp4: bytes) -> Answer:
    """A 200 that serves ``mp4`` as ``video/mp4``, the way a relay or a CDN does."""
    return answer(content=mp4, headers=MP4_HEADERS)


def fail_with(exc_type: type[httpx.RequestError]) -> Answer:
    """An answer that never comes: the transport raises ``exc_type`` instead."""

    def make(request: httpx.Request) -> httpx.Response:
        raise exc_type("scripted failure", request=request)

    return make


class FakeRelay:
    """Scripted answers per ``METHOD raw-path``; the last answer of a route repeats.

    Requests to another host than ``relay.test`` are routed by their full URL. The relay
    is itself the MockTransport handler.
    """

    def __init__(self) -> None:
        self.routes: dict[str, list[Answer]] = {}
        self.requests: list[httpx.Request] = []

    def on(self, method: str, path: str, *answers: Answer) -> None:
        self.routes[f"{method} {path}"] = list(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = f"{request.method} {request.url.raw_path.decode()}"
        if request.url.host != "relay.test":
            key = f"{request.method} {request.url}"
        script = self.routes.get(key)
        if not script:
            return httpx.Response(404, json={"error": {"message": f"no route {key}"}})
        current = script.pop(0) if len(script) > 1 else script[0]
        return current(request)

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        """The requests that went to ``path`` on the relay with ``method``."""
        return [r for r in self.requests if r.method == method and r.url.raw_path == path.encode()]

    def sent_to_host(self, host: str) -> list[httpx.Request]:
        """The requests that went to another ``host`` (a CDN, say)."""
        return [r for r in self.requests if r.url.host == host]


class FakeTime:
    """An injected clock and sleep: sleeping records the delay and moves the clock.

    With ``stall_after``, a sleep that ends past that time never returns, like a relay
    that never answers in time (for deadline tests).
    """

    def __init__(self, start: float = 0.0, stall_after: float | None = None) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self.stall_after = stall_after

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.stall_after is not None and self.now > self.stall_after:
            await asyncio.Event().wait()  # the relay never answers in time
        await asyncio.sleep(0)


def synth_clip(
    factory: pytest.TempPathFactory, *, width: int = 64, height: int = 112, fps: int = 8
) -> bytes:
    """A real half-second H.264+AAC MP4 of ``width``x``height``, as bytes."""
    path = factory.mktemp("synth") / "clip.mp4"
    return synthesize_mp4(path, seconds=0.5, width=width, height=height, fps=fps).read_bytes()


def simulator_on(fake_time: FakeTime, media_dir: Path | None = None, **options: Any) -> Simulator:
    """A ``Simulator`` whose jobs run on ``fake_time``; start it with ``async with``."""
    return Simulator(media_dir, clock=fake_time.clock, sleep=fake_time.sleep, **options)


def provider_config(name: str, format: str, api_key: str, **overrides: Any) -> ProviderConfig:
    """A provider on the ``FakeRelay`` at ``BASE`` offering ``sora-2``; ``overrides`` win."""
    fields: dict[str, Any] = {
        "name": name,
        "format": format,
        "base_url": BASE,
        "api_key": api_key,
        "models": ["sora-2"],
    }
    return ProviderConfig(**(fields | overrides))


def build(
    kind: type[P],
    config: ProviderConfig,
    client: httpx.AsyncClient,
    fake_time: FakeTime | None = None,
) -> P:
    """``build_provider`` for ``config``, checked to be a ``kind``; on ``fake_time`` if given."""
    if fake_time is None:
        provider = build_provider(config, client)
    else:
        provider = build_provider(config, client, sleep=fake_time.sleep, clock=fake_time.clock)
    assert isinstance(provider, kind)
    return provider


def assert_key_kept(events: list[ProviderEvent], config: ProviderConfig) -> None:
    """The API key never leaks into a failure, whatever went wrong."""
    for event in events:
        if isinstance(event, Failed):
            assert config.key() not in event.message


async def drive(
    kind: type[BaseProvider],
    config: ProviderConfig,
    workdir: Path,
    req: GenerationRequest,
    *,
    handler: Answer | None = None,
    fake_time: FakeTime | None = None,
    resume: str | None = None,
) -> list[ProviderEvent]:
    """Every event of one job: ``generate`` it, or ``resume`` the given upstream id.

    With a ``handler`` the client goes through ``httpx.MockTransport``; without one it
    makes real (loopback) requests, e.g. to a running ``Simulator``.
    """
    transport = httpx.MockTransport(handler) if handler is not None else None
    async with httpx.AsyncClient(transport=transport) as client:
        provider = build(kind, config, client, fake_time)
        if resume is not None:
            stream = provider.resume(resume, req, workdir)
        else:
            stream = provider.generate(req, workdir)
        events = [event async for event in stream]
    assert_key_kept(events, config)
    return events


async def accept_then_stop(
    kind: type[BaseProvider],
    config: ProviderConfig,
    workdir: Path,
    req: GenerationRequest,
    fake_time: FakeTime | None = None,
) -> Accepted:
    """Start a job and stop right after it was accepted, as a bot that restarts does."""
    async with httpx.AsyncClient() as client:
        stream = build(kind, config, client, fake_time).generate(req, workdir)
        assert isinstance(stream, AsyncGenerator)
        accepted = await anext(stream)
        await stream.aclose()  # the bot stops here
    assert isinstance(accepted, Accepted)
    return accepted


@dataclass(frozen=True)
class WireUnderTest:
    """One wire format's provider against a scripted relay: its class, the settings of
    its ``ProviderConfig`` and the request a test sends when it names none."""

    kind: type[BaseProvider]
    name: str
    format: str
    api_key: str
    default_request: GenerationRequest
    settings: dict[str, Any] = field(default_factory=dict)

    def config(self, **overrides: Any) -> ProviderConfig:
        return provider_config(self.name, self.format, self.api_key, **(self.settings | overrides))

    async def run(
        self,
        relay: Answer,
        fake_time: FakeTime | None,
        workdir: Path,
        req: GenerationRequest | None = None,
        *,
        resume: str | None = None,
        **overrides: Any,
    ) -> list[ProviderEvent]:
        """Every event of one job against ``relay``, with ``overrides`` to the config."""
        return await drive(
            self.kind,
            self.config(**overrides),
            workdir,
            req or self.default_request,
            handler=relay,
            fake_time=fake_time,
            resume=resume,
        )
