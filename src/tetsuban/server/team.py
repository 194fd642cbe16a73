"""Several app processes on one PostgreSQL database serving as one app (``tetsuban serve --workers N``, or serves on
several machines): each process holds its own labelling loop over the same images, and a thread here keeps it in
step with the store.

- Exactly one process retrains: the one holding the retrainer's advisory lock on a connection of its own. It
  stores every retrain's snapshot at once; when it dies its connection closes, the server frees the lock, and the
  next process to ask takes over.
- Every few tenths of a second each process reads the label events written since it last looked (by any process,
  itself too: each is counted toward a retrain once, here), the stored snapshot's version (a newer one is adopted),
  the image count (uploads elsewhere rebuild the loop) and the class list.

A label event's id is drawn when it is written but visible only once committed, so ids can appear out of order:
events are read again from the highest id seen ``REORDER_SECONDS`` ago, and those already applied are skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from tetsuban.store.advisory import RETRAINER, try_lock, unlock
from tetsuban.store.images import image_count
from tetsuban.store.labels import LabelEvent, class_order, label_events_after, last_label_event_id
from tetsuban.store.loop_state import StoredSnapshot, load_snapshot, snapshot_version

POLL_SECONDS = 0.2
REORDER_SECONDS = 10.0  # far longer than any of the app's label transactions

logger = logging.getLogger(__name__)


def is_shared(engine: Engine) -> bool:
    """Whether several app processes may serve this store at once (PostgreSQL), so that they must keep in step."""
    return engine.dialect.name == "postgresql"


class Leadership:
    """Whether this process retrains: it holds the retrainer's advisory lock on a connection of its own."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None

    def try_take(self) -> bool:
        """Take the lock if no process holds it; True when this one holds it (now or already)."""
        if self._conn is not None:
            return True
        conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        if try_lock(conn, RETRAINER):
            self._conn = conn
            return True
        conn.close()
        return False

    def still_held(self) -> bool:
        """Whether the lock's connection is still alive (a restarted database server frees every lock)."""
        if self._conn is None:
            return False
        try:
            self._conn.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.DBAPIError:
            self._conn.invalidate()  # not back into the pool: its session is gone
            self._conn.close()
            self._conn = None
            return False

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            unlock(self._conn, RETRAINER)
        finally:
            self._conn.invalidate()  # the session ends with it, so the lock can never outlive this process's wish
            self._conn.close()
            self._conn = None


@dataclass(frozen=True)
class TeamHooks:
    """What the sync tells the app: label events to learn, a snapshot to adopt (True when adopted), the image count
    changed, the class list read, and leadership won or lost."""

    learn: Callable[[list[LabelEvent]], None]
    adopt: Callable[[StoredSnapshot], bool]
    images_changed: Callable[[], None]
    classes: Callable[[list[str]], None]
    leading: Callable[[bool], None]


class EventWindow:
    """Which label events were applied, so that each is applied once although ids become visible out of order."""

    def __init__(self, floor: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.floor = floor  # every event at or below it has been seen (or was before this process started)
        self._clock = clock
        self._seen: dict[int, float] = {}  # id above the floor -> when first seen

    def fresh(self, events: list[LabelEvent]) -> list[LabelEvent]:
        """The events of ``events`` not seen before, remembered as seen; then the floor moves up to the highest id
        seen ``REORDER_SECONDS`` ago."""
        now = self._clock()
        new = [e for e in events if e.id > self.floor and e.id not in self._seen]
        for event in new:
            self._seen[event.id] = now
        settled = [i for i, seen_at in self._seen.items() if now - seen_at >= REORDER_SECONDS]
        if settled:
            self.floor = max(self.floor, *settled)
            self._seen = {i: t for i, t in self._seen.items() if i > self.floor}
        return new


class TeamSync:
    """The thread that keeps this process's loop in step with the store and the other processes (see the module
    docstring)."""

    def __init__(self, engine: Engine, poll_seconds: float = POLL_SECONDS) -> None:
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.leadership = Leadership(engine)
        self.leadership.try_take()
        with engine.connect() as conn:  # read before the loop is built from the store, so nothing falls between
            self.window = EventWindow(last_label_event_id(conn))
        self.failure: str | None = None  # why the last look at the store failed; None after one succeeds
        self._version: tuple[int, float] | None = None
        self._images: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._hooks: TeamHooks | None = None

    @property
    def leading(self) -> bool:
        return self.leadership.held

    def start(self, hooks: TeamHooks) -> None:
        self._hooks = hooks
        self._thread = threading.Thread(target=self._run, name="tetsuban-team-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.leadership.release()

    def forget_snapshot(self) -> None:
        """Adopt the stored snapshot again at the next look (the loop was rebuilt)."""
        self._version = None

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.tick()
                self.failure = None
            except Exception as error:  # the database restarting, say: keep trying, and say so once
                if self.failure is None:
                    logger.warning("Cannot keep in step with the other app processes: %s", error)
                self.failure = f"{type(error).__name__}: {error}"

    def tick(self) -> None:
        """One look at the store: leadership, new label events, the snapshot, images and classes."""
        hooks = self._hooks
        assert hooks is not None, "start() first"
        self._keep_leadership(hooks)
        with self.engine.connect() as conn:
            events = self.window.fresh(label_events_after(conn, self.window.floor))
            version = snapshot_version(conn)
            images = image_count(conn)
            names = class_order(conn)
        hooks.classes(names)
        if events:
            hooks.learn(events)
        if self._images is not None and images != self._images:
            hooks.images_changed()
        self._images = images
        if not self.leading and version is not None and version != self._version:
            self._adopt(hooks, version)

    def _keep_leadership(self, hooks: TeamHooks) -> None:
        if self.leadership.held and not self.leadership.still_held():
            hooks.leading(False)
        if not self.leadership.held and self.leadership.try_take():
            hooks.leading(True)

    def _adopt(self, hooks: TeamHooks, version: tuple[int, float]) -> None:
        with self.engine.connect() as conn:
            stored = load_snapshot(conn)
        if stored is not None:
            hooks.adopt(stored)
        self._version = version  # one that does not fit this loop (other images) waits for the next rebuild
