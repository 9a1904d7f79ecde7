"""``/sora`` and ``/quota`` argument parsing: text flags, structured options, errors."""

from __future__ import annotations

import pytest

from bot.commands import MAX_QUOTA_AMOUNT, QuotaArgs, SoraArgs, parse_quota, parse_sora
from bot.errors import InvalidRequest
from bot.models import Orientation


def sora(text: str, options: dict[str, str] | None = None, limit: int = 2000) -> SoraArgs:
    return parse_sora(text, options or {}, max_prompt_chars=limit)


def sora_error(
    text: str, options: dict[str, str] | None = None, limit: int = 2000
) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        sora(text, options, limit)
    return caught.value


# --------------------------------------------------------------------------- /sora


def test_plain_prompt_has_no_choices() -> None:
    assert sora("a cat surfing") == SoraArgs("a cat surfing", None, None, None, None)


def test_documented_example() -> None:
    args = sora("--model sora-2-pro --seconds 12 --landscape a cat surfing")
    assert args == SoraArgs("a cat surfing", "sora-2-pro", 12, Orientation.LANDSCAPE, None)


def test_short_flags_equals_form_and_provider() -> None:
    args = sora("-m sora-2 -s 8 --portrait --provider=relay-b a dog")
    assert args == SoraArgs("a dog", "sora-2", 8, Orientation.PORTRAIT, "relay-b")
    assert sora("--model=x --seconds=4 p").seconds == 4


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ("--orientation landscape", Orientation.LANDSCAPE),
        ("--orientation=portrait", Orientation.PORTRAIT),
        ("-o 16:9", Orientation.LANDSCAPE),
        ("--横屏", Orientation.LANDSCAPE),
        ("--竖屏", Orientation.PORTRAIT),
        ("--orientation 横屏", Orientation.LANDSCAPE),
        ("--landscape --portrait", Orientation.PORTRAIT),  # the last one wins
    ],
)
def test_orientation_spellings(flags: str, expected: Orientation) -> None:
    assert sora(f"{flags} a lake").orientation is expected


def test_flags_are_case_insensitive_and_accept_units() -> None:
    args = sora("--Seconds 12s --MODEL m x")
    assert (args.seconds, args.model) == (12, "m")
    assert sora("-s 10秒 x").seconds == 10
    assert sora("-s １５ x").seconds == 15  # full-width digits from a Chinese IME


@pytest.mark.parametrize("dash", ["—", "––", "——", "－－"])
def test_phone_smart_dashes_count_as_double_dash(dash: str) -> None:
    args = sora(f"{dash}model m {dash}landscape a cat")
    assert (args.model, args.orientation, args.prompt) == ("m", Orientation.LANDSCAPE, "a cat")


def test_smart_dash_before_an_unknown_word_is_prompt_text() -> None:
    assert sora("—and then a cat").prompt == "—and then a cat"


def test_double_dash_ends_flags_and_later_dashes_stay_in_prompt() -> None:
    assert sora("--landscape -- --not a flag").prompt == "--not a flag"
    args = sora("-m x a cat --seconds 5 --weird")
    assert (args.prompt, args.seconds) == ("a cat --seconds 5 --weird", None)


def test_negative_number_at_start_is_prompt() -> None:
    assert sora("-5 degrees in the city").prompt == "-5 degrees in the city"


def test_prompt_whitespace_collapsed_characters_kept() -> None:
    assert sora("  a  cat\n\tsurfing «🏄»  ").prompt == "a cat surfing «🏄»"


def test_options_win_over_text_flags() -> None:
    options = {"model": "pro", "seconds": "15", "orientation": "portrait", "provider": "p2"}
    args = sora("--model x --seconds 4 --landscape --provider p1 a cat", options)
    assert args == SoraArgs("a cat", "pro", 15, Orientation.PORTRAIT, "p2")


def test_prompt_option_and_empty_options_ignored() -> None:
    args = sora("", {"prompt": "  a   fox ", "model": "", "seconds": " "})
    assert args == SoraArgs("a fox", None, None, None, None)


@pytest.mark.parametrize("text", ["", "   ", "--landscape", "--model x --", "-m x -s 4"])
def test_empty_prompt(text: str) -> None:
    assert sora_error(text).key == "empty_prompt"


def test_prompt_too_long_counts_after_whitespace_normalisation() -> None:
    assert sora("a" * 10 + "   ", limit=10).prompt == "a" * 10
    error = sora_error("abc " * 5, limit=10)
    assert (error.key, error.params) == ("prompt_too_long", {"limit": 10, "length": 19})


