"""The core's ``Outbox`` on Telegram: status messages, edits, videos and plain replies.

Telegram errors become ours here, once (https://core.telegram.org/bots/api#making-requests):
``RetryAfter`` → ``PlatformRateLimited`` (the status board pushes the chat's budget back);
"message to edit not found", a chat that is gone or a bot that was removed → ``MessageGone``;
413 (PTB raises it as a bare ``NetworkError``) → ``UploadTooLarge``; "message is not
modified" on an edit is success. Plain network errors on small calls are retried with
backoff; an upload is not (it could post twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Final, TypeVar

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    LinkPreviewOptions,
    ReplyParameters,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from bot import texts
from bot.errors import MessageGone, PlatformError, PlatformRateLimited, UploadTooLarge
from bot.models import Capabilities, Conversation, MessageRef, VideoFile

log = logging.getLogger(__name__)

PRIVATE_EDIT_INTERVAL: Final = 1.0  # ~1 message/s per chat
GROUP_EDIT_INTERVAL: Final = 3.0  # 20 messages/min per group
TEXT_LIMIT: Final = 4096
CAPTION_LIMIT: Final = 1024
NETWORK_ATTEMPTS: Final = 3
UPLOAD_BYTES_PER_SECOND: Final = 256 * 1024  # a slow uplink; the write timeout follows
GONE_PHRASES: Final = (
    "message to edit not found",
    "message can't be edited",
    "chat not found",
    "message_id_invalid",
)
T = TypeVar("T")


def button_data(action: str, job_id: str) -> str:
    """``callback_data`` (≤ 64 bytes): an action letter and the job id, no other state."""
    return f"{action}:{job_id}"


class TelegramOutbox:
    def __init__(
        self,
        bot: Bot,
        *,
        upload_limit_mb: int,
        locale: str | None = None,
        private_interval: float = PRIVATE_EDIT_INTERVAL,
        group_interval: float = GROUP_EDIT_INTERVAL,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._bot = bot
        self._locale = locale
        self._sleep = sleep
        limit = upload_limit_mb * 1024 * 1024
        self._private = Capabilities(
            limit, TEXT_LIMIT, CAPTION_LIMIT, private_interval, True, "html"
        )
        self._group = Capabilities(limit, TEXT_LIMIT, CAPTION_LIMIT, group_interval, True, "html")

    @property
    def bot(self) -> Bot:
        return self._bot

    def capabilities(self, conversation: Conversation) -> Capabilities:
        return self._private if conversation.scope == "direct" else self._group

    async def send_status(
        self, conversation: Conversation, text: str, *, reply_to: MessageRef | None
    ) -> MessageRef:
        return await self._send_text(conversation, text, reply_to)

    async def send_text(
        self, conversation: Conversation, text: str, *, reply_to: MessageRef | None
    ) -> MessageRef:
        return await self._send_text(conversation, text, reply_to)

    async def edit_status(self, message: MessageRef, text: str) -> None:
        try:
            await self._retrying(
                lambda: self._bot.edit_message_text(
                    text,
                    chat_id=int(message.conversation.channel),
                    message_id=int(message.message_id),
                    parse_mode=ParseMode.HTML,
                )
            )
        except PlatformError as exc:
            if "message is not modified" in str(exc).lower():
                return  # what we wanted is on screen already
            raise

    async def send_video(
        self,
        conversation: Conversation,
        video: VideoFile,
        *,
        caption: str,
        thumbnail: Path | None,
        reply_to: MessageRef | None,
        job_id: str,
        buttons: bool,
        in_place_of: MessageRef | None = None,
    ) -> MessageRef:
        markup = None
        if buttons:
            markup = InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(
                            texts.t(self._locale, "button.again"),
                            callback_data=button_data("a", job_id),
                        ),
                        InlineKeyboardButton(
                            texts.t(self._locale, "button.remix"),
                            callback_data=button_data("r", job_id),
                        ),
                    ]
                ]
            )
        # the default media write timeout (20 s) is too short for big files on slow links
        write_timeout = 20.0 + video.size_bytes / UPLOAD_BYTES_PER_SECOND
        with contextlib.ExitStack() as files:
            video_file = files.enter_context(video.path.open("rb"))
            thumb_file = files.enter_context(thumbnail.open("rb")) if thumbnail else None
            try:
                async with _mapped():
                    sent = await self._bot.send_video(
                        chat_id=int(conversation.channel),
                        # a handle PTB must not read into memory: httpx streams it from
                        # disk (read whole, 200 MB cost 590 MB of RSS: bench/transfer.py)
                        video=InputFile(
                            video_file, filename=f"sora-{job_id}.mp4", read_file_handle=False
                        ),
                        duration=max(1, round(video.duration)),
                        width=video.width,
                        height=video.height,
                        supports_streaming=True,
                        thumbnail=thumb_file,
                        caption=caption,
                        parse_mode=ParseMode.HTML,
                        reply_parameters=_reply(reply_to),
                        message_thread_id=_thread(conversation),
                        reply_markup=markup,
                        write_timeout=write_timeout,
                        read_timeout=write_timeout,
                    )
            except _Transient:
                raise PlatformError("the upload to Telegram failed") from None
        return MessageRef(conversation, str(sent.message_id))

    async def _send_text(
        self,
        conversation: Conversation,
        text: str,
        reply_to: MessageRef | None,
    ) -> MessageRef:
        sent = await self._retrying(
            lambda: self._bot.send_message(
                int(conversation.channel),
                text,
                parse_mode=ParseMode.HTML,
                message_thread_id=_thread(conversation),
                reply_parameters=_reply(reply_to),
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        return MessageRef(conversation, str(sent.message_id))

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run ``call`` with our errors; retry plain network failures with backoff."""
        for attempt in range(NETWORK_ATTEMPTS):
            try:
                async with _mapped():
                    return await call()
            except _Transient:
                if attempt == NETWORK_ATTEMPTS - 1:
                    raise PlatformError("Telegram is unreachable") from None
                await self._sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")


class _Transient(Exception):
    """A network failure worth retrying (internal to this module)."""


@contextlib.asynccontextmanager
async def _mapped() -> AsyncIterator[None]:
    """Translate PTB's errors into the core's (see the module docstring)."""
    try:
        yield
    except RetryAfter as exc:
        raise PlatformRateLimited(_retry_seconds(exc)) from exc
    except Forbidden as exc:  # removed from the chat, or blocked by the user
        raise MessageGone(exc.message) from exc
    except ChatMigrated as exc:
        raise MessageGone(f"chat moved to {exc.new_chat_id}") from exc
    except BadRequest as exc:
        if any(phrase in exc.message.lower() for phrase in GONE_PHRASES):
            raise MessageGone(exc.message) from exc
        if "too large" in exc.message.lower():
            raise UploadTooLarge(exc.message) from exc
        raise PlatformError(exc.message) from exc
    except TimedOut as exc:
        raise _Transient() from exc
    except NetworkError as exc:
        message = exc.message.lower()
        if "too large" in message or "413" in message:
            raise UploadTooLarge(exc.message) from exc
        raise _Transient() from exc


def _retry_seconds(exc: RetryAfter) -> float:
    # PTB 22 warns that ``retry_after`` will become a timedelta; accept both forms
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value: int | float | timedelta = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _thread(conversation: Conversation) -> int | None:
    return int(conversation.thread) if conversation.thread else None


def _reply(reply_to: MessageRef | None) -> ReplyParameters | None:
    """Reply to the request, but still send if it was deleted meanwhile."""
    if reply_to is None:
        return None
    return ReplyParameters(int(reply_to.message_id), allow_sending_without_reply=True)
