"""Pixel properties on real images: each one moves the way its name says."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.conftest import write_fashion_images
from tetsuban import decode
from tetsuban.pipeline import ops
from tetsuban.survey.properties import SURVEY_SIDE, hamming, phash, pixel_stats, tilt


def _photo(photos_dir: Path, name: str) -> np.ndarray:
    return decode(photos_dir / name, max_side=SURVEY_SIDE)


def test_levels_colour_and_faces(photos_dir: Path, fashion_dir: Path, tmp_path: Path) -> None:
    hubble, orange = (
        pixel_stats(_photo(photos_dir, "hubble_deep_field.jpg")),
        pixel_stats(_photo(photos_dir, "orange.jpg")),
    )
    assert hubble.brightness < 40 < 100 < orange.brightness
    assert orange.colourfulness > 3 * hubble.colourfulness
    assert pixel_stats(_photo(photos_dir, "astronaut.png")).faces == 1 and orange.faces == 0
    fashion = write_fashion_images(fashion_dir, tmp_path, 5)
    for png in fashion.rglob("*.png"):
        stats = pixel_stats(decode(png))
        assert stats.greyscale and stats.colourfulness < 1.0
    assert not orange.greyscale


def test_a_blurred_photo_is_less_sharp(photos_dir: Path) -> None:
    for name in ("building.jpg", "baboon.jpg", "squirrel_cls.jpg"):
        rgb = _photo(photos_dir, name)
        blurred = cv2.GaussianBlur(rgb, (0, 0), 3)
        assert pixel_stats(blurred).sharpness < 0.25 * pixel_stats(rgb).sharpness, name


@pytest.mark.parametrize("name", ["building.jpg", "starry_night.jpg"])
def test_turning_a_photo_turns_its_tilt_the_same_way(photos_dir: Path, name: str) -> None:
    rgb = _photo(photos_dir, name)
    center = (rgb.shape[1] / 2, rgb.shape[0] / 2)
    level = tilt(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    turned = {d: tilt(cv2.cvtColor(ops.rotate(rgb, d, center), cv2.COLOR_RGB2GRAY)) for d in (5.0, -8.0)}
    assert level is not None and all(t is not None for t in turned.values())
    assert turned[5.0] - level > 2.5  # type: ignore[operator]
    assert turned[-8.0] - level < -4.0  # type: ignore[operator]


def test_the_perceptual_hash_survives_small_changes_and_tells_photos_apart(photos_dir: Path) -> None:
    rgb = _photo(photos_dir, "squirrel_cls.jpg")
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=40)
    variants = [
        decode(buffer.getvalue()),
        ops.brightness_contrast(rgb, 0.05, 0.0),
        cv2.resize(rgb, (rgb.shape[1] // 2, rgb.shape[0] // 2), interpolation=cv2.INTER_AREA),
    ]
    original = phash(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    for variant in variants:
        assert hamming(original, phash(cv2.cvtColor(variant, cv2.COLOR_RGB2GRAY))) <= 6
    others = [p for p in sorted(photos_dir.iterdir()) if p.name != "squirrel_cls.jpg"]
    for other in others:
        assert hamming(original, phash(cv2.cvtColor(_photo(photos_dir, other.name), cv2.COLOR_RGB2GRAY))) >= 16
