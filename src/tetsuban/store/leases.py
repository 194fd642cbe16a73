"""Leases in the store, so that every process of the app (and every machine on one PostgreSQL database) hands an
image to one annotator at a time. Each image is taken in a transaction of its own (so that two claimers never hold
locks the other waits for) by an upsert whose condition the database checks on the row: no lease, an expired one,
or the claimer's own. Of two claimers at once, one wins each image. On PostgreSQL a lease row another claimer holds
locked is skipped, not waited for (FOR UPDATE SKIP LOCKED); on SQLite each transaction begins IMMEDIATE, so claims
take their turns."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from tetsuban.store.schema import leases

SETTLING = ""  # the holder of a lease on an image just labelled: no one (no user's name is empty)


def claim(engine: Engine, holder: str, candidates: Sequence[int], count: int, now: float, seconds: float) -> list[int]:
    """Up to ``count`` of ``candidates`` (in order) that no one else holds now, leased (again) to ``holder`` until
    ``now + seconds``."""
    taken: list[int] = []
    if not candidates or count < 1:
        return taken
    with engine.connect() as conn:
        held = _held_by_others(conn, holder, candidates, now)  # read without locks: most refusals cost nothing
        conn.rollback()
        for image_id in candidates:
            if image_id not in held and _take(conn, holder, image_id, now, seconds):
                taken.append(image_id)
                if len(taken) == count:
                    break
    return taken


def _held_by_others(conn: Connection, holder: str, candidates: Sequence[int], now: float) -> set[int]:
    query = sa.select(leases.c.image_id).where(
        leases.c.image_id.in_(candidates), leases.c.holder != holder, leases.c.expires_at > now
    )
    return set(conn.scalars(query))


def _take(conn: Connection, holder: str, image_id: int, now: float, seconds: float) -> bool:
    """Lease ``image_id`` to ``holder`` in a transaction of its own unless someone else holds it unexpired (or, on
    PostgreSQL, is claiming it this moment); whether it was taken."""
    postgres = conn.dialect.name == "postgresql"
    if not postgres:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif _locked_elsewhere(conn, image_id):
        conn.rollback()
        return False
    insert = postgresql.insert(leases) if postgres else sqlite.insert(leases)
    statement = (
        insert.values(image_id=image_id, holder=holder, expires_at=now + seconds)
        .on_conflict_do_update(
            index_elements=[leases.c.image_id],
            set_={"holder": holder, "expires_at": now + seconds},
            where=(leases.c.expires_at <= now) | (leases.c.holder == holder),
        )
        .returning(leases.c.image_id)
    )
    taken = conn.execute(statement).first() is not None
    conn.commit()
    return taken


def _locked_elsewhere(conn: Connection, image_id: int) -> bool:
    """Whether ``image_id``'s lease row exists and another transaction holds it locked (PostgreSQL); otherwise the
    row is now locked by this transaction, or there is none yet."""
    row = leases.c.image_id == image_id
    if conn.scalars(sa.select(leases.c.image_id).where(row).with_for_update(skip_locked=True)).first() is not None:
        return False
    return conn.scalars(sa.select(leases.c.image_id).where(row)).first() is not None


def release(engine: Engine, image_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(sa.delete(leases).where(leases.c.image_id == image_id))


def settle(engine: Engine, image_id: int, until: float) -> None:
    """Hold ``image_id`` for no one until ``until``: it was just labelled, and no claimer may take it while the other
    app processes have not yet read that label back from the store (their queues still hold it)."""
    with engine.begin() as conn:
        insert = postgresql.insert(leases) if conn.dialect.name == "postgresql" else sqlite.insert(leases)
        conn.execute(
            insert.values(image_id=image_id, holder=SETTLING, expires_at=until).on_conflict_do_update(
                index_elements=[leases.c.image_id], set_={"holder": SETTLING, "expires_at": until}
            )
        )


def holder(engine: Engine, image_id: int, now: float) -> str | None:
    """Who holds ``image_id`` unexpired at ``now``, if anyone."""
    with engine.connect() as conn:
        query = sa.select(leases.c.holder).where(leases.c.image_id == image_id, leases.c.expires_at > now)
        return conn.scalars(query).first()
