"""A small real model, trained once per module on 40 emoji in two classes and 120 fashion-mnist images in ten,
and its standalone graph, exported through the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.learn.conftest import labelled_project  # noqa: F401  (the fixture, shared with tests/learn)
from tests.run_cli import tetsuban
from tests.server.conftest import browser  # noqa: F401  (the fixture: Debian's chromium through Playwright)
from tetsuban import Project
from tetsuban.learn.artifact import Artifact


@pytest.fixture(scope="module")
def model(labelled_project: Project) -> Artifact:  # noqa: F811
    return labelled_project.train().artifact


def exported(model: Artifact, out: Path, kind: str) -> Path:
    """``model`` exported through the command line as ``kind`` to ``out``, which the command says it wrote."""
    result = tetsuban("export", model.folder, "--format", kind, "-o", out)
    assert f"Wrote {out} ({kind}," in result.stdout
    return out


@pytest.fixture(scope="module")
def standalone(model: Artifact, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return exported(model, tmp_path_factory.mktemp("export") / "model.onnx", "onnx-standalone")


@pytest.fixture(scope="module")
def site(model: Artifact, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return exported(model, tmp_path_factory.mktemp("web") / "site", "web")
