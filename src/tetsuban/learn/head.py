"""The linear probe: class-balanced logistic regression on standardized embeddings, folded into one affine map.

The standardization is folded into the weights, so the head is ``softmax(x @ weight.T + bias)`` on raw embeddings:
the form that goes into the ONNX graph and that every other stage uses.

Each dimension is divided by its spread over the training images plus a tenth of the median spread
(``SPREAD_FLOOR``). Without that floor a dimension that hardly varies among a few labelled images (a spread of
0.0003 against a median of 0.2) is blown up to unit spread: its weight becomes hundreds of times any other, pixels
one level off can move the probabilities by tenths, and with 5 labels per class the probe was 0.04-0.06 less
accurate (bench/results/probe.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tetsuban.errors import ConfigError
from tetsuban.params import check_float

DEFAULT_C = 0.1
C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)
SPREAD_FLOOR = 0.1  # added to each dimension's spread, as a share of the median spread (see the module)
_EPS = 1e-6


@dataclass(frozen=True)
class LinearHead:
    """``classes`` in output order; ``weight`` (K, D) and ``bias`` (K,) act on raw embeddings."""

    classes: tuple[str, ...]
    weight: np.ndarray
    bias: np.ndarray

    def logits(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, np.float64) @ self.weight.T.astype(np.float64) + self.bias

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """(N, K) class probabilities for embeddings ``x`` (N, D)."""
        return softmax(self.logits(x))


def softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def fit_linear_head(
    x: np.ndarray, labels: Sequence[str], c: float = DEFAULT_C, tol: float = 1e-3, floor: float = SPREAD_FLOOR
) -> LinearHead:
    """Fit the probe on embeddings ``x`` (N, D) with their ``labels``; at least two classes are needed.

    ``tol`` stops the solver; 1e-3 gives the same accuracy as tighter values in half the time. ``floor``: see
    :func:`standardized` (0 standardizes plainly; the benches compare).
    """
    from sklearn.linear_model import LogisticRegression

    check_float("C", c, 1e-6, 1e6)
    classes, y = class_index(labels)
    z, mean, scale = standardized(x, floor)
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000, tol=tol)
    model.fit(z, y)
    coef, intercept = model.coef_.astype(np.float64), model.intercept_.astype(np.float64)
    if len(classes) == 2:  # one logit z for the second class: softmax([0, z]) is the same sigmoid
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([[0.0], intercept])
    return folded(classes, coef, intercept, mean, scale)


def class_index(labels: Sequence[str]) -> tuple[tuple[str, ...], np.ndarray]:
    """(sorted classes, each label's index among them); a ConfigError when fewer than two classes."""
    classes = tuple(sorted(set(labels)))
    if len(classes) < 2:
        raise ConfigError(
            f"Training needs labelled images of at least two classes. Got {len(classes)} "
            f"({', '.join(classes) or 'none'}). Label more images first."
        )
    index = {name: i for i, name in enumerate(classes)}
    return classes, np.array([index[name] for name in labels])


def standardized(x: np.ndarray, floor: float = SPREAD_FLOOR) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(z, mean, scale): ``x`` with each dimension centred and divided by its spread plus ``floor`` times the median
    spread over all dimensions, in float64, so that the solver works in float64 whatever the embeddings' type
    (scikit-learn 1.9 solves float32 data in float32)."""
    check_float("floor", floor, 0.0, 100.0)
    x = np.asarray(x, np.float64)
    spread = x.std(axis=0)
    mean, scale = x.mean(axis=0), spread + floor * float(np.median(spread)) + _EPS
    return (x - mean) / scale, mean, scale


def folded(
    classes: tuple[str, ...], coef: np.ndarray, intercept: np.ndarray, mean: np.ndarray, scale: np.ndarray
) -> LinearHead:
    """The head that applies ``z @ coef.T + intercept`` on standardized ``z`` directly to raw embeddings."""
    weight = coef / scale
    bias = intercept - weight @ mean
    return LinearHead(classes, weight.astype(np.float32), bias.astype(np.float32))
