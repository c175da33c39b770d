"""Revenue (CLV) metrics against hand computations, brute-force references and simulations."""

from __future__ import annotations

import itertools
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import auc

from upseg.models.clv.metrics import (
    GREATER_IS_BETTER,
    _point,
    _ranked,
    _resampled,
    decile_calibration,
    decile_calibration_error,
    metric_interval,
    normalized_gini,
    revenue_metrics,
    spearman,
    top_decile_capture,
)
from upseg.models.clv.plots import decile_calibration_figure
from upseg.models.plots import FIGSIZE, save_figure

# Five customers; by prediction the realised revenue runs 60, 0, 30, 10, 0 (total 100).
Y = np.array([60.0, 0.0, 30.0, 10.0, 0.0])
P = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
# The second and third customers tied: they share 0 + 30, so 15 each along the curve.
P_TIED = np.array([5.0, 4.0, 4.0, 2.0, 1.0])


def _shuffled(*arrays, seed=7):
    order = np.random.default_rng(seed).permutation(len(arrays[0]))
    return tuple(np.asarray(a)[order] for a in arrays)


def _world(n=3000, seed=0):
    """Heavy-tailed revenue (80% zero), an informative prediction and a tie-heavy one."""
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(n) < 0.2, rng.lognormal(3, 1.2, n), 0.0)
    informative = np.exp(0.5 * np.log1p(y) + rng.normal(0, 1, n))
    return y, informative, np.round(informative / 10) * 10


def _kaggle_gini(actual, pred):
    """Kaggle's formula: by prediction (ties in row order), cumulative share less the line."""
    ranked = actual[np.lexsort((np.arange(len(actual)), -pred))]
    return (ranked.cumsum().sum() / ranked.sum() - (len(actual) + 1) / 2) / len(actual)


def _lorenz_gini(actual, pred):
    """Twice the area between the Lorenz curve (sklearn's trapezoids) and the diagonal."""
    ranked = actual[np.argsort(-pred, kind="stable")]
    share = np.r_[0, np.cumsum(ranked)] / ranked.sum()
    return 2 * auc(np.linspace(0, 1, len(actual) + 1), share) - 1


def _mean_over_orders(function, y, p):
    """The mean of an order-dependent ``function(y, p)`` over every order of the rows."""
    values = [function(y[list(o)], p[list(o)]) for o in itertools.permutations(range(len(y)))]
    return np.mean(values, axis=0)


# -- normalized Gini ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pred", "expected"),
    [
        # C_k = 60, 60, 90, 100, 100 (sum 410); the best order 60, 90, 100, 100, 100 (450);
        # a random order gives 100 * 6 / 2 = 300: (410 - 300) / (450 - 300).
        (P, 110 / 150),
        # tied pair shares 30: C_k = 60, 75, 90, 100, 100 (sum 425).
        (P_TIED, 125 / 150),
        (Y, 1.0),  # perfect ranking
        (Y.max() - Y, -1.0),  # exactly reversed: C_k = 0, 0, 10, 40, 100 (sum 150)
        (np.full(5, 3.0), 0.0),  # constant: no ranking at all
    ],
)
def test_normalized_gini_matches_a_hand_computation(pred, expected):
    assert normalized_gini(*_shuffled(Y, pred)) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_normalized_gini_agrees_with_kaggle_and_the_lorenz_area_without_ties(seed):
    y, informative, _ = _world(seed=seed)
    kaggle = _kaggle_gini(y, informative) / _kaggle_gini(y, y)
    assert normalized_gini(y, informative) == pytest.approx(kaggle, rel=1e-10)
    lorenz = _lorenz_gini(y, informative) / _lorenz_gini(y, y)
    assert normalized_gini(y, informative) == pytest.approx(lorenz, rel=1e-10)


