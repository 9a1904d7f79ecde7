"""``sora-bot healthcheck``: is the running bot healthy? For Docker's ``HEALTHCHECK``.

It reads the same configuration as ``run`` (file and environment), so it finds the
endpoint wherever it was configured:

- ``[metrics] port`` set: ``GET /healthz`` of the running bot (on 127.0.0.1 when it binds
  every interface) must answer 200, which means every platform adapter is connected and
  the database accepts writes;
- no metrics endpoint: the database file must exist and accept writes. That proves the
  volume is mounted and writable, not that the adapters are connected; enable
  ``[metrics] port`` for the full check (the compose file does).

Exit 0 healthy, 1 unhealthy (Docker reserves 2, so a configuration error is 1 here too).
"""

from __future__ import annotations

import argparse
import asyncio
import urllib.error
import urllib.request

from bot.config import Settings, load_settings
from bot.errors import ConfigError
from storage.db import database_writable

TIMEOUT_SECONDS = 5.0
# Addresses that mean "every interface": the check connects over loopback instead.
_ANY_ADDRESS = frozenset({"", "0.0.0.0", "::", "[::]"})


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "healthcheck",
        help="exit 0 if the running bot is healthy (for Docker HEALTHCHECK)",
        description="Ask the running bot's /healthz (when [metrics] port is set), else check "
        "that the database accepts writes. Exit 0 healthy, 1 not.",
    )
    p.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"unhealthy: config error: {exc}")
        return 1
    healthy, detail = await check(settings)
    print(f"{'healthy' if healthy else 'unhealthy'}: {detail}")
    return 0 if healthy else 1


async def check(settings: Settings) -> tuple[bool, str]:
    """Whether the bot is healthy, and a one-line reason."""
    port = settings.metrics.port
    if port:  # 0 means "a free port", which another process cannot know
        host = settings.metrics.host
        host = "127.0.0.1" if host in _ANY_ADDRESS else host
        url = f"http://{host if ':' not in host else f'[{host}]'}:{port}/healthz"
        return await asyncio.to_thread(_get, url)
    path = settings.storage.path
    if await database_writable(path, TIMEOUT_SECONDS):
        return True, f"database {path} accepts writes (no [metrics] port: adapters not checked)"
    return False, f"database {path} is missing or does not accept writes"


def _get(url: str) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            body = response.read(2000).decode("utf-8", "replace")
            return response.status == 200, f"{url} {response.status} {body}"
    except urllib.error.HTTPError as exc:  # 503: the body says what is wrong
        body = exc.read(2000).decode("utf-8", "replace")
        return False, f"{url} {exc.code} {body}"
    except (urllib.error.URLError, OSError) as exc:
        return False, f"{url} unreachable: {getattr(exc, 'reason', exc)}"
