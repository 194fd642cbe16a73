"""Two models on the same test images: the difference in accuracy with a paired bootstrap confidence interval.

Paired: each resample draws images, and both models are scored on the same draw, so that the interval reflects
how the models differ on images, not how hard the drawn images happen to be.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tetsuban.errors import ConfigError
from tetsuban.evaluate.run import Evaluation

BOOTSTRAPS = 2000
LEVEL = 0.95


@dataclass(frozen=True)
class Comparison:
    """Accuracy of A and of B, B - A, its interval, and on how many images only one of them was right."""

    images: int
    accuracy_a: float
    accuracy_b: float
    low: float
    high: float
    only_a: int
    only_b: int

    @property
    def difference(self) -> float:
        return self.accuracy_b - self.accuracy_a

    @property
    def clear(self) -> bool:
        """Whether the interval leaves out zero."""
        return self.low > 0 or self.high < 0


def paired_bootstrap(
    correct_a: np.ndarray, correct_b: np.ndarray, seed: int = 0, bootstraps: int = BOOTSTRAPS, level: float = LEVEL
) -> Comparison:
    """Compare two models by their per-image correctness on the same images, in the same order."""
    a = np.asarray(correct_a, bool)
    b = np.asarray(correct_b, bool)
    if a.shape != b.shape or a.ndim != 1 or not len(a):
        raise ConfigError(
            f"Both models must be scored on the same, non-empty list of images. Got {a.shape} and {b.shape}."
        )
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(a), size=(bootstraps, len(a)))
    differences = b[draws].mean(axis=1) - a[draws].mean(axis=1)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(differences, [tail, 100 - tail])
    return Comparison(
        len(a), float(a.mean()), float(b.mean()), float(low), float(high), int((a & ~b).sum()), int((b & ~a).sum())
    )


def compare_evaluations(a: Evaluation, b: Evaluation, seed: int = 0) -> Comparison:
    """:func:`paired_bootstrap` on the test images both models could read."""
    right_a = dict(zip((i.image_id for i in a.items), a.metrics.correct, strict=True))
    right_b = dict(zip((i.image_id for i in b.items), b.metrics.correct, strict=True))
    common = sorted(right_a.keys() & right_b.keys())
    return paired_bootstrap(np.array([right_a[i] for i in common]), np.array([right_b[i] for i in common]), seed)
