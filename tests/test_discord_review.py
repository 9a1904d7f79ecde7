"""Review of the Discord adapter (issue #5): what the first round of tests did not prove.

- nothing slow (the core, the database) runs before an interaction's first answer, for
  every kind of interaction that starts a job — including the "Remix with Sora" menu,
  whose job is looked up only after the modal was answered;
- a slow moderator change is still announced publicly, and no echo pings anybody (a
  public /quota announcement naming "@everyone", a public refusal quoting a reply);
- without the message-content intent (the default) only a reply that pings continues;
- commands sync globally, and one unknown guild in ``guild_ids`` spares the others;
- a start that fails closes what it opened; a fatal gateway close is logged, not lost;
- a status posted before a restart is aged by Discord's clock (snowflakes).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import discord
import pytest
from pydantic import SecretStr

from adapters.discord import DiscordAdapter
from adapters.discord.answers import answer_quickly
from adapters.discord.outbox import STATUS_MAX_AGE, MessageAges
from adapters.discord.redact import DISCORD_LOGGERS, SecretRedactor
from bot.cli.runtime import open_core
from bot.errors import ConfigError
from bot.models import Conversation, Invocation, MessageRef, Platform, Reply
from tests.discord_fake import FakeInteraction, ManualClock
from tests.discord_rig import World, job_of, running, sora, wait_results, world

DEFERRED = 5
MODAL = 9
MENU = "Remix with Sora"


def _acknowledged_at_each_call(
    target: object,
    name: str,
    concerned: Callable[..., list[FakeInteraction]],
    monkeypatch: pytest.MonkeyPatch,
) -> list[bool]:
    """Wrap ``target.name`` to note, at each call, whether the interactions it may serve
    (``concerned(*args)``) had all been answered already (deferred, or given a modal)."""
    seen: list[bool] = []
    original: Callable[..., Awaitable[Any]] = getattr(target, name)

    async def noting(*args: Any, **kwargs: Any) -> Any:
        seen.append(all(i.acknowledged for i in concerned(*args)))
        return await original(*args, **kwargs)

    monkeypatch.setattr(target, name, noting)
    return seen


async def test_nothing_slow_runs_before_the_first_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/sora, Again, a Remix modal and the message menu: the core (its database reads and
    writes) is reached only once Discord has had its answer, well within 3 seconds."""
    async with world(tmp_path, monkeypatch, ack_deadline=3.0) as w, running(w) as bot:
        fake = w.fake

        def of_the_user(inv: Invocation) -> list[FakeInteraction]:
            return [i for i in fake.interactions.values() if str(i.member.user.id) == inv.user.id]

        def menus(*_: object) -> list[FakeInteraction]:
            return [i for i in fake.interactions.values() if i.data.get("type") == 3]

        in_core = _acknowledged_at_each_call(bot.core, "handle", of_the_user, monkeypatch)
        lookups = _acknowledged_at_each_call(bot.core.s.jobs, "find_by_message", menus, monkeypatch)
        await sora(fake, "a heron on one leg", provider="videos")
        [first] = await wait_results(fake, 1)
        await bot.core.wait_idle()
        parent = (await job_of(bot, first)).id

        again = await fake.click_button(first, f"sora:again:{parent}", fake.member)
        remix = await fake.click_button(first, f"sora:remix:{parent}", fake.other_member)
        menu = await fake.message_context_menu(MENU, first, fake.admin)
        assert (await fake.wait_for_response(again)).type == DEFERRED
        assert (await fake.wait_for_response(remix)).type == MODAL
        assert (await fake.wait_for_response(menu)).type == MODAL
        assert menu.modal is not None and remix.modal is not None
        await fake.submit_modal(remix, {"change": "make it rain"})
        await fake.submit_modal(menu, {"change": "at dusk"})

        notice = fake.state.create_message(fake.general, fake.bot, {"content": "maintenance"})
        not_a_job = await fake.message_context_menu(MENU, notice, fake.moderator)
        assert (await fake.wait_for_response(not_a_job)).type == MODAL  # no lookup first
        refused = await fake.submit_modal(not_a_job, {"change": "brighter"})

        await wait_results(fake, 4)
        await fake.wait_for(lambda: refused.original is not None and not refused.original.loading)
        await bot.core.wait_idle()
        assert refused.response is not None and refused.response.ephemeral
        assert refused.original is not None
        assert "isn’t one of my videos" in refused.original.content

        children = [await job_of(bot, m) for m in (await wait_results(fake, 4))[1:]]
        by_user = {job.user_id: job for job in children}
        from_menu = by_user[str(fake.admin.user.id)]
        assert from_menu.parent_id == parent and from_menu.prompt == "at dusk"
        assert from_menu.reply_to_message_id == str(first.id)  # its status answers the video
        assert by_user[str(fake.other_member.user.id)].parent_id == parent
        assert by_user[str(fake.member.user.id)].prompt == "a heron on one leg"  # again

        assert len(in_core) == 5 and all(in_core)  # /sora, again, 2 remixes, the refusal
        assert lookups and all(lookups)
        assert fake.invalid_requests == 0  # no 10062 "unknown interaction" either


