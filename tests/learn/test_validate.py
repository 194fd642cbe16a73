"""Cross-validation's numbers: the folds, and accuracy, balanced accuracy and recall equal to scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score, recall_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline

from tests.conftest import pooled_7x7
from tests.learn.floored_scaler import FlooredScaler
from tetsuban.learn.head import SPREAD_FLOOR
from tetsuban.learn.validate import balanced_accuracy_gap, fold_count, out_of_fold, validate

Data = tuple[np.ndarray, list[str]]
_SHARES = {"Shirt": 40, "T-shirt/top": 25, "Pullover": 4}  # classes that look alike, so the scores are not all 1
_C = 0.01  # not the probe's default (0.1), whose scores on these images differ: a C not passed on would show


@pytest.fixture(scope="module")
def unequal(fashion_pixels: tuple[np.ndarray, np.ndarray]) -> Data:
    """Real fashion-mnist images of three classes in unequal numbers (40, 25 and 4), as 7 x 7 mean-pooled pixels."""
    pixels, names = fashion_pixels
    chosen = np.concatenate([np.flatnonzero(names == name)[:count] for name, count in _SHARES.items()])
    return pooled_7x7(pixels[chosen].astype(np.float64)), names[chosen].tolist()


def _reference_predictions(x: np.ndarray, labels: list[str], folds: int, c: float, seed: int) -> np.ndarray:
    """scikit-learn's out-of-fold predictions of the probe (standardized with the spread floor, class-balanced
    logistic regression), solved to the probe's own tolerance: one image of seed 0 is a near tie (0.0004 apart)
    that a tighter solve tips the other way."""
    model = make_pipeline(
        FlooredScaler(SPREAD_FLOOR), LogisticRegression(C=c, class_weight="balanced", max_iter=5000, tol=1e-3)
    )
    return cross_val_predict(model, x, labels, cv=StratifiedKFold(folds, shuffle=True, random_state=seed))


@pytest.mark.parametrize("seed", [0, 1])
def test_validate_scores_are_scikit_learns_on_the_same_folds(unequal: Data, seed: int) -> None:
    x, labels = unequal
    report = validate(x, labels, _C, seed)
    predicted = _reference_predictions(x, labels, 4, _C, seed)
    classes = sorted(_SHARES)
    assert (report.method, report.folds, report.images) == ("stratified k-fold", 4, 69)
    assert report.accuracy == pytest.approx(accuracy_score(labels, predicted), abs=1e-12)
    assert report.balanced_accuracy == pytest.approx(balanced_accuracy_score(labels, predicted), abs=1e-12)
    recall = recall_score(labels, predicted, labels=classes, average=None)
    assert report.recall == pytest.approx(dict(zip(classes, recall.tolist(), strict=True)), abs=1e-12)
    assert report.accuracy != report.balanced_accuracy  # unequal classes: the two scores tell different things
    assert len(set(report.recall.values())) > 1


def test_out_of_fold_predicts_each_image_with_a_head_that_never_saw_it(unequal: Data) -> None:
    x, labels = unequal
    classes, probs = out_of_fold(x, labels, _C, seed=1)
    assert classes == tuple(sorted(_SHARES))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)  # every row filled, by one fold's head
    predicted = np.asarray(classes)[probs.argmax(axis=1)]
    assert predicted.tolist() == _reference_predictions(x, labels, 4, _C, 1).tolist()


@pytest.mark.parametrize(
    ("shares", "folds"),
    [((7,), 0), ((2, 1), 1), ((2, 2), 2), ((3, 9), 3), ((9, 8, 6), 5)],
    ids=["one-class", "a-single-image", "two-each", "three-smallest", "capped-at-five"],
)
def test_the_folds_are_the_smallest_class_up_to_five(shares: tuple[int, ...], folds: int) -> None:
    labels = [f"class{i}" for i, share in enumerate(shares) for _ in range(share)]
    assert fold_count(labels) == folds


def test_two_images_of_the_smallest_class_give_two_folds(unequal: Data) -> None:
    x, labels = unequal
    pullovers = [i for i, label in enumerate(labels) if label == "Pullover"]
    keep = [i for i, label in enumerate(labels) if label != "Pullover"] + pullovers[:2]
    report = validate(x[keep], [labels[i] for i in keep], 0.1)
    assert report.folds == 2 and report.accuracy is not None and set(report.recall) == set(_SHARES)


def test_a_class_with_one_image_means_no_validation_and_says_why() -> None:
    x = np.random.default_rng(0).normal(size=(5, 8))
    report = validate(x, ["a", "a", "a", "a", "b"], 0.1)
    assert (report.method, report.folds, report.images) == ("none", 0, 5)
    assert (report.accuracy, report.balanced_accuracy, report.recall) == (None, None, {})
    assert report.note == "no validation: a class has a single labelled image"
    with pytest.raises(ValueError, match="at least two images of every class"):
        out_of_fold(x, ["a", "a", "a", "a", "b"], 0.1)


def _two_models(unequal: Data) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Out-of-fold probabilities of two probes of different C on the same real images: they disagree on some."""
    x, labels = unequal
    classes, strong = out_of_fold(x, labels, 10.0)
    _, weak = out_of_fold(x, labels, 0.001)
    return classes, strong, weak


