"""When to stop: a learning curve from the labelling history, and what more labels would buy.

The head is refitted on the first n training labels in the order they were given, for a rising series of n, and
scored on the labelled validation images. A power law, accuracy(n) = a - b * n^(-c), is fitted to those points
(past the first few labels, where no power law holds); refitting it to bootstrap resamples of the validation
images, with the fit's residuals resampled onto them, gives the uncertainty band. From the fit: the
accuracy expected at twice the labels, and the labels needed for a target accuracy (None where the fitted
ceiling a lies below it).

:class:`Reach` is the one answer to "how many more labels for this accuracy?" that the app's panel, ``tetsuban
curve`` and the evaluation report all give: reached already (the latest measured point meets it), about N more,
more than the train images there are, or never by more labels alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from tetsuban.errors import ConfigError
from tetsuban.learn.head import DEFAULT_C, fit_linear_head
from tetsuban.progress import ProgressFn

MIN_POINTS = 4
MIN_VALIDATION = 10
_FIT_FROM = 50  # a power law describes the curve past its first few labels: points from here on are fitted
_FIT_SPAN = 16  # ... or from a sixteenth of the labels, whichever is more
_BOOTSTRAPS = 200
_BOOTSTRAP_STEP = 20  # bootstrap fits per progress report
_BAND = (10.0, 90.0)  # percentiles of the bootstrap fits shown as the band


@dataclass(frozen=True)
class PowerLaw:
    """accuracy(n) = ceiling - scale * n ** -exponent."""

    ceiling: float
    scale: float
    exponent: float

    def accuracy(self, n: np.ndarray | float) -> np.ndarray:
        return self.ceiling - self.scale * np.power(np.asarray(n, np.float64), -self.exponent)

    def labels_for(self, target: float) -> float | None:
        """Labels at which the curve reaches ``target``; None when its ceiling is below."""
        if target >= self.ceiling or self.scale <= 0 or self.exponent <= 0:
            return None
        return float((self.scale / (self.ceiling - target)) ** (1.0 / self.exponent))


Verdict = Literal["reached", "estimate", "beyond_images", "levels_off"]


class CurveNotYet(ConfigError):
    """Too few labels for a curve: of which kind (``"val"``: labelled validation images; ``"train"``: training
    labels, of two classes or more), how many there are and how many a curve needs at least."""

    def __init__(self, message: str, kind: Literal["val", "train"], have: int, need: int) -> None:
        super().__init__(message)
        self.kind = kind
        self.have = have
        self.need = need


@dataclass(frozen=True)
class Reach:
    """What the curve says about reaching ``target``: the verdict and its numbers.

    ``reached``: the latest measured point meets the target; ``estimate``: the fit needs ``total`` labels in all,
    within the train images there are; ``beyond_images``: it needs more labels than ``train_images``, the train
    split's images, labelled or not (more images first); ``levels_off``: the fitted ceiling is below the target.
    """

    target: float
    verdict: Verdict
    labels: int  # training labels the curve is measured on
    accuracy: float  # the latest measured point's
    ceiling: float  # the fit's
    total: int | None  # training labels the fit needs in all (None: it levels off below)
    low: int | None  # the band's optimistic and pessimistic totals (None where the band does not reach it)
    high: int | None
    train_images: int

    @property
    def more(self) -> int | None:
        """Labels still to give for the target, by the fit; 0 once reached."""
        if self.verdict == "reached":
            return 0
        return None if self.total is None else max(0, self.total - self.labels)

    @property
    def sentence(self) -> str:
        """The verdict in one English sentence (the CLI's and the report's; the app's panel says it in its
        language from the same fields)."""
        goal = f"{self.target:.3f}"
        if self.verdict == "reached":
            return f"The latest point already meets {goal}: {self.accuracy:.3f} at {self.labels:,} training labels."
        if self.verdict == "levels_off" or self.total is None:
            return (
                f"The fitted curve levels off below {goal} (its ceiling: {self.ceiling:.3f}): more labels of the "
                "same kind alone will not get there."
            )
        if self.verdict == "beyond_images":
            return (
                f"{goal} would take about {self.total:,} training labels, more than the {self.train_images:,} "
                "images of the train split: out of reach by labelling alone. Add images first."
            )
        if self.more == 0:
            return (
                f"The fitted curve passes {goal} at about {self.total:,} labels, the latest point is below it "
                f"({self.accuracy:.3f} at {self.labels:,}): a few more labels should show it."
            )
        spread = f"; {self.low:,} to {self.high:,} over the bootstrap fits" if self.low and self.high else ""
        return f"{goal} needs about {self.total:,} training labels in all, {self.more:,} more{spread}."


@dataclass(frozen=True)
class LearningCurve:
    """Measured points, the fit, and its bootstrap band; estimates at twice the labels and for a target.
    ``train_images``: the images of the train split, labelled or not (what labelling alone can reach)."""

    labels: tuple[int, ...]
    accuracy: tuple[float, ...]
    validation_images: int
    fit: PowerLaw
    band_fits: tuple[PowerLaw, ...]
    train_images: int = 0

    @property
    def current(self) -> int:
        return self.labels[-1]

    def expected(self, n: float) -> tuple[float, float, float]:
        """(low, fitted, high) accuracy at ``n`` labels."""
        spread = np.array([f.accuracy(n) for f in self.band_fits])
        low, high = np.percentile(spread, _BAND) if len(spread) else (np.nan, np.nan)
        return float(low), float(self.fit.accuracy(n)), float(high)

    def labels_for(self, target: float) -> tuple[float | None, float | None, float | None]:
        """(optimistic, fitted, pessimistic) labels needed for ``target``; None where a fit never reaches it."""
        needs = [f.labels_for(target) for f in self.band_fits]
        reached = sorted(n for n in needs if n is not None)
        share = len(reached) / len(needs) if needs else 0.0
        optimistic = float(np.percentile(reached, _BAND[0])) if reached else None
        pessimistic = float(np.percentile(reached, _BAND[1])) if share >= _BAND[1] / 100 else None
        return optimistic, self.fit.labels_for(target), pessimistic

    def reach(self, target: float) -> Reach:
        """The verdict on ``target`` and its numbers (see :class:`Reach`)."""
        optimistic, fitted, pessimistic = self.labels_for(target)
        total, low, high = (None if n is None else math.ceil(n) for n in (fitted, optimistic, pessimistic))
        pool = max(self.train_images, self.current)
        verdict: Verdict
        if self.accuracy[-1] >= target:
            verdict = "reached"
        elif total is None:
            verdict = "levels_off"
        elif total > pool:
            verdict = "beyond_images"
        else:
            verdict = "estimate"
        return Reach(target, verdict, self.current, self.accuracy[-1], self.fit.ceiling, total, low, high, pool)


_EXPONENTS = (0.05, 2.0)  # the bounds of the exponent c
_GRID = 79  # exponents tried first, 0.025 apart; then a golden-section search between the best one's neighbours
_GOLDEN_STEPS = 40  # each shrinks the bracket to 0.618 of itself: 0.05 / 1.6e8 at the end


def fit_power_law(labels: Sequence[float] | np.ndarray, accuracy: Sequence[float] | np.ndarray) -> PowerLaw:
    """Least-squares fit of accuracy(n) = a - b n^-c with a in [0, 1], b >= 0, c in [0.05, 2]."""
    return fit_power_laws(labels, np.asarray(accuracy, np.float64)[None, :])[0]


def fit_power_laws(labels: Sequence[float] | np.ndarray, accuracies: np.ndarray) -> list[PowerLaw]:
    """:func:`fit_power_law` to each row of ``accuracies`` (fits, points), all rows at once.

    For a fixed exponent c the best a and b solve a linear least-squares problem over a box, which has a closed form
    (:func:`_best_linear`), so only c is searched: on a grid over its bounds, then by golden section between the
    best grid point's neighbours. Searching the whole range of c first, it does not stop at a local fit the way a
    solver started from one guess may (on 400 noisy laws its error was never above scipy's curve_fit's, and its
    predictions at 400 to 3,200 labels, fitted on 50 to 320, were the same to a median 2e-8), and it fits the 200
    bootstrap curves of a learning curve in 0.04 s, where curve_fit took 1.3 s or more.
    """
    n = np.asarray(labels, np.float64)
    y = np.asarray(accuracies, np.float64)
    grid = np.linspace(*_EXPONENTS, _GRID)
    errors = _best_linear(n, np.tile(y, (_GRID, 1)), np.repeat(grid, len(y)))[2].reshape(_GRID, len(y))
    best = errors.argmin(axis=0)
    low, high = grid[np.maximum(best - 1, 0)], grid[np.minimum(best + 1, _GRID - 1)]
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    left, right = high - ratio * (high - low), low + ratio * (high - low)
    left_error, right_error = _best_linear(n, y, left)[2], _best_linear(n, y, right)[2]
    for _ in range(_GOLDEN_STEPS):
        shrink_right = left_error <= right_error  # the minimum lies in [low, right]; else in [left, high]
        low, high = np.where(shrink_right, low, left), np.where(shrink_right, right, high)
        new = np.where(shrink_right, high - ratio * (high - low), low + ratio * (high - low))
        new_error = _best_linear(n, y, new)[2]
        left, right = np.where(shrink_right, new, right), np.where(shrink_right, left, new)
        left_error, right_error = (
            np.where(shrink_right, new_error, right_error),
            np.where(shrink_right, left_error, new_error),
        )
    exponents = [low, high, np.where(left_error <= right_error, left, right)]  # the bounds may be best
    fits = [_best_linear(n, y, c) for c in exponents]
    a, b, c = _lowest([error for _, _, error in fits], [f[0] for f in fits], [f[1] for f in fits], exponents)
    return [PowerLaw(float(a[i]), float(b[i]), float(c[i])) for i in range(len(y))]


def _best_linear(n: np.ndarray, y: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row of ``y`` (fits, points) and its exponent in ``c`` (fits,): the a in [0, 1] and b >= 0 that
    minimise the squared error of a - b z, z = n^-c, and that error. The problem is convex, so its minimum is the
    unconstrained one where that lies in the box, else the best of the box's edges (b = 0, a = 0, a = 1)."""
    z = np.power(n[None, :], -c[:, None])  # (fits, points)
    z_mean, y_mean = z.mean(axis=1), y.mean(axis=1)
    spread = ((z - z_mean[:, None]) ** 2).sum(axis=1)
    slope = ((z - z_mean[:, None]) * (y - y_mean[:, None])).sum(axis=1) / spread
    free_b = -slope
    free_a = y_mean + free_b * z_mean
    squares = (z**2).sum(axis=1)
    candidates = [
        (free_a, free_b, (free_a >= 0.0) & (free_a <= 1.0) & (free_b >= 0.0)),
        (np.clip(y_mean, 0.0, 1.0), np.zeros_like(y_mean), np.ones_like(y_mean, bool)),
    ]
    for edge in (0.0, 1.0):
        edge_b = np.maximum(0.0, ((edge - y) * z).sum(axis=1) / squares)
        candidates.append((np.full_like(y_mean, edge), edge_b, np.ones_like(y_mean, bool)))
    errors = [np.where(ok, ((a[:, None] - b[:, None] * z - y) ** 2).sum(axis=1), np.inf) for a, b, ok in candidates]
    best_a, best_b, best_error = _lowest(errors, [a for a, _, _ in candidates], [b for _, b, _ in candidates], errors)
    return best_a, best_b, best_error


