"""The default strategy: a typical image of each cluster to start, then uncertain images, spread out.

Before the head exists (no labels, or one class) the picks are TypiClust's: the most typical image of each of the
largest k-means clusters no label covers yet. Then the CANDIDATES x batch eligible images with the smallest margin
between their two most probable classes are clustered (k-means, one cluster per pick) and the image nearest each
cluster's centre is taken, so that one batch does not spend itself on near-copies of one confusion, nor on the
oddest image of each. Where the head has a graph (label spreading's), each image's uncertainty (one minus its
margin) is first multiplied by its degree in the graph over the median image's, to the power DENSITY_POWER: an
uncertain image that no other image lies near teaches spreading little, as its label reaches nothing.

Why this form (emoji-google and fashion-mnist through real projects, 5 seeds, steps of 50; the default's final
runs are in bench/results/active.md): TypiClust for the first 50 labels beat random on both (0.741 against 0.715
on emoji, 0.786 against 0.698 on fashion-mnist); used longer, it fell behind clustered margin. Margin candidates
from 3x the batch, clustered, beat plain margin on both at most budgets; wider pools (5x to 20x) got to random's
1,000-label accuracy later on fashion-mnist. A 10% random share, meant for regions the head is confidently wrong
about, cost 0.01 of accuracy on fashion-mnist from 300 labels on and bought nothing measurable on emoji, so the
default draws none; ``hybrid_random10`` keeps it for those who want the insurance. Each cluster's image nearest
its centre replaced its most uncertain on 2026-12-04 (bench/results/loop_levers.md, 30 seeds, 300 labels): with
the head's class mass, +0.006 and +0.007 on emoji's two seed sets, +0.002 and -0.001 on fashion-mnist's; the most
uncertain image of a cluster is often its oddest. BADGE (k-means++ over the probe's gradient embeddings) cost
both datasets 0.003. The density's power 0.1 came on 2026-12-04 (the same bench): at 300 labels +0.006 and +0.008
on emoji's two seed sets, +0.002, +0.003 and +0.004 on fashion-mnist's three, level at the app's cadence on
emoji; 0.25 and above cost fashion-mnist 0.003-0.004 and emoji from 0.5, and a negative power (the outliers
first) cost both 0.025-0.08.
"""

from __future__ import annotations

import functools

import numpy as np

from tetsuban.active.strategies import (
    Strategy,
    eligible_mask,
    most_uncertain,
    random_picks,
    typiclust,
    uncertainty_scores,
)
from tetsuban.params import check_float

CANDIDATES = 3  # candidate pool: this many times the batch, by margin
RANDOM_SHARE = 0.0  # of each batch drawn at random by the default; hybrid_random10 draws 10%
DENSITY_POWER = 0.1  # each candidate's uncertainty times its degree in the head's graph to this power


def hybrid_with(random_share: float) -> Strategy:
    """The hybrid strategy with ``random_share`` of each batch drawn at random."""
    check_float("random_share", random_share, 0.0, 1.0)

    hybrid = functools.partial(hybrid_picks, random_share)
    hybrid.__doc__ = f"The hybrid strategy (see tetsuban.active.hybrid) with {random_share:.0%} random picks."
    return hybrid


def hybrid_picks(
    random_share: float,
    embeddings: np.ndarray,
    labelled: np.ndarray,
    probabilities: np.ndarray | None,
    batch: int,
    rng: np.random.Generator,
    eligible: np.ndarray | None = None,
    density: np.ndarray | None = None,
) -> np.ndarray:
    """What the hybrid strategy picks (a module-level function, so that mutation testing reaches it: the
    strategies are made when the module is imported)."""
    allowed = eligible_mask(labelled, eligible)
    if batch >= allowed.sum():
        return random_picks(embeddings, labelled, None, batch, rng, eligible)
    if probabilities is None:
        return typiclust(embeddings, labelled, None, batch, rng, eligible)
    randoms = round(random_share * batch)
    scores = candidate_scores(probabilities, density)
    chosen = clustered_uncertain(embeddings, scores, allowed, batch - randoms, rng)
    rest = allowed.copy()
    rest[chosen] = False
    extra = random_picks(embeddings, labelled, None, batch - len(chosen), rng, rest)
    return np.concatenate([chosen, extra]).astype(np.int64)


def candidate_scores(probabilities: np.ndarray, density: np.ndarray | None) -> np.ndarray:
    """What the candidates are chosen by, higher first: one minus the gap between each image's two most probable
    classes, times its ``density`` to DENSITY_POWER where the head has a graph (the margin's order without one)."""
    margins = uncertainty_scores(probabilities, "margin")
    if density is None:
        return margins
    return (1.0 + margins) * np.asarray(density, np.float64) ** DENSITY_POWER


hybrid = hybrid_with(RANDOM_SHARE)
hybrid_random10 = hybrid_with(0.1)


def clustered_uncertain(
    embeddings: np.ndarray, scores: np.ndarray, allowed: np.ndarray, count: int, rng: np.random.Generator
) -> np.ndarray:
    """``count`` allowed images: of each k-means cluster of the CANDIDATES x count most uncertain, the one nearest
    the cluster's centre."""
    if count <= 0:
        return np.empty(0, np.int64)
    candidates = most_uncertain(scores, allowed, CANDIDATES * count, rng)
    if len(candidates) <= count:
        return candidates
    from sklearn.cluster import KMeans

    points = np.asarray(embeddings[candidates], np.float32)
    model = KMeans(count, n_init=1, random_state=int(rng.integers(2**31))).fit(points)
    picks = [
        candidates[members[np.argmin(((points[members] - model.cluster_centers_[k]) ** 2).sum(axis=1))]]
        for k, members in _members(model.labels_, count)
    ]
    return np.asarray(picks, np.int64)


def _members(clusters: np.ndarray, count: int) -> list[tuple[int, np.ndarray]]:
    """Each non-empty cluster's number and its members' positions."""
    groups = [(k, np.flatnonzero(clusters == k)) for k in range(count)]
    return [(k, g) for k, g in groups if len(g)]
