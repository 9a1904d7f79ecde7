"""Every job state change, logged and reported from one place: the job store itself.

The core moves a job by writing its state (``JobRepository.create`` and ``update``), in
the intake and in several steps of the runner. ``JobJournal`` wraps the store so that each
of those writes becomes exactly one log line (logger ``bot.jobs``, level INFO) and one
``JobChange`` for the telemetry, with the durations measured on a monotonic clock::

    msg="job state changed" job=k3v… user=telegram:-100…:42 provider=relay model=sora-2
    state=delivered previous=uploading queued_s=0.012 generation_s=41.3 delivery_s=2.1
    total_s=43.5
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.observability.telemetry import JobChange, Telemetry
from bot.records import FINAL_STATES, JobClosed, JobRecord, JobRepository, JobState

JOB_LOGGER = "bot.jobs"

# Where a phase ends: the first of these states the job entered.
_GENERATION_ENDS = (JobState.DOWNLOADING, JobState.UPLOADING, JobState.FAILED)
_DELIVERY_ENDS = (JobState.DELIVERED, JobState.FAILED)


@dataclass(slots=True)
class _Marks:
    """When (monotonic seconds) a job first entered each state, in this process."""

    state: JobState
    entered: dict[JobState, float] = field(default_factory=dict)

    def span(self, start: JobState, ends: tuple[JobState, ...]) -> float | None:
        began = self.entered.get(start)
        if began is None:
            return None
        for end in ends:
            if end in self.entered:
                return round(self.entered[end] - began, 3)
        return None


class JobJournal:
    """A ``JobRepository`` that reports every state change of the store it wraps."""

    def __init__(
        self,
        inner: JobRepository,
        telemetry: Telemetry,
        *,
        clock: Callable[[], float] = time.monotonic,
        logger: logging.Logger | None = None,
    ) -> None:
        self._inner = inner
        self._telemetry = telemetry
        self._clock = clock
        self._log = logger or logging.getLogger(JOB_LOGGER)
        self._marks: dict[str, _Marks] = {}  # jobs not yet final that this process has seen

    # ------------------------------------------------------------------ writes

    async def create(self, record: JobRecord, *, max_active: int | None = None) -> bool:
        created = await self._inner.create(record, max_active=max_active)
        if created:
            self._changed(record)
        return created

    async def update(self, job_id: str, **fields: object) -> JobRecord:
        try:
            record = await self._inner.update(job_id, **fields)
        except JobClosed:
            await self._ended_elsewhere(job_id)
            raise
        if "state" in fields:
            self._changed(record)
        return record

    # ------------------------------------------------------------------ reads, as they are

    async def get(self, job_id: str) -> JobRecord | None:
        return await self._inner.get(job_id)

    async def find_by_message(
        self, platform: str, channel: str, message_id: str
    ) -> JobRecord | None:
        return await self._inner.find_by_message(platform, channel, message_id)

    async def unfinished(self) -> list[JobRecord]:
        return await self._inner.unfinished()

    async def active_count(self, platform: str, user_id: str) -> int:
        return await self._inner.active_count(platform, user_id)

    def new_id(self) -> str:
        return self._inner.new_id()

    # ------------------------------------------------------------------ the report

    async def _ended_elsewhere(self, job_id: str) -> None:
        """An operator ended the job from another process (``sora-bot jobs cancel``): its
        final state is reported here, once, when the runner next tries to move it."""
        if job_id in self._marks:
            record = await self._inner.get(job_id)
            if record is not None:
                self._changed(record)

    def _changed(self, record: JobRecord) -> None:
        marks = self._marks.get(record.id)
        previous = marks.state if marks is not None else None
        if previous is record.state:
            return  # a write that kept the state (e.g. a second "accepted" on resume)
        if marks is None:
            marks = self._marks[record.id] = _Marks(record.state)
        marks.state = record.state
        marks.entered.setdefault(record.state, self._clock())
        final = record.state in FINAL_STATES
        if final:
            del self._marks[record.id]
        change = JobChange(
            job_id=record.id,
            user=f"{record.platform}:{record.scope}:{record.user_id}",
            provider=record.provider,
            model=record.model,
            state=record.state,
            previous=previous,
            queued=marks.span(JobState.QUEUED, (JobState.SUBMITTING,)),
            generation=marks.span(JobState.SUBMITTING, _GENERATION_ENDS),
            delivery=marks.span(JobState.UPLOADING, _DELIVERY_ENDS),
            total=_total(marks, record) if final else None,
            error=record.error_category if record.state is JobState.FAILED else None,
        )
        self._log.info("job state changed", extra=log_fields(change))
        self._telemetry.job_changed(change)


def _total(marks: _Marks, record: JobRecord) -> float | None:
    """Request to final state: measured here, or from the stored times for a job that
    began in an earlier process."""
    measured = marks.span(JobState.QUEUED, _DELIVERY_ENDS)
    if measured is not None:
        return measured
    if record.finished_at is None:
        return None
    return round((record.finished_at - record.created_at).total_seconds(), 3)


def log_fields(change: JobChange) -> dict[str, object]:
    """The structured fields of a job state line; unknown durations are left out."""
    fields: dict[str, object] = {
        "job": change.job_id,
        "user": change.user,
        "provider": change.provider,
        "model": change.model,
        "state": change.state.value,
    }
    if change.previous is not None:
        fields["previous"] = change.previous.value
    durations = {
        "queued_s": change.queued,
        "generation_s": change.generation,
        "delivery_s": change.delivery,
        "total_s": change.total,
    }
    fields.update({name: value for name, value in durations.items() if value is not None})
    if change.error is not None:
        fields["error"] = change.error
    return fields
