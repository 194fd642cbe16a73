"""Survey rows: the pixel properties of each image content, with the survey version that computed them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tetsuban.store.schema import recolour_checks, survey

_CHUNK = 500


@dataclass(frozen=True)
class PixelStats:
    """What the pixels say: levels, colour, sharpness, tilt, faces, and hashes that find near-duplicates."""

    brightness: float  # mean luma, 0-255
    contrast: float  # luma standard deviation
    colourfulness: float  # Hasler and Suesstrunk's metric: 0 for grey, about 100 for very colourful
    greyscale: bool
    sharpness: float  # variance of the Laplacian of the luma
    tilt: float | None  # degrees the dominant straight lines are turned from the nearest axis; None: no lines
    faces: int
    phash: str  # 64-bit DCT hash, 16 hex digits
    fingerprint: bytes  # 16x16 luma, uint8: checks that two images with close hashes really look alike
    edge_hash: str  # 256-bit colour edge hash, 64 hex digits: finds recoloured variants (survey/recolour.py)


def surveyed(conn: Connection, version: int) -> set[str]:
    """The sha256 of every image surveyed by this ``version`` of the survey."""
    return set(conn.execute(sa.select(survey.c.sha256).where(survey.c.version == version)).scalars())


def store_survey(conn: Connection, version: int, rows: Sequence[tuple[str, PixelStats]]) -> None:
    """Keep the properties of each (sha256, stats), replacing an older version's."""
    shas = [sha for sha, _ in rows]
    for start in range(0, len(shas), _CHUNK):
        conn.execute(sa.delete(survey).where(survey.c.sha256.in_(shas[start : start + _CHUNK])))
    if rows:
        conn.execute(sa.insert(survey), [{"sha256": sha, "version": version, **asdict(stats)} for sha, stats in rows])


def load_survey(conn: Connection, version: int) -> dict[str, PixelStats]:
    """Every image's properties from this ``version``, by sha256."""
    names = [f.name for f in fields(PixelStats)]
    query = sa.select(survey.c.sha256, *(survey.c[n] for n in names)).where(survey.c.version == version)
    return {row[0]: PixelStats(*row[1:]) for row in conn.execute(query)}


def recolour_checked(conn: Connection, version: int) -> dict[tuple[str, str], float]:
    """Every content pair (sha_a < sha_b) checked for a recolouring by this ``version``, with its residual."""
    table = recolour_checks
    query = sa.select(table.c.sha_a, table.c.sha_b, table.c.residual).where(table.c.version == version)
    return {(a, b): residual for a, b, residual in conn.execute(query)}


def store_recolour_checks(conn: Connection, version: int, rows: Sequence[tuple[str, str, float]]) -> None:
    """Keep the residual of each checked (sha_a, sha_b) pair, sha_a < sha_b, dropping other versions' checks."""
    conn.execute(sa.delete(recolour_checks).where(recolour_checks.c.version != version))
    if rows:
        conn.execute(
            sa.insert(recolour_checks),
            [{"sha_a": a, "sha_b": b, "residual": r, "version": version} for a, b, r in rows],
        )
