"""The fake Discord's world and its message rules, shared by the REST and gateway halves.

Everything here is synchronous and side-effect free apart from the registries, so the
REST handlers, the gateway and the test drivers can all use it; ``notify`` wakes anyone in
``wait_for`` after each change.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import mimetypes
from collections.abc import Callable
from typing import TypeVar

from tests import discord_fake_render
from tests.discord_fake_model import (
    BOT_DEFAULT,
    DEFAULT_FILESIZE_LIMIT,
    EVERYONE_DEFAULT,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    Json,
    MessageFlag,
    Perm,
    Snowflakes,
)
from tests.discord_fake_records import (
    FakeAttachment,
    FakeInteraction,
    FakeMessage,
    MessageVersion,
    RequestRecord,
    UploadedFile,
)
from tests.discord_fake_rules import ApiError, form_error, numbered_components, resolve_mentions

T = TypeVar("T")
BASE_TIME = datetime.datetime(2025, 6, 1, tzinfo=datetime.UTC)
RECHECK = 0.01  # seconds between re-checks of a wait_for predicate without any change
KEPT_FLAGS = MessageFlag.SUPPRESS_EMBEDS | MessageFlag.SUPPRESS_NOTIFICATIONS
KEPT_FLAGS |= MessageFlag.IS_COMPONENTS_V2


class DiscordState:
    """Registries of the fake Discord plus the message rules that need all of them."""

    def __init__(self, *, clock: Callable[[], float], token: str) -> None:
        self.clock = clock
        self.token = token
        self.ids = Snowflakes()
        self.base_url = ""  # http://127.0.0.1:<port>, set when the server starts
        self.bot = FakeUser(self.ids.next(), "sora-test-bot", bot=True, global_name="Sora Test")
        self.application_id = self.bot.id
        self.app_owner = self.bot  # the application's owner, as /oauth2/applications/@me says
        self.users: dict[int, FakeUser] = {self.bot.id: self.bot}
        self.guilds: dict[int, FakeGuild] = {}
        self.channels: dict[int, FakeChannel] = {}
        self.messages: dict[int, FakeMessage] = {}
        self.attachments: dict[int, FakeAttachment] = {}
        self.interactions: dict[int, FakeInteraction] = {}
        self.tokens: dict[str, FakeInteraction] = {}
        self.commands: dict[int | None, list[Json]] = {}
        self.requests: list[RequestRecord] = []
        self._origin = clock()
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ waiting

    def notify(self) -> None:
        """Wake every ``wait_for``: something was recorded or changed."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], T], within: float = 5.0) -> T:
        """Return the first truthy ``predicate()``, re-checked after every change.

        Also re-checked every ``RECHECK`` seconds, for predicates about the client's own
        state (which changes without the fake noticing).
        """
        async with asyncio.timeout(within):
            while True:
                changed = self._changed
                result = predicate()
                if result:
                    return result
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(RECHECK):
                        await changed.wait()

    def timestamp(self, at: float | None = None) -> str:
        moment = self.clock() if at is None else at
        return (BASE_TIME + datetime.timedelta(seconds=moment - self._origin)).isoformat()

    # ------------------------------------------------------------------ world building

    def add_user(self, username: str, *, locale: str = "en-US") -> FakeUser:
        user = FakeUser(self.ids.next(), username, global_name=username.title(), locale=locale)
        self.users[user.id] = user
        return user

    def add_guild(
        self, name: str, owner: FakeUser, *, filesize_limit: int = DEFAULT_FILESIZE_LIMIT
    ) -> FakeGuild:
        guild = FakeGuild(self.ids.next(), name, owner.id, filesize_limit=filesize_limit)
        guild.roles[guild.id] = FakeRole(guild.id, guild.id, "@everyone", EVERYONE_DEFAULT, 0)
        bot_role = FakeRole(self.ids.next(), guild.id, "Sora", BOT_DEFAULT, 1, self.bot.id)
        guild.roles[bot_role.id] = bot_role
        self.guilds[guild.id] = guild
        guild.members[self.bot.id] = FakeMember(self.bot, guild, [bot_role.id])
        guild.members[owner.id] = FakeMember(owner, guild)
        return guild

    def add_role(self, guild: FakeGuild, name: str, permissions: int = 0) -> FakeRole:
        role = FakeRole(self.ids.next(), guild.id, name, permissions, len(guild.roles))
        guild.roles[role.id] = role
        return role

    def add_channel(self, guild: FakeGuild, name: str) -> FakeChannel:
        channel = FakeChannel(self.ids.next(), guild.id, name, position=len(guild.channels))
        guild.channels[channel.id] = channel
        self.channels[channel.id] = channel
        return channel

    def add_member(self, guild: FakeGuild, user: FakeUser, roles: list[FakeRole]) -> FakeMember:
        member = FakeMember(user, guild, [role.id for role in roles])
        guild.members[user.id] = member
        return member

    # ------------------------------------------------------------------ lookups

    def channel(self, channel_id: int) -> FakeChannel:
        channel = self.channels.get(channel_id)
        if channel is None or channel.deleted:
            raise ApiError(404, 10003, "Unknown Channel")
        return channel

    def message(self, channel: FakeChannel, message_id: int) -> FakeMessage:
        message = self.messages.get(message_id)
        if message is None or message.deleted or message.channel_id != channel.id:
            raise ApiError(404, 10008, "Unknown Message")
        return message

    def bot_permissions(self, channel: FakeChannel) -> int:
        guild = self.guilds[channel.guild_id]
        return guild.permissions_in(guild.members[self.bot.id], channel)

    def require(self, channel: FakeChannel, needed: int) -> None:
        """403 like Discord: 50001 without VIEW_CHANNEL, else 50013 for a missing bit."""
        have = self.bot_permissions(channel)
        if not have & Perm.VIEW_CHANNEL:
            raise ApiError(403, 50001, "Missing Access")
        if have & needed != needed:
            raise ApiError(403, 50013, "Missing Permissions")

    # ------------------------------------------------------------------ messages

    def store_attachment(
        self,
        channel_id: int,
        filename: str,
        data: bytes,
        content_type: str | None = None,
        *,
        description: str | None = None,
        sent_content_type: str | None = None,
    ) -> FakeAttachment:
        attachment_id = self.ids.next()
        guessed = mimetypes.guess_type(filename)[0]
        url = f"{self.base_url}/attachments/{channel_id}/{attachment_id}/{filename}"
        attachment = FakeAttachment(
            attachment_id,
            channel_id,
            filename,
            data,
            content_type or guessed or "application/octet-stream",
            url,
            description,
            sent_content_type,
        )
        self.attachments[attachment_id] = attachment
        return attachment

    def _attachments(
        self, channel_id: int, body: Json, files: list[UploadedFile], existing: list[FakeAttachment]
    ) -> list[FakeAttachment]:
        """``attachments`` keeps listed old files and describes new ``files[n]`` parts."""
        described: dict[int, Json] = {}
        kept = list(existing)
        if body.get("attachments") is not None:
            old = {attachment.id: attachment for attachment in existing}
            kept = []
            for item in body["attachments"]:
                if int(item["id"]) in old:
                    kept.append(old[int(item["id"])])
                else:
                    described[int(item["id"])] = item
        for upload in files:
            index = int(upload.field.removeprefix("files[").removesuffix("]") or 0)
            meta = described.get(index, {})
            content_type = upload.content_type
            kept.append(
                self.store_attachment(
                    channel_id,
                    meta.get("filename") or upload.filename,
                    upload.data,
                    None if content_type == "application/octet-stream" else content_type,
                    description=meta.get("description"),
                    sent_content_type=content_type,
                )
            )
        return kept

    def _mentions(
        self, message: FakeMessage, allowed: Json | None, replied_to: FakeMessage | None
    ) -> None:
        """Who gets pinged: parsed from the content, filtered by ``allowed_mentions``."""
        guild = self.guilds.get(message.guild_id or 0)
        author = guild.members.get(message.author.id) if guild else None
        may_ping_everyone = bool(
            guild and author and guild.base_permissions(author) & Perm.MENTION_EVERYONE
        )
        users, roles, everyone = resolve_mentions(
            message.content, allowed, known_users=set(self.users), guild=guild
        )
        if replied_to is not None and (allowed is None or allowed.get("replied_user")):
            users.append(replied_to.author.id)
        message.mention_user_ids = list(dict.fromkeys(users))
        message.mention_role_ids = roles
        message.mention_everyone = everyone and may_ping_everyone

    def create_message(
        self,
        channel: FakeChannel,
        author: FakeUser,
        body: Json,
        files: list[UploadedFile] | None = None,
        *,
        message_type: int | None = None,
        interaction: FakeInteraction | None = None,
        flags: int = 0,
    ) -> FakeMessage:
        """Store a new message as Discord would create it from ``body``."""
        replied_to, reference = None, body.get("message_reference")
        if reference:
            replied_to = self.messages.get(int(reference.get("message_id") or 0))
            if replied_to is None or replied_to.deleted or replied_to.channel_id != channel.id:
                if reference.get("fail_if_not_exists", True):
                    raise form_error(
                        "message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
                    )
                replied_to = reference = None
        if replied_to is not None:
            reference = {
                "type": 0,
                "message_id": str(replied_to.id),
                "channel_id": str(channel.id),
                "guild_id": str(channel.guild_id),
            }
        message = FakeMessage(
            self.ids.next(),
            channel.id,
            channel.guild_id,
            author,
            self.clock(),
            self.timestamp(),
            content=body.get("content") or "",
            components=numbered_components(body.get("components") or []),
            embeds=list(body.get("embeds") or []),
            flags=(int(body.get("flags") or 0) & KEPT_FLAGS) | flags,
            type=message_type if message_type is not None else (19 if reference else 0),
            reference=reference,
            interaction_id=interaction.id if interaction else None,
            webhook_id=self.application_id if interaction else None,
        )
        message.attachments = self._attachments(channel.id, body, files or [], [])
        self._mentions(message, body.get("allowed_mentions"), replied_to)
        self.messages[message.id] = message
        self.notify()
        return message

    def edit_message(
        self, message: FakeMessage, body: Json, files: list[UploadedFile] | None = None
    ) -> None:
        """Apply a PATCH body; keep the previous state in ``history``; clear LOADING."""
        message.history.append(
            MessageVersion(
                message.content,
                message.components,
                message.embeds,
                message.attachments,
                message.flags,
                message.edited_at or message.created_at,
            )
        )
        if "content" in body:
            message.content = body["content"] or ""
        if "components" in body:
            message.components = numbered_components(body["components"] or [])
        if "embeds" in body:
            message.embeds = list(body["embeds"] or [])
        if body.get("flags") is not None:
            kept = message.flags & MessageFlag.EPHEMERAL
            message.flags = kept | (int(body["flags"]) & KEPT_FLAGS)
        message.flags &= ~MessageFlag.LOADING
        if body.get("attachments") is not None or files:
            message.attachments = self._attachments(
                message.channel_id, body, files or [], message.attachments
            )
        if "content" in body or "allowed_mentions" in body:
            self._mentions(message, body.get("allowed_mentions"), None)
        message.edited_at = self.clock()
        message.edited_timestamp = self.timestamp(message.edited_at)
        self.notify()

    def delete_message(self, message: FakeMessage) -> None:
        message.deleted = True
        self.notify()

    def message_payload(
        self, message: FakeMessage, *, gateway: bool = False, content_visible: bool = True
    ) -> Json:
        """See ``discord_fake_render.message_payload``."""
        return discord_fake_render.message_payload(
            self, message, gateway=gateway, content_visible=content_visible
        )
