"""The queues an annotator can choose: which images come next, in which order.

- ``hybrid`` (the default): the loop's own queue (its strategy), then the rest at random so it never runs dry.
- ``uncertainty``: the smallest margin between the model's two most probable classes first.
- ``random``: a fixed shuffle of the unlabelled train images (an unbiased sample).
- ``class:<name>``: one class's likely members, the most probable first (for the grid).
- ``review``: labels that look wrong (confident learning), most doubtful first; for reviewers.
- ``second``: images one other person labelled, for a second opinion (agreement).
- ``holdout``: the unlabelled validation and test images at random: the loop never queues them, so that they stay
  samples of the data, yet the accuracy on the panel and the final evaluation need them labelled.

Orders that depend on the model are computed once per retrain (generation) and kept.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import numpy as np

from tetsuban.active.loop import Snapshot
from tetsuban.errors import ConfigError

QUEUES: tuple[str, ...] = ("hybrid", "uncertainty", "random", "holdout", "review", "second")
CLASS_PREFIX = "class:"
REVIEWER_QUEUES = ("review",)


def check_queue(name: str, classes: list[str]) -> str:
    """``name`` if it names a queue (or ``class:`` a known class), else a ConfigError that lists them."""
    if name in QUEUES:
        return name
    if name.startswith(CLASS_PREFIX) and name[len(CLASS_PREFIX) :] in classes:
        return name
    raise ConfigError(
        f"The queue must be one of {', '.join(QUEUES)} or class:<name> with a known class "
        f"({', '.join(classes) or 'none yet'}). Got {name[:80]!r}."
    )


class Orders:
    """Row orders per queue for the latest snapshot, computed on first use. Rows index the loop's images."""

    def __init__(self, eligible: np.ndarray, seed: int = 0) -> None:
        self.eligible_rows = np.flatnonzero(eligible)
        self.shuffled = np.random.default_rng(seed).permutation(self.eligible_rows)
        self._cache: dict[str, np.ndarray] = {}
        self._cached_for: Snapshot | None = None  # the snapshot the cache's orders came from (by identity: one
        # adopted from another process may carry the generation of one computed here)
        self._lock = threading.Lock()

    def rows(self, queue: str, snapshot: Snapshot, labelled: np.ndarray) -> Iterator[int]:
        """Unlabelled rows in ``queue``'s order (``hybrid``, ``uncertainty``, ``random`` or ``class:``)."""
        if queue == "hybrid":
            order = self._cached(queue, snapshot, lambda _p: np.concatenate([snapshot.queue, self.shuffled]), True)
        elif queue == "random" or snapshot.probabilities is None:
            order = self.shuffled
        elif queue == "uncertainty":
            order = self._cached(queue, snapshot, lambda p: self.eligible_rows[np.argsort(_margins(p), kind="stable")])
        elif (name := queue[len(CLASS_PREFIX) :]) in snapshot.classes:
            k = snapshot.classes.index(name)
            order = self._cached(queue, snapshot, lambda p: self.eligible_rows[np.argsort(-p[:, k], kind="stable")])
        else:  # a class the model has not learnt yet
            order = self.shuffled
        return _unlabelled(order, labelled)

    def random(self, labelled: np.ndarray) -> Iterator[int]:
        """Unlabelled rows in the fixed shuffle, whatever the model says."""
        return _unlabelled(self.shuffled, labelled)

    def _cached(
        self, queue: str, snapshot: Snapshot, make: Callable[[np.ndarray], np.ndarray], whole: bool = False
    ) -> np.ndarray:
        """The order ``make`` computes from the eligible rows' probabilities (all rows' when ``whole``), kept for
        this snapshot."""
        with self._lock:
            found = self._cache.get(queue) if self._cached_for is snapshot else None
        if found is None:
            probabilities = np.zeros((0, 0)) if snapshot.probabilities is None else snapshot.probabilities
            found = np.asarray(make(probabilities if whole else probabilities[self.eligible_rows]), np.int64)
            with self._lock:
                if self._cached_for is not snapshot:
                    self._cache, self._cached_for = {}, snapshot
                self._cache[queue] = found
        return found


def _unlabelled(order: np.ndarray, labelled: np.ndarray) -> Iterator[int]:
    seen: set[int] = set()
    for value in order:
        row = int(value)
        if not labelled[row] and row not in seen:
            seen.add(row)
            yield row


def _margins(probabilities: np.ndarray) -> np.ndarray:
    """Top-1 minus top-2 probability per row (N,)."""
    if probabilities.shape[1] < 2:
        return np.zeros(len(probabilities), np.float32)
    top2 = np.partition(probabilities, -2, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]
