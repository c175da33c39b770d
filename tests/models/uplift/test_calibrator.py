"""Sizes and evidence of a trained uplift model, against simulations with a known truth."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from upseg.models.uplift.calibration import BLPResult
from upseg.models.uplift.calibrator import (
    ORDER_SLOPE,
    UpliftCalibration,
    VariantCalibration,
    fit_calibration,
    group_evidence,
    heldout_check,
)
from upseg.models.uplift.model import UpliftModel

FEATURES = ("x1", "x2", "x3")


def _campaign(n: int, tau, seed: int, *, base: float = 0.15) -> tuple[pd.DataFrame, np.ndarray]:
    """A randomised two-arm campaign whose true effect is ``tau(x1)``, and that effect."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({c: rng.random(n) for c in FEATURES})
    effect = tau(frame["x1"].to_numpy())
    p0 = base + 0.1 * frame["x2"].to_numpy()
    arm = np.where(rng.random(n) < 0.5, "A", "control")
    treated = arm == "A"
    frame["arm"] = arm
    frame["outcome"] = (rng.random(n) < p0 + effect * treated).astype(float)
    return frame, effect


def _fitted(frame: pd.DataFrame, approach: str, params: dict | None = None) -> UpliftModel:
    return UpliftModel(approach=approach, outcome="binary", control="control", params=params).fit(
        frame.loc[:, list(FEATURES)], frame["outcome"], frame["arm"]
    )


