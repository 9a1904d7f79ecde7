"""Stream a finished video from a relay (or its CDN) to disk, checking it really is an MP4.

Relays answer the content endpoint with the MP4 bytes, but some answer JSON carrying a
link, an HTML proxy page, or an error inside a 200 (upstream-api.md §1.1). So the body is
trusted only when its Content-Type is not JSON/HTML/text *and* it starts with the ISO-BMFF
``ftyp`` box. The body is written chunk by chunk to a ``.part`` file and renamed at the
end: a 200 MB video never sits in memory, and a failed download leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Mapping
from pathlib import Path

import httpx

from bot.errors import ErrorCategory, ProviderError
from bot.media.probe import probe_video
from bot.models import VideoFile
from bot.providers.http import error_from_response, parse_error_body, transport_error

CHUNK_BYTES = 64 * 1024
_FTYP = b"ftyp"
_SNIFF_BYTES = 8  # box size (4 bytes) + box type (4 bytes)
_ERROR_BODY_LIMIT = 64 * 1024  # an error page is read only this far
_NOT_MEDIA_TYPES = ("json", "html", "text/", "xml")
# An expired signed link or asset answers one of these rather than a clean 404
# (upstream-api.md §1.1: "502 when the upstream asset expired").
_EXPIRED_STATUSES = frozenset({403, 404, 410, 502})


async def save_stream(response: httpx.Response, dest: Path, *, max_bytes: int) -> int:
    """Write the body of an open streaming ``response`` to ``dest``; return its size in bytes.

    The body goes to ``dest.with_suffix('.part')`` in ``CHUNK_BYTES`` pieces and is renamed
    to ``dest`` only once complete and checked. Raises ``ProviderError``: TRANSIENT for a
    cut connection, a timeout or a body over ``max_bytes``; GENERATION_FAILED when the body
    is not an MP4. On any failure (cancellation included) the partial file is removed.
    """
    content_type = response.headers.get("content-type", "").lower()
    if any(marker in content_type for marker in _NOT_MEDIA_TYPES):
        raise await _not_an_mp4(response, content_type)
    declared = _content_length(response)
    if declared is not None and declared > max_bytes:
        raise _too_large(max_bytes)

    part = dest.with_suffix(".part")
    written = 0
    head = b""
    try:
        with part.open("wb") as sink:
            async for chunk in response.aiter_bytes(CHUNK_BYTES):
                written += len(chunk)
                if written > max_bytes:
                    raise _too_large(max_bytes)
                if len(head) < _SNIFF_BYTES:
                    head += chunk[:_SNIFF_BYTES]
                    if len(head) >= _SNIFF_BYTES and head[4:8] != _FTYP:
                        raise _not_mp4_bytes()
                await asyncio.to_thread(sink.write, chunk)
        if len(head) < _SNIFF_BYTES:
            raise _not_mp4_bytes()
        if declared is not None and written != declared and not _is_encoded(response):
            raise ProviderError(
                ErrorCategory.TRANSIENT,
                f"video download: connection closed after {written} of {declared} bytes",
            )
        await asyncio.to_thread(os.replace, part, dest)
    except httpx.HTTPError as exc:  # cut connection, read timeout, protocol or decoding error
        _remove(part)
        raise transport_error(exc, "video download") from exc
    except BaseException:
        _remove(part)
        raise
    return written


async def download_video(
    client: httpx.AsyncClient,
    url: str,
    dest_dir: Path,
    *,
    headers: Mapping[str, str] | None = None,
    max_bytes: int,
    timeout: float = 120.0,  # noqa: ASYNC109 - one budget for the whole download, by API
) -> VideoFile:
    """GET ``url`` into a new uniquely named ``.mp4`` in ``dest_dir`` and probe it.

    Redirects are followed (CDN links usually redirect). ``timeout`` bounds the whole
    download, not each read: new-api cuts a proxied download at 60 s anyway. Errors:
    404/410 and 403/502 → ``ProviderError(EXPIRED)`` (an expired asset or signed link);
    other statuses through ``error_from_response``; timeouts and transport failures →
    TRANSIENT, described without the URL or headers (they may carry signatures or keys).
    A body that passes the MP4 checks but cannot be decoded raises ``MediaError``.
    """
    await asyncio.to_thread(dest_dir.mkdir, parents=True, exist_ok=True)
    dest = dest_dir / f"{uuid.uuid4().hex}.mp4"
    try:
        async with asyncio.timeout(timeout):
            async with client.stream(
                "GET", url, headers=dict(headers or {}), follow_redirects=True
            ) as response:
                if not response.is_success:
                    raise await _status_error(response)
                await save_stream(response, dest, max_bytes=max_bytes)
    except TimeoutError as exc:
        raise ProviderError(
            ErrorCategory.TRANSIENT, f"video download: no complete answer within {timeout:g} s"
        ) from exc
    except httpx.HTTPError as exc:
        raise transport_error(exc, "video download") from exc
    try:
        return await asyncio.to_thread(probe_video, dest)
    except BaseException:  # MediaError or cancellation: keep no unusable file around
        _remove(dest)
        raise


async def _status_error(response: httpx.Response) -> ProviderError:
    """The ``ProviderError`` for a non-2xx answer, reading at most ``_ERROR_BODY_LIMIT``."""
    body = await _read_prefix(response, _ERROR_BODY_LIMIT)
    error = error_from_response(response, body)
    if response.status_code in _EXPIRED_STATUSES:
        return ProviderError(
            ErrorCategory.EXPIRED,
            error.message,
            status=error.status,
            code=error.code,
            retry_after=error.retry_after,
        )
    return error


async def _not_an_mp4(response: httpx.Response, content_type: str) -> ProviderError:
    """Explain a JSON/HTML/text answer in a few words, quoting the relay's own message."""
    body = await _read_prefix(response, 4096)
    code, message = parse_error_body(body)
    detail = f" ({code}: {message})" if code else (f" ({message[:200]})" if message else "")
    kind = content_type.split(";")[0].strip() or "no content type"
    return ProviderError(
        ErrorCategory.GENERATION_FAILED,
        f"expected an MP4 video but the server sent {kind}{detail}",
        status=response.status_code,
        code=code,
    )


def _not_mp4_bytes() -> ProviderError:
    return ProviderError(
        ErrorCategory.GENERATION_FAILED,
        "the downloaded file is not an MP4 video (no 'ftyp' box at the start)",
    )


def _too_large(max_bytes: int) -> ProviderError:
    megabytes = f"{max_bytes / 1_000_000:.1f}".rstrip("0").rstrip(".")
    return ProviderError(
        ErrorCategory.TRANSIENT, f"the video is larger than the {megabytes} MB download limit"
    )


async def _read_prefix(response: httpx.Response, limit: int) -> bytes:
    """Up to ``limit`` bytes of a streaming body; a broken body just ends the prefix early."""
    buffer = bytearray()
    with contextlib.suppress(httpx.HTTPError):
        async for chunk in response.aiter_bytes(CHUNK_BYTES):
            buffer += chunk
            if len(buffer) >= limit:
                break
    return bytes(buffer[:limit])


def _content_length(response: httpx.Response) -> int | None:
    try:
        value = int(response.headers.get("content-length", ""))
    except ValueError:
        return None
    return value if value >= 0 else None


def _is_encoded(response: httpx.Response) -> bool:
    """With gzip/br encoding, Content-Length counts compressed bytes, not what we wrote."""
    return response.headers.get("content-encoding", "identity").lower() not in ("", "identity")


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
