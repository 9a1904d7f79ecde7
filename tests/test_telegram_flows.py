"""Continuations (reply, Again, Remix), photo input and moderator commands over Telegram."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.records import JobRecord
from tests.telegram_fake import FakeBotApi
from tests.telegram_rig import Running, jpeg, running, world

GROUP = -100200


async def _result_job(bot: Running, fake: FakeBotApi, chat_id: int, index: int) -> JobRecord:
    upload = fake.videos[index]
    job = await bot.core.s.jobs.find_by_message("telegram", str(chat_id), str(upload.message_id))
    assert job is not None
    return job


@pytest.mark.parametrize("provider", ["videos", "chat", "unified"])
async def test_a_text_reply_to_the_result_continues_that_job(tmp_path: Path, provider: str) -> None:
    async with world(tmp_path) as w, running(w) as bot:
        fake = w.fake
        erin = fake.user(21, "Erin")
        group = fake.group_chat(GROUP)
        fake.push_message(group, erin, f"/sora --provider {provider} a paper boat")
        await fake.wait_for(lambda: len(fake.videos) == 1)
        await bot.core.wait_idle()
        first = await _result_job(bot, fake, GROUP, 0)
        fake.push_message(group, erin, "make it night", reply_to=fake.videos[0].message_id)
        await fake.wait_for(lambda: len(fake.videos) == 2)
        await bot.core.wait_idle()
        second = await _result_job(bot, fake, GROUP, 1)
        assert second.parent_id == first.id
        assert "night" in second.prompt or "night" in (
            second.history[-1].content if second.history else ""
        )


async def test_a_reply_to_the_status_message_continues_too(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running(w) as bot:
        fake = w.fake
        erin = fake.user(22, "Erin")
        chat = fake.private_chat(erin)
        fake.push_message(chat, erin, "/sora a paper boat")
        await fake.wait_for(lambda: len(fake.videos) == 1)
        await bot.core.wait_idle()
        status_id = (await _result_job(bot, fake, 22, 0)).status_message_id
        assert status_id is not None
        fake.push_message(chat, erin, "now in the snow", reply_to=int(status_id))
        await fake.wait_for(lambda: len(fake.videos) == 2)
        await bot.core.wait_idle()
        assert (await _result_job(bot, fake, 22, 1)).parent_id is not None


async def test_again_and_remix_buttons(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running(w) as bot:
        fake = w.fake
        finn = fake.user(23, "Finn")
        fake.push_message(fake.group_chat(GROUP), finn, "/sora a red kite")
        await fake.wait_for(lambda: len(fake.videos) == 1)
        await bot.core.wait_idle()
        first = await _result_job(bot, fake, GROUP, 0)
        result_id = fake.videos[0].message_id
        assert result_id is not None

        fake.push_callback(finn, GROUP, result_id, f"r:{first.id}")
        await fake.wait_for(lambda: "What should change?" in _texts(fake, GROUP)[-1])
        fake.push_callback(finn, GROUP, result_id, f"a:{first.id}")
        await fake.wait_for(lambda: len(fake.videos) == 2)
        await bot.core.wait_idle()
        again = await _result_job(bot, fake, GROUP, 1)
        assert again.prompt == first.prompt and again.parent_id is None
        assert len(fake.sent("answerCallbackQuery")) == 2

        # answering the Remix prompt itself (not the video) changes the video it was about
        prompt = next(
            m for m in fake.bot_messages(GROUP) if "What should change?" in m.get("text", "")
        )
        fake.push_message(fake.group_chat(GROUP), finn, "now at night", reply_to=prompt)
        await fake.wait_for(lambda: len(fake.videos) == 3)
        await bot.core.wait_idle()
        remix = await _result_job(bot, fake, GROUP, 2)
        assert remix.parent_id == first.id and "now at night" in remix.prompt


async def test_photo_as_caption_or_replied_to_is_the_start_image(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running(w) as bot:
        fake = w.fake
        gina = fake.user(24, "Gina")
        chat = fake.private_chat(gina)
        fake.push_message(chat, gina, "/sora --provider videos the cat wakes up", photo=jpeg())
        await fake.wait_for(lambda: len(fake.videos) == 1)
        photo = fake.push_message(chat, gina, None, photo=jpeg(80, 60))
        fake.push_message(chat, gina, "/sora --provider videos it starts to rain", reply_to=photo)
        await fake.wait_for(lambda: len(fake.videos) == 2)
        await bot.core.wait_idle()
        for index in (0, 1):
            job = await _result_job(bot, fake, 24, index)
            assert job.image_path is not None and job.image_path.endswith("w1280.img")
        assert [c["file_id"] for c in fake.sent("getFile")] == [
            fid for fid in fake.files if fid.endswith("w1280")
        ]


async def test_a_document_that_is_not_an_image_gets_a_clear_message(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running(w):
        fake = w.fake
        hal = fake.user(25, "Hal")
        fake.push_message(
            fake.private_chat(hal),
            hal,
            "/sora animate this",
            document=(b"%PDF-1.4", "application/pdf"),
        )
        await fake.wait_for(lambda: bool(fake.sent("sendMessage", 25)))
        assert "JPEG" in _texts(fake, 25)[0]
        assert fake.videos == []


def _texts(fake: FakeBotApi, chat_id: int) -> list[str]:
    return [m["text"] for m in fake.sent("sendMessage", chat_id)]


# ---------------------------------------------------------------------------- moderators


async def test_moderator_commands_by_reply_username_and_id(tmp_path: Path) -> None:
    async with world(tmp_path, quota={"default_limit": 2}) as w, running(w) as bot:
        fake = w.fake
        group = fake.group_chat(GROUP)
        admin = fake.user(31, "Ada", username="ada")
        ivan = fake.user(32, "Ivan", username="ivan")
        fake.members[(GROUP, 31)] = "administrator"
        hello = fake.push_message(group, ivan, "hello everyone")  # the bot sees @ivan here

        fake.push_message(group, admin, "/quota add 3", reply_to=hello)
        fake.push_message(group, admin, "/quota add @ivan 1")
        fake.push_message(group, admin, "/quota set 32 9")
        fake.push_message(group, admin, "/quota reset @ivan")
        fake.push_message(group, admin, "/quota history @ivan")
        fake.push_message(group, admin, "/quota show 32")
        await fake.wait_for(lambda: len(fake.sent("sendMessage", GROUP)) == 6)
        texts = _texts(fake, GROUP)
        assert sum("Gave Ivan" in t for t in texts) == 2  # by reply and by @username
        assert any("32 now has a limit of 9" in t for t in texts)  # by id
        assert any("Reset Ivan" in t for t in texts)
        assert any("Credit history of Ivan" in t for t in texts)
        assert any(t.startswith("32:") for t in texts)
        assert len(fake.sent("getChatMember")) == 1  # cached
        balance = await bot.core.s.quotas.balance(
            bot.core.s.quota_key("telegram", str(GROUP), "32"),
            bot.core.s.window(),
            2,
        )
        assert balance.limit == 9


async def test_a_seen_username_is_still_known_after_a_restart(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        fake = w.fake
        group = fake.group_chat(GROUP)
        admin = fake.user(31, "Ada", username="ada")
        fake.members[(GROUP, 31)] = "administrator"
        async with running(w):
            fake.push_message(group, fake.user(32, "Ivan", username="Ivan_K"), "hi")
            fake.push_message(group, admin, "/help")  # handled after hi: @ivan_k is stored
            await fake.wait_for(lambda: len(fake.sent("sendMessage", GROUP)) == 1)
        async with running(w):  # a new process: only the database remembers Ivan
            fake.push_message(group, admin, "/quota add @ivan_k 2")
            await fake.wait_for(lambda: len(fake.sent("sendMessage", GROUP)) == 2)
        assert "Gave Ivan" in _texts(fake, GROUP)[-1]


async def test_non_admin_is_refused_and_anonymous_admin_is_accepted(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running(w):
        fake = w.fake
        group = fake.group_chat(GROUP)
        jo = fake.user(41, "Jo")
        fake.push_message(group, jo, "/quota add 42 5")
        await fake.wait_for(lambda: len(fake.sent("sendMessage", GROUP)) == 1)
        assert "moderator" in _texts(fake, GROUP)[0].lower()
        anonymous_bot = fake.user(1087968824, "Group")
        fake.push_message(group, anonymous_bot, "/quota add 42 5", sender_chat=group)
        await fake.wait_for(lambda: len(fake.sent("sendMessage", GROUP)) == 2)
        assert "Gave 42 5" in _texts(fake, GROUP)[1]


async def test_private_chat_only_configured_moderators(tmp_path: Path) -> None:
    async with world(tmp_path, moderators=["@kim"]) as w, running(w):
        fake = w.fake
        kim = fake.user(51, "Kim", username="kim")
        lee = fake.user(52, "Lee", username="lee")
        fake.push_message(fake.private_chat(kim), kim, "/quota add 52 2")
        fake.push_message(fake.private_chat(lee), lee, "/quota add 51 2")
        await fake.wait_for(
            lambda: bool(fake.sent("sendMessage", 51) and fake.sent("sendMessage", 52))
        )
        assert "Gave 52 2" in _texts(fake, 51)[0]
        assert "moderator" in _texts(fake, 52)[0].lower()
        assert fake.sent("getChatMember") == []
