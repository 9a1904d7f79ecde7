"""The discord.py client the adapter runs: intents, mentions off, and a connection watch.

Two classes, one per connection mode (``AutoShardedClient`` for large bots, see
https://discordpy.readthedocs.io/en/stable/api.html#discord.AutoShardedClient), share the
same hooks: gateway state for ``DiscordAdapter.connected`` and the routing of messages and
result-button clicks to the adapter (``sora_actions``).
"""

from __future__ import annotations

from typing import Protocol

import discord

from bot.config import DiscordConfig


class ResultActions(Protocol):
    """What the adapter does on a button click or a plain message."""

    async def again(self, interaction: discord.Interaction, job_id: str) -> None: ...

    async def open_remix(self, interaction: discord.Interaction, job_id: str) -> None: ...

    async def on_message(self, message: discord.Message) -> None: ...


class _SoraHooks:
    """Gateway state per shard (discord.py reconnects by itself; this only watches)."""

    sora_actions: ResultActions | None = None

    def _init_hooks(self) -> None:
        self._links: dict[int, bool] = {}

    @property
    def gateway_connected(self) -> bool:
        return bool(self._links) and all(self._links.values())

    def _mark(self, shard_id: int | None, up: bool) -> None:
        self._links[shard_id or 0] = up

    async def on_message(self, message: discord.Message) -> None:
        if self.sora_actions is not None:
            await self.sora_actions.on_message(message)


class SoraClient(_SoraHooks, discord.Client):
    def __init__(self, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self._init_hooks()

    async def on_connect(self) -> None:
        self._mark(0, True)

    async def on_resumed(self) -> None:
        self._mark(0, True)

    async def on_disconnect(self) -> None:
        self._mark(0, False)


class ShardedSoraClient(_SoraHooks, discord.AutoShardedClient):
    def __init__(self, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self._init_hooks()

    async def on_shard_connect(self, shard_id: int) -> None:
        self._mark(shard_id, True)

    async def on_shard_resumed(self, shard_id: int) -> None:
        self._mark(shard_id, True)

    async def on_shard_disconnect(self, shard_id: int) -> None:
        self._mark(shard_id, False)


def intents_for(config: DiscordConfig) -> discord.Intents:
    """Only what the bot uses: guilds (channels, roles), messages (replies to results) and,
    when switched on, the privileged message content (the text of those replies)."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.dm_messages = True
    intents.message_content = config.message_content
    return intents


def build_client(
    config: DiscordConfig, *, guild_ready_timeout: float
) -> SoraClient | ShardedSoraClient:
    """A client with mentions disabled everywhere and no message cache (replies carry the
    message they answer)."""
    options: dict[str, object] = {
        "intents": intents_for(config),
        "allowed_mentions": discord.AllowedMentions.none(),
        "max_messages": None,
        "chunk_guilds_at_startup": False,
        "guild_ready_timeout": guild_ready_timeout,
    }
    if config.sharded:
        return ShardedSoraClient(**options)
    return SoraClient(**options)