async def test_a_slow_moderator_change_is_public_and_no_echo_pings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("adapters.discord.answers.QUICK_ANSWER_SECONDS", 0.0)
    async with world(tmp_path, monkeypatch, message_content=True) as w, running(w) as bot:
        fake = w.fake
        ping = f"@everyone <@&{fake.moderator_role.id}> <@{fake.owner.user.id}>"
        loud = fake.add_member("loud")
        loud.user.global_name = f"{ping} fan"

        change = await fake.send_slash_command(
            fake.admin, fake.general, "quota", {"user": loud, "amount": 2}, subcommand="add"
        )
        response = await fake.wait_for_response(change)
        assert response.type == DEFERRED and not response.ephemeral  # public, like a quick one
        await fake.wait_for(lambda: change.original is not None and not change.original.loading)
        announced = change.original
        assert announced is not None and f"Gave {ping} fan 2" in announced.content

        own = await fake.send_slash_command(loud, fake.general, "quota", subcommand="me")
        assert (await fake.wait_for_response(own)).ephemeral  # a member's balance stays private

        await sora(fake, "a drum solo", provider="videos")
        [result] = await wait_results(fake, 1)
        await bot.core.wait_idle()
        model = ping.replace(" ", "")  # one word: the refusal quotes it
        await fake.post_message(fake.member, fake.general, f"--model {model} pink", reply_to=result)
        refusal = await fake.wait_for_message(
            fake.general, lambda m: m.author.id == fake.bot.id and "There is no model" in m.content
        )
        assert model in refusal.content  # quoted as written…

        for message in (announced, refusal):  # …and nobody was pinged by either
            assert not message.mention_everyone, message.content
            assert message.mention_role_ids == [] and message.mention_user_ids == []


