"""The command core: one ``Invocation`` in, a ``Reply`` out, jobs running in the background.

``handle`` does only the quick part in the caller's time — parse, validate, reserve the
credit (one atomic statement), record the job — and answers at once; the job itself runs
as a supervised task (``bot.runner``). Bad input costs nothing: every check happens before
the reservation, and a job that cannot be recorded gives its reservation back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, replace
from typing import Any

from bot import texts
from bot.commands import SoraArgs, parse_sora
from bot.errors import InvalidRequest, QuotaExceeded, TooManyJobs, UserError
from bot.memory import HeapTrimmer
from bot.models import (
    ChatMessage,
    GenerationRequest,
    ImageInput,
    Invocation,
    Orientation,
    ParentRef,
    Reply,
)
from bot.ports import VideoProvider
from bot.queue import ProviderSlots
from bot.quota_commands import QuotaCommands
from bot.records import JobRecord, JobState
from bot.recovery import local_copy
from bot.runner import JobRunner
from bot.services import Services
from bot.unicode import well_formed

log = logging.getLogger(__name__)

# A refusal quotes at most this much of one parameter (see ``_quotable``); two quoted
# parameters and the longest template stay far below Discord's 2,000 characters.
MAX_QUOTED_CHARS = 300


@dataclass(frozen=True, slots=True)
class Plan:
    """A validated request, ready to be charged and recorded."""

    provider: VideoProvider
    request: GenerationRequest
    parent: JobRecord | None
    cost: int
    note: str | None  # told to the user with the acknowledgement (e.g. no native remix)


class Core:
    def __init__(self, services: Services) -> None:
        self.s = services
        self.slots = {p.name: ProviderSlots(p.max_concurrent) for p in services.settings.providers}
        self.runner = JobRunner(services, self.slots)
        self.quota = QuotaCommands(services)
        self._tasks: set[asyncio.Task[None]] = set()
        self._running: set[str] = set()  # ids of the jobs with a live task
        self._accepting = True
        self._heap = HeapTrimmer()

    # ------------------------------------------------------------------ entry points

    async def handle(self, inv: Invocation) -> Reply | None:
        locale = texts.resolve_locale(inv.locale, self.s.settings.bot.locale)
        inv = _normalised(inv, locale)
        try:
            match inv.command:
                case "help" | "start":
                    return Reply(texts.t(locale, "help"), private=False)
                case "quota":
                    return await self.quota.handle(inv)
                case "sora" | "continue" | "again":
                    return await self._intake(inv)
                case _:
                    raise InvalidRequest("unknown_command", command=inv.command)
        except UserError as exc:
            return Reply(texts.t(locale, exc.key, **_quotable(exc.params)), kind="error")

    async def settle_orphans(self) -> list[str]:
        """Refund the reservations a killed process made without recording their job (the
        reservation and the job row are two writes, and ``recover`` walks job rows only).
        Run once at startup, before any command is taken."""
        orphans = await self.s.quotas.refund_orphans(before=self.s.now())
        if orphans:
            log.warning("refunded %d reservations without a job: %s", len(orphans), orphans)
        return orphans

    async def recover(self, platform: str) -> int:
        """Resume or settle every unfinished job of ``platform`` (call once its outbox is
        attached). Returns how many jobs were resumed."""
        resumed = 0
        for job in await self.s.jobs.unfinished():
            if job.platform != platform or job.id in self._running:
                continue  # another platform's, or already being followed (recover twice)
            if job.error_category is not None or job.result_message_id is not None:
                # it had ended (failure recorded, or video sent) before the process died,
                # maybe before its status said so: finish telling, never run it again
                self._spawn(job.id, self.runner.conclude(job, refundable=self._refundable(job)))
                continue
            provider = self.s.providers.get(job.provider)
            if provider is None:
                await self._abandon(job, "provider_gone")
                continue
            request = await self._request_for(job, provider)
            if job.state is JobState.QUEUED:
                self._spawn(job.id, self.runner.run(job, request))  # never sent: safe now
            elif (
                job.state is JobState.UPLOADING
                and (copy := await local_copy(self.s.media_dir / job.id)) is not None
            ):
                # the finished video is still on disk: deliver it (any format, no relay)
                self._spawn(job.id, self.runner.run(job, request, video=copy))
            elif job.upstream_id and provider.capabilities.resumable:
                self._spawn(job.id, self.runner.run(job, request, resume=True))
            else:
                await self._abandon(job, "interrupted")
                continue
            resumed += 1
        return resumed

    async def wait_idle(self) -> None:
        """Wait until every running job has finished (the demo and tests use it)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def shutdown(self) -> None:
        """Stop taking jobs, cancel the running ones (they resume on the next start)."""
        self._accepting = False
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        for station in self.s.stations.values():
            await station.board.aclose()

    # ------------------------------------------------------------------ /sora

    async def _intake(self, inv: Invocation) -> Reply:
        if not self._accepting:
            raise InvalidRequest("shutting_down")
        plan = await self._plan(inv)
        settings = self.s.settings
        platform, user = inv.user.platform.value, inv.user
        limit = settings.bot.max_jobs_per_user
        if await self.s.jobs.active_count(platform, user.id) >= limit:
            raise TooManyJobs(limit=limit)
        unlimited = (inv.is_moderator or self.s.is_configured_moderator(platform, user.id)) and (
            settings.quota.moderators_unlimited
        )
        key = self.s.quota_key(platform, inv.conversation.scope, user.id)
        window = self.s.window()
        job_id = self.s.jobs.new_id()
        default = settings.quota.default_limit
        if not await self.s.quotas.reserve(
            key, job_id, plan.cost, window, default, unlimited=unlimited
        ):
            balance = await self.s.quotas.balance(key, window, default)
            raise QuotaExceeded(
                remaining=balance.remaining, cost=plan.cost, resets=self.s.format_reset(window)
            )
        job = replace(self._record(job_id, inv, plan), unlimited=unlimited)
        try:
            created = await self.s.jobs.create(job, max_active=limit)
        except BaseException:
            # no job row, so nothing else would ever settle this reservation
            await asyncio.shield(self.s.quotas.refund(job_id, note="not recorded"))
            raise
        if not created:
            await self.s.quotas.refund(job_id, note="too many jobs")
            raise TooManyJobs(limit=limit)
        if self._accepting:  # else shutdown began meanwhile: the row stays queued and resumes
            self._spawn(job.id, self.runner.run(job, plan.request))
        text = plan.note or texts.t(inv.locale, "accepted", job=job_id)
        return Reply(text, private=True, kind="accepted")

    async def _plan(self, inv: Invocation) -> Plan:
        parent = await self._parent(inv)
        if inv.command == "again":
            assert parent is not None
            args = SoraArgs(
                prompt=parent.prompt,
                model=parent.model,
                seconds=parent.seconds,
                orientation=Orientation(parent.orientation),
                provider=parent.provider,
            )
            parent = None
        else:
            args = parse_sora(
                inv.text, inv.options, max_prompt_chars=self.s.settings.bot.prompt_max_chars
            )
        provider = self._provider_for(args, parent)
        models = provider.capabilities.models
        model = args.model or (parent.model if parent else next(iter(models)))
        caps = models.get(model)
        if caps is None:
            raise InvalidRequest("unknown_model", model=model, allowed=", ".join(models))
        orientation = args.orientation or (
            Orientation(parent.orientation) if parent else Orientation.PORTRAIT
        )
        prompt, ref, note = args.prompt, None, None
        if parent is not None:
            if provider.capabilities.remix:
                if not parent.upstream_id or not _has_video(parent):
                    raise InvalidRequest("parent_not_ready" if parent.active else "not_a_job")
                ref = ParentRef(parent.upstream_id, parent.prompt, _history(parent))
            else:
                prompt = f"{parent.prompt}\n{args.prompt}"
                note = texts.t(inv.locale, "unified_remix_note")
        request = GenerationRequest(
            prompt=prompt,
            model=model,
            seconds=args.seconds or (parent.seconds if parent else caps.default_seconds),
            orientation=orientation,
            image=inv.image,
            parent=ref,
        )
        provider.validate(request)
        return Plan(provider, request, parent, caps.cost, note)

    async def _parent(self, inv: Invocation) -> JobRecord | None:
        """The job a continuation or "again" builds on: by button (job id) or by reply."""
        job: JobRecord | None = None
        if inv.options.get("job"):
            job = await self.s.jobs.get(inv.options["job"])
        elif inv.reply_to is not None:
            job = await self.s.jobs.find_by_message(
                inv.user.platform.value, inv.reply_to.conversation.channel, inv.reply_to.message_id
            )
        if job is not None and job.scope != inv.conversation.scope:
            job = None  # a job id from another server or chat is not yours to continue
        if job is None and inv.command in ("continue", "again"):
            raise InvalidRequest("not_a_job")
        return job

    def _provider_for(self, args: SoraArgs, parent: JobRecord | None) -> VideoProvider:
        providers = self.s.providers
        if not providers:
            raise InvalidRequest("no_providers")
        name = args.provider or (parent.provider if parent else None)
        if name is not None:
            if name not in providers:
                raise InvalidRequest(
                    "unknown_provider", provider=name, allowed=", ".join(providers)
                )
            return providers[name]
        if args.model:
            serving = [p for p in providers.values() if args.model in p.capabilities.models]
            if not serving:
                allowed = sorted({m for p in providers.values() for m in p.capabilities.models})
                raise InvalidRequest("unknown_model", model=args.model, allowed=", ".join(allowed))
            return serving[0]  # the first configured provider serving it; --provider picks another
        return next(iter(providers.values()))

    def _record(self, job_id: str, inv: Invocation, plan: Plan) -> JobRecord:
        now = self.s.now()
        request, conversation = plan.request, inv.conversation
        image = request.image or ImageInput()
        return JobRecord(
            id=job_id,
            platform=inv.user.platform.value,
            scope=conversation.scope,
            channel=conversation.channel,
            thread=conversation.thread,
            user_id=inv.user.id,
            user_name=inv.user.display_name,
            locale=inv.locale,
            provider=plan.provider.name,
            format=plan.provider.format,
            model=request.model,
            seconds=request.seconds,
            orientation=request.orientation.value,
            prompt=request.prompt,
            image_path=str(image.path) if image.path else None,
            image_url=image.url,
            parent_id=plan.parent.id if plan.parent else None,
            upstream_id=None,
            history=(),
            transcript=None,
            state=JobState.QUEUED,
            status_message_id=None,
            result_message_id=None,
            reply_to_message_id=inv.message.message_id if inv.message else None,
            cost=plan.cost,
            video_url=None,
            error_category=None,
            error_message=None,
            created_at=now,
            updated_at=now,
            finished_at=None,
        )

    # ------------------------------------------------------------------ recovery helpers

    async def _request_for(self, job: JobRecord, provider: VideoProvider) -> GenerationRequest:
        ref = None
        if job.parent_id and provider.capabilities.remix:
            parent = await self.s.jobs.get(job.parent_id)
            if parent is not None:
                ref = ParentRef(parent.upstream_id, parent.prompt, _history(parent))
        image = None
        if job.image_path or job.image_url:
            from pathlib import Path

            image = ImageInput(Path(job.image_path) if job.image_path else None, job.image_url)
        return GenerationRequest(
            prompt=job.prompt,
            model=job.model,
            seconds=job.seconds,
            orientation=Orientation(job.orientation),
            image=image,
            parent=ref,
        )

    async def _abandon(self, job: JobRecord, why: str) -> None:
        """A job that cannot be resumed: fail it, settle the credit, tell the user."""
        if job.platform not in self.s.stations:
            return
        await self.runner.abandon(job, why, refundable=self._refundable(job))

    def _refundable(self, job: JobRecord) -> bool:
        """Whether an interrupted job's credit may come back: not when its relay bills
        failures and the job had been sent (seed 000)."""
        provider = next((p for p in self.s.settings.providers if p.name == job.provider), None)
        billed = (
            provider is not None and provider.bills_failures and job.state is not JobState.QUEUED
        )
        return not billed

    def _spawn(self, job_id: str, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work, name=f"job:{job_id}")
        self._tasks.add(task)
        self._running.add(job_id)

        def done(task: asyncio.Task[None]) -> None:
            self._tasks.discard(task)
            self._running.discard(job_id)
            if not task.cancelled() and task.exception() is not None:
                log.error("job %s ended with an error", job_id, exc_info=task.exception())
            self._heap.maybe_trim()

        task.add_done_callback(done)


