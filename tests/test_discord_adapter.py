"""/sora through real discord.py against the fake Discord: the registered commands, the
deferred answer, the status message edited through the channel route, the MP4 with its
persistent buttons, mentions never parsed, and the gateway coming back after a drop."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from adapters.discord.client import ShardedSoraClient
from bot.records import JobState
from tests.discord_rig import job_of, running, sora, wait_results, world

EPHEMERAL = 64
MESSAGE_ROUTES = (
    "POST /channels/{channel_id}/messages",
    "PATCH /channels/{channel_id}/messages/{message_id}",
    "PATCH /webhooks/{application_id}/{interaction_token}/messages/@original",
    "POST /interactions/{interaction_id}/{interaction_token}/callback",
)


async def test_commands_are_registered_with_their_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with world(tmp_path, monkeypatch) as w, running(w):
        fake = w.fake
        assert fake.commands() == []  # guild_ids set: nothing global
        sora_command = fake.command("sora", guild=fake.guild)
        assert sora_command is not None
        options = {o["name"]: o for o in sora_command["options"]}
        assert list(options) == ["prompt", "model", "seconds", "orientation", "image", "provider"]
        assert options["prompt"]["required"] is True and options["prompt"]["type"] == 3
        assert options["prompt"]["max_length"] == w.settings.bot.prompt_max_chars
        assert [c["value"] for c in options["model"]["choices"]] == ["sim-video", "sim-video-pro"]
        assert [c["value"] for c in options["seconds"]["choices"]] == [4, 8, 10, 12, 15]
        assert [c["value"] for c in options["orientation"]["choices"]] == ["portrait", "landscape"]
        assert options["image"]["type"] == 11  # an attachment
        assert [c["value"] for c in options["provider"]["choices"]] == ["videos", "chat", "unified"]
        assert sora_command["description_localizations"]["zh-CN"] == "用一句话生成短视频"
        quota = fake.command("quota", guild=fake.guild)
        assert quota is not None
        subcommands = {o["name"]: o for o in quota["options"]}
        assert list(subcommands) == ["me", "show", "set", "add", "reset", "default", "history"]
        assert [o["name"] for o in subcommands["add"]["options"]] == ["user", "amount"]
        assert subcommands["show"]["options"][0]["type"] == 6  # a user
        assert fake.command("help", guild=fake.guild) is not None
        menu = fake.command("Remix with Sora", guild=fake.guild, kind=3)
        assert menu is not None and menu["name_localizations"]["zh-CN"] == "用 Sora 改一改"
        for command in fake.commands(fake.guild):
            for text in _descriptions(command):
                assert 1 <= len(text) <= 100


async def test_one_provider_means_no_provider_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with world(tmp_path, monkeypatch, formats=("videos",)) as w, running(w):
        command = w.fake.command("sora", guild=w.fake.guild)
        assert command is not None
        assert "provider" not in [o["name"] for o in command["options"]]


async def test_sora_is_deferred_then_status_edited_and_video_delivered_with_buttons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with world(tmp_path, monkeypatch, ack_deadline=3.0) as w, running(w) as bot:
        fake = w.fake
        slash = await sora(fake, "a cat surfing @everyone <@&1> **bold**", provider="videos")
        [result] = await wait_results(fake, 1)
        await bot.core.wait_idle()

        response = await fake.wait_for_response(slash)
        assert response.type == 5 and response.ephemeral  # deferred, "thinking", private
        assert slash.original is not None and "on its way" in slash.original.content
        job = await job_of(bot, result)
        assert job.state is JobState.DELIVERED and job.scope == str(fake.guild.id)
        assert job.prompt.startswith("a cat surfing")

        status = fake.messages[int(job.status_message_id or 0)]
        assert status.author.id == fake.bot.id and not status.ephemeral
        assert status.interaction_id is None and status.webhook_id is None  # a plain message
        assert "✅" in status.content and status.history  # edited, and done
        edits = fake.requests_to("PATCH /channels/{channel_id}/messages/{message_id}")
        assert edits and all(r.status == 200 for r in edits)

        assert result.reference is not None
        assert result.reference["message_id"] == str(status.id)  # replies to the status
        assert result.attachments[0].filename == f"sora-{job.id}.mp4"
        assert result.attachments[0].content_type == "video/mp4"
        assert result.custom_ids == [f"sora:remix:{job.id}", f"sora:again:{job.id}"]
        assert "a cat surfing" in result.content

        # nothing the bot sent could ping: @everyone, roles and users stay text
        assert not any(m.mention_everyone or m.mention_role_ids for m in fake.messages.values())
        for record in fake.requests:
            if record.route in MESSAGE_ROUTES and isinstance(record.json, dict):
                body = record.json.get("data", record.json)
                if "content" in body:
                    assert body["allowed_mentions"]["parse"] == [], record.route
        assert fake.rate_limited == 0


async def test_the_gateway_reconnects_after_a_drop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with world(tmp_path, monkeypatch) as w, running(w) as bot:
        fake = w.fake
        assert bot.adapter.connected
        await fake.drop_gateway()
        await fake.wait_for(lambda: not bot.adapter.connected)
        await fake.wait_for(lambda: bot.adapter.connected, within=15)
        assert fake.resumes + fake.identifies >= 2
        await sora(fake, "a paper boat after the storm")
        await wait_results(fake, 1)
        await bot.core.wait_idle()


async def test_sharded_client_serves_every_shard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def identify_at_once(
        self: object, shard_id: int | None, *, initial: bool = False
    ) -> None:
        """discord.py waits 5 s (real time) before each shard's IDENTIFY but the first."""

    monkeypatch.setattr(ShardedSoraClient, "before_identify_hook", identify_at_once)
    async with world(tmp_path, monkeypatch, sharded=True, shard_count=2) as w:
        second = w.fake.add_guild("Second Lab")
        elsewhere = w.fake.add_channel("general", guild=second)
        async with running(w) as bot:
            fake = w.fake
            assert isinstance(bot.adapter.client, ShardedSoraClient) and bot.adapter.connected
            assert sorted(tuple(p["shard"]) for p in fake.gateway.identify_payloads) == [
                (0, 2),
                (1, 2),
            ]
            await fake.drop_gateway(shard_id=1)
            await fake.wait_for(lambda: not bot.adapter.connected)
            await fake.wait_for(lambda: bot.adapter.connected, within=15)
            owner = second.members[next(iter(second.members))]
            await sora(fake, "a quiet harbour", user=owner, channel=elsewhere)
            await wait_results(fake, 1, channel=elsewhere)
            await bot.core.wait_idle()


