"""Job rows over SQLite: one row per generation, enough to resume it after a restart.

Columns are named after the ``JobRecord`` fields. Datetimes are ISO-8601 UTC text (see
``storage.db.encode_time``), ``history`` is a JSON list of ``{"role", "content"}``
objects, ``state`` a ``JobState`` value.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any

from bot.models import ChatMessage
from bot.records import (
    ACTIVE,
    FINAL_STATES,
    JobClosed,
    JobRecord,
    JobRepository,
    JobState,
    new_job_id,
)
from bot.unicode import well_formed
from storage.db import Database, decode_time, encode_time, utc_now

_COLUMNS: tuple[str, ...] = tuple(field.name for field in fields(JobRecord))
_TIME_COLUMNS = frozenset({"created_at", "updated_at", "finished_at"})
# Fields ``update`` may change; the identity and the creation time never move.
_UPDATABLE = frozenset(_COLUMNS) - {"id", "created_at", "updated_at"}
# Built from constants, never from input: safe to splice into SQL.
_ACTIVE_LIST = ", ".join(f"'{state.value}'" for state in sorted(ACTIVE))

_INSERT = f"""
INSERT INTO jobs ({", ".join(_COLUMNS)})
SELECT {", ".join(f":{column}" for column in _COLUMNS)}
WHERE :max_active IS NULL
   OR (SELECT COUNT(*) FROM jobs
        WHERE platform = :platform AND user_id = :user_id
          AND state IN ({_ACTIVE_LIST})) < :max_active
RETURNING id
"""

_GET = "SELECT * FROM jobs WHERE id = :id"

# Message ids are unique per chat (Telegram) or globally (Discord snowflakes); a reply in a
# Discord thread may name the thread as its channel, so either column matches.
# Two indexed look-ups (status, result) rather than one OR the planner may scan for.
_BY_MESSAGE = """
SELECT * FROM (
    SELECT * FROM jobs
    WHERE platform = :platform AND status_message_id = :message_id
      AND (channel = :channel OR thread = :channel)
    UNION ALL
    SELECT * FROM jobs
    WHERE platform = :platform AND result_message_id = :message_id
      AND (channel = :channel OR thread = :channel)
)
ORDER BY created_at DESC LIMIT 1
"""

_UNFINISHED = f"""
SELECT * FROM jobs WHERE state IN ({_ACTIVE_LIST}) ORDER BY created_at, rowid
"""

_ACTIVE_COUNT = f"""
SELECT COUNT(*) FROM jobs
WHERE platform = :platform AND user_id = :user_id AND state IN ({_ACTIVE_LIST})
"""


class SqliteJobRepository(JobRepository):
    """``JobRepository`` on the ``jobs`` table of a :class:`~storage.db.Database`."""

    def __init__(self, database: Database, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._db = database
        self._clock = clock

    def new_id(self) -> str:
        return new_job_id()

    async def create(self, record: JobRecord, *, max_active: int | None = None) -> bool:
        """Insert ``record``; with ``max_active``, only while the user has fewer active jobs.

        The count and the insert are one statement, so concurrent commands of one user
        cannot both slip under the limit. A duplicate id, or a ``parent_id`` naming no job,
        raises ``sqlite3.IntegrityError``.
        """
        params = {**_encode_record(record), "max_active": max_active}
        return len(await self._db.fetch_all(_INSERT, params)) == 1

    async def get(self, job_id: str) -> JobRecord | None:
        return await self._fetch_one(_GET, {"id": job_id})

    async def update(self, job_id: str, **changes: object) -> JobRecord:
        """Change the named fields; ``KeyError`` if the job does not exist.

        ``updated_at`` becomes now. Moving to ``delivered``/``failed`` stamps
        ``finished_at`` (unless given); moving back to an active state clears it.
        A change of ``state`` applies only to an active job, checked in the same
        statement: a final job raises ``JobClosed`` (an operator may cancel a job from
        another process while the bot runs it, and the bot must not revive it).
        """
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"cannot update job fields: {', '.join(sorted(unknown))}")
        now = self._clock()
        values: dict[str, object] = dict(changes)
        values["updated_at"] = now
        if "state" in values:
            state = JobState(str(values["state"]))
            values["state"] = state
            if state in FINAL_STATES:
                values.setdefault("finished_at", now)
            else:
                values["finished_at"] = None
        encoded = {column: _encode(column, value) for column, value in values.items()}
        assignments = ", ".join(f"{column} = :{column}" for column in encoded)
        only_active = f" AND state IN ({_ACTIVE_LIST})" if "state" in values else ""
        sql = f"UPDATE jobs SET {assignments} WHERE id = :job_id{only_active} RETURNING *"
        record = await self._fetch_one(sql, {**encoded, "job_id": job_id})
        if record is None:
            current = await self.get(job_id)
            if current is None:
                raise KeyError(job_id)
            raise JobClosed(job_id, current.state)
        return record

    async def find_by_message(
        self, platform: str, channel: str, message_id: str
    ) -> JobRecord | None:
        params = {"platform": platform, "channel": channel, "message_id": message_id}
        return await self._fetch_one(_BY_MESSAGE, params)

    async def unfinished(self) -> list[JobRecord]:
        rows = await self._db.fetch_all(_UNFINISHED)
        return [_decode_row(row) for row in rows]

    async def active_count(self, platform: str, user_id: str) -> int:
        params = {"platform": platform, "user_id": user_id}
        row = await self._db.fetch_one(_ACTIVE_COUNT, params)
        return 0 if row is None else int(row[0])

    async def _fetch_one(self, sql: str, params: Mapping[str, object]) -> JobRecord | None:
        row = await self._db.fetch_one(sql, params)
        return None if row is None else _decode_row(row)


# --------------------------------------------------------------------------- row codec


def _encode(column: str, value: object) -> object:
    """A ``JobRecord`` field value as the SQLite value of its column."""
    if value is None:
        return None
    if column in _TIME_COLUMNS:
        if not isinstance(value, datetime):
            raise TypeError(f"{column} must be a datetime")
        return encode_time(value)
    if column == "history":
        if not isinstance(value, tuple | list):
            raise TypeError("history must be a sequence of ChatMessage")
        messages = [_chat_message(item) for item in value]
        return well_formed(
            json.dumps(
                [{"role": item.role, "content": item.content} for item in messages],
                ensure_ascii=False,
            )
        )
    if column == "state":
        return JobState(str(value)).value
    if isinstance(value, str):
        return well_formed(value)  # SQLite cannot store a lone surrogate (bot.unicode)
    return value


def _chat_message(item: object) -> ChatMessage:
    if not isinstance(item, ChatMessage):
        raise TypeError("history must be a sequence of ChatMessage")
    return item


def _encode_record(record: JobRecord) -> dict[str, object]:
    return {column: _encode(column, getattr(record, column)) for column in _COLUMNS}


def _decode_row(row: sqlite3.Row) -> JobRecord:
    values: dict[str, Any] = {column: row[column] for column in _COLUMNS}
    for column in _TIME_COLUMNS:
        if values[column] is not None:
            values[column] = decode_time(values[column])
    values["history"] = tuple(
        ChatMessage(role=item["role"], content=item["content"])
        for item in json.loads(values["history"])
    )
    values["state"] = JobState(values["state"])
    values["unlimited"] = bool(values["unlimited"])
    return JobRecord(**values)
