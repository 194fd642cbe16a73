"""The learning curve: a power law fitted to real accuracies, its band, and what it says about more labels."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from tetsuban.active.curve import PowerLaw, fit_power_law, label_counts, learning_curve
from tetsuban.errors import ConfigError

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
    _optimistic, fitted, _pessimistic = early.labels_for(measured)
    assert fitted is not None and 800 < fitted < 20_000


def test_a_curve_needs_validation_labels(fashion_pixels: Data) -> None:
    x, y = fashion_pixels
    with pytest.raises(ConfigError, match="at least 10 labelled validation images"):
        learning_curve(x[:100], list(y[:100]), x[100:105], list(y[100:105]))
