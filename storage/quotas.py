"""The quota ledger over SQLite: balances computed from append-only rows.

Row kinds and what they mean (``amount`` in credits):

- ``reserve``  a job took ``amount`` credits in the window starting at ``window_start``;
- ``commit``   the job was delivered: the reservation is spent (audit only);
- ``refund``   the job failed: the reservation no longer counts (in its own window,
  whenever the refund happens);
- ``grant``    a moderator added ``amount`` credits to one window (negative removes);
- ``set``      a moderator gave the user a custom per-period limit;
- ``reset``    a moderator zeroed the window's usage and grants (rows before it stop
  counting; a custom limit stays);
- ``default``  a moderator set the limit of every user of a scope (``user_id`` is '').

A window is selected by ``window_start`` falling in ``[start, end)``: if the operator
changes the period from a day to a week, this week's daily reservations still count.

Every mutation is ONE SQL statement whose ``WHERE`` clause carries the invariant (enough
credits; one settlement per reservation), so interleaved coroutines sharing the
connection cannot both pass a check that only one of them should.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from datetime import datetime

from bot.periods import Window
from bot.records import Balance, LedgerEntry, QuotaKey, QuotaLedger
from storage.db import Database, decode_time, encode_time, utc_now

# Named parameters shared by the statements below: :platform :scope :user_id
# :window_start :window_end :default_limit.
_FIGURES = """
WITH
last_reset AS (
    SELECT COALESCE(MAX(id), 0) AS id FROM ledger
    WHERE platform = :platform AND scope = :scope AND user_id = :user_id AND kind = 'reset'
      AND window_start >= :window_start AND window_start < :window_end
),
custom AS (
    SELECT amount FROM ledger
    WHERE platform = :platform AND scope = :scope AND user_id = :user_id AND kind = 'set'
    ORDER BY id DESC LIMIT 1
),
scope_default AS (
    SELECT amount FROM ledger
    WHERE platform = :platform AND scope = :scope AND user_id = '' AND kind = 'default'
    ORDER BY id DESC LIMIT 1
),
figures AS (
    SELECT
        COALESCE((SELECT amount FROM custom), (SELECT amount FROM scope_default),
                 :default_limit) AS quota_limit,
        EXISTS (SELECT 1 FROM custom) AS custom_limit,
        (SELECT COALESCE(SUM(r.amount), 0) FROM ledger AS r
          WHERE r.platform = :platform AND r.scope = :scope AND r.user_id = :user_id
            AND r.kind = 'reserve'
            AND r.window_start >= :window_start AND r.window_start < :window_end
            AND r.id > (SELECT id FROM last_reset)
            AND NOT EXISTS (SELECT 1 FROM ledger AS f
                             WHERE f.reservation_id = r.id AND f.kind = 'refund')
        ) AS used,
        (SELECT COALESCE(SUM(g.amount), 0) FROM ledger AS g
          WHERE g.platform = :platform AND g.scope = :scope AND g.user_id = :user_id
            AND g.kind = 'grant'
            AND g.window_start >= :window_start AND g.window_start < :window_end
            AND g.id > (SELECT id FROM last_reset)
        ) AS granted
)
"""

_BALANCE = _FIGURES + "SELECT quota_limit, custom_limit, used, granted FROM figures"

_RESERVE = (
    _FIGURES
    + """
INSERT INTO ledger (platform, scope, user_id, kind, amount, window_start, job_id, at)
SELECT :platform, :scope, :user_id, 'reserve', :cost, :window_start, :job_id, :at
FROM figures
WHERE (:unlimited OR quota_limit + granted - used >= :cost)
  AND NOT EXISTS (SELECT 1 FROM ledger WHERE kind = 'reserve' AND job_id = :job_id)
RETURNING id
"""
)

# :kind is 'commit' or 'refund'; whichever comes first settles the reservation for good.
_SETTLE = """
INSERT INTO ledger (platform, scope, user_id, kind, amount, window_start, job_id,
                    reservation_id, note, at)
SELECT r.platform, r.scope, r.user_id, :kind, r.amount, r.window_start, r.job_id,
       r.id, :note, :at
FROM ledger AS r
WHERE r.kind = 'reserve' AND r.job_id = :job_id
  AND NOT EXISTS (SELECT 1 FROM ledger AS s WHERE s.reservation_id = r.id)
RETURNING id
"""

# Reservations that no job row will ever settle: a process killed between the reservation
# and the job's insert (two statements) left them. Refunded by the startup sweep.
_REFUND_ORPHANS = """
INSERT INTO ledger (platform, scope, user_id, kind, amount, window_start, job_id,
                    reservation_id, note, at)
SELECT r.platform, r.scope, r.user_id, 'refund', r.amount, r.window_start, r.job_id,
       r.id, 'not recorded', :at
FROM ledger AS r
WHERE r.kind = 'reserve' AND r.at < :before
  AND NOT EXISTS (SELECT 1 FROM ledger AS s WHERE s.reservation_id = r.id)
  AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id = r.job_id)
