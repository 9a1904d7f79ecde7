"""Continuations on Discord (Remix button and modal, Again, the message command, a reply
with the message-content intent), an image reaching the provider, and /quota for
moderators and members."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.providers.simulator.jobs import FilePart
from tests.discord_fake import FakeDiscord
from tests.discord_rig import Running, job_of, jpeg, running, sora, wait_results, world

MODAL = 9
DEFERRED = 5
MESSAGE = 4


async def _first_result(fake: FakeDiscord, bot: Running, prompt: str, **options: str) -> str:
    await sora(fake, prompt, **options)
    [result] = await wait_results(fake, 1)
    await bot.core.wait_idle()
    return (await job_of(bot, result)).id


async def test_remix_button_opens_a_modal_whose_answer_continues_the_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with world(tmp_path, monkeypatch) as w, running(w) as bot:
        fake = w.fake
        parent = await _first_result(fake, bot, "a red kite", provider="videos")
        [first] = await wait_results(fake, 1)
        click = await fake.click_button(first, f"sora:remix:{parent}", fake.other_member)
        assert (await fake.wait_for_response(click)).type == MODAL
        assert click.modal is not None and click.modal["title"] == "Remix this video"
        submit = await fake.submit_modal(click, {"change": "make it night"})
        response = await fake.wait_for_response(submit)
        assert response.type == DEFERRED and response.ephemeral
        [_, second] = await wait_results(fake, 2)
        await bot.core.wait_idle()
        child = await job_of(bot, second)
        assert child.parent_id == parent and child.user_id == str(fake.other_member.user.id)
        status = fake.messages[int(child.status_message_id or 0)]
        assert status.reference is not None and status.reference["message_id"] == str(first.id)
        remix_calls = [r for r in w.sim.requests if r.path.endswith("/remix")]
        assert remix_calls and remix_calls[0].json["prompt"] == "make it night"


async def test_again_button_makes_another_take_of_the_same_prompt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with world(tmp_path, monkeypatch) as w, running(w) as bot:
        fake = w.fake
        parent = await _first_result(fake, bot, "a lighthouse in fog", provider="chat")
        [first] = await wait_results(fake, 1)
        click = await fake.click_button(first, f"sora:again:{parent}", fake.member)
        response = await fake.wait_for_response(click)
        assert response.type == DEFERRED and response.ephemeral
        [_, second] = await wait_results(fake, 2)
        await bot.core.wait_idle()
        again = await job_of(bot, second)
        original = await bot.core.s.jobs.get(parent)
        assert original is not None
        assert again.prompt == original.prompt and again.parent_id is None
        assert again.provider == "chat"


async def test_remix_with_sora_message_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with world(tmp_path, monkeypatch) as w, running(w) as bot:
        fake = w.fake
        parent = await _first_result(fake, bot, "a desert road", provider="unified")
        [first] = await wait_results(fake, 1)
        chatter = await fake.post_message(fake.member, fake.general, "nice!")
        refused = await fake.message_context_menu("Remix with Sora", chatter, fake.member)
        answer = await fake.wait_for_response(refused)
        assert answer.type == MESSAGE and answer.ephemeral
        assert "isn’t one of my videos" in answer.data["content"]

        menu = await fake.message_context_menu("Remix with Sora", first, fake.member)
        assert (await fake.wait_for_response(menu)).type == MODAL
        await fake.submit_modal(menu, {"change": "at dawn"})
        [_, second] = await wait_results(fake, 2)
        await bot.core.wait_idle()
        child = await job_of(bot, second)
        assert child.parent_id == parent and child.prompt.endswith("at dawn")


async def test_a_reply_to_the_result_continues_with_the_message_content_intent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with world(tmp_path, monkeypatch, message_content=True) as w, running(w) as bot:
        fake = w.fake
        parent = await _first_result(fake, bot, "a paper boat", provider="videos")
        [first] = await wait_results(fake, 1)
        await fake.post_message(fake.member, fake.general, "cool")  # not a reply: ignored
        request = await fake.post_message(
            fake.member, fake.general, "make it snow", reply_to=first, mention_author=False
        )
        [_, second] = await wait_results(fake, 2)
        await bot.core.wait_idle()
        child = await job_of(bot, second)
        assert child.parent_id == parent and child.reply_to_message_id == str(request.id)
        status = fake.messages[int(child.status_message_id or 0)]
        assert status.reference is not None and status.reference["message_id"] == str(request.id)
        assert fake.gateway.identify_payloads[0]["intents"] & (1 << 15)  # MESSAGE_CONTENT


async def test_an_attached_image_reaches_the_provider(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with world(tmp_path, monkeypatch) as w, running(w) as bot:
        fake = w.fake
        await fake.send_slash_command(
            fake.member,
            fake.general,
            "sora",
            {"prompt": "the cat wakes up", "provider": "videos"},
            attachments={"image": ("cat.jpg", jpeg(80, 60), "image/jpeg")},
        )
        [result] = await wait_results(fake, 1)
        await bot.core.wait_idle()
        job = await job_of(bot, result)
        assert job.image_path is not None and job.image_url is not None
        create = next(r for r in w.sim.requests if r.method == "POST" and r.path == "/v1/videos")
        assert create.form is not None
        part = create.form["input_reference"]
        assert isinstance(part, FilePart) and part.image_size == (720, 1280)


async def test_a_file_that_is_not_an_image_is_refused_for_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with world(tmp_path, monkeypatch) as w, running(w) as bot:
        fake = w.fake
        slash = await fake.send_slash_command(
            fake.member,
            fake.general,
            "sora",
            {"prompt": "animate this"},
            attachments={"image": ("notes.pdf", b"%PDF-1.4", "application/pdf")},
        )
        answer = await fake.wait_for_response(slash)
        assert answer.type == MESSAGE and answer.ephemeral and "JPEG" in answer.data["content"]
        assert await bot.core.s.jobs.unfinished() == []
        assert w.sim.requests == []


# ---------------------------------------------------------------------------- /quota


async def _quota(
    fake: FakeDiscord, caller: object, subcommand: str, **options: object
) -> tuple[str, bool]:
    interaction = await fake.send_slash_command(
        caller,  # type: ignore[arg-type]
        fake.general,
        "quota",
        options,
        subcommand=subcommand,
    )
    response = await fake.wait_for_response(interaction)
    if response.type == DEFERRED:
        await fake.wait_for(
            lambda: interaction.original is not None and not interaction.original.loading
        )
        assert interaction.original is not None
        return interaction.original.content, response.ephemeral
    return str(response.data["content"]), response.ephemeral


async def test_moderators_manage_credits_and_members_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with (
        world(
            tmp_path, monkeypatch, moderator_roles=["moderators"], quota={"default_limit": 2}
        ) as w,
        running(w) as bot,
    ):
        fake = w.fake
        pat = fake.member
        name = pat.user.global_name or pat.user.username
        text, private = await _quota(fake, pat, "add", user=fake.other_member, amount=5)
        assert private and "Only moderators" in text
        text, private = await _quota(fake, pat, "me")
        assert private and "2 of 2 credits" in text

        text, private = await _quota(fake, fake.admin, "add", user=pat, amount=3)  # Manage Server
        assert not private and f"Gave {name} 3" in text
        text, _ = await _quota(fake, fake.moderator, "set", user=pat, amount=9)  # the role
        assert f"{name} now has a limit of 9" in text
        text, private = await _quota(fake, fake.moderator, "show", user=pat)
        assert private and text.startswith(f"{name}: 12 of 9")
        text, _ = await _quota(fake, fake.admin, "history", user=pat)
        assert "Credit history" in text and "grant 3" in text
        text, _ = await _quota(fake, fake.admin, "reset", user=pat)
        assert f"Reset {name}" in text
        text, _ = await _quota(fake, fake.owner, "default", amount=4)
        assert "default limit is now 4" in text
        key = bot.core.s.quota_key("discord", str(fake.guild.id), str(pat.user.id))
        balance = await bot.core.s.quotas.balance(key, bot.core.s.window(), 2)
        assert balance.limit == 9 and balance.granted == 0


async def test_a_slow_answer_is_deferred_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("adapters.discord.answers.QUICK_ANSWER_SECONDS", 0.0)
    async with world(tmp_path, monkeypatch) as w, running(w):
        text, private = await _quota(w.fake, w.fake.member, "me")
        assert private and "credits left" in text
        [interaction] = w.fake.interactions.values()
        assert interaction.response is not None and interaction.response.type == DEFERRED
