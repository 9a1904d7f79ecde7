"""One Telegram update in, one ``Invocation`` to the core, its ``Reply`` back to the chat.

- ``/sora``, ``/quota``, ``/help``, ``/start`` (also ``/cmd@thisbot``; ``/cmd@otherbot`` is
  ignored); an unknown command gets a hint in private chats or when addressed to us.
- A text reply to one of the bot's messages (a result or its status) continues that job;
  in groups with privacy mode on the bot still receives such replies. A reply to another
  of its messages (an answer, a notice) is left alone.
- Inline buttons carry ``a:<job>`` (Again) or ``r:<job>`` (Remix: asks for a reply).
- A photo with ``/sora`` as caption, or ``/sora`` replying to a photo, is the start image.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable
from dataclasses import replace
from pathlib import Path

from telegram import CallbackQuery, Message, Update
from telegram.error import TelegramError

from adapters.telegram.ingest import (
    KNOWN_COMMANDS,
    KnownUsers,
    ParsedCommand,
    attached_document,
    bot_message_replied_to,
    conversation_of,
    largest_photo,
    parse_command,
    user_ref,
)
from adapters.telegram.moderators import Moderators
from adapters.telegram.outbox import TelegramOutbox
from bot import texts
from bot.core import Core
from bot.errors import PlatformError, PlatformRateLimited
from bot.models import ImageInput, Invocation, MessageRef, Platform, Reply
from bot.status import escape

log = logging.getLogger(__name__)

IMAGE_MAX_BYTES = 20 * 1024 * 1024  # getFile serves at most 20 MB from the cloud Bot API
# Turns an answer may take when Telegram still says "flood" (each one after the wait it
# named): an answer is worth waiting for, unlike a stale progress edit.
ANSWER_ATTEMPTS = 3
REMIX_PROMPTS_REMEMBERED = 4096  # "what should change?" prompts a reply may still answer


class UpdateHandler:
    def __init__(
        self,
        *,
        core: Core,
        outbox: TelegramOutbox,
        moderators: Moderators,
        known_users: KnownUsers,
        image_dir: Path,
    ) -> None:
        self._core = core
        self._outbox = outbox
        self._moderators = moderators
        self._known = known_users
        self._image_dir = image_dir
        self._bot_id = 0
        self._username = ""
        # the Remix button's prompt → the result it is about: a reply to the prompt is a
        # reply to that video (Telegram shows only one level of reply, so remember it)
        self._remix_prompts: OrderedDict[MessageRef, MessageRef] = OrderedDict()

    def bind(self, bot_id: int, username: str) -> None:
        """Who we are (from ``getMe``), to recognise replies and ``/cmd@us``."""
        self._bot_id, self._username = bot_id, username

    async def handle(self, update: Update) -> None:
        if update.callback_query is not None:
            await self._on_button(update.callback_query)
        elif update.message is not None:
            await self._on_message(update.message)

    # ------------------------------------------------------------------ messages

    async def _on_message(self, message: Message) -> None:
        await self._known.remember(message.from_user)
        if message.reply_to_message is not None:
            await self._known.remember(message.reply_to_message.from_user)
        if message.from_user is None:
            return
        conversation = conversation_of(message.chat, message)
        replied = bot_message_replied_to(message, conversation, self._bot_id)
        if replied is not None:
            replied = self._remix_prompts.get(replied, replied)
        command = parse_command(message, self._username)
        if command is not None and command.foreign:
            return  # /cmd@otherbot, even as a reply to one of our messages
        if command is None:
            if replied is None or not message.text or not await self._is_job_message(replied):
                return  # chatter, or a reply to one of our answers: nothing asked of us
            inv = self._invocation(message, "continue", message.text.strip(), replied)
        elif command.name not in KNOWN_COMMANDS:
            if message.chat.type != message.chat.PRIVATE and not command.addressed:
                return  # probably meant for another bot in the group
            inv = self._invocation(message, command.name, command.rest, replied)
        else:
            inv = self._invocation(message, command.name, command.rest, replied)
            inv = await self._enrich(message, command, inv)
            if inv is None:
                return
        await self._answer(message, await self._core.handle(inv))

    async def _is_job_message(self, message: MessageRef) -> bool:
        """Whether ``message`` is a job's status or result (a reply to it continues the
        job), rather than an answer or a notice ("thanks!" to those asks for nothing)."""
        job = await self._core.s.jobs.find_by_message(
            message.conversation.platform.value, message.conversation.channel, message.message_id
        )
        return job is not None

    def _invocation(
        self, message: Message, command: str, text: str, replied: MessageRef | None
    ) -> Invocation:
        assert message.from_user is not None
        conversation = conversation_of(message.chat, message)
        return Invocation(
            user=user_ref(message.from_user),
            conversation=conversation,
            text=text,
            command=command,
            locale=message.from_user.language_code,
            reply_to=replied,
            message=MessageRef(conversation, str(message.message_id)),
            received_at=message.date,
        )

    async def _enrich(
        self, message: Message, command: ParsedCommand, inv: Invocation
    ) -> Invocation | None:
        """Moderator rights, the quota target, the start image: what needs a lookup."""
        if command.name in ("sora", "quota"):
            inv = replace(inv, is_moderator=await self._moderators.check(message))
        if command.name == "quota":
            return replace(inv, options=await self._quota_target(message, command.rest))
        if command.name == "sora":
            try:
                image = await self._image(message)
            except _BadImage:
                await self._answer(message, Reply(texts.t(inv.locale, "image_unreadable")))
                return None
            return replace(inv, image=image)
        return inv

    async def _quota_target(self, message: Message, text: str) -> dict[str, str]:
        """The user a moderator means: the author of the replied-to message, else a seen
        @username; numeric ids are understood by the core itself."""
        parent = message.reply_to_message
        if parent is not None and parent.from_user is not None and not parent.from_user.is_bot:
            options = {"target_id": str(parent.from_user.id)}
            options["target_name"] = parent.from_user.full_name
            if not text.strip():
                options["action"] = "show"
            return options
        for word in text.split():
            found = await self._known.resolve(word)
            if found is not None:
                return {"target_id": found.user_id, "target_name": found.display_name}
        return {}

    async def _image(self, message: Message) -> ImageInput | None:
        photo = largest_photo(message)
        if photo is not None:
            return ImageInput(path=await self._download(photo.file_id, photo.file_unique_id))
        document = attached_document(message)
        if document is None:
            return None
        file_id, mime = document
        if not mime.startswith("image/"):
            raise _BadImage
        return ImageInput(path=await self._download(file_id, file_id))

    async def _download(self, file_id: str, unique_id: str) -> Path:
        self._image_dir.mkdir(parents=True, exist_ok=True)
        target = self._image_dir / f"{unique_id}.img"
        try:
            file = await self._outbox.bot.get_file(file_id)
            if file.file_size and file.file_size > IMAGE_MAX_BYTES:
                raise _BadImage
            await file.download_to_drive(target)
        except TelegramError as exc:
            log.warning("cannot download an image: %s", exc)
            raise _BadImage from exc
        return target

    # ------------------------------------------------------------------ buttons

    async def _on_button(self, query: CallbackQuery) -> None:
        action, _, job_id = (query.data or "").partition(":")
        message = query.message
        if not isinstance(message, Message) or not job_id:
            await _quietly(query.answer())
            return
        await self._known.remember(query.from_user)
        conversation = conversation_of(message.chat, message)
        result = MessageRef(conversation, str(message.message_id))
        locale = query.from_user.language_code
        await _quietly(query.answer())
        if action == "r":
            prompt = await self._send(result, texts.t(locale, "remix_prompt"))
            if prompt is not None:
                self._remix_prompts[prompt] = result
                while len(self._remix_prompts) > REMIX_PROMPTS_REMEMBERED:
                    self._remix_prompts.popitem(last=False)
            return
        inv = Invocation(
            user=user_ref(query.from_user),
            conversation=conversation,
            text="",
            command="again",
            locale=locale,
            options={"job": job_id},
            message=result,
        )
        reply = await self._core.handle(inv)
        if reply is not None and not _is_plain_acceptance(reply):
            await self._send(result, reply.text)

    # ------------------------------------------------------------------ answers

    async def _answer(self, message: Message, reply: Reply | None) -> None:
        """Send the core's immediate answer as a reply. "Accepted" is not sent: the status
        message (posted as a reply to the request) acknowledges the job, and one message
        fewer keeps the chat inside Telegram's flood budget."""
        if reply is None or _is_plain_acceptance(reply):
            return
        conversation = conversation_of(message.chat, message)
        await self._send(MessageRef(conversation, str(message.message_id)), reply.text)

    async def _send(self, reply_to: MessageRef, text: str) -> MessageRef | None:
        """Answer in the chat's turn: Telegram counts answers against the same flood limit
        as the status edits and videos of every job in the chat, so they share its budget
        (``StatusBoard.turn``); a ``RetryAfter`` pushes the whole chat back. The answer
        goes through the core's outbox for the chat (so a refusal is counted in the
        metrics), escaped: user input in it shows literally. Returns the message sent."""
        conversation = reply_to.conversation
        station = self._core.s.station(Platform.TELEGRAM.value)
        literal = escape(text, station.outbox.capabilities(conversation).markup)
        for _ in range(ANSWER_ATTEMPTS):
            try:
                async with station.board.turn(conversation):
                    return await station.outbox.send_text(conversation, literal, reply_to=reply_to)
            except PlatformRateLimited as exc:
                station.board.rate_limited(conversation, exc.retry_after)
            except PlatformError as exc:
                log.warning("could not answer in chat %s: %s", conversation.channel, exc)
                return None
        log.warning("gave up answering in chat %s: flood control", conversation.channel)
        return None


def _is_plain_acceptance(reply: Reply) -> bool:
    """An "accepted" answer that says nothing the status message will not: skip it. One that
    carries a note (e.g. this provider cannot remix natively) is still sent."""
    if reply.kind != "accepted":
        return False
    for locale in ("en", "zh"):
        before, _, after = texts.t(locale, "accepted", job="\x00").partition("\x00")
        if reply.text.startswith(before) and reply.text.endswith(after):
            return True
    return False


class _BadImage(Exception):
    """The attachment is not an image we can use."""


async def _quietly(call: Awaitable[object]) -> None:
    try:
        await call
    except TelegramError as exc:
        log.info("answering a button tap failed: %s", exc)
