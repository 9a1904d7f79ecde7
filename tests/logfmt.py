"""A strict logfmt reader for tests: what a log collector (Loki, Vector) would read back."""

from __future__ import annotations

import json
import re

_PAIR = re.compile(r'([A-Za-z0-9_.\-]+)=("(?:[^"\\]|\\.)*"|[^\s"=\\]*)(?:\s+|$)')


def parse_logfmt(line: str) -> dict[str, str]:
    """``key=value key="quoted \\"value\\""`` → a dict; ``ValueError`` if any part of the
    line is not a well-formed pair (so a badly quoted value cannot pass unnoticed)."""
    fields: dict[str, str] = {}
    position = 0
    while position < len(line):
        match = _PAIR.match(line, position)
        if match is None:
            raise ValueError(f"not logfmt at {position}: {line[position : position + 40]!r}")
        key, raw = match.groups()
        fields[key] = json.loads(raw) if raw.startswith('"') else raw
        position = match.end()
    if not fields:
        raise ValueError("empty line")
    return fields
