"""Labels that look wrong: confident learning (Northcutt, Jiang and Chuang, JAIR 2021) on out-of-fold probabilities.

Each class gets a threshold, the mean probability the model gives that class over the images labelled with it.
An image is counted as confidently of class j when its probability of j reaches j's threshold; when several
classes reach theirs, it is the most probable of those (the paper's rule, section 3.1). An image confidently of
another class than its label, which the model also does not predict as its label, is a label issue; issues are
ranked by the probability of their given label, lowest first. The probabilities come from k-fold cross-fitting on
cached embeddings, so no image is judged by a head that saw its label.

cleanlab (2.x) differs in one case: when two or more classes reach their thresholds it takes the most probable
class overall, which may be one that did not reach its threshold. We keep the paper's rule, so that a suggested
class is always one the model is confident of; everywhere else the two agree (tests/active/test_label_issues.py
checks both on random matrices, and bench/confident_learning.py measures how often the rule matters).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tetsuban.errors import TooFewLabels
from tetsuban.learn.head import DEFAULT_C, fit_linear_head
from tetsuban.params import check_int

DEFAULT_FOLDS = 5
_SLACK = 1e-6  # a probability this close below a threshold still reaches it


@dataclass(frozen=True)
class LabelIssue:
    """One label that looks wrong: the image's position, its label, the suggested label and their probabilities."""

    index: int
    given: str
    suggested: str
    given_probability: float
    suggested_probability: float


def out_of_fold_probabilities(
    embeddings: np.ndarray, labels: Sequence[str], folds: int = DEFAULT_FOLDS, seed: int = 0, c: float = DEFAULT_C
) -> tuple[tuple[str, ...], np.ndarray]:
    """The classes and each image's probabilities (N, K) from a head that did not see it: stratified k-fold."""
    from sklearn.model_selection import StratifiedKFold

    check_int("folds", folds, 2, 100)
    classes = tuple(sorted(set(labels)))
    y = np.asarray(labels)
    smallest = min(int((y == name).sum()) for name in classes) if classes else 0
    if len(classes) < 2 or smallest < 2:
        raise TooFewLabels(
            f"Finding label issues needs at least two classes with two labelled images each. Got {len(classes)} "
            f"class(es), the smallest with {smallest}."
        )
    splitter = StratifiedKFold(n_splits=min(folds, smallest), shuffle=True, random_state=seed)
    probabilities = np.zeros((len(y), len(classes)))
    for train, held in splitter.split(embeddings, y):
        head = fit_linear_head(embeddings[train], list(y[train]), c)
        columns = [classes.index(name) for name in head.classes]
        probabilities[np.ix_(held, columns)] = head.probabilities(embeddings[held])
    return classes, probabilities


def class_thresholds(given: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Per class, the mean probability of that class over the images labelled with it (K,); infinite for a class
    no image is labelled with (no image is confidently of it)."""
    k = probabilities.shape[1]
    return np.array([probabilities[given == j, j].mean() if (given == j).any() else np.inf for j in range(k)])


def confident_classes(given: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Each image's confidently predicted class, or -1 when no class reaches its threshold."""
    reached = probabilities >= class_thresholds(given, probabilities) - _SLACK
    masked = np.where(reached, probabilities, -np.inf)
    guess = masked.argmax(axis=1)
    return np.where(reached.any(axis=1), guess, -1)


def confident_joint(given: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """(K, K) counts of images by given label (rows) and confident class (columns), before calibration."""
    k = probabilities.shape[1]
    guess = confident_classes(given, probabilities)
    counted = guess >= 0
    joint = np.zeros((k, k), np.int64)
    np.add.at(joint, (given[counted], guess[counted]), 1)
    return joint


def label_issue_mask(given: np.ndarray, probabilities: np.ndarray, guess: np.ndarray | None = None) -> np.ndarray:
    """True where the label looks wrong: confidently another class, and the given label not the model's top
    prediction (nor within a hair of it). ``guess``: :func:`confident_classes`, when already computed."""
    if guess is None:
        guess = confident_classes(given, probabilities)
    top = probabilities.max(axis=1)
    below_top = probabilities[np.arange(len(given)), given] + _SLACK < top
    return (guess >= 0) & (guess != given) & below_top


def find_label_issues(
    embeddings: np.ndarray, labels: Sequence[str], folds: int = DEFAULT_FOLDS, seed: int = 0
) -> list[LabelIssue]:
    """The labels that look wrong among ``labels`` (one per row of ``embeddings``), most doubtful first."""
    classes, probabilities = out_of_fold_probabilities(embeddings, labels, folds, seed)
    given = np.array([classes.index(name) for name in labels])
    guess = confident_classes(given, probabilities)
    flagged = np.flatnonzero(label_issue_mask(given, probabilities, guess))
    issues = [
        LabelIssue(
            int(i),
            classes[given[i]],
            classes[guess[i]],
            float(probabilities[i, given[i]]),
            float(probabilities[i, guess[i]]),
        )
        for i in flagged
    ]
    return sorted(issues, key=lambda issue: (issue.given_probability, issue.index))
