"""The loop's heads by name: what turns the labels so far into every image's probabilities, which the queue picks
by, the app suggests from and the validation accuracy of each retrain scores.

- ``probe``: the linear probe alone.
- ``spreading``: the probe's probabilities and label spreading's over the graph of every image in the project
  (:mod:`tetsuban.learn.spreading`), each edge weighed by the probe's chance that its two images share a class,
  each class's mass in spreading's set to the probe's predicted share of the images, mixed as a geometric mean
  (the probe weighing 0.4). The unlabelled images shape the borders between classes, the probe says where they
  run; measured in bench/results/active.md and bench/results/loop_levers.md.

Spreading is transductive: it gives probabilities for the project's images only. ``tetsuban train`` ships a model
for new images, so it trains the probe; the loop's head only decides what is shown and queued.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from tetsuban.errors import ConfigError
from tetsuban.learn.spreading import (
    geometric_mix,
    neighbour_weights,
    relative_degrees,
    spread_labels,
    with_agreeing_edges,
    with_class_mass,
)

HEADS = ("probe", "spreading")
DEFAULT_HEAD = "spreading"
PROBE_WEIGHT = 0.4  # the probe's share of the geometric mean (bench/results/loop_levers.md: with class mass)
AGREEMENT_POWER = 1.0  # each edge times the probe's chance that its ends share a class, to this power


def check_head(name: str) -> str:
    """``name`` when it is a head's; a clear error listing the names for anything else."""
    if name not in HEADS:
        raise ConfigError(f"The loop's head must be one of {', '.join(HEADS)}. Got {name!r}.")
    return name


def mixed_with_probe(probe: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """The spreading head's probabilities (N, K): spreading's ``spread`` with each class's mass set to the probe's
    predicted share, mixed with the probe's ``probe`` as a geometric mean, the probe weighing PROBE_WEIGHT."""
    return geometric_mix(probe, with_class_mass(spread, probe.mean(axis=0)), PROBE_WEIGHT)


class LoopHead:
    """One loop's head over its images (``embeddings``, N x D). Spreading's graph weights are built at the first
    use, in the thread that retrains (the app's background retrain; its first retrain at start), and kept, as the
    images do not change during a loop; each retrain weighs their edges by its probe."""

    def __init__(self, name: str, embeddings: np.ndarray) -> None:
        self.name = check_head(name)
        self._embeddings = embeddings
        self._weights: sp.csr_matrix | None = None
        self._degrees: np.ndarray | None = None
        self._lock = threading.Lock()

    def probabilities(
        self, probe: np.ndarray, labelled: np.ndarray, labels: Sequence[str], classes: tuple[str, ...]
    ) -> np.ndarray:
        """Every image's probabilities (N, K), from the probe's ``probe`` (N, K, in the order of ``classes``) and
        the ``labels`` of the images at rows ``labelled``."""
        if self.name == "probe":
            return probe
        index = {name: k for k, name in enumerate(classes)}
        spread = self.spread(probe, labelled, np.array([index[n] for n in labels]))
        return mixed_with_probe(probe, spread)

    def spread(self, weighing: np.ndarray, labelled: np.ndarray, class_of: np.ndarray) -> np.ndarray:
        """Label spreading's probabilities (N, K) of the class indices ``class_of`` of the images at rows
        ``labelled``, over the graph with its edges weighed by the probabilities ``weighing`` (N, K; the probe's)."""
        graph = with_agreeing_edges(self.weights(), weighing, AGREEMENT_POWER)
        return spread_labels(graph, labelled, class_of, weighing.shape[1])

    def weights(self) -> sp.csr_matrix:
        """The neighbour graph's weights over the loop's images, before normalisation, built once."""
        with self._lock:
            if self._weights is None:
                self._weights = neighbour_weights(self._embeddings)
            return self._weights

    def density(self) -> np.ndarray | None:
        """Each image's weighted degree in spreading's graph over the median image's, built once (the hybrid weighs
        its candidates by it); None for the probe, which has no graph."""
        if self.name == "probe":
            return None
        weights = self.weights()
        with self._lock:
            if self._degrees is None:
                self._degrees = relative_degrees(weights)
            return self._degrees