def _has_video(job: JobRecord) -> bool:
    """Whether ``job``'s video is in the chat: from the moment its message exists, not
    from the job's last bookkeeping step (the charge and the final status edit can take
    seconds in a busy chat, and a quick Remix in that window is a real request)."""
    return job.state is JobState.DELIVERED or (
        job.result_message_id is not None and job.error_category is None
    )


def _history(parent: JobRecord) -> tuple[ChatMessage, ...]:
    """What a chat-format continuation resends: the parent's whole conversation."""
    if parent.history:
        return parent.history
    if parent.transcript:
        return (ChatMessage("user", parent.prompt), ChatMessage("assistant", parent.transcript))
    return ()


def _normalised(inv: Invocation, locale: str) -> Invocation:
    """``inv`` in its resolved language, its user-supplied texts well formed: a lone
    surrogate from the chat's JSON would otherwise fail the job row's insert or the
    relay's request body (``bot.unicode``)."""
    return replace(
        inv,
        locale=locale,
        text=well_formed(inv.text),
        options={name: well_formed(value) for name, value in inv.options.items()},
        user=replace(inv.user, display_name=well_formed(inv.user.display_name)),
    )


def _quotable(params: Mapping[str, object]) -> dict[str, object]:
    """A refusal's parameters, each text cut to ``MAX_QUOTED_CHARS``: refusals quote the
    user's words (an unknown flag, model, user…), and a 4,000-character word would push
    the answer over the platform's text limit, so the user would hear nothing at all."""
    return {
        name: value[: MAX_QUOTED_CHARS - 1] + "…"
        if isinstance(value, str) and len(value) > MAX_QUOTED_CHARS
        else value
        for name, value in params.items()
    }
