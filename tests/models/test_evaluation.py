"""Ranking, calibration and gate metrics against hand computations and references; figures."""

from __future__ import annotations

import math
from fractions import Fraction

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy.stats import mannwhitneyu
from sklearn.calibration import calibration_curve

from upseg.models.evaluation import (
    METRIC_DIRECTIONS,
    capture_rate_at,
    classification_metrics,
    gains_table,
    is_better,
    lift_at,
    reliability_table,
    shap_importance,
)
from upseg.models.plots import (
    FIGSIZE,
    calibration_figure,
    lift_figure,
    pr_figure,
    roc_figure,
    save_figure,
    shap_summary_figure,
)

# Ten customers, highest score first; 4 positives, so the overall rate is 0.4.
SCORE = np.array([0.95, 0.90, 0.85, 0.70, 0.60, 0.50, 0.40, 0.30, 0.20, 0.10])
Y = np.array([1, 0, 1, 1, 0, 0, 0, 1, 0, 0])


def _shuffled(*arrays):
    order = np.random.default_rng(7).permutation(len(arrays[0]))
    return tuple(np.asarray(a)[order] for a in arrays)


def _world(n=600, rate=0.3, seed=0):
    """Labels, an informative probability and a tie-heavy recency-like baseline."""
    rng = np.random.default_rng(seed)
    y = rng.random(n) < rate
    p = np.clip(rate + 0.35 * (y - rate) + rng.normal(0, 0.15, n), 0, 1)
    baseline = rng.integers(0, 40, n).astype(float)
    return y, p, baseline


def _brute_positives_in_top(y, score, fraction):
    """Independent reference: sort on (-score, row) and take ceil(fraction * n) exactly."""
    n = len(y)
    k = math.ceil(Fraction(str(fraction)) * n)
    order = sorted(range(n), key=lambda i: (-score[i], i))
    return sum(int(y[i]) for i in order[:k]), k


# -- lift and capture --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fraction", "lift", "capture"),
    [
        (0.1, 1 / 0.4, 1 / 4),  # top 1: [1]
        (0.2, (1 / 2) / 0.4, 1 / 4),  # top 2: [1, 0]
        (0.25, (2 / 3) / 0.4, 2 / 4),  # ceil(2.5) = 3: [1, 0, 1]
        (0.3, (2 / 3) / 0.4, 2 / 4),  # 0.3 * 10 is 3.0000000000000004 in floats; still 3
        (0.5, (3 / 5) / 0.4, 3 / 4),  # top 5: [1, 0, 1, 1, 0]
        (0.7, (3 / 7) / 0.4, 3 / 4),  # 0.7 * 10 is 7.000000000000001; still 7
        (1.0, 1.0, 1.0),
    ],
)
def test_lift_and_capture_match_a_hand_computation(fraction, lift, capture):
    y, score = _shuffled(Y, SCORE)
    assert lift_at(y, score, fraction) == pytest.approx(lift)
    assert capture_rate_at(y, score, fraction) == pytest.approx(capture)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("fraction", [0.01, 0.1, 0.2, 0.33, 0.5, 0.9])
def test_lift_and_capture_match_a_brute_force_reference_with_ties(seed, fraction):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 400))
    y = (rng.random(n) < 0.2).astype(int)
    y[:2] = [0, 1]
    score = rng.integers(0, 12, n).astype(float)  # many ties
    positives, k = _brute_positives_in_top(y, score, fraction)
    assert capture_rate_at(y, score, fraction) == pytest.approx(positives / y.sum())
    assert lift_at(y, score, fraction) == pytest.approx((positives / k) / y.mean())


def test_ties_are_broken_by_row_order():
    score = [0.5, 0.5, 0.5, 0.1]
    assert capture_rate_at([0, 1, 1, 0], score, 0.25) == 0.0
    assert capture_rate_at([1, 0, 1, 0], score, 0.25) == 0.5
    assert lift_at([1, 0, 1, 0], score, 0.25) == pytest.approx(2.0)


