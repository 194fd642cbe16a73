"""Classes and labels with their full history: every change is a new row; the current label is the latest."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tetsuban.classnames import check_class_name
from tetsuban.params import check_choice
from tetsuban.store.schema import classes, labels

LabelSource = Literal["import", "human", "model-accepted", "restored"]
LABEL_SOURCES: tuple[str, ...] = ("import", "human", "model-accepted", "restored")
"""``restored``: a label put back, under its own author's name, when the label that replaced it was undone."""


@dataclass(frozen=True)
class LabelEvent:
    """One row of a label history. ``label`` is None when the label was cleared."""

    id: int
    image_id: int
    label: str | None
    source: str
    author: str
    created_at: float
    seconds_on_screen: float | None


def ensure_classes(conn: Connection, names: set[str]) -> dict[str, int]:
    """Ids of the classes ``names``, creating the missing ones."""
    for name in names:
        check_class_name(name)
    existing = class_ids(conn)
    missing = sorted(names - existing.keys())
    if missing:
        now = time.time()
        conn.execute(sa.insert(classes), [{"name": n, "added_at": now} for n in missing])
        existing = class_ids(conn)
    return existing


def class_ids(conn: Connection) -> dict[str, int]:
    """Every class name with its id."""
    return {name: cid for cid, name in conn.execute(sa.select(classes.c.id, classes.c.name))}


def add_labels(
    conn: Connection,
    assignments: list[tuple[int, str | None]],
    source: str,
    author: str,
    seconds_on_screen: float | None = None,
) -> None:
    """Append one label event per (image id, class name or None to clear)."""
    check_choice("source", source, LABEL_SOURCES)
    if not assignments:
        return
    ids = ensure_classes(conn, {name for _, name in assignments if name is not None})
    now = time.time()
    rows = [
        {
            "image_id": image_id,
            "class_id": None if name is None else ids[name],
            "source": source,
            "author": author,
            "created_at": now,
            "seconds_on_screen": seconds_on_screen,
        }
        for image_id, name in assignments
    ]
    conn.execute(sa.insert(labels), rows)


def _events_query() -> sa.Select:
    return sa.select(
        labels.c.id,
        labels.c.image_id,
        classes.c.name.label("label"),
        labels.c.source,
        labels.c.author,
        labels.c.created_at,
        labels.c.seconds_on_screen,
    ).select_from(labels.outerjoin(classes, labels.c.class_id == classes.c.id))


def current_labels(conn: Connection, image_ids: list[int] | None = None) -> dict[int, LabelEvent]:
    """The latest label event of every image that has one (cleared labels included, with label None).

    With ``image_ids``, only of those images.
    """
    if image_ids is not None:
        found: dict[int, LabelEvent] = {}
        for start in range(0, len(image_ids), 500):
            chunk = image_ids[start : start + 500]
            latest = (
                sa.select(sa.func.max(labels.c.id))
                .where(labels.c.image_id.in_(chunk))
                .group_by(labels.c.image_id)
                .scalar_subquery()
            )
            found.update(_latest_events(conn, latest))
        return found
    return _latest_events(conn, sa.select(sa.func.max(labels.c.id)).group_by(labels.c.image_id).scalar_subquery())


def _latest_events(conn: Connection, latest: sa.ScalarSelect) -> dict[int, LabelEvent]:
    query = _events_query().where(labels.c.id.in_(latest))
    return {row.image_id: LabelEvent(**row._asdict()) for row in conn.execute(query)}


def label_history(conn: Connection, image_id: int | None = None) -> list[LabelEvent]:
    """Every label event, oldest first; of one image when ``image_id`` is given."""
    query = _events_query().order_by(labels.c.id)
    if image_id is not None:
        query = query.where(labels.c.image_id == image_id)
    return [LabelEvent(**row._asdict()) for row in conn.execute(query)]


def class_counts(conn: Connection) -> dict[str, int]:
    """Images per class by their current label; classes with none count 0."""
    counts = {name: 0 for name in class_ids(conn)}
    for event in current_labels(conn).values():
        if event.label is not None:
            counts[event.label] += 1
    return dict(sorted(counts.items()))


def labels_since(conn: Connection, since: float) -> int:
    """Label events given by people (not imports, not clearings) at or after ``since``."""
    query = (
        sa.select(sa.func.count())
        .select_from(labels)
        .where(
            labels.c.created_at >= since,
            labels.c.source.in_(("human", "model-accepted")),
            labels.c.class_id.is_not(None),
        )
    )
    return int(conn.execute(query).scalar_one())
