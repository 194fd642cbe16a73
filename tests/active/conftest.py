"""Real data for the loop's tests: fashion-mnist pixels as features (no model needed), with their classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import FASHION_CLASSES
from tetsuban.ingest.idx import read_idx


@pytest.fixture(scope="session")
def fashion_pixels(fashion_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """The first 3,000 fashion-mnist test images as (3000, 784) float32 in [0, 1], and their class names."""
    x = read_idx(fashion_dir / "t10k-images-idx3-ubyte.gz")[:3000].reshape(3000, -1).astype(np.float32) / 255.0
    y = np.array([FASHION_CLASSES[int(c)] for c in read_idx(fashion_dir / "t10k-labels-idx1-ubyte.gz")[:3000]])
    return x, y
