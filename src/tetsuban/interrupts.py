"""Ctrl-C held back while a database transaction is written: Python raises KeyboardInterrupt between any two
bytecodes, and one raised inside the database library's own clean-up (a connection's rollback on return to its
pool) can leave a transaction open on SQLite, holding the write lock, so that recording the run as interrupted
then waits for a lock its own process holds and fails. Inside :func:`interrupts_deferred` a Ctrl-C is noted and
raised when the block has ended, its transaction committed or rolled back. The console holds it the same way while
a progress display starts or stops (Rich's display half started cannot be taken down)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT back for the block and raise KeyboardInterrupt once it ends, if one came.

    Only the main thread receives signals, and only where Python's own handler is installed is there a
    KeyboardInterrupt to defer: elsewhere (a worker thread, a server that handles SIGINT itself) the block runs as is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    received: list[int] = []

    def note(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    signal.signal(signal.SIGINT, note)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if received:
        raise KeyboardInterrupt
