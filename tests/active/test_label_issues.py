"""Label issues: our confident learning against cleanlab's on the same data, and that it finds planted errors."""

from __future__ import annotations

import numpy as np
import pytest
from cleanlab.count import compute_confident_joint
from cleanlab.filter import find_label_issues as cleanlab_issues

from tetsuban.active.label_issues import (
    confident_joint,
    find_label_issues,
    label_issue_mask,
    out_of_fold_probabilities,
)
from tetsuban.errors import ConfigError

Data = tuple[np.ndarray, np.ndarray]


def _flipped(y: np.ndarray, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A copy of ``y`` with ``count`` labels changed to another class, and which ones."""
    rng = np.random.default_rng(seed)
    classes = sorted(set(y))
    rows = rng.choice(len(y), count, replace=False)
    noisy = y.copy()
    for row in rows:
        noisy[row] = rng.choice([c for c in classes if c != y[row]])
    return noisy, rows


def test_the_confident_joint_and_issues_equal_cleanlabs(fashion_pixels: Data) -> None:
    x, y = fashion_pixels
    noisy, _ = _flipped(y[:1500], 100, seed=0)
    classes, probabilities = out_of_fold_probabilities(x[:1500], list(noisy), folds=3)
    given = np.array([classes.index(name) for name in noisy])
    assert np.array_equal(
        confident_joint(given, probabilities), compute_confident_joint(given, probabilities, calibrate=False)
    )
    ours = label_issue_mask(given, probabilities)
    theirs = cleanlab_issues(given, probabilities, filter_by="confident_learning")
    assert ours.sum() > 50
    assert np.array_equal(ours, theirs)


def test_planted_label_errors_are_found_and_ranked_first(fashion_pixels: Data) -> None:
    x, y = fashion_pixels
    noisy, planted = _flipped(y[:1500], 60, seed=1)
    issues = find_label_issues(x[:1500], list(noisy), folds=3)
    flagged = {issue.index for issue in issues}
    assert len(flagged & set(planted.tolist())) >= 0.6 * len(planted)
    top = [issue.index for issue in issues[:30]]
    assert len(set(top) & set(planted.tolist())) >= 20  # the most doubtful are mostly the planted ones
    for issue in issues:
        assert issue.given == noisy[issue.index] and issue.suggested != issue.given
    assert [i.given_probability for i in issues] == sorted(i.given_probability for i in issues)
    suggested = {issue.index: issue.suggested for issue in issues}
    fixed = [row for row in planted if row in suggested]
    assert np.mean([suggested[row] == y[row] for row in fixed]) > 0.6  # the suggestion is mostly the true class


def test_too_few_labels_get_a_clear_message(fashion_pixels: Data) -> None:
    x, _y = fashion_pixels
    with pytest.raises(ConfigError, match="two labelled images each"):
        find_label_issues(x[:3], ["Bag", "Bag", "Coat"])
