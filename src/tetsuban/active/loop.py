"""The labelling loop: labels come in, the head retrains every few labels, and a fresh queue says what to label next.

One loop holds one project's embeddings (N, D) in memory. ``label`` records a label; after ``retrain_every`` new
labels a retrain starts (in a background thread when ``background``), warm-started from the last head. A retrain
fits the head, computes every image's probabilities and asks the strategy for the next queue, then publishes all
three at once under a new generation number: a queue is served only while its generation is the latest, so a queue
computed before a finished retrain is never served after it. ``on_publish`` hears each published snapshot.

Several app processes on one database each hold a loop over the same images; one of them retrains (``leading``) and
the others ``adopt`` what it published, and learn of labels with ``note`` (a label given here or elsewhere) and
``count`` (changes toward the next retrain, counted once, as the store lists them).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tetsuban.active.heads import DEFAULT_HEAD, LoopHead
from tetsuban.active.strategies import Strategy
from tetsuban.errors import ConfigError
from tetsuban.learn.head import DEFAULT_C, LinearHead
from tetsuban.params import check_int

_EPS = 1e-6
# The app's queue holds the strategy's picks for this many retrains' worth of labels, so that several annotators
# labelling at once still get picks (not the random filler behind them) until the next retrain replaces the queue.
QUEUE_RETRAINS = 4
MAX_QUEUE = 2_000


def app_queue(retrain_every: int) -> int:
    """The picks the app queues per retrain when it retrains every ``retrain_every`` labels."""
    return min(QUEUE_RETRAINS * retrain_every, MAX_QUEUE)


@dataclass(frozen=True)
class Snapshot:
    """What one retrain published: its generation, the probe (None before two classes, and in a snapshot adopted
    from another process), every image's probabilities (N, K) in the order of ``classes`` as the loop's head gives
    them (the probe's, or mixed with label spreading's), the queue it computed, and how many labels it learnt
    from."""

    generation: int
    head: LinearHead | None
    probabilities: np.ndarray | None
    queue: tuple[int, ...]
    labelled: int = 0
    classes: tuple[str, ...] = ()


class WarmProbe:
    """The linear probe refitted again and again on a growing labelled set, each fit starting from the last.

    Features are standardized with the statistics of every image (labelled or not), so that the scale does not
    move as labels arrive and a warm start stays close to the new optimum.
    """

    def __init__(self, embeddings: np.ndarray, c: float = DEFAULT_C) -> None:
        x = np.asarray(embeddings, np.float32)
        self._mean = x.mean(axis=0)
        self._scale = x.std(axis=0) + _EPS
        self._c = c
        self._model: Any = None  # sklearn's LogisticRegression, imported when first fitted
        self._classes: tuple[str, ...] = ()

    def fit(self, x: np.ndarray, labels: Sequence[str]) -> LinearHead:
        """Fit on embeddings ``x`` (M, D) with ``labels`` (at least two classes) and return the head."""
        from sklearn.linear_model import LogisticRegression

        classes = tuple(sorted(set(labels)))
        if len(classes) < 2:
            raise ConfigError(f"The probe needs at least two classes. Got {len(classes)}.")
        if classes != self._classes or self._model is None:  # a new class: the old solution does not fit
            self._model = LogisticRegression(
                C=self._c, class_weight="balanced", max_iter=5000, tol=1e-3, warm_start=True
            )
            self._classes = classes
        index = {name: i for i, name in enumerate(classes)}
        model = self._model
        model.fit((np.asarray(x, np.float32) - self._mean) / self._scale, [index[n] for n in labels])
        coef = np.asarray(model.coef_, np.float64)
        intercept = np.asarray(model.intercept_, np.float64)
        if len(classes) == 2:  # one logit for the second class; softmax([0, z]) is the same sigmoid
            coef = np.vstack([np.zeros_like(coef), coef])
            intercept = np.concatenate([[0.0], intercept])
        weight = coef / self._scale
        bias = intercept - weight @ self._mean
        return LinearHead(classes, weight.astype(np.float32), bias.astype(np.float32))


class LabelLoop:
    """See the module docstring. ``eligible`` marks the images that may be queued (not the test split); ``head``
    names what gives the probabilities (:mod:`tetsuban.active.heads`)."""

    def __init__(
        self,
        embeddings: np.ndarray,
        eligible: np.ndarray,
        strategy: Strategy,
        retrain_every: int = 20,
        queue_size: int = 40,
        seed: int = 0,
        c: float = DEFAULT_C,
        background: bool = False,
        labels: Sequence[str | None] | None = None,
        on_publish: Callable[[Snapshot], None] | None = None,
        first_generation: int = 0,
        head: str | LoopHead = DEFAULT_HEAD,
    ) -> None:
        """``first_generation``: the generation before this loop's first retrain (a restarted loop goes on
        numbering from the last one recorded); ``head``: a head's name, or a head over these same embeddings
        that other loops share (the simulator's runs build spreading's graph once)."""
        check_int("retrain_every", retrain_every, 1, 100_000)
        check_int("queue_size", queue_size, 1, 100_000)
        self.embeddings = np.asarray(embeddings, np.float32)
        self.eligible = np.asarray(eligible, bool)
        if self.eligible.shape != (len(self.embeddings),):
            raise ConfigError(
                f"The eligible mask must have one entry per image ({len(self.embeddings)}). Got {self.eligible.shape}."
            )
        self.labels: list[str | None] = [None] * len(self.embeddings) if labels is None else list(labels)
        if len(self.labels) != len(self.embeddings):
            raise ConfigError(
                f"The labels must have one entry per image ({len(self.embeddings)}). Got {len(self.labels)}."
            )
        self._labelled = np.array([label is not None for label in self.labels], bool)
        self._strategy = strategy
        self._retrain_every = retrain_every
        self._queue_size = queue_size
        self._rng = np.random.default_rng(seed)
        self._probe = WarmProbe(self.embeddings, c)
        self._head = head if isinstance(head, LoopHead) else LoopHead(head, self.embeddings)
        self._background = background
        self._lock = threading.Lock()
        self._training: threading.Thread | None = None
        self._since_retrain = 0
        self._on_publish = on_publish
        self.failure: str | None = None  # why the last background retrain failed; None after one succeeds
        self.leading = True  # False: another process retrains; labels only count toward a retrain of this one's
        self._snapshot = Snapshot(first_generation, None, None, ())
        self.retrain()

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def labelled_mask(self) -> np.ndarray:
        """Which images have a label now (a copy)."""
        with self._lock:
            return self._labelled.copy()

    def is_labelled(self, index: int) -> bool:
        return bool(self._labelled[index])

    @property
    def labels_until_retrain(self) -> int:
        """Label changes still to come before the next retrain starts."""
        return max(0, self._retrain_every - self._since_retrain)

    def label(self, index: int, label: str | None) -> None:
        """Record ``label`` for image ``index`` (None takes it back); every ``retrain_every`` changes, retrain."""
        self.note(index, label)  # checks the index
        self.count(1)

    def note(self, index: int, label: str | None) -> None:
        """Image ``index`` has ``label`` now (None: none), without counting toward the next retrain."""
        if not 0 <= index < len(self.labels):
            raise ConfigError(f"The image index must be in [0, {len(self.labels) - 1}]. Got {index}.")
        with self._lock:
            self.labels[index] = label
            self._labelled[index] = label is not None

    def count(self, changes: int) -> None:
        """``changes`` more label changes toward the next retrain (negative: undone ones); start it when due and
        this loop is the one that retrains."""
        with self._lock:
            self._since_retrain = max(0, self._since_retrain + changes)
            due = self.leading and self._since_retrain >= self._retrain_every
        if due:
            self._start_retrain()

    def adopt(self, snapshot: Snapshot) -> None:
        """Serve ``snapshot``, published by the loop of another process over the same images; its labels no
        longer count toward a retrain."""
        with self._lock:
            self._snapshot = snapshot
            self._since_retrain = 0

    def take_back(self, index: int, label: str | None) -> None:
        """An undo: image ``index`` has ``label`` again (None: no label). The label undone stops counting toward
        the next retrain, and the undo itself does not count: label and undo leave the count as it was."""
        self.note(index, label)
        self.count(-1)

    def next_images(self, count: int) -> list[int]:
        """Up to ``count`` images to label next, from the latest queue, skipping those labelled since it was made."""
        return self.serve(count)[1]

    def serve(self, count: int) -> tuple[int, list[int]]:
        """(generation, images): :meth:`next_images`, saying which retrain's queue they came from."""
        snapshot, images = self.serve_snapshot(count)
        return snapshot.generation, images

    def serve_snapshot(self, count: int) -> tuple[Snapshot, list[int]]:
        """(snapshot, images): the snapshot whose queue the images came from, read once, so that its
        probabilities and the images belong together."""
        snapshot = self._snapshot
        labelled = self._labelled
        return snapshot, [i for i in snapshot.queue if not labelled[i]][:count]

    def retrain(self) -> Snapshot:
        """Fit the head on the labels so far, compute probabilities and a new queue, and publish them."""
        with self._lock:
            self._since_retrain = 0
            labels = list(self.labels)
        labelled = np.array([label is not None for label in labels], bool)
        known = [label for label in labels if label is not None]
        head = None
        probabilities = None
        density = None
        if len(set(known)) >= 2:
            head = self._probe.fit(self.embeddings[labelled], known)
            probe = head.probabilities(self.embeddings)
            probabilities = self._head.probabilities(probe, np.flatnonzero(labelled), known, head.classes)
            density = self._head.density()
        queue = self._strategy(
            self.embeddings, labelled, probabilities, self._queue_size, self._rng, self.eligible, density
        )
        with self._lock:
            queued = tuple(int(i) for i in queue)
            classes = () if head is None else head.classes
            snapshot = Snapshot(self._snapshot.generation + 1, head, probabilities, queued, len(known), classes)
            self._snapshot = snapshot
        if self._on_publish is not None:
            self._on_publish(snapshot)  # e.g. into the store, so that suggestions survive a restart
        return snapshot

    def wait(self) -> None:
        """Block until a background retrain in progress has published."""
        training = self._training
        if training is not None:
            training.join()

    def _start_retrain(self) -> None:
        if not self._background:
            self.retrain()
            return
        with self._lock:
            if self._training is not None:
                return  # the running retrain looks for more labels due before it ends
            thread = threading.Thread(target=self._retrain_until_current, daemon=True)
            thread.start()  # before it is published: wait() may join it at once; it cannot end before the lock is free
            self._training = thread

    def _retrain_until_current(self) -> None:
        _lower_priority()  # requests beside a background retrain are answered first
        while True:  # labels that came in during a retrain may make another due
            try:
                self.retrain()
            except Exception as error:  # a thread's exception would only be printed; keep it for the app to show
                self.failure = f"{type(error).__name__}: {error}"
                with self._lock:
                    self._training = None
                return
            self.failure = None
            with self._lock:  # what is due is decided under the lock _start_retrain takes: no label is missed
                if self._since_retrain < self._retrain_every:
                    self._training = None
                    return


def _lower_priority(niceness: int = 10) -> None:
    """Lower the CPU priority of the calling thread (Linux schedules threads one by one); elsewhere, nothing."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
