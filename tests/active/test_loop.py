"""The labelling loop: retrains every N labels, publishes head, probabilities and queue together, and never serves
a queue from before the latest retrain."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from tetsuban.active.loop import LabelLoop
from tetsuban.active.registry import strategy_named
from tetsuban.errors import ConfigError

Data = tuple[np.ndarray, np.ndarray]


def _loop(data: Data, **options: object) -> tuple[LabelLoop, np.ndarray]:
    x, _ = data
    eligible = np.ones(len(x), bool)
    eligible[::5] = False  # every fifth image is test
    return LabelLoop(x, eligible, strategy_named("margin"), **options), eligible  # type: ignore[arg-type]


def test_the_loop_retrains_every_n_labels_and_queues_only_eligible_unlabelled(fashion_pixels: Data) -> None:
    x, y = fashion_pixels
    loop, eligible = _loop(fashion_pixels, retrain_every=10, queue_size=15)
    assert loop.snapshot.generation == 1 and loop.snapshot.head is None  # no labels: a random queue
    labelled = 0
    for _round in range(6):
        picks = loop.next_images(10)
        assert len(picks) == 10 and all(eligible[i] and loop.labels[i] is None for i in picks)
        for index in picks:
            loop.label(index, str(y[index]))
            labelled += 1
        assert loop.snapshot.generation == 1 + labelled // 10
    snapshot = loop.snapshot
    assert snapshot.head is not None and snapshot.probabilities is not None
    assert snapshot.probabilities.shape == (len(x), len(snapshot.head.classes))
    assert not any(loop.labels[i] is not None for i in snapshot.queue)


def test_labels_between_retrains_are_skipped_in_the_queue(fashion_pixels: Data) -> None:
    _, y = fashion_pixels
    loop, _ = _loop(fashion_pixels, retrain_every=50, queue_size=20)
    first = loop.next_images(5)
    for index in first:
        loop.label(index, str(y[index]))
    assert loop.snapshot.generation == 1  # not due yet
    assert not set(first) & set(loop.next_images(20))


def test_a_queue_from_before_a_finished_background_retrain_is_never_served(fashion_pixels: Data) -> None:
    _, y = fashion_pixels
    loop, _ = _loop(fashion_pixels, retrain_every=20, queue_size=40, background=True)
    served: list[tuple[int, int]] = []  # (latest generation before asking, generation served)
    stop = threading.Event()

    def reader() -> None:  # asks for images all the time, as the app's page loads would
        while not stop.is_set():
            published = loop.snapshot.generation
            generation, _ = loop.serve(5)
            served.append((published, generation))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _round in range(4):
            for index in loop.next_images(20):
                loop.label(index, str(y[index]))
            loop.wait()
    finally:
        stop.set()
        thread.join()
    assert loop.snapshot.generation == 5
    assert len({generation for _, generation in served}) >= 3  # the reader saw retrains finish
    assert all(generation >= published for published, generation in served)
    generations = [generation for _, generation in served]
    assert generations == sorted(generations)  # never back to an older queue


def test_bad_parameters_are_refused_with_what_was_given(fashion_pixels: Data) -> None:
    x, _ = fashion_pixels
    with pytest.raises(ConfigError, match="retrain_every"):
        LabelLoop(x, np.ones(len(x), bool), strategy_named("random"), retrain_every=0)
    with pytest.raises(ConfigError, match="one entry per image"):
        LabelLoop(x, np.ones(5, bool), strategy_named("random"))
    loop = LabelLoop(x, np.ones(len(x), bool), strategy_named("random"))
    with pytest.raises(ConfigError, match=r"\[0, 2999\]"):
        loop.label(3000, "Bag")


def test_a_failed_background_retrain_is_kept_for_the_app_to_show(fashion_pixels: Data) -> None:
    x, y = fashion_pixels
    calls = []

    def fragile(*args: object) -> np.ndarray:
        calls.append(1)
        if len(calls) == 2:
            raise MemoryError("no room for the probabilities")
        return strategy_named("random")(*args)  # type: ignore[arg-type]

    loop = LabelLoop(x, np.ones(len(x), bool), fragile, retrain_every=5, queue_size=10, background=True)
    for index in range(5):
        loop.label(index, str(y[index]))
    loop.wait()
    assert loop.failure == "MemoryError: no room for the probabilities" and loop.snapshot.generation == 1
    for index in range(5, 10):
        loop.label(index, str(y[index]))
    loop.wait()
    assert loop.failure is None and loop.snapshot.generation == 2
