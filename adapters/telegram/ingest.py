"""Telegram messages as data: which command, which chat, which bot message was replied to.

Nothing here calls Telegram; the adapter (``adapters.telegram``) does the I/O around it.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

from telegram import Chat, Message, PhotoSize, User

from bot.models import Conversation, MessageRef, Platform, UserRef

KNOWN_COMMANDS: Final = frozenset({"start", "help", "sora", "quota"})
DIRECT_SCOPE: Final = "direct"  # quota scope of private chats: one balance across them
KNOWN_USERS_MEMORY: Final = 10_000


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    """``/name@bot rest``: ``addressed`` says whether ``@bot`` named us explicitly."""

    name: str
    rest: str
    addressed: bool


def parse_command(message: Message, bot_username: str) -> ParsedCommand | None:
    """The bot command at the start of the text or caption; ``None`` when there is none or it
    is addressed to another bot (``/sora@otherbot``), which must be ignored."""
    text = message.text or message.caption or ""
    entities = message.entities or message.caption_entities or ()
    first = next((e for e in entities if e.offset == 0 and e.type == "bot_command"), None)
    if first is None:
        return None
    word = text[1 : first.length]
    name, _, target = word.partition("@")
    if target and target.lower() != bot_username.lower():
        return None
    return ParsedCommand(name.lower(), text[first.length :].strip(), bool(target))


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

    In memory and bounded: Telegram offers no lookup of a user by username for bots."""

    def __init__(self, capacity: int = KNOWN_USERS_MEMORY) -> None:
        self._by_username: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._capacity = capacity

    def remember(self, user: User | None) -> None:
        if user is None or user.is_bot or not user.username:
            return
        key = user.username.lower()
        self._by_username[key] = (str(user.id), user.full_name)
        self._by_username.move_to_end(key)
        while len(self._by_username) > self._capacity:
            self._by_username.popitem(last=False)

    def resolve(self, token: str) -> tuple[str, str] | None:
        """``(user_id, display_name)`` for ``@name``, or ``None`` if never seen."""
        if not token.startswith("@"):
            return None
        return self._by_username.get(token[1:].lower())
