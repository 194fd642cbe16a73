"""Leases: an image handed to one annotator is not handed to another until it is labelled or the lease expires.
They live in the project's store (store/leases.py), so that every process of the app sees the same ones."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable

from sqlalchemy.engine import Engine

from tetsuban.store import leases as stored

LEASE_SECONDS = 300.0
_CHUNK = 64  # candidates offered to the store at a time: a queue's order can run to every unlabelled image


class Leases:
    """Image id -> (holder, expiry) in the store; expired leases are free. Times are seconds since the epoch."""

    def __init__(self, engine: Engine, seconds: float = LEASE_SECONDS) -> None:
        self.engine = engine
        self.seconds = seconds

    def claim(self, holder: str, candidates: Iterable[int], count: int, now: float | None = None) -> list[int]:
        """Up to ``count`` of ``candidates`` (in order) that no one else holds, leased (again) to ``holder``."""
        now = time.time() if now is None else now
        taken: list[int] = []
        pending = iter(candidates)
        while len(taken) < count:
            chunk = list(itertools.islice(pending, max(_CHUNK, 4 * (count - len(taken)))))
            if not chunk:
                break
            taken += stored.claim(self.engine, holder, chunk, count - len(taken), now, self.seconds)
        return taken

    def release(self, image_id: int) -> None:
        stored.release(self.engine, image_id)

    def holder(self, image_id: int, now: float | None = None) -> str | None:
        return stored.holder(self.engine, image_id, time.time() if now is None else now)
