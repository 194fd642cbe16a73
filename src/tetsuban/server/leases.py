"""Leases: an image handed to one annotator is not handed to another until it is labelled or the lease expires."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

LEASE_SECONDS = 300.0


class Leases:
    """Image id -> (holder, expiry). Thread-safe; expired leases are free."""

    def __init__(self, seconds: float = LEASE_SECONDS) -> None:
        self.seconds = seconds
        self._held: dict[int, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def claim(self, holder: str, candidates: Iterable[int], count: int, now: float | None = None) -> list[int]:
        """Up to ``count`` of ``candidates`` (in order) that no one else holds, leased (again) to ``holder``."""
        now = time.monotonic() if now is None else now
        taken: list[int] = []
        with self._lock:
            for image_id in candidates:
                held = self._held.get(image_id)
                if held is not None and held[0] != holder and held[1] > now:
                    continue
                self._held[image_id] = (holder, now + self.seconds)
                taken.append(image_id)
                if len(taken) == count:
                    break
            if len(self._held) > 4096:  # forget expired leases now and then
                self._held = {i: h for i, h in self._held.items() if h[1] > now}
        return taken

    def release(self, image_id: int) -> None:
        with self._lock:
            self._held.pop(image_id, None)

    def holder(self, image_id: int, now: float | None = None) -> str | None:
        now = time.monotonic() if now is None else now
        with self._lock:
            held = self._held.get(image_id)
        return held[0] if held is not None and held[1] > now else None
