"""The property sheet: properties people define (bool, choice, number, text) and set per image, kept with their
history, and rules over a survey measurement (``brightness < 40``) computed from the survey table."""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from pathlib import Path

from tetsuban.errors import ProjectError
from tetsuban.props import Property, Value, define, parse_rule
from tetsuban.store.properties import (
    ValueEvent,
    add_property,
    current_values,
    defined,
    set_values,
    value_history,
    values_of_image,
)
from tetsuban.survey.stage import survey_table
from tetsuban.survey.table import COLUMNS as SURVEY_COLUMNS
from tetsuban.workspace import Workspace

RawValue = str | bool | float | None
"""A value as a person or a file gives it, before the property's kind parses it."""


def define_property(
    ws: Workspace, name: str, kind: str, values: Sequence[str] = (), rule: str | None = None
) -> Property:
    """Define a property: bool, choice (with ``values``), number or text; or a bool ``rule`` over a survey
    measurement, such as ``brightness < 40``."""
    numeric = [c for c in SURVEY_COLUMNS if c not in ("image_id", "path", "label", "format", "phash")]
    prop = define(name, kind, values, rule, numeric)
    with ws.engine.begin() as conn:
        add_property(conn, prop)
    return prop


def properties(ws: Workspace) -> dict[str, Property]:
    """The property sheet's definitions, by name."""
    with ws.engine.connect() as conn:
        return defined(conn)


def set_property(ws: Workspace, name: str, values: Sequence[tuple[int, RawValue]], author: str | None = None) -> int:
    """Set ``name`` for each (image id, value); values are checked against the property's kind."""
    prop = property_named(ws, name)
    if prop.rule is not None:
        raise ProjectError(f"The property '{name}' is computed ({prop.rule}); it cannot be set by hand.")
    known = {r.id for r in ws.images()}
    unknown = sorted({i for i, _ in values} - known)
    if unknown:
        raise ProjectError(f"No image with id {unknown[0]} in the project ({len(unknown)} unknown ids).")
    parsed = [(i, prop.parse(v)) for i, v in values]
    with ws.engine.begin() as conn:
        set_values(conn, name, parsed, author or getpass.getuser())
    return len(parsed)


def set_property_by_path(
    ws: Workspace, name: str, values: Sequence[tuple[str | Path, RawValue]], author: str | None = None
) -> int:
    """:func:`set_property` with image files instead of ids; an unknown file stops it before anything is set."""
    ids = {str(ws.image_path(r).resolve()): r.id for r in ws.images()}
    resolved = [(str(Path(p).expanduser().resolve()), v) for p, v in values]
    unknown = [path for path, _ in resolved if path not in ids]
    if unknown:
        raise ProjectError(
            f"{len(unknown)} file(s) are not images of this project, e.g. {unknown[0]}. Import them first."
        )
    return set_property(ws, name, [(ids[path], v) for path, v in resolved], author)


def property_values(ws: Workspace, name: str) -> dict[int, Value]:
    """Each image's current value of ``name`` (computed from the survey for a rule)."""
    prop = property_named(ws, name)
    if prop.rule is None:
        with ws.engine.connect() as conn:
            return current_values(conn, name)
    column, compare, threshold = parse_rule(prop.rule, SURVEY_COLUMNS)
    return {
        int(str(row["image_id"])): compare(float(str(row[column])), threshold)
        for row in survey_table(ws)
        if row[column] is not None
    }


def all_property_values(ws: Workspace) -> dict[str, dict[int, Value]]:
    """Every property's values, by property name."""
    return {name: property_values(ws, name) for name in properties(ws)}


def values_of(ws: Workspace, image_id: int) -> dict[str, Value]:
    """The values set by hand on one image, by property name (rules, computed from the survey, aside)."""
    with ws.engine.connect() as conn:
        return values_of_image(conn, image_id)


def property_history(ws: Workspace, name: str, image_id: int | None = None) -> list[ValueEvent]:
    """Every value of ``name`` set by hand (of one image), oldest first."""
    property_named(ws, name)
    with ws.engine.connect() as conn:
        return value_history(conn, name, image_id)


def property_named(ws: Workspace, name: str) -> Property:
    """The definition of ``name``; a clear error listing those defined when there is none."""
    props = properties(ws)
    if name not in props:
        raise ProjectError(f"No property named '{name}'. Defined: {', '.join(props) or '(none yet)'}.")
    return props[name]
