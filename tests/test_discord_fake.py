"""Self-test of the fake Discord: a bare discord.py client (not the project's adapter)
logs in, syncs commands, answers a slash command, clicks a persistent button, submits a
modal, and meets the fake's 429, 413, 401, 403 and dropped-gateway behaviour."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import discord
import pytest

from tests.discord_fake import FakeDiscord, ManualClock, running_fake
from tests.discord_fake_client import SelfTestBot, ShardedBot, connected
from tests.discord_fake_model import Perm


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch, clock: ManualClock) -> AsyncIterator[FakeDiscord]:
    async with running_fake(monkeypatch, clock=clock, time_scale=0.01) as started:
        yield started


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[SelfTestBot]:
    client = SelfTestBot()
    async with connected(client, fake.token):
        yield client


async def test_login_ready_and_guild_available(fake: FakeDiscord, bot: SelfTestBot) -> None:
    assert bot.user is not None and bot.user.id == fake.bot.id
    assert bot.application_id == fake.application_id
    guild = bot.get_guild(fake.guild.id)
    assert guild is not None and guild.name == "Sora Lab"
    assert bot.available == [fake.guild.id]
    general = guild.get_channel(fake.general.id)
    assert isinstance(general, discord.TextChannel)
    assert general.permissions_for(guild.me).send_messages
    assert fake.identifies == 1 and "compress=zlib-stream" in fake.gateway.connections[0]
    assert fake.gateway.identify_payloads[0]["intents"] == discord.Intents.default().value
    assert [r.status for r in fake.requests[:2]] == [200, 200]  # users/@me, applications/@me


async def test_tree_sync_stores_commands(fake: FakeDiscord, bot: SelfTestBot) -> None:
    synced = await bot.tree.sync()
    assert sorted(command.name for command in synced) == ["Remix this", "sora", "sora-admin", "who"]
    assert fake.command("Remix this", kind=3) is not None
    sora = fake.command("sora")
    assert sora is not None and sora["description"] == "Make a short video"
    options = {option["name"]: option for option in sora["options"]}
    assert options["prompt"]["type"] == 3 and options["prompt"]["required"] is True
    assert options["size"]["choices"] == [
        {"name": "portrait", "value": "720x1280"},
        {"name": "landscape", "value": "1280x720"},
    ]
    assert options["image"]["type"] == 11
    admin = fake.command("sora-admin")
    assert admin is not None and admin["default_member_permissions"] == str(Perm.MANAGE_GUILD.value)
    assert fake.requests_to("PUT /applications/{application_id}/commands")[0].status == 200
    too_many = [{"name": f"c{n}", "value": str(n)} for n in range(26)]
    bad = {
        "name": "pick",
        "description": "d",
        "options": [{"type": 3, "name": "x", "description": "d", "choices": too_many}],
    }
    with pytest.raises(discord.HTTPException) as refused:
        await bot.http.upsert_global_command(fake.application_id, bad)
    assert (refused.value.status, refused.value.code) == (400, 50035)
    assert fake.command("pick") is None


async def test_slash_command_button_modal_round_trip(fake: FakeDiscord, bot: SelfTestBot) -> None:
    await bot.tree.sync()
    slash = await fake.send_slash_command(
        fake.member,
        fake.general,
        "sora",
        {"prompt": "a cat", "size": "720x1280"},
        attachments=[("ref.png", b"PNG-BYTES", "image/png")],
    )
    result = await fake.wait_for_message(fake.general, lambda m: bool(m.attachments))
    assert (await fake.wait_for_response(slash)).type == 5
    assert slash.original is not None and slash.original.content == "queued: a cat"
    assert not slash.original.loading and len(slash.original.history) == 1
    upload = fake.requests_to("POST /channels/{channel_id}/messages")[-1]
    assert upload.multipart and upload.files[0].data == b"VIDEO:PNG-BYTES"
    attachment = result.attachments[0]
    assert (attachment.filename, attachment.content_type, attachment.size) == (
        "clip.mp4",
        "video/mp4",
        15,
    )
    assert result.content == "done @everyone: a cat (720x1280)" and not result.mention_everyone
    assert result.custom_ids == ["remix:42"]

    click = await fake.click_button(result, "remix:42", fake.moderator)
    assert (await fake.wait_for_response(click)).type == 9
    submit = await fake.submit_modal(click, {"remix-prompt": "a dog"})
    response = await fake.wait_for_response(submit)
    assert bot.remixes == [(42, "a dog")]
    assert response.type == 4 and response.ephemeral
    assert submit.original is not None and submit.original.content == "remixing job 42"


async def test_channel_budget_answers_429_and_discord_py_retries(
    fake: FakeDiscord, bot: SelfTestBot, clock: ManualClock
) -> None:
    channel = bot.get_channel(fake.general.id)
    assert isinstance(channel, discord.TextChannel)

    async def let_time_pass() -> None:
        await fake.wait_for(lambda: fake.rate_limited >= 1)
        clock.advance(5.0)

    helper = asyncio.create_task(let_time_pass())
    for number in range(6):
        await channel.send(f"progress {number}")
    await helper
    assert fake.rate_limited == 1 and fake.rate_limited_by_channel[fake.general.id] == 1
    assert [m.content for m in fake.messages_in(fake.general)][-1] == "progress 5"
    refused = [r for r in fake.requests if r.status == 429]
    assert len(refused) == 1 and refused[0].route == "POST /channels/{channel_id}/messages"


async def test_oversize_upload_is_413_and_missing_permission_is_403(
    fake: FakeDiscord, bot: SelfTestBot
) -> None:
    channel = bot.get_channel(fake.general.id)
    assert isinstance(channel, discord.TextChannel)
    fake.guild.filesize_limit = 1024
    with pytest.raises(discord.HTTPException) as too_big:
        await channel.send(file=discord.File(io.BytesIO(b"x" * 2048), filename="big.mp4"))
    assert (too_big.value.status, too_big.value.code) == (413, 40005)
    assert fake.requests[-1].files[0].data == b"x" * 2048  # the whole body was read first

    await fake.set_bot_permissions(fake.general, deny=Perm.SEND_MESSAGES)
    with pytest.raises(discord.Forbidden) as forbidden:
        await channel.send("hello")
    assert forbidden.value.code == 50013


async def test_token_expires_but_channel_route_still_edits(
    fake: FakeDiscord, bot: SelfTestBot, clock: ManualClock
) -> None:
    await bot.tree.sync()
    slash = await fake.send_slash_command(fake.member, fake.general, "sora", {"prompt": "late"})
    await fake.wait_for_message(fake.general, lambda m: bool(m.attachments))
    interaction = bot.interactions[-1]
    clock.advance(901.0)
    with pytest.raises(discord.HTTPException) as expired:
        await interaction.edit_original_response(content="too late")
    assert (expired.value.status, expired.value.code) == (401, 50027)

    assert slash.original is not None
    status = interaction.channel.get_partial_message(slash.original.id)  # type: ignore[union-attr]
    await status.edit(content="finished")
    assert slash.original.content == "finished"
    clock.advance(3600.0)
    with pytest.raises(discord.HTTPException) as old:
        await status.edit(content="an hour later")
    assert old.value.code == 30046


async def test_dropped_gateway_resumes_and_replays(fake: FakeDiscord, bot: SelfTestBot) -> None:
    assert await fake.drop_gateway() == 1
    await fake.post_message(fake.member, fake.general, f"{fake.bot.mention} are you there?")
    await fake.wait_for(lambda: bot.seen)
    assert bot.seen[0].content.endswith("are you there?")
    assert (fake.identifies, fake.resumes) == (1, 1)
    assert fake.gateway.connections[-1].startswith("/resume-gateway")


async def test_abrupt_drop_resumes_and_invalid_session_reidentifies(
    fake: FakeDiscord, bot: SelfTestBot
) -> None:
    await fake.drop_gateway(abrupt=True)
    await fake.wait_for(lambda: fake.resumes == 1)
    fake.invalidate_sessions()
    await fake.request_reconnect()
    await fake.wait_for(lambda: fake.identifies == 2 and fake.gateway.session_for(fake.guild.id))
    await fake.post_message(fake.member, fake.general, f"{fake.bot.mention} still there?")
    await fake.wait_for(lambda: bot.seen)
    assert fake.gateway.invalid_sessions == 1 and bot.seen[0].content.endswith("still there?")


async def test_context_menu_file_response_followups_and_resolved_members(
    fake: FakeDiscord, bot: SelfTestBot
) -> None:
    await bot.tree.sync()
    channel = bot.get_channel(fake.general.id)
    assert isinstance(channel, discord.TextChannel)
    target = fake.messages[(await channel.send("a sunset")).id]
    menu = await fake.message_context_menu("Remix this", target, fake.member)
    await fake.wait_for(lambda: bot.notes)
    assert bot.notes == ["still.png"]
    assert menu.response is not None and menu.response.type == 4 and not menu.response.ephemeral
    assert menu.original is not None and menu.original.deleted and menu.original.type == 23
    assert menu.original.content == "remix of a sunset"
    assert menu.original.attachments[0].data == b"still"
    assert [m.content for m in menu.ephemeral_followups] == ["only you see this"]

    await fake.send_slash_command(fake.owner, fake.general, "who", {"member": fake.admin})
    await fake.wait_for(lambda: len(bot.notes) == 2)
    assert bot.notes[1] == f"adam:True:True:{10 * 1024 * 1024}"


async def test_replies_show_content_only_when_they_ping_the_bot(
    fake: FakeDiscord, bot: SelfTestBot
) -> None:
    channel = bot.get_channel(fake.general.id)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("your video")
    ours = fake.messages[sent.id]
    await fake.post_message(fake.member, fake.general, "again please", reply_to=ours)
    await fake.post_message(
        fake.member, fake.general, "quietly", reply_to=ours, mention_author=False
    )
    await fake.wait_for(lambda: len([m for m in bot.seen if m.author.id != fake.bot.id]) == 2)
    replies = [m for m in bot.seen if m.author.id != fake.bot.id]
    assert [m.content for m in replies] == ["again please", ""]
    assert replies[0].reference is not None and replies[0].reference.message_id == sent.id


async def test_sharded_client_identifies_each_shard(monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_fake(monkeypatch, shard_count=2) as fake:
        second = fake.add_guild("Second Lab")
        fake.add_channel("general", guild=second)
        client = ShardedBot()
        async with connected(client, fake.token):
            shards = sorted(tuple(p["shard"]) for p in fake.gateway.identify_payloads)
            assert shards == [(0, 2), (1, 2)] and fake.identifies == 2
            for guild in (fake.guild, second):
                cached = client.get_guild(guild.id)
                assert cached is not None and cached.shard_id == (guild.id >> 22) % 2
            assert {cached.shard_id for cached in client.guilds} == {0, 1}
