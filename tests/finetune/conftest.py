"""A fashion project fine-tuned once per session: 60 real images, half train, a quarter val, a quarter test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import write_fashion_images
from tetsuban import Project
from tetsuban.learn.train import TrainReport


@pytest.fixture(scope="session")
def tuned(tmp_path_factory: pytest.TempPathFactory, fashion_dir: Path) -> Iterator[tuple[Project, TrainReport]]:
    root = tmp_path_factory.mktemp("finetune")
    with Project.init(root / "project") as project:
        project.import_folder(write_fashion_images(fashion_dir, root / "fashion", 60))
        project.split(test=0.25, val=0.25)
        yield project, project.finetune(epochs=2)