def test_ties_are_the_mean_over_every_order_of_the_rows():
    y = np.array([5.0, 0.0, 20.0, 0.0, 7.0, 1.0, 0.0])
    p = np.array([2.0, 2.0, 1.0, 3.0, 1.0, 1.0, 0.0])  # blocks {3}, {0, 1}, {2, 4, 5}, {6}
    best = _kaggle_gini(y, y)
    reference = _mean_over_orders(lambda a, b: _kaggle_gini(a, b) / best, y, p)
    assert normalized_gini(y, p) == pytest.approx(reference, rel=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_a_constant_prediction_scores_exactly_zero_in_any_row_order(seed):
    y, _, _ = _world(n=501, seed=seed)
    assert normalized_gini(*_shuffled(y, np.full(501, 12.5), seed=seed)) == 0.0


def test_results_do_not_depend_on_row_order_with_ties():
    y, _, tied = _world()
    assert len(np.unique(tied)) < 100
    before = revenue_metrics(y, tied)
    table = decile_calibration(y, tied)
    for seed in range(3):
        after = revenue_metrics(*_shuffled(y, tied, seed=seed))
        assert after == pytest.approx(before, rel=1e-12)
        shuffled = decile_calibration(*_shuffled(y, tied, seed=seed))
        pd.testing.assert_frame_equal(shuffled, table, rtol=1e-12)


def test_a_random_ranking_scores_zero_in_expectation():
    y, _, _ = _world(n=400)
    rng = np.random.default_rng(1)
    values = np.array([normalized_gini(y, rng.random(400)) for _ in range(300)])
    assert abs(values.mean()) < 4 * values.std() / math.sqrt(300)
    # a prediction merely anti-correlated with revenue is above -1
    assert -1 < normalized_gini(y, 1 / (1 + y) + rng.random(400)) < -0.3


# -- Spearman ------------------------------------------------------------------------------------


def test_spearman_matches_a_hand_computation_and_scipy():
    # Average ranks of Y: 5, 1.5, 4, 3, 1.5; of P: 5, 4, 3, 2, 1; both centred on 3.
    # Covariance 4 - 1.5 + 0 + 0 + 3 = 5.5; variances 9.5 and 10.
    assert spearman(Y, P) == pytest.approx(5.5 / math.sqrt(95))
    y, informative, tied = _world()
    for pred in (informative, tied):
        assert spearman(y, pred) == pytest.approx(spearmanr(y, pred).statistic, rel=1e-12)


def test_spearman_of_a_constant_is_zero():
    assert spearman(Y, np.full(5, 2.0)) == 0.0
    assert spearman(np.full(5, 2.0), P) == 0.0


# -- top-decile capture --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pred", "share", "expected"),
    [
        (P, 0.1, 30 / 100),  # half a customer: half of 60
        (P, 0.4, 60 / 100),  # 60 + 0
        (P, 1.0, 1.0),
        (P_TIED, 0.3, 67.5 / 100),  # 1.5 customers: 60 + half of the tied pair's 15
        (P_TIED, 0.6, 90 / 100),  # 60 + 15 + 15
        (np.full(5, 1.0), 0.2, 20 / 100),  # a constant takes a fifth of everything
    ],
)
def test_top_decile_capture_matches_a_hand_computation(pred, share, expected):
    assert top_decile_capture(*_shuffled(Y, pred), share=share) == pytest.approx(expected)


@pytest.mark.parametrize("share", [0.1, 0.25, 0.5])
def test_top_decile_capture_with_ties_is_the_mean_over_row_orders(share):
    y = np.array([5.0, 0.0, 20.0, 0.0, 7.0, 1.0, 0.0])
    p = np.array([2.0, 2.0, 1.0, 3.0, 1.0, 1.0, 0.0])

    def captured(a, b):  # fractional customers along the curve, ties in row order
        ranked = a[np.argsort(-b, kind="stable")]
        curve = np.r_[0, np.cumsum(ranked)]
        return np.interp(share * len(a), np.arange(len(a) + 1), curve) / a.sum()

    reference = _mean_over_orders(captured, y, p)
    assert top_decile_capture(y, p, share=share) == pytest.approx(reference, rel=1e-12)


# -- decile calibration --------------------------------------------------------------------------

# Ten customers by prediction, five pairs; 30 is tied across pairs 2 and 3 (revenue 0, 20, 0:
# 20/3 each), 5 within pair 4 and 5.
Y10 = np.array([100.0, 0.0, 50.0, 0.0, 20.0, 0.0, 10.0, 0.0, 0.0, 20.0])
P10 = np.array([80.0, 60.0, 40.0, 30.0, 30.0, 30.0, 10.0, 5.0, 5.0, 0.0])


