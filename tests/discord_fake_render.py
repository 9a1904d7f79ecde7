"""JSON shapes of the fake Discord's messages and guilds, as discord.py parses them
(``discord/types/message.py``, ``guild.py``): REST message objects, gateway message events
(with ``guild_id`` and ``member``), interaction metadata, GUILD_CREATE guilds."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from tests.discord_fake_model import FakeGuild, Json
from tests.discord_fake_records import FakeInteraction, FakeMessage

if TYPE_CHECKING:
    from tests.discord_fake_state import DiscordState


def message_payload(
    state: DiscordState,
    message: FakeMessage,
    *,
    gateway: bool = False,
    content_visible: bool = True,
    nested: bool = False,
) -> Json:
    """The message object (REST shape, or gateway shape with guild_id and member).

    Without ``content_visible`` (no MESSAGE_CONTENT intent) content, embeds, attachments
    and components are blanked like Discord does.
    """
    guild = state.guilds.get(message.guild_id or 0)
    payload: Json = {
        "id": str(message.id),
        "channel_id": str(message.channel_id),
        "author": message.author.payload(),
        "content": message.content if content_visible else "",
        "timestamp": message.timestamp,
        "edited_timestamp": message.edited_timestamp,
        "tts": False,
        "mention_everyone": message.mention_everyone,
        "mentions": [_mention(state, guild, uid, gateway) for uid in message.mention_user_ids],
        "mention_roles": [str(role_id) for role_id in message.mention_role_ids],
        "attachments": [a.payload() for a in message.attachments] if content_visible else [],
        "embeds": copy.deepcopy(message.embeds) if content_visible else [],
        "components": copy.deepcopy(message.components) if content_visible else [],
        "pinned": False,
        "type": message.type,
        "flags": message.flags,
    }
    if message.webhook_id is not None:
        payload["webhook_id"] = str(message.webhook_id)
        payload["application_id"] = str(state.application_id)
    if message.reference is not None:
        payload["message_reference"] = dict(message.reference)
        if not nested:
            replied = state.messages.get(int(message.reference["message_id"]))
            payload["referenced_message"] = None
            if replied is not None and not replied.deleted:
                payload["referenced_message"] = message_payload(
                    state, replied, gateway=gateway, nested=True
                )
    if message.interaction_id is not None:
        payload.update(interaction_metadata(state.interactions[message.interaction_id]))
    if gateway and guild is not None:
        payload["guild_id"] = str(guild.id)
        member = guild.members.get(message.author.id)
        if member is not None:
            payload["member"] = member.payload(with_user=False)
    return payload


def _mention(state: DiscordState, guild: FakeGuild | None, user_id: int, gateway: bool) -> Json:
    payload = state.users[user_id].payload()
    member = guild.members.get(user_id) if guild else None
    if gateway and member is not None:
        payload["member"] = member.payload(with_user=False)
    return payload


def interaction_metadata(interaction: FakeInteraction) -> Json:
    """``interaction_metadata`` and the legacy ``interaction`` of a response message."""
    user = interaction.member.user.payload()
    metadata: Json = {
        "id": str(interaction.id),
        "type": interaction.type,
        "user": user,
        "authorizing_integration_owners": {"0": str(interaction.channel.guild_id)},
    }
    if interaction.data.get("name"):
        metadata["name"] = interaction.data["name"]
    if interaction.message is not None:
        metadata["interacted_message_id"] = str(interaction.message.id)
    legacy = {
        "id": str(interaction.id),
        "type": interaction.type,
        "name": interaction.data.get("name", ""),
        "user": user,
    }
    return {"interaction_metadata": metadata, "interaction": legacy}


def guild_payload(guild: FakeGuild, bot_id: int, *, all_members: bool) -> Json:
    """A full guild object as in GUILD_CREATE (roles, text channels, members)."""
    members = [m for m in guild.members.values() if all_members or m.id == bot_id]
    return {
        "id": str(guild.id),
        "name": guild.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(guild.owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": [role.payload() for role in guild.roles.values()],
        "emojis": [],
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "nsfw_level": 0,
        "application_id": None,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "vanity_url_code": None,
        "premium_tier": guild.premium_tier,
        "premium_subscription_count": 0,
        "premium_progress_bar_enabled": False,
        "preferred_locale": guild.locale,
        "max_members": 500000,
        "joined_at": "2025-05-01T12:00:00.000000+00:00",
        "large": False,
        "unavailable": False,
        "member_count": len(guild.members),
        "members": [member.payload() for member in members],
        "channels": [c.payload() for c in guild.channels.values() if not c.deleted],
        "threads": [],
        "presences": [],
        "voice_states": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }
