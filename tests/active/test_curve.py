"""The learning curve: a power law fitted to real accuracies, its band, and what it says about more labels."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, strategies as st

from tests.conftest import pooled_7x7
from tetsuban.active.curve import LearningCurve, PowerLaw, fit_power_law, label_counts, learning_curve
from tetsuban.active.data import ActiveData, curve_of
from tetsuban.errors import ConfigError
from tetsuban.learn.head import DEFAULT_C, fit_linear_head

Data = tuple[np.ndarray, np.ndarray]


@given(
    ceiling=st.floats(0.5, 1.0),
    scale=st.floats(0.1, 5.0),
    exponent=st.floats(0.1, 1.5),
    target_share=st.floats(0.05, 0.95),
)
def test_labels_for_inverts_the_curve(ceiling: float, scale: float, exponent: float, target_share: float) -> None:
    law = PowerLaw(ceiling, scale, exponent)
    low = float(law.accuracy(1.0))
    target = low + target_share * (ceiling - low)
    n = law.labels_for(target)
    assert n is not None and float(law.accuracy(n)) == pytest.approx(target, abs=1e-9)
    assert law.labels_for(ceiling + 0.01) is None  # above the ceiling: never


def test_a_clean_power_law_is_recovered() -> None:
    n = np.array(label_counts(2000, 10), np.float64)
    truth = PowerLaw(0.92, 1.3, 0.6)
    fitted = fit_power_law(n, truth.accuracy(n))
    assert fitted.ceiling == pytest.approx(0.92, abs=0.01)
    assert float(fitted.accuracy(4000)) == pytest.approx(float(truth.accuracy(4000)), abs=0.005)


def test_the_fit_has_the_least_squared_error_a_local_solver_finds_or_less() -> None:
    """On noisy points of known laws, the fit's squared error is never above that of scipy's curve_fit started
    inside the bounds (a general least-squares solver), and where both find the same optimum they agree."""
    from scipy.optimize import curve_fit

    rng = np.random.default_rng(5)
    n = np.array([50, 56, 80, 113, 160, 226, 320], np.float64)
    agree = 0
    for _ in range(40):
        truth = PowerLaw(rng.uniform(0.5, 1.0), rng.uniform(0.2, 5.0), rng.uniform(0.05, 1.5))
        y = truth.accuracy(n) + rng.normal(0.0, 0.01, len(n))
        fitted = fit_power_law(n, y)
        (a, b, c), _ = curve_fit(
            lambda x, a, b, c: a - b * np.power(x, -c), n, y, p0=(0.9, 1.0, 0.5), bounds=([0, 0, 0.05], [1, np.inf, 2])
        )
        solver = PowerLaw(a, b, c)
        ours, theirs = ((fitted.accuracy(n) - y) ** 2).sum(), ((solver.accuracy(n) - y) ** 2).sum()
        assert ours <= theirs * (1 + 1e-6) + 1e-15
        agree += abs(float(fitted.accuracy(800)) - float(solver.accuracy(800))) < 1e-4
    assert agree >= 36


def test_the_fitted_exponent_stops_at_two() -> None:
    """The documented bounds hold where the points ask for more: points of a law with exponent 2.8 (a curve that
    levels off fast past 50 labels) are fitted with the exponent at its bound, 2."""
    n = np.array([n for n in label_counts(400) if n >= 50], np.float64)
    fitted = fit_power_law(n, PowerLaw(0.9, 5000, 2.8).accuracy(n))
    assert fitted.exponent == pytest.approx(2.0, abs=1e-6) and fitted.ceiling <= 1.0


def test_the_curve_of_real_labels_predicts_the_accuracy_of_twice_the_labels(fashion_pixels: Data) -> None:
    x, y = fashion_pixels
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    train, val = order[:1600], order[1600:]
    early = learning_curve(x[train[:800]], list(y[train[:800]]), x[val], list(y[val]))
    assert early.labels[-1] == 800 and len(early.labels) >= 4
    assert all(0.0 <= a <= 1.0 for a in early.accuracy)
    low, expected, high = early.expected(1600)
    later = learning_curve(x[train], list(y[train]), x[val], list(y[val]))
    measured = later.accuracy[-1]
    assert low <= expected <= high
    assert abs(expected - measured) < 0.03  # the forecast for 1,600 labels, made at 800, is close to what came
    assert low <= measured <= high
    # What 1,600 labels gave is within the band's hopeful edge by 1,600 labels. (Not always the central fit: here
    # it levels off at 0.815, a little under the 0.816 measured, and says never.)
    optimistic, _fitted, _pessimistic = early.labels_for(measured)
    assert optimistic is not None and optimistic <= 1600


def test_a_curve_needs_ten_validation_labels_and_four_label_counts(fashion_pixels: Data) -> None:
    x, y = fashion_pixels
    curve = learning_curve(x[:28], list(y[:28]), x[100:110], list(y[100:110]))  # just enough of both
    assert curve.labels == (10, 14, 20, 28) and curve.validation_images == 10
    with pytest.raises(ConfigError, match=r"at least 10 labelled validation images\. Got 9"):
        learning_curve(x[:28], list(y[:28]), x[100:109], list(y[100:109]))
    with pytest.raises(ConfigError, match=r"at 4 or more label counts\. Got 3 from 20"):
        learning_curve(x[:20], list(y[:20]), x[100:110], list(y[100:110]))  # 10, 14 and 20 labels


def test_the_curve_is_measured_fitted_and_banded_as_documented(fashion_pixels: Data) -> None:
    """Each point is a head fitted on the first n labels in order and scored on val; the fit is the power law of
    the points from max(50, n / 16) labels on; the band and the estimates are percentiles 10 and 90 of the
    bootstrap fits, each fitted to the points of a resample of the validation images (with replacement) moved by a
    resample of the fit's residuals, drawn from the seed. All recomputed here from the parts."""
    x, y = fashion_pixels
    train_x, train_y, val_x, val_y = x[:400], list(y[:400]), x[2000:2300], list(y[2000:2300])
    curve = learning_curve(train_x, train_y, val_x, val_y, seed=3)
    counts = [n for n in label_counts(400) if len(set(train_y[:n])) >= 2]
    assert curve.labels == tuple(counts) and curve.current == 400 and curve.validation_images == 300
    hits = []
    for n, accuracy in zip(counts, curve.accuracy, strict=True):
        head = fit_linear_head(train_x[:n], train_y[:n], DEFAULT_C)
        predicted = np.asarray(head.classes)[head.probabilities(val_x).argmax(axis=1)]
        hits.append(predicted == np.asarray(val_y))
        assert accuracy == pytest.approx(float(np.mean(hits[-1])), abs=1e-12)
    fitted = [i for i, n in enumerate(counts) if n >= max(50, 400 // 16)]
    at = np.asarray(counts, np.float64)[fitted]
    assert curve.fit == fit_power_law(at, np.asarray(curve.accuracy)[fitted])
    right = np.asarray(hits, np.float64)[fitted]
    residuals = np.asarray(curve.accuracy)[fitted] - curve.fit.accuracy(at)
    rng = np.random.default_rng(3)
    for band_fit in curve.band_fits[:3]:
        rows, wobble = rng.integers(0, 300, 300), rng.choice(residuals, len(residuals))
        expected = fit_power_law(at, right[:, rows].mean(axis=1) + wobble)
        assert dataclasses.astuple(band_fit) == pytest.approx(dataclasses.astuple(expected), rel=1e-9)
    assert len(curve.band_fits) == 200 and len(set(curve.band_fits)) > 100  # resampled, not one fit repeated
    low, middle, high = curve.expected(800)
    spread = [float(f.accuracy(800)) for f in curve.band_fits]
    assert (low, high) == pytest.approx(tuple(np.percentile(spread, [10, 90])))
    assert middle == pytest.approx(float(curve.fit.accuracy(800))) and low < middle < high
    target = (curve.accuracy[-1] + curve.fit.ceiling) / 2
    needs = sorted(n for n in (f.labels_for(target) for f in curve.band_fits) if n is not None)
    optimistic, fitted_need, pessimistic = curve.labels_for(target)
    assert optimistic == pytest.approx(float(np.percentile(needs, 10)))
    assert fitted_need == curve.fit.labels_for(target)
    assert curve.labels_for(1.0) == (None, None, None)  # no fit's ceiling is above 1: out of reach, not NaN
    reached = len(needs) / len(curve.band_fits)
    assert (pessimistic is None) == (reached < 0.9)
    if pessimistic is not None:
        assert pessimistic == pytest.approx(float(np.percentile(needs, 90)))


def test_the_pessimistic_count_is_given_only_when_nine_fits_in_ten_reach_the_target() -> None:
    """The range of labels for a target runs from percentile 10 to percentile 90 of the bootstrap fits' counts; the
    pessimistic end only when at least 90% of the fits reach the target at all (else it is out of reach)."""
    reaching = [PowerLaw(0.9, scale, 0.5) for scale in np.linspace(1.0, 3.0, 90)]  # 90 different counts for 0.8
    never = PowerLaw(0.7, 1.0, 0.5)  # its ceiling is below the target

    def band_of(fits: list[PowerLaw]) -> tuple[float | None, float | None, float | None]:
        return LearningCurve((50, 100), (0.5, 0.6), 100, reaching[0], tuple(fits)).labels_for(0.8)

    counts = [n for n in (f.labels_for(0.8) for f in reaching) if n is not None]
    low, high = float(np.percentile(counts, 10)), float(np.percentile(counts, 90))
    assert len(counts) == 90 and low < high
    assert band_of(reaching) == (pytest.approx(low), reaching[0].labels_for(0.8), pytest.approx(high))
    assert band_of(reaching + [never] * 10)[2] == pytest.approx(high)  # 90 of 100: just enough
    optimistic, _, pessimistic = band_of(reaching + [never] * 11)  # 90 of 101: not enough
    assert pessimistic is None and optimistic == pytest.approx(low)


def test_the_law_is_fitted_from_a_sixteenth_of_the_labels_when_that_is_past_fifty(fashion_pixels: Data) -> None:
    x, y = fashion_pixels
    pixels = x[:, ::16]  # 49 of the pixels: the points chosen for the fit are under test here, not the accuracy
    curve = learning_curve(pixels[:1809], list(y[:1809]), pixels[2000:2300], list(y[2000:2300]))
    counts = np.asarray(curve.labels)
    assert 1809 // 16 == 113 and {80, 113, 1280} <= set(counts)  # 1809 / 16 = 113.06 labels: from 113 on, not 80
    fitted = counts >= 113
    assert curve.fit == fit_power_law(counts[fitted], np.asarray(curve.accuracy)[fitted])


def test_points_pushed_below_zero_by_a_bootstrap_still_get_a_fit() -> None:
    """A model that is almost always wrong has accuracies near 0, and a bootstrap's resampled residuals push some
    below 0: the fit starts inside its bounds and gives a law, not scipy's "initial guess is outside" error."""
    fitted = fit_power_law([10, 14, 20, 28, 40], [-0.05, -0.03, -0.04, -0.06, -0.03])
    assert 0.0 <= fitted.ceiling <= 0.05


def test_labels_for_is_none_for_a_flat_or_falling_law() -> None:
    assert PowerLaw(0.9, 0.0, 0.5).labels_for(0.8) is None  # flat: already there or never, no count to give
    assert PowerLaw(0.9, 0.3, 0.0).labels_for(0.8) is None
    assert PowerLaw(0.9, 0.3, 0.5).labels_for(0.9) is None  # the ceiling itself is never reached


def test_label_counts_double_from_the_first_with_halfway_points() -> None:
    assert label_counts(100) == [10, 14, 20, 28, 40, 56, 80, 100]
    assert label_counts(45, first=20) == [20, 28, 40, 45]
    assert label_counts(10) == [10]


def test_the_curve_starts_where_the_labels_hold_two_classes(fashion_pixels: Data) -> None:
    x, y = fashion_pixels
    first = np.flatnonzero(y[:600] == y[0])[:25]  # the first 25 labels given are all of one class,
    then = np.flatnonzero(y[:600] == y[y != y[0]][0])[:3]  # the next 3 of one other: two classes at 28 labels
    order = np.concatenate([first, then, np.setdiff1d(np.arange(600), np.concatenate([first, then]))])
    curve = learning_curve(x[order], list(y[order]), x[2000:2200], list(y[2000:2200]))
    assert curve.labels[0] == 28 and curve.labels[-1] == 600


def test_a_projects_curve_is_its_labelled_train_images_in_labelling_order_scored_on_its_labelled_val(
    fashion_pixels: Data,
) -> None:
    """curve_of picks from a project's rows: train labels in the order they were first given (labels without a
    time, from before times were kept, first and in row order), scored on the labelled val images; unlabelled and
    test rows stay out."""
    n = 300
    x = pooled_7x7(fashion_pixels[0][:n])
    y = fashion_pixels[1]
    rng = np.random.default_rng(0)
    splits = tuple(str(s) for s in rng.choice(["train", "val", "test"], n, p=[0.6, 0.3, 0.1]))
    labelled = rng.random(n) < 0.8
    times = (rng.permutation(n) + 1) / 256  # most below 1.0: a label without a time must still come first
    first = tuple(None if not labelled[i] or i % 7 == 0 else float(times[i]) for i in range(n))
    labels = tuple(str(y[i]) if labelled[i] else None for i in range(n))
    data = ActiveData(np.arange(7000, 7000 + n), x, labels, splits, first)
    train = [i for i in range(n) if labelled[i] and splits[i] == "train"]
    order = [i for i in train if first[i] is None] + sorted(
        (i for i in train if first[i] is not None), key=times.__getitem__
    )
    val = [i for i in range(n) if labelled[i] and splits[i] == "val"]
    every_train = sum(split == "train" for split in splits)  # labelled or not: the labels there could be
    expected = learning_curve(
        x[order], [str(y[i]) for i in order], x[val], [str(y[i]) for i in val], seed=4, train_images=every_train
    )
    assert curve_of(data, seed=4) == expected


def _measured(accuracy: tuple[float, ...], train_images: int) -> LearningCurve:
    """A curve whose fit and bootstrap fits are all accuracy(n) = 0.9 - 1.5 n^-0.5: 0.85 at 900 labels."""
    law = PowerLaw(0.9, 1.5, 0.5)
    return LearningCurve((50, 100, 200, 400), accuracy, 100, law, (law,) * 10, train_images)


def test_the_reach_of_a_target_is_one_verdict_with_its_numbers() -> None:
    """What the app, the CLI and the report say of a target: reached (by the latest measured point only), about N
    more labels, more labels than the train split has images, or never by this curve."""
    rising = (0.7, 0.75, 0.8, 0.82)
    estimate = _measured(rising, 5_000).reach(0.85)
    assert estimate.verdict == "estimate" and estimate.total in (900, 901) and estimate.more == estimate.total - 400
    assert f"0.850 needs about {estimate.total:,} training labels in all, {estimate.more:,} more" in estimate.sentence
    assert _measured(rising, estimate.total).reach(0.85).verdict == "estimate"  # just enough images
    beyond = _measured(rising, estimate.total - 1).reach(0.85)
    assert (beyond.verdict, beyond.more, beyond.train_images) == ("beyond_images", estimate.more, estimate.total - 1)
    assert f"more than the {estimate.total - 1:,} images of the train split" in beyond.sentence
    never = _measured(rising, 5_000).reach(0.95)
    assert (never.verdict, never.total, never.more) == ("levels_off", None, None)
    assert "levels off below 0.950 (its ceiling: 0.900)" in never.sentence
    met = _measured((0.7, 0.75, 0.8, 0.85), 5_000).reach(0.85)  # the latest point meets it exactly
    assert (met.verdict, met.more) == ("reached", 0) and "already meets 0.850: 0.850 at 400" in met.sentence
    lost = _measured((0.7, 0.86, 0.8, 0.82), 5_000).reach(0.85)  # met once and lost since: not reached
    assert lost.verdict == "estimate"
    ahead = _measured(rising, 5_000).reach(0.821)  # the fit passes it at 361 labels, the latest point is below it
    assert (ahead.verdict, ahead.total, ahead.more) == ("estimate", 361, 0)  # never a negative count
    assert "The fitted curve passes 0.821 at about 361 labels" in ahead.sentence
    train_only = _measured(rising, 0).reach(0.83)  # no pool given: the labels themselves are the train images
    assert train_only.train_images == 400 and train_only.verdict == "beyond_images"


def test_drawing_a_curve_reports_its_progress_to_the_end(fashion_pixels: Data) -> None:
    x, y = fashion_pixels
    heard: list[tuple[int, int | None]] = []
    learning_curve(
        x[:100], list(y[:100]), x[2000:2050], list(y[2000:2050]), on_progress=lambda d, t: heard.append((d, t))
    )
    done = [d for d, _ in heard]
    assert heard[0][0] == 0 and done == sorted(done) and heard[-1][0] == heard[-1][1]
    assert heard[-1][1] == len(label_counts(100)) + 200 // 20  # a report per head and per 20 bootstrap fits
