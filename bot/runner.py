"""One job from queue to delivery: slot, submit, follow, deliver, settle the credit.

Whatever happens, a job ends in ``delivered`` or ``failed`` with its status message saying
so, and its reservation is committed or refunded exactly once. The one exception is
cancellation at shutdown: the job's row is left as it is so that the next start resumes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace

from bot import texts
from bot.delivery import DeliveryFailed, Parcel, deliver
from bot.errors import ErrorCategory, PlatformError, SendOutcomeUnknown
from bot.models import (
    Accepted,
    Completed,
    Conversation,
    Failed,
    GenerationRequest,
    MessageRef,
    Progress,
    ProviderEvent,
    Queued,
    VideoFile,
)
from bot.queue import ProviderSlots
from bot.records import CANCELLED, JobClosed, JobRecord, JobState
from bot.services import Services
from bot.status import StatusBoard, StatusView, escape, render_caption, render_status

log = logging.getLogger(__name__)

# how a job ends whose upload got no answer (``SendOutcomeUnknown``): charged, not resent
UPLOAD_UNKNOWN = "upload_unknown"


def conversation_of(job: JobRecord) -> Conversation:
    from bot.models import Platform

    return Conversation(Platform(job.platform), job.scope, job.channel, job.thread)


def message_ref(job: JobRecord, message_id: str | None) -> MessageRef | None:
    return MessageRef(conversation_of(job), message_id) if message_id else None


class StatusLine:
    """The job's one status message: what it shows now, pushed through the board."""

    def __init__(self, services: Services, board: StatusBoard, job: JobRecord) -> None:
        self._services = services
        self._board = board
        self._job = job
        self._caps = services.station(job.platform).outbox.capabilities(conversation_of(job))
        self._started = services.monotonic()
        self._generating_since: float | None = None
        self.ref = message_ref(job, job.status_message_id)
        self.view = StatusView(
            prompt=job.prompt,
            model=job.model,
            seconds=job.seconds,
            orientation=job.orientation,
            phase="queued",
            position=None,
            percent=None,
            elapsed=0.0,
            eta=None,
            reason=None,
            task_id=job.upstream_id,
        )

    def text(self) -> str:
        now = self._services.monotonic()
        view = replace(self.view, elapsed=now - self._started, eta=self._eta(now))
        return render_status(view, self._job.locale, self._caps.markup, self._caps.text_limit)

    def _eta(self, now: float) -> float | None:
        percent = self.view.percent
        if self.view.phase != "generating" or self._generating_since is None:
            return None
        if not percent or percent >= 100:
            return None
        spent = now - self._generating_since
        return spent * (100 - percent) / percent

    async def post(self) -> MessageRef | None:
        reply_to = message_ref(self._job, self._job.reply_to_message_id)
        self.ref = await self._board.post(
            conversation_of(self._job), self.text(), reply_to=reply_to
        )
        return self.ref

    def show(self, **changes: object) -> None:
        urgent = "phase" in changes and changes["phase"] != self.view.phase
        if changes.get("phase") == "generating" and self._generating_since is None:
            self._generating_since = self._services.monotonic()
        self.view = replace(self.view, **changes)  # type: ignore[arg-type]
        if self.ref is not None:
            # rendered only when the chat's budget lets the edit through
            self._board.update(self.ref, self.text, urgent=urgent)

    async def finish(self, phase: str, reason: str | None = None) -> bool:
        self.view = replace(self.view, phase=phase, reason=reason)  # type: ignore[arg-type]
        if self.ref is None:
            return False
        return await self._board.finish(self.ref, self.text())


