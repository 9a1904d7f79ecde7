"""The optional HTTP endpoint of ``sora-bot run``: ``/metrics`` and ``/healthz``.

``/metrics`` is the Prometheus text format of the injected registry. ``/healthz`` answers
200 when every platform adapter is connected and the database accepts writes, else 503,
with the details as JSON either way::

    {"status": "ok", "platforms": {"telegram": true}, "database": "writable"}

It binds 127.0.0.1 unless ``[metrics] host`` says otherwise: metrics are for the operator.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest

from bot.config import MetricsConfig
from bot.errors import ConfigError
from bot.lifecycle import StartStop
from bot.ports import ChatPlatform

log = logging.getLogger(__name__)

DatabaseProbe = Callable[[], Awaitable[bool]]
PROBE_TIMEOUT = 5.0  # seconds; a database busy for longer than this counts as not writable


class HealthCheck:
    """Whether the bot can do its work now: platforms connected, database writable."""

    def __init__(
        self,
        platforms: Sequence[ChatPlatform],
        database_writable: DatabaseProbe | None,
        *,
        timeout: float = PROBE_TIMEOUT,
    ) -> None:
        self._platforms = platforms
        self._database_writable = database_writable
        self._timeout = timeout

    async def report(self) -> tuple[bool, dict[str, object]]:
        """``(healthy, details)``; ``database`` is "unknown" when there is no probe."""
        platforms = {p.platform: bool(p.connected) for p in self._platforms}
        database = await self._database()
        healthy = all(platforms.values()) and database != "not writable"
        status = "ok" if healthy else "failing"
        return healthy, {"status": status, "platforms": platforms, "database": database}

    async def _database(self) -> str:
        if self._database_writable is None:
            return "unknown"
        try:
            async with asyncio.timeout(self._timeout):
                writable = await self._database_writable()
        except Exception as exc:  # a probe that breaks says the database cannot be used
            log.warning("database probe failed: %s", exc)
            writable = False
        return "writable" if writable else "not writable"


class OpsServer(StartStop):
    """Serves ``/metrics`` and ``/healthz``; use as ``async with OpsServer(...)``."""

    def __init__(
        self, registry: CollectorRegistry, health: HealthCheck, *, host: str, port: int
    ) -> None:
        self._registry = registry
        self._health = health
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.url = ""  # "http://host:port" once started (the bound port when 0 was asked)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except OSError as exc:
            await runner.cleanup()
            raise ConfigError(
                f"metrics.port: cannot listen on {self._host}:{self._port}: {exc.strerror}"
            ) from exc
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        log.info("serving /metrics and /healthz", extra={"url": self.url})

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self._registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})

    async def _healthz(self, request: web.Request) -> web.Response:
        healthy, details = await self._health.report()
        return web.json_response(details, status=200 if healthy else 503)


def ops_server(
    config: MetricsConfig,
    registry: CollectorRegistry,
    platforms: Sequence[ChatPlatform],
    database_writable: DatabaseProbe | None,
) -> OpsServer:
    """The endpoint of ``[metrics]`` (whose ``port`` is set) over these platforms."""
    assert config.port is not None
    health = HealthCheck(platforms, database_writable)
    return OpsServer(registry, health, host=config.host, port=config.port)
