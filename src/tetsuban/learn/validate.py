"""How good a head is on images it did not see: out-of-fold probabilities by stratified k-fold, and their metrics.

Until the project has a validation split, the labelled images are cross-validated: each image is predicted by a
head fitted on the other folds. The same probabilities later rank labels that look wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tetsuban.learn.head import C_GRID, LinearHead, fit_linear_head
from tetsuban.learn.knn import KnnHead

MAX_FOLDS = 5


@dataclass(frozen=True)
class Validation:
    """Cross-validated metrics of a head, or why there are none (``folds`` 0)."""

    method: str
    folds: int
    images: int
    accuracy: float | None
    balanced_accuracy: float | None
    recall: dict[str, float]
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "method": self.method,
            "folds": self.folds,
            "images": self.images,
            "accuracy": self.accuracy,
            "balanced_accuracy": self.balanced_accuracy,
            "recall": self.recall,
            "note": self.note,
        }


def fold_count(labels: Sequence[str]) -> int:
    """Folds that keep every class in every training part: up to 5, and 0 when a class has a single image."""
    counts = np.unique(np.asarray(labels), return_counts=True)[1]
    return 0 if len(counts) < 2 else int(min(MAX_FOLDS, counts.min()))


def out_of_fold(x: np.ndarray, labels: Sequence[str], c: float, seed: int = 0) -> tuple[tuple[str, ...], np.ndarray]:
    """Classes and (N, K) probabilities, each row from a head that never saw that image; needs fold_count >= 2."""
    from sklearn.model_selection import StratifiedKFold

    folds = fold_count(labels)
    if folds < 2:
        raise ValueError("out_of_fold needs at least two images of every class")
    y = np.asarray(labels)
    classes = tuple(sorted(set(labels)))
    column = {name: i for i, name in enumerate(classes)}
    probs = np.zeros((len(y), len(classes)))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, held in splitter.split(x, y):
        head = fit_linear_head(x[train], list(y[train]), c)
        columns = [column[name] for name in head.classes]
        probs[np.ix_(held, columns)] = head.probabilities(x[held])
    return classes, probs


def validate(x: np.ndarray, labels: Sequence[str], c: float, seed: int = 0) -> Validation:
    """Cross-validated accuracy, balanced accuracy and per-class recall of the probe with ``c``."""
    folds = fold_count(labels)
    if folds < 2:
        note = "no validation: a class has a single labelled image"
        return Validation("none", 0, len(labels), None, None, {}, note)
    classes, probs = out_of_fold(x, labels, c, seed)
    predicted = np.asarray(classes)[probs.argmax(axis=1)]
    truth = np.asarray(labels)
    recall = {name: float(np.mean(predicted[truth == name] == name)) for name in classes}
    accuracy = float(np.mean(predicted == truth))
    return Validation("stratified k-fold", folds, len(labels), accuracy, float(np.mean(list(recall.values()))), recall)


def score_held_out(head: LinearHead | KnnHead, x: np.ndarray, labels: Sequence[str]) -> Validation:
    """Accuracy, balanced accuracy and recall of ``head`` on held-out images (the validation split)."""
    return held_out_validation(head.classes, head.probabilities(x), labels)


def held_out_validation(classes: Sequence[str], probabilities: np.ndarray, labels: Sequence[str]) -> Validation:
    """The validation of (N, K) ``probabilities`` over ``classes`` for held-out images labelled ``labels``.

    A class the model never saw counts as missed; recall covers the classes present in ``labels``.
    """
    predicted = np.asarray(classes)[probabilities.argmax(axis=1)]
    truth = np.asarray(labels)
    present = sorted(set(labels))
    recall = {name: float(np.mean(predicted[truth == name] == name)) for name in present}
    accuracy = float(np.mean(predicted == truth))
    return Validation("validation split", 0, len(labels), accuracy, float(np.mean(list(recall.values()))), recall)


def choose_c(x: np.ndarray, labels: Sequence[str], grid: Sequence[float] = C_GRID, seed: int = 0) -> float:
    """The C of ``grid`` with the best cross-validated balanced accuracy (the smaller C on a tie)."""
    scored = [(validate(x, labels, c, seed).balanced_accuracy or 0.0, -c) for c in sorted(grid)]
    return -max(scored)[1]


@dataclass(frozen=True)
class Gap:
    """How much better one model's balanced accuracy is than another's on the same held-out images (negative:
    worse), and the standard error of that difference."""

    difference: float
    standard_error: float


def balanced_accuracy_gap(classes: Sequence[str], first: np.ndarray, second: np.ndarray, labels: Sequence[str]) -> Gap:
    """``first``'s balanced accuracy minus ``second``'s, both (N, K) probabilities over ``classes`` for the same
    images labelled ``labels``, with the paired standard error: per class, the variance of the per-image difference
    in correctness over the class's images (a class of one image counts its difference as wholly uncertain).

    Paired, because both models see the same images: an image both get right or both get wrong says nothing about
    which is better, so the error is far smaller than two separate accuracies' errors would suggest."""
    truth = np.asarray(labels)
    names = np.asarray(classes)
    right_first = names[first.argmax(axis=1)] == truth
    right_second = names[second.argmax(axis=1)] == truth
    means, variances = [], []
    for name in sorted(set(labels)):
        rows = truth == name
        d = right_first[rows].astype(float) - right_second[rows].astype(float)
        means.append(float(d.mean()))
        variances.append(float(d.var(ddof=1)) / len(d) if len(d) > 1 else float(d[0] ** 2))
    if not means:
        return Gap(0.0, 0.0)
    return Gap(float(np.mean(means)), float(np.sqrt(np.sum(variances))) / len(means))
