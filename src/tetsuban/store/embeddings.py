"""The embedding cache: vectors per (backbone, exact model input), found by (image sha256, backbone, preprocess).

Two levels make a changed preprocess cost exactly what it changes: the first lookup (by image and preprocess hash)
is free; an image it misses is preprocessed anew, and only an input never seen before is run through the backbone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tetsuban.store.schema import embedding_keys, embeddings

_CHUNK = 500


@dataclass(frozen=True)
class EmbeddingRow:
    """One image's result to store: its input digest and, when the digest was new, its vector."""

    image_sha256: str
    input_digest: str
    vector: np.ndarray | None


def cached_images(conn: Connection, backbone: str, preprocess: str) -> set[str]:
    """The sha256 of every image with an embedding under ``backbone`` and ``preprocess``."""
    query = sa.select(embedding_keys.c.image_sha256).where(
        embedding_keys.c.backbone == backbone, embedding_keys.c.preprocess == preprocess
    )
    return set(conn.execute(query).scalars())


def embedded_backbones(conn: Connection, preprocess: str) -> dict[str, int]:
    """Each backbone key with embeddings under ``preprocess``, and how many images it has."""
    query = (
        sa.select(embedding_keys.c.backbone, sa.func.count())
        .where(embedding_keys.c.preprocess == preprocess)
        .group_by(embedding_keys.c.backbone)
    )
    return {backbone: count for backbone, count in conn.execute(query)}


def known_digests(conn: Connection, backbone: str) -> frozenset[str]:
    """The input digests that already have a vector under ``backbone``."""
    query = sa.select(embeddings.c.input_digest).where(embeddings.c.backbone == backbone)
    return frozenset(conn.execute(query).scalars())


def store_embeddings(conn: Connection, backbone: str, preprocess: str, rows: Sequence[EmbeddingRow]) -> None:
    """Add the new vectors and point each image at its vector (replacing an older pointer for the same key)."""
    new = {r.input_digest: r.vector for r in rows if r.vector is not None}
    have = _ids_of(conn, backbone, new)
    fresh = [
        {"backbone": backbone, "input_digest": d, "vector": np.asarray(v, np.float32).tobytes()}
        for d, v in new.items()
        if d not in have
    ]
    if fresh:
        conn.execute(sa.insert(embeddings), fresh)
    ids = _ids_of(conn, backbone, {r.input_digest for r in rows})
    shas = [r.image_sha256 for r in rows]
    for start in range(0, len(shas), _CHUNK):
        conn.execute(
            sa.delete(embedding_keys).where(
                embedding_keys.c.backbone == backbone,
                embedding_keys.c.preprocess == preprocess,
                embedding_keys.c.image_sha256.in_(shas[start : start + _CHUNK]),
            )
        )
    keys = [
        {
            "image_sha256": r.image_sha256,
            "backbone": backbone,
            "preprocess": preprocess,
            "embedding_id": ids[r.input_digest],
        }
        for r in {r.image_sha256: r for r in rows}.values()
    ]
    conn.execute(sa.insert(embedding_keys), keys)


def load_embeddings(conn: Connection, backbone: str, preprocess: str, shas: Sequence[str]) -> dict[str, np.ndarray]:
    """The cached vector of each of ``shas`` that has one, as float32 arrays."""
    found: dict[str, np.ndarray] = {}
    for start in range(0, len(shas), _CHUNK):
        query = (
            sa.select(embedding_keys.c.image_sha256, embeddings.c.vector)
            .join(embeddings, embeddings.c.id == embedding_keys.c.embedding_id)
            .where(
                embedding_keys.c.backbone == backbone,
                embedding_keys.c.preprocess == preprocess,
                embedding_keys.c.image_sha256.in_(shas[start : start + _CHUNK]),
            )
        )
        for sha, blob in conn.execute(query):
            found[sha] = np.frombuffer(blob, dtype=np.float32)
    return found


def _ids_of(conn: Connection, backbone: str, digests: Iterable[str]) -> dict[str, int]:
    wanted = list(digests)
    ids: dict[str, int] = {}
    for start in range(0, len(wanted), _CHUNK):
        query = sa.select(embeddings.c.input_digest, embeddings.c.id).where(
            embeddings.c.backbone == backbone, embeddings.c.input_digest.in_(wanted[start : start + _CHUNK])
        )
        ids.update({row.input_digest: row.id for row in conn.execute(query)})
    return ids
