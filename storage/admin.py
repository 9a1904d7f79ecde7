"""Operator queries: what ``sora-bot quota`` and ``sora-bot jobs`` need beyond the core.

The admin commands run in their own process, with their own connection to the database
the bot is using (WAL lets both read and write; ``busy_timeout`` makes a writer wait for
the other's write to finish). Cancelling a job is one ``BEGIN IMMEDIATE`` transaction:
the job moves to ``failed`` (category ``cancelled``) only while it is still cancellable,
and its reservation is refunded in the same transaction, so a crash cannot leave one
without the other, and a second cancel (or the bot's own failure path) finds nothing left
to refund. The bot notices at its next step: ``SqliteJobRepository.update`` refuses to
move a final job's state and raises ``JobClosed``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from bot.records import CANCELLED, JobRecord, JobState, LedgerEntry
from storage.db import Database, encode_time, utc_now
from storage.jobs import SqliteJobRepository
from storage.quotas import SqliteQuotaLedger, ledger_entry
from storage.users import SqliteUserDirectory

# ``uploading`` is missing on purpose: once the video is on its way to the chat, it is too
# late to promise that nothing arrives, so the bot's move to ``uploading`` and a cancel
# exclude each other (both are conditional on the state the other one changes).
CANCELLABLE: frozenset[JobState] = frozenset(
    {JobState.QUEUED, JobState.SUBMITTING, JobState.RUNNING, JobState.DOWNLOADING}
)
# Built from constants, never from input: safe to splice into SQL.
_CANCELLABLE_LIST = ", ".join(f"'{state.value}'" for state in sorted(CANCELLABLE))

_CANCEL = f"""
UPDATE jobs
SET state = 'failed', error_category = :category, error_message = :message,
    updated_at = :now, finished_at = :now
WHERE id = :job_id AND state IN ({_CANCELLABLE_LIST})
RETURNING id
"""

_USER_SCOPES = """
SELECT scope FROM ledger WHERE platform = :platform AND user_id = :user_id
UNION
SELECT scope FROM jobs WHERE platform = :platform AND user_id = :user_id
ORDER BY scope
"""

_JOB_LEDGER = """
SELECT id, kind, amount, job_id, actor, note, at FROM ledger WHERE job_id = :job_id ORDER BY id
"""


@dataclass(frozen=True, slots=True)
class Cancellation:
    """What ``cancel`` did. ``before`` is the state the job was in when it was asked."""

    job: JobRecord
    before: JobState
    cancelled: bool  # this call moved the job to failed/cancelled
    refunded: bool  # this call refunded the job's reservation


@dataclass(frozen=True, slots=True)
class JobFilter:
    """Which jobs ``OperatorStore.jobs`` lists; ``None`` means any."""

    states: Collection[JobState] | None = None
    category: str | None = None  # the error_category, e.g. ``cancelled``
    platform: str | None = None
    user_id: str | None = None
    limit: int = 20


class OperatorStore:
    """Read and change jobs and credits on behalf of an operator (the admin CLI).

    Use it on a connection no other coroutine shares (the CLI's own): ``cancel`` holds an
    explicit transaction across awaits.
    """

    def __init__(self, database: Database, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._db = database
        self._clock = clock
        self.jobs_repo = SqliteJobRepository(database, clock=clock)
        self.ledger = SqliteQuotaLedger(database, clock=clock)
        self.users = SqliteUserDirectory(database, now=clock)

    async def jobs(self, query: JobFilter) -> list[JobRecord]:
        """Matching jobs, newest first."""
        clauses: list[str] = []
        params: dict[str, object] = {"limit": query.limit}
        if query.states is not None:
            states = sorted(query.states)
            names = [f"state{i}" for i in range(len(states))]
            clauses.append(f"state IN ({', '.join(f':{n}' for n in names) or 'NULL'})")
            params.update({n: s.value for n, s in zip(names, states, strict=True)})
        for column in ("platform", "user_id"):
            value = getattr(query, column)
            if value is not None:
                clauses.append(f"{column} = :{column}")
                params[column] = value
        if query.category is not None:
            clauses.append("error_category = :category")
            params["category"] = query.category
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT id FROM jobs {where} ORDER BY created_at DESC, rowid DESC LIMIT :limit"
        found: list[JobRecord] = []
        for row in await self._db.fetch_all(sql, params):
            job = await self.jobs_repo.get(str(row["id"]))
            if job is not None:
                found.append(job)
        return found

    async def user_scopes(self, platform: str, user_id: str) -> list[str]:
        """The quota scopes in which the user has a job or a ledger row; empty if unknown."""
        rows = await self._db.fetch_all(_USER_SCOPES, {"platform": platform, "user_id": user_id})
        return [str(row["scope"]) for row in rows]

    async def job_ledger(self, job_id: str) -> list[LedgerEntry]:
        """The job's ledger rows (its reservation and settlement), oldest first."""
        rows = await self._db.fetch_all(_JOB_LEDGER, {"job_id": job_id})
        return [ledger_entry(row) for row in rows]

    async def cancel(self, job_id: str, actor: str) -> Cancellation | None:
        """Cancel a queued or running job and refund it, atomically; ``None`` if no such job.

        A job that is final already, or uploading, is left alone (``cancelled`` False).
        """
        async with self._immediate():
            before = await self.jobs_repo.get(job_id)
            if before is None:
                return None
            params = {
                "job_id": job_id,
                "category": CANCELLED,
                "message": f"cancelled by {actor}",
                "now": encode_time(self._clock()),
            }
            cancelled = len(await self._db.fetch_all(_CANCEL, params)) == 1
            refunded = cancelled and await self.ledger.refund(job_id, note=f"cancelled by {actor}")
        job = await self.jobs_repo.get(job_id)
        assert job is not None  # jobs are never deleted
        return Cancellation(job=job, before=before.state, cancelled=cancelled, refunded=refunded)

    @asynccontextmanager
    async def _immediate(self) -> AsyncIterator[None]:
        """One write transaction, taken at once (no upgrade from a read lock that could
        fail with SQLITE_BUSY halfway); rolled back on any error."""
        await self._db.fetch_all("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            await self._db.fetch_all("ROLLBACK")
            raise
        await self._db.fetch_all("COMMIT")
