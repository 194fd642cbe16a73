"""The model's sanity checks on trivial cases: overfit 20 images, chance on shuffled labels, and prediction
embedding the image files as training did."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import embedded_project
from tests.run_cli import tetsuban
from tetsuban import Project
from tetsuban.evaluate.sanity import agreement_check, overfit_check, shuffle_check
from tetsuban.learn.artifact import load_artifact


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, fashion_dir: Path) -> tuple[Path, Path]:
    root = embedded_project(fashion_dir, tmp_path_factory.mktemp("sanity"), 160, 0, test=0.2, val=0.25)
    with Project.open(root) as project:
        return root, project.train().artifact.folder


def _train_val(root: Path) -> tuple[np.ndarray, list[str], np.ndarray, list[str], list[Path]]:
    with Project.open(root) as project:
        labels, splits = project.labelled(), project.splits()
        train_ids = [i for i in labels if splits[i] == "train"]
        val_ids = [i for i in labels if splits[i] == "val"]
        vectors = project.embeddings(train_ids + val_ids)
        paths = {r.id: project.image_path(r) for r in project.images()}
    return (
        np.stack([vectors[i] for i in train_ids]),
        [labels[i] for i in train_ids],
        np.stack([vectors[i] for i in val_ids]),
        [labels[i] for i in val_ids],
        [paths[i] for i in train_ids],
    )


def test_a_sound_model_passes_every_check_from_the_command_line(trained: tuple[Path, Path]) -> None:
    root, model = trained
    printed = tetsuban("doctor", root, "--model", f"models/{model.name}").stdout
    for check in ("overfit:", "shuffled labels:", "preprocessing:"):
        line = next(line for line in printed.splitlines() if check in line)
        assert line.startswith("PASS"), printed
    assert "accuracy 1.000" in printed and "against chance" in printed and "lowest cosine" in printed


def test_each_check_fails_when_its_case_is_broken(trained: tuple[Path, Path]) -> None:
    root, model = trained
    train, train_labels, val, val_labels, files = _train_val(root)
    # twenty identical embeddings with different labels cannot be learnt by heart
    twins = np.repeat(train[:1], 20, axis=0)
    assert overfit_check(twins, [train_labels[i % 2] if i % 2 else "other" for i in range(20)]).status == "fail"
    assert overfit_check(train, train_labels).status == "pass"
    shuffled = shuffle_check(train, train_labels, val, val_labels)
    assert shuffled.status == "pass"
    chance = max(val_labels.count(c) for c in set(val_labels)) / len(val_labels)
    accuracy = float(shuffled.message.split("accuracy ")[1].split(" ")[0])
    assert accuracy <= chance + 0.1
    # embeddings unlike those the files give (noise as large as the features stand in for another pipeline)
    artifact = load_artifact(model)
    assert agreement_check(artifact, files[:8], train[:8]).status == "pass"
    rng = np.random.default_rng(0)
    drifted = train[:8] + rng.normal(0, train[:8].std(), train[:8].shape).astype(np.float32)
    failed = agreement_check(artifact, files[:8], drifted)
    assert failed.status == "fail" and "embed again" in failed.advice
