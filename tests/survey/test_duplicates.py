"""Near-duplicate pairs by perceptual hash: the same pairs as comparing everything, found faster."""

from __future__ import annotations

from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from tetsuban.survey.duplicates import groups_of, near_duplicate_pairs

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
