"""Abuse suite: ``/sora`` and ``/quota`` arguments against arbitrary, hostile input.

Properties (issue #7, item 3): the parsers never crash, they refuse only with the
documented user errors (whose texts render in every language), the prompt respects
``prompt_max_chars`` and holds nothing that was not typed, and through the core every
answer fits the smallest platform text limit, however long the input.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot import texts
from bot.commands import MAX_QUOTA_AMOUNT, MAX_SECONDS, parse_quota, parse_sora
from bot.core import Core
from bot.errors import InvalidRequest, UserError
from bot.models import Orientation
from bot.providers.simulator import Simulator
from bot.status import text_length
from tests.abuse_strategies import huge_text, nasty_text, quota_text
from tests.core_harness import ask, running, settings_for
from tests.fakes import FakeOutbox

SORA_ERRORS = frozenset(
    {"unknown_flag", "missing_value", "empty_prompt", "prompt_too_long", "bad_number"}
    | {"unknown_orientation"}
)
QUOTA_ERRORS = frozenset({"unknown_quota_action", "missing_value", "bad_number"})
OPTION_KEYS = ("prompt", "model", "seconds", "orientation", "provider")
DISCORD_TEXT_LIMIT = 2000  # the smallest text limit of the platforms (Telegram: 4096)
TELEGRAM_MESSAGE_LIMIT = 4096  # so the longest command text a Telegram user can send


def assert_renders(error: UserError) -> None:
    """The refusal is a known text, complete in both languages (``t`` raises under pytest
    when a parameter is missing), quoting the user's words as they are (never read as a
    template of their own)."""
    for locale in ("en", "zh"):
        rendered = texts.t(locale, error.key, **error.params)
        for name in texts.placeholders(texts.template(locale, error.key)):
            assert str(error.params[name]) in rendered


def assert_prompt_typed(prompt: str, source: str) -> None:
    """The prompt is the input's last words, whitespace collapsed: nothing added."""
    words = prompt.split()
    assert words, "an empty prompt must be refused"
    assert prompt == " ".join(words)
    assert source.split()[-len(words) :] == words


# --------------------------------------------------------------------------- /sora


@given(text=nasty_text(), limit=st.integers(1, 2000))
def test_sora_text_parses_or_is_refused_in_words(text: str, limit: int) -> None:
    try:
        args = parse_sora(text, max_prompt_chars=limit)
    except InvalidRequest as exc:
        assert exc.key in SORA_ERRORS, exc
        assert_renders(exc)
        return
    assert len(args.prompt) <= limit
    assert_prompt_typed(args.prompt, text)
    for value in (args.model, args.provider):
        assert value is None or (value and value in text)
    assert args.seconds is None or 0 < args.seconds <= MAX_SECONDS
    assert args.orientation is None or isinstance(args.orientation, Orientation)


@given(
    text=nasty_text(12),
    options=st.dictionaries(st.sampled_from(OPTION_KEYS), nasty_text(6), max_size=5),
)
def test_discord_options_win_and_are_taken_as_typed(text: str, options: dict[str, str]) -> None:
    try:
        args = parse_sora(text, options, max_prompt_chars=2000)
    except InvalidRequest as exc:
        assert exc.key in SORA_ERRORS, exc
        assert_renders(exc)
        return
    option_prompt = options.get("prompt", "").strip()
    assert_prompt_typed(args.prompt, option_prompt or text)
    for field in ("model", "provider"):
        given_value = options.get(field, "").strip()
        if given_value:
            assert getattr(args, field) == given_value


@settings(max_examples=15)
@given(text=huge_text(), limit=st.sampled_from((1, 2000, 100_000)))
def test_a_100k_character_paste(text: str, limit: int) -> None:
    try:
        args = parse_sora(text, max_prompt_chars=limit)
    except InvalidRequest as exc:
        assert exc.key in SORA_ERRORS, exc
        if exc.key == "prompt_too_long":
            assert exc.params["limit"] == limit and exc.params["length"] > limit
        return
    assert len(args.prompt) <= limit
    assert_prompt_typed(args.prompt, text)


def test_a_100k_run_of_flags_is_linear() -> None:
    """50,000 flag/value pairs: parsed in one pass, the last value wins."""
    text = "--seconds 4 " * 8_000 + "-m sora " * 8_000 + "--landscape " * 8_000 + "x"
    args = parse_sora(text, max_prompt_chars=10)
    assert (args.prompt, args.model, args.seconds) == ("x", "sora", 4)
    assert args.orientation is Orientation.LANDSCAPE


