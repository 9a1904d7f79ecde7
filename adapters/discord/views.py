"""The buttons under a result (Again, Remix) and the Remix modal.

The buttons are ``discord.ui.DynamicItem``s: their ``custom_id`` carries the job id and
nothing else (``sora:again:<job>``, ``sora:remix:<job>``), and the classes are registered
with ``Client.add_dynamic_items`` at start, so a click on a result posted by an earlier
process is understood too (https://discordpy.readthedocs.io/en/stable/interactions/api.html#dynamicitem).
What a click does lives in the adapter's ``ResultActions``, reached through the client.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, Final

import discord

from adapters.discord.client import ResultActions, ShardedSoraClient, SoraClient
from bot import texts

JOB_ID: Final = r"(?P<job>[a-z2-7]{1,32})"  # bot.records.new_job_id: lower-case base32
MODAL_TIMEOUT: Final = 3600.0  # a user may think about a change for a while
REMIX_MAX_CHARS: Final = 4000  # Discord's limit for a text input


def actions_of(interaction: discord.Interaction) -> ResultActions | None:
    """The adapter behind the client that received ``interaction``."""
    client = interaction.client
    if isinstance(client, SoraClient | ShardedSoraClient):
        return client.sora_actions
    return None


class AgainButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"^sora:again:{JOB_ID}$"
):
    """Generate the same prompt again (a new take, charged like a new /sora)."""

    def __init__(self, job_id: str, locale: str | None = None) -> None:
        super().__init__(
            discord.ui.Button(
                label=texts.t(locale, "button.again"),
                emoji="🔁",
                style=discord.ButtonStyle.secondary,
                custom_id=f"sora:again:{job_id}",
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> AgainButton:
        return cls(match["job"])

    async def callback(self, interaction: discord.Interaction) -> None:
        actions = actions_of(interaction)
        if actions is not None:
            await actions.again(interaction, self.job_id)


class RemixButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"^sora:remix:{JOB_ID}$"
):
    """Open the Remix modal, asking what should change."""

    def __init__(self, job_id: str, locale: str | None = None) -> None:
        super().__init__(
            discord.ui.Button(
                label=texts.t(locale, "button.remix"),
                emoji="🎨",
                style=discord.ButtonStyle.primary,
                custom_id=f"sora:remix:{job_id}",
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> RemixButton:
        return cls(match["job"])

    async def callback(self, interaction: discord.Interaction) -> None:
        actions = actions_of(interaction)
        if actions is not None:
            await actions.open_remix(interaction, self.job_id)


def result_view(job_id: str, locale: str | None) -> discord.ui.View:
    """The persistent buttons of one result."""
    view = discord.ui.View(timeout=None)
    view.add_item(RemixButton(job_id, locale))
    view.add_item(AgainButton(job_id, locale))
    return view


Submit = Callable[[discord.Interaction, str], Awaitable[None]]


class RemixModal(discord.ui.Modal):
    """ "What should change?" — the submitted text continues the job.

    ``key`` names what is remixed in the modal's ``custom_id``: the job id (Remix button)
    or ``m<message id>`` (the message command, whose job is looked up on submit)."""

    def __init__(self, key: str, locale: str | None, max_chars: int, on_submit: Submit) -> None:
        super().__init__(
            title=texts.t(locale, "remix.modal_title")[:45],
            timeout=MODAL_TIMEOUT,
            custom_id=f"sora:remix-modal:{key}",
        )
        self._submit = on_submit
        self.change: discord.ui.TextInput[RemixModal] = discord.ui.TextInput(
            label=texts.t(locale, "remix.modal_label")[:45],
            placeholder=texts.t(locale, "remix.modal_placeholder")[:100],
            style=discord.TextStyle.paragraph,
            max_length=min(max_chars, REMIX_MAX_CHARS),
            custom_id="change",
        )
        self.add_item(self.change)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self._submit(interaction, self.change.value)