async def test_help_is_private_and_no_token_reaches_the_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with world(tmp_path, monkeypatch, message_content=True) as w, running(w):
        fake = w.fake
        interaction = await fake.send_slash_command(fake.member, fake.general, "help")
        answer = await fake.wait_for_response(interaction)
        assert answer.ephemeral and "/sora prompt:" in answer.data["content"]
        assert "reply to the video" in answer.data["content"]  # the intent is on
        await sora(fake, "a lantern")
        await wait_results(fake, 1)
    logged = [record.getMessage() for record in caplog.records]
    assert any("/<token>/" in line for line in logged)  # URLs with a token were logged…
    assert not any(fake.token in line for line in logged)  # …but never a token
    assert not any("fake-interaction-token" in line for line in logged)


async def test_sora_bot_run_serves_discord_until_cancelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.cli.run import serve

    async with world(tmp_path, monkeypatch) as w:
        fake = w.fake
        ready = asyncio.Event()
        server = asyncio.create_task(serve(w.settings, ready=ready))
        async with asyncio.timeout(20):
            await ready.wait()
        interaction = await fake.send_slash_command(fake.member, fake.general, "help")
        answer = await fake.wait_for_response(interaction)
        assert answer.ephemeral and "/sora" in answer.data["content"]
        server.cancel()
        with pytest.raises(asyncio.CancelledError):
            await server


def _descriptions(command: dict[str, object]) -> list[str]:
    found = [str(command["description"])] if command.get("description") else []
    for option in command.get("options", []) or []:  # type: ignore[union-attr]
        found.extend(_descriptions(option))
    return found
