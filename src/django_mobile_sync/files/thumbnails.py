"""Thumbnails of a tenant's images, for pages that show records' photos (the admin).

Needs Pillow: ``pip install "django-mobile-sync[files]"``. Without it (or for a file that is
not an image Pillow reads), :func:`thumbnail` answers ``None`` and the page shows a link.
"""

from __future__ import annotations

import io
from typing import Any

from .models import Blob
from .storage import files_storage

__all__ = ["MAX_SOURCE_BYTES", "thumbnail"]

#: Larger images are not decoded for a thumbnail (a hostile upload may be a decompression bomb).
MAX_SOURCE_BYTES = 30 * 1024 * 1024


def thumbnail(blob: Blob, size: int = 160) -> bytes | None:
    """A JPEG at most ``size`` pixels on its longer side, or ``None``."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        return None
    if not blob.content_type.startswith("image/") or blob.size > MAX_SOURCE_BYTES:
        return None
    try:
        with files_storage().open(blob.name, "rb") as handle:
            image: Any = Image.open(handle)
            if image.width * image.height > 64_000_000:
                return None
            image.draft("RGB", (size, size))  # JPEG: decode at a fraction of the size
            image.thumbnail((size, size))
            out = io.BytesIO()
            image.convert("RGB").save(out, "JPEG", quality=80)
            return out.getvalue()
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError):
        return None
