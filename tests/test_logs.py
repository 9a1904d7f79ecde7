"""Log formats (text, logfmt, JSON), secret redaction and the logging setup."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from bot.config import DiscordConfig, LoggingConfig, ProviderConfig, Settings, TelegramConfig
from bot.observability.logs import (
    HANDLER_NAME,
    JsonFormatter,
    LogfmtFormatter,
    TextFormatter,
    configure_logging,
)
from bot.observability.redaction import REDACTED, SecretRedactor, secrets_in
from tests.logfmt import parse_logfmt

KEY = "sk-live-ABCdef123456"
TOKEN = "900001:AAE-bot/token+x"


def record(
    msg: str,
    *args: object,
    extra: dict[str, Any] | None = None,
    exc_info: Any = None,
    level: int = logging.INFO,
) -> logging.LogRecord:
    logger = logging.getLogger("bot.test")
    return logger.makeRecord(
        "bot.test", level, "test.py", 1, msg, args, exc_info, extra=extra, sinfo=None
    )


def raised(message: str) -> Any:
    try:
        raise RuntimeError(message)
    except RuntimeError:
        return sys.exc_info()


# --------------------------------------------------------------------------- formats


def test_logfmt_quotes_only_what_needs_it_and_reads_back() -> None:
    extra = {
        "job": "k3v7abcdxy",
        "user": "telegram:-1001:42",
        "prompt": 'a "cat" = on\ta mat\\',
        "empty": "",
        "zh": "一只猫",
        "lines": "one\ntwo",
        "total_s": 43.5,
        "unlimited": True,
        "none": None,
    }
    line = LogfmtFormatter().format(record("job state changed", extra=extra))
    assert "\n" not in line
    assert " job=k3v7abcdxy " in line and " total_s=43.5 " in line and " zh=一只猫 " in line
    assert ' msg="job state changed" ' in line
    fields = parse_logfmt(line)
    assert fields["msg"] == "job state changed"
    assert fields["level"] == "info" and fields["logger"] == "bot.test"
    assert fields["ts"].endswith("Z") and "T" in fields["ts"]
    assert fields["prompt"] == 'a "cat" = on\ta mat\\'
    assert fields["lines"] == "one\ntwo"
    assert fields["empty"] == "" and fields["none"] == "" and fields["unlimited"] == "true"


@given(st.text())
def test_any_message_is_one_logfmt_line_that_reads_back(message: str) -> None:
    line = LogfmtFormatter().format(record("%s", message))
    assert len(line.splitlines()) == 1
    assert parse_logfmt(line)["msg"] == message


@given(st.text(), st.text())
def test_any_message_is_one_json_line(message: str, value: str) -> None:
    line = JsonFormatter().format(record("%s", message, extra={"field": value}))
    assert len(line.splitlines()) == 1
    document = json.loads(line)
    assert document["msg"] == message and document["field"] == value


def test_json_carries_extras_typed_and_the_traceback_inside_the_line() -> None:
    line = JsonFormatter().format(
        record(
            "boom",
            extra={"total_s": 1.5, "path": object.__new__(type("Odd", (), {}))},
            exc_info=raised("it broke"),
            level=logging.ERROR,
        )
    )
    document = json.loads(line)
    assert document["level"] == "error" and document["total_s"] == 1.5
    assert "Odd object" in document["path"]  # not serialisable: written as text
    assert "RuntimeError: it broke" in document["exc"] and "Traceback" in document["exc"]


def test_logfmt_folds_the_traceback_into_one_line() -> None:
    line = LogfmtFormatter().format(record("boom", exc_info=raised("it broke")))
    assert len(line.splitlines()) == 1
    assert "RuntimeError: it broke" in parse_logfmt(line)["exc"]


def test_text_appends_the_extra_fields_as_pairs() -> None:
    line = TextFormatter().format(
        record("job state changed", extra={"job": "abc", "state": "queued", "model": "sora 2"})
    )
    assert line.endswith(' INFO bot.test: job state changed job=abc state=queued model="sora 2"')


# --------------------------------------------------------------------------- redaction


def test_redactor_cleans_message_args_extras_and_the_traceback() -> None:
    redactor = SecretRedactor([KEY, TOKEN])
    rec = record(
        "calling %s with key %s",
        f"https://api.example/bot{TOKEN}/getMe",
        KEY,
        extra={"url": f"http://x/{TOKEN}", "count": 3},
        exc_info=raised(f"401 for key {KEY}"),
    )
    assert redactor.filter(rec) is True
    assert (
        rec.getMessage() == f"calling https://api.example/bot{REDACTED}/getMe with key {REDACTED}"
    )
    assert rec.url == f"http://x/{REDACTED}"  # type: ignore[attr-defined]
    assert rec.count == 3  # type: ignore[attr-defined]
    assert rec.exc_info is None and rec.exc_text is not None
    assert f"401 for key {REDACTED}" in rec.exc_text and KEY not in rec.exc_text
    for formatter in (TextFormatter(), LogfmtFormatter(), JsonFormatter()):
        out = formatter.format(rec)
        assert KEY not in out and TOKEN not in out


def test_redactor_catches_the_url_quoted_form_and_the_stack() -> None:
    from urllib.parse import quote

    redactor = SecretRedactor([TOKEN])
    rec = record("GET /bot%s", quote(TOKEN, safe=""))
    rec.stack_info = f"Stack (most recent call last):\n  token={TOKEN}"
    redactor.filter(rec)
    assert rec.getMessage() == f"GET /bot{REDACTED}"
    assert rec.stack_info == f"Stack (most recent call last):\n  token={REDACTED}"


def test_a_secret_containing_another_is_replaced_whole() -> None:
    redactor = SecretRedactor(["abc", "abcdef"])
    assert redactor.redact("x abcdef y abc") == f"x {REDACTED} y {REDACTED}"


def test_args_that_do_not_fit_the_format_are_still_redacted() -> None:
    rec = record("only %s", KEY, "extra")
    SecretRedactor([KEY]).filter(rec)
    assert KEY not in rec.getMessage() and REDACTED in rec.getMessage()


def test_without_secrets_records_are_left_alone() -> None:
    rec = record("hello %s", "world", exc_info=raised("x"))
    SecretRedactor(["", ""]).filter(rec)
    assert rec.args == ("world",) and rec.exc_info is not None


def test_every_configured_secret_is_found() -> None:
    settings = Settings(
        telegram=TelegramConfig(token=SecretStr(TOKEN), webhook_secret=SecretStr("hook-secret")),
        discord=DiscordConfig(token=SecretStr("discord-token")),
        providers=[
            ProviderConfig(
                name="a", format="videos", base_url="http://x", api_key=KEY, models=["m"]
            ),
            ProviderConfig(
                name="b", format="chat", base_url="http://y", api_key_env="B_KEY", models=["m"]
            ),
        ],
    )
    found = secrets_in(settings, {"B_KEY": "key-from-env"})
    assert sorted(found) == sorted([TOKEN, "hook-secret", "discord-token", KEY, "key-from-env"])
    assert secrets_in(Settings(), {}) == []


# --------------------------------------------------------------------------- setup


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    httpx_level = logging.getLogger("httpx").level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(httpx_level)
    logging.captureWarnings(False)


def test_configure_logging_writes_the_format_and_redacts(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(
        LoggingConfig(format="json"), secrets=[KEY], default_level="INFO", stream=stream
    )
    logging.getLogger("bot.anything").info("key is %s", KEY)
    logging.getLogger("bot.anything").debug("not shown")
    logging.getLogger("httpx").info("HTTP Request: GET http://x (quiet unless verbose)")
    lines = stream.getvalue().splitlines()
    assert [json.loads(line)["msg"] for line in lines] == [f"key is {REDACTED}"]


def test_configure_logging_again_replaces_its_handler(restore_logging: None) -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(LoggingConfig(), stream=first)
    configure_logging(LoggingConfig(format="logfmt", level="ERROR"), verbose=True, stream=second)
    ours = [h for h in logging.getLogger().handlers if h.get_name() == HANDLER_NAME]
    assert len(ours) == 1
    logging.getLogger("bot.anything").debug("verbose wins over the level")
    assert first.getvalue() == ""
    assert parse_logfmt(second.getvalue().strip())["msg"] == "verbose wins over the level"
