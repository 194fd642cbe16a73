"""Classes and labels with their full history: every change is a new row; the current label is the latest."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tetsuban.classnames import check_class_name, name_key
from tetsuban.errors import ConfigError
from tetsuban.params import check_choice
from tetsuban.store.schema import classes, labels

LabelSource = Literal["import", "human", "model-accepted", "restored", "class-edit"]
LABEL_SOURCES: tuple[str, ...] = ("import", "human", "model-accepted", "restored", "class-edit")
"""``restored``: a label put back, under its own author's name, when the label that replaced it was undone;
``class-edit``: a label changed because its class was renamed, merged into another or removed."""


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
    """Ids of the classes ``names``, creating the missing ones (a retired class of that very name comes back).
    A new name that differs from a class's only in case is refused: "flags" and "Flags" would be two classes."""
    for name in names:
        check_class_name(name)
    existing = class_ids(conn)
    missing = sorted(names - existing.keys())
    if missing:
        check_new_names(missing, existing)
        now = time.time()
        retired = class_ids(conn, retired=True)
        for name in missing:
            if name in retired:
                conn.execute(sa.update(classes).where(classes.c.id == retired[name]).values(retired_at=None))
            else:
                conn.execute(sa.insert(classes).values(name=name, added_at=now))
        existing = class_ids(conn)
    return existing


def check_new_names(new: Sequence[str], existing: Iterable[str]) -> None:
    """Refuse new class names that differ only in case from a class's, or from each other's."""
    seen = {name_key(name): name for name in existing}
    for name in new:
        other = seen.get(name_key(name))
        if other is not None:
            raise ConfigError(
                f'"{name}" differs from the class "{other}" only in case, and would be a second class. Use '
                f'"{other}", or rename that class: tetsuban labels rename PROJECT "{other}" "{name}"'
            )
        seen[name_key(name)] = name


def class_order(conn: Connection) -> list[str]:
    """The classes in use in their keys' order: the order they were added, a renamed class in its old place."""
    query = sa.select(classes.c.name).where(classes.c.retired_at.is_(None)).order_by(classes.c.added_at, classes.c.id)
    return list(conn.scalars(query))


def class_ids(conn: Connection, retired: bool = False) -> dict[str, int]:
    """Every class name in use with its id (``retired``: those renamed, merged or removed instead)."""
    query = sa.select(classes.c.id, classes.c.name)
    query = query.where(classes.c.retired_at.is_not(None) if retired else classes.c.retired_at.is_(None))
    return {name: cid for cid, name in conn.execute(query)}


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


def label_events_after(conn: Connection, after: int, limit: int = 10_000) -> list[LabelEvent]:
    """Up to ``limit`` label events whose id is above ``after``, oldest first: what other app processes wrote since
    this one last looked."""
    query = _events_query().where(labels.c.id > after).order_by(labels.c.id).limit(limit)
    return [LabelEvent(**row._asdict()) for row in conn.execute(query)]


def last_label_event_id(conn: Connection) -> int:
    """The highest label event id so far; 0 before the first."""
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(labels.c.id), 0))).scalar_one())


def class_counts(conn: Connection) -> dict[str, int]:
    """Images per class by their current label; classes with none count 0."""
    counts = {name: 0 for name in class_ids(conn)}
    latest = sa.select(sa.func.max(labels.c.id)).group_by(labels.c.image_id).scalar_subquery()
    query = (
        sa.select(classes.c.name, sa.func.count())
        .select_from(labels.join(classes, labels.c.class_id == classes.c.id))
        .where(labels.c.id.in_(latest))
        .group_by(classes.c.name)
    )
    counts.update({name: int(count) for name, count in conn.execute(query)})  # counted by the database
    return dict(sorted(counts.items()))


def labels_since(conn: Connection, since: float) -> int:
    """Labels people gave at or after ``since`` (not imports, restorations or class edits), less those taken back
    since by an undo (a person's clearing of a label given in that time)."""
    query = (
        sa.select(labels.c.image_id, labels.c.class_id)
        .where(labels.c.created_at >= since, labels.c.source.in_(("human", "model-accepted")))
        .order_by(labels.c.id)
    )
    given = 0
    standing: set[int] = set()  # images whose latest label in the window counts
    for image_id, class_id in conn.execute(query):
        if class_id is not None:
            given += 1
            standing.add(image_id)
        elif image_id in standing:  # an undo of a label given in the window
            given -= 1
            standing.discard(image_id)
    return given
