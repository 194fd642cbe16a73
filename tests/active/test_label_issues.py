"""Label issues: our confident learning against cleanlab's on the same data, and that it finds planted errors."""

from __future__ import annotations

import numpy as np
import pytest
from cleanlab.count import compute_confident_joint, get_confident_thresholds
from cleanlab.filter import find_label_issues as cleanlab_issues
from hypothesis import assume, given, settings, strategies as st

from tetsuban.active.label_issues import (
    WrongLabels,
    calibrated_wrong,
    class_thresholds,
    confident_classes,
    confident_joint,
    find_label_issues,
    label_issue_mask,
    neighbour_labels,
    out_of_fold_probabilities,
    prior_shifted,
    wrong_label_estimate,
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


@st.composite
def _labelled_probabilities(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Given labels (N,) of at least two classes and probabilities (N, K): rows of small whole numbers made to sum
    to one, so that ties and classes reaching their thresholds together are common; some classes may have no label.
    No probability is 0 (cleanlab raises those to 1e-6, and a softmax never gives one)."""
    k = draw(st.integers(2, 5))
    n = draw(st.integers(k, 40))
    weights = np.array(draw(st.lists(st.lists(st.integers(1, 6), min_size=k, max_size=k), min_size=n, max_size=n)))
    labels = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    assume(len(set(labels.tolist())) >= 2)
    return labels, weights / weights.sum(axis=1, keepdims=True)


def _clipped(joint: np.ndarray) -> np.ndarray:
    """cleanlab counts at least one image on each diagonal cell; ours are the plain counts."""
    out = joint.copy()
    np.fill_diagonal(out, out.diagonal().clip(min=1))
    return out


@settings(max_examples=400, deadline=None)
@given(_labelled_probabilities())
def test_confident_learning_is_cleanlabs_but_for_classes_reaching_their_thresholds_together(
    case: tuple[np.ndarray, np.ndarray],
) -> None:
    """Where at most one class reaches its threshold, or the most probable class is among those that do, our
    confident class, joint and issues are cleanlab's. Where several do and the most probable does not, cleanlab
    takes the most probable class anyway and we take the most probable of those that reached (the paper's rule)."""
    labels, probabilities = case
    n, k = probabilities.shape
    ours_t, theirs_t = class_thresholds(labels, probabilities), get_confident_thresholds(labels, probabilities)
    present = np.isin(np.arange(k), labels)
    assert np.allclose(ours_t[present], theirs_t[present]) and np.isinf(ours_t[~present]).all()
    reached = probabilities >= ours_t - 1e-6
    same_rule = (reached.sum(axis=1) <= 1) | reached[np.arange(n), probabilities.argmax(axis=1)]
    guess = confident_classes(labels, probabilities)
    rows = np.flatnonzero(same_rule)
    if len(rows):
        theirs, off_diagonal = compute_confident_joint(
            labels[rows],
            probabilities[rows],
            thresholds=theirs_t,
            calibrate=False,
            return_indices_of_off_diagonals=True,
        )
        counted = rows[guess[rows] >= 0]
        ours = np.zeros((k, k), np.int64)
        np.add.at(ours, (labels[counted], guess[counted]), 1)
        assert np.array_equal(_clipped(ours), theirs)
        assert np.array_equal(rows[off_diagonal], counted[guess[counted] != labels[counted]])
    if same_rule.all():
        assert np.array_equal(_clipped(confident_joint(labels, probabilities)), theirs)
    for row in np.flatnonzero(~same_rule):  # the paper's rule: the most probable of the classes that reached
        assert reached[row, guess[row]] and probabilities[row, guess[row]] == probabilities[row, reached[row]].max()
    ours_issues = label_issue_mask(labels, probabilities)
    theirs_issues = cleanlab_issues(labels, probabilities, filter_by="confident_learning")
    assert np.array_equal(ours_issues[same_rule], theirs_issues[same_rule])


def test_planted_label_errors_are_found_and_ranked_first(fashion_pixels: Data) -> None:
    x, y = fashion_pixels
    noisy, planted = _flipped(y[:1500], 60, seed=1)
    issues = find_label_issues(x[:1500], list(noisy), folds=3).issues
    flagged = {issue.index for issue in issues}
    assert len(flagged & set(planted.tolist())) >= 0.6 * len(planted)
    top = [issue.index for issue in issues[:30]]
    assert len(set(top) & set(planted.tolist())) >= 20  # the most doubtful are mostly the planted ones
    for issue in issues:
        assert issue.given == noisy[issue.index] and issue.suggested != issue.given
    assert [i.wrong_probability for i in issues] == sorted((i.wrong_probability for i in issues), reverse=True)
    assert all(0 <= i.wrong_probability <= 1 for i in issues)
    suggested = {issue.index: issue.suggested for issue in issues}
    fixed = [row for row in planted if row in suggested]
    assert np.mean([suggested[row] == y[row] for row in fixed]) > 0.6  # the suggestion is mostly the true class


def test_the_count_of_wrong_labels_to_expect_follows_the_planted_errors(fashion_pixels: Data) -> None:
    """With none planted the count is the data's own doubtful labels; 150 planted add about 150 to it, inside the
    count's interval, where the summed probabilities of a wrong label count every ambiguous image too."""
    x, y = fashion_pixels
    clean = find_label_issues(x[:1500], list(y[:1500]), folds=3).wrong
    noisy, planted = _flipped(y[:1500], 150, seed=1)
    found = find_label_issues(x[:1500], list(noisy), folds=3).wrong
    truth = len(planted) + clean.expected
    assert found.labels == 1500 and 0.2 * 1500 - 10 <= found.surest <= 0.2 * 1500 + 10
    assert 0.7 * len(planted) <= found.expected - clean.expected <= 1.5 * len(planted), (clean, found)
    low, high = found.interval
    assert low <= truth <= high
    classes, probabilities = out_of_fold_probabilities(x[:1500], list(noisy), folds=3)
    given = np.array([classes.index(name) for name in noisy])
    summed = calibrated_wrong(given, probabilities, x[:1500]).sum()
    assert abs(found.expected - truth) * 3 < abs(summed - truth)
    assert f"About {found.expected:,} of the 1,500 labels are likely wrong ({low:,} to {high:,})" in found.sentence


def test_the_probabilities_shown_for_the_issues_match_how_often_they_hold(fashion_pixels: Data) -> None:
    """Over the issues listed, the mean probability that the label is wrong and that the suggestion is right come
    within 0.1 of how often that is so by the data set's own labels (60 planted wrong); the head's raw probability
    of the suggestion, which the app showed before (a bag "Trouser 100%"), was 0.6 over."""
    x, y = fashion_pixels
    noisy, _ = _flipped(y[:1500], 60, seed=1)
    issues = find_label_issues(x[:1500], list(noisy), folds=3).issues
    wrong = np.mean([issue.given != y[issue.index] for issue in issues])
    right = np.mean([issue.suggested == y[issue.index] for issue in issues])
    assert abs(np.mean([issue.wrong_probability for issue in issues]) - wrong) < 0.1
    assert abs(np.mean([issue.suggested_calibrated for issue in issues]) - right) < 0.1
    assert np.mean([issue.suggested_probability for issue in issues]) - right > 0.5
    assert all(0 <= issue.suggested_calibrated <= issue.wrong_probability <= 1 for issue in issues)


def test_a_prior_shift_keeps_the_order_and_adds_up_to_the_count() -> None:
    p = np.array([0.99, 0.9, 0.6, 0.3, 0.05, 0.0, 1.0])
    for expected in (0.5, 1.0, 2.5, 6.0):
        shifted = prior_shifted(p, expected)
        assert shifted.sum() == pytest.approx(expected) and np.all(np.diff(shifted[:6]) < 0)
        assert np.all((shifted > 0) & (shifted < 1))
    assert prior_shifted(p, 0).sum() == pytest.approx(0.5)  # none expected: still half a label's doubt in all
    assert prior_shifted(p, 100).sum() == pytest.approx(6.5)
    assert prior_shifted(np.zeros(0), 3).shape == (0,)


def test_the_count_reads_the_surest_fifth_of_each_predicted_class() -> None:
    """Ten images predicted 0 and five predicted 1: the two and the one surest of them are read, and only their
    labels count; a wrong label on a less sure image changes nothing."""
    sure0 = np.array([0.99, 0.98, 0.7, 0.7, 0.7, 0.6, 0.6, 0.6, 0.6, 0.6])
    sure1 = np.array([0.95, 0.8, 0.8, 0.7, 0.6])
    opinion = np.vstack([np.c_[sure0, 1 - sure0], np.c_[1 - sure1, sure1]])
    given = np.array([1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0])
    assert wrong_label_estimate(given, opinion) == WrongLabels(15, 3, 1)
    given[0] = 0
    assert wrong_label_estimate(given, opinion) == WrongLabels(15, 3, 0)
    given[10] = 0
    assert wrong_label_estimate(given, opinion) == WrongLabels(15, 3, 1)


def test_the_interval_of_the_count_widens_with_fewer_sure_images_and_stays_in_bounds() -> None:
    few, many = WrongLabels(1000, 20, 2), WrongLabels(1000, 400, 40)
    assert few.expected == many.expected == 100
    assert few.interval[0] < many.interval[0] < 100 < many.interval[1] < few.interval[1]
    assert WrongLabels(1000, 50, 0).interval[0] == 0 and WrongLabels(1000, 50, 0).expected == 0
    assert WrongLabels(1000, 50, 50).interval[1] == 1000
    assert WrongLabels(0, 0, 0).interval == (0, 0) and WrongLabels(0, 0, 0).expected == 0


def test_too_few_labels_get_a_clear_message(fashion_pixels: Data) -> None:
    x, _y = fashion_pixels
    with pytest.raises(ConfigError, match="two labelled images each"):
        find_label_issues(x[:3], ["Bag", "Bag", "Coat"])


def test_folds_and_class_sizes_are_checked_at_their_bounds(fashion_pixels: Data) -> None:
    """Two classes of two labelled images each is the least that works, with 2 to 100 folds; less is refused by a
    ConfigError that names what is missing, never by a stray exception."""
    x, _y = fashion_pixels
    two_each = ["Bag", "Bag", "Coat", "Coat"]
    rows = x[:4]
    classes, probabilities = out_of_fold_probabilities(rows, two_each, folds=2)
    assert classes == ("Bag", "Coat") and probabilities.shape == (4, 2)
    out_of_fold_probabilities(rows, two_each, folds=100)
    for folds in (1, 101):
        with pytest.raises(ConfigError, match="folds"):
            out_of_fold_probabilities(rows, two_each, folds=folds)
    for labels in (["Bag", "Bag", "Coat"], ["Bag", "Bag", "Bag"], ["Bag", "Bag", "Coat", "Coat", "Dress"], []):
        with pytest.raises(ConfigError, match="two labelled images each"):
            out_of_fold_probabilities(x[: len(labels)], labels)


def test_the_same_call_gives_the_same_issues_and_the_regularization_is_used(fashion_pixels: Data) -> None:
    x, y = fashion_pixels
    noisy, _ = _flipped(y[:300], 30, seed=2)
    first = find_label_issues(x[:300], list(noisy), folds=3).issues
    assert first == find_label_issues(x[:300], list(noisy), folds=3).issues and first  # the folds come from the seed
    assert all(0 < i.suggested_probability <= 1 and 0 <= i.given_probability < 1 for i in first)
    other = find_label_issues(x[:300], list(noisy), folds=3, seed=1).issues
    assert {i.index for i in other} != {i.index for i in first}  # another seed, other folds
    _, weak = out_of_fold_probabilities(x[:300], list(noisy), folds=3, c=1e-4)
    _, strong = out_of_fold_probabilities(x[:300], list(noisy), folds=3, c=10.0)
    assert weak.max() < strong.max()  # heavy regularization keeps every probability near the prior


def test_the_confident_joint_counts_images(fashion_pixels: Data) -> None:
    x, y = fashion_pixels
    classes, probabilities = out_of_fold_probabilities(x[:200], list(y[:200]), folds=2)
    given = np.array([classes.index(name) for name in y[:200]])
    joint = confident_joint(given, probabilities)
    assert joint.dtype.kind == "i" and 0 < joint.sum() <= 200


def test_an_image_no_class_is_confident_of_gets_minus_one() -> None:
    given = np.array([0, 0, 1, 1, 0])
    probabilities = np.array([[0.9, 0.1], [0.9, 0.1], [0.1, 0.9], [0.1, 0.9], [0.5, 0.5]])
    # thresholds: class 0 is the mean of 0.9, 0.9 and 0.5 (0.77), class 1 of 0.9 and 0.9; the last image reaches neither
    assert confident_classes(given, probabilities).tolist() == [0, 0, 1, 1, -1]


def test_the_neighbours_labels_are_counted_among_the_nearest_other_images() -> None:
    x = np.array([[1.0, 0.0], [0.9, 0.1], [0.8, 0.2], [0.0, 1.0], [0.1, 0.9]])
    given = np.array([0, 0, 1, 1, 1])
    shares = neighbour_labels(x, given, 2, k=2)
    assert shares.tolist() == [[0.5, 0.5], [0.5, 0.5], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]  # by direction (cosine)


def test_a_label_its_neighbours_contradict_is_likelier_wrong_than_one_they_second() -> None:
    """Two images the model is equally unsure of (p of the given label 0.4): the one whose nearest images carry
    another label ranks as likelier wrong; and the probabilities lie in [0, 1]."""
    rng = np.random.default_rng(0)
    centres = np.array([[5.0, 0.0], [0.0, 5.0]])
    given = np.repeat([0, 1], 30)
    x = centres[given] + rng.normal(size=(60, 2))
    p = np.where(given[:, None] == np.arange(2), 0.9, 0.1)
    x[0] = centres[1]  # labelled 0, among the images labelled 1
    p[0], p[31] = [0.4, 0.6], [0.6, 0.4]  # image 31 (labelled 1, among its own) is as doubtful to the model
    wrong = calibrated_wrong(given, p, x)
    assert wrong[0] > wrong[31] and ((wrong >= 0) & (wrong <= 1)).all()