def _lowest(errors: list[np.ndarray], *values: list[np.ndarray]) -> list[np.ndarray]:
    """Per row, each of ``values`` (lists of candidates, each an array over the rows) at the candidate whose entry in
    ``errors`` is lowest (the first of equals)."""
    chosen = np.stack(errors).argmin(axis=0)
    rows = np.arange(len(chosen))
    return [np.stack(candidates)[chosen, rows] for candidates in values]


def label_counts(total: int, first: int = 10) -> list[int]:
    """Points to measure at: doubling from ``first`` (and halfway between), ending at ``total``."""
    points: list[int] = []
    n = float(first)
    while n < total:
        points.append(int(n))
        n *= 2**0.5
    return sorted({*points, total})


def learning_curve(
    train_x: np.ndarray,
    train_labels: Sequence[str],
    val_x: np.ndarray,
    val_labels: Sequence[str],
    seed: int = 0,
    c: float = DEFAULT_C,
    train_images: int = 0,
    on_progress: ProgressFn | None = None,
) -> LearningCurve:
    """The curve of heads fitted on the first n of ``train_labels`` (in labelling order), scored on the
    validation images; ``train_images``: the train split's images, labelled or not (at least the labels).
    ``on_progress`` hears of each head fitted and each tenth of the bootstrap fits."""
    if len(val_labels) < MIN_VALIDATION:
        raise CurveNotYet(
            f"A learning curve needs at least {MIN_VALIDATION} labelled validation images. Got {len(val_labels)}. "
            "Label some images of the val split (tetsuban split makes one).",
            "val",
            len(val_labels),
            MIN_VALIDATION,
        )
    truth = np.asarray(val_labels)
    counts: list[int] = []
    hits: list[np.ndarray] = []  # per point: which validation images the head got right
    points = label_counts(len(train_labels))
    steps = len(points) + _BOOTSTRAPS // _BOOTSTRAP_STEP
    for step, n in enumerate(points, start=1):
        if on_progress is not None:
            on_progress(step - 1, steps)
        if len(set(train_labels[:n])) < 2:
            continue
        head = fit_linear_head(train_x[:n], list(train_labels[:n]), c)
        predicted = np.asarray(head.classes)[head.probabilities(val_x).argmax(axis=1)]
        counts.append(n)
        hits.append(predicted == truth)
    if len(counts) < MIN_POINTS:
        raise CurveNotYet(
            f"A learning curve needs training labels of two classes at {MIN_POINTS} or more label counts. Got "
            f"{len(counts)} from {len(train_labels)} training labels. Label more images first.",
            "train",
            len(train_labels),
            label_counts(10 * len(train_labels) + 100)[MIN_POINTS - 1],  # the labels of the fewest points that do
        )
    correct = np.array(hits, np.float64)  # (points, validation images)
    accuracy = correct.mean(axis=1)
    fitted = np.flatnonzero(np.asarray(counts) >= max(_FIT_FROM, counts[-1] // _FIT_SPAN))
    if len(fitted) < MIN_POINTS:
        fitted = np.arange(len(counts))[-MIN_POINTS:]
    at = np.asarray(counts, np.float64)[fitted]
    fit = fit_power_law(at, accuracy[fitted])
    residuals = accuracy[fitted] - fit.accuracy(at)
    rng = np.random.default_rng(seed)
    resampled = []
    for _ in range(_BOOTSTRAPS):  # both the validation sample and the wobble of the curve itself
        rows = rng.integers(0, correct.shape[1], correct.shape[1])
        wobble = rng.choice(residuals, len(residuals))
        resampled.append(correct[fitted][:, rows].mean(axis=1) + wobble)
    band: list[PowerLaw] = []
    for first in range(0, _BOOTSTRAPS, _BOOTSTRAP_STEP):
        band += fit_power_laws(at, np.asarray(resampled[first : first + _BOOTSTRAP_STEP]))
        if on_progress is not None:
            on_progress(len(points) + len(band) // _BOOTSTRAP_STEP, steps)
    pool = max(train_images, len(train_labels))
    return LearningCurve(tuple(counts), tuple(float(a) for a in accuracy), len(truth), fit, tuple(band), pool)
