"""Calibrated uplift: against statsmodels, hand computations and planted truths."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.stats import binom, norm, sem

from upseg.models.uplift.calibration import (
    BLPResult,
    blp_test,
    calibrated_uplift,
    decile_calibration,
    dr_pseudo_outcome,
    ipw_pseudo_outcome,
)
from upseg.models.uplift.metrics import uplift_by_decile

REPETITIONS = 200


def _band(repetitions: int, probability: float) -> tuple[float, float]:
    """Counts of successes a correct procedure lands in with probability 0.999."""
    low, high = binom.ppf([0.0005, 0.9995], repetitions, probability)
    return float(low), float(high)


def _experiment(
    rng: np.random.Generator, tau: np.ndarray, *, base: float = 0.3, p: float = 0.4
) -> tuple[np.ndarray, np.ndarray]:
    """0/1 outcomes and assignments of a randomised campaign with true effects ``tau``."""
    converts = base + tau
    assert converts.min() > 0 and converts.max() < 1, "the planted effect must keep rates valid"
    t = (rng.random(len(tau)) < p).astype(float)
    y = (rng.random(len(tau)) < base + tau * t).astype(float)
    return y, t


# -- the regression against statsmodels --------------------------------------------------------


@pytest.mark.parametrize("n", [12, 3000])
def test_blp_matches_statsmodels_ols_with_hc3(n: int) -> None:
    rng = np.random.default_rng(n)
    s = rng.lognormal(-3, 0.8, n)  # skewed predictions: a few points of high leverage
    psi = 0.01 + 0.6 * (s - s.mean()) + rng.standard_t(3, n) * (0.5 + 5 * s)
    result = blp_test(psi, s, alpha=0.1)

    centred = sm.OLS(psi, sm.add_constant(s - s.mean())).fit(cov_type="HC3")
    raw = sm.OLS(psi, sm.add_constant(s)).fit(cov_type="HC3")
    ci = centred.conf_int(alpha=0.1)
    assert result.ate == pytest.approx(centred.params[0], rel=1e-9)
    assert result.slope == pytest.approx(centred.params[1], rel=1e-9)
    assert result.ate_se == pytest.approx(centred.bse[0], rel=1e-9)
    assert result.slope_se == pytest.approx(centred.bse[1], rel=1e-9)
    assert result.ate_ci == pytest.approx(tuple(ci[0]), rel=1e-9)
    assert result.slope_ci == pytest.approx(tuple(ci[1]), rel=1e-9)
    assert result.heterogeneity_p == pytest.approx(centred.pvalues[1] / 2, rel=1e-9)
    assert result.intercept == pytest.approx(raw.params[0], rel=1e-9, abs=1e-12)
    assert (result.n, result.alpha) == (n, 0.1)
    assert result.predicted_mean == pytest.approx(s.mean())
    if n == 12:  # HC3, not HC1, where it matters
        hc1 = sm.OLS(psi, sm.add_constant(s - s.mean())).fit(cov_type="HC1")
        assert abs(result.slope_se - hc1.bse[1]) > 0.05 * hc1.bse[1]


def test_heterogeneity_p_is_one_sided() -> None:
    s = np.linspace(0, 1, 50)
    noise = np.sin(np.arange(50) * 7.0)
    up, down = blp_test(s + noise, s), blp_test(-s - noise, s)
    assert up.slope > 0 > down.slope
    assert up.heterogeneity_p == pytest.approx(norm.sf(up.slope / up.slope_se))
    assert up.heterogeneity_p + down.heterogeneity_p == pytest.approx(1)
    assert up.heterogeneous() and not down.heterogeneous()


def test_calibration_r2_is_the_identity_line_r2_over_bins() -> None:
    s = np.array([1.0, 2.0, 3.0, 4.0])
    # realised = predicted / 3: 1 - sum((2s/3)^2) / sum((s - 2.5)^2 / 9) = 1 - (120/9) / (5/9)
    assert blp_test(s / 3, s, n_bins=4).calibration_r2 == pytest.approx(-23)
    assert blp_test(s, s, n_bins=4).calibration_r2 == pytest.approx(1)
    # two bins of two: predicted 3.5 and 1.5, realised 3.5 and 1.5 plus noise that cancels
    assert blp_test(s + [0.1, -0.1, 0.1, -0.1], s, n_bins=2).calibration_r2 == pytest.approx(1)
    assert np.isnan(blp_test(np.array([1.0, -1, 1, -1]), s, n_bins=2).calibration_r2)


# -- the deciles -----------------------------------------------------------------------------


def test_decile_calibration_against_a_groupby() -> None:
    rng = np.random.default_rng(1)
    n = 1003
    s = rng.permutation(n) / n  # distinct scores: bin k holds the k-th block of ranks
    psi = rng.normal(s, 1)
    table = decile_calibration(psi, s, n_bins=10, alpha=0.1)

    sizes = [101, 101, 101] + [100] * 7
    rank = n - 1 - np.argsort(np.argsort(s))  # 0 = highest score
    frame = pd.DataFrame(
        {"psi": psi, "s": s, "bin": np.searchsorted(np.cumsum(sizes), rank, "right") + 1}
    )
    grouped = frame.groupby("bin")
    assert table["n"].tolist() == sizes == grouped.size().tolist()
    np.testing.assert_allclose(table["predicted_mean"], grouped["s"].mean(), rtol=1e-12)
    np.testing.assert_allclose(table["realised_mean"], grouped["psi"].mean(), rtol=1e-12)
    np.testing.assert_allclose(table["realised_se"], grouped["psi"].agg(sem), rtol=1e-12)
    half = norm.ppf(0.95) * table["realised_se"]
    np.testing.assert_allclose(table["realised_high"], table["realised_mean"] + half, rtol=1e-12)
    np.testing.assert_allclose(table["realised_low"], table["realised_mean"] - half, rtol=1e-12)
    # the same customers in the same bins as uplift_by_decile
    by_decile = uplift_by_decile(psi, s, (rng.random(n) < 0.5).astype(int))
    assert (by_decile["n_treatment"] + by_decile["n_control"]).tolist() == sizes
    assert table["percentile"].tolist() == by_decile["percentile"].tolist()
    assert table["bin"].tolist() == list(range(1, 11))
    assert table["predicted_mean"].is_monotonic_decreasing


# -- planted truths ------------------------------------------------------------------------------


@pytest.mark.parametrize("b", [0.0, 0.5, 1.0])
def test_slope_interval_covers_the_planted_slope(b: float) -> None:
    rng = np.random.default_rng(int(10 * b))
    covered = ate_covered = 0
    for _ in range(REPETITIONS):
        s = rng.normal(0.05, 0.06, 4000)
        tau = 0.02 + b * (s - s.mean())
        y, t = _experiment(rng, tau)
        result = blp_test(ipw_pseudo_outcome(y, t, 0.4), s)
        covered += result.slope_ci[0] <= b <= result.slope_ci[1]
        ate_covered += result.ate_ci[0] <= tau.mean() <= result.ate_ci[1]
    low, high = _band(REPETITIONS, 0.95)
    assert low <= covered <= high
    assert low <= ate_covered <= high


def test_no_heterogeneity_shrinks_to_the_average_effect() -> None:
    rng = np.random.default_rng(7)
    shrunk = 0
    eb_slopes, raw_slopes = [], []
    for _ in range(REPETITIONS):
        s = rng.normal(0.05, 0.06, 4000)
        y, t = _experiment(rng, np.full(len(s), 0.02))
        result = blp_test(ipw_pseudo_outcome(y, t, 0.4), s)
        calibrated = calibrated_uplift(s, result)
        if np.all(calibrated == result.ate):
            shrunk += 1
        else:
            np.testing.assert_allclose(
                calibrated, result.ate + result.slope * (s - s.mean()), rtol=1e-12
            )
        eb = calibrated_uplift(s, result, shrinkage="empirical_bayes")
        eb_slopes.append(np.polyfit(s, eb, 1)[0])
        raw_slopes.append(result.slope)
    # a one-sided 5% test holds back the slope in 95% of worlds without heterogeneity
    low, high = _band(REPETITIONS, 0.95)
    assert low <= shrunk <= high
    assert np.mean(np.abs(eb_slopes)) < 0.3 * np.mean(np.abs(raw_slopes))


@pytest.mark.parametrize("seed", range(5))
def test_calibration_recovers_predictions_three_times_too_large(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n = 200_000  # the top fifth's predicted total is then known to about 7%
    tau = 0.03 + 0.04 * rng.standard_normal(n)
    s = 3 * (tau + 0.02 * rng.standard_normal(n))  # a noisy ranking, three times too large
    y, t = _experiment(rng, tau, base=0.25, p=0.5)
    held_out, audience = np.arange(n) < n // 2, np.arange(n) >= n // 2
    result = blp_test(ipw_pseudo_outcome(y, t, 0.5)[held_out], s[held_out])
    assert result.heterogeneous()
    calibrated = calibrated_uplift(s[audience], result)

    top = np.argsort(-s[audience])[: len(calibrated) // 5]
    truth = tau[audience][top].sum()
    assert s[audience][top].sum() / truth > 2.5
    assert 0.8 <= calibrated[top].sum() / truth <= 1.25
    assert np.array_equal(np.argsort(calibrated), np.argsort(s[audience]))


def test_calibrated_predictions_are_calibrated_in_sample() -> None:
    rng = np.random.default_rng(3)
    s = rng.normal(0.1, 0.1, 20_000)
    y, t = _experiment(rng, (s - 0.1) / 2 + 0.05, base=0.4)
    psi = ipw_pseudo_outcome(y, t, 0.4)
    result = blp_test(psi, s)
    again = blp_test(psi, calibrated_uplift(s, result))
    assert again.slope == pytest.approx(1)
    assert again.intercept == pytest.approx(0, abs=1e-12)
    assert again.ate == pytest.approx(result.ate)
    assert again.calibration_r2 > result.calibration_r2


@pytest.mark.parametrize(
    ("slope", "slope_se", "used"),
    [(0.5, 0.25, 0.375), (0.5, 0.5, 0.0), (0.2, 0.3, 0.0), (-0.3, 0.01, 0.0), (2.0, 0.1, 1.995)],
)
def test_empirical_bayes_shrinkage(slope: float, slope_se: float, used: float) -> None:
    blp = BLPResult(
        ate=0.02,
        ate_se=0.01,
        ate_ci=(0.0, 0.04),
        slope=slope,
        slope_se=slope_se,
        slope_ci=(slope - 2 * slope_se, slope + 2 * slope_se),
        heterogeneity_p=0.5,
        intercept=0.0,
        calibration_r2=0.0,
        n=100,
        predicted_mean=0.1,
        alpha=0.05,
    )
    s = np.array([0.0, 0.1, 0.3])
    out = calibrated_uplift(s, blp, shrinkage="empirical_bayes")
    np.testing.assert_allclose(out, 0.02 + used * (s - 0.1), rtol=1e-12)
    np.testing.assert_allclose(calibrated_uplift(s, blp), 0.02)  # p = 0.5: no heterogeneity
    detected = dataclasses.replace(blp, heterogeneity_p=0.01)
    expected = 0.02 + max(slope, 0) * (s - 0.1)
    np.testing.assert_allclose(calibrated_uplift(s, detected), expected, rtol=1e-12)
    np.testing.assert_allclose(calibrated_uplift(s, detected, alpha=0.005), 0.02)


# -- the pseudo-outcomes -------------------------------------------------------------------------


def test_ipw_pseudo_outcome_by_hand() -> None:
    y, t = np.array([1.0, 0, 1, 2.5]), np.array([1, 1, 0, 0])
    np.testing.assert_allclose(ipw_pseudo_outcome(y, t, 0.25), [4, 0, -4 / 3, -2.5 / 0.75])
    p = np.array([0.5, 0.2, 0.8, 0.5])
    np.testing.assert_allclose(ipw_pseudo_outcome(y, t, p), [2, 0, -5, -5])
    zeros = np.zeros(4)
    np.testing.assert_allclose(dr_pseudo_outcome(y, t, p, zeros, zeros), [2, 0, -5, -5])
    # mu1 - mu0 + t (y - mu1) / p - (1 - t) (y - mu0) / (1 - p)
    mu0, mu1 = np.full(4, 0.5), np.full(4, 0.75)
    expected = [0.25 + 0.25 / 0.5, 0.25 - 0.75 / 0.2, 0.25 - 0.5 / 0.2, 0.25 - 2 / 0.5]
    np.testing.assert_allclose(dr_pseudo_outcome(y, t, p, mu0, mu1), expected)


def test_pseudo_outcomes_are_unbiased_for_the_average_effect() -> None:
    rng = np.random.default_rng(11)
    n = 2000
    errors: dict[str, list[float]] = {"ipw": [], "dr_wrong": [], "dr_right": []}
    for _ in range(REPETITIONS):
        x = rng.random(n)
        p = 0.2 + 0.6 * x  # known, varying assignment probability
        base, tau = 0.45 + 0.4 * x, 0.08 * np.sin(6 * x)  # common conversions: IPW is noisy
        t = (rng.random(n) < p).astype(float)
        y = (rng.random(n) < base + tau * t).astype(float)
        truth = tau.mean()
        errors["ipw"].append(ipw_pseudo_outcome(y, t, p).mean() - truth)
        wrong = dr_pseudo_outcome(y, t, p, np.full(n, 0.2), np.full(n, 0.05))
        errors["dr_wrong"].append(wrong.mean() - truth)
        errors["dr_right"].append(dr_pseudo_outcome(y, t, p, base, base + tau).mean() - truth)
    for kind, error in errors.items():
        mean, spread = np.mean(error), np.std(error, ddof=1) / np.sqrt(REPETITIONS)
        assert abs(mean) < 4 * spread, kind
    assert np.std(errors["dr_right"]) < 0.8 * np.std(errors["ipw"])


# -- refusals -----------------------------------------------------------------------------------


Y, T = np.array([0.0, 1, 1, 0]), np.array([1, 0, 1, 0])
S = np.array([0.1, 0.2, 0.3, 0.4])
FIT = blp_test(Y, S)
BETWEEN = "'propensity' must lie strictly between 0 and 1"
LENGTH = "all arrays must have the same length; got"

REFUSALS = [
    (ipw_pseudo_outcome, (Y, T, 1.0), {}, rf"{BETWEEN}; got 1\.0"),
    (ipw_pseudo_outcome, (Y, T, np.nan), {}, f"{BETWEEN}; got nan"),
    (ipw_pseudo_outcome, (Y, T, "0.5"), {}, f"{BETWEEN}; got '0.5'"),
    (
        ipw_pseudo_outcome,
        (Y, T, [0.5, 0, 1, 0.5]),
        {},
        r"every customer; got 2 outside, e\.g\. 0, 1",
    ),
    (ipw_pseudo_outcome, (Y, T, [0.5, 0.5]), {}, f"{LENGTH} 'y' 4, 'treatment' 4, 'propensity' 2"),
    (ipw_pseudo_outcome, (Y[:3], T, 0.5), {}, f"{LENGTH} 'y' 3, 'treatment' 4"),
    (ipw_pseudo_outcome, ([0, np.inf, 1, 0], T, 0.5), {}, "'y' must be finite; got 1 infinite"),
    (ipw_pseudo_outcome, (Y, [1, 2, 0, 0], 0.5), {}, "'treatment' must contain only 0"),
    (dr_pseudo_outcome, (Y, T, 0.5, [0.1, np.nan, 0, 0], S), {}, "'mu0' must not contain missing"),
    (dr_pseudo_outcome, (Y, T, 0.5, S, S[:2]), {}, f"{LENGTH} .*'mu1' 2"),
    (blp_test, (Y, S[:3]), {}, f"{LENGTH} 'pseudo_outcome' 4, 'predicted_uplift' 3"),
    (
        blp_test,
        (Y, [0.1, 0.1, 0.1, 0.1]),
        {},
        r"'predicted_uplift' is constant \(0.1 for all 4 customers\), so the slope is undefined",
    ),
    (blp_test, (Y, [0, 0, 0, 1.0]), {}, r"all customers but one \(row 3\) share one"),
    (blp_test, (Y[:2], S[:2]), {}, "at least 3 customers; got 2"),
    (blp_test, (Y, S), {"alpha": 1.5}, r"'alpha' must be a number in \(0, 1\); got 1.5"),
    (blp_test, (Y, S), {"n_bins": 0}, "'n_bins' must be an integer >= 1; got 0"),
    (blp_test, (np.ones((4, 2)), S), {}, r"'pseudo_outcome' must be 1-D .*got shape \(4, 2\)"),
    (decile_calibration, (Y, S), {"n_bins": 5}, r"at most the number of customers \(4\); got 5"),
    (decile_calibration, (Y, S), {"alpha": 0}, r"'alpha' must be a number in \(0, 1\); got 0"),
    (calibrated_uplift, (S, {"ate": 0.1}), {}, "'blp' must be a BLPResult from blp_test; got dict"),
    (
        calibrated_uplift,
        (S, FIT),
        {"shrinkage": "half"},
        "one of test, empirical_bayes; got 'half'",
    ),
    (calibrated_uplift, ([0.1, np.inf], FIT), {}, "'predicted_uplift' must be finite"),
]


@pytest.mark.parametrize(("function", "args", "kwargs", "message"), REFUSALS)
def test_refusals_name_the_argument_and_what_was_given(
    function: Callable[..., object],
    args: tuple[object, ...],
    kwargs: dict[str, object],
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        function(*args, **kwargs)


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(
        ValueError, match=r"^3 error\(s\) in blp_test arguments: 'alpha'.*'n_bins'.*length"
    ):
        blp_test(Y, S[:3], alpha=-1, n_bins=0)
