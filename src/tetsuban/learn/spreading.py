"""Label spreading: the labels of a few images flow along a graph of every image's nearest neighbours, so that the
unlabelled images say where the classes' borders run (Zhou et al. 2004, "Learning with local and global
consistency").

The graph: each image's ``k`` most similar images (cosine on embeddings standardized over all images), each edge
weighted by its similarity cubed (near neighbours count far more than far ones), made symmetric and normalised as
D^-1/2 W D^-1/2. Spreading iterates F <- alpha S F + (1 - alpha) Y from the labelled images' one-hot rows Y, each
class's rows scaled to sum to one, so that a class with many labels does not flood the graph.

It is transductive: it gives probabilities for the images in the graph, not a model for new images. The loop thins
the graph's edges where the probe sees a border between classes (:func:`with_agreeing_edges`) before spreading,
gives each class the share of the images the probe predicts for it (:func:`with_class_mass`), then mixes it with
the probe (:func:`geometric_mix`), whose probabilities exist for any image.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tetsuban.errors import ConfigError
from tetsuban.params import check_int

DEFAULT_NEIGHBOURS = 10
DEFAULT_ALPHA = 0.99
DEFAULT_ITERATIONS = 30
SIMILARITY_POWER = 3
_SIMILARITIES_AT_ONCE = 2**25  # rows of similarities computed together: 128 MB of float32 whatever N
_EPS = 1e-6


def neighbour_graph(embeddings: np.ndarray, k: int = DEFAULT_NEIGHBOURS) -> sp.csr_matrix:
    """The normalised, symmetric k-nearest-neighbour graph S (N, N) of ``embeddings`` (N, D); see the module.
    With N images, at most N - 1 are an image's neighbours."""
    return normalised(neighbour_weights(embeddings, k))


