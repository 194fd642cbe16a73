"""Labels that look wrong: confident learning (Northcutt, Jiang and Chuang, JAIR 2021) on out-of-fold probabilities.

Each class gets a threshold, the mean probability the model gives that class over the images labelled with it.
An image is counted as confidently of class j when its probability of j reaches j's threshold; when several
classes reach theirs, it is the most probable of those (the paper's rule, section 3.1). An image confidently of
another class than its label, which the model also does not predict as its label, is a label issue. Issues are
ranked by the probability that their label is wrong (:func:`calibrated_wrong`): the out-of-fold probabilities
averaged with the labels of the image's ten nearest neighbours, temperature-scaled; on planted errors this puts
more of them first than cleanlab's ranking by the given label's probability (bench/results/label_issues.md). The
probabilities come from k-fold cross-fitting on cached embeddings, so no image is judged by a head that saw its
label.

cleanlab (2.x) differs in one case: when two or more classes reach their thresholds it takes the most probable
class overall, which may be one that did not reach its threshold. We keep the paper's rule, so that a suggested
class is always one the model is confident of; everywhere else the two agree (tests/active/test_label_issues.py
checks both on random matrices, and bench/confident_learning.py measures how often the rule matters).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from tetsuban.errors import TooFewLabels
from tetsuban.learn.head import DEFAULT_C, fit_linear_head
from tetsuban.params import check_int

DEFAULT_FOLDS = 5
# The out-of-fold probe standardizes plainly, without train's spread floor: this ranking's precision was measured
# that way (bench/results/label_issues.md), and on the app's planted errors the floored probe found fewer of them.
LABEL_ISSUES_FLOOR = 0.0
_SLACK = 1e-6  # a probability this close below a threshold still reaches it
NEIGHBOURS = 10  # nearest images whose labels second the model's probabilities
_BLOCK = 512  # rows of cosine similarities computed at a time
SUREST_SHARE = 0.2  # of each predicted class, the share of its images most surely of it that estimate the error rate
_Z90 = 1.6449  # a two-sided 90% interval of the normal distribution

Issue = TypeVar("Issue")


@dataclass(frozen=True)
class LabelIssue:
    """One label that looks wrong: the image's position, its label, the suggested label, their probabilities by the
    out-of-fold head (``given_probability``, ``suggested_probability``: overconfident with few labels, a head on
    1,280 numbers fitted to tens of images), the probability that the label is wrong (``wrong_probability``: what
    the list is ranked by; over all labels these add up to the count of wrong labels to expect), and that the
    suggestion is right (``suggested_calibrated``, its share of that: what the app and the CLI show)."""

    index: int
    given: str
    suggested: str
    given_probability: float
    suggested_probability: float
    wrong_probability: float = 0.0
    suggested_calibrated: float = 0.0


@dataclass(frozen=True)
class WrongLabels:
    """How many of ``labels`` labels to expect wrong: ``disagreeing`` of the ``surest`` images the model and their
    neighbours are surest of carry another label than the one they are surest of."""

    labels: int
    surest: int
    disagreeing: int

    @property
    def expected(self) -> int:
        return round(self.disagreeing / self.surest * self.labels) if self.surest else 0

    @property
    def interval(self) -> tuple[int, int]:
        """A 90% interval of the count (Wilson's, on the share among the surest images)."""
        if not self.surest:
            return 0, self.labels
        n, share = self.surest, self.disagreeing / self.surest
        centre = (share + _Z90**2 / (2 * n)) / (1 + _Z90**2 / n)
        half = _Z90 * math.sqrt(share * (1 - share) / n + _Z90**2 / (4 * n * n)) / (1 + _Z90**2 / n)
        return math.floor(max(0.0, centre - half) * self.labels), math.ceil(min(1.0, centre + half) * self.labels)

    @property
    def sentence(self) -> str:
        low, high = self.interval
        return (
            f"About {self.expected:,} of the {self.labels:,} labels are likely wrong ({low:,} to {high:,}): "
            f"{self.disagreeing:,} of the {self.surest:,} images the model and their neighbours are surest of carry "
            "another label."
        )


@dataclass(frozen=True)
class LabelIssues(Generic[Issue]):
    """The labels that look wrong, most doubtful first, and how many wrong labels to expect in all."""

    issues: list[Issue]
    wrong: WrongLabels


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
        head = fit_linear_head(embeddings[train], list(y[train]), c, floor=LABEL_ISSUES_FLOOR)
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
) -> LabelIssues[LabelIssue]:
    """The labels that look wrong among ``labels`` (one per row of ``embeddings``), most doubtful first, and how
    many to expect wrong in all."""
    classes, probabilities = out_of_fold_probabilities(embeddings, labels, folds, seed)
    given = np.array([classes.index(name) for name in labels])
    guess = confident_classes(given, probabilities)
    flagged = np.flatnonzero(label_issue_mask(given, probabilities, guess))
    opinion = second_opinion(given, probabilities, np.asarray(embeddings, np.float64))
    estimate = wrong_label_estimate(given, opinion)
    wrong, suggested = doubt(given, guess, opinion, estimate.expected)
    issues = [
        LabelIssue(
            int(i),
            classes[given[i]],
            classes[guess[i]],
            float(probabilities[i, given[i]]),
            float(probabilities[i, guess[i]]),
            float(wrong[i]),
            float(suggested[i]),
        )
        for i in flagged
    ]
    ranked = sorted(issues, key=lambda issue: (-issue.wrong_probability, issue.index))
    return LabelIssues(ranked, estimate)


