"""What the running loop leaves in the store: a row per retrain (labels, validation accuracy) and, now and then,
the latest probabilities and queue, so that suggestions outlive the process.

The snapshot (every image's probabilities: 4 MB at 100,000 images and 10 classes) takes tens of milliseconds to
write, and SQLite lets one writer at a time: written after every retrain it would hold up the labels coming in.
So a writer thread stores it once the loop has been quiet for ``quiet_seconds`` (no retrain published), or when
the stored one is ``snapshot_seconds`` old, and :meth:`LoopRecorder.flush` when the app stops. A restarted loop
retrains from the stored labels anyway, so a killed server loses no label, only a stale cache.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
from sqlalchemy.engine import Engine

from tetsuban.active.data import val_accuracy
from tetsuban.active.loop import Snapshot
from tetsuban.store.labels import current_labels
from tetsuban.store.loop_state import Retrain, StoredSnapshot, add_retrain, save_snapshot

SNAPSHOT_SECONDS = 600.0
QUIET_SECONDS = 5.0


class LoopRecorder:
    """The loop's ``on_publish``: records each retrain, and the snapshot when one is due."""

    def __init__(
        self,
        engine: Engine,
        backbone: str,
        image_ids: np.ndarray,
        val_rows: dict[int, int],
        snapshot_seconds: float = SNAPSHOT_SECONDS,
        quiet_seconds: float = QUIET_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        writer: bool = True,
    ) -> None:
        self._engine = engine
        self._clock = clock  # seconds on a steady clock; a test passes its own
        self._start_writer = writer  # False: nothing but save_if_due's caller writes (a test with its own clock)
        self._backbone = backbone
        self._image_ids = image_ids
        self._val_rows = val_rows  # val image id -> row
        self._snapshot_seconds = snapshot_seconds
        self._quiet_seconds = quiet_seconds
        self._saved_at = -np.inf
        self._published_at = -np.inf
        self._unsaved: Snapshot | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None
        self.active = True  # False: another process's loop records (several app processes on one database)

    def __call__(self, snapshot: Snapshot) -> None:
        if not self.active or snapshot.probabilities is None:
            return
        retrain = self._retrain(snapshot)
        with self._lock, self._engine.begin() as conn:
            add_retrain(conn, retrain)
            self._unsaved, self._published_at = snapshot, self._clock()
        if self._snapshot_seconds <= 0:
            self.save_if_due()
        elif self._writer is None and self._start_writer:
            self._writer = threading.Thread(target=self._write_when_due, daemon=True)
            self._writer.start()

    def flush(self, snapshot: Snapshot) -> None:
        """Write ``snapshot`` now and stop the writer thread (the app is stopping)."""
        self._stop.set()
        if not self.active or snapshot.probabilities is None:
            return
        with self._lock, self._engine.begin() as conn:
            save_snapshot(conn, self._stored(snapshot))
            self._unsaved, self._saved_at = None, self._clock()

    def _write_when_due(self) -> None:
        while not self._stop.wait(min(1.0, self._quiet_seconds)):
            self.save_if_due()

    def save_if_due(self) -> None:
        """Write the latest unsaved snapshot if the loop has been quiet long enough or the stored one is old
        (the writer thread calls this every second)."""
        now = self._clock()
        with self._lock:
            snapshot = self._unsaved
            quiet = now - self._published_at >= self._quiet_seconds
            stale = now - self._saved_at >= self._snapshot_seconds
            if snapshot is None or not (quiet or stale):
                return
            with self._engine.begin() as conn:
                save_snapshot(conn, self._stored(snapshot))
            self._unsaved, self._saved_at = None, now

    def _retrain(self, snapshot: Snapshot) -> Retrain:
        assert snapshot.probabilities is not None
        with self._engine.connect() as conn:  # val labels given since the loop started count too
            events = current_labels(conn, list(self._val_rows))
        labels = {i: e.label for i, e in events.items() if e.label is not None}
        accuracy = val_accuracy(snapshot.classes, snapshot.probabilities, self._val_rows, labels)
        return Retrain(snapshot.generation, time.time(), snapshot.labelled, len(labels), accuracy)

    def _stored(self, snapshot: Snapshot) -> StoredSnapshot:
        assert snapshot.probabilities is not None
        return StoredSnapshot(
            snapshot.generation,
            time.time(),
            self._backbone,
            snapshot.classes,
            snapshot.labelled,
            self._image_ids,
            snapshot.probabilities,
            tuple(int(self._image_ids[i]) for i in snapshot.queue),
        )
