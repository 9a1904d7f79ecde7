"""The SQLite database: one aiosqlite connection, WAL, foreign keys, numbered migrations.

One connection serves the whole bot. aiosqlite runs its statements one after another on
a worker thread, but coroutines interleave *between* awaits, so the repositories keep
every invariant inside a single SQL statement. The connection runs in autocommit mode
(``isolation_level=None``): each statement is its own transaction and nothing waits for
a commit that another coroutine might issue or roll back.

Migrations are ``storage/migrations/NNNN_name.sql`` files shipped as package data,
numbered from 1 without gaps and never edited once released (append-only). Each one runs
in its own transaction together with ``PRAGMA user_version = NNNN``, so the version
always names the last migration fully applied. A migration file must not contain its own
``BEGIN``/``COMMIT``.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import aiosqlite

MEMORY = ":memory:"
_MIGRATION_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")

# https://www.sqlite.org/pragma.html; busy_timeout matters when a second process
# (a backup, the sqlite3 shell) holds the file for a moment.
_CONNECTION_PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 5000",
    "PRAGMA synchronous = NORMAL",  # safe with WAL: a power cut loses at most the last commits
)


class MigrationError(RuntimeError):
    """The migrations are inconsistent, or one of them failed (and was rolled back)."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> tuple[Migration, ...]:
    """The migrations shipped in ``storage/migrations``, ordered and checked for gaps."""
    folder = resources.files("storage") / "migrations"
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match is None:
            continue
        sql = entry.read_text(encoding="utf-8")
        found.append(Migration(int(match["version"]), match["name"], sql))
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"migrations must be numbered 1, 2, 3… without gaps: {versions}")
    return tuple(found)


def utc_now() -> datetime:
    """The default clock of the repositories (tests inject their own)."""
    return datetime.now(UTC)


def encode_time(moment: datetime) -> str:
    """An aware datetime as fixed-width ISO-8601 UTC text, so text order is time order."""
    if moment.tzinfo is None:
        raise ValueError("refusing to store a naive datetime")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def decode_time(text: str) -> datetime:
    """The inverse of :func:`encode_time`: an aware UTC datetime."""
    return datetime.fromisoformat(text).astimezone(UTC)


class Database:
    """An open, migrated database. Build it with ``async with Database.open(path) as db``."""

    def __init__(self, connection: aiosqlite.Connection, path: Path | None = None) -> None:
        self._connection = connection
        self._path = path  # None: in memory

    @property
    def connection(self) -> aiosqlite.Connection:
        """The shared connection; rows come back as ``sqlite3.Row``."""
        return self._connection

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        migrations: Sequence[Migration] | None = None,
    ) -> AsyncIterator[Database]:
        """Open (creating the file and its folder if needed), configure and migrate.

        ``migrations`` replaces the shipped ones (tests only).
        """
        if os.fspath(path) != MEMORY:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        async with aiosqlite.connect(path, isolation_level=None) as connection:
            connection.row_factory = sqlite3.Row
            for pragma in _CONNECTION_PRAGMAS:
                await connection.execute(pragma)
            database = cls(connection, None if os.fspath(path) == MEMORY else Path(path))
            await database._migrate(load_migrations() if migrations is None else migrations)
            yield database

    async def fetch_all(
        self, sql: str, params: Mapping[str, object] | Sequence[object] = ()
    ) -> list[sqlite3.Row]:
        """Run one statement to completion and return its rows, in ONE call to the worker
        thread. Stepping a statement in one call and fetching in another lets other
        coroutines' statements run in between: each ``INSERT … RETURNING`` left pending
        then holds its own prepared statement and buffered rows (measured: ~100 kB each,
        hundreds of MB under load), and a write stays open across awaits."""
        rows = await self._connection.execute_fetchall(sql, params)
        return list(rows)  # type: ignore[arg-type]

    async def fetch_one(
        self, sql: str, params: Mapping[str, object] | Sequence[object] = ()
    ) -> sqlite3.Row | None:
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None

    async def writable(self, lock_wait: float = 1.0) -> bool:
        """Whether the database accepts writes now (``/healthz``): on a connection of its
        own, take the write lock and change the schema, then roll back. A separate
        connection, because a transaction on the shared one would swallow the statements
        other coroutines run meanwhile. False when the file is gone, read-only, or locked by
        another process for longer than ``lock_wait`` seconds."""
        if self._path is None:
            try:  # one call to the worker thread: nothing else runs inside the transaction
                await self._connection.executescript("BEGIN IMMEDIATE; ROLLBACK;")
            except sqlite3.Error:
                return False
            return True
        return await database_writable(self._path, lock_wait)

    async def user_version(self) -> int:
        """The number of the last migration applied."""
        row = await self.fetch_one("PRAGMA user_version")
        return int(row[0]) if row is not None else 0

    async def journal_mode(self) -> str:
        row = await self.fetch_one("PRAGMA journal_mode")
        return str(row[0]) if row is not None else ""

    async def _migrate(self, migrations: Sequence[Migration]) -> None:
        current = await self.user_version()
        latest = max((migration.version for migration in migrations), default=0)
        if current > latest:
            raise MigrationError(
                f"database is at version {current}, newer than this program ({latest})"
            )
        for migration in sorted(migrations, key=lambda item: item.version):
            if migration.version <= current:
                continue
            script = (
                f"BEGIN;\n{migration.sql}\n;\nPRAGMA user_version = {migration.version:d};\nCOMMIT;"
            )
            try:
                await self._connection.executescript(script)
            except sqlite3.Error as exc:
                if self._connection.in_transaction:
                    await self._connection.rollback()
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name} failed: {exc}"
                ) from exc


async def database_writable(path: Path, lock_wait: float) -> bool:
    """Whether the database file exists and accepts writes now (waiting up to
    ``lock_wait`` seconds for another process's write), probed on a connection of its own
    that never creates the file nor migrates it (the bot may be migrating it)."""
    return await asyncio.to_thread(_probe_writable, path, lock_wait)


def _probe_writable(path: Path, lock_wait: float) -> bool:
    """See :meth:`Database.writable`; runs in a thread. ``mode=rw`` never creates a file."""
    try:
        probe = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=lock_wait, isolation_level=None
        )
    except sqlite3.Error:
        return False
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("CREATE TABLE _writable_probe (x)")
        probe.execute("ROLLBACK")
        return True
    except sqlite3.Error:
        return False
    finally:
        probe.close()
