"""PSI against hand computations, the normal distribution's exact bin shares, and resampling."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from upseg.models.drift import (
    PSI_EPSILON,
    PSI_WARN,
    DriftError,
    drift_report,
    psi,
    reference_distribution,
    reference_distributions,
    scoring_drift,
    training_reference,
)

EPS = PSI_EPSILON


def term(a: float, e: float) -> float:
    """One bin's PSI term, with the documented floor on both shares."""
    a, e = max(a, EPS), max(e, EPS)
    return (a - e) * math.log(a / e)


# --- reference_distribution --------------------------------------------------------------------


def test_numeric_reference_cuts_at_quantiles_into_right_closed_bins():
    # 1..10: the 20/40/60/80% quantiles (linear) are 2.8, 4.6, 6.4, 8.2; two values per bin.
    reference = reference_distribution(pd.Series(np.arange(1, 11)), n_bins=5)
    assert reference["kind"] == "numeric"
    assert reference["edges"] == pytest.approx([2.8, 4.6, 6.4, 8.2])
    assert reference["shares"] == pytest.approx([0.2] * 5)
    assert reference["missing"] == 0.0
    assert reference["n"] == 10


def test_ties_merge_quantiles_and_keep_a_point_mass_in_one_bin():
    # 60% zeros: the 10–60% quantiles are all 0, so (-inf, 0] holds every zero.
    values = pd.Series([0] * 6 + [1, 2, 3, 4])
    reference = reference_distribution(values, n_bins=10)
    assert reference["edges"][0] == 0.0
    assert len(reference["edges"]) == len(set(reference["edges"]))
    assert reference["shares"][0] == pytest.approx(0.6)
    assert sum(reference["shares"]) == pytest.approx(1.0)
    assert psi(reference, values) == 0.0


def test_a_constant_column_has_one_edge_and_everything_at_or_below_it():
    reference = reference_distribution(pd.Series([3.0] * 50))
    assert reference["edges"] == [3.0]
    assert reference["shares"] == [1.0, 0.0]
    # Everyone moves to another value: the two bins swap, 2 · (1 - eps) · ln(1 / eps).
    moved = psi(reference, pd.Series([4.0] * 20))
    assert moved == pytest.approx(2 * (1 - EPS) * math.log(1 / EPS))


def test_missing_values_are_a_bin_of_their_own():
    # Finite values 1..4 split at the median 2.5; one value in five is missing.
    reference = reference_distribution(pd.Series([1, 2, 3, 4, None], dtype="Float64"), n_bins=2)
    assert reference["edges"] == [2.5]
    assert reference["shares"] == pytest.approx([0.4, 0.4])
    assert reference["missing"] == pytest.approx(0.2)
    scored = pd.Series([1.0, 3.0, np.nan, np.nan])
    expected = term(0.25, 0.4) + term(0.25, 0.4) + term(0.5, 0.2)
    assert psi(reference, scored) == pytest.approx(expected)


def test_an_all_missing_column_has_a_single_bin_and_the_missing_share():
    reference = reference_distribution(pd.Series([np.nan] * 4))
    assert reference == {"kind": "numeric", "edges": [], "shares": [0.0], "missing": 1.0, "n": 4}
    assert psi(reference, pd.Series([np.nan, np.nan])) == 0.0


def test_infinite_values_fall_in_the_outer_bins():
    reference = reference_distribution(pd.Series([-np.inf, 1.0, 2.0, 3.0, np.inf]), n_bins=2)
    assert reference["edges"] == [2.0]
    assert reference["shares"] == pytest.approx([0.6, 0.4])


def test_categorical_reference_keeps_the_share_of_each_value_and_of_missing():
    values = pd.Series(["a"] * 5 + ["b"] * 3 + [None] * 2)
    reference = reference_distribution(values)
    assert reference == {
        "kind": "categorical",
        "categories": {"a": 0.5, "b": 0.3},
        "other": 0.0,
        "missing": 0.2,
        "n": 10,
    }


