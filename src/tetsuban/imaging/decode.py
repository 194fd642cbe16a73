"""Decode any accepted image file to an RGB uint8 array, the same way everywhere.

One function, :func:`decode`, is what every stage uses to get pixels: it applies the EXIF orientation, turns
palette, alpha, grey, 16-bit and CMYK images into RGB by one set of rules, refuses decompression bombs before
allocating their pixels, and decodes large JPEGs at a reduced size when only a smaller size is needed.

Conversion rules:
- alpha (RGBA, LA, palette with transparency) is composited onto white;
- 16-bit values v become round(v / 257); 32-bit integer images are clipped to [0, 65535] first;
- float images are clipped to [0, 255];
- CMYK and every other mode go through Pillow's conversion to RGB;
- an animated image contributes its first frame.
"""

from __future__ import annotations

import io
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from tetsuban.errors import CorruptImage, EmptyFile, ImageTooLarge, NotAnImage, UnsupportedFormat

ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "GIF", "BMP", "TIFF", "WEBP", "PPM"})
DEFAULT_MAX_PIXELS = 100_000_000  # pixels an image may have: the decompression-bomb guard's default
_ORIENTATION_TAG = 0x0112
_WHITE = (255, 255, 255)


@dataclass(frozen=True)
class ImageInfo:
    """What the header and a full decode say about one image. Width and height are as displayed (EXIF applied)."""

    width: int
    height: int
    format: str
    mode: str
    orientation: int
    frames: int


def inspect_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Read the header of ``data`` and decode it once (at reduced size for JPEG) to prove it is whole.

    Raises an :class:`~tetsuban.errors.ImageError` subclass whose message is the reason to record.
    """
    if not data:
        raise EmptyFile("empty file (0 bytes)")
    with _open(io.BytesIO(data), max_pixels) as img:
        raw_w, raw_h = img.size
        if img.format in ("JPEG", "MPO"):
            img.draft("RGB", (max(1, raw_w // 8), max(1, raw_h // 8)))
        _load(img)  # before anything that may load lazily and hide a failure (PNG's getexif does)
        orientation = _orientation(img)
        info = ImageInfo(
            width=raw_h if orientation >= 5 else raw_w,
            height=raw_w if orientation >= 5 else raw_h,
            format=_format_name(img),
            mode=img.mode,
            orientation=orientation,
            frames=int(getattr(img, "n_frames", 1)),
        )
    return info


def decode(
    source: Path | bytes,
    max_side: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_side: int | None = None,
) -> np.ndarray:
    """Decode ``source`` to an RGB uint8 array of shape (H, W, 3), oriented as displayed.

    With ``max_side``, the result's longer side is at most ``max_side`` (never enlarged); JPEGs are then decoded
    by the codec at the smallest scale (1/2, 1/4, 1/8) that still covers the target, which is several times faster.
    With ``min_side`` instead, JPEGs are decoded at the smallest scale whose shorter side is still at least
    ``min_side``, and nothing is resized: for a pipeline whose first step resizes the shorter side to that size.
    """
    if isinstance(source, bytes):
        if not source:
            raise EmptyFile("empty file (0 bytes)")
        stream: io.BytesIO | Path = io.BytesIO(source)
    else:
        if source.stat().st_size == 0:
            raise EmptyFile(f"empty file (0 bytes): {source}")
        stream = source
    with _open(stream, max_pixels) as img:
        if max_side is not None and img.format in ("JPEG", "MPO"):
            scale = max_side / max(img.size)
            if scale < 1:
                img.draft("RGB", (max(1, int(img.size[0] * scale)), max(1, int(img.size[1] * scale))))
        elif min_side is not None and img.format in ("JPEG", "MPO"):
            scale = min_side / min(img.size)
            if scale < 1:
                img.draft("RGB", (math.ceil(img.size[0] * scale), math.ceil(img.size[1] * scale)))
        _load(img)
        rgb = _to_rgb(ImageOps.exif_transpose(img))
    if max_side is not None:
        rgb = resize_max_side(rgb, max_side)
    return rgb


def resize_max_side(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink ``rgb`` (H, W, C) so that its longer side is at most ``max_side``; area interpolation, never enlarges."""
    h, w = rgb.shape[:2]
    if max(h, w) <= max_side:
        return rgb
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def _open(stream: io.BytesIO | Path, max_pixels: int) -> Image.Image:
    """Open lazily (header only), refusing unknown formats and images over ``max_pixels`` before any pixel is read."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(stream)
    except Image.DecompressionBombError as exc:  # past Pillow's own ceiling, which lies above ours
        found = re.search(r"\((\d+) pixels\)", str(exc))
        raise ImageTooLarge(
            _too_large(f"{int(found.group(1)):,}" if found else "over 178,956,970", max_pixels)
        ) from exc
    except Image.UnidentifiedImageError as exc:
        raise NotAnImage("not an image: no known image format recognised in the bytes") from exc
    except Exception as exc:  # Pillow raises many types on hostile headers; each means the same to us
        raise CorruptImage(f"unreadable image header: {type(exc).__name__}: {exc}") from exc
    pixels = img.size[0] * img.size[1]
    if img.format not in ACCEPTED_FORMATS:
        img.close()
        accepted = ", ".join(sorted(ACCEPTED_FORMATS))
        raise UnsupportedFormat(f"unsupported image format {img.format}; accepted: {accepted}")
    if pixels > max_pixels:
        img.close()
        raise ImageTooLarge(_too_large(f"{img.size[0]}x{img.size[1]} = {pixels:,}", max_pixels))
    return img


def _too_large(pixels: str, max_pixels: int) -> str:
    return (
        f"too many pixels: {pixels}, more than the limit of {max_pixels:,} "
        "(a decompression-bomb guard: raise import.max_pixels in tetsuban.toml if the image is genuine)"
    )


def _load(img: Image.Image) -> None:
    try:
        img.load()
    except Exception as exc:  # truncated data, bad CRCs, broken codecs: all mean the file is damaged
        raise CorruptImage(f"corrupt or truncated image data: {type(exc).__name__}: {exc}") from exc


def _orientation(img: Image.Image) -> int:
    try:
        value = img.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # a broken EXIF block does not make the pixels unusable
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _format_name(img: Image.Image) -> str:
    return "JPEG" if img.format == "MPO" else str(img.format)


def _to_rgb(img: Image.Image) -> np.ndarray:
    """Apply the module's conversion rules; returns a C-contiguous (H, W, 3) uint8 array."""
    mode = img.mode
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        mode = img.mode
    if mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*_WHITE, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    if mode.startswith("I") or mode == "F":
        grey = _high_depth_to_uint8(np.asarray(img), mode)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img)


def _high_depth_to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    if mode == "F":
        return np.clip(values, 0, 255).astype(np.uint8)
    wide = np.clip(values.astype(np.int64), 0, 65535)
    return ((wide + 128) // 257).astype(np.uint8)
