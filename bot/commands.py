"""Parse the arguments of ``/sora`` and ``/quota``: one parser for every platform.

Telegram (and the console) send free text: ``--model sora-2-pro --seconds 12 --landscape a cat
surfing``. Discord sends structured options, passed here as ``Mapping[str, str]``; an option
wins over the same flag in the text. Parsing only checks the *shape* of the arguments; whether
a model, a duration or an orientation is allowed is the provider's call
(``BaseProvider.validate``), so nothing here knows a model name.

Errors are ``bot.errors.InvalidRequest(key, **params)``; ``bot.texts`` turns the key into words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

from bot.errors import InvalidRequest
from bot.models import Orientation

MAX_SECONDS: Final = 600  # the config allows durations up to 600 s; anything above is a typo
MAX_QUOTA_AMOUNT: Final = 1_000_000
_NO_OPTIONS: Final[Mapping[str, str]] = MappingProxyType({})

# Phones "smarten" a typed ``--`` into an en dash, an em dash or (Chinese IMEs) ``——``.
_SMART_DASHES: Final = re.compile(r"^(?:—{1,2}|–{1,2}|－{1,2})(?=\w)")
_TOKEN: Final = re.compile(r"\S+")
# ASCII or Unicode digits (full-width ``１２`` from a Chinese IME), optional unit.
_SECONDS_VALUE: Final = re.compile(
    r"^\+?(\d{1,6})\s*(?:s|sec|secs|second|seconds|秒)?$", re.IGNORECASE
)
_AMOUNT_VALUE: Final = re.compile(r"^\+?(\d{1,9})$")
_USER_TOKEN: Final = re.compile(r"^(?:@\S+|<@[!&]?\d+>)$")


@dataclass(frozen=True, slots=True)
class _Flag:
    """One ``/sora`` flag: the field it fills and, for switches, the value it sets."""

    field: Literal["model", "seconds", "orientation", "provider"]
    switch_value: Orientation | None = None  # set for switches like --landscape


_FLAGS: Final[Mapping[str, _Flag]] = {
    "--model": _Flag("model"),
    "-m": _Flag("model"),
    "--seconds": _Flag("seconds"),
    "--duration": _Flag("seconds"),
    "-s": _Flag("seconds"),
    "--orientation": _Flag("orientation"),
    "-o": _Flag("orientation"),
    "--provider": _Flag("provider"),
    "-p": _Flag("provider"),
    "--landscape": _Flag("orientation", Orientation.LANDSCAPE),
    "--horizontal": _Flag("orientation", Orientation.LANDSCAPE),
    "--横屏": _Flag("orientation", Orientation.LANDSCAPE),
    "--portrait": _Flag("orientation", Orientation.PORTRAIT),
    "--vertical": _Flag("orientation", Orientation.PORTRAIT),
    "--竖屏": _Flag("orientation", Orientation.PORTRAIT),
}

_ORIENTATION_WORDS: Final[Mapping[str, Orientation]] = {
    "landscape": Orientation.LANDSCAPE,
    "horizontal": Orientation.LANDSCAPE,
    "wide": Orientation.LANDSCAPE,
    "16:9": Orientation.LANDSCAPE,
    "横屏": Orientation.LANDSCAPE,
    "横": Orientation.LANDSCAPE,
    "portrait": Orientation.PORTRAIT,
    "vertical": Orientation.PORTRAIT,
    "tall": Orientation.PORTRAIT,
    "9:16": Orientation.PORTRAIT,
    "竖屏": Orientation.PORTRAIT,
    "竖": Orientation.PORTRAIT,
}


@dataclass(frozen=True)
class SoraArgs:
    """What the user asked ``/sora`` for. ``None`` means "not said": the core picks defaults."""

    prompt: str
    model: str | None
    seconds: int | None
    orientation: Orientation | None
    provider: str | None


def parse_sora(
    text: str, options: Mapping[str, str] = _NO_OPTIONS, *, max_prompt_chars: int
) -> SoraArgs:
    """Parse ``/sora`` arguments from free ``text`` and structured ``options``.

    Flags come first, in any order; ``--`` ends them, and so does the first word that is not
    a flag: from there on everything is the prompt (which may itself contain ``--``).
    Option keys: ``prompt``, ``model``, ``seconds``, ``orientation``, ``provider``; empty
    values count as absent. The prompt's whitespace is collapsed, its characters kept.
    """
    values: dict[str, str] = {}  # field -> raw value
    spelled: dict[str, str] = {}  # field -> the flag or option name used, for error texts
    prompt_start = len(text)
    tokens = list(_TOKEN.finditer(text))
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.group() == "--":
            prompt_start = token.end()
            break
        name, inline_value = _split_flag(token.group())
        if name is None:
            prompt_start = token.start()
            break
        flag = _FLAGS.get(name)
        if flag is None:
            raise InvalidRequest("unknown_flag", flag=token.group())
        if flag.switch_value is not None:
            value = flag.switch_value.value
        elif inline_value is not None:
            value = inline_value
        else:
            index += 1
            following = tokens[index].group() if index < len(tokens) else ""
            value = "" if _split_flag(following)[0] else following
        if not value:
            raise InvalidRequest("missing_value", flag=name)
        values[flag.field], spelled[flag.field] = value, name
        index += 1

    for key in ("prompt", "model", "seconds", "orientation", "provider"):
        value = (options.get(key) or "").strip()
        if value:
            values[key], spelled[key] = value, key

    prompt = " ".join(values.get("prompt", text[prompt_start:]).split())
    if not prompt:
        raise InvalidRequest("empty_prompt")
    if len(prompt) > max_prompt_chars:
        raise InvalidRequest("prompt_too_long", limit=max_prompt_chars, length=len(prompt))

    seconds = values.get("seconds")
    orientation = values.get("orientation")
    return SoraArgs(
        prompt=prompt,
        model=values.get("model"),
        seconds=None if seconds is None else _parse_seconds(seconds, spelled["seconds"]),
        orientation=None if orientation is None else _parse_orientation(orientation),
        provider=values.get("provider"),
    )


def _split_flag(word: str) -> tuple[str | None, str | None]:
    """``(flag name, inline value)`` for a flag-looking word, ``(None, None)`` for a prompt word.

    ``--model=x`` gives ``("--model", "x")``. A smart dash (``—model``) counts only when it
    spells a known flag, since a prompt may well start with a dash in prose.
    """
    smart = _SMART_DASHES.match(word)
    if smart:
        candidate = "--" + word[smart.end() :]
        name, value = _split_flag(candidate)
        return (name, value) if name in _FLAGS else (None, None)
    if not _is_flag(word):
        return None, None
    name, equals, value = word.partition("=")
    return name.lower(), (value if equals else None)


def _is_flag(word: str) -> bool:
    """A dash followed by a letter (``-m``, ``--seconds``, ``--横屏``); ``-5`` is prompt text."""
    body = word[2:] if word.startswith("--") else word[1:] if word.startswith("-") else ""
    return bool(body) and body[0].isalpha()


def _parse_seconds(value: str, flag: str) -> int:
    match = _SECONDS_VALUE.match(value.strip())
    seconds = int(match.group(1)) if match else 0
    if not 0 < seconds <= MAX_SECONDS:
        raise InvalidRequest("bad_number", flag=flag, value=value)
    return seconds


def _parse_orientation(value: str) -> Orientation:
    orientation = _ORIENTATION_WORDS.get(value.strip().lower())
    if orientation is None:
        allowed = ", ".join(o.value for o in Orientation)
        raise InvalidRequest("unknown_orientation", orientation=value, allowed=allowed)
    return orientation


# --------------------------------------------------------------------------- /quota

QuotaAction = Literal["me", "show", "set", "add", "reset", "default", "history"]

_QUOTA_ACTIONS: Final[Mapping[str, QuotaAction]] = {
    "me": "me",
    "mine": "me",
    "我": "me",
    "show": "show",
    "get": "show",
    "查看": "show",
    "查询": "show",
    "set": "set",
    "设置": "set",
    "设定": "set",
    "add": "add",
    "give": "add",
    "grant": "add",
    "增加": "add",
    "reset": "reset",
    "重置": "reset",
    "default": "default",
    "默认": "default",
    "history": "history",
    "log": "history",
    "记录": "history",
    "历史": "history",
}
_TAKES_TARGET: Final = frozenset({"show", "set", "add", "reset", "history"})
_TAKES_AMOUNT: Final = frozenset({"set", "add", "default"})


@dataclass(frozen=True)
class QuotaArgs:
    """A parsed ``/quota``. ``target`` is an opaque user token (``@name``, an id, ``<@123>``)
    for the adapter to resolve; ``None`` means "the user of the replied-to message"."""

    action: QuotaAction
    target: str | None
    amount: int | None


def parse_quota(text: str, options: Mapping[str, str] = _NO_OPTIONS) -> QuotaArgs:
    """Parse ``/quota [me | show <user> | set <user> <n> | add <user> <n> | reset <user> |
    default <n> | history <user>]``; ``<user>`` may be left out when replying to that user.

    Option keys: ``action``, ``user`` (or ``target``), ``amount``; they win over the text.
    A bare ``/quota @someone`` means ``show @someone``.
    """
    words = text.split()
    spoken = (options.get("action") or "").strip() or (words.pop(0) if words else "me")
    action = _QUOTA_ACTIONS.get(spoken.lower())
    if action is None and _USER_TOKEN.match(spoken):
        action, words = "show", [spoken, *words]
    if action is None:
        raise InvalidRequest("unknown_quota_action", action=spoken)
    if action == "me":
        return QuotaArgs("me", None, None)

    option_target = (options.get("user") or options.get("target") or "").strip() or None
    option_amount = (options.get("amount") or "").strip() or None
    target: str | None = None
    amount_text: str | None = None
    if action in _TAKES_TARGET and action in _TAKES_AMOUNT:
        target, amount_text = _target_and_amount(words, has_target_option=bool(option_target))
    elif action in _TAKES_TARGET:
        target = words[0] if words else None
    else:
        amount_text = words[0] if words else None

    target = option_target or target
    amount_text = option_amount or amount_text
    if action not in _TAKES_AMOUNT:
        return QuotaArgs(action, target, None)
    if amount_text is None:
        raise InvalidRequest("missing_value", flag="amount")
    return QuotaArgs(
        action, target, _parse_amount(amount_text, minimum=1 if action == "add" else 0)
    )


def _target_and_amount(
    words: list[str], *, has_target_option: bool
) -> tuple[str | None, str | None]:
    """Split ``set``/``add`` words: ``<user> <n>``, or just ``<n>`` when the target comes from
    a reply or an option. A lone user token (``set @bob``) means the amount is missing."""
    if len(words) >= 2:
        return words[0], words[1]
    if not words:
        return None, None
    only = words[0]
    if not has_target_option and _USER_TOKEN.match(only) and not _AMOUNT_VALUE.match(only):
        return only, None
    return None, only


def _parse_amount(value: str, *, minimum: int) -> int:
    match = _AMOUNT_VALUE.match(value)
    amount = int(match.group(1)) if match else -1
    if not minimum <= amount <= MAX_QUOTA_AMOUNT:
        raise InvalidRequest("bad_number", flag="amount", value=value)
    return amount