@pytest.mark.parametrize(
    ("text", "flag", "value"),
    [
        ("--seconds abc x", "--seconds", "abc"),
        ("-s 0 x", "-s", "0"),
        ("-s -4 x", "-s", "-4"),
        ("--seconds 99999 x", "--seconds", "99999"),
        ("--seconds=1.5 x", "--seconds", "1.5"),
    ],
)
def test_bad_seconds_number(text: str, flag: str, value: str) -> None:
    error = sora_error(text)
    assert (error.key, error.params) == ("bad_number", {"flag": flag, "value": value})


def test_bad_seconds_option_names_the_option() -> None:
    error = sora_error("x", {"seconds": "ten"})
    assert error.params == {"flag": "seconds", "value": "ten"}


def test_unknown_flag() -> None:
    error = sora_error("--colour red a cat")
    assert (error.key, error.params) == ("unknown_flag", {"flag": "--colour"})


@pytest.mark.parametrize(
    ("text", "flag"),
    [("--model", "--model"), ("-m --landscape x", "-m"), ("--provider= x", "--provider")],
)
def test_missing_value(text: str, flag: str) -> None:
    error = sora_error(text)
    assert (error.key, error.params) == ("missing_value", {"flag": flag})


def test_unknown_orientation_word() -> None:
    error = sora_error("--orientation square x")
    assert error.key == "unknown_orientation"
    assert error.params["orientation"] == "square"
    assert "landscape" in str(error.params["allowed"])


# --------------------------------------------------------------------------- /quota


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", QuotaArgs("me", None, None)),
        ("me", QuotaArgs("me", None, None)),
        ("show @alice", QuotaArgs("show", "@alice", None)),
        ("SHOW 123456", QuotaArgs("show", "123456", None)),
        ("show", QuotaArgs("show", None, None)),
        ("set <@42> 10", QuotaArgs("set", "<@42>", 10)),
        ("set 10", QuotaArgs("set", None, 10)),
        ("set 987654321 0", QuotaArgs("set", "987654321", 0)),
        ("add @bob +5", QuotaArgs("add", "@bob", 5)),
        ("add 3", QuotaArgs("add", None, 3)),
        ("reset @bob", QuotaArgs("reset", "@bob", None)),
        ("reset", QuotaArgs("reset", None, None)),
        ("default 7", QuotaArgs("default", None, 7)),
        ("history <@!9>", QuotaArgs("history", "<@!9>", None)),
        ("@carol", QuotaArgs("show", "@carol", None)),
        ("设置 @小明 20", QuotaArgs("set", "@小明", 20)),
        ("记录", QuotaArgs("history", None, None)),
    ],
)
def test_quota_text_forms(text: str, expected: QuotaArgs) -> None:
    assert parse_quota(text) == expected


def test_quota_options_win_over_text() -> None:
    assert parse_quota("", {"action": "add", "user": "123", "amount": "4"}) == QuotaArgs(
        "add", "123", 4
    )
    assert parse_quota("set @a 1", {"amount": "9"}) == QuotaArgs("set", "@a", 9)
    assert parse_quota("set 5", {"target": "77"}) == QuotaArgs("set", "77", 5)
    assert parse_quota("show", {"user": "<@1>"}) == QuotaArgs("show", "<@1>", None)


def quota_error(text: str, options: dict[str, str] | None = None) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        parse_quota(text, options or {})
    return caught.value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("set @a -3", "-3"),
        ("set @a lots", "lots"),
        ("add @a 0", "0"),
        ("default 1.5", "1.5"),
        (f"set @a {MAX_QUOTA_AMOUNT + 1}", str(MAX_QUOTA_AMOUNT + 1)),
        ("default 99999999999999999999", "99999999999999999999"),
    ],
)
def test_quota_bad_numbers(text: str, value: str) -> None:
    error = quota_error(text)
    assert (error.key, error.params) == ("bad_number", {"flag": "amount", "value": value})


@pytest.mark.parametrize("text", ["set", "set @bob", "add <@5>", "default"])
def test_quota_missing_amount(text: str) -> None:
    error = quota_error(text)
    assert (error.key, error.params) == ("missing_value", {"flag": "amount"})


def test_quota_unknown_action() -> None:
    error = quota_error("delete @bob")
    assert (error.key, error.params) == ("unknown_quota_action", {"action": "delete"})
    assert quota_error("", {"action": "nuke"}).params == {"action": "nuke"}
