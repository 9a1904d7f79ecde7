"""Check and shape a user's image for the ``videos`` wire format, with Pillow.

``input_reference`` must have exactly the resolution of ``size`` (upstream-api.md §1.1),
so the image is cover-cropped to that size. Blocking: callers use ``asyncio.to_thread``.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from bot.errors import InvalidRequest

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
JPEG_QUALITY = 90
_UNREADABLE = "image_unreadable"
_PIL_ERRORS = (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError)


def inspect_image(path: Path) -> tuple[int, int]:
    """``(width, height)`` of the JPEG/PNG/WebP/GIF at ``path`` (a GIF's first frame).

    The pixels are decoded, not just the header, so truncated files are refused too.
    Raises ``InvalidRequest("image_unreadable")`` for anything else.
    """
    try:
        with Image.open(path, formats=ACCEPTED_FORMATS) as image:
            image.load()
            return image.size
    except _PIL_ERRORS as exc:
        raise InvalidRequest(_UNREADABLE) from exc


def prepare_image(path: Path, width: int, height: int, dest: Path) -> Path:
    """Scale and centre-crop the image at ``path`` to exactly ``width``x``height`` as JPEG.

    The EXIF orientation of phone photos is applied first; transparency is flattened onto
    white (JPEG has no alpha, and black is what a plain RGB conversion would show).
    Returns ``dest``. Raises ``InvalidRequest("image_unreadable")`` if it cannot be read.
    """
    try:
        with Image.open(path, formats=ACCEPTED_FORMATS) as source:
            # JPEG can decode at 1/2, 1/4, 1/8 scale: never below what the crop needs.
            side = max(width, height)
            source.draft("RGB", (side, side))
            upright = ImageOps.exif_transpose(source) or source
            fitted = ImageOps.fit(
                _flatten(upright), (width, height), Image.Resampling.LANCZOS, centering=(0.5, 0.5)
            )
    except _PIL_ERRORS as exc:
        raise InvalidRequest(_UNREADABLE) from exc
    fitted.save(dest, format="JPEG", quality=JPEG_QUALITY)
    return dest


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, with any transparency composited onto white."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")