def doubt(given: np.ndarray, guess: np.ndarray, opinion: np.ndarray, expected: float) -> tuple[np.ndarray, np.ndarray]:
    """(N,) each: the probability that each label is wrong, and that ``guess`` (a class index, or -1) is right
    instead: ``opinion`` calibrated to the labels given, its odds of a wrong label shifted to add up to ``expected``
    (:func:`prior_shifted`), and the guess's share of the other classes' probability."""
    rows = np.arange(len(given))
    calibrated = calibrated_opinion(given, opinion)
    others = 1.0 - calibrated[rows, given]
    wrong = prior_shifted(others, expected)
    return wrong, wrong * calibrated[rows, np.maximum(guess, 0)] / np.maximum(others, 1e-12)


def prior_shifted(probabilities: np.ndarray, expected: float) -> np.ndarray:
    """``probabilities`` that labels are wrong, their odds multiplied by the one factor that makes them add up to
    ``expected`` (at least half a label, at most all but half): the calibrated probabilities carry the share of
    ambiguous images as if they were wrong labels, the count does not (a change of prior, as Saerens, Latinne and
    Decaestecker, Neural Computation 2002). The order is kept."""
    from scipy.optimize import brentq

    p = np.clip(probabilities, 1e-9, 1 - 1e-9)
    if len(p) == 0:
        return p
    target = min(max(float(expected), 0.5), len(p) - 0.5)
    odds = p / (1 - p)

    def excess(log_factor: float) -> float:
        scaled = odds * np.exp(log_factor)
        return float((scaled / (1 + scaled)).sum()) - target

    factor = np.exp(brentq(excess, -60.0, 60.0))
    return odds * factor / (1 + odds * factor)


def wrong_label_estimate(given: np.ndarray, opinion: np.ndarray) -> WrongLabels:
    """How many of the labels ``given`` (class indices) to expect wrong, from ``opinion`` (N, K) (see
    :func:`second_opinion`): the share of wrong labels among the images most surely of their predicted class (the
    surest :data:`SUREST_SHARE` of each predicted class, at least one), counted over all."""
    predicted, sureness = opinion.argmax(axis=1), opinion.max(axis=1)
    surest = []
    for name in np.unique(predicted):
        members = np.flatnonzero(predicted == name)
        keep = max(1, round(SUREST_SHARE * len(members)))
        surest.append(members[np.argsort(-sureness[members], kind="stable")[:keep]])
    chosen = np.concatenate(surest) if surest else np.zeros(0, np.int64)
    return WrongLabels(len(given), len(chosen), int((given[chosen] != predicted[chosen]).sum()))


def neighbour_labels(embeddings: np.ndarray, given: np.ndarray, classes: int, k: int = NEIGHBOURS) -> np.ndarray:
    """(N, classes): the share of each class among each image's ``k`` nearest other images (cosine similarity of
    the embeddings), by their given labels ``given`` (class indices)."""
    n = len(given)
    k = min(k, n - 1)
    shares = np.zeros((n, classes), np.float64)
    if k < 1:
        return shares
    unit = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
    for start in range(0, n, _BLOCK):
        similar = unit[start : start + _BLOCK] @ unit.T
        rows = np.arange(similar.shape[0])
        similar[rows, start + rows] = -np.inf  # not its own neighbour
        nearest = np.argpartition(-similar, k - 1, axis=1)[:, :k]
        np.add.at(shares, (start + rows[:, None].repeat(k, axis=1), given[nearest]), 1.0 / k)
    return shares


def neighbour_agreement(embeddings: np.ndarray, given: np.ndarray, k: int = NEIGHBOURS) -> np.ndarray:
    """(N,): the share of each image's ``k`` nearest other images that carry its label."""
    shares = neighbour_labels(embeddings, given, int(given.max()) + 1, k)
    return shares[np.arange(len(given)), given]


def fit_temperature(probabilities: np.ndarray, given: np.ndarray) -> float:
    """The temperature T that makes softmax(log p / T) most likely to give the labels ``given`` (negative log
    likelihood, T searched between 0.05 and 20)."""
    from scipy.optimize import minimize_scalar

    logits = np.log(np.clip(probabilities, 1e-12, 1.0))
    rows = np.arange(len(given))

    def loss(log_t: float) -> float:
        scaled = logits / np.exp(log_t)
        scaled -= scaled.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(scaled).sum(axis=1))
        return float(np.mean(log_norm - scaled[rows, given]))

    found = minimize_scalar(loss, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(found.x))


def second_opinion(given: np.ndarray, probabilities: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """(N, K): the out-of-fold probabilities averaged with the labels of each image's nearest neighbours (a second,
    independent opinion)."""
    return (probabilities + neighbour_labels(embeddings, given, probabilities.shape[1])) / 2


def calibrated_wrong(given: np.ndarray, probabilities: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """(N,): the probability that each label is wrong: one minus the given label's probability in the
    :func:`second_opinion`, temperature-scaled to the labels given. It ranks; summed, it overcounts (ambiguous images
    count too): :func:`wrong_label_estimate` counts."""
    calibrated = calibrated_opinion(given, second_opinion(given, probabilities, embeddings))
    return 1.0 - calibrated[np.arange(len(given)), given]


def calibrated_opinion(given: np.ndarray, opinion: np.ndarray) -> np.ndarray:
    """(N, K): ``opinion`` (see :func:`second_opinion`) temperature-scaled to the labels given."""
    temperature = fit_temperature(opinion, given)
    logits = np.log(np.clip(opinion, 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return scaled / scaled.sum(axis=1, keepdims=True)
