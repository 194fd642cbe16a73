"""The default strategy: uncertain images, spread out, with a share of random ones.

Before the head exists (no labels, or one class) the picks are random. Then: the CANDIDATES x batch eligible
images with the smallest margin between their two most probable classes are clustered (k-means, one cluster per
pick) and the most uncertain image of each cluster is taken, so that one batch does not spend itself on many
near-copies of one confusion; RANDOM_SHARE of the batch is drawn at random from the rest, so that the head's
blind spots (confidently wrong regions margin never visits) still get sampled.

Why this form: bench/results/active.md. On emoji-google and fashion-mnist (3 seeds, steps of 50) plain margin
reached random sampling's 1,000-label accuracy at 300 and 700 labels; clustered candidates from 3x the batch,
at 300 and 450. Wider candidate pools (5x to 20x) spread more and were slower to get there on fashion-mnist, and
a TypiClust cold start, which helps fashion-mnist at 50 labels, loses to random on emoji: the first batch stays
random, so the default is never behind random before it has a head.
"""

from __future__ import annotations

import numpy as np

from tetsuban.active.strategies import eligible_mask, most_uncertain, random_picks, uncertainty_scores

CANDIDATES = 3  # candidate pool: this many times the batch, by margin
RANDOM_SHARE = 0.1  # of each batch, drawn at random


def hybrid(
    embeddings: np.ndarray,
    labelled: np.ndarray,
    probabilities: np.ndarray | None,
    batch: int,
    rng: np.random.Generator,
    eligible: np.ndarray | None = None,
) -> np.ndarray:
    """See the module docstring."""
    allowed = eligible_mask(labelled, eligible)
    if probabilities is None or batch >= allowed.sum():
        return random_picks(embeddings, labelled, None, batch, rng, eligible)
    randoms = round(RANDOM_SHARE * batch)
    chosen = clustered_uncertain(embeddings, uncertainty_scores(probabilities, "margin"), allowed, batch - randoms, rng)
    rest = allowed.copy()
    rest[chosen] = False
    extra = random_picks(embeddings, labelled, None, batch - len(chosen), rng, rest)
    return np.concatenate([chosen, extra]).astype(np.int64)


def clustered_uncertain(
    embeddings: np.ndarray, scores: np.ndarray, allowed: np.ndarray, count: int, rng: np.random.Generator
) -> np.ndarray:
    """``count`` allowed images: the most uncertain of each k-means cluster of the CANDIDATES x count most
    uncertain."""
    if count <= 0:
        return np.empty(0, np.int64)
    candidates = most_uncertain(scores, allowed, CANDIDATES * count, rng)
    if len(candidates) <= count:
        return candidates
    from sklearn.cluster import KMeans

    clusters = KMeans(count, n_init=1, random_state=int(rng.integers(2**31))).fit_predict(
        np.asarray(embeddings[candidates], np.float32)
    )
    picks = [candidates[members[np.argmax(scores[candidates[members]])]] for members in _members(clusters, count)]
    return np.asarray(picks, np.int64)


def _members(clusters: np.ndarray, count: int) -> list[np.ndarray]:
    """Positions of each non-empty cluster's members."""
    groups = [np.flatnonzero(clusters == k) for k in range(count)]
    return [g for g in groups if len(g)]
