"""Importing IDX files (MNIST format): fashion-mnist as it ships."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import FASHION_CLASSES
from tetsuban import Project, SourceError
from tetsuban.ingest.idx import read_idx

FASHION = list(FASHION_CLASSES)


def test_fashion_mnist_test_set_with_class_names(project: Project, fashion_dir: Path) -> None:
    images = fashion_dir / "t10k-images-idx3-ubyte.gz"
    report = project.import_idx(images, fashion_dir / "t10k-labels-idx1-ubyte.gz", FASHION)
    assert report.counts["added"] == 10_000 and report.counts["skipped"] == 0
    assert project.status().per_class == {name: 1000 for name in sorted(FASHION)}
    pixels = read_idx(images)
    first = project.images()[0]
    assert first.origin.endswith("#0") and (first.width, first.height, first.mode) == (28, 28, "L")
    assert np.array_equal(np.asarray(Image.open(project.image_path(first))), pixels[0])


def _idx_bytes(array: np.ndarray) -> bytes:
    """An uncompressed IDX file of unsigned bytes holding ``array``."""
    dims = b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return b"\x00\x00\x08" + bytes([array.ndim]) + dims + array.astype(np.uint8).tobytes()


def test_the_train_files_head_without_class_names_is_labelled_by_its_digits(
    project: Project, fashion_dir: Path, tmp_path: Path
) -> None:
    """The train file's first 600 images (all 60,000 take minutes: bench/import_speed.py), written uncompressed."""
    images = read_idx(fashion_dir / "train-images-idx3-ubyte.gz")[:600]
    labels = read_idx(fashion_dir / "train-labels-idx1-ubyte.gz")[:600]
    (tmp_path / "images-idx3-ubyte").write_bytes(_idx_bytes(images))
    (tmp_path / "labels-idx1-ubyte").write_bytes(_idx_bytes(labels))
    report = project.import_idx(tmp_path / "images-idx3-ubyte", tmp_path / "labels-idx1-ubyte")
    assert report.counts["added"] == 600
    digits, counts = np.unique(labels, return_counts=True)
    assert project.status().per_class == {str(d): int(n) for d, n in zip(digits, counts, strict=True)}


def test_truncated_idx_and_mismatched_labels_are_clear_errors(
    project: Project, fashion_dir: Path, tmp_path: Path
) -> None:
    raw = gzip.decompress((fashion_dir / "t10k-images-idx3-ubyte.gz").read_bytes())
    (tmp_path / "short-idx3-ubyte").write_bytes(raw[:-100])
    with pytest.raises(SourceError, match="truncated"):
        project.import_idx(tmp_path / "short-idx3-ubyte")
    with pytest.raises(SourceError, match="one label per image"):
        project.import_idx(fashion_dir / "t10k-images-idx3-ubyte.gz", fashion_dir / "train-labels-idx1-ubyte.gz")
    with pytest.raises(SourceError, match="class names"):
        project.import_idx(
            fashion_dir / "t10k-images-idx3-ubyte.gz", fashion_dir / "t10k-labels-idx1-ubyte.gz", FASHION[:3]
        )
    assert project.images() == []
