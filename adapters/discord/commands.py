"""The application commands: ``/sora``, ``/quota <action>``, ``/help`` and the message
command "Remix with Sora", built from the configuration at start.

The ``/sora`` choices come from the configured providers (models, durations; the
``provider`` option only when there are several), capped at Discord's 25 choices per
option (https://discord.com/developers/docs/interactions/application-commands#application-command-object-application-command-option-structure):
beyond that the option is free text and the core names the allowed values. Descriptions are
English with a Chinese translation (``TextsTranslator``) from ``bot.texts``.

Discord cannot run a command that has subcommands by itself, so a member's own balance is
``/quota me``; the moderator actions are the other subcommands, each with a ``user`` (and
an ``amount``) option. Moderator rights are checked in code on every call.

(No ``from __future__ import annotations`` here: discord.py reads the callbacks'
annotations, and the prompt's length limit is a value known only at run time.)
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import Choice, locale_str

from adapters.discord.handlers import DiscordHandlers
from bot import texts
from bot.commands import MAX_QUOTA_AMOUNT, MAX_SECONDS
from bot.config import Settings
from bot.models import Orientation

MAX_CHOICES = 25
DISCORD_MAX_OPTION_LENGTH = 6000
CHINESE_LOCALES = frozenset({discord.Locale.chinese, discord.Locale.taiwan_chinese})


def text(key: str) -> locale_str:
    """An English text that the translator can render in other languages by its key."""
    return locale_str(texts.t("en", key), key=key)


class TextsTranslator(app_commands.Translator):
    """Command descriptions, choice names and the context menu's name in Chinese."""

    async def translate(
        self,
        string: locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        key = string.extras.get("key")
        if key is None or locale not in CHINESE_LOCALES:
            return None
        return texts.t("zh", key)


@dataclass(frozen=True, slots=True)
class CommandCatalog:
    """What ``/sora`` offers, from the configured providers."""

    models: tuple[str, ...]
    seconds: tuple[int, ...]
    providers: tuple[str, ...]
    prompt_max_chars: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "CommandCatalog":
        models: dict[str, None] = {}
        seconds: set[int] = set()
        for provider in settings.providers:
            for name, caps in provider.model_capabilities().items():
                models.setdefault(name)
                seconds.update(caps.seconds)
        return cls(
            models=tuple(models),
            seconds=tuple(sorted(seconds)),
            providers=tuple(p.name for p in settings.providers),
            prompt_max_chars=settings.bot.prompt_max_chars,
        )


def register_commands(
    tree: app_commands.CommandTree[Any], handlers: DiscordHandlers, catalog: CommandCatalog
) -> None:
    """Add every command to ``tree`` (synced to Discord by the adapter at start)."""
    tree.add_command(sora_command(handlers, catalog))
    tree.add_command(quota_group(handlers))

    async def help_(interaction: discord.Interaction) -> None:
        await handlers.help(interaction)

    tree.add_command(
        app_commands.Command(name="help", description=text("command.help"), callback=help_)
    )

    async def remix_with_sora(interaction: discord.Interaction, message: discord.Message) -> None:
        await handlers.remix_from_menu(interaction, message)

    tree.add_command(
        app_commands.ContextMenu(name=text("command.remix_with_sora"), callback=remix_with_sora)
    )


def sora_command(
    handlers: DiscordHandlers, catalog: CommandCatalog
) -> app_commands.Command[Any, ..., None]:
    prompt_max = min(catalog.prompt_max_chars, DISCORD_MAX_OPTION_LENGTH)
    Prompt = app_commands.Range[str, 1, prompt_max]
    # Discord takes either a list of choices or a range for an option, not both
    offer_seconds = 0 < len(catalog.seconds) <= MAX_CHOICES
    Seconds = int if offer_seconds else app_commands.Range[int, 1, MAX_SECONDS]

    if len(catalog.providers) > 1:

        async def sora(
            interaction: discord.Interaction,
            prompt: Prompt,  # type: ignore[valid-type]
            model: str | None = None,
            seconds: Seconds | None = None,  # type: ignore[valid-type]
            orientation: str | None = None,
            image: discord.Attachment | None = None,
            provider: str | None = None,
        ) -> None:
            await handlers.sora(
                interaction,
                prompt=prompt,
                model=model,
                seconds=seconds,
                orientation=orientation,
                image=image,
                provider=provider,
            )

    else:

        async def sora(  # type: ignore[misc]
            interaction: discord.Interaction,
            prompt: Prompt,  # type: ignore[valid-type]
            model: str | None = None,
            seconds: Seconds | None = None,  # type: ignore[valid-type]
            orientation: str | None = None,
            image: discord.Attachment | None = None,
        ) -> None:
            await handlers.sora(
                interaction,
                prompt=prompt,
                model=model,
                seconds=seconds,
                orientation=orientation,
                image=image,
            )

    choices: dict[str, Sequence[Choice[Any]]] = {
        "orientation": [
            Choice(name=text(f"orientation.{o.value}"), value=o.value) for o in Orientation
        ]
    }
    if 0 < len(catalog.models) <= MAX_CHOICES:
        choices["model"] = [Choice(name=m[:100], value=m) for m in catalog.models]
    if offer_seconds:
        choices["seconds"] = [Choice(name=f"{s} s", value=s) for s in catalog.seconds]
    descriptions = {
        name: text(f"option.{name}")
        for name in ("prompt", "model", "seconds", "orientation", "image", "provider")
    }
    if len(catalog.providers) > 1:
        choices["provider"] = [Choice(name=p, value=p) for p in catalog.providers[:MAX_CHOICES]]
    else:
        del descriptions["provider"]
    callback = app_commands.describe(**descriptions)(app_commands.choices(**choices)(sora))  # type: ignore[arg-type]
    return app_commands.Command(name="sora", description=text("command.sora"), callback=callback)


def quota_group(handlers: DiscordHandlers) -> app_commands.Group:
    """``/quota me`` for everyone; ``show|set|add|reset|default|history`` for moderators."""
    group = app_commands.Group(name="quota", description=text("command.quota"))
    Amount = app_commands.Range[int, 0, MAX_QUOTA_AMOUNT]
    Extra = app_commands.Range[int, 1, MAX_QUOTA_AMOUNT]

    async def me(interaction: discord.Interaction) -> None:
        await handlers.quota(interaction, "me")

    async def show(interaction: discord.Interaction, user: discord.User) -> None:
        await handlers.quota(interaction, "show", user)

    async def set_(interaction: discord.Interaction, user: discord.User, amount: Amount) -> None:  # type: ignore[valid-type]
        await handlers.quota(interaction, "set", user, amount)

    async def add(interaction: discord.Interaction, user: discord.User, amount: Extra) -> None:  # type: ignore[valid-type]
        await handlers.quota(interaction, "add", user, amount)

    async def reset(interaction: discord.Interaction, user: discord.User) -> None:
        await handlers.quota(interaction, "reset", user)

    async def default(interaction: discord.Interaction, amount: Amount) -> None:  # type: ignore[valid-type]
        await handlers.quota(interaction, "default", amount=amount)

    async def history(interaction: discord.Interaction, user: discord.User) -> None:
        await handlers.quota(interaction, "history", user)

    subcommands: list[tuple[str, Callable[..., Awaitable[None]], tuple[str, ...]]] = [
        ("me", me, ()),
        ("show", show, ("user",)),
        ("set", set_, ("user", "amount")),
        ("add", add, ("user", "amount")),
        ("reset", reset, ("user",)),
        ("default", default, ("amount",)),
        ("history", history, ("user",)),
    ]
    for name, callback, params in subcommands:
        described = app_commands.describe(**{p: text(f"option.{p}") for p in params})(callback)
        group.add_command(
            app_commands.Command(
                name=name, description=text(f"command.quota.{name}"), callback=described
            )
        )
    return group
