"""Near-duplicate pairs by perceptual hash: the same pairs as comparing everything, found faster."""

from __future__ import annotations

from collections import Counter
from itertools import combinations
from pathlib import Path

import cv2
from hypothesis import given, settings, strategies as st

from tetsuban import decode
from tetsuban.ingest.idx import read_idx
from tetsuban.survey.duplicates import groups_of, near_duplicate_pairs
from tetsuban.survey.properties import fingerprint, phash

hash_sets = st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=60)


def _brute(hashes: dict[int, str], limit: int) -> list[tuple[int, int, int]]:
    out = []
    for a, b in combinations(sorted(hashes), 2):
        d = (int(hashes[a], 16) ^ int(hashes[b], 16)).bit_count()
        if d <= limit:
            out.append((a, b, d))
    return out


@settings(max_examples=80)
@given(bases=hash_sets, flips=st.lists(st.integers(0, 63), max_size=6), limit=st.integers(0, 8))
def test_pairs_equal_brute_force(bases: list[int], flips: list[int], limit: int) -> None:
    values = list(bases)
    for base in bases[:10]:  # near copies: a few bits flipped
        copy = base
        for bit in flips:
            copy ^= 1 << bit
        values.append(copy)
    hashes = {i: f"{v:016x}" for i, v in enumerate(values)}
    assert near_duplicate_pairs(hashes, limit) == _brute(hashes, limit)


def test_groups_are_connected_components() -> None:
    groups = groups_of(range(6), [(0, 1, 2), (1, 4, 3), (2, 5, 0)])
    assert groups == {0: 0, 1: 0, 4: 0, 2: 2, 5: 2, 3: 3}


def test_fingerprints_keep_look_alikes_apart_and_copies_together(fashion_dir: Path, photos_dir: Path) -> None:
    pixels = read_idx(fashion_dir / "train-images-idx3-ubyte.gz")[:3000]
    hashes = {i: phash(p) for i, p in enumerate(pixels)}
    prints = {i: fingerprint(p) for i, p in enumerate(pixels)}
    loose = near_duplicate_pairs(hashes)
    confirmed = near_duplicate_pairs(hashes, fingerprints=prints)
    assert _largest(groups_of(hashes, loose)) > 30  # sneakers that only share an 8x8 outline
    assert _largest(groups_of(hashes, confirmed)) <= 5
    rgb = decode(photos_dir / "squirrel_cls.jpg", max_side=512)
    copies = [rgb, cv2.resize(rgb, (rgb.shape[1] // 2, rgb.shape[0] // 2), interpolation=cv2.INTER_AREA)]
    lumas = [cv2.cvtColor(c, cv2.COLOR_RGB2GRAY) for c in copies]
    pair = near_duplicate_pairs(
        {0: phash(lumas[0]), 1: phash(lumas[1])}, fingerprints={0: fingerprint(lumas[0]), 1: fingerprint(lumas[1])}
    )
    assert [(a, b) for a, b, _ in pair] == [(0, 1)]


def _largest(groups: dict[int, object]) -> int:
    return max(Counter(groups.values()).values())