def test_rare_categories_beyond_max_categories_are_pooled_as_other():
    values = pd.Series(["a"] * 4 + ["b"] * 3 + ["c"] * 2 + ["d"])
    reference = reference_distribution(values, max_categories=2)
    assert reference["categories"] == {"a": 0.4, "b": 0.3}
    assert reference["other"] == pytest.approx(0.3)


def test_booleans_are_categories():
    reference = reference_distribution(pd.Series([True, True, False, None], dtype="boolean"))
    assert reference["kind"] == "categorical"
    assert reference["categories"] == {"True": 0.5, "False": 0.25}
    assert reference["missing"] == 0.25
    assert psi(reference, pd.Series([True, False, True, None], dtype=object)) == 0.0


@pytest.mark.parametrize(
    "values",
    [
        pd.Series(np.random.default_rng(1).lognormal(size=500)),
        pd.Series(np.random.default_rng(2).poisson(0.3, size=500)),
        pd.Series([1.5, None, 2.5, None], dtype="Float64"),
        pd.Series(["x", "y", None, "x"]),
        pd.Series([True, False, True]),
    ],
    ids=["lognormal", "poisson", "nullable", "strings", "bools"],
)
def test_reference_survives_a_json_round_trip(values):
    reference = reference_distribution(values)
    text = json.dumps(reference, allow_nan=False)
    assert json.loads(text) == reference
    assert psi(json.loads(text), values) == psi(reference, values) == 0.0


def test_reference_distributions_of_a_frame():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "tier": ["a", "b", "a"]})
    references = reference_distributions(frame, ["x", "tier"], n_bins=2)
    assert list(references) == ["x", "tier"]
    assert references["tier"]["kind"] == "categorical"
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['y'\]"):
        reference_distributions(frame, ["x", "y"])


@pytest.mark.parametrize(
    ("values", "kwargs", "message"),
    [
        (pd.Series([], dtype=float), {}, "no training values"),
        (pd.Series([1.0, 2.0]), {"n_bins": 1}, "n_bins must be an integer of 2 or more; got 1"),
        (pd.Series(["a"]), {"max_categories": 0}, "max_categories must be an integer of 1"),
        (pd.Series(pd.to_datetime(["2026-01-01"])), {}, "datetimes have no reference"),
    ],
)
def test_reference_distribution_refuses(values, kwargs, message):
    with pytest.raises(ValueError, match=message):
        reference_distribution(values, **kwargs)


# --- psi ---------------------------------------------------------------------------------------


def test_psi_matches_a_hand_computation():
    reference = reference_distribution(pd.Series(np.arange(1, 11)), n_bins=5)
    # Bins (-inf, 2.8], (2.8, 4.6], (4.6, 6.4], (6.4, 8.2], (8.2, inf), then missing.
    scored = pd.Series([1, 1, 1, 1, 5, 6, 9, 10])
    actual = [0.5, 0.0, 0.25, 0.0, 0.25, 0.0]
    expected = [0.2, 0.2, 0.2, 0.2, 0.2, 0.0]
    by_hand = sum(term(a, e) for a, e in zip(actual, expected, strict=True))
    # (0.3 ln 2.5) + 2 · (1e-4 - 0.2) ln(1e-4 / 0.2) + 2 · (0.05 ln 1.25), the empty missing bin 0.
    assert by_hand == pytest.approx(
        0.3 * math.log(2.5) + 2 * (EPS - 0.2) * math.log(EPS / 0.2) + 2 * 0.05 * math.log(1.25)
    )
    assert psi(reference, scored) == pytest.approx(by_hand)


