"""Shared fixtures: the real datasets, a fresh project, and hostile files made on the spot."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tetsuban import Project

# No per-example deadline: a loaded CI machine must not turn a slow first call into a failure.
settings.register_profile("tetsuban", deadline=None)
settings.load_profile("tetsuban")

REPO = Path(__file__).resolve().parents[1]


def datasets_dir() -> Path:
    """The folder of real datasets: $TETSUBAN_DATASETS, else ../shared/datasets beside the checkout."""
    configured = os.environ.get("TETSUBAN_DATASETS")
    path = Path(configured) if configured else REPO.parent / "shared" / "datasets"
    if not (path / "emoji-google" / "64").is_dir():
        pytest.exit(
            f"The real test datasets are not at {path}. Run 'make test', which finds or fetches them, "
            "or set TETSUBAN_DATASETS.",
            returncode=4,
        )
    return path


@pytest.fixture(scope="session")
def datasets() -> Path:
    return datasets_dir()


@pytest.fixture(scope="session")
def emoji_dir(datasets: Path) -> Path:
    return datasets / "emoji-google" / "64"


@pytest.fixture(scope="session")
def photos_dir(datasets: Path) -> Path:
    return datasets / "photos"


@pytest.fixture(scope="session")
def fashion_dir(datasets: Path) -> Path:
    return datasets / "fashion-mnist"


@pytest.fixture()
def project(tmp_path: Path) -> Iterator[Project]:
    with Project.init(tmp_path / "project") as opened:
        yield opened


@pytest.fixture()
def emoji_sample(tmp_path: Path, emoji_dir: Path) -> Path:
    """A writable copy of 40 real emoji in an ImageFolder layout: 20 in smileys/, 20 in people/."""
    root = tmp_path / "emoji-sample"
    files = sorted(emoji_dir.glob("1f6*.png"))[:20] + sorted(emoji_dir.glob("1f46*.png"))[:20]
    for index, source in enumerate(files):
        folder = root / ("smileys" if index < 20 else "people")
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, folder / source.name)
    return root
