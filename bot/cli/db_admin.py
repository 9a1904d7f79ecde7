"""``sora-bot db backup FILE``: a consistent copy of the live database.

Safe while the bot runs: SQLite's online backup reads one snapshot without blocking the
bot's writes (WAL), and the copy is checked before it takes the target's name (see
``storage.backup``). Restore by stopping the bot and putting the copy in place of
``storage.path`` (removing any ``-wal``/``-shm`` files next to it), as docs/operations.md
describes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli.admin_common import AdminError, add_json_flag, print_json, reports_errors
from bot.config import load_settings
from storage.backup import BackupError, backup_database


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "db",
        help="database maintenance: online backup (operators)",
        description="Database maintenance.",
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    backup = actions.add_parser(
        "backup",
        help="copy the live database to FILE (safe while the bot runs)",
        description="Copy the database to FILE with SQLite's online backup, safe while the "
        "bot runs; the copy is integrity-checked before it is renamed into place.",
    )
    backup.add_argument("file", type=Path, metavar="FILE", help="where to write the copy")
    backup.add_argument("--force", action="store_true", help="replace FILE if it exists")
    add_json_flag(backup)
    p.set_defaults(run=run)


@reports_errors
async def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    try:
        result = await backup_database(settings.storage.path, args.file, overwrite=args.force)
    except BackupError as exc:
        raise AdminError(str(exc)) from exc
    if args.json:
        print_json(result)
    else:
        print(
            f"backup written to {result.target}: {result.bytes / 1024:.0f} KiB, "
            f"{result.pages} pages, schema version {result.user_version}, integrity ok "
            f"({result.seconds:.2f} s)"
        )
    return 0
