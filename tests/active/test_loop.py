"""The labelling loop: retrains every N labels, publishes head, probabilities and queue together, and never serves
a queue from before the latest retrain."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from tetsuban.active.data import ActiveData, label_issues, next_images, val_accuracy
from tetsuban.active.label_issues import DEFAULT_FOLDS, find_label_issues
from tetsuban.active.loop import LabelLoop, WarmProbe
from tetsuban.active.registry import strategy_named
from tetsuban.errors import ConfigError
from tetsuban.learn.spreading import neighbour_weights, relative_degrees

Data = tuple[np.ndarray, np.ndarray]


def _loop(data: Data, **options: object) -> tuple[LabelLoop, np.ndarray]:
    x, _ = data
    eligible = np.ones(len(x), bool)
    eligible[::5] = False  # every fifth image is test
    return LabelLoop(x, eligible, strategy_named("margin"), **options), eligible  # type: ignore[arg-type]


@pytest.mark.parametrize("classes", [2, 4])
def test_the_warm_probe_is_balanced_logistic_regression_on_features_standardized_over_every_image(
    classes: int,
) -> None:
    """Its head gives scikit-learn's probabilities (class-balanced, C as given, features standardized with the mean
    and spread of every image, labelled or not), on features of very different scales, classes of unequal sizes,
    two classes (one logit in scikit-learn) or more, and again after a warm start on more labels."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(classes)
    y = rng.choice(classes, size=600, p=np.arange(1, classes + 1) / np.arange(1, classes + 1).sum())
    x = (rng.normal(size=(classes, 12))[y] + rng.normal(size=(600, 12))) * rng.uniform(0.1, 30, 12) + 40.0
    names = [f"class {k}" for k in y]
    mean, scale = x.astype(np.float32).mean(axis=0), x.astype(np.float32).std(axis=0) + 1e-6
    probe = WarmProbe(x, c=0.3)
    # The first fit starts cold, as the reference does: the same up to float32. The second starts from the first
    # and stops, as both do, once a step changes the loss by less than tol 1e-3: a little way from the cold one.
    for labelled, allowed in ((150, 1e-3), (400, 0.03)):
        head = probe.fit(x[:labelled], names[:labelled])
        reference = LogisticRegression(C=0.3, class_weight="balanced", max_iter=5000, tol=1e-3)
        reference.fit((x[:labelled] - mean) / scale, names[:labelled])
        assert head.classes == tuple(reference.classes_)
        expected = reference.predict_proba((x - mean) / scale)
        assert np.abs(head.probabilities(x) - expected).max() < allowed, labelled


def test_the_warm_probe_needs_two_classes() -> None:
    x = np.random.default_rng(0).normal(size=(20, 4))
    with pytest.raises(ConfigError, match="at least two classes"):
        WarmProbe(x).fit(x[:5], ["a"] * 5)


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


def _blobs(count: int = 60) -> tuple[np.ndarray, list[str]]:
    """Two clusters far apart, the first half 'a', the second 'b'."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(count // 2, 4)) - 5, rng.normal(size=(count // 2, 4)) + 5])
    return x, ["a"] * (count // 2) + ["b"] * (count // 2)


@pytest.mark.parametrize("setting", ["retrain_every", "queue_size"])
def test_the_loop_refuses_settings_out_of_bounds_by_name(setting: str) -> None:
    x, _ = _blobs()
    eligible = np.ones(len(x), bool)
    for bad in (0, 100_001):
        with pytest.raises(ConfigError, match=rf"'{setting}' .* \[1, 100000\]\. Got {bad}"):
            LabelLoop(x, eligible, strategy_named("random"), **{setting: bad})  # type: ignore[arg-type]
    for good in (1, 100_000):
        LabelLoop(x, eligible, strategy_named("random"), **{setting: good})  # type: ignore[arg-type]


def test_a_loop_starts_from_its_labels_retrains_on_the_nth_and_publishes_each_snapshot() -> None:
    """Given labels, the first head knows their classes; a retrain comes with the retrain_every-th label, not
    before; the strategy is asked with the embeddings, labels, probabilities, queue size, eligible images and the
    head's graph density; each snapshot is published in order; the same seed queues the same images."""
    x, names = _blobs()
    given: list[str | None] = [None] * len(x)
    given[0], given[-1] = names[0], names[-1]
    published: list[int] = []
    eligible = np.ones(len(x), bool)
    eligible[::7] = False
    asked: list[tuple[object, ...]] = []

    def strategy(*args: object) -> np.ndarray:
        asked.append(args)
        return strategy_named("random")(*args)  # type: ignore[arg-type]

    def loop_with(seed: int) -> LabelLoop:
        return LabelLoop(
            x,
            eligible,
            strategy,
            4,
            10,
            seed,
            labels=given,
            on_publish=lambda s: published.append(s.generation),
        )

    loop = loop_with(seed=3)
    first = loop.snapshot
    assert first.head is not None and first.head.classes == ("a", "b") and first.labelled == 2
    assert loop.labels == given
    for index, row in enumerate([1, 2, 3, 58]):
        assert loop.snapshot.generation == 1, index  # three labels: no retrain yet
        loop.label(row, names[row])
    assert loop.snapshot.generation == 2 and loop.snapshot.labelled == 6
    assert published == [1, 2]
    embeddings, labelled, probabilities, batch, _, allowed, density = asked[-1]  # what the strategy was asked with
    assert np.array_equal(embeddings, x.astype(np.float32)) and batch == 10  # type: ignore[arg-type]
    assert np.allclose(density, relative_degrees(neighbour_weights(x.astype(np.float32))))  # type: ignore[arg-type]
    assert np.array_equal(labelled, [label is not None for label in loop.labels])  # type: ignore[arg-type]
    assert np.array_equal(probabilities, loop.snapshot.probabilities)  # type: ignore[arg-type]
    assert np.array_equal(allowed, eligible)  # type: ignore[arg-type]
    assert loop_with(seed=3).snapshot.queue == first.queue
    assert loop_with(seed=4).snapshot.queue != first.queue


