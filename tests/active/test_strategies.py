"""Query strategies: the contract every one keeps, and what each is for, on real fashion-mnist pixels."""

from __future__ import annotations

import numpy as np
import pytest

from tetsuban.active.hybrid import DENSITY_POWER, candidate_scores, clustered_uncertain, hybrid
from tetsuban.active.registry import STRATEGIES, strategy_named
from tetsuban.active.strategies import (
    farthest_first,
    k_center_greedy,
    kmeans_assign,
    most_uncertain,
    typiclust,
    uncertainty_scores,
)
from tetsuban.errors import ConfigError
from tetsuban.learn.head import fit_linear_head

Data = tuple[np.ndarray, np.ndarray]


def _state(data: Data, labelled_count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(features, labelled mask, probabilities of a head fitted on the labelled, eligible mask without 'test')."""
    x, y = data
    rng = np.random.default_rng(seed)
    labelled = np.zeros(len(x), bool)
    labelled[rng.choice(len(x), labelled_count, replace=False)] = True
    head = fit_linear_head(x[labelled], list(y[labelled]))
    eligible = np.ones(len(x), bool)
    eligible[rng.choice(len(x), 600, replace=False)] = False  # the test split
    return x, labelled, head.probabilities(x), eligible


@pytest.mark.parametrize("name", sorted(STRATEGIES))
@pytest.mark.parametrize("with_probabilities", [True, False])
def test_every_strategy_picks_distinct_eligible_unlabelled_images(
    name: str, with_probabilities: bool, fashion_pixels: Data
) -> None:
    x, labelled, probabilities, eligible = _state(fashion_pixels, 100)
    strategy = strategy_named(name)
    picks = strategy(x, labelled, probabilities if with_probabilities else None, 30, np.random.default_rng(1), eligible)
    assert len(picks) == 30 and len(set(picks.tolist())) == 30
    assert eligible[picks].all() and not labelled[picks].any()
    again = strategy(x, labelled, probabilities if with_probabilities else None, 30, np.random.default_rng(1), eligible)
    assert np.array_equal(picks, again)  # the same generator state gives the same picks


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_a_strategy_returns_what_is_left_when_fewer_are_eligible(name: str, fashion_pixels: Data) -> None:
    x, labelled, probabilities, _ = _state(fashion_pixels, 100)
    eligible = np.zeros(len(x), bool)
    eligible[np.flatnonzero(~labelled)[:7]] = True
    picks = strategy_named(name)(x, labelled, probabilities, 30, np.random.default_rng(0), eligible)
    assert sorted(picks.tolist()) == np.flatnonzero(eligible).tolist()


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_a_small_project_asked_for_more_than_it_has_gets_every_image_left(name: str, fashion_pixels: Data) -> None:
    """The loop asks for a queue of 40 whatever the project's size: 20 images, 5 of them labelled, still work."""
    x, y = fashion_pixels[0][:20], fashion_pixels[1][:20]
    labelled = np.zeros(20, bool)
    labelled[:5] = True
    probabilities = fit_linear_head(x[labelled], list(y[labelled])).probabilities(x) if len(set(y[:5])) > 1 else None
    picks = strategy_named(name)(x, labelled, probabilities, 40, np.random.default_rng(0), None)
    assert sorted(picks.tolist()) == list(range(5, 20))


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_a_strategy_asked_for_none_gives_an_empty_index(name: str, fashion_pixels: Data) -> None:
    x, labelled, probabilities, eligible = _state(fashion_pixels, 100)
    picks = strategy_named(name)(x, labelled, probabilities, 0, np.random.default_rng(0), eligible)
    assert picks.dtype == np.int64 and len(x[picks]) == 0  # usable as an index, as every answer is
    none = farthest_first(x[:10], x[10:12], 0, np.random.default_rng(0))
    assert none.dtype == np.int64 and len(none) == 0


def _blobs(sizes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Well separated groups of the given sizes in 8-D, and each point's group."""
    rng = np.random.default_rng(0)
    centres = np.eye(8, dtype=np.float32)[: len(sizes)] * 100.0
    groups = np.repeat(np.arange(len(sizes)), sizes)
    return (centres[groups] + rng.normal(size=(len(groups), 8))).astype(np.float32), groups


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_typiclust_takes_the_largest_uncovered_clusters_first(seed: int) -> None:
    x, groups = _blobs((40, 25, 10, 5))
    labelled = np.zeros(len(x), bool)
    labelled[np.flatnonzero(groups == 3)[:2]] = True  # the smallest group is covered by two labels
    two = typiclust(x, labelled, None, 2, np.random.default_rng(seed))
    assert sorted(groups[two].tolist()) == [0, 1]  # 40 and 25, not 10


def test_uncertainty_scores_order_images_as_each_measure_says() -> None:
    p = np.array([[0.98, 0.01, 0.01], [0.5, 0.45, 0.05], [0.4, 0.3, 0.3], [0.34, 0.33, 0.33]])
    assert np.argsort(-uncertainty_scores(p, "margin")).tolist() == [3, 1, 2, 0]
    assert np.argsort(-uncertainty_scores(p, "least_confidence")).tolist() == [3, 2, 1, 0]
    assert np.argsort(-uncertainty_scores(p, "entropy")).tolist() == [3, 2, 1, 0]
    with pytest.raises(ConfigError, match="least_confidence, margin or entropy"):
        uncertainty_scores(p, "variance")


def test_uncertainty_scores_are_the_measures_themselves() -> None:
    """The values, not only their order, on rows of many classes in any order: 1 - the top probability, the
    negated gap between the top two, and the entropy in nats (a class at probability 0 adds nothing)."""
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(60), size=50)  # many classes: a short row would be sorted whole
    p[0] = 0.0
    p[0, [1, 3, 4]] = [0.5, 0.25, 0.25]
    top = np.sort(p, axis=1)[:, ::-1]
    assert np.allclose(uncertainty_scores(p, "least_confidence"), 1 - top[:, 0])
    assert np.allclose(uncertainty_scores(p, "margin"), top[:, 1] - top[:, 0])
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = -np.nansum(p * np.log(p), axis=1)
    assert np.allclose(uncertainty_scores(p, "entropy"), expected)
    assert np.isclose(uncertainty_scores(p[:1], "entropy")[0], 1.5 * np.log(2))


def test_margin_picks_the_images_the_head_is_least_sure_of(fashion_pixels: Data) -> None:
    x, labelled, probabilities, eligible = _state(fashion_pixels, 200)
    picks = strategy_named("margin")(x, labelled, probabilities, 50, np.random.default_rng(0), eligible)
    scores = uncertainty_scores(probabilities, "margin")
    allowed = eligible & ~labelled
    assert scores[picks].min() >= np.sort(scores[allowed])[-50] - 1e-12
    # and they are where the head errs: far more wrong than the eligible images at large
    _x_all, y = fashion_pixels
    predicted = np.asarray(sorted(set(y)))[probabilities.argmax(axis=1)]
    assert np.mean(predicted[picks] != y[picks]) > 2 * np.mean(predicted[allowed] != y[allowed])


def test_farthest_first_covers_every_cluster_before_repeating_one() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(6, 5)) * 20
    points = np.concatenate([c + rng.normal(size=(50, 5)) for c in centres])
    picks = farthest_first(points, np.empty((0, 5)), 6, rng)
    assert sorted((picks // 50).tolist()) == list(range(6))
    known = points[[0]]  # cluster 0 already labelled: the picks cover the other five first
    picks = farthest_first(points, known, 5, rng)
    assert sorted((picks // 50).tolist()) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("count", [1, 5, 30, 40])
def test_most_uncertain_takes_the_highest_scores_highest_first(count: int) -> None:
    """Among the allowed images, the ``count`` highest scores, in falling order, whether some or all are asked for."""
    for seed in range(20):
        rng = np.random.default_rng(seed)
        scores, allowed = rng.random(50), rng.random(50) < 0.6
        picks = most_uncertain(scores, allowed, count, rng)
        expected = np.flatnonzero(allowed)[np.argsort(-scores[allowed])][:count]
        assert picks.tolist() == expected.tolist(), seed


def test_most_uncertain_breaks_ties_at_random() -> None:
    """Equal scores (a fresh head's) favour no index: over seeds, each of ten tied images comes first sometimes."""
    firsts = {int(most_uncertain(np.ones(10), np.ones(10, bool), 3, np.random.default_rng(s))[0]) for s in range(60)}
    assert firsts == set(range(10))


def _greedy_farthest(candidates: np.ndarray, centres: np.ndarray, count: int, first: int | None) -> list[int]:
    """The farthest-first rule by brute force in float64: each pick the candidate farthest from the centres and the
    picks so far; ``first`` is the pick to start from when there are no centres."""
    points = np.asarray(candidates, np.float64)
    chosen = [] if first is None else [first]
    while len(chosen) < min(count, len(points)):
        others = np.concatenate([np.asarray(centres, np.float64), points[chosen]])
        nearest = ((points[:, None, :] - others[None, :, :]) ** 2).sum(-1).min(1)
        chosen.append(int(nearest.argmax()))
    return chosen


@pytest.mark.parametrize("count", [1, 4, 25])
def test_farthest_first_follows_the_greedy_rule(count: int) -> None:
    """With centres, every pick is the farthest from them and the earlier picks (no random start); without, the
    first is the rng's and the rest follow the rule; asking for more than there are gives them all."""
    rng = np.random.default_rng(count)
    candidates = rng.normal(size=(20, 3))
    centres = rng.normal(size=(5, 3)) * 2
    assert farthest_first(candidates, centres, count, rng).tolist() == _greedy_farthest(
        candidates, centres, count, None
    )
    first = int(np.random.default_rng(7).integers(len(candidates)))
    picks = farthest_first(candidates, np.empty((0, 3)), count, np.random.default_rng(7))
    assert picks.tolist() == _greedy_farthest(candidates, np.empty((0, 3)), count, first)
    assert farthest_first(candidates, centres, 0, rng).tolist() == []


def test_farthest_first_reads_every_centre_of_a_long_list() -> None:
    """Centres are read in chunks of 2,048: the one that covers candidate 7 sits at row 2,048, the first of the
    second chunk; every other row covers some other candidate. So nothing is left uncovered and the first pick
    is candidate 0 (all tie at distance 0; whole coordinates keep float32's sums exact); skip that row and candidate
    7 would stand out."""
    candidates = np.unique(np.random.default_rng(0).integers(-9, 10, size=(40, 3)), axis=0)[:20].astype(float)
    others = [k for k in range(20) if k != 7]
    centres = candidates[[others[row % len(others)] for row in range(2_100)]]
    centres[2_048] = candidates[7]
    assert farthest_first(candidates, centres, 1, np.random.default_rng(0)).tolist() == [0]


def test_k_center_picks_the_eligible_unlabelled_images_farthest_from_the_labelled() -> None:
    rng = np.random.default_rng(5)
    embeddings = rng.normal(size=(80, 3))
    labelled, eligible = rng.random(80) < 0.3, rng.random(80) < 0.8
    pool = np.flatnonzero(eligible & ~labelled)
    expected = pool[_greedy_farthest(embeddings[pool], embeddings[labelled], 6, None)]
    assert k_center_greedy(embeddings, labelled, None, 6, rng, eligible).tolist() == expected.tolist()


@pytest.mark.parametrize("seed", range(4))
def test_the_hybrid_takes_the_image_nearest_the_centre_of_each_cluster_of_the_uncertain(seed: int) -> None:
    """Four clusters far apart, four allowed images in each, of which the three most uncertain are candidates (3 x
    4 picks): one pick per cluster, the candidate nearest its cluster's mean, in whatever order they come; with one
    to pick, the three most uncertain of all are the candidates and the pick is the one nearest their mean."""
    rng = np.random.default_rng(seed)
    embeddings = np.concatenate([centre + rng.normal(size=(30, 4)) for centre in np.eye(4) * 100])
    allowed = np.zeros(120, bool)
    allowed[[k * 30 + j for k in range(4) for j in (3, 11, 20, 27)]] = True
    scores = rng.random(120)
    for k in range(4):
        scores[k * 30 + 27] = -1.0  # the least uncertain of its cluster: not a candidate

    def nearest_mean(members: list[int]) -> int:
        centre = embeddings[members].mean(axis=0)
        return members[int(np.argmin(((embeddings[members] - centre) ** 2).sum(axis=1)))]

    expected = {nearest_mean([k * 30 + j for j in (3, 11, 20)]) for k in range(4)}
    picks = clustered_uncertain(embeddings, scores, allowed, 4, rng)
    assert sorted(picks.tolist()) == sorted(expected)
    top3 = [int(i) for i in np.flatnonzero(allowed)[np.argsort(-scores[allowed])][:3]]
    assert clustered_uncertain(embeddings, scores, allowed, 1, rng).tolist() == [nearest_mean(top3)]


def test_candidates_are_scored_by_one_minus_the_margin_times_the_density_to_its_power() -> None:
    probabilities = np.array([[0.5, 0.5, 0.0], [0.7, 0.2, 0.1], [0.4, 0.35, 0.25], [0.9, 0.05, 0.05]])
    margins = uncertainty_scores(probabilities, "margin")
    assert candidate_scores(probabilities, None).tolist() == margins.tolist()  # no graph: the margin as it is
    density = np.array([0.01, 1.0, 3.0, 1.0])
    expected = [1.0 * 0.01**DENSITY_POWER, 0.5, 0.95 * 3.0**DENSITY_POWER, 0.15]
    assert candidate_scores(probabilities, density).tolist() == pytest.approx(expected)
    assert 0.0 < DENSITY_POWER < 0.5  # a nudge: the margin still leads (0.1 since 2026-12-04)


def test_the_hybrid_passes_over_uncertain_images_that_no_other_image_lies_near(fashion_pixels: Data) -> None:
    """With the 30 most uncertain images given no density (nothing near them for a label to spread to), none of
    them is picked; without a density the 10 picks come from exactly those 30 (3 candidates per pick)."""
    x, labelled, probabilities, eligible = _state(fashion_pixels, 40)
    allowed = eligible & ~labelled
    margins = uncertainty_scores(probabilities, "margin")
    isolated = np.flatnonzero(allowed)[np.argsort(-margins[allowed], kind="stable")][:30]
    density = np.ones(len(x))
    density[isolated] = 0.0
    rng = np.random.default_rng(0)
    assert set(hybrid(x, labelled, probabilities, 10, rng, eligible).tolist()) <= set(isolated.tolist())
    picks = hybrid(x, labelled, probabilities, 10, rng, eligible, density)
    assert len(picks) == 10 and not set(picks.tolist()) & set(isolated.tolist())


def test_typiclust_takes_one_typical_image_per_uncovered_cluster(fashion_pixels: Data) -> None:
    x, _y = fashion_pixels
    labelled = np.zeros(len(x), bool)
    picks = typiclust(x, labelled, None, 20, np.random.default_rng(0))
    clusters = kmeans_assign(x, 20, np.random.default_rng(0))  # the same generator state: the same clustering
    assert len(set(clusters[picks].tolist())) == 20
    for pick in picks:  # each is the densest image of its cluster: nearest on average to its 20 neighbours
        members = np.flatnonzero(clusters == clusters[pick])
        d = np.linalg.norm(x[members][:, None, :] - x[members][None, :, :], axis=2)
        spread = np.sort(d, axis=1)[:, 1 : min(21, len(members))].mean(axis=1)
        assert spread[members.tolist().index(pick)] == pytest.approx(spread.min(), rel=1e-4)


def test_typiclust_asked_for_one_image_gives_the_most_typical_of_all() -> None:
    """With nothing labelled and one image to pick, one cluster holds every image, and its densest is picked."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 3)) * np.linspace(0.2, 3, 40)[:, None]  # spread grows with the index
    picks = typiclust(x, np.zeros(40, bool), None, 1, rng)
    d = np.linalg.norm(x[:, None, :] - x[None, :, :], axis=2)
    spread = np.sort(d, axis=1)[:, 1:21].mean(axis=1)
    assert picks.tolist() == [int(spread.argmin())]


def _gaussians(rng: np.random.Generator, groups: tuple[tuple[float, int], ...], dim: int) -> np.ndarray:
    """Unit-variance groups of points around (centre, ..., centre), one (centre, size) each, in order."""
    return np.concatenate([rng.normal(centre, 1.0, size=(size, dim)) for centre, size in groups])


def _densest(x: np.ndarray, members: np.ndarray) -> int:
    """The member of ``members`` nearest on average to its 20 nearest neighbours among them (TypiClust's typical)."""
    d = np.linalg.norm(x[members][:, None, :] - x[members][None, :, :], axis=2)
    return int(members[np.sort(d, axis=1)[:, 1 : min(21, len(members))].mean(axis=1).argmin()])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_typiclust_fills_in_the_images_farthest_from_its_typical_picks(seed: int) -> None:
    """Three far-apart groups, the largest with no image allowed (and so visited first): the typical images of the
    other two, and the third image filled in by k-center is the allowed one farthest from those two."""
    rng = np.random.default_rng(seed)
    x = _gaussians(rng, ((0.0, 15), (40.0, 15), (80.0, 20)), 2)
    allowed = np.arange(50) < 30  # the third group is out of bounds (the holdout, say)
    picks = typiclust(x, np.zeros(50, bool), None, 3, rng, allowed)
    assert len(picks) == 3
    typical, filled = picks[:2].tolist(), int(picks[2])
    assert sorted(typical) == [_densest(x, np.arange(0, 15)), _densest(x, np.arange(15, 30))]
    rest = np.setdiff1d(np.flatnonzero(allowed), typical)
    nearest = np.linalg.norm(x[rest][:, None, :] - x[typical][None, :, :], axis=2).min(1)
    assert filled == int(rest[nearest.argmax()])


def test_typiclust_with_fewer_images_allowed_than_asked_picks_each_once() -> None:
    """Two allowed images in far-apart clusters and four asked for: both typical picks, and nothing to fill in."""
    rng = np.random.default_rng(0)
    x = _gaussians(rng, ((0.0, 15), (40.0, 15), (80.0, 15)), 2)
    allowed = np.zeros(45, bool)
    allowed[[3, 40]] = True
    picks = typiclust(x, np.zeros(45, bool), None, 4, rng, allowed)
    assert sorted(picks.tolist()) == [3, 40]


def test_typiclust_fills_in_from_a_sample_of_a_pool_larger_than_k_centers() -> None:
    """One large allowed group and two small ones out of bounds: one typical pick, and two filled in by k-center
    greedy from a random sample of the other 5,999 allowed images."""
    rng = np.random.default_rng(0)
    x = _gaussians(rng, ((0.0, 6_000), (60.0, 20), (120.0, 20)), 4)
    allowed = np.arange(len(x)) < 6_000
    picks = typiclust(x.astype(np.float32), np.zeros(len(x), bool), None, 3, rng, allowed)
    assert len(set(picks.tolist())) == 3 and bool(allowed[picks].all())
    far = np.linalg.norm(x[picks[1:]] - x[picks[0]], axis=1)
    assert bool((far > np.median(np.linalg.norm(x[:6_000] - x[picks[0]], axis=1))).all())


def test_an_unknown_strategy_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="hybrid, hybrid_random10, random"):
        strategy_named("smart")


def test_the_hybrid_starts_with_typiclust_then_spreads_its_picks_over_the_uncertain(fashion_pixels: Data) -> None:
    x, labelled, probabilities, eligible = _state(fashion_pixels, 200)
    nothing = np.zeros(len(x), bool)
    cold = strategy_named("hybrid")(x, nothing, None, 10, np.random.default_rng(2), eligible)
    assert np.array_equal(cold, typiclust(x, nothing, None, 10, np.random.default_rng(2), eligible))
    picks = strategy_named("hybrid")(x, labelled, probabilities, 20, np.random.default_rng(0), eligible)
    scores = uncertainty_scores(probabilities, "margin")
    pool = np.sort(scores[eligible & ~labelled])[-60]  # the 3 x 20 most uncertain
    assert (scores[picks] >= pool - 1e-12).all()
    plain = strategy_named("margin")(x, labelled, probabilities, 20, np.random.default_rng(0), eligible)
    spread = np.mean(np.linalg.norm(x[picks][:, None] - x[picks][None], axis=2))
    assert spread > np.mean(np.linalg.norm(x[plain][:, None] - x[plain][None], axis=2))  # farther apart than margin's
    mixed = strategy_named("hybrid_random10")(x, labelled, probabilities, 20, np.random.default_rng(0), eligible)
    assert (scores[mixed] < pool - 1e-12).sum() >= 1  # its two random picks are rarely among the uncertain


def test_k_means_on_more_images_than_its_sample_still_finds_every_group() -> None:
    """Past 20,000 images k-means is fitted on a random sample of them (drawn from all, the last ones too), then
    assigns every image: three far-apart groups, the last one wholly beyond the first 20,000, are three clusters."""
    rng = np.random.default_rng(4)
    sizes = (10_000, 10_000, 5_000)
    x = np.concatenate([rng.normal(50.0 * k, 1.0, size=(n, 2)) for k, n in enumerate(sizes)])
    assignment = kmeans_assign(x, 3, rng)
    groups = np.repeat(np.arange(3), sizes)
    assert {(int(g), int(a)) for g, a in zip(groups, assignment, strict=True)} == {
        (g, int(assignment[groups == g][0])) for g in range(3)
    }
    assert len(set(assignment.tolist())) == 3
