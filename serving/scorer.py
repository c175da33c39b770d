"""Scores of one chunk of customers: probabilities, uplift, value and reasons.

Pure: a frame of features in, a frame of scores out, so the job can feed it
chunks of any size and memory stays flat as the customer base grows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.explain import top_drivers
from serving.champions import LoadedModel

__all__ = ["SCORE_COLUMNS", "expected_incremental_value", "score_chunk"]

#: Columns :func:`score_chunk` adds, in order (plus ``uplift_<variant>`` per variant).
SCORE_COLUMNS = (
    "churn_probability",
    "purchase_probability",
    "uplift",
    "best_variant",
    "expected_incremental_value",
    "reasons",
)


def expected_incremental_value(
    uplift: np.ndarray, order_value: np.ndarray, value_per_conversion: float | None
) -> np.ndarray:
    """Uplift × the value of a conversion: ``value_per_conversion`` when given, else the
    customer's own average order value (customers who never ordered get the mean of those
    who did).
    """
    if value_per_conversion is not None:
        return uplift * float(value_per_conversion)
    values = np.asarray(order_value, dtype=float)
    known = values[np.isfinite(values)]
    fill = known.mean() if len(known) else 0.0
    return uplift * np.where(np.isfinite(values), values, fill)


def score_chunk(
    features: pd.DataFrame,
    models: dict[str, LoadedModel],
    *,
    value_per_conversion: float | None = None,
    reasons_from: str = "propensity",
) -> pd.DataFrame:
    """Score one chunk of customers with the churn, propensity and uplift models.

    Parameters
    ----------
    features : pandas.DataFrame
        One row per customer: ``customer_id`` and the feature columns.
    models : dict
        :func:`serving.champions.load_models` output.
    value_per_conversion : float, optional
        Value of one incremental conversion; the customer's average order value
        when omitted.
    reasons_from : {"propensity", "churn"}
        Whose TreeSHAP contributions give the ``reasons``.

    Returns
    -------
    pandas.DataFrame
        :data:`SCORE_COLUMNS` and ``uplift_<variant>``, on the index of ``features``.
    """
    churn = models["churn"].model.predict_proba(features)[:, 1]
    purchase = models["propensity"].model.predict_proba(features)[:, 1]
    uplift = models["uplift"].model.predict_frame(features)
    explainer = models[reasons_from].model
    contributions = explainer.contributions(features).drop(columns="bias")
    order_value = (
        features["avg_order_value"].to_numpy(dtype=float, na_value=np.nan)
        if "avg_order_value" in features
        else np.full(len(features), np.nan)
    )
    scores = pd.DataFrame(
        {
            "churn_probability": churn,
            "purchase_probability": purchase,
            "uplift": uplift["uplift"].to_numpy(),
            "best_variant": uplift["best_variant"].to_numpy(),
            "expected_incremental_value": expected_incremental_value(
                uplift["uplift"].to_numpy(), order_value, value_per_conversion
            ),
            "reasons": top_drivers(contributions.to_numpy(), list(contributions.columns)),
        },
        index=features.index,
    )
    variants = [c for c in uplift.columns if c.startswith("uplift_")]
    return pd.concat([scores, uplift[variants]], axis=1)
