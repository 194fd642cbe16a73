"""PostgreSQL advisory locks: a lock that a database session holds until it lets go or ends, so that of several
processes on one database exactly one does a job (the labelling loop's retrains), and another takes it over when that
process dies (its connection closes, and the server frees its locks)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

RETRAINER = 0x7E75_0001  # the labelling loop's retrainer: one per database, as a database holds one project


def try_lock(conn: Connection, key: int) -> bool:
    """Take the session-level advisory lock ``key`` on ``conn`` if no other session holds it; True when held."""
    return bool(conn.execute(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar_one())


def unlock(conn: Connection, key: int) -> None:
    """Let go of the advisory lock ``key`` that ``conn`` holds."""
    conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
