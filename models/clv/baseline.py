"""The naive CLV every model must beat: last year's spend, carried forward."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["SPEND_COLUMN", "carried_forward_spend", "mean_discount_factor"]

#: Feature holding each customer's spend of the 365 days before as-of.
SPEND_COLUMN = "monetary_365d"


def mean_discount_factor(horizon_days: float, discount_rate: float) -> float:
    """Mean of ``(1 + rate) ** (-t / 365)`` over ``t`` in ``[0, horizon_days)``.

    The present value of one unit of revenue spread evenly over the horizon:
    ``(1 - (1 + r) ** (-h)) / (h ln(1 + r))`` with ``h = horizon_days / 365``; 1 at ``r = 0``.
    """
    if not (
        horizon_days > 0 and discount_rate >= 0 and math.isfinite(horizon_days + discount_rate)
    ):
        raise ValueError(
            "mean_discount_factor needs horizon_days > 0 and discount_rate >= 0; "
            f"got {horizon_days!r} and {discount_rate!r}"
        )
    if discount_rate == 0:
        return 1.0
    years = horizon_days / 365.0
    log_rate = math.log1p(discount_rate)
    return -math.expm1(-years * log_rate) / (years * log_rate)


def carried_forward_spend(
    features: pd.DataFrame, *, horizon_days: float, discount_rate: float
) -> np.ndarray:
    """Each customer's 365-day spend, scaled to the horizon and discounted as if spread evenly.

    Parameters
    ----------
    features : pandas.DataFrame
        Point-in-time features with :data:`SPEND_COLUMN`.
    horizon_days, discount_rate : float
        As the CLV models'.

    Returns
    -------
    ndarray of shape (n_customers,)
    """
    if SPEND_COLUMN not in features:
        raise ValueError(
            f"carried_forward_spend needs the feature {SPEND_COLUMN!r}; the frame has "
            f"{len(features.columns)} columns: {list(features.columns)[:8]}"
        )
    spend = features[SPEND_COLUMN].to_numpy(dtype=float, na_value=0.0)
    scale = horizon_days / 365.0 * mean_discount_factor(horizon_days, discount_rate)
    return np.maximum(spend, 0.0) * scale
