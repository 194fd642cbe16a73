"""Near-duplicates up to a recolouring: the same picture with some of its regions painted another colour (an
emoji's skin tones, a re-tinted product shot), which a luma hash cannot see.

Two steps, both on a 64x64 colour thumbnail:

1. :func:`edge_hash`: where the picture has strong colour edges, as 256 bits. Recolouring a region moves none of
   its edges, so the variants of one picture hash within a few bits of each other: candidate pairs.
2. :func:`residuals`: how much of each image's local colour variation no affine colour map of the other explains
   (8x8 windows, stride 4, the worse of both directions). A recolouring is affine in every window, anti-aliased
   edges included; a changed shape is not. ``bench/recolour_study.py`` measured the threshold on the emoji: at
   0.025 it links 99.4% of skin-tone pairs, and 97.0% of what it links is the same emoji (up to gender, which
   Noto draws as nearly the same picture).
"""

from __future__ import annotations

import cv2
import numpy as np

RECOLOUR_VERSION = 1  # raise when the thumbnail or the residual changes: every pair is compared again
THUMB_SIDE = 64
EDGE_DISTANCE = 24  # of 256 bits: candidate pairs
MAX_RESIDUAL = 0.025  # share of local colour variance unexplained: confirmed pairs
COPY_RESIDUAL = 0.03  # a perceptual-hash copy of a colour image must be this close to a recolouring too
_WINDOW, _STRIDE, _RIDGE = 8, 4, 1e-4
_STRONG_EDGE = 0.15  # a pixel is on an edge when its colour gradient is above this share of the image's largest
_CHUNK = 512  # pairs per vectorized step: bounds the memory (about 40 MB a chunk)


def thumbnail(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` squeezed to THUMB_SIDE x THUMB_SIDE (area averaging), uint8."""
    return cv2.resize(rgb, (THUMB_SIDE, THUMB_SIDE), interpolation=cv2.INTER_AREA)


def edge_hash(thumb: np.ndarray) -> str:
    """256 bits as 64 hex digits: the 16x16 cells whose share of strong colour edges is above the median cell's."""
    channels = cv2.split(thumb.astype(np.float32))
    gradients = [cv2.magnitude(cv2.Sobel(c, cv2.CV_32F, 1, 0), cv2.Sobel(c, cv2.CV_32F, 0, 1)) for c in channels]
    magnitude = np.max(gradients, axis=0)
    strong = (magnitude > _STRONG_EDGE * magnitude.max()).astype(np.float32)
    cells = cv2.resize(strong, (16, 16), interpolation=cv2.INTER_AREA).ravel()
    median = float(np.median(cells))
    bits = cells > median if median > 0 else cells > 0
    return f"{int(''.join('1' if b else '0' for b in bits), 2):064x}"


def residuals(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """For thumbnails ``first[i]`` and ``second[i]`` (n, 64, 64, 3) uint8: the share of local colour variance that
    an affine recolouring of one cannot explain in the other, the worse direction; 0 for a pure recolouring."""
    out = [np.zeros(0, np.float32)]
    for start in range(0, len(first), _CHUNK):
        a = _centred_windows(first[start : start + _CHUNK])
        b = _centred_windows(second[start : start + _CHUNK])
        out.append(np.maximum(_unexplained(a, b), _unexplained(b, a)))
    return np.concatenate(out)


def _centred_windows(thumbs: np.ndarray) -> np.ndarray:
    """(n, windows, 64 pixels, 3) float32, each window minus its mean colour."""
    x = thumbs.astype(np.float32) / 255
    n, h, w, c = x.shape
    starts = [(i, j) for i in range(0, h - _WINDOW + 1, _STRIDE) for j in range(0, w - _WINDOW + 1, _STRIDE)]
    windows = np.stack([x[:, i : i + _WINDOW, j : j + _WINDOW].reshape(n, -1, c) for i, j in starts], axis=1)
    return windows - windows.mean(axis=2, keepdims=True)


def _unexplained(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per pair: the share of ``target``'s windowed colour variance left by the best (ridge) affine map of
    ``source`` in each window."""
    k = source.shape[2]
    s_ss = np.einsum("nwki,nwkj->nwij", source, source, optimize=True) / k
    s_st = np.einsum("nwki,nwkj->nwij", source, target, optimize=True) / k
    t_var = (target * target).sum(axis=(2, 3)) / k
    maps = np.linalg.solve(s_ss + _RIDGE * np.eye(3, dtype=np.float32), s_st)
    left = (t_var - np.einsum("nwij,nwij->nw", s_st, maps)).clip(min=0)
    return (left.sum(axis=1) / np.maximum(t_var.sum(axis=1), 1e-9)).astype(np.float32)
