"""Ctrl-C during a database write is held back until the write has ended, then raised."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from tetsuban.interrupts import interrupts_deferred


@pytest.fixture(autouse=True)
def python_raises_keyboard_interrupt() -> Iterator[None]:
    """Python's own SIGINT handler, as in a command run from a terminal (pytest-xdist's workers ignore SIGINT)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _ctrl_c() -> None:
    """Send this process SIGINT and give Python the moment it needs to run the handler."""
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.05)


def test_ctrl_c_inside_the_block_is_raised_once_the_block_has_ended() -> None:
    finished = []
    with pytest.raises(KeyboardInterrupt), interrupts_deferred():
        _ctrl_c()
        finished.append("the rest of the block ran")
    assert finished == ["the rest of the block ran"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_block_without_ctrl_c_ends_quietly_and_puts_pythons_handler_back() -> None:
    with interrupts_deferred():
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_error_in_the_block_goes_up_and_the_handler_is_put_back() -> None:
    with pytest.raises(ValueError, match="inside"), interrupts_deferred():
        raise ValueError("inside")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_handler_of_someone_elses_and_other_threads_are_left_alone() -> None:
    seen: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: seen.append(signum))
    try:
        with interrupts_deferred():
            _ctrl_c()
        assert seen == [signal.SIGINT]
    finally:
        signal.signal(signal.SIGINT, previous)
    handlers: list[object] = []

    def in_a_thread() -> None:
        with interrupts_deferred():
            handlers.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join()
    assert handlers == [signal.default_int_handler]
