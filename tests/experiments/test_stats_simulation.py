"""experiments.stats recovers known truth from seeded simulated experiments.

Coverage and error-rate bands are the nominal rate ± about 3 binomial standard errors
of the number of repetitions, sqrt(p (1 - p) / reps); they are derived, not tuned.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from upseg.experiments.stats import adjust_p_values, cuped, mean_lift, proportion_lift


def _covers(low: np.ndarray, high: np.ndarray, truth: float) -> float:
    """Share of intervals containing ``truth``."""
    return float(np.mean((low <= truth) & (truth <= high)))


def _band(rate: float, reps: int, n_se: float) -> tuple[float, float]:
    """``rate ± n_se`` binomial standard errors of a share over ``reps`` repetitions."""
    se = math.sqrt(rate * (1 - rate) / reps)
    return rate - n_se * se, rate + n_se * se


def _binary_experiments(p_arm: float, p_control: float, n: int, reps: int, seed: int):
    """Lifts of ``reps`` experiments of ``n`` customers per arm, counts drawn directly."""
    rng = np.random.default_rng(seed)
    arm = rng.binomial(n, p_arm, size=reps)
    control = rng.binomial(n, p_control, size=reps)
    return [proportion_lift(int(a), n, int(c), n) for a, c in zip(arm, control, strict=True)]


def test_binary_lift_intervals_cover_the_true_effect():
    reps, p_control, p_arm = 2000, 0.10, 0.11
    lifts = _binary_experiments(p_arm, p_control, n=5000, reps=reps, seed=11)
    low, high = _band(0.95, reps, 3.1)  # 0.95 ± 3.1 × 0.0049 ≈ 93.5%–96.5%
    abs_low = np.array([lift.abs_lift_ci_low for lift in lifts])
    abs_high = np.array([lift.abs_lift_ci_high for lift in lifts])
    assert low <= _covers(abs_low, abs_high, p_arm - p_control) <= high
    rel_low = np.array([lift.rel_lift_ci_low for lift in lifts])
    rel_high = np.array([lift.rel_lift_ci_high for lift in lifts])
    assert low <= _covers(rel_low, rel_high, p_arm / p_control - 1) <= high


def test_aa_z_test_false_positive_rate_is_nominal():
    reps = 2000
    lifts = _binary_experiments(0.10, 0.10, n=5000, reps=reps, seed=12)
    low, high = _band(0.05, reps, 3.1)  # 0.05 ± 3.1 × 0.0049 ≈ 3.5%–6.5%
    assert low <= np.mean([lift.p_value < 0.05 for lift in lifts]) <= high


def _revenue(n: int, conversion: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-inflated lognormal revenue: ``conversion`` of customers buy, lognormal(3, 1) each."""
    return np.where(rng.random(n) < conversion, rng.lognormal(3.0, 1.0, n), 0.0)


def test_welch_covers_the_true_revenue_lift_on_skewed_data():
    reps, n = 1500, 4000
    rng = np.random.default_rng(13)
    truth = (0.11 - 0.10) * math.exp(3.0 + 0.5)  # conversion lift × lognormal mean
    lifts = [mean_lift(_revenue(n, 0.11, rng), _revenue(n, 0.10, rng)) for _ in range(reps)]
    low = np.array([lift.abs_lift_ci_low for lift in lifts])
    high = np.array([lift.abs_lift_ci_high for lift in lifts])
    band = _band(0.95, reps, 3.5)  # 0.95 ± 3.5 × 0.0056 ≈ 93%–97%: skew costs a little
    assert band[0] <= _covers(low, high, truth) <= band[1]


def test_cuped_is_unbiased_narrower_and_covers():
    reps, n, effect, rho = 1500, 2000, 0.5, 0.8
    rng = np.random.default_rng(14)
    errors, covered, width_ratio = [], [], []
    for _ in range(reps):
        x = rng.gamma(2.0, 5.0, 2 * n)  # pre-period spend
        noise = rng.normal(0.0, 1.0, 2 * n)
        z = (x - 10.0) / math.sqrt(50.0)  # standardized with the gamma's true moments
        y = 20.0 + 5.0 * (rho * z + math.sqrt(1 - rho**2) * noise)
        y[:n] += effect  # the first n customers are the treated arm
        adjusted = cuped(y, x).adjusted
        plain = mean_lift(y[:n], y[n:])
        lift = mean_lift(adjusted[:n], adjusted[n:])
        errors.append(lift.abs_lift - effect)
        covered.append(lift.abs_lift_ci_low <= effect <= lift.abs_lift_ci_high)
        width_ratio.append(
            (lift.abs_lift_ci_high - lift.abs_lift_ci_low)
            / (plain.abs_lift_ci_high - plain.abs_lift_ci_low)
        )
    errors = np.array(errors)
    assert abs(errors.mean()) <= 3 * errors.std(ddof=1) / math.sqrt(reps)
    # Variance shrinks by rho^2, so the width by sqrt(1 - rho^2) = 0.6 in expectation.
    assert max(width_ratio) < 1
    assert np.mean(width_ratio) == pytest.approx(math.sqrt(1 - rho**2), abs=0.02)
    band = _band(0.95, reps, 3.5)  # 0.95 ± 3.5 × 0.0056 ≈ 93%–97%
    assert band[0] <= np.mean(covered) <= band[1]


def test_benjamini_hochberg_controls_the_false_discovery_rate():
    # z statistics of 20 independent tests per family: 15 nulls, 5 effects of 3 sd.
    reps, n_null, n_effect = 2000, 15, 5
    rng = np.random.default_rng(15)
    z = rng.normal(size=(reps, n_null + n_effect))
    z[:, n_null:] += 3.0
    p = 2 * scipy_stats.norm.sf(np.abs(z))
    is_null = np.arange(n_null + n_effect) < n_null

    def false_discovery_proportions(method: str) -> np.ndarray:
        rejected = np.array([adjust_p_values(row, method) < 0.05 for row in p])
        false = (rejected & is_null).sum(axis=1)
        return false / np.maximum(rejected.sum(axis=1), 1)

    bh = false_discovery_proportions("bh")
    # BH guarantees FDR <= 0.05 * 15/20; allow 3 Monte-Carlo standard errors above 0.05.
    assert bh.mean() <= 0.05 + 3 * bh.std(ddof=1) / math.sqrt(reps)
    unadjusted = false_discovery_proportions("none")
    assert unadjusted.mean() > 0.1  # the check has teeth: without adjustment FDR is ~0.13
