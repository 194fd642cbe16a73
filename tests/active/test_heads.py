"""The loop's heads: what the loop publishes, queues by and the simulator scores is the head's probabilities, the
probe's alone or mixed with label spreading over every image of the loop (real fashion-mnist pixels as features)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import pooled_7x7
from tetsuban.active.heads import AGREEMENT_POWER, PROBE_WEIGHT
from tetsuban.active.loop import LabelLoop
from tetsuban.active.registry import strategy_named
from tetsuban.active.simulate import accuracy_of, simulate
from tetsuban.active.strategies import Strategy, uncertainty_scores
from tetsuban.errors import ConfigError
from tetsuban.learn.spreading import (
    geometric_mix,
    neighbour_weights,
    relative_degrees,
    spread_labels,
    with_agreeing_edges,
    with_class_mass,
)
from tetsuban.reports.simulation_report import baseline_run

Data = tuple[np.ndarray, np.ndarray]


def _features(fashion_pixels: Data, count: int) -> Data:
    return pooled_7x7(fashion_pixels[0][:count]), fashion_pixels[1][:count]


def _labelled_loop(x: np.ndarray, y: np.ndarray, head: str) -> LabelLoop:
    """A margin loop whose every fifth image is test, with the first 60 eligible images labelled."""
    eligible = np.ones(len(x), bool)
    eligible[::5] = False
    loop = LabelLoop(x, eligible, strategy_named("margin"), retrain_every=60, queue_size=30, head=head)
    for index in np.flatnonzero(eligible)[:60]:
        loop.label(int(index), str(y[index]))
    return loop


def _spreading_mix(x: np.ndarray, probe: np.ndarray, rows: np.ndarray, labels: list[str], classes: tuple) -> np.ndarray:
    graph = with_agreeing_edges(neighbour_weights(x), probe, AGREEMENT_POWER)
    spread = spread_labels(graph, rows, np.array([classes.index(n) for n in labels]), len(classes))
    return geometric_mix(probe, with_class_mass(spread, probe.mean(axis=0)), PROBE_WEIGHT)


def test_the_spreading_head_publishes_and_queues_by_the_probe_mixed_with_spreading(fashion_pixels: Data) -> None:
    """The head's probabilities are the probe's mixed with spreading's, over the graph with its edges weighed by
    the probe's same-class chance, each class's mass in spreading's set to the probe's predicted share; the margin
    queue picks by them."""
    x, y = _features(fashion_pixels, 800)
    loop = _labelled_loop(x, y, "spreading")
    snapshot = loop.snapshot
    assert snapshot.head is not None and snapshot.probabilities is not None and snapshot.labelled == 60
    rows = np.flatnonzero(loop.labelled_mask())
    probe = snapshot.head.probabilities(x)
    expected = _spreading_mix(x, probe, rows, [str(y[i]) for i in rows], snapshot.head.classes)

    assert np.abs(snapshot.probabilities - expected).max() < 1e-5
    assert np.abs(snapshot.probabilities - probe).max() > 0.1  # the mix is not the probe
    margins = uncertainty_scores(expected, "margin")
    allowed = loop.eligible & ~loop.labelled_mask()
    closest = np.flatnonzero(allowed)[np.argsort(-margins[allowed])][:30]
    assert set(snapshot.queue) == {int(i) for i in closest}


def test_the_probe_head_publishes_the_probes_probabilities(fashion_pixels: Data) -> None:
    x, y = _features(fashion_pixels, 400)
    snapshot = _labelled_loop(x, y, "probe").snapshot
    assert snapshot.head is not None and snapshot.probabilities is not None
    assert np.array_equal(snapshot.probabilities, snapshot.head.probabilities(x))


def test_a_head_the_loop_does_not_have_is_refused_with_the_names(fashion_pixels: Data) -> None:
    x, _ = _features(fashion_pixels, 50)
    with pytest.raises(ConfigError, match="probe, spreading"):
        LabelLoop(x, np.ones(50, bool), strategy_named("random"), head="clever")


def test_the_simulator_scores_the_heads_predictions_with_the_test_images_in_the_graph(fashion_pixels: Data) -> None:
    """One step as large as the pool labels all of it at once; the score is the mix of the probe and spreading
    over every image (test images unlabelled in the graph), computed here, on the test images."""
    x, y = _features(fashion_pixels, 600)
    test = np.zeros(600, bool)
    test[::4] = True
    pool = int((~test).sum())

    curve = simulate(x, list(y), test, "random", pool, pool, seed=0, head="spreading")

    rows = np.flatnonzero(~test)
    loop = LabelLoop(
        x,
        ~test,
        strategy_named("random"),
        head="probe",
        labels=[None if t else v for v, t in zip(y, test, strict=True)],
    )
    assert loop.snapshot.head is not None
    classes = loop.snapshot.head.classes
    mixed = _spreading_mix(x, loop.snapshot.head.probabilities(x), rows, [str(y[i]) for i in rows], classes)
    expected = float(np.mean(np.asarray(classes)[mixed[test].argmax(axis=1)] == y[test]))
    assert curve.head == "spreading" and curve.run == "random + spreading" and curve.labels == (pool,)
    assert curve.accuracy[0] == pytest.approx(expected, abs=1e-9)
    plain = simulate(x, list(y), test, "random", pool, pool, seed=0, head="probe")
    assert plain.accuracy[0] != curve.accuracy[0]


def test_the_simulators_baseline_is_random_picks_with_the_probe_where_it_ran() -> None:
    assert baseline_run(["hybrid + spreading", "random + spreading", "random + probe"]) == "random + probe"
    assert baseline_run(["hybrid + spreading", "random + spreading"]) == "random + spreading"
    assert baseline_run(["hybrid + spreading", "margin + probe"]) is None


def test_the_simulator_labels_the_first_step_of_each_larger_queue_as_the_app_does(fashion_pixels: Data) -> None:
    """``queue`` picks at each retrain, of which the first ``step`` are labelled before the next (the app queues
    four retrains' worth): the curve is that of a loop run so by hand, and not that of a queue of ``step``."""
    x, y = _features(fashion_pixels, 500)
    test = np.zeros(500, bool)
    test[::5] = True
    curve = simulate(x, list(y), test, "hybrid", 60, 20, seed=3, head="probe", queue=80)

    loop = LabelLoop(x, ~test, strategy_named("hybrid"), retrain_every=20, queue_size=80, seed=3, head="probe")
    by_hand = []
    for _ in range(3):
        assert len(loop.snapshot.queue) == 80
        for index in loop.next_images(20):
            loop.label(index, str(y[index]))
        by_hand.append(accuracy_of(loop.snapshot, np.flatnonzero(test), y[test].astype(str), None))
    assert curve.labels == (20, 40, 60)
    assert curve.accuracy == pytest.approx(tuple(by_hand), abs=1e-12)
    assert simulate(x, list(y), test, "hybrid", 60, 20, seed=3, head="probe").accuracy != curve.accuracy
    with pytest.raises(ConfigError, match="'queue'"):
        simulate(x, list(y), test, "hybrid", 60, 20, seed=3, head="probe", queue=10)


def _recording(seen: list[np.ndarray | None]) -> Strategy:
    """The margin strategy, noting the density each retrain hands it."""

    def picks(
        embeddings: np.ndarray,
        labelled: np.ndarray,
        probabilities: np.ndarray | None,
        batch: int,
        rng: np.random.Generator,
        eligible: np.ndarray | None = None,
        density: np.ndarray | None = None,
    ) -> np.ndarray:
        seen.append(density)
        return strategy_named("margin")(embeddings, labelled, probabilities, batch, rng, eligible)

    return picks


@pytest.mark.parametrize("head", ["spreading", "probe"])
def test_each_retrain_hands_the_strategy_the_heads_graph_density_once_it_has_a_head(
    head: str, fashion_pixels: Data
) -> None:
    """Before two classes are labelled there is no head and no density; after, the spreading head's relative
    degrees over its graph of every image (the probe: none, it has no graph)."""
    x, y = _features(fashion_pixels, 600)
    seen: list[np.ndarray | None] = []
    eligible = np.ones(len(x), bool)
    loop = LabelLoop(x, eligible, _recording(seen), retrain_every=20, queue_size=10, head=head)
    for index in range(40):
        loop.label(index, str(y[index]))
    assert seen[0] is None  # the loop's first queue, before any label
    last = seen[-1]
    if head == "probe":
        assert all(d is None for d in seen)
        return
    expected = relative_degrees(neighbour_weights(x))
    assert last is not None and np.allclose(last, expected)
    assert float(np.median(last)) == pytest.approx(1.0) and last.min() < 0.5 < 2.0 < last.max()
