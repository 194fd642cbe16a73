"""Who may use the labeling app: users with argon2-hashed passwords and roles, and their login sessions.

A session token lives only in the browser's cookie; the store keeps its SHA-256, so a copy of the database does
not log anyone in. Each session has its own CSRF token, which every state-changing request must echo.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Engine

from tetsuban.errors import ConfigError, ProjectError
from tetsuban.params import check_choice
from tetsuban.store.users import (
    ROLES,
    User,
    add_session,
    add_user,
    all_users,
    end_session,
    find_user,
    remove_user,
    session_of,
    set_password_hash,
    user_count,
)

SESSION_SECONDS = 12 * 3600
MIN_PASSWORD = 8
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_HASHER = PasswordHasher()  # argon2id with the library's current defaults (RFC 9106's low-memory choice)


@dataclass(frozen=True)
class Session:
    """A new login: the token for the cookie and the CSRF token for the page."""

    token: str
    csrf: str
    user: User


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def at_least(role: str, needed: str) -> bool:
    """Whether ``role`` may do what ``needed`` may (annotator < reviewer < admin)."""
    return ROLES.index(role) >= ROLES.index(needed)


class Accounts:
    """Users and sessions of one project's store."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, name: str, password: str, role: str = "annotator") -> User:
        """Add a user; the name is 1-64 letters, digits, '.', '_' or '-', the password at least 8 characters."""
        if not _NAME.fullmatch(name):
            raise ConfigError(
                f"A user name is 1 to 64 letters, digits, '.', '_' or '-', first a letter or digit. Got {name!r}."
            )
        check_choice("role", role, ROLES)
        check_password(password)
        with self._engine.begin() as conn:
            if find_user(conn, name) is not None:
                raise ProjectError(f"A user named '{name}' exists already. Remove it first, or choose another name.")
            return add_user(conn, name, _HASHER.hash(password), role)

    def remove(self, name: str) -> None:
        with self._engine.begin() as conn:
            if not remove_user(conn, name):
                raise ProjectError(f"No user named '{name}'. Users: {', '.join(u.name for u in all_users(conn))}.")

    def users(self) -> list[User]:
        with self._engine.connect() as conn:
            return all_users(conn)

    def exist(self) -> bool:
        with self._engine.connect() as conn:
            return user_count(conn) > 0

    def verify(self, name: str, password: str) -> User | None:
        """The user when ``password`` is theirs, else None; an unknown name takes as long as a wrong password."""
        with self._engine.connect() as conn:
            found = find_user(conn, name)
        if found is None:
            _check(_dummy_hash(), password)
            return None
        user, stored = found
        if not _check(stored, password):
            return None
        if _HASHER.check_needs_rehash(stored):
            with self._engine.begin() as conn:
                set_password_hash(conn, user.id, _HASHER.hash(password))
        return user

    def start_session(self, user: User, seconds: float = SESSION_SECONDS) -> Session:
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self._engine.begin() as conn:
            add_session(conn, token_digest(token), user.id, csrf, time.time() + seconds)
        return Session(token, csrf, user)

    def session(self, token: str) -> tuple[User, str] | None:
        """(user, CSRF token) of a live session, or None."""
        with self._engine.connect() as conn:
            return session_of(conn, token_digest(token), time.time())

    def end_session(self, token: str) -> None:
        with self._engine.begin() as conn:
            end_session(conn, token_digest(token))


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD or len(password) > 1024:
        raise ConfigError(f"A password must have {MIN_PASSWORD} to 1024 characters. Got {len(password)}.")


def _check(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    """A hash to verify against when the name is unknown, so that it takes as long as a wrong password."""
    return _HASHER.hash(secrets.token_urlsafe(16))
