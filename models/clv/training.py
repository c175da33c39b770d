"""Fitting and choosing the CLV predictors on stacked snapshots; pure, no tracking.

The training data is that of the predictive models (:func:`models.dataset.training_data`
with :func:`models.dataset.clv_task`): monthly snapshots whose revenue window
closed by the holdout cutoff are trained on; the holdout cutoff's customers
are split by a hash into ``valid`` (early stopping and every choice) and
``test`` (the reported metrics and the gate only).

- The **LightGBM** regressors learn from the training snapshots' features and
  revenue, one per loss; the loss with the better validation score is kept.
  Tweedie is fitted at each power of :data:`TWEEDIE_POWERS` and keeps the one
  whose validation decile error is lowest: the power barely moves the ranking
  but sets how much the big spenders are under-forecast (its gradient weighs
  a customer by ``mu^(1-power)``; on CDNOW the total fell 4% short at 1.1 and
  14% at 1.5, see ``benchmarks/bench_cdnow_clv.py``).
- The **probabilistic** model (BG/NBD + Gamma-Gamma) needs no labels: it is
  fitted on the ``valid`` customers' purchase histories as of the holdout
  cutoff, which is what Fader, Hardie & Lee do with a calibration period.
  Customers who never bought get the mean revenue such customers brought in
  the training snapshots.
- The served predictor is the better of the two on ``valid`` by the gate's metric.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from upseg.models.clv.baseline import carried_forward_spend
from upseg.models.clv.lgbm import LOSSES, LGBMRevenueRegressor
from upseg.models.clv.metrics import GREATER_IS_BETTER, revenue_metrics
from upseg.models.clv.model import CLVModel
from upseg.models.clv.probabilistic import ProbabilisticCLV, summary_from_features
from upseg.models.dataset import TrainingData

__all__ = [
    "BASELINE",
    "GATE_METRICS",
    "TWEEDIE_POWERS",
    "CLVFit",
    "fit_clv",
    "predictions",
    "scores_by_predictor",
]

#: Tweedie powers fitted; the one with the lowest validation decile error is kept.
TWEEDIE_POWERS = (1.1, 1.3, 1.5)

#: Name of the naive baseline among the predictors (last year's spend carried forward).
BASELINE = "baseline"
#: Metrics the gate and the choice may use, with their direction.
GATE_METRICS: dict[str, bool] = {
    k: v
    for k, v in GREATER_IS_BETTER.items()
    if k in ("gini", "spearman", "top_decile_capture", "mae", "rmse", "decile_error")
}


@dataclass(frozen=True)
class CLVFit:
    """The fitted CLV model and how it was chosen.

    Attributes
    ----------
    model : CLVModel
        The served predictor, the probabilistic model and the kept LightGBM.
    valid : dict of str to dict of str to float
        Metrics on the ``valid`` customers of every candidate:
        ``probabilistic``, ``lightgbm_<loss>`` and ``baseline``.
    loss : str or None
        The LightGBM loss kept; None when no LightGBM was fitted.
    reason : str
        Why the served predictor was chosen, in one sentence.
    regressors : dict of str to LGBMRevenueRegressor
        The LightGBM kept for each loss (Tweedie at its chosen power).
    """

    model: CLVModel
    valid: dict[str, dict[str, float]]
    loss: str | None
    reason: str
    regressors: dict[str, LGBMRevenueRegressor] = field(default_factory=dict)


def _better(metric: str, a: float, b: float) -> bool:
    return a > b if GATE_METRICS[metric] else a < b


def _no_history_value(train: pd.DataFrame) -> float:
    """Mean revenue of training customers who had never bought, 0 when there are none."""
    never = train["frequency_lifetime"].fillna(0) == 0
    return float(train.loc[never, "label"].mean()) if never.any() else 0.0


def fit_clv(
    data: TrainingData,
    *,
    horizon_days: int,
    discount_rate: float,
    metric: str = "gini",
    losses: Sequence[str] = LOSSES,
    seed: int = 0,
    params: dict[str, Any] | None = None,
) -> CLVFit:
    """Fit the probabilistic model and one LightGBM per loss; choose on ``valid``.

    Parameters
    ----------
    data : TrainingData
        Of :func:`models.dataset.clv_task`, with the feature set's RFM columns.
    horizon_days, discount_rate
        The revenue the label holds; the probabilistic model predicts the same.
    metric : str, default "gini"
        A key of :data:`GATE_METRICS`: what the choices maximise (or minimise).
    losses : sequence of str, default ("ziln", "tweedie")
        LightGBM losses to fit; empty serves the probabilistic model alone.
    seed : int, default 0
    params : dict, optional
        LightGBM parameters for every loss.

    Raises
    ------
    ValueError
        For an unknown metric or loss.
    """
    if metric not in GATE_METRICS:
        raise ValueError(
            f"fit_clv: 'metric' must be one of {', '.join(GATE_METRICS)}; got {metric!r}"
        )
    unknown = [loss for loss in losses if loss not in LOSSES]
    if unknown:
        raise ValueError(f"fit_clv: 'losses' must be among {', '.join(LOSSES)}; got {unknown}")
    train, valid = data.part("train"), data.part("valid")
    features = list(data.features)
    y_valid = valid["label"].to_numpy()
    probabilistic = ProbabilisticCLV(
        horizon_days=horizon_days,
        discount_rate=discount_rate,
        no_history_value=_no_history_value(train),
    ).fit(summary_from_features(valid))
    scores = {
        "probabilistic": revenue_metrics(
            y_valid, probabilistic.predict(summary_from_features(valid))
        ),
        BASELINE: revenue_metrics(
            y_valid,
            carried_forward_spend(valid, horizon_days=horizon_days, discount_rate=discount_rate),
        ),
    }
    regressors = {}
    for loss in losses:
        fitted = []
        for power in TWEEDIE_POWERS if loss == "tweedie" else (1.5,):
            regressor = LGBMRevenueRegressor(
                loss=loss,
                params=params,
                categorical=data.categorical,
                tweedie_variance_power=power,
                random_state=seed,
            ).fit(train[features], train["label"], X_valid=valid[features], y_valid=y_valid)
            fitted.append((revenue_metrics(y_valid, regressor.predict(valid)), regressor))
        best = min(fitted, key=lambda pair: pair[0]["decile_error"])
        scores[f"lightgbm_{loss}"], regressors[loss] = best
    best_loss = None
    for loss in regressors:
        if best_loss is None or _better(
            metric, scores[f"lightgbm_{loss}"][metric], scores[f"lightgbm_{best_loss}"][metric]
        ):
            best_loss = loss
    served, reason = "probabilistic", "no LightGBM loss was fitted"
    if best_loss is not None:
        ours, theirs = scores[f"lightgbm_{best_loss}"][metric], scores["probabilistic"][metric]
        served = "lightgbm" if _better(metric, ours, theirs) else "probabilistic"
        reason = (
            f"valid {metric}: LightGBM ({best_loss}) {ours:.4f}, BG/NBD + Gamma-Gamma {theirs:.4f}"
        )
    model = CLVModel(
        served=served,
        probabilistic=probabilistic,
        lightgbm=regressors.get(best_loss) if best_loss else None,
        feature_set=data.feature_set.key,
        horizon_days=horizon_days,
        discount_rate=discount_rate,
    )
    return CLVFit(model, scores, best_loss, reason, regressors)


def predictions(
    model: CLVModel, rows: pd.DataFrame, *, horizon_days: int, discount_rate: float
) -> dict[str, np.ndarray]:
    """Every predictor's CLV of ``rows``: the model's, ``served`` and the baseline."""
    out = dict(model.predictors(rows))
    out["served"] = out[model.served]
    out[BASELINE] = carried_forward_spend(
        rows, horizon_days=horizon_days, discount_rate=discount_rate
    )
    return out


def scores_by_predictor(
    y: np.ndarray, predicted: dict[str, np.ndarray]
) -> dict[str, dict[str, float]]:
    """:func:`revenue_metrics` of each predictor against the realised revenue ``y``."""
    return {name: revenue_metrics(y, values) for name, values in predicted.items()}
