"""The property sheet in the store: definitions, and every value set with who set it and when."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tetsuban.errors import ConfigError
from tetsuban.props import Property, Value
from tetsuban.store.schema import properties, property_values


@dataclass(frozen=True)
class ValueEvent:
    """One value set (None: cleared)."""

    image_id: int
    value: Value
    author: str
    created_at: float


def add_property(conn: Connection, prop: Property) -> None:
    """Define ``prop``; a name already defined is refused."""
    if prop.name in defined(conn):
        raise ConfigError(f"The property '{prop.name}' exists already.")
    conn.execute(
        sa.insert(properties).values(
            name=prop.name,
            kind=prop.kind,
            choices=json.dumps(list(prop.choices)) if prop.choices else None,
            rule=prop.rule,
            added_at=time.time(),
        )
    )


def defined(conn: Connection) -> dict[str, Property]:
    """Every defined property, by name."""
    rows = conn.execute(sa.select(properties).order_by(properties.c.id))
    return {r.name: Property(r.name, r.kind, tuple(json.loads(r.choices)) if r.choices else (), r.rule) for r in rows}


def set_values(conn: Connection, name: str, values: Sequence[tuple[int, Value]], author: str) -> None:
    """Append a value event per (image id, value)."""
    now = time.time()
    pid = _property_id(conn, name)
    rows = [
        {"image_id": i, "property_id": pid, "value": json.dumps(v), "author": author, "created_at": now}
        for i, v in values
    ]
    if rows:
        conn.execute(sa.insert(property_values), rows)


def current_values(conn: Connection, name: str) -> dict[int, Value]:
    """The latest value of ``name`` for every image that has one set (cleared values left out)."""
    pid = _property_id(conn, name)
    latest = (
        sa.select(sa.func.max(property_values.c.id))
        .where(property_values.c.property_id == pid)
        .group_by(property_values.c.image_id)
        .scalar_subquery()
    )
    query = sa.select(property_values.c.image_id, property_values.c.value).where(property_values.c.id.in_(latest))
    found = {row.image_id: json.loads(row.value) for row in conn.execute(query)}
    return {i: v for i, v in found.items() if v is not None}


def values_of_image(conn: Connection, image_id: int) -> dict[str, Value]:
    """The latest value of every hand-set property of one image, by property name (cleared values left out)."""
    latest = (
        sa.select(sa.func.max(property_values.c.id))
        .where(property_values.c.image_id == image_id)
        .group_by(property_values.c.property_id)
        .scalar_subquery()
    )
    query = (
        sa.select(properties.c.name, property_values.c.value)
        .select_from(property_values.join(properties, property_values.c.property_id == properties.c.id))
        .where(property_values.c.id.in_(latest))
    )
    found = {row.name: json.loads(row.value) for row in conn.execute(query)}
    return {name: v for name, v in found.items() if v is not None}


def value_history(conn: Connection, name: str, image_id: int | None = None) -> list[ValueEvent]:
    """Every value of ``name`` set (of one image), oldest first."""
    query = (
        sa.select(
            property_values.c.image_id, property_values.c.value, property_values.c.author, property_values.c.created_at
        )
        .where(property_values.c.property_id == _property_id(conn, name))
        .order_by(property_values.c.id)
    )
    if image_id is not None:
        query = query.where(property_values.c.image_id == image_id)
    return [ValueEvent(r.image_id, json.loads(r.value), r.author, r.created_at) for r in conn.execute(query)]


def _property_id(conn: Connection, name: str) -> int:
    pid = conn.execute(sa.select(properties.c.id).where(properties.c.name == name)).scalar_one_or_none()
    if pid is None:
        known = ", ".join(defined(conn)) or "(none yet)"
        raise ConfigError(f"No property named '{name}'. Defined: {known}. Add it: tetsuban props add")
    return int(pid)
