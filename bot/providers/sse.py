"""A lenient Server-Sent Events reader for chat-completion streams that carry JSON.

Relays frame their streams loosely (upstream-api.md §1.3), so this reader accepts more
than the SSE specification does:

- ``data:`` with or without the space after the colon;
- one payload spread over several lines, either as several ``data:`` lines (the spec's
  multi-line event) or as bare continuation lines after one ``data:`` line: seed 002's
  documentation pretty-prints each JSON chunk across lines. Lines are accumulated until the
  JSON parses; a payload that can no longer become valid JSON is dropped;
- the end marker ``data: [DONE]``, also when broken across lines (``[DONE`` then ``]``);
- a bare JSON object with no ``data:`` at all (a relay answering a plain JSON body);
- comment lines (``: PING`` keep-alives) and ``event:``/``id:``/``retry:`` fields, ignored.

httpx-sse follows the specification strictly (an unprefixed line is a field named after
its text), so it cannot survive the pretty-printed form; this module is small instead.
:class:`SSEJSONDecoder` is synchronous and line-fed (easy to test and benchmark);
:func:`iter_sse_json` drives it from lines, and :func:`iter_sse_lines` cuts the decoded
body into lines where SSE ends them — only at CR, LF or CRLF. (``httpx``'s
``aiter_lines()`` splits like ``str.splitlines``, also at U+2028, U+2029, U+0085, VT, FF
and U+001C–U+001E, which a JSON string may carry raw: the chunk would be lost.)
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

log = logging.getLogger(__name__)

JSONObject = dict[str, Any]

# A payload that has not parsed after this many characters is dropped, so a garbage stream
# cannot make us buffer without end.
MAX_PAYLOAD_CHARS = 1 << 20
_FIELD = re.compile(r"(event|id|retry)\s*:", re.IGNORECASE)
_LINE_END = re.compile(r"\r\n|\r|\n")  # https://html.spec.whatwg.org/#parsing-an-event-stream
_DONE = "[DONE]"


class SSEJSONDecoder:
    """Turn SSE lines into JSON objects; :attr:`done` once ``[DONE]`` has been read.

    Feed lines without their line terminator; :meth:`feed_line` returns the payloads that
    became complete with that line (usually zero or one), :meth:`close` the last one when
    the stream ends without a blank line.
    """

    def __init__(self) -> None:
        self._lines: list[str] = []  # the payload being accumulated, one entry per line
        self._chars = 0
        self._last_data_start = 0  # index in _lines of the latest ``data:`` line
        self.done = False

    def feed_line(self, line: str) -> list[JSONObject]:
        """Consume one line; return any JSON objects it completed."""
        if self.done:
            return []
        line = line.rstrip("\r\n")
        if line.startswith(":"):  # comment / keep-alive (": PING")
            return []
        if not line.strip():
            return self._end_of_event()
        if line.startswith("data:"):
            value = line[5:]
            return self._data_line(value[1:] if value.startswith(" ") else value)
        if _FIELD.match(line):
            return []
        if self._lines or line.lstrip().startswith(("{", "[")):
            # Parse where a pretty-printed value can end (its closing bracket in column 0)
            # or a one-line bare JSON body, not at every line: that would be quadratic.
            attempt = not self._lines or line.startswith(("}", "]"))
            return self._append(line, attempt=attempt)
        return []  # stray text outside any payload

    def close(self) -> list[JSONObject]:
        """The stream ended: settle whatever is still pending."""
        return self._end_of_event()

    # ------------------------------------------------------------------ internals

    def _data_line(self, value: str) -> list[JSONObject]:
        """A ``data:`` line: a new event, or the next line of a multi-line one."""
        out: list[JSONObject] = []
        if self._lines:
            parsed, unfinished = _parse(self._text())
            if parsed is not None or not unfinished:
                out = [parsed] if isinstance(parsed, dict) else []
                self._reset()  # the pending payload was complete (or hopeless)
            else:
                fresh, _ = _parse(value.strip())
                if isinstance(fresh, dict):
                    # a complete event after an unfinished one: the old one was garbage
                    log.debug("dropping an unfinished SSE payload (%d characters)", self._chars)
                    self._reset()
                    return [fresh]
        self._last_data_start = len(self._lines)
        return out + self._append(value, attempt=True)

    def _append(self, value: str, *, attempt: bool) -> list[JSONObject]:
        self._lines.append(value)
        self._chars += len(value) + 1
        if self._chars > MAX_PAYLOAD_CHARS:
            log.warning("SSE payload over %d characters never parsed; dropped", self._chars)
            self._reset()
            return []
        return self._settle(final=False) if attempt else []

    def _end_of_event(self) -> list[JSONObject]:
        if not self._lines:
            return []
        return self._settle(final=True)

    def _settle(self, *, final: bool) -> list[JSONObject]:
        """Parse the pending payload; keep it while it may still become valid JSON."""
        text = self._text()
        if _is_done(text, final=final):
            self.done = True
            self._reset()
            return []
        if text.upper().startswith("[DONE"):
            return []  # the broken ``[DONE`` form: its ``]`` is on a later line
        parsed, unfinished = _parse(text)
        if parsed is None and not unfinished and self._last_data_start > 0:
            # garbage followed by a fresh ``data:`` line: retry from that line alone
            recent = "\n".join(self._lines[self._last_data_start :]).strip()
            self._lines = self._lines[self._last_data_start :]
            self._chars = len(recent)
            self._last_data_start = 0
            if _is_done(recent, final=final):
                self.done = True
                self._reset()
                return []
            parsed, unfinished = _parse(recent)
        if parsed is not None:
            self._reset()
            return [parsed] if isinstance(parsed, dict) else []
        if unfinished and not final:
            return []
        if unfinished and text.startswith(("{", "[")):
            return []  # a blank line inside a pretty-printed payload: keep waiting
        if text:
            log.debug("dropping an SSE payload that is not JSON (%d characters)", len(text))
        self._reset()
        return []

    def _text(self) -> str:
        return "\n".join(self._lines).strip()

    def _reset(self) -> None:
        self._lines = []
        self._chars = 0
        self._last_data_start = 0


def _is_done(text: str, *, final: bool) -> bool:
    compact = "".join(text.split()).upper()
    return compact == _DONE or (final and compact == _DONE[:-1])


def _parse(text: str) -> tuple[Any, bool]:
    """``(value, False)`` when ``text`` is JSON; ``(None, unfinished)`` otherwise, where
    ``unfinished`` means the text is a valid prefix cut short (more lines may complete it)."""
    if not text:
        return None, True
    try:
        return json.loads(text), False
    except json.JSONDecodeError as exc:
        return None, exc.pos >= len(text)


async def iter_sse_lines(text: AsyncIterable[str]) -> AsyncIterator[str]:
    """The lines of an SSE body given as decoded text in arbitrary pieces (typically
    ``response.aiter_text()``), without their ends; a CRLF split between pieces is one end."""
    unfinished: list[str] = []  # pieces of the current line
    after_cr = False  # the previous piece ended with CR: a leading LF belongs to it
    async for piece in text:
        if after_cr and piece:
            after_cr = False
            if piece[0] == "\n":
                piece = piece[1:]
        start = 0
        for end in _LINE_END.finditer(piece):
            yield "".join(unfinished) + piece[start : end.start()]
            unfinished, start = [], end.end()
        if start < len(piece):
            unfinished.append(piece[start:])
        after_cr = after_cr or piece.endswith("\r")
    if unfinished:
        yield "".join(unfinished)


async def iter_sse_json(lines: AsyncIterable[str]) -> AsyncIterator[JSONObject]:
    """Yield each JSON object of an SSE stream; stop at ``[DONE]`` or the end of ``lines``.

    ``lines`` is typically ``iter_sse_lines(response.aiter_text())``. Transport errors
    propagate unchanged.
    """
    decoder = SSEJSONDecoder()
    async for line in lines:
        for payload in decoder.feed_line(line):
            yield payload
        if decoder.done:
            return
    for payload in decoder.close():
        yield payload
