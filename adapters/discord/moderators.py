"""Who may manage credits on a server: Manage Server, a configured role, or a configured id.

``default_permissions(manage_guild=True)`` on a command is only a hint to Discord's client
(server admins can override it, and it is ignored on subcommands), so the right is checked
here, in code, on every call. Nothing is cached: the member's permissions and roles come
with each interaction or message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import discord


class Moderators:
    """Decides ``Invocation.is_moderator`` for Discord members."""

    def __init__(
        self,
        roles: Iterable[str],
        user_ids: Iterable[str],
        *,
        is_configured: Callable[[str], bool] = lambda user_id: False,
    ) -> None:
        """``roles``: role ids or names (case-insensitive); ``user_ids``: Discord user ids
        (``discord.moderators``); ``is_configured``: the core's global list
        (``bot.moderators`` entries ``discord:<id>``)."""
        entries = [str(role).strip() for role in roles]
        self._role_ids = {entry for entry in entries if entry.isdigit()}
        self._role_names = {entry.lower() for entry in entries if not entry.isdigit()}
        self._user_ids = {str(user_id).strip() for user_id in user_ids}
        self._is_configured = is_configured

    def for_interaction(self, interaction: discord.Interaction) -> bool:
        # ``interaction.permissions``: the member's resolved permissions in this channel
        return self.check(interaction.user, interaction.permissions)

    def for_message(self, message: discord.Message) -> bool:
        author = message.author
        permissions = author.guild_permissions if isinstance(author, discord.Member) else None
        return self.check(author, permissions)

    def check(self, user: discord.abc.User, permissions: discord.Permissions | None) -> bool:
        user_id = str(user.id)
        if user_id in self._user_ids or self._is_configured(user_id):
            return True
        if not isinstance(user, discord.Member):
            return False  # a direct message: only configured moderators
        if permissions is not None and (permissions.manage_guild or permissions.administrator):
            return True
        return any(
            str(role.id) in self._role_ids or role.name.lower() in self._role_names
            for role in user.roles
        )
