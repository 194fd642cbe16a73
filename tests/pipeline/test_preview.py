"""The contact sheet of augmentations: where each cell lies, what it shows, and the PNG it is written as."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from tetsuban.pipeline.preview import GAP, contact_sheet, write_png
from tetsuban.pipeline.spec import Pipeline
from tetsuban.pipeline.transforms import HFlip

THUMB = 112
COLUMNS = 4  # the preprocessed image and three augmented versions


def _cell_box(row: int, column: int) -> tuple[slice, slice]:
    """Where a cell lies: 4 pixels apart, 8 more after the first column (the preprocessed image)."""
    top = GAP + row * (THUMB + GAP)
    left = GAP + column * (THUMB + GAP) + (2 * GAP if column else 0)
    return slice(top, top + THUMB), slice(left, left + THUMB)


def _photos(photos_dir: Path) -> list[tuple[np.ndarray, str | None]]:
    """A landscape photo (flipped by the augmentation) and a portrait one labelled 'text' (never flipped)."""
    coffee = np.asarray(Image.open(photos_dir / "coffee.png").convert("RGB"))  # 600 x 400
    return [(coffee, None), (np.ascontiguousarray(np.rot90(coffee)), "text")]


def _margins(white: np.ndarray) -> tuple[int, int]:
    """The number of all-white lines before and after the content, along the first axis of ``white``."""
    content = np.flatnonzero(~white)
    return int(content[0]), int(len(white) - 1 - content[-1])


def test_each_row_is_the_image_letterboxed_then_its_augmentations_on_white(photos_dir: Path) -> None:
    pipeline = Pipeline(preprocess=(), augment=(HFlip(1.0, never=("text",)),))
    sheet = contact_sheet(_photos(photos_dir), pipeline, augmented=COLUMNS - 1, thumb=THUMB)
    assert sheet.dtype == np.uint8 and sheet.shape == (2 * (THUMB + GAP) + GAP, 3 * GAP + COLUMNS * (THUMB + GAP), 3)
    outside = np.ones(sheet.shape[:2], bool)
    for row in range(2):
        for column in range(COLUMNS):
            outside[_cell_box(row, column)] = False
    assert (sheet[outside] == 255).all()  # the gaps are white and no cell spills into them

    landscape, portrait = sheet[_cell_box(0, 0)], sheet[_cell_box(1, 0)]
    white_rows, white_columns = (landscape == 255).all(axis=(1, 2)), (portrait == 255).all(axis=(0, 2))
    assert _margins(white_rows) == (18, 19)  # 600 x 400 fits as 112 x 75, centred
    assert _margins((landscape == 255).all(axis=(0, 2))) == (0, 0)
    assert _margins(white_columns) == (18, 19)
    assert _margins((portrait == 255).all(axis=(1, 2))) == (0, 0)

    for column in range(1, COLUMNS):  # augmented at training time: flipped, but never a 'text' image
        assert not np.array_equal(sheet[_cell_box(0, column)], landscape)
        assert np.array_equal(sheet[_cell_box(1, column)], portrait)


def test_the_sheet_is_written_as_an_rgb_png_without_losing_a_value(tmp_path: Path) -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (30, 50, 3), dtype=np.uint8)
    rgb[0, 0] = (255, 0, 0)  # pure red stays red: the channels are not swapped
    write_png(tmp_path / "sheet.png", rgb)
    with Image.open(tmp_path / "sheet.png") as written:
        assert written.format == "PNG" and written.mode == "RGB"
        assert np.array_equal(np.asarray(written), rgb)
