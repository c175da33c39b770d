"""Fitting and choosing the CLV predictors (``models.clv.training``) on the synthetic world."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad

from tests.conftest import AS_OF
from upseg.models.clv.baseline import carried_forward_spend, mean_discount_factor
from upseg.models.clv.metrics import revenue_metrics
from upseg.models.clv.model import CLVModel
from upseg.models.clv.probabilistic import summary_from_features
from upseg.models.clv.training import fit_clv, predictions
from upseg.models.dataset import clv_task, training_data

HORIZON_DAYS = 90
DISCOUNT_RATE = 0.1
#: One LightGBM thread: on a shared two-core machine OpenMP's threads wait on each
#: other and a fit takes six times longer; the trees are the same (deterministic=True).
ONE_THREAD = {"num_threads": 1}
#: How each metric the tests choose by ranks two scores, written out here rather than
#: read from the code under test.
BEST = {"gini": max, "mae": min, "decile_error": min}


@pytest.fixture(scope="module")
def data(world_tables):
    """One training snapshot and the holdout of 2026-04-01, revenue over 90 days."""
    return training_data(
        world_tables, clv_task(DISCOUNT_RATE), AS_OF, snapshots=1, horizon_days=HORIZON_DAYS
    )


def fit(data, **kwargs):
    return fit_clv(
        data, horizon_days=HORIZON_DAYS, discount_rate=DISCOUNT_RATE, params=ONE_THREAD, **kwargs
    )


@pytest.fixture(scope="module")
def fitted(data):
    """``fitted(metric)``: the fit of both losses choosing by ``metric``, made once per module."""
    cache = {}

    def by(metric):
        if metric not in cache:
            cache[metric] = fit(data, metric=metric)
        return cache[metric]

    return by


@pytest.fixture(params=list(BEST))
def chosen(request, fitted):
    """On this world gini and mae serve a LightGBM (of different losses), decile_error the
    probabilistic model."""
    return request.param, fitted(request.param)


@pytest.fixture
def by_gini(fitted):
    return fitted("gini")


def spend_baseline(rows: pd.DataFrame) -> np.ndarray:
    """Last year's spend spread evenly over the horizon, discounted: by numerical integration."""
    integral, _ = quad(lambda t: (1 + DISCOUNT_RATE) ** (-t / 365), 0, HORIZON_DAYS)
    return rows["monetary_365d"].fillna(0).clip(lower=0).to_numpy() * integral / 365


def test_the_valid_scores_are_each_candidates_metrics_on_the_valid_customers(chosen, data):
    _, result = chosen
    valid = data.part("valid")
    y = valid["label"].to_numpy()
    assert set(result.valid) == {"probabilistic", "lightgbm_ziln", "lightgbm_tweedie", "baseline"}
    assert set(result.regressors) == {"ziln", "tweedie"}
    expected = {
        "probabilistic": result.model.probabilistic.predict(summary_from_features(valid)),
        "baseline": carried_forward_spend(
            valid, horizon_days=HORIZON_DAYS, discount_rate=DISCOUNT_RATE
        ),
        **{f"lightgbm_{k}": r.predict(valid) for k, r in result.regressors.items()},
    }
    for name, predicted in expected.items():
        assert result.valid[name] == pytest.approx(revenue_metrics(y, predicted), rel=1e-9), name


def test_the_better_loss_and_then_the_better_predictor_on_valid_is_served(chosen):
    metric, result = chosen
    best = BEST[metric]
    scores = {name: values[metric] for name, values in result.valid.items()}
    loss = best(("ziln", "tweedie"), key=lambda k: scores[f"lightgbm_{k}"])
    assert result.loss == loss
    assert result.model.lightgbm is result.regressors[loss]
    ours, theirs = scores[f"lightgbm_{loss}"], scores["probabilistic"]
    served = "lightgbm" if best(ours, theirs) == ours and ours != theirs else "probabilistic"
    assert result.model.served == served
    assert result.reason == (
        f"valid {metric}: LightGBM ({loss}) {ours:.4f}, BG/NBD + Gamma-Gamma {theirs:.4f}"
    )


def test_on_this_world_the_metric_decides_the_predictor_and_the_loss(chosen):
    """The choice is not fixed: both predictors and both losses win by some metric."""
    metric, result = chosen
    expected = {
        "gini": ("lightgbm", "ziln"),
        "mae": ("lightgbm", "tweedie"),
        "decile_error": ("probabilistic", "tweedie"),
    }
    assert (result.model.served, result.loss) == expected[metric]


def test_the_model_predicts_what_it_was_fitted_for(by_gini, data):
    model = by_gini.model
    assert (model.horizon_days, model.discount_rate) == (HORIZON_DAYS, DISCOUNT_RATE)
    assert model.feature_set == data.feature_set.key
    probabilistic = model.probabilistic
    assert (probabilistic.horizon_days, probabilistic.discount_rate) == (
        HORIZON_DAYS,
        DISCOUNT_RATE,
    )
    # The BG/NBD + Gamma-Gamma is fitted on the valid customers who have bought.
    valid = data.part("valid")
    assert probabilistic.n_customers_ == int(valid["frequency_lifetime"].fillna(0).gt(0).sum())
    # Customers who never bought get what such customers brought in the training rows.
    train = data.part("train")
    never = train["frequency_lifetime"].fillna(0).eq(0)
    assert probabilistic.no_history_value == pytest.approx(train.loc[never, "label"].mean())
    assert probabilistic.no_history_value > 0


