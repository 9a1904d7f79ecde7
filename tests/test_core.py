"""The command core end to end: simulator upstream, SQLite, a recording outbox."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest

from bot.models import MessageRef
from bot.providers.simulator import Fault, Simulator
from bot.records import JobState
from tests.core_harness import (
    CHAT,
    FORMATS,
    ask,
    generate,
    key,
    ledger_kinds,
    running,
    settings_for,
)
from tests.fakes import FakeOutbox


@pytest.fixture
async def sim(tmp_path: Path):
    async with Simulator(
        tmp_path / "sim", job_seconds=0.3, poll_after_ms=20, video_seconds_cap=1.0
    ) as simulator:
        yield simulator


def creates(sim: Simulator) -> list:
    paths = ("/v1/videos", "/v1/video/create", "/v1/chat/completions")
    return [r for r in sim.requests if r.method == "POST" and r.path in paths]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_happy_path_delivers_a_playable_video_and_charges_once(
    sim: Simulator, tmp_path: Path, fmt: str
) -> None:
    outbox = FakeOutbox()
    async with running(settings_for(sim, tmp_path), outbox) as core:
        reply = await generate(core, f"--provider {fmt} a paper boat <b>on</b> a rainy street")
        assert reply is not None and reply.kind == "accepted"
        assert len(outbox.videos) == 1
        sent = outbox.videos[0]
        assert sent.video.width > 0 and sent.video.height > sent.video.width  # portrait
        assert sent.video.has_audio and sent.video.duration > 0
        assert 0 < sent.thumbnail_bytes < 200_000
        assert "&lt;b&gt;on&lt;/b&gt;" in sent.caption  # escaped for Telegram HTML
        assert "4 credits left" in sent.caption
        assert sent.buttons
        status_id = next(iter(outbox.statuses))
        assert "Done" in outbox.final_status(status_id)
        history = outbox.statuses[status_id]
        assert all(a != b for a, b in itertools.pairwise(history))  # no identical edits
        assert await ledger_kinds(core) == ["reserve", "commit"]
        balance = await core.s.quotas.balance(key(), core.s.window(), 5)
        assert balance.remaining == 4
        job = await core.s.jobs.find_by_message("telegram", CHAT.channel, sent.ref.message_id)
        assert job is not None and job.state is JobState.DELIVERED and job.upstream_id
    assert len(creates(sim)) == 1


@pytest.mark.parametrize("fmt", FORMATS)
async def test_reply_to_a_result_continues_that_job(
    sim: Simulator, tmp_path: Path, fmt: str
) -> None:
    outbox = FakeOutbox()
    async with running(settings_for(sim, tmp_path), outbox) as core:
        await generate(core, f"--provider {fmt} a cow and a horse dancing")
        result = outbox.videos[0].ref
        reply = await generate(core, "give the cow a halo", command="continue", reply_to=result)
        assert reply is not None
        assert len(outbox.videos) == 2, outbox.texts
        parent = await core.s.jobs.find_by_message("telegram", CHAT.channel, result.message_id)
        child = await core.s.jobs.find_by_message(
            "telegram", CHAT.channel, outbox.videos[1].ref.message_id
        )
        assert parent is not None and child is not None and child.parent_id == parent.id
    last = creates(sim)[-1] if fmt != "videos" else None
    if fmt == "videos":
        remix = [r for r in sim.requests if r.path.endswith("/remix")]
        assert len(remix) == 1 and remix[0].json == {"prompt": "give the cow a halo"}
        assert parent.upstream_id in remix[0].path
    elif fmt == "chat":
        messages = last.json["messages"]
        assert [m["role"] for m in messages] == ["user", "assistant", "user"]
        assert "9:16" in messages[0]["content"]  # the first turn resent verbatim
        assert parent.transcript is not None and messages[1]["content"] == parent.transcript
        assert "give the cow a halo" in str(messages[2]["content"])
    else:
        assert reply.text.startswith("This provider can")  # the no-remix note
        assert "a cow and a horse dancing" in last.json["prompt"]
        assert "give the cow a halo" in last.json["prompt"]


async def test_reply_to_the_status_message_also_continues(sim: Simulator, tmp_path: Path) -> None:
    outbox = FakeOutbox()
    async with running(settings_for(sim, tmp_path), outbox) as core:
        await generate(core, "--provider videos a lighthouse")
        status = MessageRef(CHAT, next(iter(outbox.statuses)))
        await generate(core, "at night", command="continue", reply_to=status)
        assert len(outbox.videos) == 2
    assert any(r.path.endswith("/remix") for r in sim.requests)


async def test_again_button_makes_a_new_video_with_the_same_settings(
    sim: Simulator, tmp_path: Path
) -> None:
    outbox = FakeOutbox()
    async with running(settings_for(sim, tmp_path), outbox) as core:
        await generate(core, "--provider chat --landscape a red kite")
        job_id = outbox.videos[0].job_id
        await generate(core, "", command="again", options={"job": job_id})
        assert len(outbox.videos) == 2
        assert outbox.videos[1].video.width > outbox.videos[1].video.height
    prompts = [r.json["messages"][-1]["content"] for r in creates(sim)]
    assert len(prompts) == 2 and prompts[0] == prompts[1]


@pytest.mark.parametrize(
    ("text", "command", "fragment"),
    [
        ("", "sora", "/sora"),
        ("--model nope a cat", "sora", "nope"),
        ("--provider videos --seconds 7 a cat", "sora", "4, 8, 12"),
        ("--provider elsewhere a cat", "sora", "elsewhere"),
        ("x" * 2001, "sora", "2000"),
        ("--seconds abc a cat", "sora", "abc"),
        ("make it blue", "continue", "one of my videos"),
        ("", "again", "one of my videos"),
    ],
)
async def test_bad_input_gets_a_clear_message_and_costs_nothing(
    sim: Simulator, tmp_path: Path, text: str, command: str, fragment: str
) -> None:
    outbox = FakeOutbox()
    async with running(settings_for(sim, tmp_path), outbox) as core:
        reply = await generate(core, text, command=command, reply_to=MessageRef(CHAT, "999"))
        assert reply is not None and reply.kind == "error"
        assert fragment in reply.text
        assert await ledger_kinds(core) == []
        assert await core.s.jobs.unfinished() == []
    assert creates(sim) == []
    assert outbox.statuses == {} and outbox.videos == []


async def test_bad_input_is_answered_in_chinese(sim: Simulator, tmp_path: Path) -> None:
    async with running(settings_for(sim, tmp_path), FakeOutbox()) as core:
        reply = await core.handle(ask("", locale="zh-CN"))
    assert reply is not None and any("\u4e00" <= ch <= "\u9fff" for ch in reply.text)


async def test_quota_refusal_costs_nothing_and_says_when_it_resets(
    sim: Simulator, tmp_path: Path
) -> None:
    outbox = FakeOutbox()
    settings = settings_for(sim, tmp_path, quota={"default_limit": 1})
    async with running(settings, outbox) as core:
        await generate(core, "a cat")
        reply = await generate(core, "another cat")
        assert reply is not None and reply.kind == "error"
        assert "0" in reply.text and "UTC" in reply.text
        assert await ledger_kinds(core) == ["reserve", "commit"]
    assert len(creates(sim)) == 1


async def test_concurrent_requests_accept_exactly_the_credits_left(
    sim: Simulator, tmp_path: Path
) -> None:
    settings = settings_for(
        sim, tmp_path, quota={"default_limit": 3}, bot={"max_jobs_per_user": 50}
    )
    outbox = FakeOutbox()
    async with running(settings, outbox) as core:
        replies = await asyncio.gather(*(core.handle(ask(f"cat {n}")) for n in range(20)))
        await core.wait_idle()
        assert sum(r is not None and r.kind == "accepted" for r in replies) == 3
        assert len(outbox.videos) == 3
        assert (await ledger_kinds(core)).count("commit") == 3


async def test_too_many_jobs_in_flight_is_refused(sim: Simulator, tmp_path: Path) -> None:
    sim.inject(Fault.NEVER_FINISH, count=2)
    settings = settings_for(sim, tmp_path, bot={"max_jobs_per_user": 2})
    async with running(settings, FakeOutbox()) as core:
        first = await core.handle(ask("one"))
        second = await core.handle(ask("two"))
        third = await core.handle(ask("three"))
        assert first.kind == second.kind == "accepted"  # type: ignore[union-attr]
        assert third is not None and third.kind == "error" and "2" in third.text
        assert (await ledger_kinds(core)).count("reserve") == 2
