"""Eye detection with the Haar cascades that OpenCV ships, for alignment by eye position."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from tetsuban.pipeline import ops


@dataclass(frozen=True)
class EyeLine:
    """The centres of the two eyes, left-most first, in pixel coordinates (x, y)."""

    left: tuple[float, float]
    right: tuple[float, float]

    @property
    def angle(self) -> float:
        """Degrees the eye line is turned from horizontal (positive: the right eye is lower)."""
        return math.degrees(math.atan2(self.right[1] - self.left[1], self.right[0] - self.left[0]))

    @property
    def center(self) -> tuple[float, float]:
        return ((self.left[0] + self.right[0]) / 2, (self.left[1] + self.right[1]) / 2)


@lru_cache(maxsize=1)
def _cascades() -> tuple[cv2.CascadeClassifier, cv2.CascadeClassifier]:
    folder = Path(cv2.data.haarcascades)  # type: ignore[attr-defined]
    face = cv2.CascadeClassifier(str(folder / "haarcascade_frontalface_default.xml"))
    eye = cv2.CascadeClassifier(str(folder / "haarcascade_eye.xml"))
    if face.empty() or eye.empty():
        raise RuntimeError(f"OpenCV's Haar cascades are missing from {folder}; install opencv-python-headless<5.")
    return face, eye


def find_faces(img: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Frontal faces in ``img`` (uint8 RGB) at least 1/8 of its shorter side: (x, y, width, height) boxes."""
    return _faces(_equalized_luma(img))


def _equalized_luma(img: np.ndarray) -> np.ndarray:
    return cv2.equalizeHist(ops.grey(img)[:, :, 0])


def _faces(luma: np.ndarray) -> list[tuple[int, int, int, int]]:
    side = min(luma.shape)
    found = _cascades()[0].detectMultiScale(luma, scaleFactor=1.1, minNeighbors=5, minSize=(side // 8, side // 8))
    return [(int(x), int(y), int(w), int(h)) for x, y, w, h in found]


def find_eyes(img: np.ndarray) -> EyeLine | None:
    """The eyes of the largest frontal face in ``img`` (uint8 RGB), or None when no face with two eyes is found."""
    eye_cascade = _cascades()[1]
    luma = _equalized_luma(img)
    faces = _faces(luma)
    if not faces:
        return None
    x, y, w, h = max(faces, key=lambda f: f[2] * f[3])
    upper = luma[y : y + h // 2 + h // 8, x : x + w]
    eyes = eye_cascade.detectMultiScale(upper, scaleFactor=1.1, minNeighbors=5, minSize=(w // 10, w // 10))
    return eye_line((x, y), [(int(ex), int(ey), int(ew), int(eh)) for ex, ey, ew, eh in eyes])


def eye_line(origin: tuple[int, int], boxes: Sequence[tuple[int, int, int, int]]) -> EyeLine | None:
    """The eye line from the eye cascade's (x, y, width, height) boxes, found in a face whose top-left corner is
    ``origin``: the centres of the two largest boxes, left-most first; None with fewer than two boxes."""
    if len(boxes) < 2:
        return None
    two = sorted(sorted(boxes, key=lambda b: -b[2] * b[3])[:2], key=lambda b: b[0])
    left, right = ((origin[0] + bx + bw / 2, origin[1] + by + bh / 2) for bx, by, bw, bh in two)
    return EyeLine(left=left, right=right)