def test_predictions_give_every_predictor_and_served_is_the_served_ones(by_gini, data):
    test = data.part("test")
    model = by_gini.model
    out = predictions(model, test, horizon_days=HORIZON_DAYS, discount_rate=DISCOUNT_RATE)
    assert set(out) == {"probabilistic", "lightgbm", "served", "baseline"}
    np.testing.assert_array_equal(out["served"], out[model.served])
    np.testing.assert_array_equal(out["served"], model.predict(test))
    np.testing.assert_array_equal(out["lightgbm"], model.lightgbm.predict(test))
    np.testing.assert_array_equal(
        out["probabilistic"], model.probabilistic.predict(summary_from_features(test))
    )
    np.testing.assert_allclose(out["baseline"], spend_baseline(test), rtol=1e-12)
    np.testing.assert_array_equal(
        out["baseline"],
        carried_forward_spend(test, horizon_days=HORIZON_DAYS, discount_rate=DISCOUNT_RATE),
    )


def test_without_losses_the_probabilistic_model_is_served_alone(data):
    result = fit(data, losses=())
    assert result.model.served == "probabilistic"
    assert result.model.lightgbm is None and result.loss is None and result.regressors == {}
    assert result.reason == "no LightGBM loss was fitted"
    assert set(result.valid) == {"probabilistic", "baseline"}
    test = data.part("test")
    out = predictions(result.model, test, horizon_days=HORIZON_DAYS, discount_rate=DISCOUNT_RATE)
    assert set(out) == {"probabilistic", "served", "baseline"}
    np.testing.assert_array_equal(out["served"], out["probabilistic"])
    # The model reads only the four RFM columns then.
    assert list(result.model.feature_names_in_) == [
        "frequency_lifetime",
        "recency_days",
        "days_since_first_order",
        "avg_order_value",
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"metric": "bias_pct"},
            "fit_clv: 'metric' must be one of gini, spearman, top_decile_capture, mae, rmse, "
            "decile_error; got 'bias_pct'",
        ),
        ({"metric": "auc"}, "got 'auc'"),
        (
            {"losses": ("ziln", "mse")},
            "fit_clv: 'losses' must be among ziln, tweedie; got ['mse']",
        ),
    ],
)
def test_unknown_metric_or_loss_is_refused_naming_what_is_allowed(data, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        fit(data, **kwargs)


def test_clv_model_refuses_a_served_predictor_it_does_not_have(by_gini):
    probabilistic = by_gini.model.probabilistic
    common = {"feature_set": "customer_v1", "horizon_days": 90, "discount_rate": 0.1}
    with pytest.raises(ValueError, match=re.escape("served='lightgbm' needs a fitted 'lightgbm'")):
        CLVModel(served="lightgbm", probabilistic=probabilistic, lightgbm=None, **common)
    with pytest.raises(
        ValueError,
        match=re.escape("CLVModel: 'served' must be one of probabilistic, lightgbm; got 'xgboost'"),
    ):
        CLVModel(served="xgboost", probabilistic=probabilistic, lightgbm=None, **common)


@pytest.mark.parametrize(
    ("horizon_days", "rate"),
    [(1, 0.1), (30, 0.1), (90, 0.1), (365, 0.1), (730, 0.25), (3650, 0.05), (90, 2.0)],
)
def test_mean_discount_factor_is_the_mean_discount_over_the_horizon(horizon_days, rate):
    integral, _ = quad(lambda t: (1 + rate) ** (-t / 365), 0, horizon_days)
    assert mean_discount_factor(horizon_days, rate) == pytest.approx(
        integral / horizon_days, rel=1e-12
    )


@pytest.mark.parametrize("horizon_days", [1, 90, 365, 10_000])
def test_mean_discount_factor_is_one_without_discounting(horizon_days):
    assert mean_discount_factor(horizon_days, 0.0) == 1.0
    assert mean_discount_factor(horizon_days, 1e-12) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize(("horizon_days", "rate"), [(0, 0.1), (-5, 0.1), (90, -0.1)])
def test_mean_discount_factor_refuses_an_empty_horizon_or_a_negative_rate(horizon_days, rate):
    message = (
        "mean_discount_factor needs horizon_days > 0 and discount_rate >= 0; "
        f"got {horizon_days!r} and {rate!r}"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        mean_discount_factor(horizon_days, rate)


@pytest.mark.parametrize(("horizon_days", "rate"), [(90, float("nan")), (float("nan"), 0.1)])
def test_mean_discount_factor_refuses_nan(horizon_days, rate):
    with pytest.raises(ValueError, match="mean_discount_factor needs horizon_days > 0"):
        mean_discount_factor(horizon_days, rate)
