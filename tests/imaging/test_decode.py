"""decode and inspect_image on real photos and hostile files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from tests import hostile
from tetsuban.errors import CorruptImage, EmptyFile, ImageTooLarge, NotAnImage, UnsupportedFormat
from tetsuban.imaging.decode import decode, inspect_image, resize_max_side


def test_jpeg_decodes_to_rgb_uint8(photos_dir: Path) -> None:
    rgb = decode(photos_dir / "squirrel_cls.jpg")
    with Image.open(photos_dir / "squirrel_cls.jpg") as img:
        assert rgb.shape == (img.height, img.width, 3)
    assert rgb.dtype == np.uint8 and rgb.flags.c_contiguous


def test_reduced_decode_matches_full_decode_then_resize(photos_dir: Path) -> None:
    path = photos_dir / "building.jpg"
    full = resize_max_side(decode(path), 128)
    reduced = decode(path, max_side=128)
    assert reduced.shape == full.shape
    assert max(reduced.shape[:2]) == 128
    diff = np.abs(reduced.astype(int) - full.astype(int))
    assert diff.mean() < 4.0, diff.mean()


def test_min_side_decodes_jpeg_reduced_but_keeps_the_shorter_side(photos_dir: Path) -> None:
    path = photos_dir / "hubble_deep_field.jpg"  # 1000 x 872: a 1/2 scale still covers 300, a 1/4 does not
    rgb = decode(path, min_side=300)
    assert rgb.shape == (436, 500, 3)
    assert decode(path, min_side=900).shape == decode(path).shape  # no scale covers it: full size, not enlarged
    assert decode(photos_dir / "coffee.png", min_side=100).shape == (400, 600, 3)  # only JPEG has reduced decode


def test_max_side_never_enlarges(photos_dir: Path) -> None:
    rgb = decode(photos_dir / "orange.jpg", max_side=100_000)
    assert rgb.shape == decode(photos_dir / "orange.jpg").shape


def test_exif_orientation_is_applied(photos_dir: Path, tmp_path: Path) -> None:
    path = hostile.exif_rotated_jpeg(photos_dir / "fruits.jpg", tmp_path / "rotated.jpg")
    info = inspect_image(path.read_bytes())
    assert (info.width, info.height, info.orientation) == (80, 120, 6)
    rgb = decode(path)
    assert rgb.shape == (120, 80, 3)
    stored = np.asarray(Image.open(path).convert("RGB"))
    # orientation 6: the stored picture turned 90 degrees clockwise
    assert np.abs(rgb.astype(int) - np.rot90(stored, k=-1).astype(int)).mean() < 1.0


def test_alpha_is_composited_on_white(emoji_dir: Path) -> None:
    path = emoji_dir / "1f600.png"
    with Image.open(path) as img:
        assert img.mode == "RGBA"
        alpha = np.asarray(img)[:, :, 3]
    rgb = decode(path)
    assert rgb.shape == (64, 64, 3)
    assert (rgb[alpha == 0] == 255).all()


def test_palette_with_transparency_matches_rgba(emoji_dir: Path, tmp_path: Path) -> None:
    rgba = Image.open(emoji_dir / "1f600.png").convert("RGBA")
    palette = rgba.quantize(colors=255, method=Image.Quantize.FASTOCTREE)
    palette.info["transparency"] = palette.getpixel((0, 0))
    palette.save(tmp_path / "p.png", transparency=palette.getpixel((0, 0)))
    rgb = decode(tmp_path / "p.png")
    assert rgb.shape == (64, 64, 3)
    assert (rgb[0, 0] == 255).all()  # the transparent corner is white, as for RGBA


def test_cmyk_16bit_and_grey_become_rgb(photos_dir: Path, tmp_path: Path) -> None:
    cmyk = hostile.cmyk_jpeg(photos_dir / "apple.jpg", tmp_path / "cmyk.jpg")
    assert inspect_image(cmyk.read_bytes()).mode == "CMYK"
    assert decode(cmyk).shape == (60, 80, 3)

    deep = hostile.png16(photos_dir / "apple.jpg", tmp_path / "deep.png")
    grey8 = np.asarray(Image.open(photos_dir / "apple.jpg").convert("L").resize((40, 30)))
    rgb = decode(deep)
    assert rgb.shape == (30, 40, 3)
    assert np.array_equal(rgb[:, :, 0], grey8)  # v * 257 / 257 round-trips exactly
    assert np.array_equal(rgb[:, :, 0], rgb[:, :, 2])


def test_animated_gif_gives_its_first_frame(photos_dir: Path, tmp_path: Path) -> None:
    path = hostile.animated_gif(photos_dir / "orange.jpg", tmp_path / "anim.gif")
    info = inspect_image(path.read_bytes())
    assert info.frames == 3
    first = np.asarray(Image.open(path).convert("RGB"))
    assert np.array_equal(decode(path), first)


@pytest.mark.parametrize(
    ("maker", "error", "words"),
    [
        (lambda p, d: hostile.truncated_jpeg(p / "butterfly.jpg", d / "t.jpg"), CorruptImage, "truncated"),
        (lambda p, d: hostile.lying_png(p / "butterfly.jpg", d / "l.png"), CorruptImage, "corrupt"),
        (lambda p, d: hostile.bomb_png(d / "b.png"), ImageTooLarge, "400,000,000"),
        (lambda p, d: hostile.zero_bytes(d / "z.jpg"), EmptyFile, "0 bytes"),
        (lambda p, d: hostile.text_as_jpeg(d / "x.jpg"), NotAnImage, "not an image"),
    ],
    ids=["truncated-jpeg", "lying-png", "bomb", "zero-bytes", "text-named-jpg"],
)
def test_hostile_files_raise_a_clear_reason(photos_dir: Path, tmp_path: Path, maker, error, words) -> None:
    path = maker(photos_dir, tmp_path)
    with pytest.raises(error, match=words):
        inspect_image(path.read_bytes())
    with pytest.raises(error):
        decode(path)


def test_unsupported_format_is_named(photos_dir: Path) -> None:
    buffer = io.BytesIO()
    Image.open(photos_dir / "orange.jpg").convert("RGB").resize((32, 32)).save(buffer, format="ICO")
    with pytest.raises(UnsupportedFormat, match="ICO"):
        inspect_image(buffer.getvalue())


def test_bomb_limit_is_configurable(photos_dir: Path) -> None:
    data = (photos_dir / "orange.jpg").read_bytes()
    with Image.open(photos_dir / "orange.jpg") as img:
        pixels = img.width * img.height
    assert inspect_image(data, max_pixels=pixels).width > 0
    with pytest.raises(ImageTooLarge, match=r"import\.max_pixels"):
        inspect_image(data, max_pixels=pixels - 1)


@settings(max_examples=40, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 24), st.integers(1, 24), st.sampled_from([1, 3]))))
def test_png_round_trip_is_exact(pixels: np.ndarray) -> None:
    buffer = io.BytesIO()
    Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels).save(buffer, format="PNG")
    rgb = decode(buffer.getvalue())
    assert rgb.shape == (*pixels.shape[:2], 3)
    assert np.array_equal(rgb, np.broadcast_to(pixels, rgb.shape))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 300), st.integers(1, 300), st.integers(1, 400))
def test_resize_max_side_bounds(h: int, w: int, side: int) -> None:
    out = resize_max_side(np.zeros((h, w, 3), np.uint8), side)
    assert max(out.shape[:2]) == min(max(h, w), side)
    assert out.dtype == np.uint8 and out.shape[2] == 3
