"""When to stop: a learning curve from the labelling history, and what more labels would buy.

The head is refitted on the first n training labels in the order they were given, for a rising series of n, and
scored on the labelled validation images. A power law, accuracy(n) = a - b * n^(-c), is fitted to those points
(past the first few labels, where no power law holds); refitting it to bootstrap resamples of the validation
images, with the fit's residuals resampled onto them, gives the uncertainty band. From the fit: the
accuracy expected at twice the labels, and the labels needed for a target accuracy (None where the fitted
ceiling a lies below it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tetsuban.errors import ConfigError
from tetsuban.learn.head import DEFAULT_C, fit_linear_head

MIN_POINTS = 4
MIN_VALIDATION = 10
_FIT_FROM = 50  # a power law describes the curve past its first few labels: points from here on are fitted
_FIT_SPAN = 16  # ... or from a sixteenth of the labels, whichever is more
_BOOTSTRAPS = 200
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


@dataclass(frozen=True)
class LearningCurve:
    """Measured points, the fit, and its bootstrap band; estimates at twice the labels and for a target."""

    labels: tuple[int, ...]
    accuracy: tuple[float, ...]
    validation_images: int
    fit: PowerLaw
    band_fits: tuple[PowerLaw, ...]

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


def fit_power_law(labels: Sequence[float] | np.ndarray, accuracy: Sequence[float] | np.ndarray) -> PowerLaw:
    """Least-squares fit of accuracy(n) = a - b n^-c with a in [0, 1], b >= 0, c in [0.05, 2]."""
    from scipy.optimize import curve_fit

    n = np.asarray(labels, np.float64)
    y = np.asarray(accuracy, np.float64)

    def law(x: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
        return a - b * np.power(x, -c)

    start = (min(1.0, float(y.max()) + 0.02), max(1e-3, float(y.max() - y.min())) * float(n.min()) ** 0.5, 0.5)
    try:
        (a, b, c), _ = curve_fit(law, n, y, p0=start, bounds=([0.0, 0.0, 0.05], [1.0, np.inf, 2.0]), maxfev=20_000)
    except RuntimeError:  # no convergence: a flat line at the last accuracy says "no more to gain"
        return PowerLaw(float(y[-1]), 0.0, 1.0)
    return PowerLaw(float(a), float(b), float(c))


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
) -> LearningCurve:
    """The curve of heads fitted on the first n of ``train_labels`` (in labelling order), scored on the
    validation images."""
    if len(val_labels) < MIN_VALIDATION:
        raise ConfigError(
            f"A learning curve needs at least {MIN_VALIDATION} labelled validation images. Got {len(val_labels)}. "
            "Label some images of the val split (tetsuban split makes one)."
        )
    truth = np.asarray(val_labels)
    counts: list[int] = []
    hits: list[np.ndarray] = []  # per point: which validation images the head got right
    for n in label_counts(len(train_labels)):
        if len(set(train_labels[:n])) < 2:
            continue
        head = fit_linear_head(train_x[:n], list(train_labels[:n]), c)
        predicted = np.asarray(head.classes)[head.probabilities(val_x).argmax(axis=1)]
        counts.append(n)
        hits.append(predicted == truth)
    if len(counts) < MIN_POINTS:
        raise ConfigError(
            f"A learning curve needs training labels of two classes at {MIN_POINTS} or more label counts. Got "
            f"{len(counts)} from {len(train_labels)} training labels. Label more images first."
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
    band = []
    for _ in range(_BOOTSTRAPS):  # both the validation sample and the wobble of the curve itself
        rows = rng.integers(0, correct.shape[1], correct.shape[1])
        wobble = rng.choice(residuals, len(residuals))
        band.append(fit_power_law(at, correct[fitted][:, rows].mean(axis=1) + wobble))
    return LearningCurve(tuple(counts), tuple(float(a) for a in accuracy), len(truth), fit, tuple(band))
