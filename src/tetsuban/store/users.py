"""Users of the labeling app and their sessions. Passwords arrive here already hashed; tokens as digests."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from tetsuban.store.schema import meta, sessions, users

_SECRET_KEY = "app_secret"

ROLES: tuple[str, ...] = ("annotator", "reviewer", "admin")  # each may do what the one before may, and more


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    created_at: float


def add_user(conn: Connection, name: str, password_hash: str, role: str) -> User:
    """Insert a user; the caller has checked the name and role and hashed the password."""
    now = time.time()
    result = conn.execute(sa.insert(users).values(name=name, password_hash=password_hash, role=role, created_at=now))
    key = result.inserted_primary_key
    assert key is not None
    return User(int(key[0]), name, role, now)


def all_users(conn: Connection) -> list[User]:
    query = sa.select(users.c.id, users.c.name, users.c.role, users.c.created_at).order_by(users.c.name)
    return [User(**row._asdict()) for row in conn.execute(query)]


def user_count(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one())


def find_user(conn: Connection, name: str) -> tuple[User, str] | None:
    """(user, password hash) of ``name``, or None."""
    row = conn.execute(sa.select(users).where(users.c.name == name)).first()
    if row is None:
        return None
    return User(row.id, row.name, row.role, row.created_at), row.password_hash


def set_password_hash(conn: Connection, user_id: int, password_hash: str) -> None:
    conn.execute(sa.update(users).where(users.c.id == user_id).values(password_hash=password_hash))


def remove_user(conn: Connection, name: str) -> bool:
    """Delete ``name`` and end its sessions; False when there was no such user. Its labels keep its name."""
    found = find_user(conn, name)
    if found is None:
        return False
    conn.execute(sa.delete(sessions).where(sessions.c.user_id == found[0].id))
    conn.execute(sa.delete(users).where(users.c.id == found[0].id))
    return True


def add_session(conn: Connection, token_digest: str, user_id: int, csrf: str, expires_at: float) -> None:
    now = time.time()
    conn.execute(sa.delete(sessions).where(sessions.c.expires_at < now))  # expired ones go as new ones come
    conn.execute(
        sa.insert(sessions).values(
            token_digest=token_digest, user_id=user_id, csrf=csrf, created_at=now, expires_at=expires_at
        )
    )


def session_of(conn: Connection, token_digest: str, now: float) -> tuple[User, str] | None:
    """(user, CSRF token) of an unexpired session, or None."""
    query = (
        sa.select(users.c.id, users.c.name, users.c.role, users.c.created_at, sessions.c.csrf)
        .select_from(sessions.join(users, sessions.c.user_id == users.c.id))
        .where(sessions.c.token_digest == token_digest, sessions.c.expires_at > now)
    )
    row = conn.execute(query).first()
    if row is None:
        return None
    return User(row.id, row.name, row.role, row.created_at), row.csrf


def end_session(conn: Connection, token_digest: str) -> None:
    conn.execute(sa.delete(sessions).where(sessions.c.token_digest == token_digest))


def shared_secret(conn: Connection, make: Callable[[], bytes]) -> bytes:
    """The app's secret kept in the store (``make`` makes it the first time): the same for every process that serves
    the project, on any machine. Of two processes making it at once, the first to write it wins."""
    insert = postgresql.insert(meta) if conn.dialect.name == "postgresql" else sqlite.insert(meta)
    conn.execute(insert.values(key=_SECRET_KEY, value=make().hex()).on_conflict_do_nothing())
    return bytes.fromhex(conn.execute(sa.select(meta.c.value).where(meta.c.key == _SECRET_KEY)).scalar_one())
