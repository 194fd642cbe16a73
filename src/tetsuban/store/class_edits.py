"""Renaming, merging and removing classes, kept in the label history.

A class is never deleted: the label events that name it stay as they were. Its images get a new label event each
(source ``class-edit``, by whoever made the change), and the class is retired: no longer listed, offered or
counted. Each change is one transaction, so a failure leaves every label as it was.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tetsuban.classnames import check_class_name, name_key
from tetsuban.errors import ConfigError
from tetsuban.store.labels import add_labels, check_new_names, class_ids, current_labels
from tetsuban.store.schema import classes

SOURCE = "class-edit"


def rename_class(conn: Connection, old: str, new: str, author: str) -> int:
    """Give ``old`` the name ``new`` (in its place among the keys); the images labelled ``old`` get a label event
    naming ``new``. Returns how many. Refused when ``new`` already names another class (merge instead)."""
    check_class_name(new)
    existing = class_ids(conn)
    _check_known(old, existing)
    if new in existing:
        raise ConfigError(
            f'A class named "{new}" exists already. To put the images of "{old}" into it: '
            f'tetsuban labels merge PROJECT "{old}" --into "{new}"'
        )
    check_new_names([new], [name for name in existing if name != old])
    added_at = conn.scalar(sa.select(classes.c.added_at).where(classes.c.id == existing[old]))
    retired = class_ids(conn, retired=True)
    if new in retired:  # a name used before: its row comes back, in the renamed class's place
        conn.execute(sa.update(classes).where(classes.c.id == retired[new]).values(retired_at=None, added_at=added_at))
    else:
        conn.execute(sa.insert(classes).values(name=new, added_at=added_at))
    return _move_labels(conn, [old], new, author)


def merge_classes(conn: Connection, sources: Sequence[str], into: str, author: str) -> int:
    """Label every image of the classes ``sources`` as ``into`` (an existing class) and retire them. Returns how
    many images were relabelled."""
    existing = class_ids(conn)
    _check_known(into, existing)
    for name in sources:
        _check_known(name, existing)
    if into in sources or not sources:
        raise ConfigError(f'Merge names the classes to merge and a different class to merge them into, "{into}".')
    return _move_labels(conn, list(dict.fromkeys(sources)), into, author)


def remove_class(conn: Connection, name: str, author: str) -> int:
    """Clear the label of every image labelled ``name`` (the history keeps it) and retire the class. Returns how
    many images lost their label."""
    _check_known(name, class_ids(conn))
    return _move_labels(conn, [name], None, author)


def images_labelled(conn: Connection, name: str) -> list[int]:
    """The images whose current label is ``name``."""
    return sorted(i for i, event in current_labels(conn).items() if event.label == name)


def _move_labels(conn: Connection, sources: list[str], target: str | None, author: str) -> int:
    moved = sorted(i for i, event in current_labels(conn).items() if event.label in sources)
    add_labels(conn, [(i, target) for i in moved], SOURCE, author)
    now = time.time()
    conn.execute(sa.update(classes).where(classes.c.name.in_(sources)).values(retired_at=now))
    return len(moved)


def _check_known(name: str, existing: dict[str, int]) -> None:
    if name in existing:
        return
    near = [other for other in existing if name_key(other) == name_key(name)]
    hint = f' Did you mean "{near[0]}"?' if near else f" The classes: {', '.join(sorted(existing)) or 'none yet'}."
    raise ConfigError(f'No class is named "{name}".{hint}')
