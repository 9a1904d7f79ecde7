"""Text that every layer can encode: no lone UTF-16 surrogates.

A chat's or a relay's JSON may carry half of a surrogate pair (``"\\ud83d"``); Python
decodes it into a ``str`` that UTF-8 and UTF-16 refuse to encode, so SQLite, httpx and the
length checks of the status renderer all raise on it. Such text is made well formed once,
where it enters (an ``Invocation``, a relay's answer, a row written to storage), and the
lengths are measured in a way that cannot raise.
"""

from __future__ import annotations

REPLACEMENT = "\ufffd"


def well_formed(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD; a stray *pair* of surrogates
    (two code points) becomes the one character it encodes. Cheap when there is none."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units (Telegram's measure); a lone surrogate counts one."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2
