"""Discord events as data: who, where, in which language, with which options and rights.

Nothing here calls Discord except ``download_image``; the interaction handlers do the I/O.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
from pathlib import Path
from typing import Final

import discord

from bot import texts
from bot.models import Conversation, ImageInput, MessageRef, Platform, Reply, UserRef

log = logging.getLogger(__name__)

DIRECT_SCOPE: Final = "direct"  # quota scope of direct messages: one balance across them
IMAGE_MAX_BYTES: Final = 20 * 1024 * 1024
THREAD_TYPES: Final = frozenset(
    {
        discord.ChannelType.public_thread,
        discord.ChannelType.private_thread,
        discord.ChannelType.news_thread,
    }
)
# What posting a status and a result needs: see the channel, send (in threads: send in
# threads), attach the MP4, and read the history (a reply references an earlier message).
POSTING_PERMISSIONS: Final = (
    "view_channel",
    "send_messages",
    "attach_files",
    "read_message_history",
)


class BadImage(Exception):
    """The attachment is not an image we can use; ``key`` names the text to answer with."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def conversation_of(guild_id: int | None, channel_id: int | None) -> Conversation:
    """A guild is its own quota scope; direct messages share the ``direct`` scope. Threads
    are channels of their own on Discord, so the thread id is the channel."""
    scope = str(guild_id) if guild_id is not None else DIRECT_SCOPE
    return Conversation(Platform.DISCORD, scope=scope, channel=str(channel_id or 0))


def interaction_conversation(interaction: discord.Interaction) -> Conversation:
    return conversation_of(interaction.guild_id, interaction.channel_id)


def message_conversation(message: discord.Message) -> Conversation:
    return conversation_of(message.guild.id if message.guild else None, message.channel.id)


def user_ref(user: discord.abc.User) -> UserRef:
    return UserRef(
        Platform.DISCORD, str(user.id), display_name=user.display_name, username=user.name
    )


def locale_of(interaction: discord.Interaction) -> str:
    """The user's client language (``zh-CN``, ``en-US``…), which ``bot.texts`` resolves."""
    return str(interaction.locale.value)


def message_locale(message: discord.Message) -> str | None:
    """Messages carry no language: the server's preferred one, if any."""
    return str(message.guild.preferred_locale.value) if message.guild else None


def missing_permissions(interaction: discord.Interaction) -> list[str]:
    """The posting permissions the bot lacks in the interaction's channel (none in DMs)."""
    if interaction.guild_id is None:
        return []
    granted = interaction.app_permissions
    channel_type = getattr(interaction.channel, "type", None)
    needed = list(POSTING_PERMISSIONS)
    if channel_type in THREAD_TYPES:
        needed[needed.index("send_messages")] = "send_messages_in_threads"
    if granted.administrator:
        return []
    return [name for name in needed if not getattr(granted, name)]


def missing_permissions_text(locale: str | None, missing: list[str]) -> str:
    names = ", ".join(f"“{texts.t(locale, f'discord.permission.{name}')}”" for name in missing)
    return texts.t(locale, "discord.missing_permissions", permissions=names)


def check_image(attachment: discord.Attachment) -> None:
    """Refuse what is not an image (by its content type, else its name) or too large."""
    content_type = attachment.content_type or mimetypes.guess_type(attachment.filename)[0] or ""
    if not content_type.startswith("image/"):
        raise BadImage("image_unreadable")
    if attachment.size > IMAGE_MAX_BYTES:
        raise BadImage("image_too_large")


async def download_image(attachment: discord.Attachment, folder: Path) -> ImageInput:
    """A local copy for formats that upload the file, plus the CDN URL for those that take
    a link (``unified``); Discord's attachment URLs are public, signed for a day or so."""
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    suffix = Path(attachment.filename).suffix.lower()[:8] or ".img"
    target = folder / f"{attachment.id}{suffix}"
    try:
        await attachment.save(target)
    except (discord.HTTPException, OSError) as exc:
        log.warning("cannot download an image attachment: %s", exc)
        raise BadImage("image_unreadable") from exc
    return ImageInput(path=target, url=attachment.url)


def sora_options(**values: str | int | None) -> dict[str, str]:
    """Structured ``/sora`` options as the core's parser takes them (absent ones left out)."""
    return {key: str(value) for key, value in values.items() if value not in (None, "")}


def quota_options(
    action: str, user: discord.abc.User | None = None, amount: int | None = None
) -> dict[str, str]:
    """``/quota`` options; the target is resolved already (Discord sends the user)."""
    options = {"action": action}
    if user is not None:
        options["target_id"] = str(user.id)
        options["target_name"] = user.display_name
    if amount is not None:
        options["amount"] = str(amount)
    return options


def message_ref(conversation: Conversation, message_id: int | str) -> MessageRef:
    return MessageRef(conversation, str(message_id))


def is_plain_acceptance(reply: Reply) -> bool:
    """An "accepted" answer that says nothing the status message will not (a reply in the
    channel would only add noise); one carrying a note is still worth sending."""
    if reply.kind != "accepted":
        return False
    for locale in ("en", "zh"):
        before, _, after = texts.t(locale, "accepted", job="\x00").partition("\x00")
        if reply.text.startswith(before) and reply.text.endswith(after):
            return True
    return False


def first_lines(text: str, limit: int = 2000) -> str:
    """Discord's content limit (2000 characters): a longer text is cut with ``…``."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