def test_bool_labels_and_lists_are_accepted():
    assert lift_at(Y.astype(bool), list(SCORE), 0.1) == pytest.approx(2.5)
    nullable = pd.Series(Y, dtype="boolean")
    assert capture_rate_at(nullable, pd.Series(SCORE), 0.5) == pytest.approx(0.75)


Y3, S3 = [0, 1, 0], [0.1, 0.2, 0.3]


@pytest.mark.parametrize(
    ("y", "score", "fraction", "message"),
    [
        ([0, 0, 0], S3, 0.5, r"'y_true' must contain both classes 0 and 1; got only class 0 \(n=3"),
        ([1, 1, 1], S3, 0.5, r"'y_true' must contain both classes 0 and 1; got only class 1 \(n=3"),
        ([0, 1, 2], S3, 0.5, r"'y_true' must contain only 0/1 or False/True; got values 0, 1, 2"),
        ([0, 1, np.nan], S3, 0.5, r"'y_true' must not contain missing values; got 1"),
        ([0, 1], S3, 0.5, r"'y_true' and 'score' must have the same length; got 2 and 3"),
        (Y3, [0.1, np.nan, 0.2], 0.5, r"'score' must not contain missing values; got 1"),
        (Y3, [0.1, np.inf, 0.2], 0.5, r"'score' must be finite; got 1 infinite"),
        (Y3, ["a", "b", "c"], 0.5, r"'score' must be numeric or bool; got dtype <U1"),
        ([Y3], S3, 0.5, r"'y_true' must be 1-D of shape \(n_samples,\); got shape \(1, 3\)"),
        ([], [], 0.5, r"'y_true' and 'score' must not be empty; got 0 rows"),
        (Y3, S3, 0, r"'fraction' must be a number in \(0, 1\]; got 0"),
        (Y3, S3, 1.5, r"'fraction' must be a number in \(0, 1\]; got 1.5"),
        (Y3, S3, float("nan"), r"'fraction' must be a number in \(0, 1\]; got nan"),
        (Y3, S3, True, r"'fraction' must be a number in \(0, 1\]; got True"),
        (Y3, S3, "10%", r"'fraction' must be a number in \(0, 1\]; got '10%'"),
    ],
)
@pytest.mark.parametrize("function", [lift_at, capture_rate_at])
def test_lift_and_capture_reject_bad_input(function, y, score, fraction, message):
    with pytest.raises(
        ValueError, match=rf"error\(s\) in {function.__name__} arguments: .*" + message
    ):
        function(y, score, fraction)


def test_every_argument_problem_is_reported_at_once():
    with pytest.raises(
        ValueError,
        match=r"^3 error\(s\) in lift_at arguments: 'fraction'.*"
        r"same length.*only 0/1",
    ):
        lift_at([0, 2], [0.1], 0)


# -- classification_metrics ----------------------------------------------------------------------


@pytest.mark.parametrize("rate", [0.05, 0.3])
def test_perfect_ranking_has_auc_1_and_maximal_lift(rate):
    n = 100
    y = np.arange(n) < rate * n
    probability = np.where(y, 0.9, 0.1)
    m = classification_metrics(*_shuffled(y, probability))
    assert m["roc_auc"] == 1.0
    assert m["pr_auc"] == 1.0
    assert m["positive_rate"] == pytest.approx(rate)
    assert m["n"] == n
    for percent in (10, 20):
        k = n * percent // 100
        # All positives first: the top k is all positive until the positives run out.
        assert m[f"lift_{percent}"] == pytest.approx(min(1 / rate, n / k))
        assert m[f"capture_{percent}"] == pytest.approx(min(1.0, k / (rate * n)))


