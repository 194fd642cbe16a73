"""The classifier fine-tuning starts from: the project's linear probe (class-balanced logistic regression on
standardized features, folded into one linear layer) fitted on the network's own pooled features, with C chosen on
the validation images. Starting there (LP-FT) keeps the first epochs from tearing the pretrained features apart to
fit a random head, and it makes the probe a candidate the run can keep."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tetsuban.learn.head import DEFAULT_C, LinearHead, fit_linear_head
from tetsuban.learn.validate import Validation, held_out_validation

START_CS = (0.03, 0.1, 0.3, 1.0)


@dataclass(frozen=True)
class ProbeStart:
    """The fitted probe and its C, and where C came from ("validation", or "default" without validation images)."""

    head: LinearHead
    c: float
    c_from: str


def probe_start(
    train: np.ndarray, train_labels: Sequence[str], val: np.ndarray, val_labels: Sequence[str]
) -> ProbeStart:
    """Fit the probe on the pooled ``train`` features; choose C by balanced accuracy on ``val`` (then by its lower
    log loss; the smaller C on a tie), or take the default C when there are no validation images."""
    if not len(val_labels):
        return ProbeStart(fit_linear_head(train, train_labels, DEFAULT_C, tol=1e-4), DEFAULT_C, "default")
    fits = []
    for c in START_CS:
        head = fit_linear_head(train, train_labels, c, tol=1e-4)
        found, loss = scored(head.classes, head.probabilities(val), val_labels)
        fits.append(((found.balanced_accuracy or 0.0, -loss, -c), head))
    (_, _, neg_c), head = max(fits, key=lambda fit: fit[0])
    return ProbeStart(head, -neg_c, "validation")


def scored(classes: Sequence[str], probabilities: np.ndarray, labels: Sequence[str]) -> tuple[Validation, float]:
    """The validation of ``probabilities`` for held-out images labelled ``labels``, and its mean log loss."""
    return held_out_validation(classes, probabilities, labels), mean_log_loss(classes, probabilities, labels)


def mean_log_loss(classes: Sequence[str], probabilities: np.ndarray, labels: Sequence[str]) -> float:
    """Mean negative log probability of the true class, over the labels the classes know (0 when none)."""
    column = {name: k for k, name in enumerate(classes)}
    known = [(n, column[label]) for n, label in enumerate(labels) if label in column]
    if not known:
        return 0.0
    return float(np.mean([-np.log(max(probabilities[n, k], 1e-12)) for n, k in known]))
