"""Getting a finished MP4 to the chat: thumbnail, fit to the upload limit, upload, or link.

Order of preference: the video as it is; the video re-encoded to fit the platform's
limit; the upstream link with its expiry and the reason. A platform that refuses the
upload for its size after all (Discord 40005, Telegram 413) gets one smaller re-encode
before falling back to the link.

Where the platform can (``Capabilities.video_in_status``: Telegram's ``editMessageMedia``)
the video is edited into the job's status message rather than posted: an edit can be
repeated after a timeout or a restart without ever showing a second video. The board
stops editing that message first, and a status that is gone gets a fresh post instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from bot import texts
from bot.errors import MediaError, MessageGone, PlatformRateLimited, UploadTooLarge
from bot.media import fit_to_size, make_thumbnail
from bot.models import Conversation, MessageRef, VideoFile
from bot.ports import Outbox
from bot.status import escape
from bot.status_board import StatusBoard

log = logging.getLogger(__name__)

# Leave room for the platform's own multipart overhead and rounding.
FIT_MARGIN = 0.97
RETRY_MARGIN = 0.8
# Sends of one video while the platform answers "rate limited": a 429 storm in a busy group
# hits several calls in a row, and a finished video must not be thrown away for it.
UPLOAD_ATTEMPTS = 4


@dataclass(frozen=True, slots=True)
class Delivered:
    """How the video reached the chat. ``message`` is None when only a link could be sent."""

    message: MessageRef | None
    as_link: bool


@dataclass(frozen=True, slots=True)
class Parcel:
    """Everything needed to deliver one job's video."""

    conversation: Conversation
    video: VideoFile
    caption: str
    job_id: str
    workdir: Path
    locale: str | None
    reply_to: MessageRef | None
    video_url: str | None
    expires_at: datetime | None
    in_place_of: MessageRef | None = None  # the status message the video replaces


class DeliveryFailed(Exception):
    """Neither the video nor a link could be delivered: the job failed, refund it."""


async def deliver(
    outbox: Outbox, board: StatusBoard, parcel: Parcel, on_phase: Callable[[str], None]
) -> Delivered:
    """Upload the video (fitting it first if needed) or post its link; see module doc.

    Every send waits for its turn in the chat's flood budget on ``board``."""
    caps = outbox.capabilities(parcel.conversation)
    video = parcel.video
    limit = caps.upload_limit_bytes
    if video.size_bytes > limit:
        on_phase("fitting")
        fitted = await _fit(video, int(limit * FIT_MARGIN), parcel.workdir / "fit.mp4")
        if fitted is None:
            return await _send_link(outbox, board, parcel, limit)
        video = fitted
    thumbnail = await _thumbnail(video, parcel.workdir / "thumb.jpg")
    on_phase("uploading")
    try:
        message = await _upload(outbox, board, parcel, video, thumbnail, caps.buttons)
    except UploadTooLarge:
        log.info(
            "job %s: platform refused %d bytes, fitting smaller", parcel.job_id, video.size_bytes
        )
        on_phase("fitting")
        # the platform's real limit is below what it advertised: aim under this file's size
        budget = int(min(limit, video.size_bytes) * RETRY_MARGIN)
        fitted = await _fit(video, budget, parcel.workdir / "fit2.mp4")
        if fitted is None:
            return await _send_link(outbox, board, parcel, limit)
        on_phase("uploading")
        try:
            message = await _upload(outbox, board, parcel, fitted, thumbnail, caps.buttons)
        except UploadTooLarge:
            return await _send_link(outbox, board, parcel, limit)
    return Delivered(message=message, as_link=False)


async def _upload(
    outbox: Outbox,
    board: StatusBoard,
    parcel: Parcel,
    video: VideoFile,
    thumbnail: Path | None,
    buttons: bool,
) -> MessageRef:
    """Send the video in the chat's turn; a rate limit pushes the chat's budget back and
    the upload is tried again in the next turn, ``UPLOAD_ATTEMPTS`` sends in all."""
    for attempt in range(1, UPLOAD_ATTEMPTS + 1):
        try:
            async with board.turn(parcel.conversation):
                if parcel.in_place_of is None:
                    return await _send_video(outbox, parcel, video, thumbnail, buttons)
                board.release(parcel.in_place_of)  # no progress edit may land over it
                try:
                    return await _send_video(outbox, parcel, video, thumbnail, buttons)
                except MessageGone:
                    log.info("job %s: status gone, posting the video", parcel.job_id)
                    parcel = replace(parcel, in_place_of=None)
            async with board.turn(parcel.conversation):
                return await _send_video(outbox, parcel, video, thumbnail, buttons)
        except PlatformRateLimited as exc:
            if attempt == UPLOAD_ATTEMPTS:
                raise
            board.rate_limited(parcel.conversation, exc.retry_after)
    raise AssertionError("unreachable")  # pragma: no cover - the last attempt raises


async def _send_video(
    outbox: Outbox, parcel: Parcel, video: VideoFile, thumbnail: Path | None, buttons: bool
) -> MessageRef:
    return await outbox.send_video(
        parcel.conversation,
        video,
        caption=parcel.caption,
        thumbnail=thumbnail,
        reply_to=parcel.reply_to,
        job_id=parcel.job_id,
        buttons=buttons,
        in_place_of=parcel.in_place_of,
    )


async def _fit(video: VideoFile, budget: int, dest: Path) -> VideoFile | None:
    try:
        return await asyncio.to_thread(fit_to_size, video, budget, dest)
    except MediaError as exc:
        log.warning("cannot fit %s into %d bytes: %s", video.path.name, budget, exc)
        return None


async def _thumbnail(video: VideoFile, dest: Path) -> Path | None:
    try:
        return await asyncio.to_thread(make_thumbnail, video.path, dest)
    except MediaError as exc:
        log.info("no thumbnail for %s: %s", video.path.name, exc)
        return None


async def _send_link(outbox: Outbox, board: StatusBoard, parcel: Parcel, limit: int) -> Delivered:
    megabytes = limit / (1024 * 1024)
    limit_mb = f"{megabytes:.0f}" if megabytes >= 10 else f"{megabytes:.2g}"
    if not parcel.video_url:
        raise DeliveryFailed(texts.t(parcel.locale, "oversize_no_link", limit_mb=limit_mb))
    expires = parcel.expires_at.strftime("%Y-%m-%d %H:%M UTC") if parcel.expires_at else "?"
    text = texts.t(
        parcel.locale, "oversize_link", url=parcel.video_url, expires=expires, limit_mb=limit_mb
    )
    if outbox.capabilities(parcel.conversation).markup == "html":
        text = escape(text, "html")  # a signed link carries & and must stay one link
    async with board.turn(parcel.conversation):
        message = await outbox.send_text(parcel.conversation, text, reply_to=parcel.reply_to)
    return Delivered(message=message, as_link=True)
