"""Status texts: escaping for each platform's markup, and the job status message.

Prompts and upstream messages are echoed back to the chat, so everything user- or
relay-supplied goes through :func:`escape`: no markup injection, and no ``@everyone`` ping
even if an adapter forgot ``AllowedMentions.none()``. Lengths are measured in UTF-16 code
units (what Telegram counts; never fewer than Discord's characters) so a rendered text
always fits the platform's limit.

The per-chat edit budget lives in :mod:`bot.status_board` (re-exported here).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from bot.models import Orientation
from bot.status_board import StatusBoard
from bot.texts import t
from bot.unicode import utf16_length, well_formed

__all__ = [
    "Markup",
    "Phase",
    "StatusBoard",
    "StatusView",
    "escape",
    "format_duration",
    "progress_bar",
    "render_caption",
    "render_status",
    "render_text",
    "text_length",
]

Markup = Literal["html", "markdown", "plain"]
Phase = Literal[
    "queued", "submitting", "generating", "downloading", "fitting", "uploading", "done", "failed"
]

ZERO_WIDTH_SPACE: Final = "\u200b"
ELLIPSIS: Final = "…"
MAX_REASON_CHARS: Final = 600  # an upstream error text must not crowd out the rest

# https://support.discord.com/hc/en-us/articles/210298617 (markdown): * _ ~ | > ` and masked
# links [text](url); a backslash escapes each. Headings and lists only start a line.
_MARKDOWN_SPECIAL: Final = re.compile(r"([\\*_~|>`\[\]])")
_MARKDOWN_LINE_START: Final = re.compile(r"(?m)^(\s*)([#-])")
_MARKDOWN_NUMBERED: Final = re.compile(r"(?m)^(\s*\d+)\.")
_MASS_MENTION: Final = re.compile(r"@(everyone|here)", re.IGNORECASE)
_DIRECT_MENTION: Final = re.compile(r"<(@[!&]?|#)(\d+)>")
_HTML_BOLD: Final = re.compile(r"</?b>")
_HTML_TAIL: Final = re.compile(r"(&[#\w]*|<[^>]*)$")

_PHASE_ICONS: Final[Mapping[str, str]] = {
    "queued": "⏳",
    "submitting": "📤",
    "generating": "🎞️",
    "downloading": "⬇️",
    "fitting": "🗜️",
    "uploading": "⏫",
    "done": "✅",
    "failed": "❌",
}
_PHASES_WITH_PERCENT: Final = frozenset({"generating", "downloading", "uploading"})


def escape(text: str, markup: Markup) -> str:
    """Make ``text`` show literally in ``markup``.

    ``html``: ``& < >`` as entities (Telegram ``parse_mode=HTML``). ``markdown`` (Discord):
    backslash before markdown characters, and a zero-width space breaks ``@everyone``,
    ``@here`` and ``<@123>``-style mentions. ``plain``: mentions broken the same way.
    """
    text = well_formed(text)
    if markup == "html":
        return html.escape(text, quote=False)
    text = _MASS_MENTION.sub("@" + ZERO_WIDTH_SPACE + r"\1", text)
    text = _DIRECT_MENTION.sub("<" + ZERO_WIDTH_SPACE + r"\1\2>", text)
    if markup == "markdown":
        text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
        text = _MARKDOWN_LINE_START.sub(r"\1\\\2", text)
        text = _MARKDOWN_NUMBERED.sub(r"\1\\.", text)
    return text


def text_length(text: str) -> int:
    """Length in UTF-16 code units: Telegram's measure, and never below Discord's."""
    return utf16_length(text)


def format_duration(seconds: float) -> str:
    """``m:ss``, or ``h:mm:ss`` from an hour on."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_bar(percent: int, width: int = 10) -> str:
    """``▰▰▰▰▱▱▱▱▱▱ 42%``; a cell fills only once it is fully reached."""
    clamped = min(100, max(0, percent))
    filled = math.floor(clamped * width / 100)
    return "▰" * filled + "▱" * (width - filled) + f" {clamped}%"


@dataclass(frozen=True)
class StatusView:
    """Everything the status message of one job shows at one moment."""

    prompt: str
    model: str
    seconds: int
    orientation: Orientation | str
    phase: Phase
    position: int | None = None  # place in the queue, 1-based
    percent: int | None = None
    elapsed: float = 0.0  # seconds since the job was accepted
    eta: float | None = None  # seconds still expected
    reason: str | None = None  # already localised, for ``failed``
    task_id: str | None = None  # upstream id worth telling (a cut chat stream)


