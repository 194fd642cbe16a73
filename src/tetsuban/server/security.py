"""Who is asking, and whether they may: sessions, CSRF tokens, roles, and a limit on failed logins.

Without users the app runs open on 127.0.0.1: every request acts as the person who started it, as admin. With
users (or when bound to another address) every request needs a session cookie (HttpOnly, SameSite=Strict). In both
modes every state change must carry the page's CSRF token in the X-CSRF-Token header, so that another site open in
the same browser cannot label, upload or log out on the user's behalf.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import Request

from tetsuban.accounts import Accounts, at_least
from tetsuban.project import Project
from tetsuban.server.state import Viewer
from tetsuban.server.team import is_shared
from tetsuban.store.users import shared_secret

SESSION_COOKIE = "tetsuban_session"
LOGIN_COOKIE = "tetsuban_login"  # the login form's own CSRF token (double submit: cookie and field)
CSRF_HEADER = "x-csrf-token"
REMEMBER = 5.0  # seconds a session read from the store is believed without asking it again
SHARED_REMEMBER = 1.0  # the same with other app processes on the store, whose logouts this one learns only there
LOGIN_FAILURES = 5  # failed logins allowed per name and per address ...
LOGIN_WINDOW = 300.0  # ... within this many seconds
HASHING_SLOTS = 1  # password checks at once
HASHING_WAIT = 3.0  # seconds a login waits for a check before it is told to come back


class LoginLimiter:
    """Counts login attempts per key (a name, an address) in a sliding window.

    An attempt is counted when it begins, under the same lock that checks the limit, and taken back only when its
    password was right: so parallel tries cannot all pass the check before any of them is counted.
    """

    def __init__(self, failures: int = LOGIN_FAILURES, window: float = LOGIN_WINDOW) -> None:
        self.failures = failures
        self.window = window
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def begin(self, keys: list[str], now: float | None = None) -> float:
        """Seconds until any of ``keys`` may try again; when 0, the attempt is counted against every key now."""
        now = time.monotonic() if now is None else now
        with self._lock:
            longest = 0.0
            for key in keys:
                times = self._seen.get(key)
                while times and times[0] <= now - self.window:
                    times.popleft()
                if times is not None and len(times) >= self.failures:
                    longest = max(longest, times[0] + self.window - now)
            if longest == 0.0:
                for key in keys:
                    self._seen.setdefault(key, deque()).append(now)
            return longest

    def succeeded(self, keys: list[str]) -> None:
        """The attempt was right: the name starts afresh, and the address gets its attempt back."""
        name_key, *others = keys
        with self._lock:
            self._seen.pop(name_key, None)
            for key in others:
                times = self._seen.get(key)
                if times:
                    times.pop()


class HashingSlots:
    """Bounds the password hashing that runs at once (argon2 takes 64 MiB and a core per check), so that a flood
    of logins cannot take every core: past ``slots`` running, a login waits up to ``wait`` seconds, then is told to
    come back."""

    def __init__(self, slots: int = HASHING_SLOTS, wait: float = HASHING_WAIT) -> None:
        self._slots = threading.BoundedSemaphore(slots)
        self.wait = wait

    @contextmanager
    def slot(self) -> Iterator[bool]:
        """Whether a slot was had (held until the block ends); a caller that got False must not hash."""
        had = self._slots.acquire(timeout=self.wait)
        try:
            yield had
        finally:
            if had:
                self._slots.release()


class Gate:
    """Resolves a request to a :class:`Viewer` (or None: log in first) and checks its CSRF token and role.

    What the store says is remembered for ``remember`` seconds (whether users exist, each session's user), so that
    a request costs no database query; a logout forgets its session at once, a user removed from the command line
    loses access within those seconds.
    """

    def __init__(self, accounts: Accounts, secret: bytes, login_required: bool, remember: float = REMEMBER) -> None:
        self.accounts = accounts
        self.login_required = login_required
        self.limiter = LoginLimiter()
        self.hashing = HashingSlots()
        self.remember = remember
        self._open_csrf = hmac.new(secret, b"csrf for the open app", hashlib.sha256).hexdigest()
        self._owner = getpass.getuser()
        self._users_exist: tuple[float, bool] = (-1.0, False)
        self._sessions: dict[str, tuple[float, Viewer | None]] = {}
        self._lock = threading.Lock()

    def open(self) -> bool:
        """Whether the app runs without logins now (no users, bound to this machine)."""
        if self.login_required:
            return False
        checked, exist = self._users_exist
        if time.monotonic() - checked > self.remember:
            exist = self.accounts.exist()
            self._users_exist = (time.monotonic(), exist)
        return not exist

    def viewer(self, request: Request) -> Viewer | None:
        if self.open():
            return Viewer(self._owner, "admin", self._open_csrf)
        token = request.cookies.get(SESSION_COOKIE)
        if not token or len(token) > 128:
            return None
        now = time.monotonic()
        with self._lock:
            known = self._sessions.get(token)
        if known is not None and now - known[0] <= self.remember:
            return known[1]
        found = self.accounts.session(token)
        viewer = None if found is None else Viewer(found[0].name, found[0].role, found[1])
        with self._lock:
            if len(self._sessions) > 10_000:
                self._sessions.clear()
            self._sessions[token] = (now, viewer)
        return viewer

    def end_session(self, token: str) -> None:
        """Log out: the store's session and the remembered one both go."""
        self.accounts.end_session(token)
        with self._lock:
            self._sessions.pop(token, None)


def csrf_ok(request: Request, viewer: Viewer) -> bool:
    given = request.headers.get(CSRF_HEADER, "")
    return bool(given) and hmac.compare_digest(given.encode(), viewer.csrf.encode())


def may(viewer: Viewer, role: str) -> bool:
    return at_least(viewer.role, role)


def project_secret(project: Project) -> bytes:
    """The secret of the open app's CSRF token: in the store when several processes may serve the project (each
    must derive the same token), else in the project's cache folder (:func:`app_secret`)."""
    engine = project.workspace.engine
    if not is_shared(engine):
        return app_secret(project.root / ".cache")
    with engine.begin() as conn:
        return shared_secret(conn, lambda: secrets.token_bytes(32))


def app_secret(cache: Path) -> bytes:
    """The project's secret for the open app's CSRF token, made once (readable by its owner only), so that an open
    page keeps working across a restart of the server."""
    path = cache / "app_secret"
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another server made it just now
            return path.read_bytes()
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(32))
    return path.read_bytes()
