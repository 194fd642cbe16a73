"""Property slices and suspect test labels on a hand-made evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tetsuban.evaluate.analysis import UNSET, slices, suspect_labels
from tetsuban.evaluate.run import Evaluation, ScoredImage


def _evaluation(labels: list[str], probabilities: list[list[float]]) -> Evaluation:
    items = tuple(ScoredImage(i, Path(f"/images/{i}.png"), label) for i, label in enumerate(labels))
    return Evaluation("m", ("cat", "dog"), items, np.asarray(probabilities, np.float32), (), "h")


def test_slices_group_the_test_images_by_value_and_leave_out_a_property_that_splits_nothing() -> None:
    evaluation = _evaluation(
        ["cat", "cat", "dog", "dog", "cat"], [[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4], [0.8, 0.2]]
    )  # right, wrong, right, wrong, right
    found = slices(evaluation, {"dark": {0: True, 1: True, 2: False, 3: False}, "same": dict.fromkeys(range(5), "a")})
    assert [(s.prop, s.value, s.images) for s in found] == [("dark", UNSET, 1), ("dark", "no", 2), ("dark", "yes", 2)]
    assert [s.accuracy for s in found] == pytest.approx([1.0, 0.5, 0.5])


def test_a_label_the_model_confidently_contradicts_is_suspect() -> None:
    labels = ["cat"] * 6 + ["dog"] * 6
    probabilities = [[0.9, 0.1]] * 5 + [[0.02, 0.98]] + [[0.1, 0.9]] * 6  # image 5: labelled cat, clearly a dog
    (suspect,) = suspect_labels(_evaluation(labels, probabilities))
    assert (suspect.image_id, suspect.given, suspect.suggested) == (5, "cat", "dog")
    assert suspect.given_probability == pytest.approx(0.02)
    unknown = _evaluation(["wolf", "cat"], [[0.5, 0.5], [0.9, 0.1]])
    assert suspect_labels(unknown) == []  # a class the model never learnt is not its to judge


def test_the_principal_plane_keeps_the_directions_of_largest_spread() -> None:
    from tetsuban.reports.evaluation_report import principal_plane

    rng = np.random.default_rng(0)
    wide = rng.normal(0, [10.0, 3.0, 0.1, 0.1], size=(500, 4))  # most spread along the first two axes
    plane = principal_plane(wide @ np.linalg.qr(rng.normal(size=(4, 4)))[0])  # rotated: the spread is not on axes
    assert plane.shape == (500, 2)
    assert np.std(plane[:, 0]) == pytest.approx(10.0, rel=0.1) and np.std(plane[:, 1]) == pytest.approx(3.0, rel=0.1)


def test_the_nearest_training_images_are_found_by_cosine() -> None:
    from tetsuban.evaluate.analysis import nearest_training

    vectors = {
        1: np.array([1.0, 0.0]),
        2: np.array([10.0, 1.5]),  # long and turned toward the query: the closest by angle, whatever its length
        3: np.array([0.0, 1.0]),
        4: np.array([-1.0, 0.0]),
        9: np.array([2.0, 0.2]),  # the query
    }
    found = nearest_training([9, 99], vectors, {1: "a", 2: "b", 3: "c", 4: "d", 5: "no vector"}, k=2)
    assert list(found) == [9]  # an image without a vector is not asked about
    assert [(n.image_id, n.label) for n in found[9]] == [(2, "b"), (1, "a")]
    cosine = float(vectors[9] @ vectors[2] / np.linalg.norm(vectors[9]) / np.linalg.norm(vectors[2]))
    assert found[9][0].similarity == pytest.approx(cosine) and found[9][0].similarity > found[9][1].similarity


def test_the_maps_thumbnails_show_the_misses_then_cover_the_map() -> None:
    from tetsuban.reports.evaluation_report import spread_rows

    rng = np.random.default_rng(0)
    corners = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    points = np.concatenate([corners[k] + rng.normal(scale=0.3, size=(25, 2)) for k in range(4)])
    rows = spread_rows(points, [7, 3, 7], 12)
    assert rows[:2] == [7, 3] and len(rows) == len(set(rows)) == 12  # misses first, at most a third, no repeats
    assert {int(r) // 25 for r in rows[2:6]} == {1, 2, 3}  # the next picks reach the three other clusters
    assert spread_rows(points, list(range(10)), 6) == [0, 1, *spread_rows(points, [0, 1], 6)[2:]]
    assert len(spread_rows(np.zeros((5, 2)), [], 4)) == 1  # identical points: one is enough
