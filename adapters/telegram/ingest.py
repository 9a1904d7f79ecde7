"""Telegram messages as data: which command, which chat, which bot message was replied to.

Nothing here calls Telegram; the adapter (``adapters.telegram``) does the I/O around it.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

from telegram import Chat, Message, PhotoSize, User

from bot.models import Conversation, MessageRef, Platform, UserRef
from bot.records import KnownUser, UserDirectory

log = logging.getLogger(__name__)
PLATFORM: Final = Platform.TELEGRAM.value

KNOWN_COMMANDS: Final = frozenset({"start", "help", "sora", "quota"})
DIRECT_SCOPE: Final = "direct"  # quota scope of private chats: one balance across them
KNOWN_USERS_MEMORY: Final = 10_000


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    """``/name@bot rest``: ``addressed`` says whether ``@bot`` named us explicitly,
    ``foreign`` whether it named another bot (``/sora@otherbot``: never ours to answer)."""

    name: str
    rest: str
    addressed: bool
    foreign: bool = False


def parse_command(message: Message, bot_username: str) -> ParsedCommand | None:
    """The bot command at the start of the text or caption; ``None`` when there is none.

    A command addressed to another bot comes back ``foreign`` rather than ``None``: the
    caller must ignore it, and must not mistake it for a continuation either (a
    ``/sora@otherbot …`` sent as a reply to one of our messages is still not for us)."""
    text = message.text or message.caption or ""
    entities = message.entities or message.caption_entities or ()
    first = next((e for e in entities if e.offset == 0 and e.type == "bot_command"), None)
    if first is None:
        return None
    word = text[1 : first.length]
    name, _, target = word.partition("@")
    foreign = bool(target) and target.lower() != bot_username.lower()
    return ParsedCommand(name.lower(), text[first.length :].strip(), bool(target), foreign)


def conversation_of(chat: Chat, message: Message | None) -> Conversation:
    """Private chats share the ``direct`` quota scope; a group is its own scope. Forum topics
    are kept through ``message_thread_id`` (only for real topic messages: in plain groups the
    field names a reply thread, not a topic)."""
    thread = None
    if message is not None and message.is_topic_message and message.message_thread_id:
        thread = str(message.message_thread_id)
    scope = DIRECT_SCOPE if chat.type == Chat.PRIVATE else str(chat.id)
    return Conversation(Platform.TELEGRAM, scope=scope, channel=str(chat.id), thread=thread)


def user_ref(user: User) -> UserRef:
    return UserRef(
        Platform.TELEGRAM, str(user.id), display_name=user.full_name, username=user.username
    )


def bot_message_replied_to(
    message: Message, conversation: Conversation, bot_id: int
) -> MessageRef | None:
    """The bot's own message this one replies to (a status or a result), if any."""
    parent = message.reply_to_message
    if parent is None or parent.from_user is None or parent.from_user.id != bot_id:
        return None
    return MessageRef(conversation, str(parent.message_id))


def largest_photo(message: Message) -> PhotoSize | None:
    """The biggest size of a photo on the message or, failing that, on the one it replies to."""
    for candidate in (message, message.reply_to_message):
        if candidate is not None and candidate.photo:
            return max(candidate.photo, key=lambda size: size.width * size.height)
    return None


def attached_document(message: Message) -> tuple[str, str] | None:
    """``(file_id, mime_type)`` of a document sent with the command or replied to."""
    for candidate in (message, message.reply_to_message):
        if candidate is not None and candidate.document is not None:
            document = candidate.document
            return document.file_id, document.mime_type or ""
    return None


class KnownUsers:
    """The @usernames the bot has seen, so ``/quota add @bob 3`` can find Bob's id.

    Telegram offers bots no lookup of a user by username, so every user the bot sees is
    written to the core's ``UserDirectory`` (the database, so it survives restarts). A
    bounded cache of what was last written keeps it to one write per new or changed user,
    not one per message."""

    def __init__(self, directory: UserDirectory, capacity: int = KNOWN_USERS_MEMORY) -> None:
        self._directory = directory
        self._written: OrderedDict[str, KnownUser] = OrderedDict()
        self._capacity = capacity

    async def remember(self, user: User | None) -> None:
        if user is None or user.is_bot or not user.username:
            return
        key, seen = user.username.lower(), KnownUser(str(user.id), user.full_name)
        if self._written.get(key) != seen:
            try:
                await self._directory.remember(PLATFORM, key, seen.user_id, seen.display_name)
            except Exception:  # a lookup aid: never worth failing the user's command for
                log.exception("could not remember @%s", key)
                return
        self._written[key] = seen
        self._written.move_to_end(key)
        while len(self._written) > self._capacity:
            self._written.popitem(last=False)

    async def resolve(self, token: str) -> KnownUser | None:
        """The user seen as ``@name``, or ``None`` if never seen (or not an @name)."""
        if not token.startswith("@") or len(token) < 2:
            return None
        key = token[1:].lower()
        return self._written.get(key) or await self._directory.find(PLATFORM, key)
