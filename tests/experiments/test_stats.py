"""experiments.stats against statsmodels and scipy on the same inputs, and its input errors."""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_effectsize,
    proportions_ztest,
)
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW, ttest_ind

from upseg.experiments.stats import (
    CORRECTIONS,
    SRM_THRESHOLD,
    Lift,
    adjust_p_values,
    bootstrap_diff_ci,
    cuped,
    mde_means,
    mde_proportion,
    mean_lift,
    proportion_lift,
    roi,
    sample_size_proportions,
    srm_test,
)

# (successes_arm, n_arm, successes_control, n_control): equal and unequal n, small n,
# rates near 0 and near 1, a zero arm.
COUNTS = [
    (120, 1000, 100, 1000),
    (30, 250, 45, 400),
    (3, 20, 1, 15),
    (7, 40_000, 2, 38_000),
    (995, 1000, 981, 1000),
    (0, 500, 3, 480),
    (52, 64_000, 640, 64_000),
]


def _delta_ratio_se(m1: float, var_m1: float, m0: float, var_m0: float) -> float:
    """Delta-method se of m1/m0 via squared coefficients of variation (an independent form)."""
    return abs(m1 / m0) * math.sqrt(var_m1 / m1**2 + var_m0 / m0**2)


def _samples(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Named pairs (arm, control) of per-customer outcomes."""
    rng = np.random.default_rng(sum(map(ord, name)))
    if name == "normal":
        return rng.normal(10.5, 3, 800), rng.normal(10, 3, 800)
    if name == "unequal_n_and_sd":
        return rng.normal(5, 1, 300), rng.normal(4.8, 4, 2000)
    if name == "small":
        return np.array([1.0, 4.0, 2.5]), np.array([0.5, 2.0, 1.0, 3.0])
    if name == "zero_inflated":
        buyers1, buyers0 = rng.random(5000) < 0.03, rng.random(4000) < 0.02
        return (
            np.where(buyers1, rng.lognormal(3, 1, 5000), 0.0),
            np.where(buyers0, rng.lognormal(3, 1, 4000), 0.0),
        )
    if name == "binary":
        return (rng.random(3000) < 0.05).astype(float), (rng.random(3100) < 0.04).astype(float)
    raise KeyError(name)


SAMPLES = ["normal", "unequal_n_and_sd", "small", "zero_inflated", "binary"]


# --------------------------------------------------------------------------- proportion_lift


@pytest.mark.parametrize("alpha", [0.05, 0.1])
@pytest.mark.parametrize("counts", COUNTS)
def test_proportion_lift_matches_statsmodels(counts, alpha):
    x1, n1, x0, n0 = counts
    lift = proportion_lift(x1, n1, x0, n0, alpha=alpha)
    low, high = confint_proportions_2indep(
        x1, n1, x0, n0, method="wald", compare="diff", alpha=alpha
    )
    assert lift.abs_lift == pytest.approx(x1 / n1 - x0 / n0, abs=1e-12)
    assert lift.abs_lift_ci_low == pytest.approx(low, abs=1e-9)
    assert lift.abs_lift_ci_high == pytest.approx(high, abs=1e-9)
    _, p_value = proportions_ztest([x1, x0], [n1, n0])
    assert lift.p_value == pytest.approx(p_value, abs=1e-9)
    table = [[x1, n1 - x1], [x0, n0 - x0]]
    assert lift.p_value == pytest.approx(
        scipy_stats.chi2_contingency(table, correction=False).pvalue, abs=1e-9
    )
    assert lift.method == "z_test"


@pytest.mark.parametrize("counts", [c for c in COUNTS if c[2] > 0])
def test_proportion_lift_relative_interval_is_the_delta_method(counts):
    x1, n1, x0, n0 = counts
    p1, p0 = x1 / n1, x0 / n0
    lift = proportion_lift(x1, n1, x0, n0)
    assert lift.rel_lift == pytest.approx(p1 / p0 - 1, abs=1e-12)
    if x1 == 0:  # the CV form divides by p1; the interval is then ± z sqrt(Var(p1)) / p0
        se = math.sqrt(p1 * (1 - p1) / n1) / p0
    else:
        se = _delta_ratio_se(p1, p1 * (1 - p1) / n1, p0, p0 * (1 - p0) / n0)
    z = scipy_stats.norm.ppf(0.975)
    assert lift.rel_lift_ci_low == pytest.approx(lift.rel_lift - z * se, abs=1e-9)
    assert lift.rel_lift_ci_high == pytest.approx(lift.rel_lift + z * se, abs=1e-9)


@pytest.mark.parametrize(
    ("counts", "abs_lift", "p_value"),
    [
        ((0, 100, 0, 250), 0.0, 1.0),
        ((100, 100, 250, 250), 0.0, 1.0),
        ((20, 20, 0, 30), 1.0, None),  # unpooled se 0, pooled se > 0
    ],
)
def test_proportion_lift_degenerate_rates_never_warn(counts, abs_lift, p_value):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lift = proportion_lift(*counts)
    assert lift.abs_lift == lift.abs_lift_ci_low == lift.abs_lift_ci_high == abs_lift
    if p_value is not None:
        assert lift.p_value == p_value
    else:
        assert 0 <= lift.p_value < 1e-6


def test_proportion_lift_relative_is_nan_without_control_conversions():
    lift = proportion_lift(5, 100, 0, 100)
    assert all(math.isnan(v) for v in (lift.rel_lift, lift.rel_lift_ci_low, lift.rel_lift_ci_high))
    assert lift.abs_lift == pytest.approx(0.05)


def test_proportion_lift_relative_collapses_when_both_rates_are_one():
    lift = proportion_lift(40, 40, 60, 60)
    assert lift.rel_lift == lift.rel_lift_ci_low == lift.rel_lift_ci_high == 0.0


def test_lift_as_dict_is_plain():
    lift = proportion_lift(np.int64(12), np.int64(100), 10, 100)
    record = lift.as_dict()
    assert list(record) == [f for f in Lift.__dataclass_fields__]
    assert {type(v) for v in record.values()} == {float, str}


# --------------------------------------------------------------------------- mean_lift


@pytest.mark.parametrize("alpha", [0.05, 0.2])
@pytest.mark.parametrize("name", SAMPLES)
def test_mean_lift_matches_statsmodels_and_scipy(name, alpha):
    y1, y0 = _samples(name)
    lift = mean_lift(y1, y0, alpha=alpha)
    low, high = CompareMeans(DescrStatsW(y1), DescrStatsW(y0)).tconfint_diff(
        alpha=alpha, usevar="unequal"
    )
    assert lift.abs_lift == pytest.approx(y1.mean() - y0.mean(), abs=1e-12)
    assert lift.abs_lift_ci_low == pytest.approx(low, abs=1e-9)
    assert lift.abs_lift_ci_high == pytest.approx(high, abs=1e-9)
    assert lift.p_value == pytest.approx(ttest_ind(y1, y0, usevar="unequal")[1], abs=1e-9)
    assert lift.p_value == pytest.approx(
        scipy_stats.ttest_ind(y1, y0, equal_var=False).pvalue, abs=1e-9
    )
    assert lift.method == "welch"


@pytest.mark.parametrize("name", SAMPLES)
def test_mean_lift_relative_interval_is_the_delta_method(name):
    y1, y0 = _samples(name)
    lift = mean_lift(y1, y0, alpha=0.1)
    m1, m0 = y1.mean(), y0.mean()
    se = _delta_ratio_se(m1, y1.var(ddof=1) / y1.size, m0, y0.var(ddof=1) / y0.size)
    z = scipy_stats.norm.ppf(0.95)
    assert lift.rel_lift == pytest.approx(m1 / m0 - 1, abs=1e-12)
    assert lift.rel_lift_ci_low == pytest.approx(m1 / m0 - 1 - z * se, abs=1e-9)
    assert lift.rel_lift_ci_high == pytest.approx(m1 / m0 - 1 + z * se, abs=1e-9)


def test_mean_lift_constant_arms_never_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same = mean_lift([2.0, 2.0], [2.0, 2.0, 2.0])
        different = mean_lift([3.0, 3.0], [2.0, 2.0, 2.0])
        no_control_mean = mean_lift([1.0, 2.0], [0.0, 0.0])
    assert (same.p_value, same.abs_lift_ci_low, same.abs_lift_ci_high) == (1.0, 0.0, 0.0)
    assert (different.p_value, different.abs_lift_ci_low) == (0.0, 1.0)
    assert math.isnan(no_control_mean.rel_lift)


def test_mean_lift_accepts_bool_outcomes():
    y1 = np.array([True, False, True, True])
    y0 = np.array([False, False, True, False])
    assert mean_lift(y1, y0) == mean_lift(y1.astype(float), y0.astype(float))


# --------------------------------------------------------------------------- bootstrap


@pytest.mark.parametrize("name", ["zero_inflated", "normal"])  # sparse and dense paths
def test_bootstrap_matches_scipy_percentile(name):
    y1, y0 = _samples(name)
    y1, y0 = y1[:1500], y0[:1200]
    n_resamples = 20_000
    ours = bootstrap_diff_ci(y1, y0, n_resamples=n_resamples, seed=1)
    reference = scipy_stats.bootstrap(
        (y1, y0),
        statistic=lambda a, b, axis: a.mean(axis=axis) - b.mean(axis=axis),
        method="percentile",
        vectorized=True,
        n_resamples=n_resamples,
        batch=500,
        rng=np.random.default_rng(2),
    ).confidence_interval
    width = reference.high - reference.low
    # Monte-Carlo sd of a 2.5% percentile from 20 000 resamples is ~0.5% of the width for
    # a normal statistic, so two independent runs differ by ~0.7%; 4% is > 5 sd.
    assert ours[0] == pytest.approx(reference.low, abs=0.04 * width)
    assert ours[1] == pytest.approx(reference.high, abs=0.04 * width)


def test_bootstrap_is_close_to_welch_on_a_normal_sample():
    y1, y0 = _samples("normal")
    low, high = bootstrap_diff_ci(y1, y0, n_resamples=20_000)
    welch = mean_lift(y1, y0)
    width = welch.abs_lift_ci_high - welch.abs_lift_ci_low
    assert low == pytest.approx(welch.abs_lift_ci_low, abs=0.04 * width)
    assert high == pytest.approx(welch.abs_lift_ci_high, abs=0.04 * width)


def test_bootstrap_is_reproducible_and_seeded():
    y1, y0 = _samples("zero_inflated")
    first = bootstrap_diff_ci(y1, y0, seed=7)
    assert bootstrap_diff_ci(y1, y0, seed=7) == first
    assert bootstrap_diff_ci(y1, y0, seed=8) != first


def test_bootstrap_is_fast_on_zero_inflated_revenue():
    rng = np.random.default_rng(3)
    n = 64_000
    y1 = np.where(rng.random(n) < 0.01, rng.lognormal(3, 1, n), 0.0)
    y0 = np.where(rng.random(n) < 0.01, rng.lognormal(3, 1, n), 0.0)
    start = time.perf_counter()
    low, high = bootstrap_diff_ci(y1, y0, n_resamples=2000)
    elapsed = time.perf_counter() - start
    assert low < y1.mean() - y0.mean() < high
    assert elapsed < 1.0, f"bootstrap took {elapsed:.2f} s"


def test_bootstrap_of_all_zero_arms_is_zero():
    assert bootstrap_diff_ci(np.zeros(10), np.zeros(12)) == (0.0, 0.0)


# --------------------------------------------------------------------------- CUPED


@pytest.mark.parametrize("correlation", [0.0, 0.3, 0.9, -0.6])
def test_cuped_theta_is_the_ols_slope_and_reduction_is_r_squared(correlation):
    rng = np.random.default_rng(int(10 * correlation) + 20)
    x = rng.lognormal(2, 0.8, 3000)
    y = correlation * (x - x.mean()) / x.std() + math.sqrt(1 - correlation**2) * rng.normal(
        size=3000
    )
    result = cuped(y, x)
    covariance = np.cov(x, y)
    assert result.theta == pytest.approx(covariance[0, 1] / covariance[0, 0], abs=1e-9)
    slope = sm.OLS(y, sm.add_constant(x)).fit().params[1]
    assert result.theta == pytest.approx(slope, abs=1e-9)
    assert result.variance_reduction == pytest.approx(np.corrcoef(x, y)[0, 1] ** 2, abs=1e-9)
    assert result.adjusted.shape == y.shape
    assert result.adjusted.mean() == pytest.approx(y.mean(), abs=1e-9)
    assert result.adjusted == pytest.approx(y - result.theta * (x - x.mean()), abs=1e-12)


def test_cuped_without_variation_is_a_no_op():
    y = np.array([1.0, 3.0, 2.0])
    constant_x = cuped(y, np.full(3, 0.1))
    assert (constant_x.theta, constant_x.variance_reduction) == (0.0, 0.0)
    assert constant_x.adjusted == pytest.approx(y)
    assert cuped(np.full(3, 5.0), [1.0, 2.0, 4.0]).variance_reduction == 0.0


# --------------------------------------------------------------------------- SRM


@pytest.mark.parametrize(
    ("observed", "planned"),
    [
        ({"control": 5000, "email": 5100}, None),
        ({"control": 5000, "email": 5600}, None),
        ({"control": 1000, "a": 4100, "b": 3900}, {"control": 0.1, "a": 0.45, "b": 0.45}),
        ({"control": 10, "email": 90}, {"email": 9, "control": 1}),  # weights, any order
        ({"control": 0, "email": 3}, None),
    ],
)
def test_srm_matches_scipy_chisquare(observed, planned):
    result = srm_test(observed, planned)
    counts = np.array(list(observed.values()), dtype=float)
    shares = (
        np.full(len(observed), 1 / len(observed))
        if planned is None
        else np.array([planned[a] for a in observed]) / sum(planned.values())
    )
    expected = counts.sum() * shares
    reference = scipy_stats.chisquare(counts, expected)
    assert result.p_value == pytest.approx(reference.pvalue, abs=1e-12)
    assert result.expected == pytest.approx(dict(zip(observed, expected, strict=True)))
    assert result.flagged == (reference.pvalue < SRM_THRESHOLD)


def test_srm_flags_a_broken_split_and_reports_plainly():
    result = srm_test({"control": 5000, "email": 5600}, threshold=0.01)
    assert result.flagged
    record = result.as_dict()
    assert record == {
        "p_value": result.p_value,
        "flagged": True,
        "observed": {"control": 5000, "email": 5600},
        "expected": {"control": 5300.0, "email": 5300.0},
        "threshold": 0.01,
    }
    assert type(record["p_value"]) is float and type(record["flagged"]) is bool
    assert not srm_test({"control": 5000, "email": 5010}).flagged


# --------------------------------------------------------------------------- multiplicity


P_VALUES = [
    [0.01, 0.04, 0.03, 0.2, 0.5],
    [0.001, np.nan, 0.02, 0.02, 0.9, np.nan, 0.04],
    [0.5],
    [0.0, 1.0, 0.3, 0.3, 0.3],
]


@pytest.mark.parametrize(("method", "reference"), [("bh", "fdr_bh"), ("holm", "holm")])
@pytest.mark.parametrize("p_values", P_VALUES)
def test_adjust_p_values_matches_statsmodels(p_values, method, reference):
    p = np.array(p_values)
    adjusted = adjust_p_values(p, method)
    present = ~np.isnan(p)
    assert np.array_equal(np.isnan(adjusted), ~present)
    expected = multipletests(p[present], method=reference)[1]
    np.testing.assert_allclose(adjusted[present], expected, rtol=0, atol=1e-12)


def test_adjust_p_values_none_and_empty():
    p = np.array([0.2, np.nan, 0.01])
    np.testing.assert_array_equal(adjust_p_values(p, "none"), p)
    assert adjust_p_values([], "bh").shape == (0,)
    assert np.isnan(adjust_p_values([np.nan, np.nan])).all()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=30))
def test_adjusted_p_values_are_ordered(p_values):
    bh, holm = adjust_p_values(p_values, "bh"), adjust_p_values(p_values, "holm")
    p = np.array(p_values)
    assert (bh >= p - 1e-15).all() and (holm >= bh - 1e-15).all() and (holm <= 1).all()
    np.testing.assert_allclose(bh, multipletests(p, method="fdr_bh")[1], atol=1e-12)


# --------------------------------------------------------------------------- power


def _statsmodels_power(baseline: float, lift: float, n_control: float, ratio: float, alpha):
    """Power of statsmodels' NormalIndPower at the arcsine effect of ``baseline -> + lift``."""
    effect = proportion_effectsize(baseline + lift, baseline)
    return NormalIndPower().power(effect, n_control, alpha, ratio=ratio)


@pytest.mark.parametrize(
    ("baseline", "mde", "alpha", "power", "ratio"),
    [
        (0.1, 0.01, 0.05, 0.8, 1.0),
        (0.02, 0.005, 0.05, 0.9, 1.0),
        (0.3, 0.05, 0.01, 0.8, 2.0),
        (0.5, -0.03, 0.1, 0.7, 0.5),
        (0.001, 0.002, 0.05, 0.8, 9.0),
        (0.9, 0.05, 0.05, 0.95, 1.5),
        (0.05, 0.2, 0.2, 0.3, 1.0),
    ],
)
def test_sample_size_matches_statsmodels(baseline, mde, alpha, power, ratio):
    size = sample_size_proportions(baseline, mde, alpha=alpha, power=power, ratio=ratio)
    effect = proportion_effectsize(baseline + mde, baseline)
    nobs1 = NormalIndPower().solve_power(
        effect_size=effect, alpha=alpha, power=power, ratio=ratio, alternative="two-sided"
    )
    # statsmodels' nobs1 is the first group and its ratio is nobs2 / nobs1: ours are
    # n_control and n_arm / n_control.
    assert size.n_control == math.ceil(nobs1)
    assert size.n_arm == math.ceil(ratio * nobs1)
    assert size.total == size.n_control + size.n_arm
    assert (
        _statsmodels_power(baseline, mde, size.n_control, size.n_arm / size.n_control, alpha)
        >= power
    )
    assert (size.baseline, size.mde, size.alpha, size.power, size.ratio) == (
        baseline,
        mde,
        alpha,
        power,
        ratio,
    )


@pytest.mark.parametrize(
    ("baseline", "n_control", "n_arm", "alpha", "power"),
    [
        (0.1, 14_745, 14_745, 0.05, 0.8),
        (0.02, 50_000, 10_000, 0.05, 0.9),
        (0.0, 1000, 1000, 0.05, 0.8),
        (0.7, 300, 900, 0.1, 0.6),
        (0.3, 5, 5, 0.2, 0.3),
    ],
)
def test_mde_proportion_gives_the_requested_power(baseline, n_control, n_arm, alpha, power):
    lift = mde_proportion(baseline, n_control, n_arm, alpha=alpha, power=power)
    assert 0 < lift <= 1 - baseline
    attained = _statsmodels_power(baseline, lift, n_control, n_arm / n_control, alpha)
    assert attained == pytest.approx(power, abs=1e-6)


def test_mde_proportion_is_nan_when_no_rate_is_detectable():
    assert math.isnan(mde_proportion(0.99, 3, 3))
    assert math.isnan(mde_proportion(1.0, 10_000, 10_000))


def test_mde_proportion_inverts_sample_size():
    size = sample_size_proportions(0.1, 0.01)
    assert mde_proportion(0.1, size.n_control, size.n_arm) == pytest.approx(0.01, rel=1e-3)
    assert mde_proportion(0.1, size.n_control, size.n_arm) <= 0.01


@pytest.mark.parametrize(
    ("sd", "n", "alpha", "power"),
    [(1.0, 100, 0.05, 0.8), (42.0, 20_000, 0.05, 0.9), (3.0, 7, 0.1, 0.5)],
)
def test_mde_means_matches_statsmodels(sd, n, alpha, power):
    mde = mde_means(sd, sd, n, n, alpha=alpha, power=power)
    attained = NormalIndPower().power(mde / sd, n, alpha, ratio=1.0)
    assert attained == pytest.approx(power, abs=1e-9)


@pytest.mark.parametrize(("alpha", "power"), [(0.05, 0.8), (0.01, 0.9)])
def test_mde_means_is_the_closed_form_up_to_the_far_tail(alpha, power):
    z = scipy_stats.norm.isf(alpha / 2) + scipy_stats.norm.ppf(power)
    # The closed form ignores the far rejection tail (~1e-6 of power here); statsmodels does not.
    assert mde_means(2.0, 2.0, 500, 500, alpha=alpha, power=power) == pytest.approx(
        z * 2.0 * math.sqrt(2 / 500), rel=1e-5
    )


def test_mde_means_with_unequal_arms_has_the_requested_power():
    se = math.sqrt(30.0**2 / 5000 + 45.0**2 / 1000)
    mde = mde_means(30.0, 45.0, 5000, 1000)
    crit = scipy_stats.norm.isf(0.025)
    power = scipy_stats.norm.sf(crit - mde / se) + scipy_stats.norm.cdf(-crit - mde / se)
    assert power == pytest.approx(0.8, abs=1e-12)
    z = crit + scipy_stats.norm.ppf(0.8)
    assert mde == pytest.approx(z * se, rel=1e-5)


def test_roi():
    assert roi(1500.0, 1000.0) == pytest.approx(50.0)
    assert roi(-200.0, 100.0) == pytest.approx(-300.0)
    assert math.isnan(roi(100.0, 0.0))


# --------------------------------------------------------------------------- errors


BAD_CALLS = [
    (lambda: proportion_lift(5, 0, 1, 10), r"'n_arm' must be an integer >= 1; got 0"),
    (lambda: proportion_lift(11, 10, 1, 10), r"'successes_arm' .* \[0, n_arm=10\]; got 11"),
    (lambda: proportion_lift(1, 10, -1, 10), r"'successes_control' .*; got -1"),
    (lambda: proportion_lift(1, 10, 1, 10.0), r"'n_control' must be an integer >= 1; got 10.0"),
    (lambda: proportion_lift(1, 10, 1, 10, alpha=1.5), r"'alpha' must be .* \(0, 1\); got 1.5"),
    (
        lambda: proportion_lift(-1, 10, 1, 0),
        r"2 error\(s\) in proportion_lift .*'successes_arm'.*'n_control'",
    ),
    (lambda: mean_lift([1.0, np.nan, np.nan], [1.0, 2.0]), r"'y_arm' .* NaN; got 2 of 3: drop"),
    (lambda: mean_lift([1.0, 2.0], [1.0]), r"'y_control' must have at least 2 values; got 1"),
    (lambda: mean_lift([[1.0, 2.0]], [1.0, 2.0]), r"'y_arm' must be 1-D .*got shape \(1, 2\)"),
    (lambda: mean_lift([1.0, np.inf], [1.0, 2.0]), r"'y_arm' must be finite; got 1 infinite"),
    (lambda: mean_lift(["a", "b"], [1.0, 2.0]), r"'y_arm' must be numeric or bool; got dtype"),
    (lambda: bootstrap_diff_ci([1.0, 2.0], [1.0, 2.0], n_resamples=0), r"'n_resamples' .*got 0"),
    (lambda: bootstrap_diff_ci([1.0, 2.0], [1.0, 2.0], seed=-1), r"'seed' .*got -1"),
    (lambda: cuped([1.0, 2.0, 3.0], [1.0, 2.0]), r"'y' and 'x' .* same length; got 3 and 2"),
    (lambda: cuped([1.0, np.nan], [1.0, 2.0]), r"'y' must not contain NaN; got 1 of 2"),
    (lambda: srm_test({"control": 10}), r"'observed' must have at least 2 arms; got \['control'\]"),
    (lambda: srm_test({"a": 10, "b": -1}), r"'observed' counts .*>= 0; got \{'b': -1\}"),
    (lambda: srm_test({"a": 0, "b": 0}), r"'observed' must count at least one customer"),
    (
        lambda: srm_test({"a": 10, "b": 12}, {"a": 0.5, "c": 0.5}),
        r"'planned' must name exactly the observed arms; missing: \['b'\], extra: \['c'\]",
    ),
    (lambda: srm_test({"a": 10, "b": 12}, {"a": 1, "b": 0}), r"'planned' shares .*\{'b': 0\}"),
    (lambda: srm_test({"a": 10, "b": 12}, threshold=0), r"'threshold' .*\(0, 1\); got 0"),
    (
        lambda: adjust_p_values([0.1], "bonferroni"),
        r"'method' must be one of \('bh', 'holm', 'none'\); got 'bonferroni'",
    ),
    (lambda: adjust_p_values([0.1, 1.2]), r"'p_values' must be in \[0, 1\] or NaN; got \[1.2\]"),
    (lambda: sample_size_proportions(1.2, 0.01), r"--baseline must be a rate in \(0, 1\); got 1.2"),
    (lambda: sample_size_proportions(0.1, 0), r"--mde must be a non-zero .*; got 0"),
    (
        lambda: sample_size_proportions(0.95, 0.1),
        r"--mde must keep --baseline \+ --mde in \(0, 1\)",
    ),
    (lambda: sample_size_proportions(0.1, 0.01, alpha=0), r"--alpha must be .*\(0, 1\); got 0"),
    (lambda: sample_size_proportions(0.1, 0.01, power=1), r"--power must be .*\(0, 1\); got 1"),
    (
        lambda: sample_size_proportions(0.1, 0.01, alpha=0.1, power=0.05),
        r"--power must be greater than --alpha=0.1; got 0.05",
    ),
    (lambda: sample_size_proportions(0.1, 0.01, ratio=-2), r"--ratio .* > 0; got -2"),
    (lambda: mde_proportion(0.1, 0, 10), r"--n-control must be an integer >= 1; got 0"),
    (lambda: mde_proportion(-0.1, 10, 10), r"--baseline must be a rate in \[0, 1\]; got -0.1"),
    (lambda: mde_means(-1.0, 1.0, 10, 10), r"--sd-control must be .*>= 0; got -1.0"),
    (lambda: mde_means(1.0, 1.0, 10, 2.5), r"--n-arm must be an integer >= 1; got 2.5"),
    (lambda: roi(100.0, -5.0), r"'cost' must be a finite number >= 0; got -5.0"),
    (lambda: roi(math.nan, 5.0), r"'incremental_revenue' must be a finite number; got nan"),
]


@pytest.mark.parametrize(("call", "message"), BAD_CALLS)
def test_bad_inputs_name_the_argument_and_value(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_corrections_are_the_documented_ones():
    assert CORRECTIONS == ("bh", "holm", "none")