def test_psi_of_a_categorical_column_puts_unseen_values_in_other():
    reference = reference_distribution(pd.Series(["a"] * 5 + ["b"] * 3 + [None] * 2))
    scored = pd.Series(["a", "c", "d", None])
    # a 0.5 → 0.25, b 0.3 → 0, other 0 → 0.5 (c and d, unseen in training), missing 0.2 → 0.25.
    by_hand = term(0.25, 0.5) + term(0.0, 0.3) + term(0.5, 0.0) + term(0.25, 0.2)
    assert psi(reference, scored) == pytest.approx(by_hand)


def test_psi_of_a_sample_against_its_own_reference_is_zero_and_of_a_resample_small():
    rng = np.random.default_rng(7)
    training = pd.Series(rng.gamma(2.0, 30.0, size=100_000))
    reference = reference_distribution(training)
    assert psi(reference, training) == 0.0
    # A fresh sample of the same population: PSI ≈ (bins - 1) / n on average, far below 0.01.
    fresh = pd.Series(rng.gamma(2.0, 30.0, size=100_000))
    assert psi(reference, fresh) < 0.01


def test_psi_of_a_shifted_normal_matches_its_exact_bin_shares():
    rng = np.random.default_rng(11)
    n, shift = 400_000, 0.3
    reference = reference_distribution(pd.Series(rng.normal(size=n)))
    edges = np.array([-np.inf, *reference["edges"], np.inf])
    # The shifted population's exact share in each training bin, from the normal CDF.
    exact = np.diff(norm.cdf(edges, loc=shift))
    by_hand = float(np.sum((exact - reference["shares"]) * np.log(exact / reference["shares"])))
    sampled = psi(reference, pd.Series(rng.normal(loc=shift, size=n)))
    assert by_hand == pytest.approx(0.09, abs=0.01)  # ≈ shift², the PSI of two unit normals
    assert sampled == pytest.approx(by_hand, abs=0.003)


@pytest.mark.parametrize(
    ("reference", "values", "message"),
    [
        ({"kind": "numeric", "edges": [1.0]}, pd.Series([1.0]), "Not a reference distribution"),
        (
            {"kind": "numeric", "edges": [1.0], "shares": [1.0], "missing": 0.0},
            pd.Series([1.0]),
            "one share more than edges",
        ),
        ({"kind": "histogram"}, pd.Series([1.0]), "'kind' must be 'numeric' or 'categorical'"),
        (
            {"kind": "numeric", "edges": [], "shares": [1.0], "missing": 0.0},
            pd.Series(["a", "b"], name="tier"),
            "Column 'tier': the numeric reference needs numbers",
        ),
        (
            {"kind": "numeric", "edges": [], "shares": [1.0], "missing": 0.0},
            pd.Series([], dtype=float, name="x"),
            "Column 'x': no values",
        ),
    ],
)
def test_psi_refuses(reference, values, message):
    with pytest.raises(ValueError, match=message):
        psi(reference, values)


# --- drift_report ------------------------------------------------------------------------------


def test_drift_report_rates_each_column_and_puts_missing_then_the_worst_first():
    rng = np.random.default_rng(3)
    training = pd.DataFrame(
        {
            "stable": rng.normal(size=50_000),
            "shifted": rng.normal(size=50_000),
            "moved": rng.normal(size=50_000),
            "gone": rng.normal(size=50_000),
        }
    )
    references = reference_distributions(training, list(training.columns))
    scored = pd.DataFrame(
        {
            "stable": rng.normal(size=50_000),
            "shifted": rng.normal(loc=0.45, size=50_000),  # PSI ≈ 0.2
            "moved": rng.normal(loc=1.0, size=50_000),  # PSI ≈ 1
        }
    )
    report = drift_report(references, scored)
    assert list(report.columns) == ["column", "psi", "status"]
    assert report["column"].tolist() == ["gone", "moved", "shifted", "stable"]
    assert report["status"].tolist() == ["missing", "fail", "warn", "ok"]
    assert np.isnan(report["psi"].iloc[0])
    assert report["psi"].iloc[1] > report["psi"].iloc[2] > report["psi"].iloc[3]


