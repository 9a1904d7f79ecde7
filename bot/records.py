"""What the core stores: quota balances, ledger rows and job records, plus the repositories.

The core is typed against the ``QuotaLedger`` and ``JobRepository`` Protocols only;
``storage/`` implements them over SQLite. Keeping the records here lets ``bot/`` stay free
of ``aiosqlite`` (an architecture test enforces it).

Quota model: an append-only ledger per user and quota scope (a guild, a group chat, or
``direct``). A job *reserves* its cost before it is submitted, then the reservation is
either *committed* (delivered) or *refunded* (failed, refundable). Balances are computed
from the rows, so every number a moderator sees can be traced back to the entries that
made it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from bot.models import ChatMessage
from bot.periods import Window

JOB_ID_LENGTH = 10
# Lower-case RFC 4648 base32: safe in URLs, file names and Telegram callback_data (<= 64 bytes)
_JOB_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


def new_job_id() -> str:
    """A fresh random job id: 10 base32 characters (50 bits), URL- and callback-safe."""
    return "".join(secrets.choice(_JOB_ID_ALPHABET) for _ in range(JOB_ID_LENGTH))


# --------------------------------------------------------------------------- quota


@dataclass(frozen=True, slots=True)
class QuotaKey:
    """Whose credits: one user inside one quota scope of one platform."""

    platform: str
    scope: str
    user_id: str


@dataclass(frozen=True, slots=True)
class Balance:
    """A user's credits in one window, computed from the ledger.

    ``remaining = max(0, limit + granted - used)``. When ``unlimited`` is true (a
    moderator), reservations are never refused and ``remaining`` is informative only.
    """

    limit: int
    used: int
    granted: int
    remaining: int
    custom_limit: bool  # the limit was set for this user rather than inherited
    unlimited: bool
    window: Window


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One ledger row as shown by ``/quota history``.

    ``kind`` is one of reserve, commit, refund, grant, set, reset, default.
    """

    id: int
    kind: str
    amount: int
    job_id: str | None
    actor: str | None
    note: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class KnownUser:
    """A user found by @username: their platform id and the name to show."""

    user_id: str
    display_name: str


class UserDirectory(Protocol):
    """Users the bot has seen, by @username, so that moderators can name them (Telegram
    offers bots no lookup of a user by username). Usernames are matched case-blind."""

    async def remember(
        self, platform: str, username: str, user_id: str, display_name: str
    ) -> None: ...

    async def find(self, platform: str, username: str) -> KnownUser | None: ...


class MemoryUserDirectory:
    """A ``UserDirectory`` in a dict, for the demo and tests (the bot uses SQLite)."""

    def __init__(self) -> None:
        self._users: dict[tuple[str, str], KnownUser] = {}

    async def remember(self, platform: str, username: str, user_id: str, display_name: str) -> None:
        self._users[(platform, username.lower().lstrip("@"))] = KnownUser(user_id, display_name)

    async def find(self, platform: str, username: str) -> KnownUser | None:
        return self._users.get((platform, username.lower().lstrip("@")))


class QuotaLedger(Protocol):
    """Append-only credit accounting; every mutation is atomic on its own.

    ``default_limit`` is the configured limit used when neither the user nor the scope
    has one; ``window`` is the current quota period (``bot.periods.current_window``).
    """

    async def balance(
        self, key: QuotaKey, window: Window, default_limit: int, *, unlimited: bool = False
    ) -> Balance: ...

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
        """Take ``cost`` credits for ``job_id`` if that many remain; False when refused."""
        ...

    async def commit(self, job_id: str) -> bool:
        """Mark the job's reservation spent. False if none, or already committed/refunded."""
        ...

    async def refund(self, job_id: str, note: str | None = None) -> bool:
        """Give the reservation back (to its own window). False if none or already settled."""
        ...

    async def refund_orphans(self, before: datetime) -> list[str]:
        """Refund the open reservations made before ``before`` that have no job row."""
        ...

    async def grant(
        self, key: QuotaKey, amount: int, window: Window, actor: str, note: str | None = None
    ) -> None:
        """Add ``amount`` extra credits for this window only (negative takes them away)."""
        ...

    async def set_limit(self, key: QuotaKey, limit: int, actor: str) -> None:
        """Give the user a custom per-period limit, kept across periods and resets."""
        ...

    async def reset(self, key: QuotaKey, window: Window, actor: str) -> None:
        """Zero this window's usage and grants for the user; a custom limit stays."""
        ...

    async def set_scope_default(self, platform: str, scope: str, limit: int, actor: str) -> None:
        """The limit of every user in the scope without a custom one."""
        ...

    async def scope_default(self, platform: str, scope: str) -> int | None: ...

    async def history(self, key: QuotaKey, limit: int = 10) -> list[LedgerEntry]:
        """The user's latest ledger rows, newest first."""
        ...

    async def charged(self, job_id: str) -> bool:
        """Whether the job holds a reservation that was not refunded."""
        ...


