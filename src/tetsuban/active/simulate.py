"""The simulator: the real labelling loop run against known labels, to measure what each strategy's labels buy.

Every image's label is known but hidden; the loop asks for ``step`` images, the oracle answers with their labels,
the loop retrains (exactly as it does for a person), and the head is scored on the test images, which are never
queued. Repeated per strategy and seed, this gives label-efficiency curves: test accuracy against labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tetsuban.active.loop import LabelLoop
from tetsuban.active.registry import strategy_named
from tetsuban.errors import ConfigError
from tetsuban.learn.head import DEFAULT_C, LinearHead
from tetsuban.params import check_int
from tetsuban.progress import ProgressFn


@dataclass(frozen=True)
class Curve:
    """One run: test accuracy after each step of labels."""

    strategy: str
    seed: int
    labels: tuple[int, ...]
    accuracy: tuple[float, ...]


def accuracy_of(head: LinearHead | None, x: np.ndarray, truth: np.ndarray, fallback: str | None) -> float:
    """Share of ``truth`` the head predicts from ``x``; without a head, the share of ``fallback`` (the one class
    labelled so far), or 0 when nothing is labelled."""
    if head is None:
        return float(np.mean(truth == fallback)) if fallback is not None else 0.0
    predicted = np.asarray(head.classes)[head.probabilities(x).argmax(axis=1)]
    return float(np.mean(predicted == truth))


def simulate(
    embeddings: np.ndarray,
    labels: Sequence[str],
    test: np.ndarray,
    strategy: str,
    budget: int,
    step: int,
    seed: int,
    c: float = DEFAULT_C,
) -> Curve:
    """One run of ``strategy`` (a name in active.STRATEGIES) up to ``budget`` labels, ``step`` at a time."""
    check_int("budget", budget, 1, 10_000_000)
    check_int("step", step, 1, budget)
    truth = np.asarray(labels, dtype=object)
    test_mask = np.asarray(test, bool)
    if truth.shape != test_mask.shape or len(truth) != len(embeddings):
        raise ConfigError(
            f"Embeddings, labels and the test mask must have one row per image. Got {len(embeddings)}, "
            f"{len(truth)} and {len(test_mask)}."
        )
    loop = LabelLoop(embeddings, ~test_mask, strategy_named(strategy), step, step, seed, c)
    x_test, y_test = loop.embeddings[test_mask], truth[test_mask].astype(str)
    counts: list[int] = []
    scores: list[float] = []
    done = 0
    while done < budget:
        picks = loop.next_images(min(step, budget - done))
        if not picks:
            break
        for index in picks:
            loop.label(index, str(truth[index]))  # the step-th label retrains, as it would for a person
        done += len(picks)
        if done % step:
            loop.retrain()  # a last partial step
        fallback = next((label for label in loop.labels if label is not None), None)
        counts.append(done)
        scores.append(accuracy_of(loop.snapshot.head, x_test, y_test, fallback))
    return Curve(strategy, seed, tuple(counts), tuple(scores))


def simulate_all(
    embeddings: np.ndarray,
    labels: Sequence[str],
    test: np.ndarray,
    strategies: Sequence[str],
    budget: int,
    step: int,
    seeds: int,
    on_progress: ProgressFn | None = None,
) -> list[Curve]:
    """Every strategy with seeds 0 .. seeds-1, reporting (runs done, runs) as it goes."""
    check_int("seeds", seeds, 1, 100)
    runs = [(name, seed) for seed in range(seeds) for name in strategies]
    curves = []
    for done, (name, seed) in enumerate(runs):
        if on_progress is not None:
            on_progress(done, len(runs))
        curves.append(simulate(embeddings, labels, test, name, budget, step, seed))
    if on_progress is not None:
        on_progress(len(runs), len(runs))
    return curves


def mean_curves(curves: Sequence[Curve]) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per strategy: label counts, mean accuracy over seeds and its standard deviation (runs cut to the shortest)."""
    grouped: dict[str, list[Curve]] = {}
    for curve in curves:
        grouped.setdefault(curve.strategy, []).append(curve)
    out = {}
    for name, runs in grouped.items():
        length = min(len(r.accuracy) for r in runs)
        scores = np.array([r.accuracy[:length] for r in runs])
        out[name] = (np.asarray(runs[0].labels[:length]), scores.mean(axis=0), scores.std(axis=0))
    return out


def labels_to_reach(counts: np.ndarray, accuracy: np.ndarray, target: float) -> int | None:
    """The fewest labels at which the (mean) curve reaches ``target``; None if it never does."""
    reached = np.flatnonzero(accuracy >= target - 1e-12)
    return int(counts[reached[0]]) if len(reached) else None
