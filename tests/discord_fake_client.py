"""A bare discord.py client (not the project's adapter) for the fake Discord's self-test.

One slash command that defers, edits its original response and posts a result with a
file and a persistent ``DynamicItem`` button; the button opens a modal; a message context
menu answering with a file and an ephemeral followup; a command with a member option.
``connected`` runs a client against the fake until the block ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
from collections.abc import AsyncIterator
from typing import Any

import discord
from discord import app_commands


class RemixButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"remix:(?P<job>[0-9]+)"
):
    """A persistent per-job button, rebuilt from its custom_id."""

    def __init__(self, job_id: int) -> None:
        button: discord.ui.Button[Any] = discord.ui.Button(
            label="Remix", style=discord.ButtonStyle.primary, custom_id=f"remix:{job_id}"
        )
        super().__init__(button)
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> RemixButton:
        return cls(int(match["job"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(RemixModal(self.job_id))


class RemixModal(discord.ui.Modal, title="Remix"):
    prompt: discord.ui.TextInput[RemixModal] = discord.ui.TextInput(
        label="New prompt", custom_id="remix-prompt"
    )

    def __init__(self, job_id: int) -> None:
        super().__init__(custom_id=f"remix-modal:{job_id}")
        self.job_id = job_id

    async def on_submit(self, interaction: discord.Interaction) -> None:
        client: SelfTestBot = interaction.client  # type: ignore[assignment]
        client.remixes.append((self.job_id, self.prompt.value))
        await interaction.response.send_message(f"remixing job {self.job_id}", ephemeral=True)


def build_tree(client: discord.Client) -> app_commands.CommandTree[Any]:
    tree: app_commands.CommandTree[Any] = app_commands.CommandTree(client)
    sizes = [
        app_commands.Choice(name="portrait", value="720x1280"),
        app_commands.Choice(name="landscape", value="1280x720"),
    ]

    @tree.command(name="sora", description="Make a short video")
    @app_commands.describe(prompt="What to film")
    @app_commands.choices(size=sizes)
    async def sora(
        interaction: discord.Interaction,
        prompt: str,
        size: app_commands.Choice[str] | None = None,
        image: discord.Attachment | None = None,
    ) -> None:
        bot: SelfTestBot = interaction.client  # type: ignore[assignment]
        bot.interactions.append(interaction)
        await interaction.response.defer(thinking=True)
        await interaction.edit_original_response(content=f"queued: {prompt}")
        reference = await image.read() if image is not None else b""
        video = discord.File(io.BytesIO(b"VIDEO:" + reference), filename="clip.mp4")
        view = discord.ui.View(timeout=None)
        view.add_item(RemixButton(42))
        assert interaction.channel is not None
        await interaction.channel.send(  # type: ignore[union-attr]
            content=f"done @everyone: {prompt} ({size.value if size else 'default'})",
            file=video,
            view=view,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @tree.command(name="sora-admin", description="Moderator tools")
    @app_commands.default_permissions(manage_guild=True)
    async def admin(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("ok", ephemeral=True)

    @tree.context_menu(name="Remix this")
    async def remix_this(interaction: discord.Interaction, message: discord.Message) -> None:
        bot: SelfTestBot = interaction.client  # type: ignore[assignment]
        still = discord.File(io.BytesIO(b"still"), filename="still.png")
        await interaction.response.send_message(content=f"remix of {message.content}", file=still)
        await interaction.followup.send("only you see this", ephemeral=True)
        original = await interaction.original_response()
        bot.notes.append(original.attachments[0].filename)
        await interaction.delete_original_response()

    @tree.command(name="who", description="Inspect a member")
    async def who(interaction: discord.Interaction, member: discord.Member) -> None:
        bot: SelfTestBot = interaction.client  # type: ignore[assignment]
        invoker = interaction.permissions.manage_guild
        target = member.guild_permissions.manage_guild
        bot.notes.append(f"{member.name}:{target}:{invoker}:{interaction.filesize_limit}")
        await interaction.response.send_message("noted", ephemeral=True)

    return tree


class SelfTestBot(discord.Client):
    def __init__(self, **options: Any) -> None:
        super().__init__(intents=discord.Intents.default(), guild_ready_timeout=0.05, **options)
        self.tree = build_tree(self)
        self.ready = asyncio.Event()
        self.interactions: list[discord.Interaction] = []
        self.remixes: list[tuple[int, str]] = []
        self.seen: list[discord.Message] = []
        self.available: list[int] = []
        self.notes: list[str] = []

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """No 5 s pause before a re-IDENTIFY in a test."""

    async def setup_hook(self) -> None:
        self.add_dynamic_items(RemixButton)

    async def on_ready(self) -> None:
        self.ready.set()

    async def on_guild_available(self, guild: discord.Guild) -> None:
        self.available.append(guild.id)

    async def on_message(self, message: discord.Message) -> None:
        self.seen.append(message)


class ShardedBot(discord.AutoShardedClient):
    def __init__(self) -> None:
        super().__init__(intents=discord.Intents.default(), guild_ready_timeout=0.05)
        self.ready = asyncio.Event()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """No 5 s pause between shard IDENTIFYs in a test."""

    async def on_ready(self) -> None:
        self.ready.set()


@contextlib.asynccontextmanager
async def connected(client: discord.Client, token: str) -> AsyncIterator[None]:
    task = asyncio.create_task(client.start(token))
    try:
        async with asyncio.timeout(5):
            await client.ready.wait()  # type: ignore[attr-defined]
        yield
    finally:
        await client.close()
        with contextlib.suppress(asyncio.CancelledError):
            await task
