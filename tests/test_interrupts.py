"""Ctrl-C during a database write, or while a progress display starts or stops, is held back until that has ended,
then raised."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from io import StringIO

import pytest
from rich.console import Console

from tetsuban import console
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


class _CtrlCOnFirstWrite(StringIO):
    """A terminal whose first write comes with a Ctrl-C: the first thing a progress display writes is the escape that
    hides the cursor, half-way through starting it."""

    def __init__(self) -> None:
        super().__init__()
        self.interrupted = False

    def write(self, text: str) -> int:
        if not self.interrupted:
            self.interrupted = True
            os.kill(os.getpid(), signal.SIGINT)
        return super().write(text)


def test_ctrl_c_while_the_progress_display_starts_is_raised_and_the_display_taken_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    terminal = _CtrlCOnFirstWrite()
    shown = Console(file=terminal, force_terminal=True, width=80)
    monkeypatch.setattr(console, "err", shown)
    reached = []
    with pytest.raises(KeyboardInterrupt), console.progress("Importing") as update:
        update(1, 10)
        reached.append("the work went on after Ctrl-C")
    assert reached == []  # the Ctrl-C was raised where the display was started, not lost
    assert not shown._render_hooks and shown._live_stack == []  # nothing of the display is left
    assert terminal.getvalue().endswith("\x1b[?25h")  # the cursor is shown again
