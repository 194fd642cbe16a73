"""A contact sheet of augmentations: each row one image, preprocessed, then augmented several times.

It shows the pixel steps (what a person can judge); normalize and whiten are left out, since they only rescale
values. Meaningless augmentations (a crop that loses the object, a flip that changes a digit) are easy to spot.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from tetsuban.files import write_atomic
from tetsuban.pipeline import ops
from tetsuban.pipeline.spec import Pipeline

GAP = 4


def contact_sheet(
    images: list[tuple[np.ndarray, str | None]], pipeline: Pipeline, augmented: int = 5, seed: int = 0, thumb: int = 112
) -> np.ndarray:
    """An RGB uint8 sheet: per row, the preprocessed image and ``augmented`` training-time versions of it."""
    rng = np.random.default_rng(seed)
    rows = []
    for img, label in images:
        cells = [pipeline.pixels(img, label=label)[0]]
        cells += [pipeline.pixels(img, rng, label, train=True)[0] for _ in range(augmented)]
        rows.append(_row([_fit(cell, thumb) for cell in cells]))
    width = max(r.shape[1] for r in rows)
    sheet = np.full((len(rows) * (thumb + GAP) + GAP, width, 3), 255, np.uint8)
    for index, row in enumerate(rows):
        top = GAP + index * (thumb + GAP)
        sheet[top : top + thumb, : row.shape[1]] = row
    return sheet


def write_png(path: Path, rgb: np.ndarray) -> None:
    """Write ``rgb`` as a PNG, atomically."""
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"could not encode the PNG for {path}")
    write_atomic(path, encoded.tobytes())


def _fit(img: np.ndarray, thumb: int) -> np.ndarray:
    """Letterbox ``img`` into a ``thumb`` x ``thumb`` white square."""
    h, w = img.shape[:2]
    scale = thumb / max(h, w)
    small = ops.resize(img, max(1, round(w * scale)), max(1, round(h * scale)))
    cell = np.full((thumb, thumb, 3), 255, np.uint8)
    top, left = (thumb - small.shape[0]) // 2, (thumb - small.shape[1]) // 2
    cell[top : top + small.shape[0], left : left + small.shape[1]] = small
    return cell


def _row(cells: list[np.ndarray]) -> np.ndarray:
    thumb = cells[0].shape[0]
    row = np.full((thumb, 3 * GAP + len(cells) * (thumb + GAP), 3), 255, np.uint8)  # a wider gap after the first
    for index, cell in enumerate(cells):
        left = GAP + index * (thumb + GAP) + (GAP * 2 if index else 0)
        row[:, left : left + thumb] = cell
    return row
