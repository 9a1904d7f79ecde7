"""``sora-bot jobs list|show|cancel``: the jobs in the database, without chat access.

``cancel`` moves a queued or running job to ``failed`` (category ``cancelled``) and
refunds its credits in one transaction; a second cancel finds nothing left to do. If the
bot is running the job, it stops at the job's next step (before submitting, when the relay
accepts it, or when the video is ready: never after delivering) and edits the status
message to say an operator cancelled it. If the bot is not running, the next start does
not resume it. A job already uploading its video cannot be cancelled.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable

from bot.cli.admin_common import (
    OPERATOR,
    AdminError,
    add_json_flag,
    fields_table,
    local_time,
    open_store,
    print_json,
    redactor,
    reports_errors,
    table,
    user_arg,
    user_id_of,
)
from bot.config import Settings, load_settings
from bot.records import ACTIVE, CANCELLED, FINAL_STATES, JobRecord, JobState
from storage.admin import JobFilter, OperatorStore

# ``--state`` accepts the stored states plus two shorthands
STATE_CHOICES = (*(s.value for s in JobState), "active", CANCELLED)
PROMPT_WIDTH = 48


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "jobs",
        help="list, show or cancel jobs (operators)",
        description="List, show or cancel the bot's jobs in its database.",
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="latest jobs, newest first")
    listing.add_argument("--state", choices=STATE_CHOICES, help="only jobs in this state")
    listing.add_argument("--user", type=user_arg, metavar="USER", help="platform:user_id")
    listing.add_argument("--limit", type=int, default=20, help="rows (default 20)")
    add_json_flag(listing)
    show = actions.add_parser("show", help="everything about one job")
    show.add_argument("job_id", metavar="ID")
    add_json_flag(show)
    cancel = actions.add_parser(
        "cancel",
        help="cancel a queued or running job and refund it",
        description="Cancel a queued or running job and refund its credits (once). A running "
        "bot stops the job at its next step and never delivers it.",
    )
    cancel.add_argument("job_id", metavar="ID")
    add_json_flag(cancel)
    p.set_defaults(run=run)


@reports_errors
async def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    redact = redactor(settings)
    async with open_store(settings) as store:
        match args.action:
            case "list":
                query = _filter(args)
                if query.platform is not None and query.user_id is not None:
                    user_id = await user_id_of(store, query.platform, query.user_id)
                    query = dataclasses.replace(query, user_id=user_id)
                jobs = await store.jobs(query)
                if args.json:
                    print_json(jobs, redact)
                else:
                    print(redact(_list_table(jobs, settings)) if jobs else "no jobs")
                return 0
            case "show":
                return await _show(store, settings, args, redact)
            case _:
                return await _cancel(store, args)


def _filter(args: argparse.Namespace) -> JobFilter:
    if args.limit < 1:
        raise AdminError("--limit must be at least 1", code=2)
    states: frozenset[JobState] | None = None
    category = None
    if args.state == "active":
        states = ACTIVE
    elif args.state == CANCELLED:
        states, category = frozenset({JobState.FAILED}), CANCELLED
    elif args.state is not None:
        states = frozenset({JobState(args.state)})
    platform, user_id = args.user if args.user else (None, None)
    return JobFilter(states, category, platform, user_id, args.limit)


def describe_state(job: JobRecord) -> str:
    """``running``, ``failed (timeout)``, ``cancelled``."""
    if job.state is JobState.FAILED and job.error_category == CANCELLED:
        return CANCELLED
    if job.state is JobState.FAILED and job.error_category:
        return f"failed ({job.error_category})"
    return job.state.value


def _list_table(jobs: list[JobRecord], settings: Settings) -> str:
    timezone = settings.quota.timezone
    rows = [
        (
            job.id,
            describe_state(job),
            f"{job.platform}:{job.user_id}",
            job.provider,
            job.model,
            local_time(job.created_at, timezone),
            _short(job.prompt),
        )
        for job in jobs
    ]
    return table(("ID", "STATE", "USER", "PROVIDER", "MODEL", "CREATED", "PROMPT"), rows)


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PROMPT_WIDTH else flat[: PROMPT_WIDTH - 1] + "…"


async def _job(store: OperatorStore, job_id: str) -> JobRecord:
    job = await store.jobs_repo.get(job_id)
    if job is None:
        raise AdminError(f"no job {job_id!r} (see: sora-bot jobs list)")
    return job


async def _show(
    store: OperatorStore,
    settings: Settings,
    args: argparse.Namespace,
    redact: Callable[[str], str],
) -> int:
    job = await _job(store, args.job_id)
    ledger = await store.job_ledger(job.id)
    if args.json:
        print_json({"job": job, "ledger": ledger}, redact)
        return 0
    timezone = settings.quota.timezone
    pairs: list[tuple[str, object]] = [
        ("id", job.id),
        ("state", describe_state(job)),
        ("user", f"{job.platform}:{job.user_id} {job.user_name}".rstrip()),
        ("scope", job.scope),
        ("chat", job.channel + (f" thread {job.thread}" if job.thread else "")),
        ("provider", f"{job.provider} ({job.format})"),
        ("model", f"{job.model}, {job.seconds}s, {job.orientation}"),
        ("prompt", job.prompt),
        ("image", job.image_path or job.image_url),
        ("continues", job.parent_id),
        ("upstream id", job.upstream_id),
        ("cost", "unlimited (moderator)" if job.unlimited else job.cost),
        ("status message", job.status_message_id),
        ("result message", job.result_message_id),
        ("video url", job.video_url),
        ("error", job.error_message and f"{job.error_category}: {job.error_message}"),
        ("created", local_time(job.created_at, timezone)),
        ("updated", local_time(job.updated_at, timezone)),
        ("finished", local_time(job.finished_at, timezone)),
    ]
    lines = [fields_table(pairs), "", "ledger:"]
    lines.append(
        table(
            ("ID", "AT", "KIND", "AMOUNT", "NOTE"),
            [(e.id, local_time(e.at, timezone), e.kind, e.amount, e.note or "") for e in ledger],
        )
        if ledger
        else "  (no rows)"
    )
    print(redact("\n".join(lines)))
    return 0


async def _cancel(store: OperatorStore, args: argparse.Namespace) -> int:
    outcome = await store.cancel(args.job_id, OPERATOR)
    if outcome is None:
        raise AdminError(f"no job {args.job_id!r} (see: sora-bot jobs list)")
    job = outcome.job
    if args.json:
        print_json(
            {
                "job": job.id,
                "before": outcome.before,
                "state": describe_state(job),
                "cancelled": outcome.cancelled,
                "refunded": outcome.refunded,
            }
        )
    if not outcome.cancelled:
        if outcome.before in FINAL_STATES:
            reason = f"it already ended ({describe_state(job)})"
        else:
            reason = "it is uploading its video already: too late to cancel"
        raise AdminError(f"job {job.id} not cancelled: {reason}")
    if not args.json:
        credit = (
            f"refunded {job.cost} credit(s) to {job.platform}:{job.user_id}"
            if outcome.refunded
            else "no credits to refund"
        )
        print(
            f"cancelled job {job.id} (was {outcome.before.value}); {credit}.\n"
            "A running bot stops it at its next step and tells the user; "
            "a stopped bot will not resume it."
        )
    return 0
