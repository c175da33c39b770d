"""LightGBM revenue regressors: the ZILN objective's derivatives, a known world, bad input."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.base import clone

from upseg.models.clv.lgbm import LGBMRevenueRegressor, _ziln_objective, ziln_loss


def ziln_world(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Features, a zero-inflated lognormal amount and its true mean."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    p = 1 / (1 + np.exp(-(X["a"] - 1)))
    mu = 3 + 0.5 * X["b"]
    sigma = 0.5 + 0.3 * (X["c"] > 0)
    buys = rng.random(n) < p
    y = np.where(buys, np.exp(mu + sigma * rng.normal(size=n)), 0.0)
    return X, y, (p * np.exp(mu + sigma**2 / 2)).to_numpy()


def test_ziln_gradient_is_the_derivative_of_the_loss():
    rng = np.random.default_rng(0)
    y = np.array([0.0, 3.0, 0.0, 40.0, 1.5])
    raw = rng.normal(size=(5, 3))
    data = lgb.Dataset(np.zeros((5, 1)), label=y).construct()
    grad, hess = _ziln_objective(raw, data)
    eps = 1e-6
    for k in range(3):
        step = np.zeros_like(raw)
        step[:, k] = eps
        numeric = (ziln_loss(y, raw + step) - ziln_loss(y, raw - step)) / (2 * eps)
        np.testing.assert_allclose(grad[:, k], numeric, rtol=1e-5, atol=1e-7)
    # p and mu use the exact Hessian; s uses its expectation (2) where there is spend
    h = 1e-4
    for k in (0, 1):
        step = np.zeros_like(raw)
        step[:, k] = h
        second = (
            ziln_loss(y, raw + step) - 2 * ziln_loss(y, raw) + ziln_loss(y, raw - step)
        ) / h**2
        exact = hess[:, k] if k == 0 else np.where(y > 0, hess[:, k], 0.0)
        np.testing.assert_allclose(exact, second, rtol=1e-4, atol=1e-6)
    assert np.all(hess[y > 0, 2] == 2.0)


def test_ziln_loss_is_the_negative_log_likelihood():
    """At y > 0 the loss adds the lognormal density of scipy to the Bernoulli part."""
    y = np.array([0.0, 7.0])
    raw = np.array([[0.3, 1.2, -0.4], [0.3, 1.2, -0.4]])
    p = 1 / (1 + np.exp(-0.3))
    expected = [
        -np.log(1 - p),
        -np.log(p) - stats.lognorm(s=np.exp(-0.4), scale=np.exp(1.2)).logpdf(7.0),
    ]
    np.testing.assert_allclose(ziln_loss(y, raw), expected, rtol=1e-10)


@pytest.mark.parametrize("loss", ["ziln", "tweedie"])
def test_recovers_the_expected_amount_of_a_known_world(loss):
    X, y, truth = ziln_world(24_000, seed=1)
    train, valid, test = slice(0, 12_000), slice(12_000, 18_000), slice(18_000, None)
    model = LGBMRevenueRegressor(loss=loss, n_jobs=1).fit(
        X[train], y[train], X_valid=X[valid], y_valid=y[valid]
    )
    predicted = model.predict(X[test])
    assert predicted.min() >= 0
    # ranking: close to the truth's own Spearman ceiling on these customers
    assert stats.spearmanr(predicted, truth[test])[0] > 0.85
    # level: the total within 15% of the true expected total (measured: ziln -6%, tweedie -10%)
    assert predicted.sum() / truth[test].sum() == pytest.approx(1.0, abs=0.15)


def test_ziln_parts_describe_the_world():
    X, y, _ = ziln_world(24_000, seed=2)
    model = LGBMRevenueRegressor(loss="ziln", n_jobs=1).fit(
        X[:12_000], y[:12_000], X_valid=X[12_000:18_000], y_valid=y[12_000:18_000]
    )
    parts = model.predict_parts(X[18_000:])
    p_true = 1 / (1 + np.exp(-(X["a"][18_000:] - 1)))
    assert stats.spearmanr(parts["p_purchase"], p_true)[0] > 0.9
    assert parts["p_purchase"].mean() == pytest.approx(p_true.mean(), abs=0.02)
    np.testing.assert_allclose(
        model.predict(X[18_000:]),
        parts["p_purchase"] * np.exp(parts["mu"] + parts["sigma"] ** 2 / 2),
        rtol=1e-10,
    )


def test_clone_keeps_parameters():
    model = LGBMRevenueRegressor(loss="tweedie", tweedie_variance_power=1.3, random_state=4)
    assert clone(model).get_params() == model.get_params()


@pytest.mark.parametrize(
    ("settings", "y", "message"),
    [
        ({"loss": "mse"}, [0.0, 1.0], r"'loss' must be one of ziln, tweedie; got 'mse'"),
        (
            {"loss": "tweedie", "tweedie_variance_power": 2.5},
            [0.0, 1.0],
            r"'tweedie_variance_power' must be in \(1, 2\); got 2.5",
        ),
        ({}, [0.0, -1.0], r"y must hold finite amounts >= 0; 1 do not, e.g. \[-1.0\]"),
        ({}, [0.0, np.nan], r"y must hold finite amounts >= 0"),
        ({}, [0.0, 0.0], r"y holds no amount above zero"),
    ],
)
def test_bad_input_is_refused_with_its_reason(settings, y, message):
    X = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(ValueError, match=message):
        LGBMRevenueRegressor(**settings).fit(X, y, X_valid=X, y_valid=[0.0, 1.0])