class JobRunner:
    def __init__(self, services: Services, slots: Mapping[str, ProviderSlots]) -> None:
        self.s = services
        self.slots = slots

    async def run(
        self,
        job: JobRecord,
        request: GenerationRequest,
        *,
        resume: bool = False,
        video: VideoFile | None = None,
    ) -> None:
        """Run ``job`` to its end; ``resume`` follows its upstream id, ``video`` delivers a
        finished copy a restart found on disk (``bot.recovery.local_copy``)."""
        workdir = self.s.media_dir / job.id
        finished = False
        status: StatusLine | None = None
        try:
            status = StatusLine(self.s, self.s.station(job.platform).board, job)
            if status.ref is None:
                posted = await status.post()
                if posted is not None:
                    job = await self.s.jobs.update(job.id, status_message_id=posted.message_id)
            if video is not None:
                outcome: Completed | Failed = Completed(
                    video,
                    upstream_id=job.upstream_id,
                    video_url=job.video_url,
                    transcript=job.transcript,
                    conversation=job.history,
                )
            else:
                slots = self.slots[job.provider]
                async with slots.slot(lambda n: status.show(phase="queued", position=n)):
                    workdir.mkdir(parents=True, exist_ok=True)
                    outcome = await self._generate(job, request, status, resume)
            job = await self.s.jobs.get(job.id) or job
            if isinstance(outcome, Failed):
                self.s.telemetry.upstream_error(job.provider, outcome.category)
                await self._fail(
                    job,
                    status,
                    outcome.category,
                    outcome.message,
                    refundable=outcome.refundable,
                    task_id=outcome.upstream_id,
                )
            else:
                await self._deliver(job, outcome, status)
            finished = True
        except asyncio.CancelledError:
            raise  # shutdown: the row stays active and the next start resumes it
        except JobClosed:
            # cancelled by an operator (``sora-bot jobs cancel``) while it ran: the CLI
            # refunded it; stop at this step, deliver nothing, say why
            await self._closed(job, status)
            finished = True
        except Exception as exc:
            log.exception("job %s crashed", job.id)
            job = await self.s.jobs.get(job.id) or job
            try:
                await self._fail(
                    job,
                    status,
                    ErrorCategory.TRANSIENT.value,
                    f"internal error ({type(exc).__name__})",
                    refundable=True,
                    task_id=job.upstream_id,
                )
            except Exception:
                log.exception("job %s: reporting its failure failed too", job.id)
                await self._end_anyway(job)
            finished = True
        finally:
            if finished:
                shutil.rmtree(workdir, ignore_errors=True)

    async def _generate(
        self, job: JobRecord, request: GenerationRequest, status: StatusLine, resume: bool
    ) -> Completed | Failed:
        provider = self.s.providers[job.provider]
        workdir = self.s.media_dir / job.id
        if resume and job.upstream_id:
            await self.s.jobs.update(job.id, state=JobState.RUNNING)
            status.show(phase="generating", position=None)
            events = provider.resume(job.upstream_id, request, workdir)
        else:
            await self.s.jobs.update(job.id, state=JobState.SUBMITTING)
            status.show(phase="submitting", position=None)
            events = provider.generate(request, workdir)
        async with contextlib.aclosing(events):
            return await self._follow_events(job, events, status)

    async def _follow_events(
        self, job: JobRecord, events: AsyncIterator[ProviderEvent], status: StatusLine
    ) -> Completed | Failed:
        async for event in events:
            match event:
                case Accepted(upstream_id=upstream_id):
                    await self.s.jobs.update(
                        job.id, upstream_id=upstream_id, state=JobState.RUNNING
                    )
                    status.show(phase="generating", task_id=upstream_id)
                case Queued(position=position):
                    status.show(phase="queued", position=position)
                case Progress(percent=percent):
                    status.show(phase="generating", percent=percent)
                case Completed():
                    status.show(phase="downloading", percent=100)
                    return event
                case Failed():
                    return event
        return Failed(ErrorCategory.TRANSIENT.value, "the relay ended without a result", True)

    async def _deliver(self, job: JobRecord, done: Completed, status: StatusLine) -> None:
        await self.s.jobs.update(
            job.id,
            state=JobState.UPLOADING,
            video_url=done.video_url,
            upstream_id=done.upstream_id or job.upstream_id,
            transcript=done.transcript,
            history=done.conversation or job.history,
        )
        station = self.s.station(job.platform)
        in_status = station.outbox.capabilities(conversation_of(job)).video_in_status
        parcel = Parcel(
            conversation=conversation_of(job),
            video=done.video,
            caption=await self._caption(job),
            job_id=job.id,
            workdir=self.s.media_dir / job.id,
            locale=job.locale,
            reply_to=status.ref or message_ref(job, job.reply_to_message_id),
            video_url=done.video_url,
            expires_at=done.expires_at,
            in_place_of=status.ref if in_status else None,
        )
        try:
            delivered = await deliver(
                station.outbox, station.board, parcel, lambda p: status.show(phase=p)
            )
        except SendOutcomeUnknown as exc:
            # the platform may have the video: never send it again, never refund it
            log.warning("job %s: the upload's outcome is unknown: %s", job.id, exc)
            await self._fail(job, status, UPLOAD_UNKNOWN, "", refundable=False)
            return
        except DeliveryFailed as exc:
            await self._fail(job, status, "undeliverable", str(exc), refundable=True)
            return
        except PlatformError as exc:
            log.warning("job %s: delivery failed on the platform: %s", job.id, exc)
            await self._fail(job, status, "undeliverable", str(exc), refundable=True)
            return
        result_id = delivered.message.message_id if delivered.message else None
        # recorded at once: from here a restart finishes telling, it never sends it again
        job = await self.s.jobs.update(job.id, result_message_id=result_id)
        await self._conclude_delivery(job, status)

    async def _conclude_delivery(self, job: JobRecord, status: StatusLine) -> None:
        """Charge, say Done, and only then mark the job delivered: a process that dies
        while the status edit waits for the chat's budget leaves the job active, and the
        next start finishes it (``conclude``) instead of leaving "Uploading" on screen."""
        await self.s.quotas.commit(job.id)
        if not self._video_in_status(job):
            await status.finish("done")  # else the video's caption is the final text
        await self.s.jobs.update(job.id, state=JobState.DELIVERED)

    def _video_in_status(self, job: JobRecord) -> bool:
        """Whether the job's video was edited into its status message (Telegram)."""
        caps = self.s.station(job.platform).outbox.capabilities(conversation_of(job))
        return caps.video_in_status and job.result_message_id == job.status_message_id

    async def conclude(self, job: JobRecord, *, refundable: bool) -> None:
        """Finish a job that had ended when the previous process died (its video sent, or
        its failure recorded) but whose status message may not say so yet."""
        status = StatusLine(self.s, self.s.station(job.platform).board, job)
        if job.error_category is not None:
            await self._fail(
                job,
                status,
                job.error_category,
                job.error_message or "",
                refundable=refundable,
                task_id=job.upstream_id,
            )
        else:
            await self._conclude_delivery(job, status)
        shutil.rmtree(self.s.media_dir / job.id, ignore_errors=True)

    async def _caption(self, job: JobRecord) -> str:
        caps = self.s.station(job.platform).outbox.capabilities(conversation_of(job))
        remaining = None
        if not job.unlimited:
            key = self.s.quota_key(job.platform, job.scope, job.user_id)
            quota = self.s.settings.quota
            balance = await self.s.quotas.balance(key, self.s.window(), quota.default_limit)
            remaining = balance.remaining
        return render_caption(
            job.prompt,
            job.model,
            job.seconds,
            remaining,
            locale=job.locale,
            markup=caps.markup,
            limit=caps.caption_limit,
        )

    async def _end_anyway(self, job: JobRecord) -> None:
        """Last resort when even the failure path broke: refund the credit and end the job,
        so it never holds the user's in-flight slot forever. Each step on its own."""
        for step in (
            lambda: self.s.quotas.refund(job.id, note="internal error"),
            lambda: self.s.jobs.update(job.id, state=JobState.FAILED),
        ):
            try:
                await step()
            except JobClosed:
                pass  # already final
            except Exception:
                log.exception("job %s: could not be ended", job.id)

    async def _closed(self, job: JobRecord, status: StatusLine | None) -> None:
        """The job's row ended elsewhere: tell the user why on its status message."""
        stored = await self.s.jobs.get(job.id) or job
        log.warning("job %s was %s elsewhere; stopped", job.id, stored.error_category)
        if status is None or stored.error_category != CANCELLED:
            return
        refunded = not await self.s.quotas.charged(job.id)
        reason = failure_reason(job.locale, CANCELLED, "", stored, refunded=refunded, task_id=None)
        await status.finish("failed", reason)

    async def abandon(self, job: JobRecord, category: str, *, refundable: bool) -> None:
        """Fail a job that cannot go on (found after a restart), through the same path."""
        status = StatusLine(self.s, self.s.station(job.platform).board, job)
        await self._fail(job, status, category, "", refundable=refundable, task_id=job.upstream_id)
        shutil.rmtree(self.s.media_dir / job.id, ignore_errors=True)

    async def _fail(
        self,
        job: JobRecord,
        status: StatusLine | None,
        category: str,
        message: str,
        *,
        refundable: bool,
        task_id: str | None = None,
    ) -> None:
        """Record the failure, settle the credit, and make sure the user hears of it.

        Idempotent: a job already final is left alone. The error is written before the
        credit moves, and the job turns ``failed`` only once the user has been told: a
        restart in between finds an active job with an error and finishes telling it
        (``conclude``), so a job with its credit back never runs again and no status
        message is left showing progress.
        """
        current = await self.s.jobs.get(job.id)
        if current is not None and not current.active:
            return
        await self.s.jobs.update(
            job.id,
            state=current.state if current else job.state,  # still active, or JobClosed
            error_category=category,
            error_message=message,
        )
        if self.s.settings.quota.refund_on_failure and refundable:
            await self.s.quotas.refund(job.id, note=category)
        else:
            await self.s.quotas.commit(job.id)
        refunded = not await self.s.quotas.charged(job.id)
        try:
            await self._tell_failure(job, status, category, message, refunded, task_id)
        except Exception:  # a text that cannot be rendered or sent must not keep it active
            log.exception("job %s: telling its failure failed", job.id)
        await self.s.jobs.update(job.id, state=JobState.FAILED)

    async def _tell_failure(
        self,
        job: JobRecord,
        status: StatusLine | None,
        category: str,
        message: str,
        refunded: bool,
        task_id: str | None,
    ) -> None:
        """Show the failure on the job's status message, or in a new message if it is gone."""
        locale = job.locale
        caps = self.s.station(job.platform).outbox.capabilities(conversation_of(job))
        provider = next((p for p in self.s.settings.providers if p.name == job.provider), None)
        reason = failure_reason(  # raw: the status renderer escapes it once
            locale,
            category,
            message,
            job,
            refunded=refunded,
            task_id=task_id,
            minutes=provider.deadline_minutes if provider else 0,
        )
        if status is None or not await status.finish("failed", reason):
            # the status message is gone: the user still hears what happened
            text = escape(texts.t(locale, "phase.failed", reason=reason), caps.markup)
            station = self.s.station(job.platform)
            conversation = conversation_of(job)
            try:
                async with station.board.turn(conversation):
                    await station.outbox.send_text(
                        conversation, text, reply_to=message_ref(job, job.reply_to_message_id)
                    )
            except Exception as exc:  # the chat itself may be gone: nothing more to do
                log.warning("job %s: could not report its failure: %s", job.id, exc)


def failure_reason(
    locale: str | None,
    category: str,
    message: str,
    job: JobRecord,
    *,
    refunded: bool,
    task_id: str | None,
    minutes: float = 0,
) -> str:
    """The failure in the user's words: what happened, the task id if any, the credit."""
    parts = [
        texts.t(
            locale, f"failed.{category}", message=message, model=job.model, minutes=f"{minutes:g}"
        )
    ]
    if task_id and category in (ErrorCategory.TRANSIENT.value, ErrorCategory.TIMEOUT.value):
        parts.append(texts.t(locale, "task_id", task_id=task_id))
    parts.append(
        texts.t(locale, "refunded", cost=job.cost) if refunded else texts.t(locale, "not_refunded")
    )
    return " ".join(parts)
