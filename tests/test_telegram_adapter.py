"""/sora through real python-telegram-bot against the fake Bot API: private chat, group,
forum topic, delivery metadata, the flood budget with ten concurrent jobs."""

from __future__ import annotations

import json
from pathlib import Path

from bot.records import JobState
from tests.telegram_fake import BOT_USERNAME, FakeBotApi
from tests.telegram_rig import running, world

GROUP = -100100


async def test_sora_in_a_private_chat_posts_status_edits_and_a_streamable_video(
    tmp_path: Path,
) -> None:
    async with world(tmp_path) as w, running(w) as bot:
        fake = w.fake
        alice = fake.user(11, "Alice", username="alice")
        request = fake.push_message(fake.private_chat(alice), alice, "/sora a <b>cat</b> surfing")
        await fake.wait_for(lambda: len(fake.videos) == 1)
        await bot.core.wait_idle()

        status = fake.sent("sendMessage", 11)[0]
        assert json.loads(status["reply_parameters"])["message_id"] == request["message_id"]
        assert status["parse_mode"] == "HTML"
        assert "&lt;b&gt;cat&lt;/b&gt;" in status["text"]  # the prompt is escaped
        edits = fake.sent("editMessageText", 11)
        assert edits and "✅" in edits[-1]["text"]

        upload = fake.videos[0]
        assert upload.fields["supports_streaming"] == "true"
        assert int(upload.fields["width"]) > 0 and int(upload.fields["height"]) > 0
        assert int(upload.fields["duration"]) >= 1
        assert upload.file_size("video") > 1000 and upload.file_size("thumbnail") > 100
        assert len(upload.fields["caption"]) <= 1024 and "cat" in upload.fields["caption"]
        buttons = upload.json_field("reply_markup")["inline_keyboard"][0]
        job = await bot.core.s.jobs.find_by_message("telegram", "11", str(upload.message_id))
        assert job is not None and job.state is JobState.DELIVERED and job.scope == "direct"
        assert [b["callback_data"] for b in buttons] == [f"a:{job.id}", f"r:{job.id}"]
        assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)
        assert fake.flood_hits == []
        quota_help = {
            (json.loads(c["scope"])["type"], c.get("language_code")): next(
                cmd["description"] for cmd in json.loads(c["commands"]) if cmd["command"] == "quota"
            )
            for c in fake.sent("setMyCommands")
        }
        assert quota_help[("default", None)] == "Your credits left this period"
        assert quota_help[("all_chat_administrators", None)] == "Show or manage video credits"
        assert quota_help[("all_chat_administrators", "zh")] == "查看或管理视频额度"
        assert len(fake.sent("sendMessage", 11)) == 1  # no "accepted" chatter besides status


async def test_group_command_addressed_to_this_bot_runs_and_to_another_is_ignored(
    tmp_path: Path,
) -> None:
    async with world(tmp_path) as w, running(w) as bot:
        fake = w.fake
        bob = fake.user(12, "Bob", username="bob")
        group = fake.group_chat(GROUP)
        fake.push_message(group, bob, "/sora@other_bot a dog")
        fake.push_message(group, bob, "/frobnicate@other_bot")
        fake.push_message(group, bob, f"/sora@{BOT_USERNAME} a dog on a skateboard")
        await fake.wait_for(lambda: len(fake.videos) == 1)
        await bot.core.wait_idle()
        assert len(fake.sent("sendMessage", GROUP)) == 1  # only our status message
        job = await bot.core.s.jobs.find_by_message(
            "telegram", str(GROUP), str(fake.videos[0].message_id)
        )
        assert job is not None and job.prompt == "a dog on a skateboard"
        assert job.scope == str(GROUP)

        # a command for another bot is ignored even as a reply to our video (it is no
        # continuation); an unknown command gets a hint only when addressed to us
        fake.push_message(group, bob, "/sora@other_bot make it night", reply_to=job_video(fake))
        fake.push_message(group, bob, f"/frobnicate@{BOT_USERNAME}")
        fake.push_message(group, bob, "/frobnicate")
        await fake.wait_for(lambda: len(fake.sent("sendMessage", GROUP)) == 2)
        hint = fake.bot_messages(GROUP)[-1]
        assert "/frobnicate" in hint["text"] and "/help" in hint["text"]
        # "thanks" to an answer asks for nothing; a later /help is answered after it
        fake.push_message(group, bob, "thanks!", reply_to=hint)
        fake.push_message(group, bob, "/help")
        await fake.wait_for(lambda: "/sora" in fake.sent("sendMessage", GROUP)[-1]["text"])
        await bot.core.wait_idle()
        assert len(fake.sent("sendMessage", GROUP)) == 3  # status, hint, help: nothing else
        assert len(fake.videos) == 1


