"""Common corruptions for the shift bench, in the style of ImageNet-C (Hendrycks and Dietterich, 2019): each family
turns a uint8 RGB image into a shifted copy at a severity from 1 (mild) to 5 (harsh). The settings are ours.

A corruption is applied to the source image at its own size (a 28-pixel fashion-mnist item, a 64-pixel emoji), so
the blur's radius is a share of the image's short side rather than a count of pixels. Randomness (the noise) comes
from the generator passed in: a shifted copy is the same on every run.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

SEVERITIES = (1, 2, 3, 4, 5)

Corruption = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]

_BLUR = (1 / 224, 2 / 224, 3 / 224, 4 / 224, 6 / 224)  # Gaussian sigma as a share of the short side (ImageNet-C's)
_JPEG = (25, 18, 15, 10, 7)  # quality
_NOISE = (0.06, 0.10, 0.15, 0.22, 0.32)  # standard deviation, on a 0-1 scale
_SATURATION = (0.6, 0.4, 0.25, 0.15, 0.08)  # saturation kept, with a hue turn of _HUE degrees
_HUE = (6, 12, 20, 30, 45)
_BRIGHTNESS = (0.1, 0.2, 0.3, 0.4, 0.5)  # added to HSV value, on a 0-1 scale
_CONTRAST = (0.6, 0.45, 0.3, 0.2, 0.12)  # share of the contrast around the mean kept


def _check_severity(severity: int) -> None:
    if severity not in SEVERITIES:
        raise ValueError(f"A severity is 1 to 5. Got {severity!r}.")


def _level(table: tuple[float, ...], severity: int) -> float:
    _check_severity(severity)
    return table[severity - 1]


def _rgb(img: np.ndarray) -> np.ndarray:
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"A corruption takes a uint8 (H, W, 3) image. Got {img.dtype} {img.shape}.")
    return img


def blur(img: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian blur, its sigma a share of the short side."""
    sigma = _level(_BLUR, severity) * min(_rgb(img).shape[:2])
    return cv2.GaussianBlur(img, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101)


def jpeg(img: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """JPEG compression at a low quality, decoded again."""
    quality = int(_level(_JPEG, severity))
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(_rgb(img), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("OpenCV could not encode the image as JPEG.")
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def noise(img: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Additive Gaussian noise, independent per pixel and channel."""
    scale = _level(_NOISE, severity) * 255
    noisy = _rgb(img).astype(np.float32) + rng.normal(0.0, scale, img.shape).astype(np.float32)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def colour(img: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Washed-out colours with a turned hue (a white-balance or a printing fault)."""
    hsv = cv2.cvtColor(_rgb(img), cv2.COLOR_RGB2HSV_FULL).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + _level(_HUE, severity) * 256 / 360) % 256
    hsv[..., 1] *= _level(_SATURATION, severity)
    return cv2.cvtColor(np.clip(np.rint(hsv), 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB_FULL)


def brightness(img: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Brighter: a share of full scale added to every pixel's HSV value (highlights clip)."""
    hsv = cv2.cvtColor(_rgb(img), cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 2] = np.clip(hsv[..., 2] + _level(_BRIGHTNESS, severity) * 255, 0, 255)
    return cv2.cvtColor(np.rint(hsv).astype(np.uint8), cv2.COLOR_HSV2RGB)


def contrast(img: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Flatter: every pixel pulled toward the image's mean."""
    pixels = _rgb(img).astype(np.float32)
    mean = pixels.mean(axis=(0, 1), keepdims=True)
    return np.clip(np.rint(mean + (pixels - mean) * _level(_CONTRAST, severity)), 0, 255).astype(np.uint8)


def greyscale(img: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """No colour at all (one severity: the others are the same)."""
    _check_severity(severity)
    grey = cv2.cvtColor(_rgb(img), cv2.COLOR_RGB2GRAY)
    return np.repeat(grey[..., None], 3, axis=2)


FAMILIES: dict[str, Corruption] = {
    "blur": blur,
    "jpeg": jpeg,
    "noise": noise,
    "colour": colour,
    "brightness": brightness,
    "contrast": contrast,
    "greyscale": greyscale,
}