# --------------------------------------------------------------------------- jobs


class JobState(StrEnum):
    """Where a job is. ``delivered`` and ``failed`` are final; the rest are ``ACTIVE``."""

    QUEUED = "queued"  # reserved, waiting for a provider slot
    SUBMITTING = "submitting"  # request sent, no upstream id yet
    RUNNING = "running"  # upstream id known, following progress
    DOWNLOADING = "downloading"
    UPLOADING = "uploading"
    DELIVERED = "delivered"
    FAILED = "failed"


FINAL_STATES: frozenset[JobState] = frozenset({JobState.DELIVERED, JobState.FAILED})
ACTIVE: frozenset[JobState] = frozenset(JobState) - FINAL_STATES
# ``error_category`` of a job an operator cancelled (``sora-bot jobs cancel``): it is
# ``failed`` like any job that ended without a video, with its credit refunded
CANCELLED = "cancelled"


class JobClosed(Exception):
    """The job is already final, so its state can no longer change.

    Raised by ``JobRepository.update`` when a running job's next step meets a row that
    ended elsewhere: an operator cancelled it from the command line while the bot ran.
    """

    def __init__(self, job_id: str, state: JobState) -> None:
        super().__init__(f"job {job_id} is already {state.value}")
        self.job_id = job_id
        self.state = state


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRecord:
    """Everything needed to show, resume, remix or audit one generation.

    Message ids are the platform's, as strings; ``channel``/``thread`` locate them.
    ``history`` is the chat conversation to resend for a chat-format continuation and
    ``transcript`` the assistant answer of a chat job. All datetimes are aware UTC.
    """

    id: str
    platform: str
    scope: str
    channel: str
    thread: str | None = None
    user_id: str
    user_name: str = ""
    locale: str | None = None
    provider: str
    format: str
    model: str
    seconds: int
    orientation: str
    prompt: str
    image_path: str | None = None
    image_url: str | None = None
    parent_id: str | None = None  # the job this one continues (a remix)
    upstream_id: str | None = None  # the relay's id: resumes after a restart, remixes
    history: tuple[ChatMessage, ...] = ()
    transcript: str | None = None
    state: JobState = JobState.QUEUED
    status_message_id: str | None = None
    result_message_id: str | None = None
    reply_to_message_id: str | None = None  # the user's message the job answers
    cost: int = 0
    unlimited: bool = False  # reserved without a limit (a moderator): no credits shown
    video_url: str | None = None
    error_category: str | None = None  # an ``ErrorCategory`` value
    error_message: str | None = None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE


class JobRepository(Protocol):
    """Job rows: created once, updated as the job moves, found again by message or state."""

    async def create(self, record: JobRecord, *, max_active: int | None = None) -> bool:
        """Insert the job; with ``max_active``, only if the user has fewer active jobs.

        Returns False when the per-user limit refused it (nothing written).
        """
        ...

    async def get(self, job_id: str) -> JobRecord | None: ...

    async def update(self, job_id: str, **fields: object) -> JobRecord:
        """Change fields of a job (``KeyError`` if unknown); returns the stored record.

        Sets ``updated_at``; moving to a final state sets ``finished_at``. A change of
        ``state`` applies only while the job is active: final states are final, and
        ``JobClosed`` says the job ended elsewhere (cancelled by an operator).
        """
        ...

    async def find_by_message(
        self, platform: str, channel: str, message_id: str
    ) -> JobRecord | None:
        """The job whose status or result message this is (a reply to it continues it)."""
        ...

    async def unfinished(self) -> list[JobRecord]:
        """Jobs in an active state, oldest first: what a restart must resume or settle."""
        ...

    async def active_count(self, platform: str, user_id: str) -> int: ...

    def new_id(self) -> str: ...
