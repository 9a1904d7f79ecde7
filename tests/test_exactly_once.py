"""Exactly once, in the core: every accepted ``/sora`` ends in one video or one refund.

Issue #12's core defects, each shown by a test that failed before its fix: a quick
continuation refused while the result's bookkeeping was still running, a reservation
orphaned by a kill before its job row existed, and a job left active forever when its
texts could not be rendered.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot import runner
from bot.core import Core
from bot.errors import ErrorCategory, SendOutcomeUnknown
from bot.models import Accepted, Failed, MessageRef, ProviderEvent
from bot.providers.simulator import Simulator
from bot.records import JobState
from tests.core_harness import (
    CHAT,
    PLATFORM,
    ask,
    generate,
    key,
    ledger_kinds,
    running,
    settings_for,
)
from tests.fakes import IN_PLACE, FakeOutbox


@pytest.fixture
async def sim(tmp_path: Path):
    async with Simulator(
        tmp_path / "sim", job_seconds=0.3, poll_after_ms=20, video_seconds_cap=1.0, retry_after=0
    ) as simulator:
        yield simulator


async def only_job(core: Core):  # type: ignore[no-untyped-def]
    rows = await core.s.quotas.history(key(), 10)
    job = await core.s.jobs.get(next(r.job_id for r in rows if r.job_id))
    assert job is not None
    return job


LONE_SURROGATE = "\ud83d"  # half of an emoji: JSON from a chat or a relay can carry it


@pytest.mark.parametrize("fmt", ["videos", "chat", "unified"])
async def test_a_lone_surrogate_in_the_prompt_still_ends_the_job(
    sim: Simulator, tmp_path: Path, fmt: str
) -> None:
    outbox = FakeOutbox()
    async with running(settings_for(sim, tmp_path), outbox) as core:
        await generate(core, f"--provider {fmt} a fox {LONE_SURROGATE} in the snow")
        job = await only_job(core)
        assert not job.active, job.state
        assert job.state is JobState.DELIVERED
        assert await ledger_kinds(core) == ["reserve", "commit"]
        assert LONE_SURROGATE not in job.prompt and "\ufffd" in job.prompt


class SurrogateRelay:
    """The configured provider, except that every job fails with a relay error text
    carrying a lone surrogate (a relay's JSON can say ``"\\ud83d"``)."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.name, self.format, self.capabilities = real.name, real.format, real.capabilities

    def validate(self, request: Any) -> None:
        self._real.validate(request)

    async def generate(self, request: Any, workdir: Path) -> AsyncIterator[ProviderEvent]:
        yield Accepted("task_1")
        yield Failed(ErrorCategory.GENERATION_FAILED.value, f"bad {LONE_SURROGATE} frame", True)

    async def resume(self, *args: Any) -> AsyncIterator[ProviderEvent]:  # pragma: no cover
        yield Failed(ErrorCategory.TRANSIENT.value, "", True)


async def test_a_lone_surrogate_in_a_relay_error_still_fails_and_refunds(
    sim: Simulator, tmp_path: Path
) -> None:
    outbox = FakeOutbox()
    async with running(settings_for(sim, tmp_path), outbox) as core:
        core.s.providers["videos"] = SurrogateRelay(core.s.providers["videos"])  # type: ignore[assignment]
        await generate(core, "--provider videos a fox")
        job = await only_job(core)
        assert job.state is JobState.FAILED
        assert await ledger_kinds(core) == ["reserve", "refund"]
        final = outbox.final_status(next(iter(outbox.statuses)))
        assert "Failed" in final and "bad \ufffd frame" in final and "refunded" in final
        assert await core.s.jobs.active_count(PLATFORM.value, "alice") == 0


async def test_a_failure_that_cannot_be_told_still_ends_the_job_with_a_refund(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every text of the job fails to render: the job still ends, refunded, and its
    in-flight slot is free for the user's next request."""

    def broken(*args: object, **kwargs: object) -> str:
        raise ValueError("cannot render")

    outbox = FakeOutbox()
    async with running(settings_for(sim, tmp_path), outbox) as core:
        monkeypatch.setattr(runner, "render_status", broken)
        monkeypatch.setattr(runner, "failure_reason", broken)
        await generate(core, "--provider videos a fox")
        job = await only_job(core)
        assert job.state is JobState.FAILED
        assert await ledger_kinds(core) == ["reserve", "refund"]
        monkeypatch.undo()
        await generate(core, "--provider videos a fox again")
        assert len(outbox.videos) == 1


async def test_a_reservation_without_its_job_row_is_refunded_at_the_next_start(
    sim: Simulator, tmp_path: Path
) -> None:
    """A kill between the reservation and the job's insert (two writes) left a charge that
    no job row settles; the next start refunds it, and only it."""
    settings = settings_for(sim, tmp_path)
    async with running(settings, FakeOutbox()) as core:
        await generate(core, "--provider videos a fox")  # a job that really happened
        window = core.s.window()
        assert await core.s.quotas.reserve(key(), "killed-job", 1, window, 5)
    async with running(settings, FakeOutbox()) as core:
        assert await ledger_kinds(core) == ["reserve", "commit", "reserve", "refund"]
        assert not await core.s.quotas.charged("killed-job")
        balance = await core.s.quotas.balance(key(), core.s.window(), 5)
        assert balance.remaining == 4
        assert await core.settle_orphans() == []  # nothing twice


class HeldOutbox(FakeOutbox):
    """Holds the final "Done" edit of each status until ``release`` is set: the seconds a
    busy chat can take between the video's post and the job's last edit."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.release = asyncio.Event()
        self.held = asyncio.Event()

    async def edit_status(self, message: MessageRef, text: str) -> None:
        if "Done" in text:
            self.held.set()
            await self.release.wait()
        await super().edit_status(message, text)


@pytest.mark.parametrize("fmt", ["videos", "chat", "unified"])
@pytest.mark.parametrize("how", ["reply", "remix", "again"])
async def test_a_quick_remix_between_the_video_and_the_final_edit_is_accepted(
    sim: Simulator, tmp_path: Path, fmt: str, how: str
) -> None:
    outbox = HeldOutbox()
    async with running(settings_for(sim, tmp_path), outbox) as core:
        await core.handle(ask(f"--provider {fmt} a cow in a field"))
        await asyncio.wait_for(outbox.held.wait(), 30)
        parent = await only_job(core)
        assert parent.state is not JobState.DELIVERED and parent.result_message_id
        result = MessageRef(CHAT, parent.result_message_id)
        match how:
            case "reply":
                quick = ask("give the cow a halo", command="continue", reply_to=result)
            case "remix":  # the Remix button: the job id, and the change typed
                quick = ask("give the cow a halo", command="continue", options={"job": parent.id})
            case _:
                quick = ask("", command="again", options={"job": parent.id})
        reply = await core.handle(quick)
        assert reply is not None and reply.kind == "accepted", reply
        outbox.release.set()
        await core.wait_idle()
        assert len(outbox.videos) == 2
        assert await ledger_kinds(core) == ["reserve", "commit", "reserve", "commit"]


async def test_a_continuation_of_a_job_still_generating_is_refused_plainly(
    sim: Simulator, tmp_path: Path
) -> None:
    outbox = FakeOutbox()
    async with running(settings_for(sim, tmp_path), outbox) as core:
        await core.handle(ask("--provider videos a cow"))
        parent = await only_job(core)
        assert parent.status_message_id is not None
        status = MessageRef(CHAT, parent.status_message_id)
        reply = await core.handle(ask("make it blue", command="continue", reply_to=status))
        assert reply is not None and "isn’t finished yet" in reply.text
        await core.wait_idle()
        assert await ledger_kinds(core) == ["reserve", "commit"]


# --------------------------------------------------------------------------- sends


async def test_a_video_edited_into_its_status_is_the_only_message(
    sim: Simulator, tmp_path: Path
) -> None:
    """``video_in_status`` (Telegram): the status message becomes the video; no "Done" edit
    lands over its caption afterwards."""
    outbox = FakeOutbox(in_place=True)
    async with running(settings_for(sim, tmp_path), outbox) as core:
        await generate(core, "--provider videos a fox")
        (status_id,) = outbox.statuses
        (video,) = outbox.videos
        assert video.ref.message_id == status_id
        assert outbox.final_status(status_id).startswith(IN_PLACE)
        job = await only_job(core)
        assert job.state is JobState.DELIVERED and job.result_message_id == status_id
        assert await ledger_kinds(core) == ["reserve", "commit"]


async def test_a_status_gone_before_an_in_place_delivery_gets_a_fresh_video(
    sim: Simulator, tmp_path: Path
) -> None:
    outbox = FakeOutbox(in_place=True, gone={"1"})
    async with running(settings_for(sim, tmp_path), outbox) as core:
        await generate(core, "--provider videos a fox")
        (video,) = outbox.videos
        assert video.ref.message_id != "1"
        assert await ledger_kinds(core) == ["reserve", "commit"]


class SilentUpload(FakeOutbox):
    """Every upload lands, but its answer never comes back (a read timeout)."""

    async def send_video(self, *args: Any, **kwargs: Any) -> MessageRef:
        await super().send_video(*args, **kwargs)
        raise SendOutcomeUnknown("the upload got no answer")


async def test_an_upload_whose_outcome_is_unknown_is_never_resent_nor_refunded(
    sim: Simulator, tmp_path: Path
) -> None:
    outbox = SilentUpload()
    async with running(settings_for(sim, tmp_path), outbox) as core:
        await generate(core, "--provider videos a fox")
        assert len(outbox.videos) == 1
        assert await ledger_kinds(core) == ["reserve", "commit"]
        final = outbox.final_status(next(iter(outbox.statuses)))
        assert "may or may not be above" in final and "still counts" in final.lower(), final
        job = await only_job(core)
        assert not job.active
