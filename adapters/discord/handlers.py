"""Interactions and messages in, ``Invocation``s to the core, its ``Reply`` back to the user.

Discord wants an answer to every interaction within 3 s
(https://discord.com/developers/docs/interactions/receiving-and-responding#responding-to-an-interaction):

- ``/sora``, Again and a submitted Remix are *deferred* at once (ephemeral, "thinking"),
  then the core's answer replaces the placeholder. The job's status is a regular channel
  message the core posts itself, so nothing depends on the interaction token afterwards.
- ``/quota`` and ``/help`` are answered directly when the core is quick (it normally is),
  else deferred; a moderator's change is announced publicly, everything else is ephemeral.
- Remix (button or the "Remix with Sora" message command) answers with a modal.

Every refusal costs nothing and is ephemeral: missing bot permissions in the channel
(checked up front from ``Interaction.app_permissions``), a non-image attachment, and the
core's own user errors. A plain reply to a result (or its status) continues that job; its
text arrives with the privileged message-content intent, or when the reply pings the bot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Final

import discord

from adapters.discord import answers, ingest
from adapters.discord.moderators import Moderators
from adapters.discord.outbox import DiscordOutbox
from adapters.discord.views import RemixModal
from bot import texts
from bot.core import Core
from bot.models import Invocation

log = logging.getLogger(__name__)

# A moderator's changes that the core announces in the channel (``Reply.private=False`` in
# ``bot.quota_commands``); everything else /quota answers is private.
ANNOUNCED_QUOTA_ACTIONS: Final = frozenset({"set", "add", "reset", "default"})


class DiscordHandlers:
    """What each command, button, modal and reply does (the adapter wires them up)."""

    def __init__(
        self,
        *,
        core: Core,
        outbox: DiscordOutbox,
        moderators: Moderators,
        image_dir: Path,
        bot_user_id: Callable[[], int | None],
        reply_to_continue_hint: bool,
    ) -> None:
        self._core = core
        self._outbox = outbox
        self._moderators = moderators
        self._image_dir = image_dir
        self._bot_user_id = bot_user_id
        self._reply_hint = reply_to_continue_hint
        self._prompt_max = core.s.settings.bot.prompt_max_chars

    # ------------------------------------------------------------------ /sora

    async def sora(
        self,
        interaction: discord.Interaction,
        *,
        prompt: str,
        model: str | None = None,
        seconds: int | None = None,
        orientation: str | None = None,
        image: discord.Attachment | None = None,
        provider: str | None = None,
    ) -> None:
        locale = ingest.locale_of(interaction)
        if image is not None:
            try:
                ingest.check_image(image)
            except ingest.BadImage as exc:
                await answers.refuse(interaction, texts.t(locale, exc.key))
                return
        if not await self._ready_to_post(interaction, locale):
            return
        image_input = None
        if image is not None:
            try:
                image_input = await ingest.download_image(image, self._image_dir)
            except ingest.BadImage as exc:
                await answers.edit_original(interaction, texts.t(locale, exc.key))
                return
        options = ingest.sora_options(
            prompt=prompt, model=model, seconds=seconds, orientation=orientation, provider=provider
        )
        inv = replace(self._invocation(interaction, "sora", options=options), image=image_input)
        await self._run(interaction, inv)

    # ------------------------------------------------------------------ result buttons

    async def again(self, interaction: discord.Interaction, job_id: str) -> None:
        if not await self._ready_to_post(interaction, ingest.locale_of(interaction)):
            return
        inv = self._invocation(interaction, "again", options={"job": job_id})
        await self._run(interaction, inv)

    async def open_remix(self, interaction: discord.Interaction, job_id: str) -> None:
        source = interaction.message.id if interaction.message else None
        await self._open_modal(interaction, job_id, source)

    async def remix_from_menu(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> None:
        """The "Remix with Sora" message command: only on one of the bot's messages.

        A modal must be the *first* answer, so nothing slow may come before it: the job
        behind ``message`` is looked up only once the change is submitted and deferred
        (the core resolves it like a reply, refusing what is not a job of this server)."""
        if message.author.id != self._bot_user_id():
            await answers.refuse(interaction, texts.t(ingest.locale_of(interaction), "not_a_job"))
            return
        await self._open_modal(interaction, None, message.id)

    async def _open_modal(
        self, interaction: discord.Interaction, job_id: str | None, source_message_id: int | None
    ) -> None:
        """``job_id`` from a Remix button; ``None`` from the message command, whose job is
        the one behind ``source_message_id``."""
        locale = ingest.locale_of(interaction)
        missing = ingest.missing_permissions(interaction)
        if missing:
            await answers.refuse(interaction, ingest.missing_permissions_text(locale, missing))
            return
        submit = partial(self._remix_submitted, job_id=job_id, source=source_message_id)
        key = job_id or f"m{source_message_id}"
        modal = RemixModal(key, locale, self._prompt_max, submit)
        await interaction.response.send_modal(modal)

    async def _remix_submitted(
        self,
        interaction: discord.Interaction,
        change: str,
        *,
        job_id: str | None,
        source: int | None,
    ) -> None:
        if not await self._ready_to_post(interaction, ingest.locale_of(interaction)):
            return
        options = {"job": job_id} if job_id else {}
        inv = self._invocation(interaction, "continue", text=change, options=options)
        if source is not None:
            source_ref = ingest.message_ref(inv.conversation, source)
            inv = replace(inv, message=source_ref, reply_to=None if job_id else source_ref)
        await self._run(interaction, inv)

    # ------------------------------------------------------------------ /quota, /help

    async def quota(
        self,
        interaction: discord.Interaction,
        action: str,
        user: discord.abc.User | None = None,
        amount: int | None = None,
    ) -> None:
        options = ingest.quota_options(action, user, amount)
        inv = self._invocation(interaction, "quota", options=options)
        public = inv.is_moderator and action in ANNOUNCED_QUOTA_ACTIONS
        await answers.answer_quickly(interaction, self._core.handle(inv), public_if_slow=public)

    async def help(self, interaction: discord.Interaction) -> None:
        locale = ingest.locale_of(interaction)
        hint = texts.t(locale, "discord.help_reply") if self._reply_hint else ""
        await interaction.response.send_message(
            texts.t(locale, "discord.help", reply_hint=hint), ephemeral=True
        )

    # ------------------------------------------------------------------ replies

    async def on_message(self, message: discord.Message) -> None:
        """A reply to one of the bot's messages continues that job."""
        reference = message.reference
        if message.author.bot or reference is None or reference.message_id is None:
            return
        replied = reference.resolved
        if not isinstance(replied, discord.Message) or replied.author.id != self._bot_user_id():
            return
        text = message.content.strip()
        if not text:
            return  # no message-content intent, and the reply did not ping the bot
        conversation = ingest.message_conversation(message)
        self._outbox.ages.observe(message.id)
        job = await self._core.s.jobs.find_by_message(
            conversation.platform.value, conversation.channel, str(reference.message_id)
        )
        if job is None:
            return  # a reply to another of the bot's messages (an answer, a notice)
        if message.guild is not None:
            self._outbox.remember_upload_limit(conversation.channel, message.guild.filesize_limit)
        inv = Invocation(
            user=ingest.user_ref(message.author),
            conversation=conversation,
            text=text,
            command="continue",
            is_moderator=self._moderators.for_message(message),
            locale=ingest.message_locale(message),
            reply_to=ingest.message_ref(conversation, reference.message_id),
            message=ingest.message_ref(conversation, message.id),
            received_at=message.created_at,
        )
        reply = await self._core.handle(inv)
        if reply is None or ingest.is_plain_acceptance(reply):
            return
        try:
            await message.reply(
                ingest.first_lines(reply.text),
                mention_author=False,
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.HTTPException as exc:
            log.warning("could not answer a reply in channel %s: %s", message.channel.id, exc)

    # ------------------------------------------------------------------ helpers

    def _invocation(
        self,
        interaction: discord.Interaction,
        command: str,
        *,
        text: str = "",
        options: dict[str, str] | None = None,
    ) -> Invocation:
        conversation = ingest.interaction_conversation(interaction)
        message = interaction.message
        return Invocation(
            user=ingest.user_ref(interaction.user),
            conversation=conversation,
            text=text,
            command=command,
            is_moderator=self._moderators.for_interaction(interaction),
            locale=ingest.locale_of(interaction),
            options=options or {},
            message=ingest.message_ref(conversation, message.id) if message else None,
            received_at=interaction.created_at,
        )

    async def _ready_to_post(self, interaction: discord.Interaction, locale: str) -> bool:
        """Refuse (ephemerally) when the bot cannot post here; else defer and note the
        upload limit Discord gives for this place."""
        missing = ingest.missing_permissions(interaction)
        if missing:
            await answers.refuse(interaction, ingest.missing_permissions_text(locale, missing))
            return False
        await interaction.response.defer(ephemeral=True, thinking=True)
        channel = ingest.interaction_conversation(interaction).channel
        self._outbox.remember_upload_limit(channel, interaction.filesize_limit)
        self._outbox.ages.observe(interaction.id)
        return True

    async def _run(self, interaction: discord.Interaction, inv: Invocation) -> None:
        """Hand ``inv`` to the core and put its answer in place of "thinking…". An accepted
        job's answer takes a turn in the channel's budget, where its status and video go
        too (counting the interaction's edit with them is the safe side); a refusal goes
        at once."""
        try:
            reply = await self._core.handle(inv)
        except Exception:  # a bug or a broken database: say so instead of "thinking…" forever
            log.exception("handling a Discord %s failed", inv.command)
            await answers.edit_original(interaction, texts.t(inv.locale, "discord.command_failed"))
            return
        if reply is None:
            return
        if reply.kind == "accepted":
            board = self._core.s.station(inv.conversation.platform.value).board
            async with board.turn(inv.conversation):
                await answers.edit_original(interaction, reply.text)
        else:
            await answers.edit_original(interaction, reply.text)
