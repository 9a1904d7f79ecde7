"""What the operator commands (``quota``, ``jobs``, ``db``) share: opening the database,
naming a user, reporting an error with its exit code, and printing tables or JSON.

The admin commands work on the database the bot uses, from their own process (``docker
compose exec sora-bot sora-bot jobs list``), while the bot runs or not.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import enum
import functools
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.errors import ConfigError
from bot.models import Platform
from bot.observability.redaction import SecretRedactor, secrets_in
from storage.admin import OperatorStore
from storage.db import Database

# Written as the actor of every ledger row an admin command adds (chat moderators appear
# as "platform:user_id"), so /quota history shows who changed what.
OPERATOR = "operator (cli)"


class AdminError(Exception):
    """The command cannot do what was asked: printed as one line, exits with ``code``."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def reports_errors(
    run: Callable[[argparse.Namespace], Awaitable[int]],
) -> Callable[[argparse.Namespace], Awaitable[int]]:
    """Turn an ``AdminError`` into its message on stderr and its exit code."""

    @functools.wraps(run)
    async def wrapper(args: argparse.Namespace) -> int:
        try:
            return await run(args)
        except AdminError as exc:
            print(f"sora-bot: {exc}", file=sys.stderr)
            return exc.code

    return wrapper


def user_arg(text: str) -> tuple[str, str]:
    """``platform:user_id`` (``telegram:42``, or ``telegram:@bob``: see ``user_id_of``) as
    an argparse type."""
    platform, sep, user_id = text.partition(":")
    known = ", ".join(p.value for p in Platform)
    if not sep or not user_id.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: write the user as platform:user_id")
    if platform not in {p.value for p in Platform}:
        raise argparse.ArgumentTypeError(f"{text!r}: unknown platform (known: {known})")
    return platform, user_id.strip()


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON (for scripts)")


async def user_id_of(store: OperatorStore, platform: str, user: str) -> str:
    """The user id; an ``@username`` is looked up among the users the bot has seen."""
    if not user.startswith("@"):
        return user
    known = await store.users.find(platform, user)
    if known is None:
        raise AdminError(f"unknown user {platform}:{user}: the bot has not seen that username")
    return known.user_id


@asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[OperatorStore]:
    """The operator's view of the configured database; it must exist already (an admin
    command creating an empty database elsewhere would hide a wrong ``storage.path``)."""
    path = settings.storage.path
    if not await asyncio.to_thread(Path(path).is_file):
        raise ConfigError(f"storage.path: no database at {path} (has the bot run here yet?)")
    async with Database.open(path) as database:
        yield OperatorStore(database)


def redactor(settings: Settings) -> Callable[[str], str]:
    """Masks every configured secret (tokens, keys) in text about to be printed."""
    return SecretRedactor(secrets_in(settings)).redact


def local_time(moment: datetime | None, timezone: str) -> str:
    """``2025-03-01 08:00 CST`` in the quota's time zone; ``-`` for nothing."""
    if moment is None:
        return "-"
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Left-aligned columns separated by two spaces; the last column is not padded."""
    cells = [[str(cell) for cell in headers], *([str(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        padded = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])] + [row[-1]]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def fields_table(pairs: Iterable[tuple[str, object]]) -> str:
    """One record, one ``name  value`` line per field."""
    pairs = list(pairs)
    width = max((len(name) for name, _ in pairs), default=0)
    return "\n".join(f"{name.ljust(width)}  {'-' if v is None else v}" for name, v in pairs)


def jsonable(value: Any) -> Any:
    """Dataclasses, enums, datetimes and paths as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def print_json(value: Any, redact: Callable[[str], str] | None = None) -> None:
    text = json.dumps(jsonable(value), ensure_ascii=False, indent=2)
    print(redact(text) if redact else text)
