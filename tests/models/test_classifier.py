"""The calibrated LightGBM classifier on simulated data whose true probabilities are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shap

from upseg.models.classifier import CalibratedLGBMClassifier, model_frame
from upseg.models.evaluation import reliability_table


def simulated(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Features, labels and the true P(y=1): a logistic model with a categorical effect."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "recency_days": rng.exponential(60, n),
            "frequency": rng.poisson(3, n).astype(float),
            "noise": rng.normal(size=n),
            "channel": rng.choice(["web", "store", "phone"], n),
            "opt_in": rng.random(n) < 0.8,
        }
    )
    X.loc[rng.random(n) < 0.05, "recency_days"] = np.nan
    logit = (
        -1.0
        - 0.02 * X["recency_days"].fillna(200)
        + 0.4 * X["frequency"]
        + X["channel"].map({"web": 0.8, "store": 0.0, "phone": -0.8})
    )
    p = 1 / (1 + np.exp(-logit.to_numpy()))
    return X, rng.binomial(1, p), p


@pytest.fixture(scope="module")
def fitted():
    X, y, _ = simulated(12_000, seed=1)
    Xv, yv, _ = simulated(6_000, seed=2)
    model = CalibratedLGBMClassifier(categorical=["channel"], random_state=0, n_jobs=1)
    return model.fit(X, y, X_valid=Xv, y_valid=yv)


def test_calibrated_probabilities_match_the_truth_on_new_data(fitted):
    X, y, truth = simulated(20_000, seed=3)
    p = fitted.predict_proba(X)[:, 1]
    # Within 0.05 of the true probability on average, a quarter of what knowing
    # nothing but the base rate would give.
    error = np.abs(p - truth).mean()
    assert error < 0.05
    assert error < 0.25 * np.abs(truth.mean() - truth).mean()
    table = reliability_table(y, p, n_bins=10)
    assert (table["observed_rate"] - table["mean_predicted"]).abs().max() < 0.05
    # Calibration does not cost accuracy: Brier score within 2% of the true model's
    # (a constant prediction would be about 35% worse here).
    oracle = np.mean((truth - y) ** 2)
    assert np.mean((p - y) ** 2) < oracle * 1.02


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibration_fixes_a_biased_booster(method):
    """A booster trained on rebalanced data is biased upwards; calibration on the truth's
    rate brings the mean prediction back to the observed rate."""
    X, y, _ = simulated(12_000, seed=4)
    keep = (y == 1) | (np.random.default_rng(0).random(len(y)) < 0.3)
    Xv, yv, _ = simulated(6_000, seed=5)
    model = CalibratedLGBMClassifier(
        categorical=["channel"], calibration=method, random_state=0, n_jobs=1
    ).fit(X[keep], y[keep], X_valid=Xv, y_valid=yv)
    Xt, yt, _ = simulated(20_000, seed=6)
    raw = 1 / (1 + np.exp(-model.raw_score(Xt)))
    p = model.predict_proba(Xt)[:, 1]
    assert raw.mean() - yt.mean() > 0.1
    assert abs(p.mean() - yt.mean()) < 0.01


def test_contributions_sum_to_the_raw_score_and_match_shap(fitted):
    X, _, _ = simulated(300, seed=7)
    contributions = fitted.contributions(X)
    assert list(contributions.columns) == [*X.columns, "bias"]
    np.testing.assert_allclose(contributions.sum(axis=1), fitted.raw_score(X), atol=1e-9)
    reference = shap.TreeExplainer(fitted.booster_).shap_values(fitted._frame(X))
    np.testing.assert_allclose(contributions.drop(columns="bias"), reference, atol=1e-6)


def test_unseen_category_is_missing_not_another_category(fitted):
    X, _, _ = simulated(5, seed=8)
    frame = model_frame(X.assign(channel="fax"), fitted.feature_names_in_, fitted.categories_)
    assert frame["channel"].isna().all()
    as_missing = fitted.predict_proba(X.assign(channel=None))
    np.testing.assert_allclose(fitted.predict_proba(X.assign(channel="fax")), as_missing)


def test_column_order_and_extra_columns_do_not_matter(fitted):
    X, _, _ = simulated(50, seed=9)
    shuffled = X[X.columns[::-1]].assign(customer_id="c")
    np.testing.assert_allclose(fitted.predict_proba(shuffled), fitted.predict_proba(X))


def test_training_is_reproducible_with_a_seed():
    X, y, _ = simulated(3_000, seed=10)
    Xv, yv, _ = simulated(1_000, seed=11)
    fits = [
        CalibratedLGBMClassifier(categorical=["channel"], random_state=3)
        .fit(X, y, X_valid=Xv, y_valid=yv)
        .predict_proba(Xv)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(*fits)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda X, y: (X, np.zeros_like(y)), r"y holds only the label 0"),
        (lambda X, y: (X, y * 2), r"y must hold 0/1 labels; found values \[0, 2\]"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(change, message):
    X, y, _ = simulated(500, seed=12)
    Xv, yv, _ = simulated(500, seed=13)
    model = CalibratedLGBMClassifier(categorical=["channel"])
    with pytest.raises(ValueError, match=message):
        bad_X, bad_y = change(X, y)
        model.fit(bad_X, bad_y, X_valid=Xv, y_valid=yv)


def test_scoring_without_a_trained_column_names_it(fitted):
    X, _, _ = simulated(20, seed=15)
    with pytest.raises(
        ValueError, match=r"lacks 1 column\(s\) the model was trained on: \['frequency'\]"
    ):
        fitted.predict_proba(X.drop(columns="frequency"))


def test_unknown_options_are_named():
    X, y, _ = simulated(200, seed=14)
    with pytest.raises(ValueError, match=r"calibration must be one of .*got 'beta'"):
        CalibratedLGBMClassifier(calibration="beta").fit(X, y, X_valid=X, y_valid=y)
    with pytest.raises(ValueError, match=r"categorical columns \['region'\] are not columns"):
        CalibratedLGBMClassifier(categorical=["region"]).fit(X, y, X_valid=X, y_valid=y)
