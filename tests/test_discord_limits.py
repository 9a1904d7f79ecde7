"""Discord's limits: the channel's message budget (a 429 is heard once, never retried
inside discord.py; ten jobs in one channel never meet one) and the upload limit (fit before
uploading; a 413 after all falls back to the link)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.errors import PlatformRateLimited
from bot.models import Conversation, Platform
from bot.records import JobState
from tests.discord_rig import job_of, results, running, sora, wait_results, world

CHANNEL_EDIT = "PATCH /channels/{channel_id}/messages/{message_id}"
CHANNEL_POST = "POST /channels/{channel_id}/messages"


async def test_status_calls_hear_a_429_once_and_never_retry_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The board must hear Discord's 429 to push the whole channel back: one attempt, no
    sleeping inside discord.py (a 429 also counts towards the invalid-request ban)."""
    async with world(tmp_path, monkeypatch, message_budget=(2, 5.0)) as w, running(w) as bot:
        fake, outbox = w.fake, bot.adapter.outbox
        where = Conversation(Platform.DISCORD, str(fake.guild.id), str(fake.general.id))
        ref = await outbox.send_status(where, "queued", reply_to=None)
        await outbox.edit_status(ref, "generating")
        with pytest.raises(PlatformRateLimited) as refused:
            await outbox.edit_status(ref, "generating 10%")
        assert 0 < refused.value.retry_after <= 5.0
        assert [r.status for r in fake.requests_to(CHANNEL_EDIT)] == [200, 429]
        w.clock.advance(5.0)
        await outbox.edit_status(ref, "generating 20%")
        assert fake.messages[int(ref.message_id)].content == "generating 20%"


async def test_a_small_upload_limit_is_met_by_re_encoding_before_any_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = 60_000
    async with (
        world(tmp_path, monkeypatch, video_scale=1.0, video_seconds=2.0, filesize_limit=limit) as w,
        running(w) as bot,
    ):
        fake = w.fake
        await sora(fake, "waves at dusk", provider="videos")
        [result] = await wait_results(fake, 1, within=60)
        await bot.core.wait_idle()
        uploads = [r for r in fake.requests_to(CHANNEL_POST) if r.multipart]
        assert [r.status for r in uploads] == [200]  # no 413 was ever provoked
        assert 0 < len(uploads[0].files[0].data) <= limit
        assert (
            max(w.sim.media_dir.glob("*.mp4"), key=lambda p: p.stat().st_size).stat().st_size
            > limit
        )
        status = fake.messages[int((await job_of(bot, result)).status_message_id or 0)]
        assert any("Shrinking" in version.content for version in status.history)


async def test_a_413_after_all_falls_back_to_the_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with world(tmp_path, monkeypatch) as w, running(w) as bot:
        fake = w.fake
        slash = await sora(fake, "fireworks", provider="unified")
        await fake.wait_for(lambda: slash.original is not None and not slash.original.loading)
        fake.guild.filesize_limit = 1000  # boosts ran out after Discord told us the limit
        link = await fake.wait_for_message(
            fake.general, lambda m: "Download it" in m.content, within=60
        )
        await bot.core.wait_idle()
        uploads = [r for r in fake.requests_to(CHANNEL_POST) if r.multipart]
        assert uploads and all((r.status, r.code) == (413, 40005) for r in uploads)
        assert w.sim.origin in link.content and not results(fake)
        assert (await job_of(bot, link)).state is JobState.DELIVERED  # as a link


async def test_ten_concurrent_jobs_in_one_channel_never_meet_a_429(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with world(tmp_path, monkeypatch, max_concurrent=10) as w:
        fake = w.fake
        people = [fake.add_member(f"user{n}") for n in range(10)]
        async with running(w) as bot:
            await asyncio.gather(
                *(sora(fake, f"scene number {n}", user=p) for n, p in enumerate(people))
            )
            await wait_results(fake, 10, within=60)
            await bot.core.wait_idle()
            await bot.core.s.station("discord").board.drain()
        assert fake.rate_limited == 0 and fake.invalid_requests == 0
        statuses = [
            m
            for m in fake.messages_in(fake.general)
            if m.author.id == fake.bot.id and not m.attachments and not m.ephemeral
        ]
        assert len(statuses) == 10 and all("✅" in m.content for m in statuses)
