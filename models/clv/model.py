"""What ``upseg train clv`` registers: the chosen CLV predictor over the feature table.

``train clv`` fits a probabilistic model (BG/NBD + Gamma-Gamma) and LightGBM
regressors on the same customers and serves the better one. Either way the
scorer sees one interface, :meth:`CLVModel.predict_frame`, on the feature table
it already builds: ``clv`` from the served predictor, and ``p_alive`` from the
BG/NBD, which is always fitted (it needs no labels) and says something no
regressor does: whether the customer is still a customer at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from upseg.models.clv.lgbm import LGBMRevenueRegressor
from upseg.models.clv.probabilistic import ProbabilisticCLV, summary_from_features

__all__ = ["PREDICTORS", "RFM_COLUMNS", "CLVModel"]

#: The predictors ``train clv`` compares, by the name its metrics and ``served`` use.
PREDICTORS = ("probabilistic", "lightgbm")
#: Feature columns the probabilistic model reads (:func:`summary_from_features`).
RFM_COLUMNS = ("frequency_lifetime", "recency_days", "days_since_first_order", "avg_order_value")


@dataclass
class CLVModel:
    """The registered ``clv`` model.

    Parameters
    ----------
    served : {"probabilistic", "lightgbm"}
        Which predictor gives ``clv``.
    probabilistic : ProbabilisticCLV
        Fitted; gives ``p_alive`` whichever predictor is served.
    lightgbm : LGBMRevenueRegressor or None
        Fitted, or None when only the probabilistic model was trained.
    feature_set : str
        Key of the feature set both read.
    horizon_days : int
        Days after as-of whose revenue ``clv`` is.
    discount_rate : float
        Yearly rate ``clv`` is discounted at.

    Attributes
    ----------
    feature_names_in_ : ndarray of str
        Every feature column either predictor reads.
    """

    served: str
    probabilistic: ProbabilisticCLV
    lightgbm: LGBMRevenueRegressor | None
    feature_set: str
    horizon_days: int
    discount_rate: float

    def __post_init__(self) -> None:
        if self.served not in PREDICTORS:
            raise ValueError(
                f"CLVModel: 'served' must be one of {', '.join(PREDICTORS)}; got {self.served!r}"
            )
        if self.served == "lightgbm" and self.lightgbm is None:
            raise ValueError("CLVModel: served='lightgbm' needs a fitted 'lightgbm'")
        names = list(RFM_COLUMNS)
        if self.lightgbm is not None:
            names += [c for c in self.lightgbm.feature_names_in_ if c not in names]
        self.feature_names_in_ = np.asarray(names, dtype=object)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Expected discounted revenue over the horizon per customer, shape (n_samples,)."""
        return self.predict_frame(X)["clv"].to_numpy()

    def predict_frame(self, X: pd.DataFrame) -> pd.DataFrame:
        """``clv`` from the served predictor and ``p_alive`` from the BG/NBD, on ``X``'s index.

        ``p_alive`` is missing (NaN) for customers without a completed order:
        they have not started buying, so the BG/NBD has nothing to say of them.
        """
        summary = summary_from_features(X)
        probabilistic = self.probabilistic.predict_frame(summary)
        clv = (
            probabilistic["clv"].to_numpy()
            if self.served == "probabilistic"
            else self.lightgbm.predict(X)  # type: ignore[union-attr]
        )
        return pd.DataFrame(
            {"clv": np.maximum(clv, 0.0), "p_alive": probabilistic["p_alive"].to_numpy()},
            index=X.index,
        )

    def predictors(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        """Every predictor's ``clv`` on ``X``, keyed by :data:`PREDICTORS` (those fitted)."""
        out = {"probabilistic": self.probabilistic.predict(summary_from_features(X))}
        if self.lightgbm is not None:
            out["lightgbm"] = self.lightgbm.predict(X)
        return out
