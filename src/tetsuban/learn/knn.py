"""A k-nearest-neighbours head: the training images' embeddings are the model; an image's probabilities are the
votes of its k most similar training images (cosine), each weighted by softmax(10 x similarity).

It ships in the same artifact as the probe: the graph normalises the embedding, multiplies it with the stored
neighbours, takes the top k and sums their one-hot labels with those weights (ONNX MatMul, TopK, Gather).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tetsuban.learn.head import class_index
from tetsuban.params import check_int

DEFAULT_K = 10
SHARPNESS = 10.0
_EPS = 1e-12


@dataclass(frozen=True)
class KnnHead:
    """``neighbours`` (N, D) unit rows and ``votes`` (N, K) one-hot labels, row for row; ``k`` neighbours vote."""

    classes: tuple[str, ...]
    neighbours: np.ndarray
    votes: np.ndarray
    k: int

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """(M, K) vote shares for embeddings ``x`` (M, D), as the graph computes them."""
        similarity = _unit(x) @ self.neighbours.T.astype(np.float64)  # (M, N)
        top = np.argsort(-similarity, axis=1, kind="stable")[:, : self.k]
        near = np.take_along_axis(similarity, top, axis=1) * SHARPNESS
        weights = np.exp(near - near.max(axis=1, keepdims=True))
        weights /= weights.sum(axis=1, keepdims=True)
        return np.einsum("mk,mkc->mc", weights, self.votes[top].astype(np.float64))


def fit_knn_head(x: np.ndarray, labels: Sequence[str], k: int = DEFAULT_K) -> KnnHead:
    """The head over training embeddings ``x`` (N, D) with their ``labels``."""
    check_int("k", k, 1, 1000)
    classes, y = class_index(labels)
    votes = np.zeros((len(labels), len(classes)), np.float32)
    votes[np.arange(len(labels)), y] = 1.0
    return KnnHead(classes, _unit(x).astype(np.float32), votes, min(k, len(labels)))


def _unit(x: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (float64)."""
    return np.asarray(x, np.float64) / (np.linalg.norm(x, axis=1, keepdims=True) + _EPS)
