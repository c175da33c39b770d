"""Gamma-Gamma against the published CDNOW fit, simulated truth, quadrature and bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from tests.models.clv import CALIBRATION_END, read_cdnow_sample
from upseg.models.clv import (
    GammaGammaModel,
    SpendFrequencyWarning,
    independence_check,
    repeat_customers,
)
from upseg.models.clv.gamma_gamma import _log_likelihood_and_gradient

# Fader & Hardie (2013), note 025, on the 946 repeat customers of the CDNOW sample;
# CLVTools and lifetimes report the same fit (lifetimes rounds v to 15.45).
PAPER = {"p": 6.25, "q": 3.74, "v": 15.44}
PAPER_LOG_LIKELIHOOD = -4055.9
TRUTH = {"p": 6.0, "q": 4.0, "v": 15.0}


def model_with(params: dict[str, float]) -> GammaGammaModel:
    """A model holding given parameters, to check predictions against them."""
    model = GammaGammaModel()
    model.params_ = dict(params)
    return model


def simulate(
    params: dict[str, float], x: np.ndarray, rng: np.random.Generator, spend_grows: bool = False
) -> np.ndarray:
    """Mean spend of ``x`` transactions each ~ Gamma(p, nu), nu ~ Gamma(q, v) (shape, rate).

    With ``spend_grows`` the rate is divided by ``x``: frequent buyers spend more per purchase,
    breaking the model's independence assumption.
    """
    nu = rng.gamma(params["q"], 1 / params["v"], x.size)
    if spend_grows:
        nu = nu / x
    # the sum of x independent Gamma(p, nu) spends is Gamma(p x, nu)
    return rng.gamma(params["p"] * x, 1 / nu) / x


@pytest.fixture(scope="module")
def cdnow_repeat(shared_data) -> pd.DataFrame:
    """Frequency and mean spend of the CDNOW sample's repeat customers in the calibration.

    Same-day purchases are one transaction with their dollars summed, and
    ``monetary_value`` is the mean of the repeat transactions, the first left
    out. This convention reproduces the published 946 customers and fit; the
    mean of all transactions gives p = 14.3, q = 3.95, v = 7.29, LL = -4003.9.
    """
    sample = read_cdnow_sample(shared_data("CDNOW_sample.txt"))
    sample = sample[sample["date"] <= CALIBRATION_END]
    daily = sample.groupby(["customer_id", "date"], as_index=False)["dollars"].sum()
    daily = daily.sort_values(["customer_id", "date"])
    repeat = daily[daily.groupby("customer_id").cumcount() > 0]
    return repeat.groupby("customer_id")["dollars"].agg(frequency="size", monetary_value="mean")


# -- fitting ------------------------------------------------------------------------


def test_fit_reproduces_fader_hardie_2013(cdnow_repeat):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # r = 0.11 on CDNOW: no independence warning
        model = GammaGammaModel().fit(cdnow_repeat["frequency"], cdnow_repeat["monetary_value"])
    assert model.n_customers_ == 946
    for name, published in PAPER.items():
        assert model.params_[name] == pytest.approx(published, abs=0.01), name
    assert model.log_likelihood_ == pytest.approx(PAPER_LOG_LIKELIHOOD, abs=0.1)
    assert not model.independence_.correlated
    assert model.independence_.pearson_r == pytest.approx(0.114, abs=0.001)
    assert "fitted: p=6.25" in repr(model)


@pytest.mark.parametrize("params", [(6.25, 3.74, 15.44), (0.5, 8.0, 2.0)])
def test_gradient_matches_finite_differences(cdnow_repeat, params):
    x, m = cdnow_repeat["frequency"].to_numpy(float), cdnow_repeat["monetary_value"].to_numpy()

    def value(theta):
        return _log_likelihood_and_gradient(np.exp(theta), x, m)[0].sum()

    theta, step = np.log(params), 1e-5
    central = [(value(theta + e) - value(theta - e)) / (2 * step) for e in step * np.eye(3)]
    gradient = _log_likelihood_and_gradient(np.exp(theta), x, m)[1].sum(axis=0)
    np.testing.assert_allclose(gradient, central, rtol=1e-6, atol=1e-4)


def test_fit_recovers_simulated_parameters():
    rng = np.random.default_rng(2005)
    x = rng.integers(1, 11, 20_000).astype(float)
    m = simulate(TRUTH, x, rng)
    model = GammaGammaModel().fit(x, m)
    # Standard errors of the log-parameters from the observed information (the Hessian of
    # the log-likelihood by differences of the analytic gradient): 0.058, 0.013 and 0.069
    # here, so 4 standard errors are 23%, 5% and 28% of p, q and v.
    theta, step = np.log([model.params_[k] for k in TRUTH]), 1e-5

    def gradient(t):
        return _log_likelihood_and_gradient(np.exp(t), x, m)[1].sum(axis=0)

    hessian = np.array(
        [(gradient(theta + e) - gradient(theta - e)) / (2 * step) for e in step * np.eye(3)]
    )
    se = np.sqrt(np.diag(np.linalg.inv(-(hessian + hessian.T) / 2)))
    assert np.all(se < 0.1), se  # the check below means something
    for (name, true), estimate, error in zip(TRUTH.items(), theta, se, strict=True):
        assert abs(estimate - np.log(true)) < 4 * error, (name, np.exp(estimate), error)


def test_fit_accepts_pandas_and_lists_and_returns_self(cdnow_repeat):
    head = cdnow_repeat.head(300)
    model = GammaGammaModel()
    assert model.fit(head["frequency"], head["monetary_value"]) is model
    again = GammaGammaModel().fit(head["frequency"].tolist(), head["monetary_value"].tolist())
    assert again.params_ == pytest.approx(model.params_)


def test_repeat_customers_keeps_repeat_buyers_with_spend():
    mask = repeat_customers([0, 1, 2, 3, 4], [10.0, 0.0, -1.0, np.nan, 5.0])
    assert mask.tolist() == [False, False, False, False, True]


# -- predictions --------------------------------------------------------------------


def test_conditional_expectation_matches_quadrature():
    p, q, v = PAPER.values()
    model = model_with(PAPER)
    cases = [(0, np.nan), (1, 20.0), (3, 5.0), (12, 80.0), (40, 35.0)]
    for x, m in cases:
        # nu | x, m ~ Gamma(p x + q, v + m x); the expected spend of a transaction is p / nu
        shape, rate = p * x + q, v + (m * x if x else 0.0)
        reference = integrate.quad(
            lambda nu, shape=shape, rate=rate: p / nu * stats.gamma.pdf(nu, shape, scale=1 / rate),
            0,
            np.inf,
        )[0]
        got = model.conditional_expected_average_profit([x], [m])[0]
        assert got == pytest.approx(reference, rel=1e-7), (x, m)
    population = model.conditional_expected_average_profit([0, 0], [1.0, 1e6])
    assert population == pytest.approx([p * v / (q - 1)] * 2)


def test_conditional_expectation_shrinks_towards_the_population_mean():
    model = model_with(PAPER)
    population = model.conditional_expected_average_profit([0], [0.0])[0]
    frequencies = np.array([1, 5, 25, 125])
    high = model.conditional_expected_average_profit(frequencies, np.full(4, 100.0))
    assert np.all((high > population) & (high < 100)) and np.all(np.diff(high) > 0)
    assert model.conditional_expected_average_profit([1], [0.0])[0] > 0  # zero spend is allowed


def test_infinite_mean_spend_is_refused():
    model = model_with({"p": 0.2, "q": 0.9, "v": 10.0})
    with pytest.raises(ValueError, match=r"infinite for 1 customer\(s\) with frequency \[0\]"):
        model.conditional_expected_average_profit([0, 3], [0.0, 12.0])
    # p x + q > 1 for a repeat customer: the posterior mean exists
    assert np.isfinite(model.conditional_expected_average_profit([3], [12.0])).all()


# -- independence of spend and frequency ----------------------------------------------


def test_independence_check_agrees_with_numpy_and_rank_correlation():
    rng = np.random.default_rng(11)
    x = rng.integers(1, 11, 2_000).astype(float)
    m = simulate(TRUTH, x, rng, spend_grows=True)
    check = independence_check(x, m)
    assert check.pearson_r == pytest.approx(np.corrcoef(x, m)[0, 1], rel=1e-12)
    ranks = np.corrcoef(stats.rankdata(x), stats.rankdata(m))[0, 1]
    assert check.spearman_rho == pytest.approx(ranks, rel=1e-12)
    assert check.n == 2_000 and check.correlated and check.pearson_p < 1e-10


def test_fit_warns_when_spend_grows_with_frequency():
    rng = np.random.default_rng(12)
    x = rng.integers(1, 11, 5_000).astype(float)
    with pytest.warns(SpendFrequencyWarning, match=r"correlated \(Pearson r = 0\.[3-9]"):
        model = GammaGammaModel().fit(x, simulate(TRUTH, x, rng, spend_grows=True))
    assert model.independence_.correlated


def test_fit_is_quiet_when_spend_is_independent_of_frequency():
    rng = np.random.default_rng(13)
    x = rng.integers(1, 11, 5_000).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = GammaGammaModel().fit(x, simulate(TRUTH, x, rng))
    assert not model.independence_.correlated
    assert model.independence_.message.startswith("No material correlation")


def test_independence_check_of_constant_values_says_it_cannot_tell():
    check = independence_check([2, 2, 2], [10.0, 11.0, 12.0])
    assert np.isnan(check.pearson_r) and not check.correlated
    assert "cannot be compared" in check.message


# -- errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frequency", "monetary_value", "message"),
    [
        ([0, 2], [5.0, 7.0], r"'frequency' must be whole .* >= 1; got 1 bad .*\[0\]: \[0.0\]"),
        ([1.5, 2], [5.0, 7.0], r"'frequency' must be whole numbers.*\[1.5\]"),
        ([1, 2], [0.0, 7.0], r"'monetary_value' must be > 0 and finite;.*\[0.0\]"),
        ([1, 2], [5.0, np.nan], r"'monetary_value' must be > 0 .*positions \[1\]: \[nan\]"),
        ([1, 2], [5.0, -np.inf], r"'monetary_value' must be > 0 and finite"),
        ([1, 2], [5.0], r"must have the same length; got 2 and 1"),
        ([[1]], [5.0], r"'frequency' must be 1-dimensional"),
        (["a", 1], [5.0, 7.0], r"'frequency' must be numbers"),
        ([0, 2], [-5.0, 7.0], r"^2 error\(s\) in the arguments of GammaGammaModel.fit"),
        ([0, 2], [5.0, 7.0], r"filter with repeat_customers\(frequency, monetary_value\)"),
    ],
)
def test_bad_fit_input_is_named(frequency, monetary_value, message):
    with pytest.raises(ValueError, match=message):
        GammaGammaModel().fit(frequency, monetary_value)


@pytest.mark.parametrize(
    ("frequency", "monetary_value", "message"),
    [
        ([-1, 2], [5.0, 7.0], r"'frequency' must be whole .* >= 0; .*\[-1.0\]"),
        ([1, 2], [-5.0, 7.0], r"'monetary_value' must be >= 0 and finite where 'frequency' >= 1"),
        ([1, 2], [np.nan, 7.0], r"conditional_expected_average_profit: 'monetary_value'"),
    ],
)
def test_bad_prediction_input_is_named(frequency, monetary_value, message):
    with pytest.raises(ValueError, match=message):
        model_with(PAPER).conditional_expected_average_profit(frequency, monetary_value)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"max_iter": 0}, r"'max_iter' must be a positive int; got 0"),
        ({"max_iter": True}, r"'max_iter' must be a positive int; got True"),
        ({"tol": 0}, r"'tol' must be a positive number; got 0"),
        ({"max_iter": 1.5, "tol": -1}, r"^2 error\(s\) in GammaGammaModel parameters"),
    ],
)
def test_bad_settings_are_named_at_fit(settings, message):
    with pytest.raises(ValueError, match=message):
        GammaGammaModel(**settings).fit([1, 2], [5.0, 7.0])


def test_fit_without_customers_and_predicting_before_fit_say_so():
    with pytest.raises(ValueError, match="needs at least one repeat customer; got 0"):
        GammaGammaModel().fit([], [])
    with pytest.raises(ValueError, match="not fitted yet; call 'fit'"):
        GammaGammaModel().conditional_expected_average_profit([1], [5.0])


def test_fit_warns_when_it_stops_early(cdnow_repeat):
    with pytest.warns(RuntimeWarning, match="stopped before converging after 1 iterations"):
        GammaGammaModel(max_iter=1).fit(cdnow_repeat["frequency"], cdnow_repeat["monetary_value"])
