"""Telegram going wrong: a deleted status message, a 413, flood control, a bot removed from
the group mid-job, ``getUpdates`` failing, and a restart in the middle of a job."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.telegram import TelegramAdapter
from bot.errors import MessageGone, PlatformRateLimited
from bot.models import Conversation, MessageRef, Platform
from bot.records import JobState
from tests.telegram_fake import TOKEN, FakeBotApi
from tests.telegram_rig import running, world

GROUP = -100300


async def test_a_deleted_status_message_does_not_stop_delivery(tmp_path: Path) -> None:
    async with world(tmp_path, job_seconds=0.6) as w, running(w) as bot:
        fake = w.fake
        max_ = fake.user(61, "Max")
        fake.push_message(fake.private_chat(max_), max_, "/sora a cat")
        await fake.wait_for(lambda: bool(fake.sent("sendMessage", 61)))
        status_id = 1001  # the first message the bot sends in this chat
        fake.delete(61, status_id)
        await fake.wait_for(lambda: len(fake.videos) == 1)
        await bot.core.wait_idle()
        upload = fake.videos[0]
        assert upload.message_id is not None  # delivered, though it replies to a gone message
        assert upload.json_field("reply_parameters")["allow_sending_without_reply"] is True
        job = await bot.core.s.jobs.find_by_message("telegram", "61", str(upload.message_id))
        assert job is not None and job.state is JobState.DELIVERED
        tried = [c for m, c in fake.calls if m == "editMessageText"]
        landed = fake.sent("editMessageText", 61)
        refused = [c for c in tried if c not in landed]
        # it tried once, was told "not found", and carried on without asking again
        assert [c["message_id"] for c in refused] == [str(status_id)]


async def test_413_falls_back_to_a_smaller_upload(tmp_path: Path) -> None:
    # big enough that 80 % of it still holds a watchable re-encode
    async with world(tmp_path, video_scale=1.0, video_seconds=2.0) as w, running(w) as bot:
        fake = w.fake
        fake.reject_next_videos = 1
        nia = fake.user(62, "Nia")
        fake.push_message(fake.private_chat(nia), nia, "/sora waves at dusk")
        await fake.wait_for(lambda: any(v.message_id for v in fake.videos), within=60)
        await bot.core.wait_idle()
        refused, accepted = fake.videos
        assert refused.message_id is None and accepted.message_id is not None
        assert accepted.file_size("video") < refused.file_size("video")


async def test_bot_removed_from_the_group_mid_job_refunds_and_keeps_running(
    tmp_path: Path,
) -> None:
    async with world(tmp_path, job_seconds=0.6) as w, running(w) as bot:
        fake = w.fake
        olga = fake.user(63, "Olga")
        fake.push_message(fake.group_chat(GROUP), olga, "/sora a storm")
        await fake.wait_for(lambda: bool(fake.sent("sendMessage", GROUP)))
        fake.kicked.add(GROUP)
        await fake.wait_for(lambda: any(method == "sendVideo" for method, _ in fake.calls))
        await bot.core.wait_idle()
        key = bot.core.s.quota_key("telegram", str(GROUP), "63")
        kinds = [entry.kind for entry in await bot.core.s.quotas.history(key)]
        assert "refund" in kinds and "commit" not in kinds
        # the bot still serves other chats
        fake.push_message(fake.private_chat(olga), olga, "/sora a calm sea")
        await fake.wait_for(lambda: any(v.message_id for v in fake.videos))
        await bot.core.wait_idle()


async def test_the_bot_survives_telegram_failing_at_start_and_while_polling(
    tmp_path: Path,
) -> None:
    async with world(tmp_path) as w:
        w.fake.fail_next["deleteWebhook"] = 1  # a 502 while polling starts: retried
        async with running(w) as bot:
            await _polling_survives(w.fake, bot.adapter)


async def _polling_survives(fake: FakeBotApi, adapter: TelegramAdapter) -> None:
    """A 502 on ``getUpdates``: /healthz says so meanwhile, and the bot carries on."""
    assert adapter.connected and fake.fail_next["deleteWebhook"] == 0
    fake.fail_next_get_updates = 1  # Telegram restarting: 502 on the next long poll
    await _until(fake, lambda: not adapter.connected)  # /healthz would answer 503 now
    await _until(fake, lambda: adapter.connected)  # PTB polled again, with success
    await _help_answered(fake)


async def _until(fake: FakeBotApi, condition: Callable[[], bool], within: float = 10.0) -> None:
    """Wait for a state the fake cannot see (how the bot read an answer), re-checking after
    each call the bot makes (PTB polls at least twice a second)."""
    async with asyncio.timeout(within):
        while not condition():
            await fake.next_activity()


async def _help_answered(fake: FakeBotApi) -> None:
    pia = fake.user(64, "Pia")
    fake.push_message(fake.private_chat(pia), pia, "/help")
    await fake.wait_for(lambda: bool(fake.sent("sendMessage", 64)))
    assert fake.fail_next_get_updates == 0  # the 502 was served, and polling went on


async def test_outbox_maps_flood_and_gone_and_not_modified(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running(w) as bot:
        fake, outbox = w.fake, bot.adapter.outbox
        chat = Conversation(Platform.TELEGRAM, "direct", "65")
        ref = await outbox.send_status(chat, "one", reply_to=None)
        w.clock.now += 1
        await outbox.edit_status(ref, "one")  # "message is not modified" is no error
        with pytest.raises(PlatformRateLimited) as flood:
            await outbox.edit_status(ref, "two")  # same virtual second: 429
        assert flood.value.retry_after >= 1
        w.clock.now += 1
        with pytest.raises(MessageGone):
            await outbox.edit_status(MessageRef(chat, "99999"), "three")
        assert outbox.capabilities(chat).edit_interval >= 1
        assert outbox.capabilities(Conversation(Platform.TELEGRAM, "-1", "-1")).edit_interval >= 3
        assert len(fake.flood_hits) == 1


async def test_network_errors_to_telegram_are_retried_with_backoff(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running(w) as bot:
        fake, outbox = w.fake, bot.adapter.outbox
        fake.fail_next["sendMessage"] = 2
        before = w.clock.now
        ref = await outbox.send_status(
            Conversation(Platform.TELEGRAM, "direct", "68"), "hello", reply_to=None
        )
        assert ref.message_id and fake.fail_next["sendMessage"] == 0
        assert w.clock.now - before >= 1.5  # waited 0.5 s, then 1 s (on the injected clock)


async def test_restart_mid_job_delivers_exactly_once(tmp_path: Path) -> None:
    async with world(tmp_path, job_seconds=1.5) as w:
        fake = w.fake
        quinn = fake.user(66, "Quinn")
        async with running(w) as bot:
            fake.push_message(fake.private_chat(quinn), quinn, "/sora --provider videos a comet")
            await fake.wait_for(lambda: bool(fake.sent("sendMessage", 66)))
            jobs = bot.core.s.jobs

            async def accepted_upstream() -> bool:
                return any(j.upstream_id for j in await jobs.unfinished())

            async with asyncio.timeout(20):
                while not await accepted_upstream():
                    await fake.next_activity()
            assert fake.videos == []
        async with running(w) as bot:  # a new process: same database, same chat
            await fake.wait_for(lambda: bool(fake.videos))
            await bot.core.wait_idle()
        assert len(fake.videos) == 1 and fake.videos[0].message_id is not None
        assert len(fake.sent("sendMessage", 66)) == 1  # the old status message was reused


async def test_sora_bot_run_serves_telegram_until_cancelled(tmp_path: Path) -> None:
    from bot.cli.run import serve

    async with world(tmp_path) as w:
        fake = w.fake
        ready = asyncio.Event()
        server = asyncio.create_task(serve(w.settings, ready=ready))
        await asyncio.wait_for(ready.wait(), 20)
        rita = fake.user(67, "Rita")
        fake.push_message(fake.private_chat(rita), rita, "/start")
        await fake.wait_for(lambda: bool(fake.sent("sendMessage", 67)))
        server.cancel()
        with pytest.raises(asyncio.CancelledError):
            await server
        assert "/sora" in fake.sent("sendMessage", 67)[0]["text"]


async def test_the_token_never_reaches_the_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with world(tmp_path) as w, running(w):
        fake = w.fake
        sam = fake.user(69, "Sam")
        fake.push_message(fake.private_chat(sam), sam, "/help")
        await fake.wait_for(lambda: bool(fake.sent("sendMessage", 69)))
    assert any("<token>" in r.getMessage() for r in caplog.records)
    assert not any(TOKEN in r.getMessage() for r in caplog.records)
