"""Near-duplicates by hash: pairs within a Hamming distance, found without comparing every pair, confirmed by
a finer fingerprint, and the groups they link (connected components).

Multi-index hashing: split each hash (64 bits for the perceptual hash, 256 for the edge hash) into ``d + 1``
blocks; two hashes within distance ``d`` agree exactly
on at least one block (pigeonhole), so only hashes sharing a block are compared. A 64-bit hash alone links
pictures that merely look alike at 8x8 (on fashion-mnist, 9,268 sneakers in one group); the 16x16 fingerprints of
true copies correlate above 0.99, those of look-alikes rarely do.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping

from tetsuban.survey.properties import PixelStats, likeness

DEFAULT_DISTANCE = 4
MIN_LIKENESS = 0.99


def near_duplicate_pairs(
    hashes: Mapping[int, str],
    max_distance: int = DEFAULT_DISTANCE,
    fingerprints: Mapping[int, bytes] | None = None,
    min_likeness: float = MIN_LIKENESS,
) -> list[tuple[int, int, int]]:
    """(id, id, distance) for every pair of ids whose hex hashes (all of one length) differ in at most
    ``max_distance`` bits and, with ``fingerprints``, whose fingerprints correlate at least ``min_likeness``."""
    values = {key: int(h, 16) for key, h in hashes.items()}
    bits = 4 * max((len(h) for h in hashes.values()), default=16)
    blocks = _blocks(max_distance + 1, bits)
    found: dict[tuple[int, int], int] = {}
    for shift, mask in blocks:
        buckets: dict[int, list[int]] = defaultdict(list)
        for key, value in values.items():
            buckets[(value >> shift) & mask].append(key)
        for members in buckets.values():
            for a_index, a in enumerate(members):
                for b in members[a_index + 1 :]:
                    pair = (a, b) if a < b else (b, a)
                    if pair not in found:
                        distance = (values[a] ^ values[b]).bit_count()
                        if distance <= max_distance:
                            found[pair] = distance
    pairs = sorted((a, b, d) for (a, b), d in found.items())
    if fingerprints is None:
        return pairs
    return [(a, b, d) for a, b, d in pairs if likeness(fingerprints[a], fingerprints[b]) >= min_likeness]


def copies_of(surveyed: Mapping[int, PixelStats]) -> list[tuple[int, int, int]]:
    """Pairs whose perceptual hashes are within DEFAULT_DISTANCE bits and whose fingerprints correlate at
    MIN_LIKENESS or more: resized and re-encoded copies."""
    hashes = {key: s.phash for key, s in surveyed.items()}
    return near_duplicate_pairs(hashes, fingerprints={key: s.fingerprint for key, s in surveyed.items()})


def groups_of(keys: Iterable[int], pairs: Iterable[tuple[int, int, float]]) -> dict[int, Hashable]:
    """Each key's group: the smallest key of its connected component under ``pairs``."""
    parent = {key: key for key in keys}

    def root(key: int) -> int:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for a, b, _ in pairs:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {key: root(key) for key in parent}


def _blocks(count: int, bits: int) -> list[tuple[int, int]]:
    """(shift, mask) of ``count`` contiguous blocks covering ``bits`` bits."""
    edges = [round(bits * i / count) for i in range(count + 1)]
    return [(edges[i], (1 << (edges[i + 1] - edges[i])) - 1) for i in range(count)]
