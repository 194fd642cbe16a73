"""The classifier fine-tuning starts from: the project's linear probe (class-balanced logistic regression on
standardized features, folded into one linear layer) fitted on the network's own embedding with the default C,
as ``tetsuban train`` fits it. Starting there (LP-FT) keeps the first epochs from tearing the pretrained features
apart to fit a random head, and it makes the probe a candidate the run can keep."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tetsuban.learn.head import DEFAULT_C, LinearHead, fit_linear_head
from tetsuban.learn.validate import Validation, held_out_validation


def probe_start(train: np.ndarray, train_labels: Sequence[str]) -> LinearHead:
    """The probe ``tetsuban train`` would fit (its default C), on the network's embedding of the ``train`` images.

    Not a C chosen on the val images: the probe is also the candidate those images judge at the end of the run, and
    choosing its C on them first makes it look better there than it is (on emoji, a C chosen among four validated
    0.814 and tested 0.750, where the default C tested 0.762; bench/finetune.py)."""
    return fit_linear_head(train, train_labels, DEFAULT_C, tol=1e-4)


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
