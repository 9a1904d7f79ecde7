"""Frozen domain values shared by the core, the providers and the adapters.

Nothing here knows about a platform SDK, HTTP or SQLite: these are plain data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Literal


class Orientation(StrEnum):
    PORTRAIT = "portrait"
    LANDSCAPE = "landscape"


class WireFormat(StrEnum):
    VIDEOS = "videos"
    UNIFIED = "unified"
    CHAT = "chat"


# --------------------------------------------------------------------------- generation side


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One turn of a chat-format conversation, kept verbatim for continuations."""

    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class ImageInput:
    """An image the user attached. ``path`` is a local copy; ``url`` a public link, if any.

    The ``videos`` format uploads the file; ``unified`` can only pass a public URL;
    ``chat`` sends the URL, or the file inline as a data URL.
    """

    path: Path | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class ParentRef:
    """The earlier job a continuation builds on."""

    upstream_id: str | None
    prompt: str
    history: tuple[ChatMessage, ...] = ()


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """A normalised request, validated against the provider's capabilities before submit."""

    prompt: str
    model: str
    seconds: int
    orientation: Orientation = Orientation.PORTRAIT
    image: ImageInput | None = None
    parent: ParentRef | None = None


@dataclass(frozen=True, slots=True)
class VideoFile:
    """A finished MP4 on local disk, probed."""

    path: Path
    size_bytes: int
    duration: float
    width: int
    height: int
    has_audio: bool


@dataclass(frozen=True, slots=True)
class Accepted:
    """The relay took the job; ``upstream_id`` is what resumes or remixes it later."""

    upstream_id: str


@dataclass(frozen=True, slots=True)
class Queued:
    position: int | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    """Percent done, 0..100, never lower than an earlier event of the same job."""

    percent: int


@dataclass(frozen=True, slots=True)
class Completed:
    video: VideoFile
    upstream_id: str | None
    video_url: str | None = None
    expires_at: datetime | None = None
    # chat format: the assistant text verbatim (task id and sid inside), and the whole
    # conversation to resend for a continuation (the messages sent plus that answer)
    transcript: str | None = None
    conversation: tuple[ChatMessage, ...] = ()


@dataclass(frozen=True, slots=True)
class Failed:
    category: str  # an ``ErrorCategory`` value
    message: str
    refundable: bool
    upstream_id: str | None = None


ProviderEvent = Accepted | Queued | Progress | Completed | Failed


@dataclass(frozen=True, slots=True)
class ModelCapabilities:
    """What one model of one provider accepts."""

    name: str
    seconds: tuple[int, ...]
    default_seconds: int
    orientations: tuple[Orientation, ...] = (Orientation.PORTRAIT, Orientation.LANDSCAPE)
    # wire value per orientation ("720x1280" for videos, "small"/"large" for unified)
    sizes: Mapping[Orientation, str] = field(default_factory=dict)
    cost: int = 1


@dataclass(frozen=True, slots=True)
class ProviderCapabilities:
    remix: bool  # a native continuation (videos remix, chat history)
    image_input: Literal["file", "url", "both", "none"]
    models: Mapping[str, ModelCapabilities]
    resumable: bool  # can a job be followed again from its upstream id after a restart


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One row of ``sora-bot check``."""

    provider: str
    ok: bool
    detail: str
    models: tuple[str, ...] = ()


# --------------------------------------------------------------------------- platform side


class Platform(StrEnum):
    DISCORD = "discord"
    TELEGRAM = "telegram"
    CONSOLE = "console"


@dataclass(frozen=True, slots=True)
class UserRef:
    platform: Platform
    id: str
    display_name: str = ""
    username: str | None = None


@dataclass(frozen=True, slots=True)
class Conversation:
    """Where a message lives. ``scope`` is the quota scope: guild, group chat, or ``direct``."""

    platform: Platform
    scope: str
    channel: str
    thread: str | None = None


@dataclass(frozen=True, slots=True)
class MessageRef:
    """A message the bot sent, enough to edit it or recognise a reply to it."""

    conversation: Conversation
    message_id: str


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a platform (and this chat on it) allows; differences are data, not methods."""

    upload_limit_bytes: int
    text_limit: int
    caption_limit: int
    edit_interval: float  # seconds between status edits in this chat, shared by all jobs
    buttons: bool
    markup: Literal["html", "markdown", "plain"] = "plain"
    # seconds between two progress edits of one status message (0: the chat's budget only);
    # phase changes and final texts do not wait for it (Discord: one edit per 2 s per job)
    message_interval: float = 0.0
    # the video is delivered by editing it into the job's status message (Telegram
    # ``editMessageMedia``): repeating that edit, after a timeout or a restart, can never
    # post a second video (``Outbox.send_video(in_place_of=...)``)
    video_in_status: bool = False


@dataclass(frozen=True, slots=True)
class Invocation:
    """One command or reply as the adapter saw it, turned into data."""

    user: UserRef
    conversation: Conversation
    text: str  # the command's text after the command name ("" for a bare command)
    # sora | continue (a reply or the Remix button) | again | quota | help | start
    command: str = "sora"
    is_moderator: bool = False
    locale: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)  # structured options (Discord)
    reply_to: MessageRef | None = None  # the bot message this one replies to
    message: MessageRef | None = None  # the user's own message, to thread answers under it
    image: ImageInput | None = None
    received_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """An immediate answer to an invocation; the adapter decides how to show it
    (Discord: ephemeral when ``private``; Telegram: a reply; console: a line)."""

    text: str
    private: bool = True
    kind: Literal["error", "info", "accepted"] = "info"
