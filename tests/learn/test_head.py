"""The linear probe: standardization (with its spread floor) folded into one affine map, equal to scikit-learn's
own pipeline."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from tests.learn.floored_scaler import FlooredScaler
from tetsuban import ConfigError, Project
from tetsuban.learn.head import SPREAD_FLOOR, fit_linear_head, softmax
from tetsuban.learn.validate import fold_count, out_of_fold, validate


def _data(project: Project) -> tuple[np.ndarray, list[str]]:
    labels = project.labelled()
    project.embed(image_ids=list(labels))
    vectors = project.embeddings(list(labels))
    return np.stack([vectors[i] for i in labels]), [labels[i] for i in labels]


def _reference(x: np.ndarray, labels: list[str], c: float, floor: float) -> np.ndarray:
    model = make_pipeline(
        FlooredScaler(floor), LogisticRegression(C=c, class_weight="balanced", max_iter=5000, tol=1e-8)
    )
    x = x.astype(np.float64)  # scikit-learn 1.9 would solve float32 embeddings in float32, to about 1e-4
    return model.fit(x, labels).predict_proba(x)


@pytest.mark.parametrize("floor", [SPREAD_FLOOR, 0.0], ids=["floored", "plain"])
@pytest.mark.parametrize("classes", [None, ("smileys", "people")], ids=["twelve-classes", "two-classes"])
@pytest.mark.filterwarnings("error::sklearn.exceptions.ConvergenceWarning")  # the solver stops at tol, not a cap
def test_the_folded_head_equals_scikit_learns_scaler_and_logistic_regression(
    labelled_project: Project, classes: tuple[str, ...] | None, floor: float
) -> None:
    x, labels = _data(labelled_project)
    if classes is not None:
        keep = [i for i, label in enumerate(labels) if label in classes]
        x, labels = x[keep], [labels[i] for i in keep]
    head = fit_linear_head(x, labels, c=0.1, tol=1e-8, floor=floor)  # both solved tightly: equal up to rounding
    assert head.classes == tuple(sorted(set(labels)))
    got = head.probabilities(x)
    assert np.abs(got - _reference(x, labels, 0.1, floor)).max() < 1e-4
    assert np.allclose(got.sum(axis=1), 1.0)
    assert np.mean(np.asarray(head.classes)[got.argmax(axis=1)] == np.asarray(labels)) > 0.9


def test_a_dimension_that_hardly_varies_in_training_cannot_swing_the_probabilities(labelled_project: Project) -> None:
    """A dimension that separates one class perfectly but spreads 0.0003 among the training images (against a median
    of about 0.2) is, standardized plainly, scaled up hundreds of times: a move of 0.02 there swings the
    probabilities by a fifth. The spread floor keeps its weight near the others'."""
    x, labels = _data(labelled_project)
    whisper = np.where(np.asarray(labels) == "smileys", 0.001, 0.0)[:, None]
    x = np.hstack([x, whisper]).astype(np.float64)
    nudged = x.copy()
    nudged[:, -1] += 0.02  # a tenth of a typical dimension's spread
    swing = {}
    for floor in (SPREAD_FLOOR, 0.0):
        head = fit_linear_head(x, labels, c=0.1, floor=floor)
        swing[floor] = np.abs(head.probabilities(nudged) - head.probabilities(x)).max()
    assert swing[SPREAD_FLOOR] < 0.001
    assert swing[0.0] > 0.1  # what the floor prevents (0.23 here)


def test_a_negative_spread_floor_is_refused(labelled_project: Project) -> None:
    x, labels = _data(labelled_project)
    with pytest.raises(ConfigError, match=r"The 'floor' parameter must be a number in \[0\.0, 100\.0\]"):
        fit_linear_head(x, labels, floor=-0.1)


def test_one_class_is_not_enough(labelled_project: Project) -> None:
    x, _ = _data(labelled_project)
    with pytest.raises(ConfigError, match=r"at least two classes\. Got 1 \(smileys\)"):
        fit_linear_head(x[:5], ["smileys"] * 5)
    with pytest.raises(ConfigError, match=r"Got 0 \(none\)"):
        fit_linear_head(x[:0], [])


def test_a_c_out_of_range_is_refused_by_name(labelled_project: Project) -> None:
    x, labels = _data(labelled_project)
    for c in (0.0, 1_000_000.5):
        with pytest.raises(ConfigError, match=r"The 'C' parameter must be a number in \[1e-06, 1000000\.0\]"):
            fit_linear_head(x, labels, c=c)


def test_float32_embeddings_are_fitted_in_float64_as_their_float64_copy_is(labelled_project: Project) -> None:
    """scikit-learn solves float32 data in float32, to about 1e-4; the head standardizes in float64 first."""
    x, labels = _data(labelled_project)
    assert x.dtype == np.float32
    single = fit_linear_head(x, labels, c=0.1, tol=1e-6)
    double = fit_linear_head(x.astype(np.float64), labels, c=0.1, tol=1e-6)
    assert np.array_equal(single.weight, double.weight) and np.array_equal(single.bias, double.bias)


def test_probabilities_stay_exact_for_logits_far_from_zero() -> None:
    """Each row is shifted by its own largest logit: no overflow for huge logits, no 0/0 for rows far below others."""
    logits = np.array([[1000.0, 999.0], [0.0, -1.0], [-1000.0, -1001.0]])
    expected = np.array([1.0, np.exp(-1.0)]) / (1.0 + np.exp(-1.0))
    assert np.allclose(softmax(logits), np.tile(expected, (3, 1)), rtol=0, atol=1e-15)


def test_out_of_fold_rows_come_from_heads_that_never_saw_them(labelled_project: Project) -> None:
    x, labels = _data(labelled_project)
    assert fold_count(labels) == 5  # the smallest class has 8 images
    classes, probs = out_of_fold(x, labels, c=0.1)
    in_sample = fit_linear_head(x, labels, 0.1).probabilities(x)
    truth = np.array([classes.index(label) for label in labels])
    rows = np.arange(len(labels))
    # Held-out images are less sure of their own label than images the head was fitted on.
    assert probs[rows, truth].mean() < in_sample[rows, truth].mean() - 0.05
    report = validate(x, labels, 0.1)
    assert report.folds == 5 and report.images == 160
    assert report.accuracy == pytest.approx(np.mean(probs.argmax(axis=1) == truth))
    assert 0.6 < report.accuracy < 1.0
