"""Discord going wrong: jobs outliving the interaction token and the one-hour edit limit,
a restart mid-job, a deleted status message or channel, missing permissions, bad input.
(Upload and rate limits: ``test_discord_limits``.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from adapters.discord.outbox import MessageAges
from bot.models import Conversation, Platform
from bot.records import JobState
from tests.discord_fake_model import Perm
from tests.discord_rig import (
    Running,
    job_of,
    results,
    running,
    sora,
    ticking,
    wait_results,
    world,
)

CHANNEL_EDIT = "PATCH /channels/{channel_id}/messages/{message_id}"
CHANNEL_POST = "POST /channels/{channel_id}/messages"
CHANNEL_DELETE = "DELETE /channels/{channel_id}/messages/{message_id}"
EPHEMERAL_ANSWER = 4


async def test_a_job_outlives_the_interaction_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 20-minute job (simulated time) against a 5-minute token: every status edit goes
    through the channel route and the video arrives; nothing uses the dead token."""
    async with (
        world(tmp_path, monkeypatch, jobs_on_clock=True, job_seconds=1200, token_lifetime=300) as w,
        running(w) as bot,
    ):
        fake, clock = w.fake, w.clock
        slash = await sora(fake, "a very slow sunrise", provider="unified")  # polls fast
        await fake.wait_for(lambda: slash.original is not None and not slash.original.loading)
        started = clock()
        async with ticking(clock, step=5):
            [result] = await wait_results(fake, 1)
            await bot.core.wait_idle()
        job = await job_of(bot, result)
        assert job.state is JobState.DELIVERED
        assert clock() - started > 1200 > 300
        late_edits = [r for r in fake.requests_to(CHANNEL_EDIT) if r.at > slash.created_at + 300]
        assert len(late_edits) >= 3 and all(r.status == 200 for r in late_edits)
        status = fake.messages[int(job.status_message_id or 0)]
        assert "✅" in status.content
        assert fake.invalid_requests == 0  # no 401 from an expired token, no 429


async def test_a_status_older_than_an_hour_is_replaced_not_edited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with (
        world(tmp_path, monkeypatch, jobs_on_clock=True, job_seconds=2.5 * 3600) as w,
        running(w) as bot,
    ):
        fake, clock = w.fake, w.clock
        await sora(fake, "the tide going out", provider="unified")  # polls fast
        async with ticking(clock, step=45):
            [result] = await wait_results(fake, 1)
            await bot.core.wait_idle()
        job = await job_of(bot, result)
        statuses = [
            m
            for m in fake.messages_in(fake.general, include_deleted=True)
            if m.author.id == fake.bot.id and not m.attachments and not m.ephemeral
        ]
        assert len(statuses) >= 3  # the first, and one fresh message per hour or so
        *replaced, current = statuses
        assert all(m.deleted for m in replaced) and not current.deleted
        assert len(fake.requests_to(CHANNEL_DELETE)) == len(replaced)
        assert job.status_message_id == str(current.id)  # a reply to it continues the job
        assert "✅" in current.content
        assert result.reference is not None and result.reference["message_id"] == str(current.id)
        assert not [r for r in fake.requests if r.code == 30046]  # never hit the limit
        for message in statuses:
            edits = [v.at for v in message.history]
            assert all(at - message.created_at < 3600 for at in edits)