async def test_without_the_intent_only_a_reply_that_pings_continues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``message_content`` is off by default: the intent is not requested, a reply with
    "ping on reply" turned off arrives without its text and is ignored, and a reply that
    pings the bot (Discord's default) still continues the job."""
    async with world(tmp_path, monkeypatch) as w, running(w) as bot:
        fake = w.fake
        assert not fake.gateway.identify_payloads[0]["intents"] & (1 << 15)  # MESSAGE_CONTENT
        await sora(fake, "a snowman", provider="videos")
        [result] = await wait_results(fake, 1)
        await bot.core.wait_idle()
        await fake.post_message(
            fake.member, fake.general, "make it melt", reply_to=result, mention_author=False
        )
        pinging = await fake.post_message(
            fake.member, fake.general, "wearing a hat", reply_to=result
        )
        [_, second] = await wait_results(fake, 2)
        await bot.core.wait_idle()
        child = await job_of(bot, second)
        assert child.reply_to_message_id == str(pinging.id)
        remix_prompts = [r.json["prompt"] for r in w.sim.requests if r.path.endswith("/remix")]
        assert remix_prompts == ["wearing a hat"]


async def test_commands_sync_globally_and_a_bad_guild_spares_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async with world(tmp_path, monkeypatch) as w:
        fake = w.fake
        _set_discord(w, guild_ids=[])
        async with running(w):
            names = sorted(command["name"] for command in fake.commands())
            assert names == [MENU, "help", "quota", "sora"]
            assert fake.commands(fake.guild) == []

        _set_discord(w, guild_ids=[4242, fake.guild.id])  # a guild the bot is not in, first
        async with running(w):
            assert fake.command("sora", guild=fake.guild) is not None
        assert any("guild 4242" in r.getMessage() for r in caplog.records)


async def test_a_failed_start_closes_what_it_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with world(tmp_path, monkeypatch) as w, open_core(w.settings) as core:
        config = w.settings.discord.model_copy(update={"token": SecretStr("revoked-token")})
        adapter = DiscordAdapter(core, config)
        with pytest.raises(ConfigError, match="refused the token"):
            await adapter.start()
        assert adapter.client.is_closed() and not adapter.connected
        for name in DISCORD_LOGGERS:
            assert not any(isinstance(f, SecretRedactor) for f in logging.getLogger(name).filters)


async def test_a_fatal_gateway_close_is_logged_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """4004 (the token was reset): discord.py stops for good. ``connected`` says so, and
    the log says why instead of a "Task exception was never retrieved" at exit."""
    async with world(tmp_path, monkeypatch) as w, running(w) as bot:
        await w.fake.drop_gateway(code=4004)
        await w.fake.wait_for(lambda: not bot.adapter.connected)
        await w.fake.wait_for(
            lambda: any(
                r.levelno == logging.ERROR and "ended for good" in r.getMessage()
                for r in caplog.records
            )
        )
        [record] = [r for r in caplog.records if "ended for good" in r.getMessage()]
        assert record.name == "adapters.discord" and record.exc_info is not None
        assert "4004" in record.getMessage()


class _DeadInteraction:
    """Just enough of ``discord.Interaction`` for ``answer_quickly``: Discord no longer
    knows the interaction (404, 10062), so the deferral fails."""

    def __init__(self) -> None:
        self.response = self
        self.deferring = asyncio.Event()

    async def defer(self, *, ephemeral: bool, thinking: bool) -> None:
        self.deferring.set()
        raise discord.NotFound(SimpleNamespace(status=404, reason="Not Found"), "Unknown")


async def test_a_slow_answer_never_leaves_the_core_running_unowned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("adapters.discord.answers.QUICK_ANSWER_SECONDS", 0.0)
    finished = asyncio.Event()
    interaction: Any = _DeadInteraction()

    async def quota_change() -> Reply:  # slow: still at work when the deferral fails
        await interaction.deferring.wait()
        finished.set()
        return Reply("done", private=False)

    await answer_quickly(interaction, quota_change(), public_if_slow=True)
    assert finished.is_set()  # the deferral failed, but the change was seen through

    started, release = asyncio.Event(), asyncio.Event()

    async def stuck() -> Reply:
        started.set()
        await release.wait()
        return Reply("never")

    monkeypatch.setattr("adapters.discord.answers.QUICK_ANSWER_SECONDS", 60.0)
    answering = asyncio.create_task(answer_quickly(interaction, stuck()))
    await started.wait()
    tasks_before = asyncio.all_tasks()
    answering.cancel()  # the adapter stops meanwhile
    with pytest.raises(asyncio.CancelledError):
        await answering
    await asyncio.sleep(0)
    leftover = [t for t in tasks_before if t is not asyncio.current_task() and not t.done()]
    assert leftover == []  # the core's work was cancelled with it


def test_a_status_from_before_a_restart_is_aged_by_discord_clock() -> None:
    """A new process never saw the status posted: its snowflake, read against the newest
    snowflake Discord made (plus the time since), gives its age — whatever the host clock."""
    clock = ManualClock(start=5.0)
    ages = MessageAges(clock)
    discord_now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    where = Conversation(Platform.DISCORD, scope="1", channel="2")

    def posted(minutes_ago: float) -> MessageRef:
        created = discord_now - timedelta(minutes=minutes_ago)
        return MessageRef(where, str(discord.utils.time_snowflake(created)))

    old, recent = posted(70), posted(10)
    assert ages.age(old) == 0.0  # nothing seen yet: only Discord's 30046 can tell
    ages.observe(discord.utils.time_snowflake(discord_now))  # an interaction arrives
    ages.observe(discord.utils.time_snowflake(discord_now - timedelta(hours=2)))  # older: kept
    assert ages.age(old) == pytest.approx(70 * 60, abs=1) and ages.age(old) > STATUS_MAX_AGE
    assert ages.age(recent) == pytest.approx(10 * 60, abs=1)
    clock.advance(46 * 60)  # time passes in this process
    assert ages.age(recent) == pytest.approx(56 * 60, abs=1)
    assert ages.age(recent) > STATUS_MAX_AGE
    mine = MessageRef(where, str(discord.utils.time_snowflake(discord_now)))
    ages.posted(mine)  # posted by this process: its own clock
    clock.advance(60)
    assert ages.age(mine) == 60


def _set_discord(w: World, **changes: Any) -> None:
    """The next ``running(w)`` starts with these ``[discord]`` settings."""
    discord_settings = w.settings.discord.model_copy(update=changes)
    w.settings = w.settings.model_copy(update={"discord": discord_settings})