def _top_ratio(score: np.ndarray, predicted: np.ndarray, tau: np.ndarray) -> float:
    """Predicted ÷ true incremental conversions among the top 20% by ``score``."""
    top = np.argsort(-score)[: len(score) // 5]
    return float(predicted[top].sum() / tau[top].sum())


def test_calibration_brings_an_over_dispersed_model_to_the_true_scale() -> None:
    # A T-learner with small leaves spreads its predictions far wider than a
    # 1-to-5-point effect; measured by cross-fitting on the training customers
    # alone, the calibration must bring its top fifth's sum near the truth.
    tau = lambda x: 0.01 + 0.04 * x  # noqa: E731
    train, _ = _campaign(30_000, tau, seed=1)
    test, truth = _campaign(30_000, tau, seed=2)
    model = _fitted(train, "t_learner", {"min_child_samples": 20, "num_leaves": 31})
    raw = model.predict_frame(test.loc[:, list(FEATURES)], raw=True)["uplift_A"].to_numpy()

    model.calibrate(fit_calibration(train, model, features=FEATURES, random_state=0))
    calibrated = model.predict_frame(test.loc[:, list(FEATURES)])["uplift_A"].to_numpy()

    raw_ratio = _top_ratio(raw, raw, truth)
    ratio = _top_ratio(raw, calibrated, truth)
    assert raw_ratio > 1.5, "the planted model must be mis-sized for the test to mean anything"
    assert 0.8 <= ratio <= 1.25
    # a positive slope keeps the model's ranking
    assert np.all(np.diff(calibrated[np.argsort(raw)]) >= -1e-12)
    # and the calibrated sizes average the true effect
    assert calibrated.mean() == pytest.approx(truth.mean(), abs=0.006)


def test_without_heterogeneity_everyone_gets_the_average_effect() -> None:
    train, _ = _campaign(20_000, lambda x: np.full(len(x), 0.02), seed=3)
    model = _fitted(train, "t_learner")
    calibration = fit_calibration(train, model, features=FEATURES, random_state=0)
    summary = calibration.summary().loc["A"]
    assert summary["slope_applied"] < 0.1 * abs(summary["blp_slope"]) + 0.05
    frame = model.calibrate(calibration).predict_frame(train.loc[:, list(FEATURES)].head(500))
    assert (
        frame["uplift"].std()
        < 0.25 * model.predict_frame(train.head(500), raw=True)["uplift"].std()
    )
    assert frame["uplift"].mean() == pytest.approx(0.02, abs=0.01)


def test_sleeping_dogs_are_found_where_the_evidence_is() -> None:
    # Customers with x1 < 0.2 are hurt by 8 points, everyone else gains 3.
    tau = lambda x: np.where(x < 0.2, -0.08, 0.03)  # noqa: E731
    train, _ = _campaign(30_000, tau, seed=4, base=0.25)
    test, truth = _campaign(30_000, tau, seed=5, base=0.25)
    model = _fitted(train, "s_learner")
    model.calibrate(fit_calibration(train, model, features=FEATURES, random_state=0))
    frame = model.predict_frame(test.loc[:, list(FEATURES)])

    flagged = (frame["evidence_of_uplift"] == "negative").to_numpy()
    dogs = truth < 0
    assert flagged.sum() > 0
    assert dogs[flagged].mean() >= 0.9  # precision
    assert flagged[dogs].mean() >= 0.4  # recall: at least the clearest groups
    positive = (frame["evidence_of_uplift"] == "positive").to_numpy()
    assert positive[~dogs].mean() > 0.2 > positive[dogs].mean()


def test_no_effect_no_sleeping_dogs() -> None:
    train, _ = _campaign(20_000, lambda x: np.zeros(len(x)), seed=6)
    model = _fitted(train, "t_learner")
    calibration = fit_calibration(train, model, features=FEATURES, random_state=0)
    frame = model.calibrate(calibration).predict_frame(train.loc[:, list(FEATURES)])
    assert (frame["evidence_of_uplift"] == "negative").sum() == 0
    # while the raw rule would have held back a large share
    assert (model.predict_frame(train, raw=True)["uplift"] < 0).mean() > 0.2


def test_group_evidence_controls_false_negatives_over_the_groups() -> None:
    # With no effect at all, some group is called negative in at most
    # alpha = 5% of campaigns (Bonferroni is conservative, so fewer).
    rng = np.random.default_rng(7)
    repetitions, flagged = 400, 0
    for _ in range(repetitions):
        psi = rng.normal(0.0, 1.0, 2_000)
        table = group_evidence(psi, rng.random(2_000), 10, 0.05)
        flagged += bool((table["evidence"] == "negative").any())
    assert flagged <= binom.ppf(0.999, repetitions, 0.05)


def test_group_evidence_bounds_by_hand() -> None:
    psi = np.array([1.0, 3.0, -2.0, -4.0])
    table = group_evidence(psi, np.array([4.0, 3.0, 2.0, 1.0]), 2, 0.2)
    # one-sided at 0.2 / 2 = 0.1: z = 1.2816; group 1 holds psi 1 and 3, group 2 -2 and -4
    z = 1.2815515655446004
    assert table["realised_mean"].tolist() == [2.0, -3.0]
    assert table["low"].iloc[0] == pytest.approx(2.0 - z * math.sqrt(2.0 / 2))
    assert table["high"].iloc[1] == pytest.approx(-3.0 + z * math.sqrt(2.0 / 2))
    assert table["evidence"].tolist() == ["positive", "negative"]


def _blp(ate: float) -> BLPResult:
    return BLPResult(ate, 0.0, (ate, ate), 0.0, 0.0, (0.0, 0.0), 1.0, ate, math.nan, 100, 0.0, 0.05)


def _variant(name: str, evidence: list[str], ate: float) -> VariantCalibration:
    groups = pd.DataFrame({"bin": [1, 2], "evidence": evidence})
    return VariantCalibration(name, _blp(ate), 0.0, "test", (0.0,), groups, 0.05)


def test_a_sleeping_dog_needs_every_variant_to_be_negative() -> None:
    calibration = UpliftCalibration(
        {
            "a": _variant("a", ["positive", "negative"], 0.01),
            "b": _variant("b", ["uncertain", "negative"], 0.02),
        },
        n_folds=3,
        n_customers=100,
    )
    raw = pd.DataFrame({"uplift_a": [1.0, -1.0, 1.0], "uplift_b": [1.0, -1.0, -1.0]})
    frame = calibration.apply(raw)
    # row 0: both top groups, best is b (larger average) whose group is uncertain;
    # row 1: both bottom groups, negative; row 2: a positive, b negative: not a dog
    assert frame["best_variant"].tolist() == ["b", "b", "b"]
    assert frame["evidence_of_uplift"].tolist() == ["uncertain", "negative", "uncertain"]
    assert frame["uplift"].tolist() == [0.02, 0.02, 0.02]
    assert frame["raw_uplift"].tolist() == [1.0, -1.0, -1.0]


def test_a_calibration_must_cover_the_models_variants() -> None:
    train, _ = _campaign(2_000, lambda x: np.full(len(x), 0.02), seed=8)
    model = _fitted(train, "s_learner")
    other = UpliftCalibration({"B": _variant("B", ["uncertain"] * 2, 0.0)}, 3, 10)
    with pytest.raises(ValueError, match=r"variants \['B'\].*predicts \['A'\]"):
        model.calibrate(other)


def test_too_few_customers_for_the_groups_is_refused() -> None:
    train, _ = _campaign(90, lambda x: np.full(len(x), 0.02), seed=9)
    model = _fitted(train, "s_learner", {"min_child_samples": 5})
    with pytest.raises(
        ValueError,
        match="10 groups need at least 100 customers per variant and control; the smallest has 90",
    ):
        fit_calibration(train, model, features=FEATURES)


def test_the_heldout_check_compares_sizes_with_what_happened() -> None:
    tau = lambda x: 0.01 + 0.04 * x  # noqa: E731
    train, _ = _campaign(30_000, tau, seed=1)
    test, truth = _campaign(20_000, tau, seed=2)
    model = _fitted(train, "t_learner", {"min_child_samples": 20, "num_leaves": 31})
    raw = heldout_check(model, test).loc["A"]

    # realised by hand: n * (treated mean - control mean), Welch standard error
    treated = test["arm"].eq("A").to_numpy()
    y = test["outcome"].to_numpy()
    lift = y[treated].mean() - y[~treated].mean()
    se = np.sqrt(
        y[treated].var(ddof=1) / treated.sum() + y[~treated].var(ddof=1) / (~treated).sum()
    )
    assert raw["n"] == len(test)
    assert raw["realised"] == pytest.approx(len(test) * lift)
    assert raw["realised_se"] == pytest.approx(len(test) * se)
    assert raw["top_ratio"] > 1.5  # the raw model over-sizes its top fifth

    calibration = fit_calibration(train, model, features=FEATURES, random_state=0)
    sized = heldout_check(model.calibrate(calibration), test).loc["A"]
    # the calibrated total is within two standard errors of what happened, and of the
    # truth within three of the training customers' average effect
    assert abs(sized["predicted"] - sized["realised"]) < 2 * sized["realised_se"]
    ate_se = calibration.variants["A"].blp.ate_se
    assert abs(sized["predicted"] - truth.sum()) < 3 * len(test) * ate_se
    assert abs(sized["top_predicted"] - sized["top_realised"]) < 2 * sized["top_realised_se"]
    # this model finds no heterogeneity: all but the average effect, in the model's order
    assert calibration.variants["A"].slope == ORDER_SLOPE
