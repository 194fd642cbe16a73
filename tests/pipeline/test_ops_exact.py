"""The image operations and random draws do exactly what they say: each checked against a small computation here,
and each random draw against the range and spread it promises (found by mutation testing: see
bench/results/mutation.md)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from tetsuban.pipeline import ops
from tetsuban.pipeline.transforms import BrightnessContrast, HFlip, RandomResizedCrop, Whiten

images = arrays(np.uint8, st.tuples(st.integers(8, 48), st.integers(8, 48), st.just(3)))


def _crops(step: RandomResizedCrop, h: int, w: int, draws: int = 3000) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    img = np.zeros((h, w, 3), np.uint8)
    found = [step.sample(rng, img, None) for _ in range(draws)]
    return {key: np.array([p[key] for p in found], np.float64) for key in ("top", "left", "height", "width")}


def test_random_resized_crop_draws_cover_areas_aspects_and_places() -> None:
    """Areas from the minimum to nearly the whole image, aspect ratios across the range and symmetric in log,
    windows placed anywhere they fit (both edges reached, centred on average), and the whole image only rarely.
    The image is square, so that wide and tall windows fit equally often."""
    h, w, min_area = 100, 100, 0.3
    c = _crops(RandomResizedCrop(32, min_area, (3 / 4, 4 / 3)), h, w)
    area = c["height"] * c["width"] / (h * w)
    aspect = c["width"] / c["height"]
    assert area.min() >= min_area and area.min() < min_area + 0.02 and area.max() > 0.9
    assert 0.55 < area.mean() < 0.7  # uniform in area, less the draws that do not fit
    assert aspect.min() < 0.78 and aspect.max() > 1.28 and abs(np.log(aspect).mean()) < 0.03
    assert ((aspect > 0.73) & (aspect < 1.37)).all()  # the range, give or take a rounded pixel
    for start, size, whole in (("top", "height", h), ("left", "width", w)):
        room = whole - c[size]
        placed = room > 0
        assert (c[start] >= 0).all() and (c[start] <= room).all()
        share = c[start][placed] / room[placed]
        assert share.min() == 0 and (c[start] == room)[placed].any() and abs(share.mean() - 0.5) < 0.03
    assert np.mean(area == 1.0) < 0.01  # the fallback to the whole image is the exception
    drawn = area < 1.0
    assert (c["width"][drawn] == w).any() and (c["height"][drawn] == h).any()  # a window may span a whole side
    tops, lefts = c["top"] / np.maximum(h - c["height"], 1), c["left"] / np.maximum(w - c["width"], 1)
    for a, b in ((tops, lefts), (np.log(aspect), tops), (np.log(aspect), lefts), (area, tops), (area, aspect)):
        assert abs(np.corrcoef(a[drawn], b[drawn])[0, 1]) < 0.1  # each from a draw of its own


def test_random_resized_crop_falls_back_to_the_whole_image_when_nothing_fits() -> None:
    c = _crops(RandomResizedCrop(8, 0.9, (4.0, 5.0)), 10, 10, draws=50)  # a 4:1 window of 90% cannot fit a square
    assert (c["top"] == 0).all() and (c["left"] == 0).all() and (c["height"] == 10).all() and (c["width"] == 10).all()


def test_brightness_and_contrast_draws_are_uniform_independent_and_in_range() -> None:
    step = BrightnessContrast(0.3, 0.1)
    rng = np.random.default_rng(1)
    img = np.zeros((4, 4, 3), np.uint8)
    draws = [step.sample(rng, img, None) for _ in range(3000)]
    b = np.array([d["brightness"] for d in draws])
    c = np.array([d["contrast"] for d in draws])
    for values, limit in ((b, 0.3), (c, 0.1)):
        assert values.min() >= -limit and values.max() <= limit
        assert values.min() < -0.95 * limit and values.max() > 0.95 * limit and abs(values.mean()) < 0.03 * limit
    assert abs(np.corrcoef(b, c)[0, 1]) < 0.06  # two draws, not one used twice


def test_hflip_draws_flip_with_their_probability_and_apply_mirrors() -> None:
    rng = np.random.default_rng(2)
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    step = HFlip(0.3)
    flips = [step.sample(rng, img, None)["flip"] for _ in range(4000)]
    assert abs(np.mean(flips) - 0.3) < 0.03
    assert HFlip(0.0).sample(rng, img, None) == {"flip": False} and HFlip(1.0).sample(rng, img, None) == {"flip": True}
    assert np.array_equal(step.apply(img, {"flip": True}), img[:, ::-1]) and step.apply(img, {"flip": False}) is img


@given(img=images)
def test_hflip_mirrors_left_to_right_only(img: np.ndarray) -> None:
    assert np.array_equal(ops.hflip(img), img[:, ::-1])


def test_brightness_shifts_every_value_and_contrast_scales_around_the_mean_level() -> None:
    rng = np.random.default_rng(3)
    img = rng.integers(40, 200, (64, 64, 3), dtype=np.uint8)
    assert np.array_equal(ops.brightness_contrast(img, 0.2, 0.0), img + 51)  # 0.2 x 255, no value clipped
    pivot = img[::8, ::8].mean()  # the mean level, from every 8th row and column as documented
    scaled = ops.brightness_contrast(img, 0.0, 0.5).astype(np.float64)
    assert np.abs(scaled - np.clip(pivot + 1.5 * (img - pivot), 0, 255)).max() <= 0.5
    assert ops.brightness_contrast(np.full((8, 8, 3), 250, np.uint8), 0.5, 0.0).max() == 255  # clipped, not wrapped
    ramp = np.arange(100, dtype=np.uint8).reshape(10, 10, 1).repeat(3, axis=2)
    assert (ops.brightness_contrast(ramp, 0.1, 0.0).astype(int) - ramp).mean() == pytest.approx(25.5, abs=0.01)
    assert (ops.brightness_contrast(ramp, 1.0, 0.0) == 255).all()  # the largest shift: white
    doubled = ops.brightness_contrast(img, 0.0, 1.0).astype(np.float64)  # the largest contrast: twice as far
    assert np.abs(doubled - np.clip(pivot + 2.0 * (img - pivot), 0, 255)).max() <= 0.5
    assert ops.brightness_contrast(np.full((8, 8, 3), 5, np.uint8), -0.5, 0.0).min() == 0


def test_grey_is_the_luma_of_each_pixel_in_every_channel() -> None:
    primaries = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [0, 0, 0]]], np.uint8)
    grey = ops.grey(primaries)
    assert grey.dtype == np.uint8 and (grey == grey[:, :, :1]).all()
    assert grey[0, :, 0].tolist() == [round(0.299 * 255), round(0.587 * 255), round(0.114 * 255), 255, 0]


def _step(horizontal: bool) -> np.ndarray:
    img = np.zeros((16, 16, 3), np.uint8)
    if horizontal:
        img[8:] = 200
    else:
        img[:, 8:] = 200
    return img


def test_edges_are_the_gradient_magnitude_scaled_to_255_whatever_their_direction() -> None:
    across, down = ops.extract_edges(_step(False)), ops.extract_edges(_step(True))
    assert across.max() == 255 and down.max() == 255 and across.dtype == np.uint8
    assert np.array_equal(across[:, :, 0], down[:, :, 0].T)  # a horizontal edge as strong as a vertical one
    assert (across[:, :6] == 0).all() and (across[:, 10:] == 0).all() and (across[:, 7:9] > 0).all()
    assert (across == across[:, :, :1]).all()


def test_edges_keep_the_ratio_of_their_strengths_and_a_ramp_is_one_steady_edge() -> None:
    img = np.zeros((16, 32, 3), np.uint8)
    img[:, 8:] = 40  # a weak edge at column 8 ...
    img[:, 24:] = 200  # ... and one four times as strong at column 24
    edges = ops.extract_edges(img)[:, :, 0].astype(float)
    assert edges[:, 23:25].max() == 255 and edges[:, 7:9].max() == pytest.approx(255 / 4, abs=1)
    for ramp in (np.tile(np.arange(0, 128, 4, dtype=np.uint8), (32, 1)), np.tile(np.arange(0, 128, 4), (32, 1)).T):
        steady = ops.extract_edges(np.repeat(ramp.astype(np.uint8)[:, :, None], 3, axis=2))[2:-2, 2:-2, 0]
        assert (steady == 255).all()  # a first derivative: the same all along a ramp, in either direction


def test_enhancing_edges_overshoots_both_sides_of_an_edge_and_leaves_flat_parts() -> None:
    img = np.full((16, 32, 3), 100, np.uint8)
    img[:, 16:] = 150
    sharp = ops.enhance_edges(img, 1.0, 1.0).astype(int)
    assert sharp[:, 15].max() < 100 and sharp[:, 16].min() > 150  # darker before the edge, brighter after it
    assert (sharp[:, :8] == 100).all() and (sharp[:, 24:] == 150).all()
    wider = ops.enhance_edges(img, 1.0, 3.0).astype(int)
    assert (wider[:, 12] < 100).all() and (sharp[:, 12] == 100).all()  # a wider blur reaches further
    dot = np.full((21, 21, 3), 100, np.uint8)
    dot[10, 10] = 200
    around = ops.enhance_edges(dot, 1.0, 1.5).astype(int)[:, :, 0]
    assert np.array_equal(around, around.T) and around[8, 10] < 100  # blurred in both directions alike
    assert np.array_equal(ops.enhance_edges(img, 0.0, 1.0), img)


def test_rotation_turns_counter_clockwise_about_the_centre_and_replicates_the_border() -> None:
    rng = np.random.default_rng(4)
    img = rng.integers(0, 256, (9, 9, 3), dtype=np.uint8)
    assert np.array_equal(ops.rotate(img, 90, (4.0, 4.0)), np.rot90(img))
    bright = np.full((20, 30, 3), 200, np.uint8)
    turned = ops.rotate(bright, 30, (15.0, 10.0))
    assert turned.shape == bright.shape and (turned == 200).all()  # corners filled from the edge, not black


def test_whitening_fitted_on_pixels_gives_them_zero_mean_and_unit_covariance() -> None:
    rng = np.random.default_rng(5)
    mixing = np.array([[1.0, 0.6, 0.2], [0.0, 1.0, 0.5], [0.0, 0.0, 0.3]])
    pixels = rng.normal(0.5, 0.1, (20_000, 3)) @ mixing.T
    mean, matrix = ops.fit_whitening(pixels, eps=1e-9)
    assert np.allclose(mean, pixels.mean(axis=0)) and np.allclose(matrix, matrix.T)
    white = (pixels - mean) @ matrix.T
    assert np.allclose(np.cov(white, rowvar=False), np.eye(3), atol=1e-3)
    eps = 1e-2  # eps damps the smallest directions: their variance ends below one
    damped = (pixels - mean) @ ops.fit_whitening(pixels, eps=eps)[1].T
    assert np.linalg.eigvalsh(np.cov(damped, rowvar=False)).min() < 0.9


def test_whiten_of_uint8_and_of_float_images_agree() -> None:
    img = np.random.default_rng(6).integers(0, 256, (6, 6, 3), dtype=np.uint8)
    mean, matrix = (0.4, 0.5, 0.6), ((2.0, 0.1, 0.0), (0.1, 2.0, 0.0), (0.0, 0.0, 3.0))
    from_bytes = ops.whiten(img, mean, matrix)
    from_floats = ops.whiten(img.astype(np.float64) / 255.0, mean, matrix)
    assert from_bytes.dtype == from_floats.dtype == np.float32 and np.allclose(from_bytes, from_floats, atol=1e-6)
    expected = (img.reshape(-1, 3) / 255.0 - np.asarray(mean)) @ np.asarray(matrix).T
    assert np.allclose(from_bytes.reshape(-1, 3), expected, atol=1e-5)


def test_normalize_of_uint8_and_of_float_images_agree() -> None:
    """Bytes are scaled to [0, 1] first (through a table, for speed), floats (a user's, or what whiten made) are
    taken as they are; both give (x - mean) / std per channel in float32."""
    img = np.random.default_rng(9).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    from_bytes = ops.normalize(img, mean, std)
    from_floats = ops.normalize(img.astype(np.float32) / np.float32(255.0), mean, std)
    expected = (img / 255.0 - np.asarray(mean)) / np.asarray(std)
    assert from_bytes.dtype == from_floats.dtype == np.float32
    assert np.allclose(from_bytes, expected, atol=1e-5) and np.allclose(from_floats, expected, atol=1e-5)
    batch = np.stack([img, img[::-1]])  # bytes of another shape than one image's (a batch) take the formula
    assert np.array_equal(ops.normalize(batch, mean, std), np.stack([from_bytes, from_bytes[::-1]]))


@settings(max_examples=20, deadline=None)
@given(st.floats(1e-6, 1e-2))
def test_a_whiten_step_fits_on_bytes_as_on_unit_floats(eps: float) -> None:
    pixels = np.random.default_rng(7).integers(0, 256, (500, 3), dtype=np.uint8)
    on_bytes = Whiten(eps).fit(pixels)
    on_floats = Whiten(eps).fit(pixels.astype(np.float64) / 255.0)
    assert np.allclose(on_bytes.matrix, on_floats.matrix, rtol=1e-6) and on_bytes.eps == eps
    expected = ops.fit_whitening(pixels / 255.0, eps)[1]
    assert np.allclose(np.asarray(on_bytes.matrix), expected, rtol=1e-6)


@pytest.mark.parametrize("ratio", [(0.5, 0.5), (2.0, 2.0)])
def test_a_fixed_aspect_ratio_is_kept(ratio: tuple[float, float]) -> None:
    c = _crops(RandomResizedCrop(16, 0.2, ratio), 200, 200, draws=300)
    drawn = c["width"] * c["height"] < 200 * 200  # not the fallback to the whole image (ten misses in a row)
    assert drawn.mean() > 0.95
    assert (np.abs(c["width"] - ratio[0] * c["height"])[drawn] <= 1 + ratio[0]).all()  # a rounded pixel each
    assert not math.isclose(float(np.ptp(c["height"][drawn])), 0.0)  # sizes still vary


def test_a_table_applies_to_images_of_any_memory_layout_and_tables_of_any_integer_type() -> None:
    img = np.random.default_rng(8).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    table = np.arange(256)[::-1]  # int64 values, in reverse
    for view in (img, img[:, ::-1], img.transpose(1, 0, 2), np.asfortranarray(img)):
        got = ops.apply_table(view, table)
        assert got.dtype == np.uint8 and np.array_equal(got, 255 - view)


def test_a_crop_window_must_lie_inside_the_image() -> None:
    """Windows that touch each edge or are one pixel thin are cut exactly; one that starts before the image, is
    empty or runs past its bottom or right edge is refused, whichever of its sides is wrong."""
    img = np.arange(6 * 8 * 3, dtype=np.uint8).reshape(6, 8, 3)
    for top, left, height, width in ((0, 0, 6, 8), (5, 7, 1, 1), (2, 3, 4, 5), (0, 7, 6, 1), (5, 0, 1, 8)):
        assert np.array_equal(ops.crop(img, top, left, height, width), img[top : top + height, left : left + width])
    for window in ((-1, 0, 2, 2), (0, -1, 2, 2), (0, 0, 0, 2), (0, 0, 2, 0), (5, 0, 2, 2), (0, 7, 2, 2), (1, 1, 6, 2)):
        with pytest.raises(ValueError, match="outside a 6x8 image"):
            ops.crop(img, *window)
        with pytest.raises(ValueError, match="outside a 6x8 image"):
            ops.resized_crop(img, *window, 4)


def test_a_centre_crop_cuts_the_middle_and_enlarges_only_a_smaller_image() -> None:
    img = np.random.default_rng(14).integers(0, 256, (30, 41, 3), dtype=np.uint8)
    assert np.array_equal(ops.center_crop(img, 20), img[5:25, 10:30])  # (30 - 20) // 2 and (41 - 20) // 2
    assert np.array_equal(ops.center_crop(img, 30), img[:, 5:35])  # the short side as it is: no resize
    enlarged = ops.center_crop(img, 40)
    assert enlarged.shape == (40, 40, 3)
    assert np.array_equal(enlarged, ops.center_crop(ops.resize_short_side(img, 40), 40))


@pytest.mark.parametrize(
    ("size", "area"),
    [((20, 16), True), ((21, 15), True), ((40, 15), True), ((21, 16), False), ((60, 40), False)],
)
def test_resize_averages_areas_when_either_side_shrinks_by_half_or_more(size: tuple[int, int], area: bool) -> None:
    """From 40 x 30 (width x height): area interpolation when the width or the height is halved or less (no
    aliasing), bilinear otherwise; the size asked for is the size given. (Both halved at once, the two methods
    agree: each averages 2 x 2 pixels.)"""
    img = np.random.default_rng(15).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    out = ops.resize(img, *size)
    method = cv2.INTER_AREA if area else cv2.INTER_LINEAR
    assert out.shape == (size[1], size[0], 3) and np.array_equal(out, cv2.resize(img, size, interpolation=method))
    other = cv2.INTER_LINEAR if area else cv2.INTER_AREA
    assert not np.array_equal(out, cv2.resize(img, size, interpolation=other))  # the two differ here
