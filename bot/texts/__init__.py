"""Every user-facing string, in English and Simplified Chinese.

``t(locale, key, **params)`` renders one text. Texts are plain: escape the result for the
platform's markup (``bot.status.render_text`` does both). A missing key or parameter is a
bug: under pytest (``PYTEST_CURRENT_TEST`` is set) it raises ``KeyError`` so tests catch it;
in production it is logged and the user still gets an answer, in English if need be, else
the bare key, with unfilled ``{placeholders}`` left as they are.
"""

from __future__ import annotations

import logging
import os
import string
from collections.abc import Mapping
from typing import Final, Literal

from bot.texts import en, zh

Locale = Literal["en", "zh"]

CATALOGS: Final[Mapping[Locale, Mapping[str, str]]] = {"en": en.TEXTS, "zh": zh.TEXTS}
KEYS: Final[frozenset[str]] = frozenset(en.TEXTS)

log = logging.getLogger(__name__)


def resolve_locale(locale: str | None, default: str = "en") -> Locale:
    """Map a platform's language tag onto a catalog.

    ``zh``, ``zh-CN``, ``zh_TW``, ``zh-hans``, ``zh_CN.UTF-8`` (a POSIX ``LANG``) → ``zh``;
    ``en``, ``en-US``… → ``en``; anything else (or nothing) → ``default``, itself resolved
    the same way and falling back to ``en``.
    """
    return _catalog_for(locale) or _catalog_for(default) or "en"


def _catalog_for(tag: str | None) -> Locale | None:
    language = (tag or "").strip().lower().replace("_", "-").split(".")[0].split("-")[0]
    if language in ("zh", "cn"):
        return "zh"
    if language == "en":
        return "en"
    return None


def placeholders(template: str) -> frozenset[str]:
    """The ``{names}`` a template uses."""
    return frozenset(
        field for _, field, _, _ in string.Formatter().parse(template) if field is not None
    )


def template(locale: str | None, key: str) -> str:
    """The raw template of ``key`` in ``locale``; raises ``KeyError`` if either catalog lacks it."""
    return CATALOGS[resolve_locale(locale)][key]


def t(locale: str | None, key: str, /, **params: object) -> str:
    """Render text ``key`` in the user's language, filling ``{placeholders}`` from ``params``.

    Never raises in production (see the module docstring); raises ``KeyError`` under pytest.
    """
    strict = "PYTEST_CURRENT_TEST" in os.environ
    resolved = resolve_locale(locale)
    raw = CATALOGS[resolved].get(key)
    if raw is None:
        if strict:
            raise KeyError(f"text {key!r} is missing in {resolved}")
        log.error("text %r is missing in %s", key, resolved)
        raw = CATALOGS["en"].get(key, key)
    missing = placeholders(raw) - params.keys()
    if missing:
        if strict:
            raise KeyError(f"text {key!r} needs {', '.join(sorted(missing))}")
        log.error("text %r rendered without %s", key, ", ".join(sorted(missing)))
    return raw.format_map(_KeepMissing(params))


class _KeepMissing(dict[str, object]):
    """Leaves an unfilled placeholder visible instead of raising."""

    def __missing__(self, name: str) -> str:
        return "{" + name + "}"
