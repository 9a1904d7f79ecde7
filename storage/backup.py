"""Online backup of the database while the bot keeps running.

SQLite's backup API (https://www.sqlite.org/backup.html) copies the pages of a live
database through its own read transaction. In WAL mode a reader never blocks the writer
and sees one consistent snapshot, so the copy is exactly the database as of one moment,
even while the bot commits. The copy is written to a temporary file next to the target,
converted to a self-contained rollback-journal file (no ``-wal``/``-shm`` to carry
around), checked with ``PRAGMA integrity_check`` and only then renamed into place (the
rename synced to disk), so a failed backup never leaves a half-written file under the
target's name. Every failure, the filesystem's included, is one ``BackupError`` line.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

# Files SQLite keeps beside a database (WAL mode, and the rollback journal).
_SIDECARS = ("-wal", "-shm", "-journal")


class BackupError(RuntimeError):
    """The backup could not be made; the target was not touched."""


@dataclass(frozen=True, slots=True)
class BackupResult:
    target: Path
    bytes: int
    pages: int
    user_version: int  # the schema version (last migration) in the copy
    seconds: float


async def backup_database(source: Path, target: Path, *, overwrite: bool = False) -> BackupResult:
    """Copy the live database at ``source`` to ``target`` (see the module docstring).

    Runs the blocking SQLite calls in a worker thread, on a connection of its own.
    """
    return await asyncio.to_thread(_backup, source, target, overwrite)


def _backup(source: Path, target: Path, overwrite: bool) -> BackupResult:
    try:
        return _checked_backup(source, target, overwrite)
    except OSError as exc:  # a directory not writable, no space left…: one line, no trace
        raise BackupError(f"backup to {target} failed: {exc.strerror or exc}") from exc


def _checked_backup(source: Path, target: Path, overwrite: bool) -> BackupResult:
    started = time.monotonic()
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    if target.is_dir():
        raise BackupError(f"{target} is a directory: name the backup file")
    if target.exists() and not overwrite:
        raise BackupError(f"{target} exists (pass --force to replace it)")
    database = source.resolve()
    own_files = {database, *(database.with_name(database.name + end) for end in _SIDECARS)}
    if target.resolve() in own_files:
        raise BackupError("the backup must not overwrite the database or its -wal/-shm files")
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    try:
        # mode=rw: never create an empty database where the real one is missing
        uri = f"{database.as_uri()}?mode=rw"
        with (
            closing(sqlite3.connect(uri, uri=True, timeout=30.0)) as live,
            closing(sqlite3.connect(temporary)) as copy,
        ):
            live.backup(copy)  # all pages in one step: one consistent snapshot
            copy.execute("PRAGMA journal_mode = DELETE")
            verdict = copy.execute("PRAGMA integrity_check").fetchone()[0]
            if verdict != "ok":
                raise BackupError(f"the copy failed its integrity check: {verdict}")
            pages = int(copy.execute("PRAGMA page_count").fetchone()[0])
            version = int(copy.execute("PRAGMA user_version").fetchone()[0])
        os.replace(temporary, target)
        _sync_directory(target.parent)
    except sqlite3.Error as exc:
        raise BackupError(f"backup of {source} failed: {exc}") from exc
    finally:
        for leftover in (temporary, *(temporary + end for end in _SIDECARS)):
            Path(leftover).unlink(missing_ok=True)
    return BackupResult(
        target=target,
        bytes=target.stat().st_size,
        pages=pages,
        user_version=version,
        seconds=time.monotonic() - started,
    )


def _sync_directory(directory: Path) -> None:
    """Make the rename durable: a crash right after must not lose the new name (POSIX)."""
    if os.name != "posix":
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
