"""Recoloured variants among a project's colour images: candidate pairs by edge hash, each checked once.

Runs after the survey (which stores the edge hashes). Each candidate pair of contents is decoded and compared
once; its residual is kept in the store, so later surveys check only pairs with a new image in them.
Greyscale images are left out: a recolouring of grey is a change of levels, which the perceptual hash sees.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from sqlalchemy.engine import Engine

from tetsuban.errors import ImageError
from tetsuban.imaging.decode import decode
from tetsuban.parallel import ordered_map
from tetsuban.progress import ProgressFn
from tetsuban.store.images import ImageRecord, image_path
from tetsuban.store.survey import load_survey, recolour_checked, store_recolour_checks
from tetsuban.survey.duplicates import copies_of, near_duplicate_pairs
from tetsuban.survey.properties import SURVEY_SIDE, PixelStats, hamming
from tetsuban.survey.recolour import (
    COPY_RESIDUAL,
    EDGE_DISTANCE,
    MAX_RESIDUAL,
    RECOLOUR_VERSION,
    residuals,
    thumbnail,
)

_BATCH = 64  # files decoded per task
_PAIRS = 1024  # pairs compared per task
ContentPair = tuple[str, str]  # (sha_a, sha_b), sha_a < sha_b


def check_recolours(
    engine: Engine,
    project_dir: Path,
    records: Sequence[ImageRecord],
    survey_version: int,
    workers: int,
    on_progress: ProgressFn | None = None,
) -> int:
    """Check the candidate pairs among ``records`` not checked before, reporting (pairs compared, pairs to
    compare) as it goes; returns how many were checked now."""
    with engine.connect() as conn:
        stats = load_survey(conn, survey_version)
        done = recolour_checked(conn, RECOLOUR_VERSION)
    todo = [pair for pair in candidate_pairs(records, stats) if pair not in done]
    paths = {r.sha256: str(image_path(project_dir, r)) for r in records}
    needed = sorted({sha for pair in todo for sha in pair})
    decoded = zip(needed, _thumbnails([paths[sha] for sha in needed], workers), strict=True)
    thumbs = {sha: thumb for sha, thumb in decoded if thumb is not None}  # unreadable files are left unchecked
    checkable = [(a, b) for a, b in todo if a in thumbs and b in thumbs]
    if not checkable:
        return 0
    found = _residuals_on(workers, [thumbs[a] for a, _ in checkable], [thumbs[b] for _, b in checkable], on_progress)
    with engine.begin() as conn:
        store_recolour_checks(conn, RECOLOUR_VERSION, [(a, b, r) for (a, b), r in zip(checkable, found, strict=True)])
    return len(checkable)


def candidate_pairs(records: Sequence[ImageRecord], stats: Mapping[str, PixelStats]) -> list[ContentPair]:
    """Content pairs among the surveyed colour images whose edge hashes are within EDGE_DISTANCE bits, and those
    the perceptual hash calls copies (their colours are checked too: see :func:`near_duplicates`)."""
    shas = sorted({r.sha256 for r in records if r.sha256 in stats and not stats[r.sha256].greyscale})
    colour = {index: stats[sha] for index, sha in enumerate(shas)}
    found = near_duplicate_pairs({index: s.edge_hash for index, s in colour.items()}, EDGE_DISTANCE) + copies_of(colour)
    return sorted({(shas[a], shas[b]) for a, b, _ in found})


def near_duplicates(
    surveyed: Mapping[int, PixelStats],
    sha_of: Mapping[int, str],
    checked: Mapping[ContentPair, float],
    same_picture: Sequence[tuple[int, int, float]] = (),
) -> list[tuple[int, int, int]]:
    """(id, id, perceptual-hash bits apart) of the surveyed images that are one picture.

    Copies by perceptual hash and luma fingerprint; between two colour images such a copy must also be nearly a
    recolouring (residual <= COPY_RESIDUAL), because luma alone cannot tell white hair from blond. Recolourings:
    checked pairs with residual <= MAX_RESIDUAL. Then the ``same_picture`` pairs the model found (see
    survey/lookalikes.py) that bring an image the pixels left alone to another: the model's weaker evidence never
    merges two groups the pixels made (on emoji-google such merges joined different emoji, each with its five
    skin tones, and cut the finder's precision from 0.95 to 0.89).
    """
    by_pixels, by_model = links_by_kind(surveyed, sha_of, checked, same_picture)
    return sorted(by_pixels + by_model)


def links_by_kind(
    surveyed: Mapping[int, PixelStats],
    sha_of: Mapping[int, str],
    checked: Mapping[ContentPair, float],
    same_picture: Sequence[tuple[int, int, float]] = (),
) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
    """:func:`near_duplicates` in two lists, each sorted: the pairs the pixels prove, and those only the model's
    ``same_picture`` pairs add (the doctor weighs the two differently)."""
    ids = {sha: image_id for image_id, sha in sha_of.items() if image_id in surveyed}
    pairs: dict[tuple[int, int], int] = {}
    for a, b, distance in copies_of(surveyed):
        residual = checked.get(_content_pair(sha_of[a], sha_of[b]))
        both_colour = not (surveyed[a].greyscale or surveyed[b].greyscale)
        if not both_colour or residual is None or residual <= COPY_RESIDUAL:
            pairs[(a, b)] = distance
    for (sha_a, sha_b), residual in checked.items():
        if residual <= MAX_RESIDUAL and sha_a in ids and sha_b in ids:
            a, b = sorted((ids[sha_a], ids[sha_b]))
            pairs.setdefault((a, b), hamming(surveyed[a].phash, surveyed[b].phash))
    alone = _ungrouped(surveyed, pairs)
    added: dict[tuple[int, int], int] = {}
    for a, b, _ in same_picture:
        if a in surveyed and b in surveyed and (a in alone or b in alone) and (a, b) not in pairs:
            added.setdefault((a, b), hamming(surveyed[a].phash, surveyed[b].phash))
    return sorted((a, b, d) for (a, b), d in pairs.items()), sorted((a, b, d) for (a, b), d in added.items())


def _ungrouped(surveyed: Mapping[int, PixelStats], pairs: Mapping[tuple[int, int], int]) -> set[int]:
    """The surveyed images in no pair."""
    paired = {image_id for pair in pairs for image_id in pair}
    return {image_id for image_id in surveyed if image_id not in paired}


def _content_pair(a: str, b: str) -> ContentPair:
    return (a, b) if a < b else (b, a)


def _residuals_on(
    workers: int, first: list[np.ndarray], second: list[np.ndarray], on_progress: ProgressFn | None
) -> list[float]:
    """:func:`residuals` of each pair, chunks of pairs spread over ``workers`` processes."""
    # made as the workers take them: every pair's pixels at once would not fit in memory for a large project
    chunks = ((np.stack(first[i : i + _PAIRS]), np.stack(second[i : i + _PAIRS])) for i in range(0, len(first), _PAIRS))
    pooled = workers if workers > 1 and len(first) > _PAIRS else 1
    found: list[float] = []
    if on_progress is not None:
        on_progress(0, len(first))
    for chunk in ordered_map(residuals_chunk, chunks, pooled, ("tetsuban.survey.links",)):
        found += [float(r) for r in chunk]
        if on_progress is not None:
            on_progress(len(found), len(first))
    return found


def residuals_chunk(pair: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Worker side of :func:`_residuals_on`."""
    return residuals(*pair)


def _thumbnails(paths: list[str], workers: int) -> list[np.ndarray | None]:
    batches = [paths[i : i + _BATCH] for i in range(0, len(paths), _BATCH)]
    pooled = workers if workers > 1 and len(batches) > 1 else 1
    done = ordered_map(thumbnail_batch, batches, pooled, ("tetsuban.survey.links",))
    return [thumb for batch in done for thumb in batch]


def thumbnail_batch(paths: list[str]) -> list[np.ndarray | None]:
    """The recolour thumbnail of each file, decoded as the survey decodes it; None where it cannot be read."""
    out: list[np.ndarray | None] = []
    for path in paths:
        try:
            out.append(thumbnail(decode(Path(path), max_side=SURVEY_SIDE)))
        except (ImageError, OSError):
            out.append(None)
    return out