def test_decile_calibration_matches_a_hand_computation():
    table = decile_calibration(*_shuffled(Y10, P10), n_bins=5)
    realised = np.array([100, 50 + 20 / 3, 40 / 3, 10, 20])
    predicted = np.array([140, 70, 60, 15, 5])
    assert list(table.columns) == [
        "decile",
        "customers",
        "predicted_mean",
        "realised_mean",
        "predicted_total",
        "realised_total",
        "ratio",
        "share_of_realised",
    ]
    assert table["decile"].tolist() == [1, 2, 3, 4, 5]
    assert table["customers"].tolist() == [2] * 5
    np.testing.assert_allclose(table["predicted_total"], predicted)
    np.testing.assert_allclose(table["realised_total"], realised)
    np.testing.assert_allclose(table["predicted_mean"], predicted / 2)
    np.testing.assert_allclose(table["realised_mean"], realised / 2)
    np.testing.assert_allclose(table["ratio"], realised / predicted)
    np.testing.assert_allclose(table["share_of_realised"], realised / 200)
    # |140 - 100| + |70 - 56.67| + |60 - 13.33| + |15 - 10| + |5 - 20| = 120, of 200
    assert decile_calibration_error(table) == pytest.approx(0.6)


def test_decile_calibration_is_the_mean_over_row_orders():
    y = np.array([5.0, 0.0, 20.0, 0.0, 7.0, 1.0, 0.0])
    p = np.array([2.0, 2.0, 1.0, 3.0, 1.0, 1.0, 0.0])  # groups of 3, 2, 2 cut the block of 1s

    def totals(a, b):  # groups by a stable sort, ties in row order
        ranked = a[np.argsort(-b, kind="stable")]
        return [ranked[:3].sum(), ranked[3:5].sum(), ranked[5:].sum()]

    table = decile_calibration(y, p, n_bins=3)
    assert table["customers"].tolist() == [3, 2, 2]
    np.testing.assert_allclose(table["realised_total"], _mean_over_orders(totals, y, p))
    np.testing.assert_allclose(table["predicted_total"], [7, 2, 1])


@pytest.mark.parametrize("n", [10, 25, 1003])
def test_decile_groups_differ_by_at_most_one_and_add_up(n):
    y, informative, tied = _world(n=n, seed=n)
    for pred in (informative, tied):
        table = decile_calibration(y, pred)
        assert table["customers"].sum() == n
        assert table["customers"].max() - table["customers"].min() <= 1
        assert table["realised_total"].sum() == pytest.approx(y.sum())
        assert table["predicted_total"].sum() == pytest.approx(pred.sum())
        assert table["predicted_mean"].is_monotonic_decreasing


def test_a_calibrated_prediction_has_no_decile_error():
    y = np.repeat([0.0, 10.0, 50.0, 200.0, 1000.0], 20)
    assert decile_calibration_error(decile_calibration(y, y)) == 0.0
    assert revenue_metrics(y, y)["decile_error"] == 0.0


# -- revenue_metrics -----------------------------------------------------------------------------


def test_revenue_metrics_match_a_hand_computation():
    # Y = [60, 0, 30, 10, 0]; errors [-20, 10, -10, 10, 30]; by prediction the revenue runs
    # 60, 0, then the tied 30 and 10 (20 each), 0: C_k = 60, 60, 80, 100, 100 (sum 400).
    pred = np.array([40.0, 10.0, 20.0, 20.0, 30.0])
    metrics = revenue_metrics(*_shuffled(Y, pred))
    expected = {
        "gini": (400 - 300) / 150,
        # average ranks: Y 5, 1.5, 4, 3, 1.5 and pred 5, 1, 2.5, 2.5, 4 (both variances 9.5)
        "spearman": 5 / 9.5,
        "top_decile_capture": 30 / 100,  # half a customer
        "mae": 80 / 5,
        "rmse": math.sqrt((400 + 100 + 100 + 100 + 900) / 5),
        # ten deciles of 5 customers: one customer in every other one
        "decile_error": (20 + 10 + 0 + 0 + 30) / 100,
        "bias_pct": 100 * (120 - 100) / 100,
        "predicted_total": 120.0,
        "realised_total": 100.0,
    }
    assert metrics == pytest.approx(expected)
    assert list(metrics) == list(GREATER_IS_BETTER)
    assert all(type(v) is float for v in metrics.values())