def test_constant_probability_scores_like_chance():
    y = np.arange(100) < 30
    m = classification_metrics(y, np.full(100, 0.3))
    assert m["roc_auc"] == 0.5
    assert m["pr_auc"] == pytest.approx(0.3)
    assert m["brier"] == pytest.approx(0.3 * 0.7**2 + 0.7 * 0.3**2)
    assert m["log_loss"] == pytest.approx(-(0.3 * math.log(0.3) + 0.7 * math.log(0.7)))


def test_metrics_agree_with_independent_references():
    y, p, _ = _world()
    m = classification_metrics(y, p)
    u = mannwhitneyu(p[y], p[~y]).statistic
    assert m["roc_auc"] == pytest.approx(u / (y.sum() * (~y).sum()))
    assert m["brier"] == pytest.approx(np.mean((p - y) ** 2))
    positives, k = _brute_positives_in_top(y, p, 0.2)
    assert m["capture_20"] == pytest.approx(positives / y.sum())
    assert set(m) == {*METRIC_DIRECTIONS, "positive_rate", "n"}
    assert all(type(v) is float for v in m.values())


def test_log_loss_stays_finite_for_confident_mistakes():
    m = classification_metrics([1, 0], [0.0, 1.0])
    # Clipped to [1e-15, 1 - 1e-15]; 1 - 1e-15 is not exact in floats, hence the tolerance.
    assert m["log_loss"] == pytest.approx(-math.log(1e-15), rel=1e-4)


def test_classification_metrics_requires_probabilities():
    with pytest.raises(
        ValueError,
        match=r"'probability' must be probabilities in \[0, 1\]; "
        r"got values in \[0.1, 3\]",
    ):
        classification_metrics([0, 1], [0.1, 3.0])


# -- reliability and gains tables ----------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["quantile", "uniform"])
@pytest.mark.parametrize("n_bins", [5, 10])
@pytest.mark.parametrize("rounded", [False, True], ids=["continuous", "ties"])
def test_reliability_table_agrees_with_sklearn_calibration_curve(strategy, n_bins, rounded):
    y, p, _ = _world(seed=n_bins)
    if rounded:  # repeated quantiles leave empty bins, which both drop
        p = np.round(p, 1)
    table = reliability_table(y, p, n_bins=n_bins, strategy=strategy)
    observed, predicted = calibration_curve(y, p, n_bins=n_bins, strategy=strategy)
    np.testing.assert_allclose(table["observed_rate"], observed)
    np.testing.assert_allclose(table["mean_predicted"], predicted)
    assert list(table.columns) == ["bin", "n", "mean_predicted", "observed_rate"]
    assert table["n"].sum() == len(y) and (table["n"] > 0).all()
    assert table["bin"].is_monotonic_increasing and table["bin"].max() < n_bins


def test_reliability_table_allows_a_single_class():
    table = reliability_table([0, 0, 0, 0], [0.1, 0.2, 0.3, 0.4], n_bins=2)
    assert table["observed_rate"].tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"strategy": "kmeans"},
            r"'strategy' must be one of \('quantile', 'uniform'\); got "
            r"'kmeans'",
        ),
        ({"n_bins": 0}, r"'n_bins' must be an integer >= 1; got 0"),
        ({"n_bins": 2.5}, r"'n_bins' must be an integer >= 1; got 2.5"),
    ],
)
def test_reliability_table_rejects_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=r"in reliability_table arguments: " + message):
        reliability_table([0, 1], [0.2, 0.8], **kwargs)


def test_gains_table_matches_a_hand_computation():
    table = gains_table(*_shuffled(Y, SCORE), n_bins=5)
    # Pairs from the top: [1, 0], [1, 1], [0, 0], [0, 1], [0, 0].
    assert table["bin"].tolist() == [1, 2, 3, 4, 5]
    assert table["n"].tolist() == [2] * 5
    assert table["positives"].tolist() == [1, 2, 0, 1, 0]
    np.testing.assert_allclose(table["rate"], [0.5, 1, 0, 0.5, 0])
    np.testing.assert_allclose(table["lift"], [1.25, 2.5, 0, 1.25, 0])
    np.testing.assert_allclose(table["cumulative_capture"], [0.25, 0.75, 0.75, 1, 1])


