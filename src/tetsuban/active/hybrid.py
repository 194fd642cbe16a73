"""The default strategy: a typical image of each cluster to start, then uncertain images, spread out, with a share
of random ones.

Before the head exists (no labels, or one class) the picks are TypiClust's: the most typical image of each of the
largest k-means clusters no label covers yet. Then: the CANDIDATES x batch eligible
images with the smallest margin between their two most probable classes are clustered (k-means, one cluster per
pick) and the most uncertain image of each cluster is taken, so that one batch does not spend itself on many
near-copies of one confusion; RANDOM_SHARE of the batch is drawn at random from the rest, so that the head's
blind spots (confidently wrong regions margin never visits) still get sampled.

Why this form (emoji-google and fashion-mnist, 3 seeds, steps of 50; bench/results/active.md has the default's
final runs): plain margin reached random sampling's 1,000-label accuracy at 300 and 700 labels; margin
candidates from 3x the batch, clustered, at 300 and 450. Wider pools (5x to 20x) spread more and got there later
on fashion-mnist. TypiClust for the first 50 labels beat random on both (0.750 against 0.741 on emoji, 0.769
against 0.662 on fashion-mnist); used for longer it fell behind clustered margin. The random share costs little
at these budgets and is there for what margin cannot see: a region the head is confidently wrong about.
"""

from __future__ import annotations

import numpy as np

from tetsuban.active.strategies import eligible_mask, most_uncertain, random_picks, typiclust, uncertainty_scores

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
    if batch >= allowed.sum():
        return random_picks(embeddings, labelled, None, batch, rng, eligible)
    if probabilities is None:
        return typiclust(embeddings, labelled, None, batch, rng, eligible)
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
