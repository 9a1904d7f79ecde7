"""Keep secrets out of discord.py's logs: the bot token and the interaction tokens.

An interaction token lets anyone answer (and post as the bot in) that channel for 15
minutes; discord.py's debug logs carry it in webhook URLs and in every
``INTERACTION_CREATE`` payload. The bot token itself is not logged by discord.py today; the
filter covers it anyway, should that change.
"""

from __future__ import annotations

import logging
import re
from typing import Final

# Loggers of discord.py that print URLs or gateway payloads (a filter on a logger applies
# to the records logged through it, not to its children's).
DISCORD_LOGGERS: Final = (
    "discord.client",
    "discord.gateway",
    "discord.http",
    "discord.shard",
    "discord.state",
    "discord.webhook.async_",
)
_TOKEN_IN_URL: Final = re.compile(r"(/(?:webhooks|interactions)/\d+/)[^/\s?'\"]+")
_TOKEN_IN_PAYLOAD: Final = re.compile(r"""(['"]token['"]:\s*['"])[^'"]+""")


class SecretRedactor(logging.Filter):
    """Rewrites a record's message with ``<token>`` in place of any token."""

    def __init__(self, bot_token: str) -> None:
        super().__init__()
        self._bot_token = bot_token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _TOKEN_IN_URL.sub(r"\1<token>", message)
        redacted = _TOKEN_IN_PAYLOAD.sub(r"\1<token>", redacted)
        if self._bot_token:
            redacted = redacted.replace(self._bot_token, "<token>")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True

    def install(self) -> None:
        for name in DISCORD_LOGGERS:
            logging.getLogger(name).addFilter(self)

    def remove(self) -> None:
        for name in DISCORD_LOGGERS:
            logging.getLogger(name).removeFilter(self)
