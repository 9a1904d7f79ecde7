"""Who exists in the fake Discord: users, roles, channels, members, guilds.

Plain dataclasses plus the few Discord rules that belong to one object (permission
arithmetic, the JSON shape of a user, role, channel or member). What was said and done
(messages, interactions, requests) is in ``discord_fake_records``.
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass, field
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000
BASE_MS = 1_748_736_000_000  # 2025-06-01T00:00:00Z: snowflakes look real yet stay deterministic
MIB = 1024 * 1024
DEFAULT_FILESIZE_LIMIT = 10 * MIB

Json = dict[str, Any]


class Perm(enum.IntFlag):
    """Permission bits (https://discord.com/developers/docs/topics/permissions)."""

    CREATE_INSTANT_INVITE = 1 << 0
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    USE_APPLICATION_COMMANDS = 1 << 31
    SEND_MESSAGES_IN_THREADS = 1 << 38


ALL_PERMISSIONS = (1 << 51) - 1
EVERYONE_DEFAULT = (
    Perm.CREATE_INSTANT_INVITE
    | Perm.ADD_REACTIONS
    | Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.USE_EXTERNAL_EMOJIS
    | Perm.USE_APPLICATION_COMMANDS
    | Perm.SEND_MESSAGES_IN_THREADS
)
BOT_DEFAULT = EVERYONE_DEFAULT | Perm.MANAGE_MESSAGES | Perm.MENTION_EVERYONE


class Intent(enum.IntFlag):
    """Gateway intents the fake looks at."""

    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    MESSAGE_CONTENT = 1 << 15


PRIVILEGED_INTENTS = Intent.GUILD_MEMBERS | Intent.GUILD_PRESENCES | Intent.MESSAGE_CONTENT


class MessageFlag(enum.IntFlag):
    SUPPRESS_EMBEDS = 1 << 2
    EPHEMERAL = 1 << 6
    LOADING = 1 << 7
    SUPPRESS_NOTIFICATIONS = 1 << 12
    IS_COMPONENTS_V2 = 1 << 15


class Snowflakes:
    """Deterministic snowflakes: each id is one millisecond after the previous one.

    ``id >> 22`` therefore alternates parity, which spreads consecutive guilds over shards.
    """

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def next(self) -> int:
        n = next(self._counter)
        return ((BASE_MS - DISCORD_EPOCH_MS + n) << 22) | (n & 0xFFF)


@dataclass(eq=False)
class FakeUser:
    id: int
    username: str
    bot: bool = False
    global_name: str | None = None
    locale: str = "en-US"

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def payload(self) -> Json:
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
            "flags": 0,
        }


@dataclass(eq=False)
class FakeRole:
    id: int
    guild_id: int
    name: str
    permissions: int
    position: int = 1
    managed_by_bot: int | None = None  # the bot user id for an integration role

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"

    def payload(self) -> Json:
        payload: Json = {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": self.managed_by_bot is not None,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }
        if self.managed_by_bot is not None:
            payload["tags"] = {"bot_id": str(self.managed_by_bot)}
        return payload


@dataclass(eq=False)
class FakeChannel:
    """A guild text channel; ``overwrites`` maps a role or member id to (type, allow, deny)."""

    id: int
    guild_id: int
    name: str
    position: int = 0
    type: int = 0
    overwrites: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    deleted: bool = False

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    def payload(self, *, permissions: int | None = None) -> Json:
        payload: Json = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [
                {"id": str(target), "type": kind, "allow": str(allow), "deny": str(deny)}
                for target, (kind, allow, deny) in self.overwrites.items()
            ],
            "topic": None,
            "nsfw": False,
            "parent_id": None,
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "flags": 0,
        }
        if permissions is not None:
            payload["permissions"] = str(permissions)
        return payload


@dataclass(eq=False)
class FakeMember:
    user: FakeUser
    guild: FakeGuild
    role_ids: list[int] = field(default_factory=list)
    joined_at: str = "2025-05-01T12:00:00.000000+00:00"

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def mention(self) -> str:
        return self.user.mention

    def payload(self, *, with_user: bool = True, permissions: int | None = None) -> Json:
        payload: Json = {
            "roles": [str(role_id) for role_id in self.role_ids],
            "joined_at": self.joined_at,
            "nick": None,
            "avatar": None,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            payload["user"] = self.user.payload()
        if permissions is not None:
            payload["permissions"] = str(permissions)
        return payload


@dataclass(eq=False)
class FakeGuild:
    id: int
    name: str
    owner_id: int
    filesize_limit: int = DEFAULT_FILESIZE_LIMIT
    locale: str = "en-US"
    roles: dict[int, FakeRole] = field(default_factory=dict)
    channels: dict[int, FakeChannel] = field(default_factory=dict)
    members: dict[int, FakeMember] = field(default_factory=dict)

    @property
    def everyone(self) -> FakeRole:
        return self.roles[self.id]

    @property
    def premium_tier(self) -> int:
        """The boost tier whose upload limit matches ``filesize_limit`` (what discord.py shows)."""
        if self.filesize_limit >= 100 * MIB:
            return 3
        return 2 if self.filesize_limit >= 50 * MIB else 0

    def base_permissions(self, member: FakeMember) -> int:
        if member.id == self.owner_id:
            return ALL_PERMISSIONS
        value = self.everyone.permissions
        for role_id in member.role_ids:
            value |= self.roles[role_id].permissions
        return ALL_PERMISSIONS if value & Perm.ADMINISTRATOR else value

    def permissions_in(self, member: FakeMember, channel: FakeChannel) -> int:
        """Discord's algorithm: base, then @everyone, role and member overwrites."""
        value = self.base_permissions(member)
        if value == ALL_PERMISSIONS:
            return value
        if self.id in channel.overwrites:
            _, allow, deny = channel.overwrites[self.id]
            value = (value & ~deny) | allow
        role_allow = role_deny = 0
        for role_id in member.role_ids:
            if role_id in channel.overwrites:
                _, allow, deny = channel.overwrites[role_id]
                role_allow, role_deny = role_allow | allow, role_deny | deny
        value = (value & ~role_deny) | role_allow
        if member.id in channel.overwrites:
            _, allow, deny = channel.overwrites[member.id]
            value = (value & ~deny) | allow
        return value
