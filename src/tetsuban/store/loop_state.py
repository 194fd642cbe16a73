"""The labelling loop's latest published retrain, kept in the store: probabilities of every image and the queue."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tetsuban.store.schema import loop_history, loop_snapshots


@dataclass(frozen=True)
class StoredSnapshot:
    """One retrain: image ids (N,), probabilities (N, K) in ``classes`` order, and the queue (image ids)."""

    generation: int
    created_at: float
    backbone: str
    classes: tuple[str, ...]
    labels: int
    image_ids: np.ndarray
    probabilities: np.ndarray
    queue: tuple[int, ...]


def save_snapshot(conn: Connection, snapshot: StoredSnapshot) -> None:
    """Replace the stored snapshot with ``snapshot``."""
    conn.execute(sa.delete(loop_snapshots))
    conn.execute(
        sa.insert(loop_snapshots).values(
            generation=snapshot.generation,
            created_at=snapshot.created_at or time.time(),
            backbone=snapshot.backbone,
            classes=json.dumps(list(snapshot.classes)),
            labels=snapshot.labels,
            image_ids=np.asarray(snapshot.image_ids, np.int64).tobytes(),
            probabilities=np.asarray(snapshot.probabilities, np.float32).tobytes(),
            queue=np.asarray(snapshot.queue, np.int64).tobytes(),
        )
    )


def snapshot_version(conn: Connection) -> tuple[int, float] | None:
    """(generation, time written) of the stored snapshot, without its arrays; None before the first."""
    row = conn.execute(sa.select(loop_snapshots.c.generation, loop_snapshots.c.created_at)).first()
    return None if row is None else (int(row.generation), float(row.created_at))


def load_snapshot(conn: Connection) -> StoredSnapshot | None:
    """The stored snapshot, or None before the first retrain with a head."""
    row = conn.execute(sa.select(loop_snapshots)).first()
    if row is None:
        return None
    classes = tuple(json.loads(row.classes))
    ids = np.frombuffer(row.image_ids, np.int64)
    return StoredSnapshot(
        row.generation,
        row.created_at,
        row.backbone,
        classes,
        row.labels,
        ids,
        np.frombuffer(row.probabilities, np.float32).reshape(len(ids), len(classes)),
        tuple(int(i) for i in np.frombuffer(row.queue, np.int64)),
    )


@dataclass(frozen=True)
class Retrain:
    """One retrain in the loop's history: labels it learnt from and its accuracy on the labelled val images."""

    generation: int
    created_at: float
    labels: int
    val_images: int
    val_accuracy: float | None


def add_retrain(conn: Connection, retrain: Retrain) -> None:
    conn.execute(
        sa.insert(loop_history).values(
            generation=retrain.generation,
            created_at=retrain.created_at,
            labels=retrain.labels,
            val_images=retrain.val_images,
            val_accuracy=retrain.val_accuracy,
        )
    )


def retrain_history(conn: Connection) -> list[Retrain]:
    """Every recorded retrain, oldest first."""
    query = sa.select(
        loop_history.c.generation,
        loop_history.c.created_at,
        loop_history.c.labels,
        loop_history.c.val_images,
        loop_history.c.val_accuracy,
    ).order_by(loop_history.c.id)
    return [Retrain(**row._asdict()) for row in conn.execute(query)]
