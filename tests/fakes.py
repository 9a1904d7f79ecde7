"""Test doubles at the core's seams: a recording ``Outbox`` and a controllable clock."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import MessageGone, UploadTooLarge
from bot.models import Capabilities, Conversation, MessageRef, VideoFile

IN_PLACE = "[video] "  # how ``FakeOutbox.statuses`` logs a video edited into a status


@dataclass
class SentVideo:
    conversation: Conversation
    video: VideoFile
    caption: str
    thumbnail: Path | None
    thumbnail_bytes: int
    reply_to: MessageRef | None
    job_id: str
    buttons: bool
    ref: MessageRef


@dataclass
class FakeOutbox:
    """Records every call. ``gone`` message ids raise ``MessageGone`` on edit; uploads over
    ``refuse_uploads_over`` bytes raise ``UploadTooLarge`` like a platform's 413. With
    ``in_place``, videos are edited into their status message (``video_in_status``), as on
    Telegram: the status's text log ends with ``IN_PLACE`` and the caption."""

    upload_limit_bytes: int = 50 * 1024 * 1024
    edit_interval: float = 0.0
    buttons: bool = True
    markup: str = "html"
    refuse_uploads_over: int | None = None
    in_place: bool = False
    gone: set[str] = field(default_factory=set)
    statuses: dict[str, list[str]] = field(default_factory=dict)
    videos: list[SentVideo] = field(default_factory=list)
    texts: list[tuple[Conversation, str, MessageRef | None]] = field(default_factory=list)
    edit_log: list[tuple[str, float]] = field(default_factory=list)  # (message id, loop time)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def capabilities(self, conversation: Conversation) -> Capabilities:
        return Capabilities(
            upload_limit_bytes=self.upload_limit_bytes,
            text_limit=4096,
            caption_limit=1024,
            edit_interval=self.edit_interval,
            buttons=self.buttons,
            markup=self.markup,  # type: ignore[arg-type]
            video_in_status=self.in_place,
        )

    def _ref(self, conversation: Conversation) -> MessageRef:
        return MessageRef(conversation, str(next(self._ids)))

    async def send_status(
        self, conversation: Conversation, text: str, *, reply_to: MessageRef | None
    ) -> MessageRef:
        ref = self._ref(conversation)
        self.statuses[ref.message_id] = [text]
        return ref

    async def edit_status(self, message: MessageRef, text: str) -> None:
        if message.message_id in self.gone:
            raise MessageGone(message.message_id)
        self.edit_log.append((message.message_id, asyncio.get_running_loop().time()))
        # a status posted by an earlier process (restart tests) is edited here too
        self.statuses.setdefault(message.message_id, []).append(text)

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
        if in_place_of is not None and in_place_of.message_id in self.gone:
            raise MessageGone(in_place_of.message_id)
        if self.refuse_uploads_over is not None and video.size_bytes > self.refuse_uploads_over:
            raise UploadTooLarge(f"{video.size_bytes} bytes")
        # blocking stat calls are fine in a test double
        assert video.path.is_file(), "the video must still exist while it is uploaded"
        ref = in_place_of or self._ref(conversation)
        if in_place_of is not None:
            self.statuses.setdefault(ref.message_id, []).append(IN_PLACE + caption)
        size = thumbnail.stat().st_size if thumbnail else 0  # noqa: ASYNC240
        self.videos.append(
            SentVideo(conversation, video, caption, thumbnail, size, reply_to, job_id, buttons, ref)
        )
        return ref

    async def send_text(
        self, conversation: Conversation, text: str, *, reply_to: MessageRef | None
    ) -> MessageRef:
        self.texts.append((conversation, text, reply_to))
        return self._ref(conversation)

    def final_status(self, message_id: str) -> str:
        return self.statuses[message_id][-1]
