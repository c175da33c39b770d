"""How many trees one prediction of a fitted base learner walks per row: the cost of predicting."""

from __future__ import annotations

import math
from typing import Any

__all__: list[str] = []


def trees_per_row(estimator: Any) -> float:
    """Trees a fitted LightGBM model's ``predict`` evaluates for each row; NaN for any other model.

    ``predict`` stops at the best iteration when the model was early-stopped, so
    that is what is counted. A regressor wrapped to answer ``predict_proba``
    (``_RegressorWithProba``) counts as the regressor inside it. ``None``, a
    propensity that is a constant rather than a model, costs nothing.
    """
    import lightgbm as lgb

    if estimator is None:
        return 0.0
    inner = getattr(estimator, "regressor_", None)
    if inner is not None:
        return trees_per_row(inner)
    if not (isinstance(estimator, lgb.LGBMModel) and estimator.__sklearn_is_fitted__()):
        return math.nan
    booster = estimator.booster_
    per_iteration = booster.num_model_per_iteration()
    best = getattr(estimator, "best_iteration_", None) or 0
    return float(best * per_iteration if best > 0 else booster.num_trees())