def test_gains_table_cumulative_capture_is_capture_rate_at_each_decile():
    y, _, baseline = _world(n=1003)
    table = gains_table(y, baseline)
    assert table["n"].sum() == 1003 and table["positives"].sum() == y.sum()
    expected = [capture_rate_at(y, baseline, i / 10) for i in range(1, 11)]
    np.testing.assert_allclose(table["cumulative_capture"], expected)


def test_gains_table_needs_a_customer_per_bin():
    with pytest.raises(
        ValueError,
        match=r"'n_bins' argument of gains_table must be at most the "
        r"number of samples \(4\) so that no bin is empty; got 10",
    ):
        gains_table([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4])


# -- promotion gate ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "challenger", "champion", "margin", "expected"),
    [
        ("roc_auc", 0.75, 0.50, 0.0, True),
        ("roc_auc", 0.50, 0.75, 0.0, False),
        ("roc_auc", 0.75, 0.75, 0.0, False),  # a tie does not promote
        ("log_loss", 0.25, 0.50, 0.0, True),  # lower is better
        ("log_loss", 0.50, 0.25, 0.0, False),
        ("brier", 0.20, 0.20, 0.0, False),
        ("roc_auc", 0.75, 0.50, 0.25, True),  # exactly the margin
        ("roc_auc", 0.75, 0.50, 0.50, False),
        ("roc_auc", 0.83, 0.80, 0.03, True),  # 0.83 - 0.80 is 0.0299999... in floats
        ("brier", 0.10, 0.20, 0.05, True),
        ("brier", 0.10, 0.20, 0.15, False),
        ("brier", 0.20, 0.10, 0.05, False),
        ("lift_10", 3.0, 2.0, 0.5, True),
    ],
)
def test_is_better_respects_direction_and_margin(metric, challenger, champion, margin, expected):
    assert is_better(metric, challenger, champion, margin=margin) is expected


def test_metric_directions():
    assert METRIC_DIRECTIONS["roc_auc"] and METRIC_DIRECTIONS["pr_auc"]
    assert not METRIC_DIRECTIONS["log_loss"] and not METRIC_DIRECTIONS["brier"]
    assert all(METRIC_DIRECTIONS[f"{m}_{p}"] for m in ("lift", "capture") for p in (10, 20))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("accuracy", 0.9, 0.8),
            r"The 'metric' argument of is_better must be one of \['brier', "
            r"'capture_10', 'capture_20', 'lift_10', 'lift_20', 'log_loss', 'pr_auc', 'roc_auc'\]; "
            r"got 'accuracy' instead",
        ),
        (("positive_rate", 0.9, 0.8), r"must be one of .*got 'positive_rate'"),
        (("roc_auc", float("nan"), 0.8), r"'challenger' must be a finite number; got nan"),
        (("roc_auc", 0.9, None), r"'champion' must be a finite number; got None"),
        (("roc_auc", 0.9, 0.8, -0.1), r"'margin' must be >= 0; got -0.1"),
    ],
)
def test_is_better_rejects_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        is_better(*args)


# -- SHAP importance -----------------------------------------------------------------------------


def test_shap_importance_is_mean_absolute_value_sorted_descending():
    contributions = np.array([[1.0, -3.0, 0.5], [-1.0, 1.0, -0.5]])
    table = shap_importance(contributions, ["a", "b", "c"])
    assert table["feature"].tolist() == ["b", "a", "c"]
    np.testing.assert_allclose(table["mean_abs_shap"], [2.0, 1.0, 0.5])


def test_shap_importance_points_at_lightgbm_expected_value_column():
    with pytest.raises(
        ValueError,
        match=r"'contributions' has 3 columns but 'feature_names' has "
        r"2 names; they must match. LightGBM's pred_contrib .*contributions\[:, :-1\]",
    ):
        shap_importance(np.zeros((4, 3)), ["a", "b"])


