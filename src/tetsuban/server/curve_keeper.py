"""The app's learning curve: the very curve ``tetsuban curve`` draws, recomputed off the request threads.

Drawing it refits a head per point and a power law per bootstrap (seconds of CPU at a few hundred labels), so no
request waits for it: the panel asks for the curve of the labels as they are (a key that changes when they change),
gets the latest one drawn, and a new one is drawn in the background. Between two drawings the keeper rests at least
twice as long as the last one took, so that it never takes more than a third of a core from the annotators.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from tetsuban.active.curve import CurveNotYet, LearningCurve

_REST = 2.0  # rest between drawings, as a multiple of the last drawing's time


@dataclass(frozen=True)
class CurveNow:
    """The latest curve drawn (None before one could be), why there is none (too few labels of a kind, or a
    failure's message), and whether one for newer labels is being drawn or due."""

    curve: LearningCurve | None
    missing: CurveNotYet | None
    failure: str | None
    pending: bool


class CurveKeeper:
    """Draws the curve with ``draw`` when asked for newer labels than the latest drawing's, one drawing at a time."""

    def __init__(self, draw: Callable[[], LearningCurve], clock: Callable[[], float] = time.monotonic) -> None:
        self._draw = draw
        self._clock = clock
        self._lock = threading.Lock()
        self._drawn_for: Hashable = object()  # the key of the latest drawing: no key equals it at first
        self._result: LearningCurve | CurveNotYet | None = None
        self._failure: str | None = None
        self._drawing: threading.Thread | None = None
        self._rest_until = -math.inf

    def latest(self, key: Hashable) -> CurveNow:
        """The latest drawing; starts one for ``key`` (the labels as they are) when it is newer, none is under way
        and the rest is over."""
        with self._lock:
            due = key != self._drawn_for
            if due and self._drawing is None and self._clock() >= self._rest_until:
                self._drawing = threading.Thread(target=self._draw_for, args=(key,), daemon=True)
                self._drawing.start()
            result, failure, pending = self._result, self._failure, due
        curve = result if isinstance(result, LearningCurve) else None
        missing = result if isinstance(result, CurveNotYet) else None
        return CurveNow(curve, missing, failure, pending)

    def wait(self) -> None:
        """Until the drawing under way (if any) is done."""
        drawing = self._drawing
        if drawing is not None:
            drawing.join()

    def _draw_for(self, key: Hashable) -> None:
        started = self._clock()
        failure: str | None = None
        result: LearningCurve | CurveNotYet | None
        try:
            result = self._draw()
        except CurveNotYet as short:
            result = short
        except Exception as error:  # a failed drawing keeps the latest curve and says why on the panel
            result, failure = self._result, f"{type(error).__name__}: {error}"
        took = self._clock() - started
        with self._lock:
            self._result, self._failure, self._drawn_for = result, failure, key
            self._rest_until = self._clock() + _REST * took
            self._drawing = None
