"""Split assignments and the events that made or cleared them."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tetsuban.store.schema import split_events, splits


@dataclass(frozen=True)
class SplitEvent:
    """One assignment or reset of splits."""

    id: int
    kind: str
    author: str
    created_at: float
    test: float | None
    val: float | None
    seed: int | None
    images: int


def current_splits(conn: Connection) -> dict[int, str]:
    """Every assigned image's split, by image id."""
    return {row.image_id: row.split for row in conn.execute(sa.select(splits.c.image_id, splits.c.split))}


def split_history(conn: Connection) -> list[SplitEvent]:
    """Every assignment and reset, oldest first."""
    return [SplitEvent(**row._asdict()) for row in conn.execute(sa.select(split_events).order_by(split_events.c.id))]


def add_splits(
    conn: Connection, assigned: Mapping[int, str], author: str, test: float, val: float, seed: int
) -> SplitEvent:
    """Record an assignment event and the new splits (images that have one are not touched)."""
    now = time.time()
    event_id = _insert_event(
        conn, kind="assign", author=author, created_at=now, test=test, val=val, seed=seed, images=len(assigned)
    )
    if assigned:
        conn.execute(
            sa.insert(splits), [{"image_id": i, "split": s, "event_id": event_id} for i, s in assigned.items()]
        )
    return SplitEvent(event_id, "assign", author, now, test, val, seed, len(assigned))


def reset_splits(conn: Connection, author: str) -> SplitEvent:
    """Clear every split, recording who did it and how many images lost their split."""
    cleared = conn.execute(sa.select(sa.func.count()).select_from(splits)).scalar_one()
    now = time.time()
    event_id = _insert_event(conn, kind="reset", author=author, created_at=now, images=cleared)
    conn.execute(sa.delete(splits))
    return SplitEvent(event_id, "reset", author, now, None, None, None, cleared)


def _insert_event(conn: Connection, **values: object) -> int:
    query = sa.insert(split_events).values(**values).returning(split_events.c.id)
    return int(conn.execute(query).scalar_one())
