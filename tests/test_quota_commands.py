"""/quota through the core: a member's balance and every moderator action."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.providers.simulator import Simulator
from tests.core_harness import ask, generate, key, running, settings_for
from tests.fakes import FakeOutbox


@pytest.fixture
async def sim(tmp_path: Path):
    async with Simulator(tmp_path / "sim", job_seconds=0.2, poll_after_ms=20) as simulator:
        yield simulator


def quota(text: str, *, moderator: bool = True, user: str = "mod", **options: str):
    return ask(text, command="quota", moderator=moderator, user=user, options=options)


async def test_member_sees_balance_and_reset_time(sim: Simulator, tmp_path: Path) -> None:
    async with running(
        settings_for(sim, tmp_path, quota={"default_limit": 3}), FakeOutbox()
    ) as core:
        await generate(core, "a cat")
        reply = await core.handle(ask("", command="quota"))
        assert reply is not None and reply.private
        assert "2 of 3" in reply.text and "UTC" in reply.text
        zh = await core.handle(ask("", command="quota", locale="zh"))
        assert zh is not None and "2" in zh.text and zh.text != reply.text


@pytest.mark.parametrize(
    "text", ["show 42", "set 42 9", "add 42 2", "reset 42", "default 7", "history 42"]
)
async def test_members_cannot_use_moderator_commands(
    sim: Simulator, tmp_path: Path, text: str
) -> None:
    async with running(settings_for(sim, tmp_path), FakeOutbox()) as core:
        reply = await core.handle(quota(text, moderator=False, user="alice"))
        assert reply is not None and reply.kind == "error" and "moderator" in reply.text
        assert await core.s.quotas.history(key("42"), 10) == []
        assert await core.s.quotas.scope_default("telegram", "group-1") is None


async def test_every_moderator_action(sim: Simulator, tmp_path: Path) -> None:
    settings = settings_for(sim, tmp_path, quota={"default_limit": 2})
    async with running(settings, FakeOutbox()) as core:
        window, target = core.s.window(), key("42")

        async def remaining() -> int:
            return (await core.s.quotas.balance(target, window, 2)).remaining

        # by numeric id, by mention token, and by adapter-resolved options (reply, @username)
        reply = await core.handle(quota("set 42 10"))
        assert reply is not None and "10" in reply.text and not reply.private
        assert await remaining() == 10
        await core.handle(quota("add <@42> 5"))
        assert await remaining() == 15
        await core.handle(quota("add 3", target_id="42", target_name="@bob"))
        assert await remaining() == 18
        shown = await core.handle(quota("show", target_id="42", target_name="@bob"))
        assert shown is not None and "@bob" in shown.text and "18" in shown.text
        await core.handle(quota("reset 42"))
        assert await remaining() == 10  # the custom limit stays, grants and usage go
        history = await core.handle(quota("history 42"))
        assert history is not None
        for kind in ("set", "grant", "reset"):
            assert kind in history.text.lower() or kind[:3] in history.text.lower()
        await core.handle(quota("default 7"))
        assert await core.s.quotas.scope_default("telegram", "group-1") == 7
        other = await core.s.quotas.balance(key("someone-else"), window, 2)
        assert other.limit == 7


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("set", "needs a value"),
        ("add 42", "Who do you mean"),  # one number: the amount; the target is missing
        ("set 42 -3", "-3"),
        ("frobnicate 42", "frobnicate"),
        ("show @ghost", "@ghost"),
    ],
)
async def test_moderator_typos_get_clear_messages(
    sim: Simulator, tmp_path: Path, text: str, fragment: str
) -> None:
    async with running(settings_for(sim, tmp_path), FakeOutbox()) as core:
        reply = await core.handle(quota(text))
        assert reply is not None and reply.kind == "error"
        assert fragment in reply.text, reply.text


async def test_configured_moderators_and_unlimited(sim: Simulator, tmp_path: Path) -> None:
    settings = settings_for(
        sim, tmp_path, quota={"default_limit": 1}, bot={"moderators": ["telegram:boss"]}
    )
    outbox = FakeOutbox()
    async with running(settings, outbox) as core:
        assert (await core.handle(quota("set 42 3", moderator=False, user="boss"))).kind != "error"  # type: ignore[union-attr]
        for n in range(3):
            await generate(core, f"cat {n}", user="boss")
        assert len(outbox.videos) == 3  # unlimited despite a limit of 1
        assert "credits left" not in outbox.videos[0].caption
        reply = await core.handle(ask("", command="quota", user="boss"))
        assert reply is not None and "nlimited" in reply.text
