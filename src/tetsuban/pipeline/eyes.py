"""Eye detection with the Haar cascades that OpenCV ships, for alignment by eye position."""

from __future__ import annotations

import math
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
    if len(eyes) < 2:
        return None
    two = sorted(sorted(eyes, key=lambda e: -int(e[2]) * int(e[3]))[:2], key=lambda e: int(e[0]))
    centres = [(float(x + ex + ew / 2), float(y + ey + eh / 2)) for ex, ey, ew, eh in two]
    return EyeLine(left=centres[0], right=centres[1])
