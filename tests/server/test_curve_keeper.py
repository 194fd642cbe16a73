"""The app's learning curve is drawn off the request threads, once for each state of the labels, with rests between
drawings, and says why when there is none."""

from __future__ import annotations

import threading

import numpy as np

from tetsuban.active.curve import CurveNotYet, LearningCurve, PowerLaw, learning_curve
from tetsuban.server.curve_keeper import CurveKeeper


class Clock:
    """A clock the test moves by hand (the keeper's rests are measured on it)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _curve(labels: int) -> LearningCurve:
    law = PowerLaw(0.9, 1.0, 0.5)
    counts = (10, 20, 40, labels)
    return LearningCurve(counts, tuple(float(law.accuracy(n)) for n in counts), 50, law, (law,), 1_000)


def test_the_curve_is_drawn_in_the_background_once_per_state_of_the_labels() -> None:
    threads: list[int] = []
    release = threading.Event()

    def draw() -> LearningCurve:
        release.wait(10)
        threads.append(threading.get_ident())
        return _curve(80 + len(threads))

    keeper = CurveKeeper(draw, Clock())  # a clock that stands: no rest between drawings
    first = keeper.latest("a")  # the request does not wait for the drawing
    assert (first.curve, first.pending) == (None, True)
    release.set()
    keeper.wait()
    now = keeper.latest("a")
    assert now.curve == _curve(81) and not now.pending and now.missing is None and now.failure is None
    assert keeper.latest("a").curve == _curve(81)
    assert len(threads) == 1 and threads[0] != threading.get_ident()  # one drawing for one state, not here
    assert keeper.latest("b").pending  # new labels: the latest curve until the new one is drawn
    keeper.wait()
    assert keeper.latest("b").curve == _curve(82) and len(threads) == 2


def test_the_keeper_rests_twice_as_long_as_the_last_drawing_took() -> None:
    clock = Clock()
    drawn: list[int] = []

    def draw() -> LearningCurve:
        clock.now += 3.0  # a drawing of three seconds
        drawn.append(len(drawn))
        return _curve(100)

    keeper = CurveKeeper(draw, clock)
    keeper.latest(1)
    keeper.wait()
    clock.now += 5.9  # rests until 3 + 6
    assert keeper.latest(2).pending
    keeper.wait()
    assert drawn == [0]
    clock.now += 0.1
    keeper.latest(2)
    keeper.wait()
    assert drawn == [0, 1] and not keeper.latest(2).pending


def test_too_few_labels_say_which_and_a_failed_drawing_keeps_the_latest_curve() -> None:
    x = np.random.default_rng(0).normal(size=(30, 4))
    outcomes: list[object] = []

    def draw() -> LearningCurve:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        assert isinstance(outcome, LearningCurve)
        return outcome

    def short() -> CurveNotYet:
        try:
            learning_curve(x[:20], ["a", "b"] * 10, x[20:29], ["a", "b", "a"] * 3)  # nine validation labels
        except CurveNotYet as error:
            return error
        raise AssertionError("a curve from nine validation labels")

    outcomes += [short(), _curve(90), MemoryError("no room")]
    keeper = CurveKeeper(draw, Clock())
    for key in range(3):
        keeper.latest(key)
        keeper.wait()
        now = keeper.latest(key)
        if key == 0:
            assert now.curve is None and now.missing is not None
            assert (now.missing.kind, now.missing.have, now.missing.need) == ("val", 9, 10)
        if key == 1:
            assert now.curve == _curve(90) and now.missing is None
    assert now.curve == _curve(90) and now.failure == "MemoryError: no room" and not now.pending