async def test_an_hour_old_status_from_before_a_restart_is_replaced_on_30046(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with world(tmp_path, monkeypatch) as w, running(w) as bot:
        fake, outbox = w.fake, bot.adapter.outbox
        where = Conversation(Platform.DISCORD, str(fake.guild.id), str(fake.general.id))
        old = await outbox.send_status(where, "generating 40%", reply_to=None)
        outbox.ages = MessageAges(w.clock)  # a new process knows nothing of the message
        w.clock.advance(3700)
        await outbox.edit_status(old, "generating 90%")
        assert [r.code for r in fake.requests_to(CHANNEL_EDIT)] == [30046]
        assert fake.messages[int(old.message_id)].deleted
        fresh = outbox.current(old)
        assert fresh != old and fake.messages[int(fresh.message_id)].content == "generating 90%"
        await outbox.edit_status(old, "done")  # later edits of the old ref land on the new
        assert fake.messages[int(fresh.message_id)].content == "done"


async def test_restart_mid_job_delivers_once_and_old_buttons_still_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with world(tmp_path, monkeypatch, job_seconds=1.0) as w:
        fake = w.fake
        async with running(w) as bot:
            await sora(fake, "a comet", provider="unified", user=fake.other_member)
            [earlier] = await wait_results(fake, 1)
            await bot.core.wait_idle()
            await sora(fake, "a slow comet", provider="unified")
            jobs = bot.core.s.jobs

            async def accepted_upstream() -> bool:
                return any(j.upstream_id for j in await jobs.unfinished())

            async with asyncio.timeout(20):
                while not await accepted_upstream():  # noqa: ASYNC110 - a database row
                    await asyncio.sleep(0.02)
        posts_before = len(fake.requests_to(CHANNEL_POST))
        async with running(w) as bot:  # a new process: same database, same guild
            [_, resumed] = await wait_results(fake, 2)
            await bot.core.wait_idle()
            assert (await job_of(bot, resumed)).prompt == "a slow comet"
            # the status message was reused: the only new post is the video
            assert len(fake.requests_to(CHANNEL_POST)) == posts_before + 1
            earlier_job = await job_of(bot, earlier)
            click = await fake.click_button(earlier, f"sora:again:{earlier_job.id}", fake.member)
            assert (await fake.wait_for_response(click)).type == 5
            await wait_results(fake, 3)
            await bot.core.wait_idle()
        assert len(results(fake)) == 3


async def test_a_deleted_status_message_does_not_stop_delivery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with world(tmp_path, monkeypatch, job_seconds=0.8) as w, running(w) as bot:
        fake = w.fake
        await sora(fake, "a cat", provider="videos")
        status = await fake.wait_for_message(
            fake.general, lambda m: m.author.id == fake.bot.id and not m.ephemeral
        )
        fake.state.delete_message(status)
        [result] = await wait_results(fake, 1)
        await bot.core.wait_idle()
        assert (await job_of(bot, result)).state is JobState.DELIVERED
        assert any(r.code == 10008 for r in fake.requests_to(CHANNEL_EDIT))  # it tried


async def test_a_deleted_channel_refunds_the_credit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with world(tmp_path, monkeypatch, job_seconds=0.8) as w, running(w) as bot:
        fake = w.fake
        await sora(fake, "a storm", provider="unified", channel=fake.videos)
        status = await fake.wait_for_message(
            fake.videos, lambda m: m.author.id == fake.bot.id and not m.ephemeral
        )
        await fake.delete_channel(fake.videos)
        await fake.wait_for(lambda: any(r.code == 10003 for r in fake.requests), within=20)
        await bot.core.wait_idle()
        assert (await job_of(bot, status)).state is JobState.FAILED
        key = bot.core.s.quota_key("discord", str(fake.guild.id), str(fake.member.user.id))
        kinds = [entry.kind for entry in await bot.core.s.quotas.history(key)]
        assert "refund" in kinds and "commit" not in kinds
        await sora(fake, "a calm sea", provider="unified")  # the bot still works elsewhere
        await wait_results(fake, 1)
        await bot.core.wait_idle()


async def test_missing_permissions_are_named_and_nothing_is_charged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with world(tmp_path, monkeypatch) as w, running(w) as bot:
        fake = w.fake
        await fake.set_bot_permissions(fake.general, deny=Perm.ATTACH_FILES)
        slash = await sora(fake, "a kite")
        answer = await fake.wait_for_response(slash)
        assert answer.type == EPHEMERAL_ANSWER and answer.ephemeral
        assert "“Attach Files”" in answer.data["content"]
        await _nothing_charged(bot, fake.member.user.id)
        assert w.sim.requests == []


@pytest.mark.parametrize(
    ("prompt", "options", "expected"),
    [
        ("   ", {}, "Tell me what to film"),
        ("a cat", {"model": "no-such-model"}, "There is no model"),
        ("x" * 301, {}, "the limit is 300"),
    ],
)
async def test_bad_input_gets_a_private_answer_and_costs_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    prompt: str,
    options: dict[str, str],
    expected: str,
) -> None:
    many_models = [f"model-{n}" for n in range(30)]  # > 25: the model option is free text
    async with (
        world(tmp_path, monkeypatch, models=many_models, prompt_max_chars=300) as w,
        running(w) as bot,
    ):
        fake = w.fake
        slash = await sora(fake, prompt, **options)
        await fake.wait_for(lambda: slash.original is not None and not slash.original.loading)
        assert slash.original is not None and expected in slash.original.content
        assert slash.response is not None and slash.response.ephemeral
        await _nothing_charged(bot, fake.member.user.id)
        assert w.sim.requests == []


async def _nothing_charged(bot: Running, user_id: int) -> None:
    key = bot.core.s.quota_key("discord", str(bot.adapter.config.guild_ids[0]), str(user_id))
    assert await bot.core.s.quotas.history(key) == []
    assert await bot.core.s.jobs.unfinished() == []
