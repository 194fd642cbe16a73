"""A small real project, labelled, once per module: 40 emoji in two classes and 120 fashion photos in ten."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import write_fashion_images
from tetsuban import Project


def copy_emoji(emoji_dir: Path, out: Path) -> Path:
    """20 smileys and 20 people, real Noto emoji, in class folders."""
    for index, source in enumerate(sorted(emoji_dir.glob("1f6*.png"))[:20] + sorted(emoji_dir.glob("1f46*.png"))[:20]):
        folder = out / ("smileys" if index < 20 else "people")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / source.name).write_bytes(source.read_bytes())
    return out


@pytest.fixture(scope="module")
def labelled_project(tmp_path_factory: pytest.TempPathFactory, emoji_dir: Path, fashion_dir: Path) -> Iterator[Project]:
    root = tmp_path_factory.mktemp("learn")
    with Project.init(root / "project") as project:
        project.import_folder(copy_emoji(emoji_dir, root / "emoji"))
        project.import_folder(write_fashion_images(fashion_dir, root / "fashion", 120))
        yield project
