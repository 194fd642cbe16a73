"""The probe's standardization written out as a scikit-learn transformer, to check the project's heads against:
each dimension centred and divided by its spread plus ``floor`` times the median spread, both from the data it is
fitted on (so in cross-validation, from each fold's training part)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin


class FlooredScaler(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    def __init__(self, floor: float) -> None:
        self.floor = floor

    def fit(self, x: np.ndarray, y: Any = None) -> FlooredScaler:
        spread = np.std(x, axis=0)
        self.mean_ = np.mean(x, axis=0)
        self.scale_ = spread + self.floor * np.median(spread) + 1e-6
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, np.float64) - self.mean_) / self.scale_
