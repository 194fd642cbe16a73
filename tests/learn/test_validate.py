"""Cross-validation's numbers: the folds, and accuracy, balanced accuracy and recall equal to scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score, recall_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tests.conftest import pooled_7x7
from tetsuban.learn.validate import fold_count, out_of_fold, validate

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
    """scikit-learn's out-of-fold predictions of the probe (standardized, class-balanced logistic regression)."""
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, class_weight="balanced", max_iter=5000, tol=1e-8))
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