def test_greater_is_better_directions():
    assert [k for k, v in GREATER_IS_BETTER.items() if v] == [
        "gini",
        "spearman",
        "top_decile_capture",
    ]


# -- bootstrap intervals -------------------------------------------------------------------------


@pytest.mark.parametrize("metric", list(GREATER_IS_BETTER))
def test_resample_weights_equal_the_metric_on_repeated_customers(metric):
    y, informative, tied = _world(n=300, seed=3)
    counts = np.random.default_rng(0).multinomial(300, np.full(300, 1 / 300), size=3)
    for pred in (informative, tied):
        got = _resampled(metric, y, pred, counts.astype(float), _ranked(pred), _ranked(y))
        for row, weights in enumerate(counts):
            repeated = np.repeat(y, weights), np.repeat(pred, weights)
            expected = revenue_metrics(*repeated)[metric]
            assert got[row] == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_interval_rows_contain_their_estimates():
    y, informative, tied = _world()
    preds = {"LightGBM": informative, "Baseline": tied, "Mean": np.full(len(y), y.mean())}
    table = metric_interval(y, preds, "gini", n_boot=200)
    assert table["predictor"].tolist() == [
        "LightGBM",
        "Baseline",
        "Mean",
        "LightGBM - Baseline",
        "LightGBM - Mean",
        "Baseline - Mean",
    ]
    metrics = {k: revenue_metrics(y, v)["gini"] for k, v in preds.items()}
    np.testing.assert_allclose(table["estimate"].iloc[:3], list(metrics.values()), rtol=1e-12)
    assert table["estimate"].iloc[3] == pytest.approx(metrics["LightGBM"] - metrics["Baseline"])
    assert ((table["ci_low"] <= table["estimate"]) & (table["estimate"] <= table["ci_high"])).all()
    assert table.iloc[2][["estimate", "ci_low", "ci_high"]].tolist() == [0.0, 0.0, 0.0]
    same_seed = metric_interval(y, preds, "gini", n_boot=200)
    pd.testing.assert_frame_equal(table, same_seed)


def test_the_paired_difference_recovers_a_known_difference():
    """Errors N(0, 1) against N(0, 4): the MAEs differ by sqrt(2 / pi) in the population."""
    truth = -math.sqrt(2 / math.pi)
    covered = []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        y = 50 + rng.lognormal(2, 1, 1000)
        noise = rng.normal(0, 1, 1000)
        preds = {"a": y + noise, "b": y + 2 * noise}
        row = metric_interval(y, preds, "mae", n_boot=200, seed=seed).iloc[2]
        covered.append(row["ci_low"] <= truth <= row["ci_high"])
    assert 0.85 <= np.mean(covered) <= 1.0


def test_a_paired_difference_is_narrower_than_either_interval():
    y, informative, _ = _world()
    nudged = informative * np.exp(np.random.default_rng(5).normal(0, 0.05, len(y)))
    table = metric_interval(y, {"a": informative, "b": nudged}, "gini", n_boot=200)
    width = table["ci_high"] - table["ci_low"]
    assert width.iloc[2] < 0.5 * min(width.iloc[0], width.iloc[1])


def test_interval_refuses_resamples_without_revenue():
    with pytest.raises(ValueError, match=r"of 100 resamples of 4 customers leave 'gini' undefined"):
        metric_interval([0, 0, 0, 50], {"a": [1, 2, 3, 4]}, "gini", n_boot=100)


# -- bad input -----------------------------------------------------------------------------------

Y3, P3 = [0.0, 10.0, 5.0], [1.0, 2.0, 3.0]


