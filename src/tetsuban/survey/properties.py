"""Per-image properties from pixels: pure functions on an RGB uint8 array, surveyed at a fixed size.

Every image is surveyed with its longer side reduced to at most ``SURVEY_SIDE`` pixels, so that sharpness and
tilt, which depend on scale, compare across a project of mixed sizes.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from tetsuban.imaging.decode import resize_max_side
from tetsuban.pipeline.eyes import find_faces
from tetsuban.store.survey import PixelStats
from tetsuban.survey.recolour import edge_hash, thumbnail

SURVEY_SIDE = 512
_GREY_SPREAD = 12  # channel spread (max - min) below which a pixel counts as grey
_GREY_SHARE = 0.01  # an image is greyscale when fewer than this share of its pixels are coloured
_MAX_TILT = 15.0  # degrees from an axis that a line may lie and still tell the camera's roll
_FACE_SIDE = 256  # faces are looked for at this size: a face smaller than 1/8 of it is not counted


def pixel_stats(rgb: np.ndarray) -> PixelStats:
    """Every pixel property of ``rgb`` (H, W, 3) uint8, already reduced to the survey size."""
    luma = luma_of(rgb)
    return PixelStats(
        brightness=float(luma.mean()),
        contrast=float(luma.std()),
        colourfulness=colourfulness(rgb),
        greyscale=is_greyscale(rgb),
        sharpness=sharpness(luma),
        tilt=tilt(luma),
        faces=len(find_faces(resize_max_side(rgb, _FACE_SIDE))),
        phash=phash(luma),
        fingerprint=fingerprint(luma),
        edge_hash=edge_hash(thumbnail(rgb)),
    )


def luma_of(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma as uint8 (H, W)."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler and Suesstrunk (2003): spread and mean of the opponent channels R-G and (R+G)/2-B."""
    r, g, b = (rgb[:, :, i].astype(np.float32) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean()))


def is_greyscale(rgb: np.ndarray) -> bool:
    """Whether (nearly) every pixel has equal channels: a grey photo saved as RGB counts as grey."""
    r, g, b = cv2.split(rgb)
    spread = cv2.subtract(cv2.max(cv2.max(r, g), b), cv2.min(cv2.min(r, g), b))
    coloured = int(np.count_nonzero(spread > _GREY_SPREAD))
    return coloured < _GREY_SHARE * spread.size


def sharpness(luma: np.ndarray) -> float:
    """Variance of the Laplacian: low for blurred images (compare within one survey size)."""
    return float(cv2.Laplacian(luma, cv2.CV_64F).var())


def tilt(luma: np.ndarray) -> float | None:
    """Degrees the image is turned counter-clockwise, from its long straight lines: near-vertical ones first
    (verticals stay vertical in most photographs), else near-horizontal ones. None without such lines."""
    h, w = luma.shape
    edges = cv2.Canny(cv2.GaussianBlur(luma, (3, 3), 0), 50, 150)
    lines = cv2.HoughLinesP(
        edges, 1, math.pi / 360, threshold=40, minLineLength=max(8, min(h, w) // 4), maxLineGap=max(2, min(h, w) // 50)
    )
    if lines is None:
        return None
    segments = lines[:, 0, :].astype(np.float64)
    dx, dy = segments[:, 2] - segments[:, 0], -(segments[:, 3] - segments[:, 1])  # image y grows downwards
    length = np.hypot(dx, dy)
    from_horizontal = np.degrees(np.arctan2(dy, dx))
    from_horizontal = (from_horizontal + 90.0) % 180.0 - 90.0  # a line has no direction: fold into [-90, 90)
    from_vertical = np.where(from_horizontal >= 0, from_horizontal - 90.0, from_horizontal + 90.0)
    for deviation in (from_vertical, from_horizontal):
        near = np.abs(deviation) <= _MAX_TILT
        if near.any():
            return _weighted_median(deviation[near], length[near])
    return None


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def phash(luma: np.ndarray) -> str:
    """Perceptual hash: the signs of the 8x8 lowest DCT frequencies (but the mean) of a 32x32 reduction."""
    small = cv2.resize(luma, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].ravel()
    bits = low > np.median(low[1:])
    return f"{int(''.join('1' if b else '0' for b in bits), 2):016x}"


def fingerprint(luma: np.ndarray) -> bytes:
    """The luma reduced to 16x16 (area), as 256 bytes."""
    return cv2.resize(luma, (16, 16), interpolation=cv2.INTER_AREA).tobytes()


def likeness(a: bytes, b: bytes) -> float:
    """Correlation of two fingerprints (each normalized to zero mean and unit spread): 1 for the same picture."""
    x, y = (np.frombuffer(f, np.uint8).astype(np.float64) for f in (a, b))
    x, y = x - x.mean(), y - y.mean()
    denominator = math.sqrt(float(x @ x) * float(y @ y))
    return float(x @ y / denominator) if denominator > 0 else float(np.array_equal(a, b))


def hamming(a: str, b: str) -> int:
    """Bits that differ between two hashes of :func:`phash`."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