# --------------------------------------------------------------------------- /quota


@given(
    text=quota_text(),
    options=st.dictionaries(st.sampled_from(("action", "user", "amount")), quota_text()),
)
def test_quota_arguments_parse_or_are_refused_in_words(text: str, options: dict[str, str]) -> None:
    try:
        args = parse_quota(text, options)
    except InvalidRequest as exc:
        assert exc.key in QUOTA_ERRORS, exc
        assert_renders(exc)
        return
    assert args.action in ("me", "show", "set", "add", "reset", "default", "history")
    if args.target is not None:
        assert args.target in text.split() or args.target in {v.strip() for v in options.values()}
    if args.amount is not None:
        assert 0 <= args.amount <= MAX_QUOTA_AMOUNT
        assert args.action in ("set", "add", "default")
    if args.action == "me":
        assert (args.target, args.amount) == (None, None)


# --------------------------------------------------------------------------- through the core


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[Core]:
    """No credits for anyone: a valid ``/sora`` is refused after validation, so the
    properties exercise parsing and planning without starting any job."""
    async with Simulator(tmp_path / "sim", job_seconds=0.2) as sim:
        quota = {"default_limit": 0, "moderators_unlimited": False}
        settings = settings_for(sim, tmp_path, quota=quota)
        async with running(settings, FakeOutbox(markup="markdown")) as started:
            yield started


def _core_settings() -> settings:
    # One core serves every example (each builds nothing): state piles up on purpose.
    return settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_core_settings()
@given(
    command=st.sampled_from(("sora", "quota", "continue", "again", "help", "nonsense")),
    text=st.one_of(nasty_text(), huge_text(TELEGRAM_MESSAGE_LIMIT)),
    moderator=st.booleans(),
    locale=st.sampled_from(("en", "zh", None, "\u202e")),
)
async def test_every_answer_fits_every_platform(
    core: Core, command: str, text: str, moderator: bool, locale: str | None
) -> None:
    inv = ask(text, command=command, moderator=moderator, locale=locale or "")
    reply = await core.handle(inv)
    assert reply is not None
    assert reply.text and text_length(reply.text) <= DISCORD_TEXT_LIMIT, reply.text[:200]
    assert await core.s.jobs.active_count("telegram", "alice") == 0  # no credits, no job


@_core_settings()
@example(token="-" + "a" * 4085, where="flag")  # regression: answered with 4,150 characters
@example(token="9" * 4000, where="quota")  # regression: a 4,000-digit "user id" was echoed
@given(
    token=st.one_of(
        huge_text(TELEGRAM_MESSAGE_LIMIT - 10).map(lambda s: "-" + re.sub(r"\s", "x", s)),
        st.integers(1, 4000).map(lambda n: "9" * n),
    ),
    where=st.sampled_from(("flag", "model", "provider", "orientation", "seconds", "quota")),
)
async def test_a_long_echoed_token_is_shortened(core: Core, token: str, where: str) -> None:
    """Refusals quote the offending word: a 4,000-character word must not push the
    answer over the platform's limit (it would be refused, and the user hear nothing)."""
    commands: Mapping[str, tuple[str, str]] = {
        "flag": ("sora", f"{token} a cat"),
        "model": ("sora", f"--model {token} a cat"),
        "provider": ("sora", f"--provider {token} a cat"),
        "orientation": ("sora", f"-o {token} a cat"),
        "seconds": ("sora", f"-s {token} a cat"),
        "quota": ("quota", f"show {token}"),
    }
    command, text = commands[where]
    reply = await core.handle(ask(text, command=command, moderator=True))
    assert reply is not None
    assert text_length(reply.text) <= DISCORD_TEXT_LIMIT, (where, len(reply.text))


@pytest.mark.parametrize(
    ("target", "known"),
    [("12345", True), ("<@!12345>", True), ("１２", False), ("²", False), ("1" * 21, False)],
)
async def test_quota_user_ids_are_ascii_digits(core: Core, target: str, known: bool) -> None:
    """Regression: ``str.isdigit`` took "²" and 4,000-digit tokens for user ids."""
    reply = await core.handle(ask(f"show {target}", command="quota", moderator=True))
    assert reply is not None
    assert (reply.kind == "error") is not known, reply.text
