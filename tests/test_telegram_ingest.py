"""Which Telegram messages reach the core, decided without a network: the update handler
fed python-telegram-bot ``Message`` objects, with a core that only records what it is asked.

The end-to-end tests (tests/test_telegram_adapter.py) show the same through the fake Bot
API; here the negative cases ("this must never become a job") are checked without
depending on when a concurrent update happens to finish.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from telegram import Message

from adapters.telegram.handlers import UpdateHandler
from adapters.telegram.ingest import KnownUsers, parse_command
from adapters.telegram.moderators import Moderators
from bot.models import Invocation, Reply
from bot.records import MemoryUserDirectory

BOT_ID, BOT_USERNAME = 900001, "sora_test_bot"
GROUP = -100500
RESULT_ID, ANSWER_ID = 40, 41  # a job's result video, and an answer to a command


class RecordingCore:
    """Stands in for ``bot.core.Core``: records invocations; knows one job message."""

    def __init__(self) -> None:
        self.invocations: list[Invocation] = []
        self.s = SimpleNamespace(jobs=self)

    async def handle(self, inv: Invocation) -> Reply | None:
        self.invocations.append(inv)
        return None

    async def find_by_message(self, platform: str, channel: str, message_id: str) -> object:
        return object() if (channel, message_id) == (str(GROUP), str(RESULT_ID)) else None


def handler(core: RecordingCore, tmp_path: Path) -> UpdateHandler:
    made = UpdateHandler(
        core=core,  # type: ignore[arg-type]
        outbox=None,  # type: ignore[arg-type]  # nothing here answers
        moderators=Moderators(None, []),  # type: ignore[arg-type]
        known_users=KnownUsers(MemoryUserDirectory()),
        image_dir=tmp_path,
    )
    made.bind(BOT_ID, BOT_USERNAME)
    return made


def message(text: str, *, reply_to: int | None = None) -> Message:
    data: dict[str, Any] = {
        "message_id": 50,
        "date": 0,
        "chat": {"id": GROUP, "type": "supergroup", "title": "Group"},
        "from": {"id": 7, "is_bot": False, "first_name": "Bob"},
        "text": text,
    }
    if text.startswith("/"):
        length = len(text.split()[0])
        data["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    if reply_to is not None:
        data["reply_to_message"] = {
            "message_id": reply_to,
            "date": 0,
            "chat": data["chat"],
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Sora"},
            "text": "…",
        }
    return Message.de_json(data, None)


def test_a_command_for_another_bot_is_parsed_as_foreign() -> None:
    ours = parse_command(message(f"/sora@{BOT_USERNAME.upper()} a cat"), BOT_USERNAME)
    assert ours is not None and ours.addressed and not ours.foreign and ours.rest == "a cat"
    theirs = parse_command(message("/sora@other_bot a cat"), BOT_USERNAME)
    assert theirs is not None and theirs.foreign
    bare = parse_command(message("/sora a cat"), BOT_USERNAME)
    assert bare is not None and not bare.addressed and not bare.foreign
    assert parse_command(message("a cat"), BOT_USERNAME) is None


async def receive(updates: UpdateHandler, *messages: Message) -> None:
    for one in messages:
        await updates.handle(SimpleNamespace(callback_query=None, message=one))  # type: ignore[arg-type]


async def test_a_command_for_another_bot_replying_to_our_video_is_not_a_continuation(
    tmp_path: Path,
) -> None:
    core = RecordingCore()
    await receive(
        handler(core, tmp_path),
        message("/sora@other_bot make it night", reply_to=RESULT_ID),
        message("/frobnicate@other_bot", reply_to=RESULT_ID),
    )
    assert core.invocations == []


async def test_only_a_reply_to_a_job_message_continues_it(tmp_path: Path) -> None:
    core = RecordingCore()
    await receive(
        handler(core, tmp_path),
        message("thanks!", reply_to=ANSWER_ID),  # to an answer: asks for nothing
        message("make it night", reply_to=RESULT_ID),
    )
    (continued,) = core.invocations
    assert continued.command == "continue" and continued.text == "make it night"
    assert continued.reply_to is not None and continued.reply_to.message_id == str(RESULT_ID)
