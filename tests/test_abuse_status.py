"""Abuse suite: status messages, captions and notices against arbitrary, hostile input.

For any prompt, model name, upstream task id or failure reason, in both languages:

- the text fits the platform's limit after escaping (status: 4,096 on Telegram, 2,000 on
  Discord; caption: 1,024);
- Telegram HTML parses with :mod:`html.parser` to the renderer's own ``<b>`` tags only,
  balanced, with only the entities ``html.escape`` writes;
- Discord markdown has no unescaped markup character except the renderer's own ``**``, no
  line that starts a heading, list or quote, and no live ``@everyone``/``@here``, user,
  role or channel mention (plain text: no live mention either);
- what the reader sees is what was typed (mentions broken by a zero-width space), or its
  beginning with ``…``.

On Telegram a ``@username`` in a prompt stays as typed: Telegram has no mass mention, and
the echo can only name someone the requester named already.
"""

from __future__ import annotations

import html
import re
from dataclasses import replace
from html.parser import HTMLParser

from hypothesis import event, given
from hypothesis import strategies as st

from bot.models import Orientation
from bot.status import (
    ELLIPSIS,
    ZERO_WIDTH_SPACE,
    Markup,
    StatusView,
    escape,
    render_caption,
    render_status,
    render_text,
    text_length,
)
from tests.abuse_strategies import huge_text, nasty_text

PLATFORMS: tuple[tuple[Markup, int, int], ...] = (
    ("html", 4096, 1024),  # Telegram: message, caption
    ("markdown", 2000, 1024),  # Discord (a caption is message content there)
    ("plain", 4096, 1024),  # the console
)
PHASES = ("queued", "submitting", "generating", "downloading", "fitting", "uploading")
PHASES += ("done", "failed")
LIVE_MENTION = re.compile(r"@(?:everyone|here)|<@[!&]?\d+>|<#\d+>", re.IGNORECASE)
ENTITY = re.compile(r"&(?!(?:amp|lt|gt|quot);)")  # an ampersand that starts no entity
MARKDOWN_SPECIAL = frozenset("\\*_~|`[]>")
MARKDOWN_BLOCK_START = re.compile(r"^\s*(?:#|-|\d+\.)")

prompts = st.one_of(nasty_text(), huge_text(), st.text(max_size=400).filter(str.strip))
short = nasty_text(6)
views = st.builds(
    StatusView,
    prompt=prompts,
    model=short,
    seconds=st.integers(0, 10**6),
    orientation=st.sampled_from(list(Orientation)),
    phase=st.sampled_from(PHASES),
    position=st.none() | st.integers(-5, 10**6),
    percent=st.none() | st.integers(-1000, 1000),
    elapsed=st.floats(0, 1e7),
    eta=st.none() | st.floats(0, 1e7),
    reason=st.none() | nasty_text() | huge_text(5000),
    task_id=st.none() | short | huge_text(300),
)
locales = st.sampled_from(("en", "zh", None))
platforms = st.sampled_from(PLATFORMS)


