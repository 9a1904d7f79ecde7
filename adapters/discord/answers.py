"""Answering an interaction: a private refusal, the deferred answer, or a quick answer.

Discord wants a first answer within 3 s; after that the interaction's token allows edits
for 15 minutes. Every answer is sent with mentions disabled and cut to Discord's 2000
characters; a failure to answer is logged, never raised (the user can simply retry).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Final

import discord

from adapters.discord.ingest import first_lines
from bot.models import Reply

log = logging.getLogger(__name__)

QUICK_ANSWER_SECONDS: Final = 2.0  # answer directly below this, else defer (limit: 3 s)


async def refuse(interaction: discord.Interaction, text: str) -> None:
    """The first answer, private: what is wrong, before anything was done or charged."""
    try:
        await interaction.response.send_message(
            first_lines(text),
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )
    except discord.HTTPException as exc:
        log.warning("could not answer an interaction: %s", exc)


async def edit_original(interaction: discord.Interaction, text: str) -> None:
    """Replace the deferred "thinking…" with ``text`` (private, like the deferral)."""
    try:
        await interaction.edit_original_response(
            content=first_lines(text), allowed_mentions=discord.AllowedMentions.none()
        )
    except discord.HTTPException as exc:
        log.warning("could not answer an interaction: %s", exc)


async def answer_quickly(
    interaction: discord.Interaction,
    work: Awaitable[Reply | None],
    *,
    public_if_slow: bool = False,
) -> None:
    """Answer with the core's reply if it comes within ``QUICK_ANSWER_SECONDS`` (ephemeral
    unless the reply is public); else defer and edit the answer in later.

    A deferral's visibility cannot change afterwards, so a slow answer expected to be
    public (``public_if_slow``: a moderator's change, announced in the channel) is deferred
    publicly. The work is never left running unowned: cancelled with this call, awaited if
    the deferral itself fails (the change still happens, only its answer is lost)."""
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=QUICK_ANSWER_SECONDS)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        try:
            await interaction.response.defer(ephemeral=not public_if_slow, thinking=True)
        except discord.HTTPException as exc:
            log.warning("could not defer an interaction: %s", exc)
            await task
            return
        reply = await task
        if reply is not None:
            await edit_original(interaction, reply.text)
        return
    reply = task.result()
    if reply is None:
        return
    try:
        await interaction.response.send_message(
            first_lines(reply.text),
            ephemeral=reply.private,
            allowed_mentions=discord.AllowedMentions.none(),
        )
    except discord.HTTPException as exc:
        log.warning("could not answer an interaction: %s", exc)
