"""Query strategies: which unlabelled images to label next.

Every strategy has one signature: ``(embeddings (N, D), labelled (N,), probabilities (N, K) or None, batch, rng,
eligible (N,) or None, density (N,) or None) -> indices``. ``eligible`` marks the images that may be picked (the
caller leaves out the test split); by default every unlabelled image. ``density`` is each image's degree in the
loop head's neighbour graph over the median image's (heads.LoopHead.density; None where the head has no graph):
the hybrid weighs its candidates by it, the others take no notice. A strategy returns at most ``batch`` distinct
eligible indices, fewer only when fewer are eligible. Strategies that need probabilities fall back to random picks
without them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from tetsuban.errors import ConfigError

Strategy = Callable[
    [np.ndarray, np.ndarray, "np.ndarray | None", int, np.random.Generator, "np.ndarray | None", "np.ndarray | None"],
    np.ndarray,
]
_TYPICAL_NEIGHBOURS = 20  # TypiClust's density: inverse mean distance to this many neighbours in the cluster
_MAX_KCENTER_POOL = 5_000  # k-center greedy looks at a random sample this large of a bigger pool
_KMEANS_SAMPLE = 20_000  # k-means is fitted on at most this many images, then assigns every image
_MAX_CLUSTERS = 500  # TypiClust is a cold start: past this many clusters, k-center greedy serves better


def eligible_mask(labelled: np.ndarray, eligible: np.ndarray | None) -> np.ndarray:
    """The images a strategy may pick: those ``eligible`` (default: all) that are not labelled."""
    allowed = np.ones(len(labelled), bool) if eligible is None else np.asarray(eligible, bool)
    if allowed.shape != labelled.shape:
        raise ConfigError(f"The eligible mask must have one entry per image ({len(labelled)}). Got {allowed.shape}.")
    return allowed & ~np.asarray(labelled, bool)


def random_picks(
    embeddings: np.ndarray,
    labelled: np.ndarray,
    probabilities: np.ndarray | None,
    batch: int,
    rng: np.random.Generator,
    eligible: np.ndarray | None = None,
    density: np.ndarray | None = None,
) -> np.ndarray:
    """Uniformly random eligible images: the baseline every other strategy must beat."""
    pool = np.flatnonzero(eligible_mask(labelled, eligible))
    return rng.choice(pool, size=min(batch, len(pool)), replace=False)


def uncertainty_scores(probabilities: np.ndarray, kind: str) -> np.ndarray:
    """Higher is more uncertain. ``least_confidence``: 1 - top probability; ``margin``: the top two's gap,
    negated; ``entropy``: Shannon entropy in nats."""
    p = np.asarray(probabilities, np.float64)
    if kind == "least_confidence":
        return 1.0 - p.max(axis=1)
    if kind == "margin":  # a head has two classes or more, so there is a second probability
        top2 = np.partition(p, -2, axis=1)[:, -2:]
        return -(top2[:, 1] - top2[:, 0])
    if kind == "entropy":
        return -(p * np.log(np.clip(p, 1e-12, 1.0))).sum(axis=1)
    raise ConfigError(f"The uncertainty kind must be least_confidence, margin or entropy. Got {kind!r}.")


def most_uncertain(scores: np.ndarray, allowed: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """The ``count`` allowed indices with the highest scores, highest first (all of them when there are no more);
    ties broken at random."""
    pool = np.flatnonzero(allowed)
    keys = -(scores[pool] + rng.random(len(pool)) * 1e-12)  # ties (often exact for a fresh head) favour no index
    order = np.argpartition(keys, count - 1)[:count] if count < len(pool) else np.arange(len(pool))
    return pool[order[np.argsort(keys[order])]]


def _uncertainty(kind: str) -> Strategy:
    pick = functools.partial(uncertain_picks, kind)
    pick.__name__ = kind  # type: ignore[attr-defined]
    pick.__doc__ = f"The most uncertain eligible images by {kind.replace('_', ' ')}."
    return pick


def uncertain_picks(
    kind: str,
    embeddings: np.ndarray,
    labelled: np.ndarray,
    probabilities: np.ndarray | None,
    batch: int,
    rng: np.random.Generator,
    eligible: np.ndarray | None = None,
    density: np.ndarray | None = None,
) -> np.ndarray:
    """What the uncertainty strategy ``kind`` picks: the most uncertain eligible images, or random ones before
    there is a model (module level, so that mutation testing reaches it: the strategies are made at import)."""
    if probabilities is None:
        return random_picks(embeddings, labelled, None, batch, rng, eligible)
    return most_uncertain(uncertainty_scores(probabilities, kind), eligible_mask(labelled, eligible), batch, rng)


least_confidence = _uncertainty("least_confidence")
margin = _uncertainty("margin")
entropy = _uncertainty("entropy")


def k_center_greedy(
    embeddings: np.ndarray,
    labelled: np.ndarray,
    probabilities: np.ndarray | None,
    batch: int,
    rng: np.random.Generator,
    eligible: np.ndarray | None = None,
    density: np.ndarray | None = None,
) -> np.ndarray:
    """Diversity: repeatedly the eligible image farthest from everything labelled or picked so far (a pool
    larger than _MAX_KCENTER_POOL is sampled first)."""
    pool = np.flatnonzero(eligible_mask(labelled, eligible))
    if len(pool) > _MAX_KCENTER_POOL:
        pool = rng.choice(pool, _MAX_KCENTER_POOL, replace=False)
    return pool[farthest_first(embeddings[pool], embeddings[np.asarray(labelled, bool)], batch, rng)]


def farthest_first(candidates: np.ndarray, centres: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Positions in ``candidates`` (M, D) chosen greedily, each the farthest from ``centres`` and earlier picks;
    the first at random when there are no centres."""
    count = min(count, len(candidates))
    if count == 0:
        return np.empty(0, np.int64)
    x = np.asarray(candidates, np.float32)
    nearest = np.full(len(x), np.inf, np.float32)
    for start in range(0, len(centres), 2048):  # squared distances to the labelled, in chunks
        nearest = np.minimum(
            nearest, _squared_distances(x, np.asarray(centres[start : start + 2048], np.float32)).min(1)
        )
    picks = [int(rng.integers(len(x)))] if not len(centres) else []
    if picks:
        nearest = np.minimum(nearest, _squared_distances(x, x[picks]).ravel())
    while len(picks) < count:
        best = int(nearest.argmax())
        picks.append(best)
        nearest = np.minimum(nearest, _squared_distances(x, x[best : best + 1]).ravel())
    return np.asarray(picks, np.int64)


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) squared Euclidean distances, never negative."""
    d = (a * a).sum(1)[:, None] - 2.0 * a @ b.T + (b * b).sum(1)[None, :]
    return np.maximum(d, 0.0)


def typiclust(
    embeddings: np.ndarray,
    labelled: np.ndarray,
    probabilities: np.ndarray | None,
    batch: int,
    rng: np.random.Generator,
    eligible: np.ndarray | None = None,
    density: np.ndarray | None = None,
) -> np.ndarray:
    """Cold start by typicality and coverage: k-means into (labelled + batch) clusters, then from each of the
    largest clusters without a labelled image, its most typical eligible image (the densest among its
    neighbours). At most _MAX_CLUSTERS clusters; fewer uncovered clusters than ``batch``: the rest come from
    k-center greedy."""
    allowed = eligible_mask(labelled, eligible)
    known = np.asarray(labelled, bool)
    clusters = int(min(known.sum() + batch, (allowed | known).sum(), _MAX_CLUSTERS))
    if clusters < 1:
        return np.empty(0, np.int64)
    assignment = kmeans_assign(embeddings, clusters, rng)
    covered = set(assignment[known].tolist())
    sizes = np.bincount(assignment, minlength=clusters)
    picks: list[int] = []
    for cluster in np.argsort(-sizes, kind="stable"):
        if len(picks) == batch:
            break
        members = np.flatnonzero((assignment == cluster) & allowed)
        if int(cluster) in covered or not len(members):
            continue
        picks.append(
            int(members[_most_typical(embeddings[np.flatnonzero(assignment == cluster)], embeddings[members])])
        )
    if len(picks) < batch:  # k-center greedy leaves out what it is told is labelled: the known and the picks
        taken = known.copy()
        taken[picks] = True
        picks += k_center_greedy(embeddings, taken, None, batch - len(picks), rng, allowed).tolist()
    return np.asarray(picks, np.int64)


def kmeans_assign(embeddings: np.ndarray, clusters: int, rng: np.random.Generator) -> np.ndarray:
    """Each image's k-means cluster (k-means++ seeding, fitted on a sample of at most _KMEANS_SAMPLE)."""
    from sklearn.cluster import KMeans

    x = np.asarray(embeddings, np.float32)
    sample = x if len(x) <= _KMEANS_SAMPLE else x[rng.choice(len(x), _KMEANS_SAMPLE, replace=False)]
    model = KMeans(n_clusters=clusters, n_init=1, max_iter=50, random_state=int(rng.integers(2**31)))
    model.fit(sample)
    return np.asarray(model.predict(x), np.int64)


def _most_typical(cluster: np.ndarray, candidates: np.ndarray) -> int:
    """Position in ``candidates`` with the smallest mean distance to its nearest neighbours in ``cluster``."""
    k = min(_TYPICAL_NEIGHBOURS, len(cluster) - 1)
    if k < 1:
        return 0
    distances = np.sqrt(_squared_distances(np.asarray(candidates, np.float32), np.asarray(cluster, np.float32)))
    nearest = np.partition(distances, k, axis=1)[:, 1 : k + 1]  # position 0 is the candidate itself
    return int(nearest.mean(axis=1).argmin())
