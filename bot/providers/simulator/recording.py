"""Every request the simulator sees, recorded for tests: what a client really sent.

The body is parsed once here (JSON, or multipart form fields with file parts described
but not kept) and handed to the handlers. The ``Authorization`` value is never recorded,
only whether it was right.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from PIL import Image, UnidentifiedImageError

from bot.providers.simulator.jobs import FilePart


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as it reached the simulator."""

    method: str
    path: str  # decoded: an id with ':' reads as sent by the user
    raw_path: str  # as on the wire, query included: shows whether ':' was URL-encoded
    query: dict[str, str]
    content_type: str | None
    authorized: bool
    json: Any = None  # the parsed JSON body, if it was JSON
    form: dict[str, str | FilePart] | None = None  # multipart/urlencoded fields
    text: str | None = None  # any other body, decoded leniently
    body_error: str | None = field(default=None, repr=False)  # why JSON did not parse


async def capture(request: web.Request, *, authorized: bool) -> RecordedRequest:
    """Read and describe ``request``; aiohttp caches the body, so handlers can read it again."""
    content_type = request.content_type if request.body_exists else None
    json_body: Any = None
    form: dict[str, str | FilePart] | None = None
    text: str | None = None
    error: str | None = None
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = {}
        for name, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                data = value.file.read()
                form[name] = FilePart(
                    value.filename, value.content_type, len(data), image_size(data)
                )
            else:
                form[name] = str(value)
    elif request.body_exists:
        raw = await request.read()
        try:
            json_body = json.loads(raw)
        except ValueError as exc:
            text = raw.decode("utf-8", "replace")
            error = str(exc)
    return RecordedRequest(
        method=request.method,
        path=request.path,
        raw_path=request.raw_path,
        query=dict(request.query),
        content_type=content_type,
        authorized=authorized,
        json=json_body,
        form=form,
        text=text,
        body_error=error,
    )


def image_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` of an image, or ``None`` when it is not one Pillow can read."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    return width, height


def describe_image_url(url: str) -> FilePart | str:
    """A ``data:`` URL becomes a ``FilePart`` (decoded size and resolution); a link stays."""
    if not url.startswith("data:"):
        return url
    header, _, payload = url.partition(",")
    mime = header[5:].split(";", 1)[0] or None
    try:
        data = base64.b64decode(payload, validate=False) if ";base64" in header else b""
    except (binascii.Error, ValueError):
        data = b""
    return FilePart("inline", mime, len(data), image_size(data))
