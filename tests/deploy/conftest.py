"""A small real model, trained once per module on 40 emoji in two classes and 120 fashion-mnist images in ten,
and its standalone graph, exported through the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.learn.conftest import labelled_project  # noqa: F401  (the fixture, shared with tests/learn)
from tests.run_cli import tetsuban
from tetsuban import Project
from tetsuban.learn.artifact import Artifact


@pytest.fixture(scope="module")
def model(labelled_project: Project) -> Artifact:  # noqa: F811
    return labelled_project.train().artifact


@pytest.fixture(scope="module")
def standalone(model: Artifact, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "model.onnx"
    result = tetsuban("export", model.folder, "--format", "onnx-standalone", "-o", out)
    assert f"Wrote {out}" in result.stdout
    return out
