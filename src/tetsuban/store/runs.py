"""Import runs and the outcome of every item they saw."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tetsuban.store.schema import import_outcomes, import_runs

OUTCOMES: tuple[str, ...] = ("added", "duplicate", "unchanged", "relinked", "skipped")


@dataclass(frozen=True)
class Outcome:
    """What happened to one item of an import."""

    item: str
    outcome: str
    reason: str | None = None
    image_id: int | None = None
    label: str | None = None


@dataclass(frozen=True)
class RunSummary:
    """An import run with its counts per outcome."""

    id: int
    source: str
    kind: str
    status: str
    started_at: float
    finished_at: float | None
    counts: dict[str, int]


def start_run(conn: Connection, source: str, kind: str, options: Mapping[str, object], author: str) -> int:
    """Record the start of an import; returns the run id."""
    result = conn.execute(
        sa.insert(import_runs)
        .returning(import_runs.c.id)
        .values(
            source=source,
            kind=kind,
            options=json.dumps(options, sort_keys=True),
            author=author,
            started_at=time.time(),
            status="running",
        )
    )
    return int(result.scalar_one())


def finish_run(conn: Connection, run_id: int, status: str) -> None:
    """Mark a run finished or interrupted."""
    conn.execute(
        sa.update(import_runs).where(import_runs.c.id == run_id).values(status=status, finished_at=time.time())
    )


def record_outcomes(conn: Connection, run_id: int, outcomes: list[Outcome]) -> None:
    """Store the outcomes of a batch of items."""
    if outcomes:
        conn.execute(
            sa.insert(import_outcomes),
            [
                {
                    "run_id": run_id,
                    "item": o.item,
                    "outcome": o.outcome,
                    "reason": o.reason,
                    "image_id": o.image_id,
                    "label": o.label,
                }
                for o in outcomes
            ],
        )


def known_items(conn: Connection, items: list[str]) -> dict[str, int]:
    """Items that an earlier run already turned into an image, with that image's id."""
    found: dict[str, int] = {}
    for start in range(0, len(items), 500):
        chunk = items[start : start + 500]
        query = sa.select(import_outcomes.c.item, import_outcomes.c.image_id).where(
            import_outcomes.c.item.in_(chunk), import_outcomes.c.image_id.is_not(None)
        )
        found.update({item: image_id for item, image_id in conn.execute(query)})
    return found


def run_counts(conn: Connection, run_id: int) -> dict[str, int]:
    """Outcome counts of one run; every outcome is present."""
    query = (
        sa.select(import_outcomes.c.outcome, sa.func.count())
        .where(import_outcomes.c.run_id == run_id)
        .group_by(import_outcomes.c.outcome)
    )
    counts = dict.fromkeys(OUTCOMES, 0)
    counts.update({outcome: int(n) for outcome, n in conn.execute(query)})
    return counts


def recent_runs(conn: Connection, limit: int = 5) -> list[RunSummary]:
    """The latest runs, newest first."""
    rows = conn.execute(sa.select(import_runs).order_by(import_runs.c.id.desc()).limit(limit)).all()
    return [
        RunSummary(
            id=r.id,
            source=r.source,
            kind=r.kind,
            status=r.status,
            started_at=r.started_at,
            finished_at=r.finished_at,
            counts=run_counts(conn, r.id),
        )
        for r in rows
    ]


def run_outcomes(
    conn: Connection, run_ids: list[int], outcome: str | None = None, limit: int | None = None
) -> list[Outcome]:
    """Outcomes of the given runs (only of one kind, with ``outcome``), in the order they were recorded."""
    query = sa.select(import_outcomes).where(import_outcomes.c.run_id.in_(run_ids)).order_by(import_outcomes.c.id)
    if outcome is not None:
        query = query.where(import_outcomes.c.outcome == outcome)
    if limit is not None:
        query = query.limit(limit)
    return [
        Outcome(item=r.item, outcome=r.outcome, reason=r.reason, image_id=r.image_id, label=r.label)
        for r in conn.execute(query)
    ]


def skipped_items(conn: Connection, run_ids: list[int], limit: int = 50) -> list[Outcome]:
    """Skipped items of the given runs with their reasons."""
    return run_outcomes(conn, run_ids, "skipped", limit)
