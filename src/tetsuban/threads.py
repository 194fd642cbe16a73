"""Background threads that yield to the ones answering people."""

from __future__ import annotations

import contextlib
import os
import threading


def lower_priority(niceness: int = 10) -> None:
    """Lower the CPU priority of the calling thread (Linux schedules threads one by one); elsewhere, nothing."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