def job_video(fake: FakeBotApi) -> int:
    message_id = fake.videos[-1].message_id
    assert message_id is not None
    return message_id


async def test_forum_topic_is_kept_for_status_video_answers_and_failure_notices(
    tmp_path: Path,
) -> None:
    async with world(tmp_path) as w, running(w) as bot:
        fake = w.fake
        carol = fake.user(13, "Carol")
        topic = fake.group_chat(GROUP, forum=True)
        fake.push_message(topic, carol, "/sora a lighthouse", thread=77)
        await fake.wait_for(lambda: len(fake.videos) == 1)
        await bot.core.wait_idle()
        assert fake.sent("sendMessage", GROUP)[0]["message_thread_id"] == "77"
        assert fake.videos[0].fields["message_thread_id"] == "77"

        fake.push_message(topic, carol, "/quota", thread=77)  # a plain answer
        await fake.wait_for(lambda: len(fake.sent("sendMessage", GROUP)) == 2)
        # a job that fails once its status message is gone: the failure comes as a notice
        request = fake.push_message(topic, carol, "/sora [sim:moderation] a storm", thread=77)
        fake.delete(GROUP, request["message_id"] + 1)  # the status message it will post
        await fake.wait_for(lambda: len(fake.sent("sendMessage", GROUP)) == 4)
        await bot.core.wait_idle()
        sends = fake.sent("sendMessage", GROUP)
        assert [m.get("message_thread_id") for m in sends] == ["77"] * 4
        notice = sends[-1]
        assert json.loads(notice["reply_parameters"])["message_id"] == request["message_id"]
        assert "refunded" in notice["text"]


async def test_unknown_command_gets_a_hint_in_private(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running(w):
        fake = w.fake
        dave = fake.user(14, "Dave")
        fake.push_message(fake.private_chat(dave), dave, "/frobnicate")
        fake.push_message(fake.private_chat(dave), dave, "/help")
        await fake.wait_for(lambda: len(fake.sent("sendMessage", 14)) == 2)
        hint, help_text = (m["text"] for m in fake.sent("sendMessage", 14))
        assert "/frobnicate" in hint and "/help" in hint
        assert "/sora" in help_text
        # user input quoted in an answer shows literally, never as markup
        fake.push_message(fake.private_chat(dave), dave, "/sora --model <b>x</b> a cat")
        await fake.wait_for(lambda: len(fake.sent("sendMessage", 14)) == 3)
        refusal = fake.sent("sendMessage", 14)[-1]
        assert refusal["parse_mode"] == "HTML" and "&lt;b&gt;x&lt;/b&gt;" in refusal["text"]


async def test_ten_concurrent_jobs_in_one_group_stay_within_the_flood_budget(
    tmp_path: Path,
) -> None:
    """Real budgets (3 s between messages in a group), on virtual time: the fake answers
    429 like Telegram past 20 messages a minute, and must never have to."""
    async with world(tmp_path, max_concurrent=10) as w, running(w) as bot:
        fake = w.fake
        group = fake.group_chat(GROUP)
        for n in range(10):
            user = fake.user(100 + n, f"User{n}")
            fake.push_message(group, user, f"/sora scene number {n}")
        for n in range(5):  # answers to commands take their turn in the same budget
            fake.push_message(group, fake.user(200 + n, f"Asker{n}"), "/quota")
        await fake.wait_for(lambda: len(fake.videos) == 10, within=60)
        await fake.wait_for(lambda: len(fake.sent("sendMessage", GROUP)) == 15)
        await bot.core.wait_idle()
        await bot.core.s.station("telegram").board.drain()
        assert fake.flood_hits == []
        assert len(fake.sent("sendMessage", GROUP)) == 15  # 10 status messages, 5 answers
        finals = [e for e in fake.sent("editMessageText", GROUP) if "✅" in e["text"]]
        assert len(finals) == 10
