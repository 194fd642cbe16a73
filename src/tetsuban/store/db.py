"""The database engine: a SQLite file in the project folder, in WAL mode (the default), or a PostgreSQL database
named by a URL (a team's server); the tables and every query are the same on both."""

from __future__ import annotations

import os
import weakref
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError

from tetsuban.errors import ConfigError

DB_NAME = "tetsuban.db"
POSTGRESQL_DRIVER = "postgresql+psycopg"


def project_engine(root: Path, url: str) -> Engine:
    """The engine on a project's tables: the SQLite file in ``root`` when ``url`` is empty, else the PostgreSQL
    database ``url`` names."""
    return sqlite_engine(root / DB_NAME) if not url else postgresql_engine(url)


def check_database_url(url: str) -> str:
    """``url`` when it names a PostgreSQL database through psycopg (``postgresql+psycopg://USER@HOST:PORT/DB``);
    a ConfigError that says what to write otherwise. The password is never repeated in the message."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"The database URL is not one: write it as {POSTGRESQL_DRIVER}://USER@HOST:PORT/DATABASE."
        ) from None
    if parsed.drivername != POSTGRESQL_DRIVER or not parsed.database:
        shown = parsed.render_as_string(hide_password=True)
        raise ConfigError(
            f"The database URL {shown!r} does not name a PostgreSQL database through psycopg: write it as "
            f"{POSTGRESQL_DRIVER}://USER@HOST:PORT/DATABASE (without a URL the project keeps its SQLite file)."
        )
    return url


def postgresql_engine(url: str) -> Engine:
    """An engine on the PostgreSQL database ``url``, reached once here (a ConfigError says why not, in one line);
    connections are checked before use, so a restarted server or a dropped connection is met by a new one."""
    engine = sa.create_engine(check_database_url(url), pool_pre_ping=True, future=True)
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as error:
        engine.dispose()
        shown = make_url(url).render_as_string(hide_password=True)
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise ConfigError(f"The database {shown} cannot be reached: {reason}") from None
    forget_connections_when_forked(engine)
    return engine


def forget_connections_when_forked(engine: Engine) -> None:
    """Drop, in a forked child, the pool's connections inherited from the parent, without closing them (they are
    the parent's: a child that used or closed one would corrupt the parent's session on the server). The child
    opens its own when it first needs one."""
    ref = weakref.ref(engine)

    def forget() -> None:
        alive = ref()
        if alive is not None:
            alive.dispose(close=False)

    os.register_at_fork(after_in_child=forget)


def sqlite_engine(path: Path) -> Engine:
    """An engine on the SQLite file ``path`` with WAL, foreign keys and a busy timeout on every connection."""
    engine = sa.create_engine(f"sqlite:///{path}", future=True)

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: object, _record: object) -> None:
        cursor = dbapi_conn.cursor()  # type: ignore[attr-defined]
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine
