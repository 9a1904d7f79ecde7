"""Secrets never reach the logs: a filter that replaces each configured one with ``<redacted>``.

``configure_logging`` installs one ``SecretRedactor`` on the root handler, so it sees every
record that is written, whichever library logged it: the message after formatting, the
extra fields, the traceback and the stack. Request URLs are where secrets most often turn up
(a Telegram token is part of every Bot API URL), so each secret's URL-quoted form is
replaced too.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote

from pydantic import BaseModel, SecretStr

from bot.config import Settings

REDACTED = "<redacted>"

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
STANDARD_ATTRIBUTES = frozenset(
    logging.LogRecord("", logging.INFO, "", 0, "", None, None).__dict__
) | {"message", "asctime", "taskName"}


def secrets_in(settings: Settings, environ: Mapping[str, str] | None = None) -> list[str]:
    """Every secret of the configuration: each ``SecretStr`` value (provider keys, the
    Telegram and Discord tokens, the webhook secret…) and the value of each provider's
    ``api_key_env`` variable."""
    env = os.environ if environ is None else environ
    found = _secret_values(settings)
    found.extend(env.get(p.api_key_env, "") for p in settings.providers if p.api_key_env)
    return sorted({s for s in found if s})


def _secret_values(value: object) -> list[str]:
    """The ``SecretStr`` values anywhere in a settings tree (so a new secret field is
    covered without being listed here)."""
    if isinstance(value, SecretStr):
        return [value.get_secret_value()]
    if isinstance(value, BaseModel):
        return [
            s for name in type(value).model_fields for s in _secret_values(getattr(value, name))
        ]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _secret_values(item)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _secret_values(item)]
    return []


class SecretRedactor(logging.Filter):
    """Replaces every secret in a log record (message, extra fields, traceback, stack)."""

    def __init__(self, secrets: Iterable[str], replacement: str = REDACTED) -> None:
        super().__init__()
        forms = {form for secret in secrets if secret for form in _forms(secret)}
        self._replacement = replacement
        # longest first, so a secret containing another is replaced whole
        alternatives = sorted(forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, alternatives))) if forms else None

    def redact(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(self._replacement, text)

    def filter(self, record: logging.LogRecord) -> bool:
        if self._pattern is None:
            return True
        record.msg = self.redact(_message(record))
        record.args = None
        if record.exc_info:
            # the traceback is rendered here, once, and only its redacted text is kept
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for name, value in list(vars(record).items()):
            if name in STANDARD_ATTRIBUTES or isinstance(value, bool | int | float | None):
                continue
            text = value if isinstance(value, str) else str(value)
            redacted = self.redact(text)
            if redacted != text:
                setattr(record, name, redacted)
        return True


def _forms(secret: str) -> set[str]:
    """The secret as written and as it appears in a URL."""
    return {secret, quote(secret, safe=""), quote(secret)}


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # arguments that do not fit the format: keep both, redacted
        return f"{record.msg!s} {record.args!r}"
