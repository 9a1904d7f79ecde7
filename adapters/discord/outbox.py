"""The core's ``Outbox`` on Discord: status messages, results with buttons, plain notices.

- Status messages are regular channel messages, posted and edited through the bot's own
  channel route (``StatusRoute``), never through an interaction token, which dies after
  15 minutes (https://discord.com/developers/docs/interactions/receiving-and-responding).
- Discord limits edits of messages older than an hour separately (code 30046): such a
  status is replaced by a fresh message, the old one deleted, and later edits of the old
  ref go to the new one (``on_moved`` lets the adapter point the job row at it too).
  ``MessageAges`` knows when this process posted each status; for one posted before a
  restart it reads the snowflake against *Discord's* clock (the newest snowflake seen plus
  the time elapsed since), so a skewed host clock changes nothing.
- The result is a regular message replying to the status, carrying the MP4 and the
  persistent Again/Remix buttons (``adapters.discord.views``).
- Upload limits are per file and per place: the adapter records ``filesize_limit`` of each
  interaction, so the core fits the video *before* uploading. A 413 (code 40005) after all
  becomes ``UploadTooLarge`` and the core's oversize path takes over.
- Everything is sent with ``AllowedMentions.none()``.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Final

import discord

from adapters.discord.status_api import StatusRoute, StatusTooOld
from adapters.discord.views import result_view
from bot.errors import MessageGone, PlatformError, PlatformRateLimited, UploadTooLarge
from bot.models import Capabilities, Conversation, MessageRef, VideoFile

log = logging.getLogger(__name__)

DEFAULT_UPLOAD_LIMIT: Final = 10 * 1024 * 1024  # since 2025-01-16, without boosts or Nitro
TEXT_LIMIT: Final = 2000
# Edits of messages older than an hour hit a separate limit (code 30046); a little margin.
STATUS_MAX_AGE: Final = 55 * 60.0
REMEMBERED_CHANNELS: Final = 10_000
REMEMBERED_MESSAGES: Final = 4096

OnMoved = Callable[[MessageRef, MessageRef], Awaitable[None]]


class DiscordOutbox:
    def __init__(
        self,
        client: discord.Client,
        route: StatusRoute,
        *,
        edit_interval: float,
        job_edit_interval: float,
        monotonic: Callable[[], float],
        locale: str | None = None,
        on_moved: OnMoved | None = None,
    ) -> None:
        self._client = client
        self._route = route
        self._edit_interval = edit_interval
        self._job_edit_interval = job_edit_interval
        self.ages = MessageAges(monotonic)
        self._locale = locale
        self._on_moved = on_moved
        self._upload_limits: OrderedDict[str, int] = OrderedDict()
        # status messages replaced by a fresh one: original ref -> current ref
        self._moved: OrderedDict[MessageRef, MessageRef] = OrderedDict()

    # ------------------------------------------------------------------ capabilities

    def remember_upload_limit(self, channel_id: str, limit_bytes: int) -> None:
        """What Discord said this channel accepts (``Interaction.filesize_limit``)."""
        self._upload_limits[channel_id] = limit_bytes
        self._upload_limits.move_to_end(channel_id)
        while len(self._upload_limits) > REMEMBERED_CHANNELS:
            self._upload_limits.popitem(last=False)

    def capabilities(self, conversation: Conversation) -> Capabilities:
        return Capabilities(
            upload_limit_bytes=self._upload_limits.get(conversation.channel, DEFAULT_UPLOAD_LIMIT),
            text_limit=TEXT_LIMIT,
            caption_limit=TEXT_LIMIT,
            edit_interval=self._edit_interval,
            buttons=True,
            markup="markdown",
            message_interval=self._job_edit_interval,
        )

    # ------------------------------------------------------------------ status messages

    async def send_status(
        self, conversation: Conversation, text: str, *, reply_to: MessageRef | None
    ) -> MessageRef:
        reply_id = self.current(reply_to).message_id if reply_to else None
        message_id = await self._route.post(conversation.channel, text, reply_to=reply_id)
        ref = MessageRef(conversation, message_id)
        self.ages.posted(ref)
        return ref

    async def edit_status(self, message: MessageRef, text: str) -> None:
        current = self.current(message)
        if self.ages.age(current) > STATUS_MAX_AGE:
            await self._replace(message, current, text)
            return
        try:
            await self._route.edit(current.conversation.channel, current.message_id, text)
        except StatusTooOld:
            await self._replace(message, current, text)

    def current(self, message: MessageRef) -> MessageRef:
        """Where a status message lives now (itself, unless it was replaced)."""
        return self._moved.get(message, message)

    async def _replace(self, original: MessageRef, old: MessageRef, text: str) -> None:
        """Post ``text`` as a fresh status and retire the old message (see module doc)."""
        conversation = old.conversation
        new_id = await self._route.post(conversation.channel, text, reply_to=None)
        new = MessageRef(conversation, new_id)
        self.ages.posted(new)
        self._moved[original] = new
        self._moved.move_to_end(original)
        while len(self._moved) > REMEMBERED_MESSAGES:
            self._moved.popitem(last=False)
        try:
            await self._route.delete(conversation.channel, old.message_id)
        except PlatformError as exc:
            log.info("could not delete a replaced status message: %s", exc)
        if self._on_moved is not None:
            try:
                await self._on_moved(old, new)
            except Exception:  # the new status works regardless; only a restart loses it
                log.exception("could not record a replaced status message")

    # ------------------------------------------------------------------ results and notices

    async def send_video(
        self,
        conversation: Conversation,
        video: VideoFile,
        *,
        caption: str,
        thumbnail: Path | None,  # Discord makes its own preview of an MP4
        reply_to: MessageRef | None,
        job_id: str,
        buttons: bool,
        in_place_of: MessageRef | None = None,
    ) -> MessageRef:
        channel = self._client.get_partial_messageable(int(conversation.channel))
        file = discord.File(video.path, filename=f"sora-{job_id}.mp4")
        view = result_view(job_id, self._locale) if buttons else None
        try:
            sent = await channel.send(
                content=caption,
                file=file,
                view=view,
                reference=self._reference(conversation, reply_to),
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.HTTPException as exc:
            raise _mapped(exc) from exc
        finally:
            file.close()
        self.ages.observe(sent.id)
        return MessageRef(conversation, str(sent.id))

    async def send_text(
        self, conversation: Conversation, text: str, *, reply_to: MessageRef | None
    ) -> MessageRef:
        channel = self._client.get_partial_messageable(int(conversation.channel))
        try:
            sent = await channel.send(
                content=text,
                reference=self._reference(conversation, reply_to),
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.HTTPException as exc:
            raise _mapped(exc) from exc
        self.ages.observe(sent.id)
        return MessageRef(conversation, str(sent.id))

    def _reference(
        self, conversation: Conversation, reply_to: MessageRef | None
    ) -> discord.MessageReference | None:
        if reply_to is None:
            return None
        return discord.MessageReference(
            message_id=int(self.current(reply_to).message_id),
            channel_id=int(conversation.channel),
            fail_if_not_exists=False,  # still deliver if the status was deleted
        )


class MessageAges:
    """How long ago each status message was posted, in seconds (see the module doc)."""

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self._posted: OrderedDict[MessageRef, float] = OrderedDict()
        self._seen: tuple[datetime, float] | None = None  # newest snowflake time, seen when

    def posted(self, message: MessageRef) -> None:
        self._posted[message] = self._monotonic()
        while len(self._posted) > REMEMBERED_MESSAGES:
            self._posted.popitem(last=False)
        self.observe(int(message.message_id))

    def observe(self, snowflake: int) -> None:
        """Note an id Discord just made (a message, an interaction): Discord's "now"."""
        created = discord.utils.snowflake_time(snowflake)
        if self._seen is None or created > self._seen[0]:
            self._seen = (created, self._monotonic())

    def age(self, message: MessageRef) -> float:
        posted = self._posted.get(message)
        if posted is not None:
            return self._monotonic() - posted
        if self._seen is None or not message.message_id.isdigit():
            return 0.0  # nothing to compare with: the reactive path (30046) remains
        seen, at = self._seen
        created = discord.utils.snowflake_time(int(message.message_id))
        return (seen - created).total_seconds() + self._monotonic() - at


def _mapped(exc: discord.HTTPException) -> PlatformError:
    """discord.py's errors as the core's (https://discord.com/developers/docs/topics/opcodes-and-status-codes)."""
    if exc.status == 413 or exc.code == 40005:
        return UploadTooLarge(f"Discord refused the file as too large (code {exc.code})")
    if exc.status == 429:
        return PlatformRateLimited(float(getattr(exc, "retry_after", 1.0) or 1.0))
    if exc.status in (403, 404):
        return MessageGone(f"{exc.text or 'channel unavailable'} (code {exc.code})")
    return PlatformError(f"Discord refused the message: {exc.text} (HTTP {exc.status})")
