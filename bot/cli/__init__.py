"""The ``sora-bot`` command line: ``generate``, ``check`` (and the commands of later parts).

Each sub-command lives in its own module with an ``add_parser`` and an async ``run``; this
module only wires them together, sets up logging and turns our errors into exit codes:
0 success, 1 the job or a probe failed, 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Coroutine, Sequence
from typing import Any

from bot.cli import (
    check,
    config_reference,
    db_admin,
    demo,
    generate,
    healthcheck,
    jobs_admin,
    quota_admin,
    run,
)
from bot.errors import ConfigError
from bot.observability.logs import configure_cli_logging

COMMANDS = (
    run,
    demo,
    generate,
    check,
    quota_admin,
    jobs_admin,
    db_admin,
    healthcheck,
    config_reference,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sora-bot",
        description="Generate short videos through OpenAI-compatible video relays.",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="TOML config (default: $SORA_BOT_CONFIG, else ./sora-bot.toml)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


class Terminated(Exception):
    """SIGTERM arrived: the command was cancelled and its ``async with`` blocks unwound."""


async def _until_terminated(work: Coroutine[Any, Any, int]) -> int:
    """Run ``work``; on SIGTERM cancel it, so that every lifetime closes in order (the core
    stops taking jobs and leaves running ones to be resumed) and the process exits promptly."""
    task = asyncio.create_task(work)
    loop = asyncio.get_running_loop()
    terminated = False

    def on_sigterm() -> None:
        nonlocal terminated
        terminated = True
        task.cancel()

    with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    try:
        return await task
    except asyncio.CancelledError:
        if terminated:
            raise Terminated from None
        raise
    finally:
        with contextlib.suppress(NotImplementedError):
            loop.remove_signal_handler(signal.SIGTERM)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # structured or text, per [logging]; every configured secret is redacted
    configure_cli_logging(
        args.config,
        verbose=args.verbose,
        default_level="INFO" if args.command == "run" else "WARNING",  # run: job state lines
    )
    try:
        return asyncio.run(_until_terminated(args.run(args)))
    except Terminated:
        print(
            "sora-bot: stopped (SIGTERM); unfinished jobs resume on the next start", file=sys.stderr
        )
        return 143
    except ConfigError as exc:
        print(f"sora-bot: config error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sora-bot: interrupted", file=sys.stderr)
        return 130
    except Exception:  # through the logs, so that the traceback is redacted too
        logging.getLogger("bot").critical("sora-bot stopped on an unexpected error", exc_info=True)
        return 1