def neighbour_weights(embeddings: np.ndarray, k: int = DEFAULT_NEIGHBOURS) -> sp.csr_matrix:
    """The symmetric weights W (N, N) of the k-nearest-neighbour graph of ``embeddings`` (N, D), before
    :func:`normalised`: each image's ``k`` most similar images, each edge weighted by its similarity cubed."""
    check_int("k", k, 1, 10_000)
    x = np.asarray(embeddings, np.float32)
    n = len(x)
    if n < 2:
        raise ConfigError(f"A neighbour graph needs at least two images. Got {n}.")
    k = min(k, n - 1)
    unit = _unit_rows(x)
    near = np.empty((n, k), np.int64)
    similarity = np.empty((n, k), np.float32)
    rows_at_once = max(1, _SIMILARITIES_AT_ONCE // n)
    for start in range(0, n, rows_at_once):
        block = unit[start : start + rows_at_once] @ unit.T
        rows = np.arange(len(block))
        block[rows, rows + start] = -np.inf  # an image is not its own neighbour
        part = np.argpartition(-block, k - 1, axis=1)[:, :k]
        near[start : start + len(block)] = part
        similarity[start : start + len(block)] = np.take_along_axis(block, part, axis=1)
    weights = np.maximum(similarity, 0.0).astype(np.float64) ** SIMILARITY_POWER
    w = sp.csr_matrix((weights.ravel(), (np.repeat(np.arange(n), k), near.ravel())), shape=(n, n))
    return sp.csr_matrix(w + w.T)


def relative_degrees(weights: sp.csr_matrix) -> np.ndarray:
    """Each image's weighted degree in the graph of symmetric ``weights`` over the median image's: above 1 where
    many near images call it near, towards 0 for an image far from all the others (all ones if the median is 0)."""
    degree = np.asarray(weights.sum(axis=1), np.float64).ravel()
    median = float(np.median(degree))
    return degree / median if median > 0 else np.ones_like(degree)


def normalised(weights: sp.csr_matrix) -> sp.csr_matrix:
    """D^-1/2 W D^-1/2 of symmetric ``weights`` W, D their row sums; a row of zeros stays zero."""
    degree = np.asarray(weights.sum(axis=1)).ravel()
    inverse_root = sp.diags(np.where(degree > 0, 1.0 / np.sqrt(np.maximum(degree, 1e-300)), 0.0))
    return sp.csr_matrix(inverse_root @ weights @ inverse_root)


def with_agreeing_edges(weights: sp.csr_matrix, probabilities: np.ndarray, power: float) -> sp.csr_matrix:
    """The normalised graph (:func:`normalised`) of ``weights`` W (N, N) with each edge (i, j) multiplied by
    (p_i . p_j)^``power``: the chance that a model with ``probabilities`` p (N, K) puts both its ends in one class.
    Edges across a border the model sees thin out, so that spreading's labels flow less across it; power 0 leaves
    the graph as it was."""
    p = np.asarray(probabilities, np.float64)
    if p.ndim != 2 or p.shape[0] != weights.shape[0]:
        raise ConfigError(f"One row of probabilities per image ({weights.shape[0]}) is needed. Got {p.shape}.")
    if not 0.0 <= power <= 16.0:
        raise ConfigError(f"The agreement power must be in [0, 16]. Got {power}.")
    w = weights.tocoo()
    same_class = np.einsum("ij,ij->i", p[w.row], p[w.col])
    return normalised(sp.csr_matrix((w.data * same_class**power, (w.row, w.col)), shape=w.shape))


def spread_labels(
    graph: sp.csr_matrix,
    labelled: np.ndarray,
    class_of: np.ndarray,
    classes: int,
    alpha: float = DEFAULT_ALPHA,
    iterations: int = DEFAULT_ITERATIONS,
) -> np.ndarray:
    """(N, ``classes``) probabilities: the labels ``class_of`` (class indices) of the images at rows ``labelled``
    spread over ``graph``. A row the labels never reach (an island of the graph) is uniform."""
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha must be in (0, 1). Got {alpha}.")
    check_int("iterations", iterations, 1, 10_000)
    rows = np.asarray(labelled, np.int64)
    targets = np.asarray(class_of, np.int64)
    if rows.shape != targets.shape:
        raise ConfigError(f"One class per labelled image is needed. Got {len(rows)} images and {len(targets)} classes.")
    seeds = np.zeros((graph.shape[0], classes))
    seeds[rows, targets] = 1.0
    seeds /= np.maximum(seeds.sum(axis=0, keepdims=True), 1.0)  # each class's labels weigh one in all
    spread = seeds.copy()
    for _ in range(iterations):
        spread = alpha * (graph @ spread) + (1.0 - alpha) * seeds
    return _rows_summing_to_one(np.maximum(spread, 0.0))


def with_class_mass(probabilities: np.ndarray, share: np.ndarray) -> np.ndarray:
    """``probabilities`` (N, K) with each class's column scaled so that its mean over the rows is ``share`` (K,),
    then each row normalised again: class mass normalisation (Zhu et al. 2003, "Semi-supervised learning using
    Gaussian fields and harmonic functions"). Spreading gives more of the graph to a class whose labels sit in a
    dense, well-connected part of it, whatever the class's true share; the loop passes the probe's."""
    p = np.asarray(probabilities, np.float64)
    target = np.asarray(share, np.float64)
    if target.shape != (p.shape[1],) or (target < 0).any():
        raise ConfigError(f"One non-negative share per class ({p.shape[1]}) is needed. Got {target.shape}.")
    return _rows_summing_to_one(p * (target / np.maximum(p.mean(axis=0), 1e-12)))


def _rows_summing_to_one(scores: np.ndarray) -> np.ndarray:
    """Non-negative ``scores`` (N, K) with each row divided by its sum; a row of zeros becomes uniform."""
    total = scores.sum(axis=1, keepdims=True)
    return np.where(total > 0, scores / np.where(total > 0, total, 1.0), 1.0 / scores.shape[1])


def geometric_mix(first: np.ndarray, second: np.ndarray, weight: float) -> np.ndarray:
    """Row-normalised first^weight x second^(1 - weight): two models' probabilities (N, K) mixed so that a class
    either gives almost no chance stays unlikely."""
    if not 0.0 <= weight <= 1.0:
        raise ConfigError(f"The mixing weight must be in [0, 1]. Got {weight}.")
    if first.shape != second.shape:
        raise ConfigError(f"Both probabilities must have the same shape. Got {first.shape} and {second.shape}.")
    floor = 1e-9  # a zero probability would make the logarithm -inf
    log = weight * np.log(np.maximum(first, floor)) + (1.0 - weight) * np.log(np.maximum(second, floor))
    mixed = np.exp(log - log.max(axis=1, keepdims=True))
    return mixed / mixed.sum(axis=1, keepdims=True)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` standardized per dimension over all rows, then scaled to unit length."""
    z = (x - x.mean(axis=0)) / (x.std(axis=0) + _EPS)
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), _EPS)
