"""Log formats and the process's logging setup (``[logging]`` in the config).

Three formats, each one record per line (a traceback is folded into the line in the
structured ones):

- ``text``: ``2025-05-01 12:00:00,000 INFO bot.jobs: job state changed job=… state=…``;
- ``logfmt``: ``ts=… level=info logger=bot.jobs msg="job state changed" job=… state=…``;
  values with spaces, quotes, ``=`` or control characters are double-quoted with JSON
  escapes, as logfmt parsers (Loki, Vector, go-logfmt) expect;
- ``json``: ``{"ts": …, "level": "info", "logger": …, "msg": …, "job": …}``.

Fields given with ``extra=`` (the job state lines carry job, user, provider, model,
state and durations) are written as keys in all three.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal, TextIO

from bot.config import LoggingConfig, Settings, load_settings
from bot.errors import ConfigError
from bot.observability.redaction import STANDARD_ATTRIBUTES, SecretRedactor, secrets_in

HANDLER_NAME = "sora-bot"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_BARE_VALUE = re.compile(r"[^\s\"=\\]+")
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")

LogFormat = Literal["text", "logfmt", "json"]


def extra_fields(record: logging.LogRecord) -> dict[str, object]:
    """The fields a record was given with ``extra=``, in the order given."""
    return {k: v for k, v in vars(record).items() if k not in STANDARD_ATTRIBUTES}


def one_line(encoded: str) -> str:
    """Escape what JSON leaves raw but splits a line for some readers (U+2028, U+0085…)."""
    if encoded.isprintable():
        return encoded
    return "".join(c if c.isprintable() else json.dumps(c)[1:-1] for c in encoded)


def logfmt_value(value: object) -> str:
    """One logfmt value: bare when that is unambiguous, else a JSON-escaped quoted string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if _BARE_VALUE.fullmatch(text) and text.isprintable():
        return text
    return one_line(json.dumps(text, ensure_ascii=False))


def logfmt_key(key: str) -> str:
    return _KEY_UNSAFE.sub("_", key) or "_"


def logfmt_pairs(fields: Iterable[tuple[str, object]]) -> str:
    return " ".join(f"{logfmt_key(key)}={logfmt_value(value)}" for key, value in fields)


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _StructuredFormatter(logging.Formatter):
    """What logfmt and JSON share: the fields of a record, traceback included."""

    def fields(self, record: logging.LogRecord) -> list[tuple[str, object]]:
        pairs: list[tuple[str, object]] = [
            ("ts", _timestamp(record)),
            ("level", record.levelname.lower()),
            ("logger", record.name),
            ("msg", record.getMessage()),
        ]
        pairs.extend(extra_fields(record).items())
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            pairs.append(("exc", record.exc_text))
        if record.stack_info:
            pairs.append(("stack", self.formatStack(record.stack_info)))
        return pairs


class LogfmtFormatter(_StructuredFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return logfmt_pairs(self.fields(record))


class JsonFormatter(_StructuredFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return one_line(json.dumps(dict(self.fields(record)), ensure_ascii=False, default=str))


class TextFormatter(logging.Formatter):
    """The classic line, with the extra fields appended as ``key=value``."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        extras = extra_fields(record)
        if extras:
            line = f"{line} {logfmt_pairs(extras.items())}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line = f"{line}\n{record.exc_text}"
        if record.stack_info:
            line = f"{line}\n{self.formatStack(record.stack_info)}"
        return line


def formatter_for(name: LogFormat) -> logging.Formatter:
    match name:
        case "logfmt":
            return LogfmtFormatter()
        case "json":
            return JsonFormatter()
        case _:
            return TextFormatter()


def configure_logging(
    config: LoggingConfig,
    *,
    secrets: Iterable[str] = (),
    verbose: bool = False,
    default_level: str = "WARNING",
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send every log record to ``stream`` (stderr) in the configured format, with the
    secrets redacted. Calling it again replaces the handler it installed before.

    ``verbose`` (``-v``) means DEBUG; else ``config.level``, else ``default_level``.
    httpx logs every request URL at INFO, so it stays at WARNING unless verbose.
    """
    level = "DEBUG" if verbose else (config.level or default_level)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(formatter_for(config.format))
    handler.addFilter(SecretRedactor(secrets))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.DEBUG if verbose else logging.WARNING)
    logging.captureWarnings(True)  # library warnings go through the redactor too
    return handler


def configure_cli_logging(config_file: str | None, *, verbose: bool, default_level: str) -> None:
    """``configure_logging`` for a ``sora-bot`` command, from its config file (``--config``,
    ``$SORA_BOT_CONFIG`` or ``./sora-bot.toml``) with every secret in it redacted.

    A configuration that does not load is left to the command to report (some commands
    need none): the logs then take the defaults."""
    try:
        settings: Settings | None = load_settings(config_file)
    except ConfigError:
        settings = None
    configure_logging(
        settings.logging if settings is not None else LoggingConfig(),
        secrets=secrets_in(settings) if settings is not None else (),
        verbose=verbose,
        default_level=default_level,
    )
