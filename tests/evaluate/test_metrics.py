"""Metrics and the paired bootstrap against scikit-learn and hand computations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
)

from tetsuban.errors import ConfigError
from tetsuban.evaluate.compare import paired_bootstrap
from tetsuban.evaluate.metrics import calibration_bins, score

CLASSES = ("cat", "dog", "fox")


def _random_predictions(seed: int, n: int = 300) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = [CLASSES[i] for i in rng.integers(0, 3, n)]
    logits = rng.normal(size=(n, 3)) + 2.0 * np.eye(3)[[CLASSES.index(t) for t in truth]]
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return truth, probabilities


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_metrics_equal_scikit_learns(seed: int) -> None:
    truth, probabilities = _random_predictions(seed)
    predicted = [CLASSES[k] for k in probabilities.argmax(axis=1)]
    found = score(truth, probabilities, CLASSES)
    assert found.accuracy == pytest.approx(accuracy_score(truth, predicted))
    assert found.balanced_accuracy == pytest.approx(balanced_accuracy_score(truth, predicted))
    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, labels=list(CLASSES))
    assert [c.precision for c in found.per_class] == pytest.approx(precision)
    assert [c.recall for c in found.per_class] == pytest.approx(recall)
    assert [c.f1 for c in found.per_class] == pytest.approx(f1)
    assert [c.support for c in found.per_class] == list(support)
    assert (found.confusion == confusion_matrix(truth, predicted, labels=list(CLASSES))).all()


def test_a_label_the_model_never_learnt_counts_as_an_error() -> None:
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])
    found = score(["cat", "dog", "wolf"], probabilities, ("cat", "dog"))
    assert found.accuracy == pytest.approx(2 / 3) and found.labels == ("cat", "dog", "wolf")
    assert found.confusion[2].tolist() == [1, 0, 0] and found.per_class[2].recall == 0.0
    assert found.balanced_accuracy == pytest.approx((1 + 1 + 0) / 3)


def test_calibration_error_is_zero_when_confidence_matches_accuracy_and_large_when_not() -> None:
    # 10 predictions at 0.8 confidence, 8 right: calibrated
    confidence = np.full(10, 0.8)
    correct = np.array([True] * 8 + [False] * 2)
    (only,) = calibration_bins(confidence, correct)
    assert only.count == 10 and only.accuracy == pytest.approx(0.8) and only.confidence == pytest.approx(0.8)
    probabilities = np.tile([0.8, 0.2], (10, 1))
    truth = ["a"] * 8 + ["b"] * 2
    assert score(truth, probabilities, ("a", "b")).ece == pytest.approx(0.0)
    overconfident = np.tile([0.99, 0.01], (10, 1))
    assert score(["a"] * 5 + ["b"] * 5, overconfident, ("a", "b")).ece == pytest.approx(0.49)


def test_bad_shapes_are_refused_with_what_was_given() -> None:
    with pytest.raises(ConfigError, match=r"\(2, 3\)"):
        score(["cat", "dog"], np.zeros((2, 2)), CLASSES)
    with pytest.raises(ConfigError, match="same"):
        paired_bootstrap(np.ones(3, bool), np.ones(4, bool))


def test_the_paired_bootstrap_finds_a_real_difference_and_not_a_made_up_one() -> None:
    rng = np.random.default_rng(0)
    a = rng.random(1000) < 0.80
    better = a | (rng.random(1000) < 0.25)  # right wherever a is, and on a quarter of the rest
    found = paired_bootstrap(a, better, seed=1)
    assert found.low > 0 and found.clear and found.only_a == 0 and found.only_b == int((better & ~a).sum())
    assert found.low <= found.difference <= found.high
    same = paired_bootstrap(a, a.copy(), seed=1)
    assert same.difference == 0 and not same.clear
    shuffled = paired_bootstrap(a, rng.permutation(a), seed=1)  # same accuracy, other images
    assert shuffled.low < 0 < shuffled.high
    assert paired_bootstrap(a, better, seed=1) == found  # the seed fixes the interval
