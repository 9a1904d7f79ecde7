"""Hypothesis strategies for the abuse suite: what a hostile or careless user might type.

Text is built from fragments that are known to hurt chat bots — mass and direct mentions
of both platforms, HTML and Discord markdown, flags of ``/sora``, control characters,
bidi overrides, zero-width characters, NUL, non-characters and astral code points — mixed
with arbitrary Unicode. Surrogate code points are left out: they cannot be encoded, so no
platform can deliver them, and Python strings from JSON or UTF-8 never hold them.
"""

from __future__ import annotations

from typing import Final

from hypothesis import strategies as st

MENTIONS: Final = (
    "@everyone",
    "@here",
    "@EVERYONE",
    "@@here",
    "<@123456789012345678>",
    "<@!42>",
    "<@&987654321>",
    "<#555>",
    "@alice",
    "@sora_test_bot",
    "＠everyone",
)
MARKUP: Final = (
    "<b>",
    "</b>",
    "<i>x</i>",
    '<a href="tg://user?id=1">x</a>',
    "<script>alert(1)</script>",
    "<",
    ">",
    "&",
    "&amp;",
    "&lt;b&gt;",
    "&#60;",
    "**",
    "__",
    "*",
    "_",
    "~~",
    "||",
    "`",
    "```",
    "```py\n",
    "[click](https://evil.test/)",
    "![p](https://evil.test/p.png)",
    "# ",
    "## ",
    "-# ",
    "- ",
    "> ",
    ">>> ",
    "1. ",
    "\\",
    "\\*",
    "<t:0:R>",
    "</sora:1>",
    "{prompt}",
    "{0}",
    "%s",
    "https://x.test/?a=1&b=<2>",
)
FLAGS: Final = (
    "--",
    "-",
    "--model",
    "-m",
    "--seconds",
    "-s",
    "--duration=",
    "--orientation",
    "-o",
    "--provider",
    "--landscape",
    "--portrait",
    "--横屏",
    "—model",
    "––seconds",
    "－－seconds",
    "--model=",
    "--seconds=0",
    "12",
    "１２",
    "12s",
    "9:16",
    "-5",
    "=",
    "wide",
)
QUOTA_WORDS: Final = (
    "me",
    "show",
    "set",
    "add",
    "reset",
    "default",
    "history",
    "设置",
    "42",
    "０",
    "1000000",
    "1000001",
    "+5",
    "-1",
)
SINGLE_CHARACTERS: Final = (
    # control characters, NUL, DEL, NEL, line and paragraph separators
    "\x00\x01\x07\x08\t\n\x0b\x0c\r\x1b\x1c\x1f\x7f\x85\u2028\u2029"
    # bidi marks, embeddings, overrides and isolates; zero-width and invisible characters
    "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    "\u2060\ufeff\u061c\u00ad\u034f\u180e"
    # replacement, non-characters, astral, combining, tags, full-width, odd spaces, dashes
    "\ufffd\ufffe\uffff\U0001f600\U0001f1fa\U0001f1f8\u0301\U000e0041\U0010fffd"
    "\u3000\u00a0\uff10\uff11—–－"
)

ANY_CHARACTER: Final = st.characters(exclude_categories=("Cs",))


def _fragments() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(MENTIONS + MARKUP + FLAGS),
        st.sampled_from(list(SINGLE_CHARACTERS)),
        st.text(ANY_CHARACTER, max_size=12),
    )


def nasty_text(max_fragments: int = 24) -> st.SearchStrategy[str]:
    """Fragments glued together with nothing, a space or a newline between them."""
    return st.builds(
        lambda parts, glue: glue.join(parts),
        st.lists(_fragments(), max_size=max_fragments),
        st.sampled_from(("", " ", "\n", " \u200b ")),
    )


def quota_text() -> st.SearchStrategy[str]:
    """``/quota`` arguments: its own words and user tokens, plus the nasty fragments."""
    word = st.one_of(st.sampled_from(QUOTA_WORDS + MENTIONS), _fragments())
    return st.lists(word, max_size=6).map(" ".join)


def huge_text(length: int = 100_000) -> st.SearchStrategy[str]:
    """Exactly ``length`` characters: a nasty sample repeated (a 100k-char paste)."""
    seed = nasty_text(8).map(lambda sample: sample or "@everyone ")
    return seed.map(lambda sample: (sample * (length // len(sample) + 1))[:length])