class _TagAudit(HTMLParser):
    """Every tag, comment and declaration the parser finds; nesting of ``<b>`` checked."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.depth = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "b" or attrs or self.depth:
            self.problems.append(f"start {tag} {attrs} at depth {self.depth}")
        self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        self.depth -= 1
        if tag != "b" or self.depth < 0:
            self.problems.append(f"end {tag}")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.problems.append(f"self-closing {tag}")

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        self.problems.append("comment")

    def handle_decl(self, decl: str) -> None:
        self.problems.append("declaration")

    def handle_pi(self, data: str) -> None:
        self.problems.append("processing instruction")

    def unknown_decl(self, data: str) -> None:
        self.problems.append("unknown declaration")


def assert_valid(text: str, markup: Markup) -> str:
    """Check ``text`` is well-formed for ``markup`` and injects nothing; return what a
    reader sees (markup removed, escapes resolved)."""
    if markup == "html":
        audit = _TagAudit()
        audit.feed(text)
        audit.close()
        assert not audit.problems and audit.depth == 0, audit.problems
        assert not ENTITY.search(text), "a bare & would be read as an entity"
        bare = re.sub(r"</?b>", "", text)
        assert "<" not in bare and ">" not in bare
        visible = html.unescape(bare)
        assert visible == "".join(audit.text)
        return visible
    assert not LIVE_MENTION.search(text), text
    if markup == "plain":
        return text
    unescaped = re.sub(r"\\.", "", text, flags=re.DOTALL).replace("**", "")
    assert not MARKDOWN_SPECIAL & set(unescaped), unescaped
    for line in text.split("\n"):
        assert not MARKDOWN_BLOCK_START.match(line), line
    visible = re.sub(r"\\(.)|\*\*", lambda m: m.group(1) or "", text, flags=re.DOTALL)
    assert not LIVE_MENTION.search(visible)
    return visible


def assert_shows(shown: str, typed: str, markup: Markup) -> None:
    """``shown`` is ``typed`` (mentions broken off-Telegram), or its beginning plus ``…``."""
    if markup != "html":
        assert shown == typed or shown.endswith(ELLIPSIS)
        shown, typed = shown.replace(ZERO_WIDTH_SPACE, ""), typed.replace(ZERO_WIDTH_SPACE, "")
    if shown != typed:
        assert shown.endswith(ELLIPSIS), shown[-50:]
        assert typed.startswith(shown.removesuffix(ELLIPSIS))


@given(view=views, locale=locales, platform=platforms)
def test_status_is_valid_fits_and_shows_what_was_typed(
    view: StatusView, locale: str | None, platform: tuple[Markup, int, int]
) -> None:
    markup, limit, _ = platform
    text = render_status(view, locale, markup, limit)

    assert 0 < text_length(text) <= limit
    visible = assert_valid(text, markup)
    # Everything below the prompt line, rendered alone; unless the text had to be cut
    # there too (a huge task id), the prompt line is what remains above it.
    empty = render_status(replace(view, prompt=""), locale, markup, 10**9)
    below = assert_valid(empty, markup).split("\n", 1)[1]
    event("prompt line checked" if visible.endswith("\n" + below) else "cut below the prompt")
    if visible.endswith("\n" + below):
        shown = visible.removeprefix("🎬 ")[: -len(below) - 1]
        assert_shows(
            shown, view.prompt if markup == "html" else escape(view.prompt, "plain"), markup
        )


@given(
    prompt=prompts,
    model=short,
    seconds=st.integers(0, 10**6),
    remaining=st.none() | st.integers(-(10**6), 10**9),
    locale=locales,
    platform=platforms,
)
def test_caption_is_valid_fits_and_shows_what_was_typed(
    prompt: str,
    model: str,
    seconds: int,
    remaining: int | None,
    locale: str | None,
    platform: tuple[Markup, int, int],
) -> None:
    markup, _, limit = platform
    caption = render_caption(
        prompt, model, seconds, remaining, locale=locale, markup=markup, limit=limit
    )

    assert 0 < text_length(caption) <= limit
    visible = assert_valid(caption, markup)
    typed = prompt if markup == "html" else escape(prompt, "plain")
    # below the prompt come our own words ("model · 8s · 3 credits left"), rendered alone
    empty = render_caption("", model, seconds, remaining, locale=locale, markup=markup, limit=10**9)
    below = assert_valid(empty, markup)
    event("prompt checked" if visible.endswith(below) else "cut below the prompt")
    if visible.endswith(below):
        assert_shows(visible[: -len(below)], typed, markup)


@given(
    reason=st.one_of(nasty_text(), huge_text(5000)),
    key=st.sampled_from(("failed.content_policy", "failed.transient", "failed.bad_request")),
    locale=locales,
    platform=platforms,
)
def test_failure_notice_is_valid_and_fits(
    reason: str, key: str, locale: str | None, platform: tuple[Markup, int, int]
) -> None:
    markup, limit, _ = platform
    text = render_text(locale, key, {"message": reason}, markup=markup, limit=limit, fit="message")

    assert 0 < text_length(text) <= limit
    assert_valid(text, markup)


@given(
    text=st.one_of(nasty_text(), huge_text(20_000)),
    markup=st.sampled_from(("html", "markdown", "plain")),
)
def test_escape_hides_nothing_and_adds_nothing(text: str, markup: Markup) -> None:
    """Escaping is lossless: the reader sees exactly the input, mentions broken."""
    escaped = escape(text, markup)
    visible = assert_valid(escaped, markup)
    assert visible == (text if markup == "html" else escape(text, "plain"))
    assert visible.replace(ZERO_WIDTH_SPACE, "") == text.replace(ZERO_WIDTH_SPACE, "")


@given(
    view=views,
    locale=locales,
    markup=st.sampled_from(("html", "markdown", "plain")),
    limit=st.integers(1, 64),
)
def test_absurdly_small_limits_still_give_valid_text(
    view: StatusView, locale: str | None, markup: Markup, limit: int
) -> None:
    text = render_status(view, locale, markup, limit)
    assert text_length(text) <= limit
    if markup == "html":
        assert_valid(text, markup)
    else:
        assert not LIVE_MENTION.search(text)
