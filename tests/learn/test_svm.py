"""The linear SVM head: the same decisions as scikit-learn's LinearSVC, support vectors on or inside the margin,
a temperature that makes its softmax a better probability, and an artifact and report like the probe's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import embedded_project
from tests.run_cli import tetsuban
from tetsuban import ConfigError, Project
from tetsuban.learn.head import SPREAD_FLOOR, softmax
from tetsuban.learn.svm import _MARGIN_TOLERANCE, _support_vectors, fit_svm_head


def _blobs(seed: int, classes: int = 3, n: int = 60) -> tuple[np.ndarray, list[str]]:
    """Overlapping Gaussian blobs of unequal sizes (n, n/2, n/3 ...), so that class weights matter."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, size=(classes, 8))
    sizes = [n // (k + 1) for k in range(classes)]
    x = np.concatenate([c + rng.normal(0, 1.5, size=(size, 8)) for c, size in zip(centres, sizes, strict=True)])
    return x, [f"c{k}" for k, size in enumerate(sizes) for _ in range(size)]


@pytest.mark.parametrize("classes", [2, 3])
def test_decisions_and_support_vectors_match_scikit_learn(classes: int) -> None:
    from sklearn.svm import LinearSVC

    x, labels = _blobs(0, classes)
    fit = fit_svm_head(x, labels, c=0.05)
    spread = x.std(axis=0)
    mean, scale = x.mean(axis=0), spread + SPREAD_FLOOR * np.median(spread) + 1e-6
    model = LinearSVC(C=0.05, class_weight="balanced", max_iter=20_000, random_state=0).fit((x - mean) / scale, labels)
    expected = model.predict((x - mean) / scale)
    assert [fit.head.classes[k] for k in fit.head.logits(x).argmax(axis=1)] == list(expected)
    scores = model.decision_function((x - mean) / scale)
    for k, name in enumerate(fit.head.classes):
        score = scores[:, k] if classes > 2 else (scores if k == 1 else -scores)
        margins = np.where(np.array(labels) == name, score, -score)  # each image's side of class k's problem
        listed = fit.support[name]
        assert listed and all(margins[i] <= 1 + 2e-3 for i in listed)
        assert all(margins[i] > 1 - 2e-3 for i in range(len(x)) if i not in set(listed))
        assert [margins[i] for i in listed] == sorted(margins[i] for i in listed)  # closest first


def test_the_same_embeddings_train_the_same_head_bit_for_bit() -> None:
    """With fewer images than dimensions (as with real embeddings) liblinear solves the dual problem, visiting the
    images in a random order: the order is seeded, so a retrain on the same labels gives the same model."""
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, size=(40, 64))
    labels = [f"c{i % 3}" for i in range(40)]
    first, second = fit_svm_head(x, labels), fit_svm_head(x, labels)
    assert np.array_equal(first.head.weight, second.head.weight) and first.support == second.support


def test_support_vectors_reach_the_solvers_tolerance_past_the_margin_closest_first() -> None:
    """Own side's score at most 1 + the tolerance counts (liblinear stops that close to the optimum); ties keep
    the images' order."""
    margins = np.array([0.5, 1.0, 1.0 + _MARGIN_TOLERANCE, 1.0 - _MARGIN_TOLERANCE / 2, 1.01, 2.0] + [0.2, 0.7] * 10)
    y = np.zeros(len(margins), int)  # all of class 0: each margin is its score for class 0
    scores = np.stack([margins, -margins, -margins], axis=1)
    support = _support_vectors(scores, y, ("a", "b", "c"))["a"]
    assert set(support) == set(range(len(margins))) - {4, 5}
    ties = [i for i in support if margins[i] == 0.2]
    assert ties == sorted(ties) and support[: len(ties)] == ties


def test_the_temperature_fitted_on_held_out_images_lowers_their_log_loss() -> None:
    x, labels = _blobs(1)
    held_x, held_labels = _blobs(2)
    plain = fit_svm_head(x, labels, held_out=None)
    tuned = fit_svm_head(x, labels, held_out=(held_x, held_labels))
    assert plain.temperature == 1.0 and tuned.temperature != 1.0
    truth = np.array([int(label[1:]) for label in held_labels])

    def loss(head_logits: np.ndarray) -> float:
        return float(-np.mean(np.log(softmax(head_logits)[np.arange(len(truth)), truth])))

    assert loss(tuned.head.logits(held_x)) < loss(plain.head.logits(held_x))
    best = min(loss(t * plain.head.logits(held_x)) for t in np.geomspace(0.25, 64.0, 200))
    assert loss(tuned.head.logits(held_x)) <= best * 1.02  # the grid's best, give or take its spacing


def test_an_svm_model_is_trained_evaluated_and_shows_its_support_vectors(fashion_dir: Path, tmp_path: Path) -> None:
    root = embedded_project(fashion_dir, tmp_path, 160, 0, test=0.25, val=0.2)
    printed = tetsuban("train", root, "--head", "svm").stdout
    assert "Validation (" in printed
    (model,) = (root / "models").iterdir()
    card = json.loads((model / "card.json").read_text(encoding="utf-8"))
    head = card["head"]
    assert head["kind"] == "svm" and head["temperature_from"] == "validation split"
    assert set(head["support_vectors"]) == set(card["classes"])
    counts = head["support_vector_counts"]
    assert all(0 < len(shas) == min(12, counts[name]) for name, shas in head["support_vectors"].items())
    with Project.open(root) as project:
        evaluation, report = project.evaluate(model)
    assert evaluation.metrics.accuracy > 0.5
    html = report.read_text(encoding="utf-8")
    shown = sum(len(shas) for shas in head["support_vectors"].values())
    assert "Support vectors" in html and html.count('<figure class="support"><img src="data:image/jpeg') == shown
    refused = tetsuban("train", root, "--head", "forest", check=False)
    assert refused.returncode == 1 and "logistic" in refused.stderr and "svm" in refused.stderr


def test_a_c_out_of_range_is_refused_by_name() -> None:
    x, labels = _blobs(3, classes=2, n=20)
    for c in (0.0, 1.0000001e6):
        with pytest.raises(ConfigError, match="'C'"):
            fit_svm_head(x, labels, c=c)
    assert fit_svm_head(x, labels, c=1e6).head.classes == ("c0", "c1")