def test_drift_report_thresholds_are_strict_and_configurable():
    reference = reference_distribution(pd.Series(["a"] * 5 + ["b"] * 5))
    scored = pd.DataFrame({"c": ["a"] * 7 + ["b"] * 3})
    value = term(0.7, 0.5) + term(0.3, 0.5)  # ≈ 0.169
    at_warn = drift_report({"c": reference}, scored, warn=value, fail=1.0)
    assert at_warn["status"].tolist() == ["ok"]
    assert drift_report({"c": reference}, scored)["status"].tolist() == ["warn"]
    assert drift_report({"c": reference}, scored, fail=0.15)["status"].tolist() == ["fail"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"warn": 0.3, "fail": 0.2}, "warn must not exceed fail; got warn=0.3, fail=0.2"),
        ({"warn": -0.1}, "warn must be a finite number of 0 or more; got -0.1"),
        ({"fail": float("nan")}, "fail must be a finite number of 0 or more; got nan"),
    ],
)
def test_drift_report_refuses_bad_limits(kwargs, message):
    with pytest.raises(ValueError, match=message):
        drift_report({}, pd.DataFrame(), **kwargs)


def test_drift_report_lists_every_column_it_cannot_compare():
    numeric = reference_distribution(pd.Series([1.0, 2.0]))
    frame = pd.DataFrame({"a": ["x", "y"], "b": ["z", "w"]})
    with pytest.raises(ValueError, match=r"2 column\(s\) cannot be compared: a: .*; b: "):
        drift_report({"a": numeric, "b": numeric}, frame)


# --- training_reference and scoring_drift ------------------------------------------------------


def _scored(n: int = 1000, *, shift: float = 0.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1.0, n),
            "frequency_365d": np.r_[np.zeros(n // 2), np.ones(n - n // 2)],
            "churn_probability": np.r_[rng.uniform(0, 1, n // 2), rng.uniform(0, 0.2, n - n // 2)],
        }
    )


def test_training_reference_keeps_features_only_for_every_customer():
    rows = _scored()
    everyone = training_reference(rows, rows["churn_probability"], population="all", features=["x"])
    active = training_reference(
        rows, rows["churn_probability"], population="active_365d", features=["x"]
    )
    assert list(everyone) == ["population", "features", "score"]
    assert list(everyone["features"]) == ["x"] and active["features"] == {}
    assert active["population"] == "active_365d"
    assert active["score"] == reference_distribution(rows["churn_probability"])
    json.dumps(everyone)  # logged as reference.json


def test_scoring_drift_compares_a_score_on_its_models_population():
    train = _scored()
    active = train[train["frequency_365d"] > 0]
    reference = training_reference(active, active["churn_probability"], population="active_365d")
    # the inactive half scores high, but the churn model never saw them
    report, notes = scoring_drift({}, {"churn_probability": reference}, _scored(seed=1))
    assert report["status"].tolist() == ["ok"]
    assert notes == ["the models carry no training distributions of features"]
    everyone = dict(reference, population="all")
    with pytest.raises(DriftError, match=r"drift above the limit 0.25 .*churn_probability"):
        scoring_drift({}, {"churn_probability": everyone}, _scored(seed=1))


def test_drifting_features_warn_unless_strict():
    train = _scored()
    features = {"x": reference_distribution(train["x"])}
    scores = {
        "churn_probability": training_reference(train, train["churn_probability"], population="all")
    }
    moved = _scored(shift=2.0, seed=1)
    report, notes = scoring_drift(features, scores, moved)
    assert report.set_index("column").loc["x", "status"] == "fail"
    assert notes and notes[0].startswith(f"PSI above {PSI_WARN} for 1 column(s): x ")
    with pytest.raises(DriftError, match=r"limit 0.5 .*x \d"):
        scoring_drift(features, scores, moved, fail=0.5, strict=True)
