"""Recoloured variants: an emoji's skin tones are found from the pixels; a changed shape is not a recolouring."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from hypothesis import given, settings, strategies as st

from tetsuban import Project, decode
from tetsuban.store.survey import store_recolour_checks
from tetsuban.survey.duplicates import groups_of, near_duplicate_pairs
from tetsuban.survey.recolour import EDGE_DISTANCE, MAX_RESIDUAL, RECOLOUR_VERSION, edge_hash, residuals, thumbnail

THUMBS_UP = ["1f44d.png", "1f44d-1f3fb.png", "1f44d-1f3fc.png", "1f44d-1f3fd.png", "1f44d-1f3fe.png", "1f44d-1f3ff.png"]


def _thumbs(emoji_dir: Path, names: list[str]) -> np.ndarray:
    return np.stack([thumbnail(decode(emoji_dir / name)) for name in names])


def _bits_apart(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def test_skin_tones_are_candidates_and_confirmed_as_recolourings(emoji_dir: Path) -> None:
    thumbs = _thumbs(emoji_dir, THUMBS_UP)
    hashes = [edge_hash(t) for t in thumbs]
    pairs = list(combinations(range(len(thumbs)), 2))
    assert all(_bits_apart(hashes[a], hashes[b]) <= EDGE_DISTANCE for a, b in pairs)
    found = residuals(thumbs[[a for a, _ in pairs]], thumbs[[b for _, b in pairs]])
    confirmed = [(a, b, 0) for (a, b), residual in zip(pairs, found, strict=True) if residual <= MAX_RESIDUAL]
    assert set(groups_of(range(len(thumbs)), confirmed).values()) == {0}  # all six in one group
    assert float(residuals(thumbs[:1], thumbs[:1])[0]) < 0.005  # an image is a recolouring of itself


def test_a_changed_shape_is_not_a_recolouring(emoji_dir: Path) -> None:
    faces = _thumbs(emoji_dir, ["1f600.png", "1f603.png", "1f604.png", "1f642.png"])  # one face, other mouths and eyes
    pairs = list(combinations(range(len(faces)), 2))
    found = residuals(faces[[a for a, _ in pairs]], faces[[b for _, b in pairs]])
    assert (found > MAX_RESIDUAL).all(), found


def test_a_flat_image_explains_nothing_and_is_explained_by_nothing(emoji_dir: Path) -> None:
    emoji = _thumbs(emoji_dir, THUMBS_UP[:1])
    flat = np.full_like(emoji, 200)
    assert float(residuals(emoji, flat)[0]) > 0.9 and float(residuals(flat, emoji)[0]) > 0.9  # the worse direction


@settings(max_examples=40)
@given(st.lists(st.integers(0, 2**256 - 1), min_size=1, max_size=40), st.integers(0, 40))
def test_edge_hash_candidates_are_every_pair_within_the_distance(values: list[int], limit: int) -> None:
    hashes = {i: f"{v:064x}" for i, v in enumerate(values)}
    expected = [
        (a, b, _bits_apart(hashes[a], hashes[b]))
        for a, b in combinations(sorted(hashes), 2)
        if _bits_apart(hashes[a], hashes[b]) <= limit
    ]
    assert near_duplicate_pairs(hashes, limit) == expected


def test_pairs_are_compared_once_and_again_after_the_measure_changes(project: Project, emoji_dir: Path) -> None:
    project.import_files([emoji_dir / name for name in [*THUMBS_UP, "1f600.png", "1f603.png"]])
    first = project.survey()
    assert first.pairs_checked > 0 and project.survey().pairs_checked == 0  # kept, not compared twice
    database = sa.create_engine(f"sqlite:///{project.root / 'tetsuban.db'}")
    with database.begin() as conn:  # as a newer measure would: the old version's checks are dropped
        store_recolour_checks(conn, RECOLOUR_VERSION + 1, [])
    database.dispose()
    assert project.survey().pairs_checked == first.pairs_checked
