"""Look-alikes by model: pairs of images whose embeddings point the same way (cosine similarity).

The pixel hashes find copies and recolourings; an embedding also sees a picture through a mirror, a crop, a new
compression, a change of light or a small turn. It also sees two different pictures of one kind of thing as close,
and chains them: on 3,000 fashion-mnist images, every pair at cosine 0.90 chains into a group of 198
(bench/results/lookalike_study.md). So a split trusts the cosine only between mutual nearest neighbours (each is the
other's closest image, so the model alone never groups more than two images) at SAME_PICTURE or above. There the
study links the photos' edited copies to their originals (mirrored 1.00, 25% brighter 1.00, turned 4 degrees 0.92,
JPEG at quality 40 0.85, halved 0.77, cropped to 85% 0.69) and pairs 177 of 3,000 distinct fashion-mnist images,
mostly near-identical products, which cost a split nothing when kept together. Every pair at LOOK_ALIKE or above is
listed for a person to look at.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

SAME_PICTURE = 0.90  # cosine of mutual nearest neighbours taken as one picture (joins split groups)
LOOK_ALIKE = 0.90  # cosine at or above which a pair is shown for review
_BLOCK = 512  # rows compared per matrix product: 512 x N float32 similarities at a time


def look_alike_pairs(
    vectors: Mapping[int, np.ndarray], threshold: float, mutual: bool = False
) -> list[tuple[int, int, float]]:
    """(id, id, cosine) of every pair with cosine >= ``threshold``, first id smaller, sorted; with ``mutual``,
    only pairs where each image is the other's nearest neighbour."""
    every, mutual_pairs = similar_pairs(vectors, threshold)
    return mutual_pairs if mutual else every


def similar_pairs(
    vectors: Mapping[int, np.ndarray], threshold: float
) -> tuple[list[tuple[int, int, float]], list[tuple[int, int, float]]]:
    """(every pair at or above ``threshold``, the mutual nearest neighbours among them), each as in
    :func:`look_alike_pairs`. Exact: every pair is compared once, in blocks of rows so that memory stays at
    _BLOCK x N similarities."""
    ids = sorted(vectors)
    if len(ids) < 2:
        return [], []
    unit = _unit_rows(np.stack([np.asarray(vectors[i], np.float32) for i in ids]))  # (N, D)
    nearest = np.empty(len(ids), np.int64)
    found: list[tuple[int, int, float]] = []
    for start in range(0, len(ids), _BLOCK):
        block = unit[start : start + _BLOCK] @ unit.T  # (B, N)
        rows = np.arange(block.shape[0])
        block[rows, start + rows] = -np.inf  # an image is not its own neighbour
        nearest[start : start + block.shape[0]] = block.argmax(axis=1)
        for row, col in zip(*np.nonzero(block >= threshold), strict=True):
            if col > start + row:
                found.append((int(start + row), int(col), float(block[row, col])))
    mutual = [(a, b, c) for a, b, c in found if nearest[a] == b and nearest[b] == a]
    return sorted((ids[a], ids[b], c) for a, b, c in found), sorted((ids[a], ids[b], c) for a, b, c in mutual)


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)
