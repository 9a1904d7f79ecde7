"""What happened in the fake Discord: messages and their edits, attachments, interactions
and what the bot answered, every HTTP request. Tests read these to assert behaviour."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.discord_fake_model import FakeChannel, FakeMember, FakeUser, Json, MessageFlag


@dataclass(eq=False)
class FakeAttachment:
    """A stored file: what a user attached or what the bot uploaded (``sent_content_type``
    is the multipart part's own type; discord.py always says application/octet-stream)."""

    id: int
    channel_id: int
    filename: str
    data: bytes
    content_type: str
    url: str
    description: str | None = None
    sent_content_type: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    def payload(self) -> Json:
        payload: Json = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.url,
            "content_type": self.content_type,
        }
        if self.description is not None:
            payload["description"] = self.description
        return payload


@dataclass(frozen=True)
class MessageVersion:
    """One earlier state of an edited message."""

    content: str
    components: list[Json]
    embeds: list[Json]
    attachments: list[FakeAttachment]
    flags: int
    at: float


@dataclass(eq=False)
class FakeMessage:
    id: int
    channel_id: int
    guild_id: int | None
    author: FakeUser
    created_at: float  # by the fake's clock
    timestamp: str
    content: str = ""
    components: list[Json] = field(default_factory=list)
    embeds: list[Json] = field(default_factory=list)
    attachments: list[FakeAttachment] = field(default_factory=list)
    flags: int = 0
    type: int = 0
    reference: Json | None = None
    mention_user_ids: list[int] = field(default_factory=list)
    mention_role_ids: list[int] = field(default_factory=list)
    mention_everyone: bool = False
    interaction_id: int | None = None
    webhook_id: int | None = None
    edited_at: float | None = None
    edited_timestamp: str | None = None
    history: list[MessageVersion] = field(default_factory=list)
    deleted: bool = False
    bot_reactions: list[str] = field(default_factory=list)  # emoji the bot reacted with

    @property
    def author_id(self) -> int:
        return self.author.id

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & MessageFlag.EPHEMERAL)

    @property
    def loading(self) -> bool:
        return bool(self.flags & MessageFlag.LOADING)

    @property
    def custom_ids(self) -> list[str]:
        """Every ``custom_id`` in the components, depth first."""
        return custom_ids_in(self.components)


def custom_ids_in(components: list[Json]) -> list[str]:
    """Every ``custom_id`` in a component tree (rows, labels, sections), depth first."""
    found: list[str] = []
    for item in components:
        if "custom_id" in item:
            found.append(item["custom_id"])
        found += custom_ids_in(item.get("components", []))
        for key in ("component", "accessory"):
            if isinstance(item.get(key), dict):
                found += custom_ids_in([item[key]])
    return found


@dataclass(frozen=True)
class InteractionResponse:
    """One accepted ``POST /interactions/{id}/{token}/callback``."""

    type: int
    data: Json
    ephemeral: bool
    at: float


@dataclass(eq=False)
class FakeInteraction:
    """An interaction the fake dispatched, and everything the bot did with its token."""

    id: int
    token: str
    type: int
    member: FakeMember
    channel: FakeChannel
    data: Json
    created_at: float
    payload: Json = field(default_factory=dict)
    message: FakeMessage | None = None  # the message a component sits on
    responses: list[InteractionResponse] = field(default_factory=list)
    original: FakeMessage | None = None
    followups: list[FakeMessage] = field(default_factory=list)
    modal: Json | None = None

    @property
    def acknowledged(self) -> bool:
        return bool(self.responses)

    @property
    def response(self) -> InteractionResponse | None:
        return self.responses[0] if self.responses else None

    @property
    def custom_id(self) -> str | None:
        return self.data.get("custom_id")

    @property
    def ephemeral_followups(self) -> list[FakeMessage]:
        return [message for message in self.followups if message.ephemeral]


@dataclass(frozen=True)
class UploadedFile:
    """One ``files[n]`` part of a multipart request."""

    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class RequestRecord:
    """One HTTP request to the fake, with what it answered."""

    method: str
    path: str
    route: str  # e.g. "POST /channels/{channel_id}/messages"
    query: dict[str, str]
    json: Any = None
    files: list[UploadedFile] = field(default_factory=list)
    status: int = 0
    code: int | None = None  # Discord's JSON error code, when it failed
    at: float = 0.0

    @property
    def multipart(self) -> bool:
        return bool(self.files)
