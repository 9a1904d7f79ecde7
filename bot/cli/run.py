"""``sora-bot run``: the bot itself, on every platform that has a token configured.

Opens the core (database, providers), starts an adapter for each platform with a token
(Telegram, Discord), resumes the jobs an earlier run left unfinished, and serves until
SIGTERM (or Ctrl-C), when every lifetime closes in order and running jobs are left to
resume.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from prometheus_client import CollectorRegistry

from bot.cli.runtime import open_core
from bot.config import Settings, load_settings
from bot.core import Core
from bot.errors import ConfigError
from bot.observability.metrics import Metrics
from bot.observability.server import ops_server
from bot.ports import ChatPlatform

log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run",
        help="run the bot on the configured platforms (Telegram, Discord)",
        description="Serve the configured chat platforms until stopped (SIGTERM or Ctrl-C).",
    )
    p.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    return await serve(load_settings(args.config))


def build_platforms(core: Core, settings: Settings) -> list[ChatPlatform]:
    """One adapter per platform with a token. The SDKs are imported here, only when
    configured, so that other commands never load them."""
    platforms: list[ChatPlatform] = []
    if settings.telegram.token is not None:
        from adapters.telegram import TelegramAdapter

        platforms.append(TelegramAdapter(core, settings.telegram))
    if settings.discord.token is not None:
        from adapters.discord import DiscordAdapter

        platforms.append(DiscordAdapter(core, settings.discord))
    return platforms


async def serve(settings: Settings, *, ready: asyncio.Event | None = None) -> int:
    """Run until cancelled; ``ready`` is set once every platform is receiving updates."""
    if settings.telegram.token is None and settings.discord.token is None:
        raise ConfigError("telegram.token / discord.token: neither is set (no platform to run on)")
    if not settings.providers:
        raise ConfigError("providers: none configured")
    metrics = Metrics(CollectorRegistry()) if settings.metrics.port is not None else None
    async with (
        open_core(settings, telemetry=metrics) as core,
        contextlib.AsyncExitStack() as running,
    ):
        platforms = build_platforms(core, settings)
        if metrics is not None:  # /metrics and /healthz, up first so that the start shows
            await running.enter_async_context(
                ops_server(settings.metrics, metrics.registry, platforms, core.s.database_writable)
            )
        for platform in platforms:
            await platform.start()
            running.push_async_callback(platform.stop)
        # unwinding is last-in first-out: jobs stop first (they still talk to the
        # platforms), then the platforms
        running.push_async_callback(core.shutdown)
        resumed = 0
        for platform in platforms:
            resumed += await core.recover(platform.platform)
        names = ", ".join(p.platform for p in platforms)
        log.warning("sora-bot is running on %s (%d job(s) resumed)", names, resumed)
        if ready is not None:
            ready.set()
        await asyncio.Event().wait()  # until cancelled
    return 0
