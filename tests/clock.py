"""A steady clock a test moves by hand, so that no assertion waits on real time."""

from __future__ import annotations


class ManualClock:
    """Call it for the time; set ``now`` to move it. ``sleep`` records what it was asked to wait and returns at
    once (time moves only when the test moves it)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