def test_the_balanced_accuracy_gap_is_the_difference_of_scikit_learns(unequal: Data) -> None:
    _, labels = unequal
    classes, strong, weak = _two_models(unequal)
    names = np.asarray(classes)
    gap = balanced_accuracy_gap(classes, strong, weak, labels)
    expected = balanced_accuracy_score(labels, names[strong.argmax(1)]) - balanced_accuracy_score(
        labels, names[weak.argmax(1)]
    )
    assert gap.difference == pytest.approx(expected, abs=1e-12) and gap.difference != 0
    reverse = balanced_accuracy_gap(classes, weak, strong, labels)
    assert (reverse.difference, reverse.standard_error) == pytest.approx((-gap.difference, gap.standard_error))


def test_the_gaps_standard_error_is_the_spread_of_a_stratified_bootstrap(unequal: Data) -> None:
    """Resampling each class's images (as a new val set of the same make-up would) spreads the difference as wide as
    the standard error says, once each class's bootstrap variance is scaled by n / (n - 1): the bootstrap's own
    shortfall on small classes (4 pullovers here)."""
    _, labels = unequal
    classes, strong, weak = _two_models(unequal)
    names, truth = np.asarray(classes), np.asarray(labels)
    right = (names[strong.argmax(1)] == truth).astype(float) - (names[weak.argmax(1)] == truth)
    rng = np.random.default_rng(0)
    rows = [np.flatnonzero(truth == name) for name in sorted(set(labels))]
    spread = 0.0
    for r in rows:  # each class's recall difference, resampled; classes are independent, so variances add
        means = right[rng.choice(r, (4000, len(r)))].mean(axis=1)
        spread += float(np.var(means)) * len(r) / (len(r) - 1)
    gap = balanced_accuracy_gap(classes, strong, weak, labels)
    assert gap.standard_error > 0.01
    assert gap.standard_error == pytest.approx(np.sqrt(spread) / len(rows), rel=0.05)


def test_a_class_of_one_image_counts_its_disagreement_as_wholly_uncertain() -> None:
    classes = ("a", "b")
    labels = ["a", "a", "a", "a", "b"]
    first = np.array([[1.0, 0], [1, 0], [1, 0], [1, 0], [0, 1]])  # right on all five
    second = np.array([[1.0, 0], [1, 0], [1, 0], [1, 0], [1, 0]])  # wrong on the one "b"
    gap = balanced_accuracy_gap(classes, first, second, labels)
    assert (gap.difference, gap.standard_error) == pytest.approx((0.5, 0.5))
    same = balanced_accuracy_gap(classes, first, first, labels)
    assert (same.difference, same.standard_error) == (0.0, 0.0)
