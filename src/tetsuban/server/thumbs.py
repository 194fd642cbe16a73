"""Thumbnails for the grid: a JPEG per image content, made once into the project's cache."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from tetsuban.files import write_atomic
from tetsuban.imaging.decode import decode

THUMB_SIDE = 256
MAX_THUMB_BYTES = 4 * 1024 * 1024  # a 256-pixel JPEG is tens of kilobytes; anything larger is not ours


def thumbnail(cache: Path, sha256: str, image: Callable[[], bytes]) -> Path:
    """The cached thumbnail of the image (content ``sha256``, its bytes from ``image()``) under ``cache``, made when
    missing."""
    path = cache / "thumbs" / f"{sha256}.jpg"
    if not path.is_file():
        buffer = io.BytesIO()
        Image.fromarray(decode(image(), max_side=THUMB_SIDE)).save(buffer, "JPEG", quality=85)
        write_atomic(path, buffer.getvalue())
    return path