# -- figures -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("figure", "legend_word"),
    [(roc_figure, "AUC"), (pr_figure, "AP"), (lift_figure, "captured"), (calibration_figure, "")],
)
def test_curve_figures_draw_model_and_baseline_and_save_a_png(tmp_path, figure, legend_word):
    y, p, baseline = _world()
    scores = {"LightGBM": p, "Recency baseline": 1 - baseline / 40}
    fig = figure(y, scores)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("LightGBM") and legend_word in t for t in labels)
    assert any(t.startswith("Recency baseline") for t in labels)
    assert ax.get_title() and fig.axes[-1].get_xlabel() and ax.get_ylabel()
    assert tuple(fig.get_size_inches()) == FIGSIZE
    path = save_figure(fig, tmp_path / "figures" / f"{figure.__name__}.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5_000
    assert plt.get_fignums() == []


def test_curve_figures_name_the_bad_curve():
    y, p, baseline = _world()
    with pytest.raises(
        ValueError,
        match=r"calibration_figure \(curve 'Recency'\) arguments: "
        r"'probability' must be probabilities in \[0, 1\]",
    ):
        calibration_figure(y, {"LightGBM": p, "Recency": baseline})
    with pytest.raises(
        ValueError,
        match=r"'scores' argument of roc_figure must be a non-empty "
        r"mapping",
    ):
        roc_figure(y, {})


def _shap_inputs(n=300, seed=0):
    rng = np.random.default_rng(seed)
    features = pd.DataFrame(
        {
            "days_since_last_order": rng.exponential(60, n),
            "favourite_category": pd.Categorical(rng.choice(["shoes", "bags", None], n)),
            "rfm_segment": rng.choice(["champions", "at_risk"], n),
            "email_opt_in": rng.random(n) < 0.5,
            "orders_365d": pd.array(rng.integers(0, 5, n), dtype="Int64"),
        }
    )
    features.loc[0, "orders_365d"] = pd.NA
    return rng.normal(size=features.shape), features


def test_shap_summary_figure_handles_categorical_columns(tmp_path):
    contributions, features = _shap_inputs()
    contributions[:, 1] *= 5  # the categorical column is the most important
    fig = shap_summary_figure(contributions, features, max_display=3)
    ax = fig.axes[0]
    shown = [t.get_text() for t in ax.get_yticklabels()]
    assert len(shown) == 3 and shown[-1] == "favourite_category"  # top row is last
    assert ax.get_title() and ax.get_xlabel()
    assert plt.get_fignums() == []
    path = save_figure(fig, tmp_path / "shap.png")
    assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 5_000


def test_shap_summary_figure_samples_large_inputs():
    contributions, features = _shap_inputs(n=400)
    fig = shap_summary_figure(contributions, features, max_points=50)
    points = sum(len(c.get_offsets()) for c in fig.axes[0].collections)
    assert points == 50 * features.shape[1]
    plt.close(fig)


@pytest.mark.parametrize(
    ("contributions", "kwargs", "message"),
    [
        (
            np.zeros((300, 6)),
            {},
            r"'contributions' must be 2-D with the shape of 'features' "
            r"\(300, 5\); got \(300, 6\) \(LightGBM's pred_contrib",
        ),
        (np.zeros((300, 5)), {"max_display": 0}, r"'max_display' must be an integer >= 1; got 0"),
        (
            np.zeros((300, 5)),
            {"max_points": -1},
            r"'max_points' must be an integer >= 1 or None; got -1",
        ),
    ],
)
def test_shap_summary_figure_rejects_bad_input(contributions, kwargs, message):
    _, features = _shap_inputs()
    with pytest.raises(ValueError, match=r"in shap_summary_figure arguments: " + message):
        shap_summary_figure(contributions, features, **kwargs)
