"""Classification metrics from true labels and predicted probabilities: accuracy, balanced accuracy, per-class
precision / recall / F1, the confusion matrix, and calibration (expected calibration error over confidence bins).

A true label the model does not know (a class added after it was trained) counts as an error, never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tetsuban.errors import ConfigError

CALIBRATION_BINS = 15


@dataclass(frozen=True)
class ClassScores:
    name: str
    precision: float
    recall: float
    f1: float
    support: int  # test images whose true label this is


@dataclass(frozen=True)
class CalibrationBin:
    """Predictions whose top probability fell in [low, high): their mean confidence and their accuracy."""

    low: float
    high: float
    count: int
    confidence: float
    accuracy: float


@dataclass(frozen=True)
class Metrics:
    """Every figure of one model on one labelled set; ``labels`` rows and columns of ``confusion`` (true x predicted)
    are the model's classes, then the true labels it does not know."""

    images: int
    accuracy: float
    balanced_accuracy: float
    per_class: tuple[ClassScores, ...]
    labels: tuple[str, ...]
    confusion: np.ndarray
    ece: float
    calibration: tuple[CalibrationBin, ...]
    correct: np.ndarray  # (N,) bool, row for row with the inputs

    @property
    def macro_f1(self) -> float:
        return float(np.mean([c.f1 for c in self.per_class if c.support > 0])) if self.per_class else 0.0


def score(
    truth: Sequence[str], probabilities: np.ndarray, classes: Sequence[str], bins: int = CALIBRATION_BINS
) -> Metrics:
    """The metrics of predictions ``probabilities`` (N, K; columns in ``classes`` order) against ``truth`` (N,)."""
    probabilities = np.asarray(probabilities, np.float64)
    if probabilities.ndim != 2 or probabilities.shape != (len(truth), len(classes)):
        raise ConfigError(
            f"The probabilities must have shape (images, classes) = ({len(truth)}, {len(classes)}). "
            f"Got {probabilities.shape}."
        )
    if not len(truth):
        raise ConfigError("There is nothing to score: no labelled image in the set.")
    labels = tuple(classes) + tuple(sorted(set(truth) - set(classes)))
    index = {name: i for i, name in enumerate(labels)}
    true = np.array([index[t] for t in truth])
    predicted = probabilities.argmax(axis=1)
    confusion = np.zeros((len(labels), len(labels)), np.int64)
    np.add.at(confusion, (true, predicted), 1)
    correct = true == predicted
    per_class = tuple(_class_scores(name, i, confusion) for i, name in enumerate(labels))
    recalls = [c.recall for c in per_class if c.support > 0]
    confidence = probabilities.max(axis=1)
    calibration = calibration_bins(confidence, correct, bins)
    ece = sum(b.count * abs(b.accuracy - b.confidence) for b in calibration) / len(truth)
    return Metrics(
        len(truth),
        float(correct.mean()),
        float(np.mean(recalls)),
        per_class,
        labels,
        confusion,
        float(ece),
        calibration,
        correct,
    )


def _class_scores(name: str, i: int, confusion: np.ndarray) -> ClassScores:
    hits = int(confusion[i, i])
    support = int(confusion[i].sum())
    claimed = int(confusion[:, i].sum())
    precision = hits / claimed if claimed else 0.0
    recall = hits / support if support else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return ClassScores(name, precision, recall, f1, support)


def calibration_bins(
    confidence: np.ndarray, correct: np.ndarray, bins: int = CALIBRATION_BINS
) -> tuple[CalibrationBin, ...]:
    """Equal-width bins of top-class confidence over [0, 1] (the last one closed), the empty ones left out."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=False), 0, bins - 1)
    found = []
    for b in range(bins):
        inside = which == b
        if inside.any():
            found.append(
                CalibrationBin(
                    float(edges[b]),
                    float(edges[b + 1]),
                    int(inside.sum()),
                    float(confidence[inside].mean()),
                    float(correct[inside].mean()),
                )
            )
    return tuple(found)