def test_a_background_loop_retrains_again_for_labels_given_during_a_retrain() -> None:
    """While a background retrain runs (held inside its strategy by the test), labels keep coming; when it ends,
    another starts, so the loop catches up with every label."""
    x, names = _blobs()
    entered, release = threading.Event(), threading.Event()
    calls = []

    def held_strategy(*args: object) -> np.ndarray:
        calls.append(len(calls))
        if len(calls) == 2:  # the first background retrain (the first call is the loop's own, at start)
            entered.set()
            release.wait(timeout=30)
        return strategy_named("random")(*args)  # type: ignore[arg-type]

    loop = LabelLoop(x, np.ones(len(x), bool), held_strategy, retrain_every=5, background=True)
    for row in (0, 1, 30, 31, 2):
        loop.label(row, names[row])
    assert entered.wait(timeout=30)
    for row in (3, 32, 33, 4, 34):
        loop.label(row, names[row])
    release.set()
    loop.wait()
    assert loop.snapshot.labelled == 10 and loop.snapshot.generation == 3
    assert loop.failure is None


def test_the_loop_fits_with_the_c_it_is_given() -> None:
    x, names = _blobs()
    given: list[str | None] = [names[i] if i % 6 == 0 else None for i in range(len(x))]
    rows = [i for i, name in enumerate(given) if name is not None]
    for c in (1e-4, 10.0):
        loop = LabelLoop(x, np.ones(len(x), bool), strategy_named("random"), c=c, labels=given)
        expected = WarmProbe(x, c).fit(x[rows], [names[i] for i in rows])
        assert loop.snapshot.head is not None
        assert np.allclose(loop.snapshot.head.weight, expected.weight, atol=1e-6), c


def test_a_projects_queue_and_label_issues_repeat_for_its_seed(fashion_pixels: Data) -> None:
    """What `tetsuban queue` and `tetsuban label-issues` answer depends on the project's data and seed alone:
    asked twice, the same images in the same order."""
    x, y = fashion_pixels
    n = 600
    labels = tuple(str(c) if i < 240 else None for i, c in enumerate(y[:n]))
    splits = tuple("val" if i % 5 == 0 else "train" for i in range(n))
    first = tuple(float(i) if i < 240 else None for i in range(n))
    data = ActiveData(np.arange(1000, 1000 + n), x[:n], labels, splits, first)
    queued = next_images(data, "hybrid", 20, seed=5)
    assert queued == next_images(data, "hybrid", 20, seed=5) and len(set(queued)) == 20
    assert all(splits[i - 1000] == "train" and labels[i - 1000] is None for i in queued)
    train = np.array([s == "train" for s in splits])
    known = [label if t else None for label, t in zip(labels, train, strict=True)]
    loop = LabelLoop(x[:n], train, strategy_named("hybrid"), 20, 20, 5, labels=known)  # the same loop, made here
    assert queued == [1000 + int(i) for i in loop.next_images(20)]
    found = label_issues(data, seed=2)
    assert found.issues and found == label_issues(data, seed=2)
    direct = find_label_issues(x[:240], [str(c) for c in y[:240]], DEFAULT_FOLDS, 2)
    assert found.issues == [(1000 + issue.index, issue) for issue in direct.issues] and found.wrong == direct.wrong


def test_the_val_accuracy_is_the_share_of_labelled_val_images_whose_top_class_is_their_label() -> None:
    """The app's accuracy panel: only labelled images with a probability row count, and a class the head never saw is
    a miss."""
    classes = ("cat", "dog")
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7], [0.5, 0.5]])
    rows = {10: 0, 11: 1, 12: 2, 13: 3, 14: 4}  # image id -> row
    right_wrong = {10: "cat", 11: "dog", 12: "dog", 99: "cat"}  # 99 has no row; 13 is not labelled
    assert val_accuracy(classes, probabilities, rows, right_wrong) == pytest.approx(2 / 3)
    assert val_accuracy(classes, probabilities, rows, {11: "dog", 14: "bird"}) == pytest.approx(1 / 2)
    assert val_accuracy(classes, probabilities, rows, {}) is None
    assert val_accuracy(classes, probabilities, rows, {99: "cat"}) is None


BLOCKED_RETRAIN = """
import threading
import numpy as np
from tetsuban.active.loop import LabelLoop
from tetsuban.active.registry import strategy_named

published = []
def publish(snapshot):
    published.append(snapshot)
    if len(published) > 1:
        threading.Event().wait()  # the background retrain never finishes
x = np.random.default_rng(0).normal(size=(60, 8)).astype(np.float32)
loop = LabelLoop(x, np.ones(60, bool), strategy_named("random"), retrain_every=2, background=True, on_publish=publish)
loop.label(0, "a")
loop.label(1, "b")
print("quitting", flush=True)
"""


def test_a_retrain_in_the_background_never_keeps_the_process_from_quitting() -> None:
    """The app quits (Ctrl-C, the end of a script) while a retrain is still running: the retrain's thread must not
    hold the process open. The time limit only guards against a hang; a quit takes about a second."""
    same_code = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}  # the tetsuban this test imported
    done = subprocess.run(
        [sys.executable, "-c", BLOCKED_RETRAIN], capture_output=True, text=True, timeout=60, check=False, env=same_code
    )
    assert done.returncode == 0 and done.stdout == "quitting\n", done.stderr