RETURNING job_id
"""

_APPEND = """
INSERT INTO ledger (platform, scope, user_id, kind, amount, window_start, actor, note, at)
VALUES (:platform, :scope, :user_id, :kind, :amount, :window_start, :actor, :note, :at)
RETURNING id
"""

_SCOPE_DEFAULT = """
SELECT amount FROM ledger
WHERE platform = :platform AND scope = :scope AND user_id = '' AND kind = 'default'
ORDER BY id DESC LIMIT 1
"""

_HISTORY = """
SELECT id, kind, amount, job_id, actor, note, at FROM ledger
WHERE platform = :platform AND scope = :scope AND user_id = :user_id
ORDER BY id DESC LIMIT :limit
"""

_CHARGED = """
SELECT EXISTS (
    SELECT 1 FROM ledger AS r
    WHERE r.kind = 'reserve' AND r.job_id = :job_id
      AND NOT EXISTS (SELECT 1 FROM ledger AS f
                       WHERE f.reservation_id = r.id AND f.kind = 'refund')
)
"""


class SqliteQuotaLedger(QuotaLedger):
    """``QuotaLedger`` on the ``ledger`` table of a :class:`~storage.db.Database`."""

    def __init__(self, database: Database, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._db = database
        self._clock = clock

    async def balance(
        self, key: QuotaKey, window: Window, default_limit: int, *, unlimited: bool = False
    ) -> Balance:
        row = await self._db.fetch_one(_BALANCE, _key_params(key, window, default_limit))
        assert row is not None  # the figures CTE always yields exactly one row
        limit, used, granted = int(row["quota_limit"]), int(row["used"]), int(row["granted"])
        return Balance(
            limit=limit,
            used=used,
            granted=granted,
            remaining=max(0, limit + granted - used),
            custom_limit=bool(row["custom_limit"]),
            unlimited=unlimited,
            window=window,
        )

    async def reserve(
        self,
        key: QuotaKey,
        job_id: str,
        cost: int,
        window: Window,
        default_limit: int,
        *,
        unlimited: bool = False,
    ) -> bool:
        """Record the reservation only if ``cost`` credits remain (always, if unlimited).

        Also False if ``job_id`` already holds a reservation (nothing is written twice).
        """
        if cost < 0:
            raise ValueError(f"cost must not be negative, not {cost}")
        params = {
            **_key_params(key, window, default_limit),
            "job_id": job_id,
            "cost": cost,
            "unlimited": unlimited,
            "at": self._now(),
        }
        return await self._write(_RESERVE, params)

    async def commit(self, job_id: str) -> bool:
        return await self._settle("commit", job_id, None)

    async def refund(self, job_id: str, note: str | None = None) -> bool:
        return await self._settle("refund", job_id, note)

    async def refund_orphans(self, before: datetime) -> list[str]:
        """Refund every open reservation made before ``before`` that has no job row (the
        process died between the two writes); returns their job ids. Run it at startup,
        before this process reserves anything, with ``before`` = the start time."""
        params = {"before": encode_time(before), "at": self._now()}
        return [str(row["job_id"]) for row in await self._db.fetch_all(_REFUND_ORPHANS, params)]

    async def grant(
        self, key: QuotaKey, amount: int, window: Window, actor: str, note: str | None = None
    ) -> None:
        await self._append(key, "grant", amount, actor, window=window, note=note)

    async def set_limit(self, key: QuotaKey, limit: int, actor: str) -> None:
        if limit < 0:
            raise ValueError(f"limit must not be negative, not {limit}")
        await self._append(key, "set", limit, actor)

    async def reset(self, key: QuotaKey, window: Window, actor: str) -> None:
        await self._append(key, "reset", 0, actor, window=window)

    async def set_scope_default(self, platform: str, scope: str, limit: int, actor: str) -> None:
        if limit < 0:
            raise ValueError(f"limit must not be negative, not {limit}")
        await self._append(QuotaKey(platform, scope, ""), "default", limit, actor)

    async def scope_default(self, platform: str, scope: str) -> int | None:
        params = {"platform": platform, "scope": scope}
        row = await self._db.fetch_one(_SCOPE_DEFAULT, params)
        return None if row is None else int(row["amount"])

    async def history(self, key: QuotaKey, limit: int = 10) -> list[LedgerEntry]:
        params = {**_identity(key), "limit": limit}
        return [ledger_entry(row) for row in await self._db.fetch_all(_HISTORY, params)]

    async def charged(self, job_id: str) -> bool:
        row = await self._db.fetch_one(_CHARGED, {"job_id": job_id})
        return row is not None and bool(row[0])

    # ----------------------------------------------------------------------- internals

    async def _settle(self, kind: str, job_id: str, note: str | None) -> bool:
        params = {"kind": kind, "job_id": job_id, "note": note, "at": self._now()}
        return await self._write(_SETTLE, params)

    async def _append(
        self,
        key: QuotaKey,
        kind: str,
        amount: int,
        actor: str,
        *,
        window: Window | None = None,
        note: str | None = None,
    ) -> None:
        params = {
            **_identity(key),
            "kind": kind,
            "amount": amount,
            "window_start": None if window is None else encode_time(window.start),
            "actor": actor,
            "note": note,
            "at": self._now(),
        }
        await self._write(_APPEND, params)

    async def _write(self, sql: str, params: Mapping[str, object]) -> bool:
        """Run one ``INSERT … RETURNING id``; whether it wrote a row.

        ``RETURNING`` rather than ``cursor.rowcount``: Python's sqlite3 reports no row
        count for a statement that starts with ``WITH``.
        """
        return len(await self._db.fetch_all(sql, params)) == 1

    def _now(self) -> str:
        return encode_time(self._clock())


def ledger_entry(row: sqlite3.Row) -> LedgerEntry:
    """One ``ledger`` row as the record moderators and operators see."""
    return LedgerEntry(
        id=int(row["id"]),
        kind=str(row["kind"]),
        amount=int(row["amount"]),
        job_id=row["job_id"],
        actor=row["actor"],
        note=row["note"],
        at=decode_time(row["at"]),
    )


def _identity(key: QuotaKey) -> dict[str, object]:
    return {"platform": key.platform, "scope": key.scope, "user_id": key.user_id}


def _key_params(key: QuotaKey, window: Window, default_limit: int) -> dict[str, object]:
    return {
        **_identity(key),
        "window_start": encode_time(window.start),
        "window_end": encode_time(window.end),
        "default_limit": default_limit,
    }
