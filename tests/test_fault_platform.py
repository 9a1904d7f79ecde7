"""Telegram going wrong, beyond ``tests/test_telegram_faults.py``: 429 storms, a deleted
status message on a job that fails, uploads refused for good (413) or for another reason
(400), through the real python-telegram-bot against the fake Bot API.

A ``Gate`` (``tests/fault_gate.py``) sits between PTB and the fake and answers the chosen
calls itself, stamped with the world's virtual clock, so a ``retry_after`` of minutes
costs no real time and the waits the bot made can be checked. For every job: it ends
delivered or failed + refunded, the ledger says the same, the user is told (the status
message, or a new message when it is gone), and the bot keeps serving.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.providers.simulator import Fault
from bot.records import JobRecord, JobState
from tests.fault_gate import Exchange, Gate
from tests.telegram_rig import Running, World, running, world

pytestmark = pytest.mark.fault  # part of the fault suite: python -m pytest -m fault

GROUP = -100700
COUNTED = frozenset({"sendMessage", "editMessageText", "sendVideo"})  # Telegram's flood count


def bot_api_error(status: int, description: str, retry_after: int | None = None) -> dict[str, Any]:
    """An error answer as the Bot API spells it (https://core.telegram.org/bots/api)."""
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return body


def to_chat(chat_id: int, *methods: str) -> Callable[[Exchange], bool]:
    return lambda ex: ex.api_method in methods and ex.fields.get("chat_id") == str(chat_id)


@dataclass
class Rig:
    w: World
    gate: Gate
    bot: Running

    async def one_job(self, chat: dict[str, Any], user_id: int, text: str) -> JobRecord:
        """``user_id`` asks ``text`` in ``chat``; wait until that job has ended."""
        fake, jobs = self.w.fake, self.bot.core.s.jobs
        user = fake.user(user_id, f"u{user_id}")
        before = len(await self.jobs_of(user_id))
        fake.push_message(chat, user, text)
        async with asyncio.timeout(60):
            while len(await self.jobs_of(user_id)) == before:
                await self.gate.next_activity()
            await self.bot.core.wait_idle()
        latest = (await self.jobs_of(user_id))[-1]
        job = await jobs.get(latest)
        assert job is not None
        return job

    async def jobs_of(self, user_id: int) -> list[str]:
        core = self.bot.core
        ids = []
        for scope in ("direct", str(GROUP)):
            key = core.s.quota_key("telegram", scope, str(user_id))
            ids += [e.job_id for e in reversed(await core.s.quotas.history(key, 50)) if e.job_id]
        return list(dict.fromkeys(ids))

    async def ledger(self, job: JobRecord) -> list[str]:
        key = self.bot.core.s.quota_key("telegram", job.scope, job.user_id)
        entries = await self.bot.core.s.quotas.history(key, 50)
        return [e.kind for e in reversed(entries) if e.job_id == job.id]

    def status_text(self, job: JobRecord) -> str:
        assert job.status_message_id is not None
        return str(self.w.fake.message(int(job.channel), int(job.status_message_id))["text"])


@asynccontextmanager
async def rig(tmp_path: Path, **world_options: Any) -> AsyncIterator[Rig]:
    """The Telegram rig with a gate between PTB and the fake Bot API."""
    async with world(tmp_path, **world_options) as w, Gate(w.fake.url, clock=w.clock) as gate:
        telegram = w.settings.telegram.model_copy(update={"api_url": gate.url})
        w.settings = w.settings.model_copy(update={"telegram": telegram})
        async with running(w) as bot:
            yield Rig(w, gate, bot)


@pytest.mark.parametrize(
    "methods",
    [
        ("editMessageText", "sendVideo"),  # progress edits and the upload
        ("sendMessage",),  # the status post itself: given up after 3, the job goes on
    ],
)
async def test_a_429_storm_is_waited_out_and_the_job_still_lands(
    tmp_path: Path, methods: tuple[str, ...]
) -> None:
    async with rig(tmp_path) as r:
        chat = r.w.fake.group_chat(GROUP)
        storm = r.gate.refuse(
            to_chat(GROUP, *methods),
            status=429,
            body=bot_api_error(429, "Too Many Requests: retry after 40", retry_after=40),
            count=3,
        )
        job = await r.one_job(chat, 81, "/sora --provider videos a fox in a storm")
        assert storm.count == 0  # the whole storm was met
        assert job.state is JobState.DELIVERED
        assert await r.ledger(job) == ["reserve", "commit"]
        assert sum(v.message_id is not None for v in r.w.fake.videos) == 1
        if job.status_message_id is not None:
            assert "Done!" in r.status_text(job)
        else:  # no status message at all: nothing on screen claims progress
            assert "sendMessage" in methods
        # after each 429 the chat was left alone for the whole retry_after
        calls = [ex for ex in r.gate.exchanges if to_chat(GROUP, *COUNTED)(ex)]
        for refused in storm.answered:
            later = [ex.at for ex in calls if ex.at > refused.at]
            assert not later or min(later) >= refused.at + 40 - 1e-6, (refused, later)
        # and serves the next job at once
        job = await r.one_job(chat, 82, "/sora --provider unified a calm sea")
        assert job.state is JobState.DELIVERED


async def test_an_upload_refused_three_times_for_flooding_still_lands(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        refused = r.gate.refuse(
            to_chat(GROUP, "sendVideo"),
            status=429,
            body=bot_api_error(429, "Too Many Requests: retry after 30", retry_after=30),
            count=3,
        )
        job = await r.one_job(r.w.fake.group_chat(GROUP), 83, "/sora --provider chat a fox")
        assert refused.count == 0
        assert job.state is JobState.DELIVERED, job.error_message
        assert await r.ledger(job) == ["reserve", "commit"]
        assert "Done!" in r.status_text(job)


@pytest.mark.parametrize("fmt", ["videos", "unified", "chat"])
async def test_an_upload_refused_with_a_400_fails_refunds_and_says_so(
    tmp_path: Path, fmt: str
) -> None:
    async with rig(tmp_path) as r:
        r.gate.refuse(
            to_chat(84, "sendVideo"),
            status=400,
            body=bot_api_error(400, "Bad Request: VIDEO_CONTENT_TYPE_INVALID"),
        )
        fake = r.w.fake
        user = fake.user(84, "u84")
        job = await r.one_job(fake.private_chat(user), 84, f"/sora --provider {fmt} a fox")
        assert job.state is JobState.FAILED
        assert await r.ledger(job) == ["reserve", "refund"]
        status = r.status_text(job)
        assert "could not be posted here" in status and "refunded" in status
        assert not any(v.message_id for v in fake.videos)
        job = await r.one_job(fake.private_chat(user), 84, f"/sora --provider {fmt} a calm sea")
        assert job.state is JobState.DELIVERED


@pytest.mark.parametrize(("fmt", "as_link"), [("unified", True), ("videos", False)])
async def test_every_upload_refused_as_too_large(tmp_path: Path, fmt: str, as_link: bool) -> None:
    """413 for the video and for its smaller re-encode: a link where the relay gave one
    (charged: the user has the video), else a failure with the credit back."""
    async with rig(tmp_path) as r:
        too_large = r.gate.refuse(
            to_chat(85, "sendVideo"),
            status=413,
            body=bot_api_error(413, "Request Entity Too Large"),
            count=10,
        )
        fake = r.w.fake
        chat = fake.private_chat(fake.user(85, "u85"))
        job = await r.one_job(chat, 85, f"/sora --provider {fmt} a fox")
        assert too_large.answered  # the video (its re-encode too, when one could fit)
        texts = [
            ex.fields.get("text", "") for ex in r.gate.exchanges if to_chat(85, "sendMessage")(ex)
        ]
        if as_link:
            assert job.state is JobState.DELIVERED
            assert await r.ledger(job) == ["reserve", "commit"]
            assert any(r.w.sim.origin in text and "MB" in text for text in texts), texts
            assert "Done!" in r.status_text(job)
        else:
            assert job.state is JobState.FAILED
            assert await r.ledger(job) == ["reserve", "refund"]
            assert "could not be posted here" in r.status_text(job)


async def test_a_failing_job_whose_status_was_deleted_tells_the_user_anew(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path, job_seconds=0.6) as r:
        fake = r.w.fake
        r.w.sim.inject(Fault.MODERATION, format="unified")
        user = fake.user(86, "u86")
        fake.push_message(fake.private_chat(user), user, "/sora --provider unified a fox")
        await fake.wait_for(lambda: bool(fake.sent("sendMessage", 86)))
        fake.delete(86, 1001)  # the status message, the bot's first in this chat
        second = await r.one_job(fake.private_chat(user), 86, "/sora --provider unified a sea")
        first = await r.bot.core.s.jobs.get((await r.jobs_of(86))[0])
        assert first is not None and first.state is JobState.FAILED
        assert await r.ledger(first) == ["reserve", "refund"]
        notices = [t["text"] for t in fake.sent("sendMessage", 86) if "declined" in t["text"]]
        assert len(notices) == 1 and "refunded" in notices[0], fake.sent("sendMessage", 86)
        assert second.state is JobState.DELIVERED  # and the chat's next job is fine
