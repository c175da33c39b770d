"""The recency-only baseline every predictive model is compared with in the same run.

Days since the last order is the single strongest predictor of both churn and
repeat purchase; a model that cannot beat a calibrated function of it is not
worth its complexity. Customers who never ordered count as the least recent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.isotonic import IsotonicRegression

__all__ = ["RecencyBaseline"]


class RecencyBaseline(ClassifierMixin, BaseEstimator):
    """Monotone probability of the label as a function of ``recency_days``.

    Parameters
    ----------
    increasing : bool
        True when more days since the last order should mean a higher
        probability (churn), False when lower (purchase propensity).
    column : str, default "recency_days"
        The recency column of the feature frame.

    Attributes
    ----------
    isotonic_ : IsotonicRegression
    never_ordered_days_ : float
        Recency given to customers with no order: beyond the longest seen.
    """

    def __init__(self, *, increasing: bool, column: str = "recency_days"):
        self.increasing = increasing
        self.column = column

    def _recency(self, X: pd.DataFrame) -> np.ndarray:
        if self.column not in X.columns:
            raise ValueError(
                f"The recency baseline needs column {self.column!r}; the frame has "
                f"{len(X.columns)} other columns."
            )
        days = pd.to_numeric(X[self.column].astype("Float64")).astype("float64").to_numpy()
        return np.where(np.isnan(days), self.never_ordered_days_, days)

    def fit(self, X: pd.DataFrame, y) -> RecencyBaseline:
        """Fit the monotone map on ``(X[column], y)``; held-out rows, like the calibrators."""
        days = pd.to_numeric(X[self.column].astype("Float64")).astype("float64")
        self.never_ordered_days_ = float(np.nanmax(days.to_numpy(), initial=0.0)) + 1.0
        self.isotonic_ = IsotonicRegression(
            increasing=self.increasing, out_of_bounds="clip", y_min=0.0, y_max=1.0
        ).fit(self._recency(X), np.asarray(y, dtype=float))
        self.classes_ = np.array([0, 1])
        return self

    def ranking_score(self, X: pd.DataFrame) -> np.ndarray:
        """A ranking score: recency, signed so that higher means more likely."""
        days = self._recency(X)
        return days if self.increasing else -days

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Probabilities, shape (n_samples, 2)."""
        p = self.isotonic_.predict(self._recency(X))
        return np.column_stack([1.0 - p, p])