@pytest.mark.parametrize(
    ("y", "pred", "message"),
    [
        ([0, -5, 10], P3, r"'y_true' must be revenue >= 0; got 1 negative \(lowest -5\)"),
        (Y3, [1, -0.5, 2], r"'y_pred' must be revenue >= 0; got 1 negative \(lowest -0.5\)"),
        (Y3, [1, np.nan, 2], r"'y_pred' must not contain missing values; got 1"),
        ([0, np.inf, 2], P3, r"'y_true' must be finite; got 1 infinite"),
        ([0, 10], P3, r"'y_true' and 'y_pred' must have the same length; got 2 and 3"),
        ([], [], r"'y_true' and 'y_pred' must not be empty; got 0 rows"),
        ([Y3], P3, r"'y_true' must be 1-D of shape \(n_samples,\); got shape \(1, 3\)"),
        (Y3, ["a", "b", "c"], r"'y_pred' must be numeric or bool; got dtype <U1"),
        ([0, 0, 0], P3, r"'y_true' must contain some revenue; got all zero"),
        ([4, 4, 4], P3, r"'y_true' must not be constant .* got all 3 values equal to 4"),
    ],
)
def test_revenue_metrics_reject_bad_input(y, pred, message):
    with pytest.raises(ValueError, match=r"error\(s\) in revenue_metrics arguments: .*" + message):
        revenue_metrics(y, pred)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: top_decile_capture(Y3, P3, share=0), r"'share' must be a number in \(0, 1\]"),
        (lambda: top_decile_capture(Y3, P3, share=True), r"'share' .*got True"),
        (lambda: top_decile_capture([0, 0, 0], P3), r"'y_true' must contain some revenue"),
        (lambda: decile_calibration(Y3, P3, n_bins=0), r"'n_bins' must be an integer >= 1; got 0"),
        (lambda: decile_calibration(Y3, P3), r"'n_bins' must be at most n_samples \(3\); got 10"),
        (lambda: normalized_gini([1, 1], [1, 2]), r"'y_true' must not be constant"),
        (lambda: spearman([1, 2], [1]), r"same length; got 2 and 1"),
        (
            lambda: decile_calibration_error(pd.DataFrame({"predicted_total": [1.0]})),
            r"must be a decile_calibration DataFrame with columns "
            r"\['predicted_total', 'realised_total'\]; got \['predicted_total'\]",
        ),
        (
            lambda: decile_calibration_error(decile_calibration([0, 0], [1, 2], n_bins=2)),
            r"must hold some realised revenue; got realised_total summing to 0",
        ),
        (lambda: metric_interval(Y3, {}, "gini"), r"'preds' must be a non-empty mapping"),
        (
            lambda: metric_interval(Y3, {"a": P3}, "r2", n_boot=1, level=95),
            r"3 error\(s\) .*'metric' must be one of \['bias_pct', .*got 'r2'; "
            r"'n_boot' must be an integer >= 2; got 1; "
            r"'level' must be a number in \(0, 1\); got 95",
        ),
        (
            lambda: metric_interval(Y3, {"a": P3, "b": [1, 2]}, "mae"),
            r"metric_interval \(predictor 'b'\) arguments: .*same length; got 3 and 2",
        ),
        (
            lambda: decile_calibration_figure(Y3, {"a": P3, "b": [1, -2, 3]}, n_bins=3),
            r"decile_calibration_figure \(predictor 'b'\) arguments: 'y_pred' must be revenue",
        ),
    ],
)
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# -- figure --------------------------------------------------------------------------------------


def test_decile_calibration_figure_draws_every_predictor_and_saves_a_png(tmp_path):
    y, informative, tied = _world()
    preds = {
        "BG/NBD + Gamma-Gamma": informative,
        "LightGBM": tied,
        "Baseline": np.full(len(y), y.mean()),
    }
    fig = decile_calibration_figure(y, preds)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("Perfectly calibrated") for t in labels)
    for name in preds:
        assert any(t.startswith(f"{name} (decile error") for t in labels)
    assert len(ax.get_lines()) == 4
    assert ax.get_xscale() == ax.get_yscale() == "symlog"  # means from ~0 to ~600
    assert ax.get_title() and "predicted" in ax.get_xlabel() and "realised" in ax.get_ylabel()
    assert tuple(fig.get_size_inches()) == FIGSIZE
    path = save_figure(fig, tmp_path / "plots" / "decile_calibration.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5_000
    assert plt.get_fignums() == []


def test_decile_calibration_figure_stays_linear_over_a_narrow_range():
    y = np.linspace(10, 20, 100)
    fig = decile_calibration_figure(y, {"a": y, "b": y + 1})
    assert fig.axes[0].get_xscale() == "linear"
    plt.close(fig)


def test_point_estimates_share_the_bootstrap_code():
    y, informative, _ = _world(n=500)
    assert _point("spearman", y, informative) == pytest.approx(spearman(y, informative))