def render_status(view: StatusView, locale: str | None, markup: Markup, limit: int) -> str:
    """The status message text, localised and escaped, never longer than ``limit``.

    The prompt is what gives way: it is cut with ``…`` until everything fits.
    """
    details = t(
        locale,
        "status.details",
        model=view.model,
        seconds=view.seconds,
        orientation=t(locale, f"orientation.{Orientation(view.orientation).value}"),
    )
    lines = [escape(details, markup), _phase_line(view, locale, markup)]
    if view.phase in ("done", "failed"):
        lines.append("⏱️ " + t(locale, "status.took", elapsed=format_duration(view.elapsed)))
    else:
        timing = t(locale, "status.elapsed", elapsed=format_duration(view.elapsed))
        if view.eta is not None:
            timing += " · " + t(locale, "status.eta", eta=format_duration(view.eta))
        lines.append("⏱️ " + timing)
    if view.task_id:
        lines.append(escape(t(locale, "task_id", task_id=view.task_id), markup))
    rest = "\n".join(lines)

    def build(prompt: str) -> str:
        return f"🎬 {_bold(escape(prompt, markup), markup)}\n{rest}"

    return _fit(build, view.prompt, limit, markup)


def render_text(
    locale: str | None,
    key: str,
    params: Mapping[str, object] | None = None,
    *,
    markup: Markup,
    limit: int | None = None,
    fit: str | None = None,
) -> str:
    """``t()`` escaped for ``markup``. With ``limit``, the parameter named ``fit`` (or, without
    one, the whole text) is cut with ``…`` so the result is at most ``limit`` long."""
    values = dict(params or {})

    def build(value: str) -> str:
        if fit is not None:
            values[fit] = value
        return escape(t(locale, key, **values), markup)

    if limit is None:
        return build(str(values.get(fit, "")) if fit else "")
    if fit is None:
        return _hard_cut(build(""), limit, markup)
    return _fit(build, str(values.get(fit, "")), limit, markup)


def render_caption(
    prompt: str,
    model: str,
    seconds: int,
    remaining: int | None,
    *,
    locale: str | None,
    markup: Markup,
    limit: int,
) -> str:
    """The caption of a delivered video; ``remaining=None`` for users without a limit."""
    params: dict[str, object] = {"prompt": prompt, "model": model, "seconds": seconds}
    key = "caption_unlimited" if remaining is None else "caption"
    if remaining is not None:
        params["remaining"] = remaining
    return render_text(locale, key, params, markup=markup, limit=limit, fit="prompt")


# --------------------------------------------------------------------------- helpers


def _phase_line(view: StatusView, locale: str | None, markup: Markup) -> str:
    if view.phase == "queued":
        text = (
            t(locale, "phase.queued", position=view.position)
            if view.position is not None
            else t(locale, "phase.queued_unknown")
        )
    elif view.phase == "failed":
        reason = view.reason or ""
        if len(reason) > MAX_REASON_CHARS:
            reason = reason[:MAX_REASON_CHARS].rstrip() + ELLIPSIS
        text = t(locale, "phase.failed", reason=reason).rstrip()
    else:
        text = t(locale, f"phase.{view.phase}")
    if view.percent is not None and view.phase in _PHASES_WITH_PERCENT:
        text += " " + progress_bar(view.percent)
    return f"{_PHASE_ICONS[view.phase]} {_bold(escape(text, markup), markup)}"


def _bold(text: str, markup: Markup) -> str:
    if not text or markup == "plain":
        return text
    return f"<b>{text}</b>" if markup == "html" else f"**{text}**"


def _fit(build: Callable[[str], str], value: str, limit: int, markup: Markup) -> str:
    """``build(value)``, or ``build`` of the longest prefix of ``value`` plus ``…`` that fits."""
    full = build(value)
    if text_length(full) <= limit:
        return full
    low, high = 0, len(value) - 1  # the longest prefix length known / not known to fit
    while low < high:
        middle = (low + high + 1) // 2
        if text_length(build(value[:middle].rstrip() + ELLIPSIS)) <= limit:
            low = middle
        else:
            high = middle - 1
    return _hard_cut(build(value[:low].rstrip() + ELLIPSIS), limit, markup)


def _hard_cut(text: str, limit: int, markup: Markup) -> str:
    """Last resort for absurdly small limits: cut, and never leave half an entity or tag."""
    if text_length(text) <= limit:
        return text
    units = well_formed(text).encode("utf-16-le")
    cut = units[: max(0, limit - 1) * 2].decode("utf-16-le", "ignore")
    if markup == "html":
        cut = _HTML_TAIL.sub("", _HTML_BOLD.sub("", cut))
    elif markup == "markdown":
        cut = cut.removesuffix("\\")
    return cut + ELLIPSIS
