"""A linear SVM head (one against the rest, class-balanced, on standardized embeddings), folded into the same
affine map as the logistic probe so that it ships in the same artifact.

An SVM gives scores, not probabilities: the scores go through a softmax with a temperature fitted on the held-out
(validation) images when there are some, so that "probability" keeps a meaning in the app and the report.

Its support vectors, per class, are the training images (of that class or another) on or inside the margin of the
class's one-against-the-rest problem: the borderline examples that define the decision. The card keeps the
closest ones per class (by content hash), for the report to show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tetsuban.learn.head import LinearHead, class_index, folded, softmax, standardized
from tetsuban.params import check_float

DEFAULT_SVM_C = 0.01
SHOWN_PER_CLASS = 12
_TEMPERATURES = np.geomspace(0.25, 64.0, 25)
_MARGIN_TOLERANCE = 1e-3  # liblinear stops at a tolerance: a point on the margin scores 1 +- that


@dataclass(frozen=True)
class SvmFit:
    """The head (scores scaled by ``temperature`` inside it), and per class the row indices of its support
    vectors, closest to the boundary first."""

    head: LinearHead
    temperature: float
    support: dict[str, list[int]]


def fit_svm_head(
    x: np.ndarray,
    labels: Sequence[str],
    c: float = DEFAULT_SVM_C,
    held_out: tuple[np.ndarray, Sequence[str]] | None = None,
) -> SvmFit:
    """Fit the SVM on embeddings ``x`` (N, D); with ``held_out`` (embeddings, labels), fit the temperature there."""
    from sklearn.svm import LinearSVC

    check_float("C", c, 1e-6, 1e6)
    classes, y = class_index(labels)
    z, mean, scale = standardized(x)
    model = LinearSVC(C=c, class_weight="balanced", max_iter=20_000, random_state=0)
    model.fit(z, y)
    coef, intercept = model.coef_.astype(np.float64), model.intercept_.astype(np.float64)
    if len(classes) == 2:  # one score f for the second class: scores [-f/2, f/2] keep the softmax symmetric
        coef = np.vstack([-coef / 2, coef / 2])
        intercept = np.concatenate([-intercept / 2, intercept / 2])
    scores = z @ coef.T + intercept  # (N, K)
    support = _support_vectors(scores, y, classes)
    temperature = 1.0 if held_out is None else _temperature(coef, intercept, mean, scale, held_out, classes)
    return SvmFit(folded(classes, temperature * coef, temperature * intercept, mean, scale), temperature, support)


def _support_vectors(scores: np.ndarray, y: np.ndarray, classes: tuple[str, ...]) -> dict[str, list[int]]:
    """Per class, the support vectors of its one-against-the-rest problem: the training images of any class on or
    inside its margin (own side's score at most 1, within the solver's tolerance), closest to the boundary first."""
    found = {}
    for k, name in enumerate(classes):
        score = scores[:, k] if len(classes) > 2 else scores[:, k] - scores[:, 1 - k]
        margins = np.where(y == k, score, -score)
        inside = np.flatnonzero(margins <= 1.0 + _MARGIN_TOLERANCE)
        found[name] = [int(i) for i in inside[np.argsort(margins[inside], kind="stable")]]
    return found


def _temperature(
    coef: np.ndarray,
    intercept: np.ndarray,
    mean: np.ndarray,
    scale: np.ndarray,
    held_out: tuple[np.ndarray, Sequence[str]],
    classes: tuple[str, ...],
) -> float:
    """The temperature of the grid with the lowest negative log-likelihood on the held-out images whose class the
    head knows (1 when there are none)."""
    x, labels = held_out
    index = {name: i for i, name in enumerate(classes)}
    known = [n for n, name in enumerate(labels) if name in index]
    if not known:
        return 1.0
    scores = ((x[known] - mean) / scale) @ coef.T + intercept
    truth = np.array([index[labels[n]] for n in known])
    losses = [-np.mean(np.log(softmax(t * scores)[np.arange(len(truth)), truth] + 1e-12)) for t in _TEMPERATURES]
    return float(_TEMPERATURES[int(np.argmin(losses))])
