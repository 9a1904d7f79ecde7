"""``sora-bot run``: the bot itself, on every platform that has a token configured.

Opens the core (database, providers), starts the Telegram adapter when ``telegram.token``
is set, resumes the jobs an earlier run left unfinished, and serves until SIGTERM (or
Ctrl-C), when every lifetime closes in order and running jobs are left to resume.
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from bot.cli.runtime import open_core
from bot.config import Settings, load_settings
from bot.errors import ConfigError

log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run",
        help="run the bot on the configured platforms (Telegram)",
        description="Serve the configured chat platforms until stopped (SIGTERM or Ctrl-C).",
    )
    p.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    return await serve(load_settings(args.config))


async def serve(settings: Settings, *, ready: asyncio.Event | None = None) -> int:
    """Run until cancelled; ``ready`` is set once every platform is receiving updates."""
    if settings.telegram.token is None:
        raise ConfigError("telegram.token: not set (no platform to run on)")
    if not settings.providers:
        raise ConfigError("providers: none configured")
    # imported here so that other commands never load a platform SDK
    from adapters.telegram import TelegramAdapter

    async with open_core(settings) as core:
        telegram = TelegramAdapter(core, settings.telegram)
        await telegram.start()
        try:
            resumed = await core.recover("telegram")
            log.warning("sora-bot is running on Telegram (%d job(s) resumed)", resumed)
            if ready is not None:
                ready.set()
            await asyncio.Event().wait()  # until cancelled
        finally:
            # jobs stop first (they still talk to Telegram), then the platform
            await core.shutdown()
            await telegram.stop()
    return 0
