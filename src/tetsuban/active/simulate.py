"""The simulator: the real labelling loop run against known labels, to measure what each strategy's labels buy.

Every image's label is known but hidden; the loop asks for ``step`` images, the oracle answers with their labels,
the loop retrains (exactly as it does for a person), and the head is scored on the test images, which are never
queued. Repeated per strategy and seed, this gives label-efficiency curves: test accuracy against labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tetsuban.active.heads import DEFAULT_HEAD, LoopHead
from tetsuban.active.loop import LabelLoop, Snapshot
from tetsuban.active.registry import strategy_named
from tetsuban.errors import ConfigError
from tetsuban.learn.head import DEFAULT_C
from tetsuban.params import check_int
from tetsuban.progress import ProgressFn


@dataclass(frozen=True)
class Curve:
    """One run: test accuracy after each step of labels, picked by ``strategy`` with the loop's ``head``."""

    strategy: str
    seed: int
    labels: tuple[int, ...]
    accuracy: tuple[float, ...]
    head: str = DEFAULT_HEAD

    @property
    def run(self) -> str:
        """The name its strategy and head go by in tables: "hybrid + spreading"."""
        return run_name(self.strategy, self.head)


def run_name(strategy: str, head: str) -> str:
    return f"{strategy} + {head}"


def accuracy_of(snapshot: Snapshot, rows: np.ndarray, truth: np.ndarray, fallback: str | None) -> float:
    """Share of ``truth`` the loop's probabilities at ``rows`` predict; before two classes, the share of
    ``fallback`` (the one class labelled so far), or 0 when nothing is labelled."""
    if snapshot.probabilities is None:
        return float(np.mean(truth == fallback)) if fallback is not None else 0.0
    predicted = np.asarray(snapshot.classes)[snapshot.probabilities[rows].argmax(axis=1)]
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
    head: str | LoopHead = DEFAULT_HEAD,
    queue: int | None = None,
) -> Curve:
    """One run of ``strategy`` (a name in active.STRATEGIES) with ``head`` (a name in active.HEADS, or a head over
    ``embeddings`` that runs share) up to ``budget`` labels, ``step`` at a time: each retrain queues ``queue``
    picks (None: ``step``), and the first ``step`` of them are labelled before the next. The test images are in the
    loop (never queued, never labelled), so spreading's graph holds them as it would in a project."""
    check_int("budget", budget, 1, 10_000_000)
    check_int("step", step, 1, budget)
    queued = step if queue is None else check_int("queue", queue, step, 1_000_000)
    truth = np.asarray(labels, dtype=object)
    test_mask = np.asarray(test, bool)
    if truth.shape != test_mask.shape or len(truth) != len(embeddings):
        raise ConfigError(
            f"Embeddings, labels and the test mask must have one row per image. Got {len(embeddings)}, "
            f"{len(truth)} and {len(test_mask)}."
        )
    loop = LabelLoop(embeddings, ~test_mask, strategy_named(strategy), step, queued, seed, c, head=head)
    test_rows, y_test = np.flatnonzero(test_mask), truth[test_mask].astype(str)
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
        scores.append(accuracy_of(loop.snapshot, test_rows, y_test, fallback))
    name = head.name if isinstance(head, LoopHead) else head
    return Curve(strategy, seed, tuple(counts), tuple(scores), name)


def simulate_all(
    embeddings: np.ndarray,
    labels: Sequence[str],
    test: np.ndarray,
    strategies: Sequence[str],
    budget: int,
    step: int,
    seeds: int,
    on_progress: ProgressFn | None = None,
    heads: Sequence[str] = (DEFAULT_HEAD,),
    queue: int | None = None,
) -> list[Curve]:
    """Every strategy with every head, with seeds 0 .. seeds-1, each retrain queueing ``queue`` picks (None:
    ``step``), reporting (runs done, runs) as it goes."""
    check_int("seeds", seeds, 1, 100)
    shared = {name: LoopHead(name, np.asarray(embeddings, np.float32)) for name in heads}  # one graph for all runs
    runs = [(name, head, seed) for seed in range(seeds) for head in heads for name in strategies]
    curves = []
    for done, (name, head, seed) in enumerate(runs):
        if on_progress is not None:
            on_progress(done, len(runs))
        curves.append(simulate(embeddings, labels, test, name, budget, step, seed, head=shared[head], queue=queue))
    if on_progress is not None:
        on_progress(len(runs), len(runs))
    return curves


def seed_scores(curves: Sequence[Curve]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per run name (strategy + head): label counts and the accuracy of each seed at each count, one row per seed
    (runs cut to the shortest)."""
    grouped: dict[str, list[Curve]] = {}
    for curve in curves:
        grouped.setdefault(curve.run, []).append(curve)
    out = {}
    for name, runs in grouped.items():
        length = min(len(r.accuracy) for r in runs)
        out[name] = (np.asarray(runs[0].labels[:length]), np.array([r.accuracy[:length] for r in runs]))
    return out


def mean_curves(curves: Sequence[Curve]) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per run name (strategy + head): label counts, mean accuracy over seeds and its standard deviation (runs cut
    to the shortest)."""
    return {name: (counts, s.mean(axis=0), s.std(axis=0)) for name, (counts, s) in seed_scores(curves).items()}


def labels_to_reach(counts: np.ndarray, accuracy: np.ndarray, target: float) -> int | None:
    """The fewest labels at which the (mean) curve reaches ``target``; None if it never does."""
    reached = np.flatnonzero(accuracy >= target - 1e-12)
    return int(counts[reached[0]]) if len(reached) else None
