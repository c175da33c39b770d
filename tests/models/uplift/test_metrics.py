"""Uplift metrics against scikit-uplift, hand computations and simulated truth; figures."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom, spearmanr
from sklift import metrics as sk

from upseg.models.plots import FIGSIZE, save_figure
from upseg.models.uplift.metrics import (
    auuc,
    best_variant_metrics,
    is_binary,
    oracle_qini_share,
    qini_auc,
    qini_auc_ci,
    qini_curve,
    spearman,
    uplift_at,
    uplift_by_decile,
    uplift_curve,
    uplift_metrics,
)
from upseg.models.uplift.metrics.bootstrap import _resample_counts, _weighted_qini_auc
from upseg.models.uplift.plots import qini_figure, uplift_by_decile_figure, uplift_curve_figure

# scikit-uplift 0.5.1 calls sklearn's deprecated stable_cumsum and pandas' set_index(inplace=).
pytestmark = [
    pytest.mark.filterwarnings("ignore:Function stable_cumsum is deprecated:FutureWarning"),
    pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.set_index"),
]

# Eight customers, highest predicted uplift first, with a revenue outcome.
#   rank  score  arm  revenue
#     1    0.8    T     10
#     2    0.7    C      0
#     3    0.6    T      6
#     4    0.5    C      2
#     5    0.4    T      0
#     6    0.3    C      4
#     7    0.2    T      4
#     8    0.1    C      8
SCORE = np.array([0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
ARM = np.array([1, 0, 1, 0, 1, 0, 1, 0])
REVENUE = np.array([10.0, 0, 6, 2, 0, 4, 4, 8])
# Qini Q(k) = Y_t(k) - Y_c(k) N_t(k) / N_c(k), or Y_t(k) while N_c(k) = 0:
#   k=1: 10            k=2: 10 - 0*1/1 = 10   k=3: 16 - 0*2/1 = 16   k=4: 16 - 2*2/2 = 14
#   k=5: 16 - 2*3/2 = 13   k=6: 16 - 6*3/3 = 10   k=7: 20 - 6*4/3 = 12   k=8: 20 - 14*4/4 = 6
HAND_QINI = [0, 10, 10, 16, 14, 13, 10, 12, 6]
# Trapezoids of width 1: 5 + 10 + 13 + 15 + 13.5 + 11.5 + 11 + 9 = 88; random line 8 * 6 / 2 = 24.
HAND_QINI_AUC = (88 - 24) / 8
# Uplift U(k) = (Y_t / N_t - Y_c / N_c) k, a mean being 0 while its arm is empty:
#   k=1: 10*1 = 10   k=2: (10 - 0)*2 = 20   k=3: (8 - 0)*3 = 24   k=4: (8 - 1)*4 = 28
#   k=5: (16/3 - 1)*5 = 65/3   k=6: (16/3 - 2)*6 = 20   k=7: (5 - 2)*7 = 21   k=8: (5 - 3.5)*8 = 12
HAND_UPLIFT = [0, 10, 20, 24, 28, 65 / 3, 20, 21, 12]
# Trapezoids: 5 + 15 + 22 + 26 + 149/6 + 125/6 + 20.5 + 16.5 = 452/3; random line 8 * 12 / 2 = 48.
HAND_AUUC = (452 / 3 - 48) / 8


def _shuffled(*arrays, seed=7):
    order = np.random.default_rng(seed).permutation(len(arrays[0]))
    return tuple(np.asarray(a)[order] for a in arrays)


def _binary_world(n=4000, seed=0, ties=False):
    """Conversion with a treatment effect growing with x; a noisy score of it."""
    rng = np.random.default_rng(seed)
    x = rng.random(n)
    t = (rng.random(n) < 0.5).astype(float)
    true_uplift = 0.1 * x
    y = (rng.random(n) < 0.1 + 0.1 * x + true_uplift * t).astype(float)
    score = x + rng.normal(0, 0.2, n)
    return y, (score.round(1) if ties else score), t, true_uplift


def _revenue_world(n=2000, seed=0, slope=2.0):
    """Revenue whose effect is 0.5 + slope * x, x ~ U(0, 1); the score is x itself."""
    rng = np.random.default_rng(seed)
    x = rng.random(n)
    t = (rng.random(n) < 0.5).astype(float)
    y = 5 + 3 * x + (0.5 + slope * x) * t + rng.normal(0, 4, n)
    return y, x, t


# -- curves and areas against scikit-uplift ----------------------------------------------------


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize(
    ("ours", "reference"), [(qini_curve, sk.qini_curve), (uplift_curve, sk.uplift_curve)]
)
def test_curves_have_the_points_of_scikit_uplift_on_binary_outcomes(ours, reference, ties):
    y, score, t, _ = _binary_world(ties=ties)
    x, values = ours(y, score, t)
    x_ref, values_ref = reference(y, score, t)
    np.testing.assert_array_equal(x, x_ref)
    np.testing.assert_allclose(values, values_ref, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("ties", [False, True])
def test_areas_equal_scikit_uplift_on_binary_outcomes(ties):
    y, score, t, _ = _binary_world(ties=ties)
    assert qini_auc(y, score, t) == pytest.approx(sk.qini_auc_score(y, score, t), rel=1e-12)
    assert auuc(y, score, t) == pytest.approx(sk.uplift_auc_score(y, score, t), rel=1e-12)
    # The un-normalised area is the same area, measured from the random line.
    x, q = sk.qini_curve(y, score, t)
    area = np.trapezoid(q, x) - x[-1] * q[-1] / 2
    assert qini_auc(y, score, t, normalize=False) == pytest.approx(area / len(y), rel=1e-12)


@pytest.mark.parametrize("k", [0.1, 0.2, 0.3, 0.5, 0.9])
def test_uplift_at_equals_scikit_uplift_overall_strategy(k):
    y, score, t, _ = _binary_world(n=1000, ties=True)
    expected = sk.uplift_at_k(y, score, t, strategy="overall", k=k)
    assert uplift_at(y, score, t, k) == pytest.approx(expected, rel=1e-12)


def test_uplift_by_decile_equals_scikit_uplift_by_percentile():
    y, score, t, _ = _binary_world(n=1003, ties=True)
    ours = uplift_by_decile(y, score, t)
    ref = sk.uplift_by_percentile(y, score, t, strategy="overall", std=True)
    assert ours["percentile"].tolist() == ref.index.tolist()
    np.testing.assert_array_equal(ours["n_treatment"], ref["n_treatment"])
    np.testing.assert_array_equal(ours["n_control"], ref["n_control"])
    np.testing.assert_allclose(ours["mean_treatment"], ref["response_rate_treatment"])
    np.testing.assert_allclose(ours["mean_control"], ref["response_rate_control"])
    np.testing.assert_allclose(ours["uplift"], ref["uplift"])
    np.testing.assert_allclose(ours["se_uplift"], ref["std_uplift"])


# -- continuous outcomes by hand ---------------------------------------------------------------


def test_curves_of_a_continuous_outcome_match_the_hand_computation():
    y, score, t = _shuffled(REVENUE, SCORE, ARM)
    x, q = qini_curve(y, score, t)
    np.testing.assert_array_equal(x, np.arange(9))
    np.testing.assert_allclose(q, HAND_QINI)
    _, u = uplift_curve(y, score, t)
    np.testing.assert_allclose(u, HAND_UPLIFT)


def test_areas_of_a_continuous_outcome_match_the_hand_computation():
    y, score, t = _shuffled(REVENUE, SCORE, ARM)
    assert qini_auc(y, score, t) == pytest.approx(HAND_QINI_AUC)  # 8.0
    assert auuc(y, score, t) == pytest.approx(HAND_AUUC)  # 77 / 6
    assert qini_auc(y, score, t, normalize=False) == pytest.approx(HAND_QINI_AUC)


@pytest.mark.parametrize(
    ("k", "expected"),
    [
        (0.25, 10 - 0),  # top 2: T {10}, C {0}
        (0.5, (10 + 6) / 2 - (0 + 2) / 2),  # top 4: 8 - 1 = 7
        (0.3, 10 - 0),  # floor(2.4) = 2
        (1.0, (10 + 6 + 0 + 4) / 4 - (0 + 2 + 4 + 8) / 4),  # everyone: 5 - 3.5
        (0.125, math.nan),  # top 1 holds no control customer
    ],
)
def test_uplift_at_of_a_continuous_outcome_matches_the_hand_computation(k, expected):
    y, score, t = _shuffled(REVENUE, SCORE, ARM)
    assert uplift_at(y, score, t, k) == pytest.approx(expected, nan_ok=True)


def test_uplift_by_decile_of_a_continuous_outcome_matches_the_hand_computation():
    y, score, t = _shuffled(REVENUE, SCORE, ARM)
    table = uplift_by_decile(y, score, t, bins=2)
    # Top half: T {10, 6} mean 8, plug-in variance 4; C {0, 2} mean 1, variance 1.
    # Bottom half: T {0, 4} mean 2, variance 4; C {4, 8} mean 6, variance 4.
    assert table["percentile"].tolist() == ["0-50", "50-100"]
    np.testing.assert_array_equal(table["n_treatment"], [2, 2])
    np.testing.assert_allclose(table["mean_treatment"], [8, 2])
    np.testing.assert_allclose(table["mean_control"], [1, 6])
    np.testing.assert_allclose(table["uplift"], [7, -4])
    np.testing.assert_allclose(table["se_uplift"], [math.sqrt(4 / 2 + 1 / 2), math.sqrt(4)])


def test_is_binary():
    assert is_binary([0, 1, 1]) and is_binary([True, False]) and is_binary([0.0, 0.0])
    assert not is_binary([0, 1, 2]) and not is_binary([0.5]) and not is_binary([])
    assert not is_binary(["a", "b"]) and not is_binary([0, np.nan])


# -- known answers: perfect, random, oracle ----------------------------------------------------


def test_perfect_ranking_scores_one_and_the_oracle_shares_all():
    y, score, t, true_uplift = _binary_world()
    # scikit-uplift's perfect ranking: treated converters first, control converters last.
    assert qini_auc(y, y * t - y * (1 - t), t) == pytest.approx(1.0)
    assert oracle_qini_share(y, true_uplift, true_uplift, t) == pytest.approx(1.0)
    assert oracle_qini_share(y, 3 * true_uplift + 1, true_uplift, t) == pytest.approx(1.0)
    assert 0.3 < oracle_qini_share(y, score, true_uplift, t) < 1.2


def test_random_scores_give_zero_within_the_simulated_spread():
    y, _, t, _ = _binary_world(n=2000)
    rng = np.random.default_rng(3)
    null = np.array([qini_auc(y, rng.random(len(y)), t) for _ in range(300)])
    # Spread of the Qini coefficient of random rankings on these customers; the mean of 300
    # draws must be within 4 standard errors of zero, a single draw within 4 sd.
    spread = null.std(ddof=1)
    assert 0.01 < spread < 0.2
    assert abs(null.mean()) < 4 * spread / math.sqrt(len(null))
    assert abs(qini_auc(y, np.random.default_rng(4).random(len(y)), t)) < 4 * spread


def test_spearman_is_scipys():
    y, score, t, true_uplift = _binary_world(n=500)
    assert spearman(score, true_uplift) == pytest.approx(spearmanr(score, true_uplift).statistic)
    assert math.isnan(spearman(score, np.ones(500)))


# -- bootstrap ---------------------------------------------------------------------------------


def test_bootstrap_weights_reproduce_explicitly_resampled_customers():
    y, score, t, _ = _binary_world(n=3000, ties=True)
    rows = np.random.default_rng(5).integers(0, len(y), len(y))
    weights = np.bincount(rows, minlength=len(y))[None, :].astype(float)
    for normalized in (True, False):
        resampled = qini_auc(y[rows], score[rows], t[rows], normalize=normalized)
        (weighted,) = _weighted_qini_auc(y, score, t, weights, normalized)
        assert weighted == pytest.approx(resampled, rel=1e-10)


def test_bootstrap_resamples_keep_every_stratum_size():
    strata = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])
    counts = _resample_counts(strata, 50, np.random.default_rng(0))
    for stratum in range(4):
        np.testing.assert_array_equal(
            counts[:, strata == stratum].sum(axis=1), (strata == stratum).sum()
        )


def test_bootstrap_is_deterministic_with_a_seed():
    y, score, t, _ = _binary_world(n=2000)
    first = qini_auc_ci(y, score, t, n_boot=50, random_state=11)
    assert first == qini_auc_ci(y, score, t, n_boot=50, random_state=11)
    assert first != qini_auc_ci(y, score, t, n_boot=50, random_state=12)
    assert first.low < qini_auc(y, score, t) < first.high and first.sd > 0


@pytest.mark.parametrize("outcome", ["revenue", "conversion"])
def test_bootstrap_interval_covers_the_truth_as_often_as_it_says(outcome):
    # A 95% interval must miss the truth in about 5% of experiments: not more (too narrow),
    # and not less (too wide, or the test would pass with an interval from -inf to inf).
    # Over 250 simulated experiments the number covered is Binomial(250, 0.95) for a
    # correct interval; the band holds it with probability 0.999.
    n, repetitions, level = 1000, 250, 0.95
    if outcome == "revenue":
        # Ranking on x with effect 0.5 + b x, treated share pi: the expected Qini curve is
        # n pi p (mean effect in the top p), so the area over random, divided by n, is
        # n pi * integral_0^1 p (b (1 - p / 2) - b / 2) dp = n pi b / 12.
        truth = n * 0.5 * 2.0 / 12
        samples = [_revenue_world(n, seed) for seed in range(repetitions)]
    else:
        # The normalised coefficient of this model on the population, from a million customers.
        y, score, t, _ = _binary_world(n=1_000_000, seed=99)
        truth = qini_auc(y, score, t)
        samples = [_binary_world(n, seed)[:3] for seed in range(repetitions)]
    covered = sum(
        ci.low <= truth <= ci.high
        for ci in (
            qini_auc_ci(*sample, level=level, random_state=seed)
            for seed, sample in enumerate(samples)
        )
    )
    low, high = binom.ppf(0.0005, repetitions, level), binom.isf(0.0005, repetitions, level)
    assert low / repetitions >= 0.90 and high / repetitions <= 0.99  # the band is informative
    assert low <= covered <= high, f"{covered} of {repetitions} intervals cover the truth"


# -- the logged metrics ------------------------------------------------------------------------


def test_uplift_metrics_on_a_binary_outcome():
    y, score, t, _ = _binary_world(n=20_000)
    metrics = uplift_metrics(y, score, t, n_boot=100)
    assert set(metrics) == {
        "qini_auc",
        "qini_normalized",
        "qini_auc_ci_low",
        "qini_auc_ci_high",
        "qini_auc_sd",
        "beats_random",
        "auuc",
        "uplift_at_10",
        "uplift_at_20",
        "uplift_at_30",
        "n",
        "n_treatment",
        "n_control",
    }
    assert all(isinstance(value, float) for value in metrics.values())
    assert metrics["qini_auc"] == pytest.approx(sk.qini_auc_score(y, score, t))
    assert metrics["uplift_at_10"] == pytest.approx(sk.uplift_at_k(y, score, t, "overall", 0.1))
    assert metrics["qini_normalized"] == 1.0 and metrics["beats_random"] == 1.0
    assert metrics["n"] == 20_000 and metrics["n_treatment"] + metrics["n_control"] == 20_000


def test_uplift_metrics_says_when_a_model_cannot_beat_random():
    y, score, t = _revenue_world(n=2000)
    useless = np.random.default_rng(1).random(len(y))
    metrics = uplift_metrics(y, useless, t)
    assert metrics["qini_normalized"] == 0.0
    assert metrics["beats_random"] == 0.0 and metrics["qini_auc_ci_low"] <= 0
    assert uplift_metrics(y, score, t)["beats_random"] == 1.0


# -- several variants --------------------------------------------------------------------------


def test_best_variant_metrics_matches_a_hand_computation():
    # Shares: control 1/2, A 1/6, B 1/3, so matched customers weigh 2, 6 and 3.
    #   arm  A   B   y   recommended
    #   c   -1  -1   1   control  matched, weight 2
    #   c    1   0   0   A
    #   c   -1  -2   2   control  matched, weight 2
    #   A    2   1   6   A        matched, weight 6
    #   B    0   3   4   B        matched, weight 3
    #   B    1  -1   9   A
    arm = np.array(["c", "c", "c", "A", "B", "B"], dtype=object)
    scores = pd.DataFrame({"A": [-1, 1, -1, 2, 0, 1], "B": [-1, 0, -2, 1, 3, -1]})
    y = np.array([1.0, 0, 2, 6, 4, 9])
    result = best_variant_metrics(y, arm, scores, "c", n_boot=20)
    overall = result.overall
    assert overall["policy_value"] == pytest.approx((2 * 1 + 2 * 2 + 6 * 6 + 3 * 4) / 13)
    assert overall["control_value"] == pytest.approx(1.0)
    assert overall["policy_gain"] == pytest.approx(54 / 13 - 1)
    assert overall["best_arm_value"] == pytest.approx(6.5)  # B: (4 + 9) / 2
    assert overall["share_control_recommended"] == pytest.approx(2 / 6)
    assert overall["n_matched"] == 4 and overall["n"] == 6
    table = result.per_variant
    assert table.index.tolist() == ["A", "B"]
    assert table["n"].tolist() == [4.0, 5.0] and table["n_treatment"].tolist() == [1.0, 2.0]
    assert table["share_recommended"].tolist() == pytest.approx([3 / 6, 1 / 6])
    # Variant A against control (rows 1-4): qini_auc is the area over random of that pair.
    pair = np.array([0, 1, 2, 3])
    assert table.loc["A", "qini_auc"] == pytest.approx(
        qini_auc(y[pair], scores["A"][pair], arm[pair] == "A")
    )
    assert overall["qini_auc_weighted"] == pytest.approx(
        np.average(table["qini_auc"], weights=[4, 5])
    )


def test_best_variant_metrics_on_a_three_arm_experiment():
    # A helps customers with x > 0.5, B those below; sending the right one beats either for all.
    rng = np.random.default_rng(0)
    n = 9000
    x = rng.random(n)
    arm = rng.choice(np.array(["control", "A", "B"], dtype=object), size=n)
    effect = pd.DataFrame({"A": 0.15 * (x - 0.5), "B": 0.15 * (0.5 - x)})
    received = np.select([arm == "A", arm == "B"], [effect["A"], effect["B"]], 0.0)
    y = (rng.random(n) < 0.2 + received).astype(float)
    result = best_variant_metrics(y, arm, effect, "control", n_boot=50)
    assert (result.per_variant["beats_random"] == 1.0).all()
    assert result.per_variant["share_recommended"].sum() == pytest.approx(1.0, abs=1e-3)
    assert result.overall["policy_gain"] > 0.02
    assert result.overall["policy_gain_over_best_arm"] > 0


# -- bad input ---------------------------------------------------------------------------------

Y4, S4, T4 = np.array([0, 1, 0, 1]), np.array([0.4, 0.3, 0.2, 0.1]), np.array([1, 1, 0, 0])
Y4_REVENUE = np.array([0.0, 12.5, 3.0, 0.0])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: qini_auc(Y4, S4[:3], T4), r"same length; got 'y_true' 4, 'uplift' 3"),
        (
            lambda: qini_auc(Y4, S4, [0, 1, 2, 1]),
            r"only 0 \(control\) and 1 \(treated\); got values 0, 1, 2",
        ),
        (lambda: auuc(Y4, S4, [1, 1, 1, 1]), r"must contain both arms.*got only 1 \(n=4\)"),
        (lambda: qini_auc(Y4, [0.1, np.nan, 0.2, 0.3], T4), r"'uplift' must not contain missing"),
        (
            lambda: qini_auc(Y4, [0.1, np.inf, 0.2, 0.3], T4),
            r"'uplift' must be finite; got 1 infinite",
        ),
        (lambda: qini_auc(["a", "b", "c", "d"], S4, T4), r"'y_true' must be numeric or bool"),
        (
            lambda: qini_auc(Y4.reshape(2, 2), S4, T4),
            r"'y_true' must be 1-D of shape \(n_samples,\); got shape \(2, 2\)",
        ),
        (lambda: qini_curve([], [], []), r"must not be empty; got 0 rows"),
        (
            lambda: qini_auc(Y4, [0.1, np.nan, 0.2, 0.3], [0, 0, 0, 0]),
            r"^2 error\(s\) in qini_auc arguments: 'uplift' must not.*; "
            r"'treatment' must contain both",
        ),
        (
            lambda: qini_auc(Y4_REVENUE, S4, T4, normalize=True),
            r"needs a 0/1 'y_true'.*got values 0, 3, 12.5.*normalize=False",
        ),
        (
            lambda: auuc([0, 0, 0, 0], S4, T4),
            r"needs both outcomes 0 and 1 in 'y_true'; got only 0",
        ),
        (
            lambda: qini_auc(Y4, S4, T4, normalize="yes"),
            r"'normalize' must be True, False or None; got 'yes'",
        ),
        (lambda: uplift_at(Y4, S4, T4, 0), r"'k' must be a number in \(0, 1\]; got 0"),
        (lambda: uplift_at(Y4, S4, T4, 1.5), r"'k' must be a number in \(0, 1\]; got 1.5"),
        (lambda: uplift_at(Y4, S4, T4, True), r"'k' must be a number in \(0, 1\]; got True"),
        (lambda: uplift_by_decile(Y4, S4, T4, bins=0), r"'bins' must be an integer >= 1; got 0"),
        (
            lambda: uplift_by_decile(Y4, S4, T4, bins=5),
            r"'bins' must be at most the number of customers \(4\); got 5",
        ),
        (lambda: qini_auc_ci(Y4, S4, T4, n_boot=1), r"'n_boot' must be an integer >= 2; got 1"),
        (
            lambda: qini_auc_ci(Y4, S4, T4, level=95),
            r"'level' must be a number in \(0, 1\); got 95",
        ),
        (lambda: oracle_qini_share(Y4, S4, S4[:2], T4), r"'true_uplift' 2"),
        (lambda: spearman(S4, S4[:3]), r"spearman arguments: all arrays must have the same length"),
        (
            lambda: best_variant_metrics(Y4, ["c", "A", "A", "c"], {"A": S4}, "c"),
            r"must be a pandas DataFrame.*got dict",
        ),
        (
            lambda: best_variant_metrics(
                Y4, ["c", "A", "A", "c"], pd.DataFrame({"A": S4, "B": S4}), "ctrl"
            ),
            r"'control' must be one of the arms in 'arm' \['A', 'c'\]; got 'ctrl'.*"
            r"\['B'\] never occur",
        ),
        (
            lambda: best_variant_metrics(Y4, ["c", "A", "A"], pd.DataFrame({"A": S4[:3]}), "c"),
            r"^2 error\(s\).*'y_true' and 'arm' must have the same length; got 4 and 3; "
            r"'uplift_by_variant' must have one row per customer \(4\); got 3",
        ),
        (
            lambda: best_variant_metrics(
                Y4, ["c", "A", "A", "c"], pd.DataFrame({"A": S4, "c": S4}), "c"
            ),
            r"must not have a column for the control 'c'",
        ),
    ],
)
def test_bad_input_is_reported_with_what_was_given(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# -- figures -----------------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["conversion", "revenue"])
def test_figures_write_non_empty_pngs(tmp_path, outcome):
    if outcome == "conversion":
        y, score, t, true_uplift = _binary_world(n=3000)
    else:
        y, score, t = _revenue_world(n=3000)
        true_uplift = score
    open_before = plt.get_fignums()
    figures = {
        "qini": qini_figure(y, {"Model": score, "Oracle": true_uplift}, t),
        "uplift": uplift_curve_figure(y, {"Model": score}, t, outcome="revenue"),
        "deciles": uplift_by_decile_figure(y, score, t),
    }
    assert plt.get_fignums() == open_before
    for name, fig in figures.items():
        assert tuple(fig.get_size_inches()) == FIGSIZE
        path = save_figure(fig, tmp_path / outcome / f"{name}.png")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_qini_figure_legend_gives_each_models_coefficient():
    y, score, t, true_uplift = _binary_world(n=3000)
    fig = qini_figure(y, {"Model": score}, t)
    labels = [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    assert labels[0] == f"Model (Qini = {qini_auc(y, score, t):.3f})"
    assert labels[1].startswith("Perfect ranking") and labels[2] == "Random targeting"
    y, score, t = _revenue_world(n=3000)
    fig = qini_figure(y, {"Model": score}, t)
    labels = [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    gain = qini_auc(y, score, t)
    assert labels == [f"Model (mean gain over random = {gain:.3g})", "Random targeting"]
    plt.close(fig)


def test_figures_reject_an_empty_mapping():
    with pytest.raises(ValueError, match=r"'uplifts' argument of qini_figure must be a non-empty"):
        qini_figure(Y4, {}, T4)
