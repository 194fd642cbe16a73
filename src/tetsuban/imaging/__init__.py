"""Pixels: safe decoding to RGB uint8 arrays, and pure operations on them."""

from __future__ import annotations

from tetsuban.imaging.decode import ImageInfo, decode, inspect_image

__all__ = ["ImageInfo", "decode", "inspect_image"]
