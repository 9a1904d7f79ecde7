"""The two seams of the core: ``VideoProvider`` (generation side) and ``Outbox`` (platform side).

Adapters and providers implement these Protocols; the core depends on nothing else of theirs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

from bot.models import (
    Capabilities,
    Conversation,
    GenerationRequest,
    MessageRef,
    ProbeResult,
    ProviderCapabilities,
    ProviderEvent,
    VideoFile,
)


class VideoProvider(Protocol):
    """One configured relay speaking one wire format.

    ``generate`` and ``resume`` yield normalised events and end with exactly one
    ``Completed`` or ``Failed``; they never raise for upstream faults. Downloads land in
    ``workdir``; the caller owns (and deletes) the file of a ``Completed`` event.
    """

    name: str
    format: str
    capabilities: ProviderCapabilities

    def validate(self, request: GenerationRequest) -> None:
        """Raise ``InvalidRequest`` (naming the allowed values) before anything is sent."""
        ...

    def generate(
        self, request: GenerationRequest, workdir: Path
    ) -> AsyncIterator[ProviderEvent]: ...

    def resume(
        self, upstream_id: str, request: GenerationRequest, workdir: Path
    ) -> AsyncIterator[ProviderEvent]:
        """Follow a job submitted before a restart. Formats that cannot (a cut chat stream)
        yield ``Failed`` at once."""
        ...

    async def probe(self) -> ProbeResult:
        """A cheap request proving the key and base URL work (``sora-bot check``)."""
        ...


class Outbox(Protocol):
    """What the core needs from a chat platform: four calls and a capabilities value.

    Errors are raised as ``bot.errors.PlatformError`` subclasses (``MessageGone``,
    ``PlatformRateLimited``, ``UploadTooLarge``).
    """

    def capabilities(self, conversation: Conversation) -> Capabilities: ...

    async def send_status(
        self, conversation: Conversation, text: str, *, reply_to: MessageRef | None
    ) -> MessageRef: ...

    async def edit_status(self, message: MessageRef, text: str) -> None: ...

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
        """Post the result video, or with ``in_place_of`` (only where
        ``Capabilities.video_in_status``) edit it into that status message and return its
        ref. Either way the call must be safe to repeat after a timeout or a restart (an
        edit, or a send with an idempotency key); where it cannot be, an answer that never
        came raises ``SendOutcomeUnknown``. ``MessageGone`` for ``in_place_of`` means the
        status was deleted: the core then sends the video fresh."""
        ...

    async def send_text(
        self, conversation: Conversation, text: str, *, reply_to: MessageRef | None
    ) -> MessageRef: ...


class ChatPlatform(Protocol):
    """A running platform adapter, as ``sora-bot run`` (and ``/healthz``) sees it.

    ``start`` logs in, attaches the adapter's ``Outbox`` to the core under ``platform`` and
    begins receiving; ``stop`` undoes it. ``connected`` is False while the adapter has lost
    its connection to the platform (it reconnects by itself).
    """

    platform: str

    @property
    def connected(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
