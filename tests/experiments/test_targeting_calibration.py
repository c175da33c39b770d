"""Predicted vs realised uplift on simulated campaigns whose true effects are known.

Each customer has a true effect ``tau`` on conversion; the audience's uplift is
``scale * tau``. Predictions three times too large must come out as ~3× the
realised totals and a calibration slope of ~1/3; predictions on scale as ~1×.
The slope is checked against statsmodels' OLS with HC3 errors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from upseg.experiments.analysis import AnalysisSettings
from upseg.experiments.calibration import DECILES, predicted_vs_realised
from upseg.experiments.data import Experiment, outcome_kinds, with_audience
from upseg.experiments.targeting import targeting

N = 40_000
BASE_RATE = 0.10
ORDER_VALUE = 50.0


def _campaign(
    scales: dict[str, float], *, n: int = N, seed: int = 0, with_value: bool = True
) -> tuple[Experiment, pd.DataFrame, pd.DataFrame]:
    """A randomised campaign (control and the arms of ``scales``) and its scored audience.

    Arm ``a``'s true effect is ``tau_a`` in [0, 0.15]; its predicted uplift is
    ``scales[a] * tau_a``. Revenue is ``ORDER_VALUE`` per conversion, and the
    audience's ``expected_incremental_value`` is ``uplift * ORDER_VALUE``.
    """
    rng = np.random.default_rng(seed)
    arms = ["control", *scales]
    arm = rng.choice(arms, size=n)
    frame = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "arm": arm})
    scores = {}
    effect = np.zeros(n)
    for i, name in enumerate(scales):
        # each arm's effect varies with its own draw, so the arms rank customers differently
        tau = 0.15 * rng.random(n) if i == 0 else 0.15 * (1 - rng.random(n) ** 2)
        frame[f"tau_{name}"] = tau
        scores[f"uplift_{name}"] = scales[name] * tau
        effect = np.where(arm == name, tau, effect)
    frame["conversion"] = (rng.random(n) < BASE_RATE + effect).astype("float64")
    frame["revenue"] = frame["conversion"] * ORDER_VALUE
    outcomes = ("conversion", "revenue")
    experiment = Experiment(
        frame=frame.astype({"arm": "string", "customer_id": "string"}),
        control="control",
        arms=tuple(arms),
        outcomes=outcomes,
        kinds=outcome_kinds(frame, outcomes),
    )
    audience = pd.DataFrame(
        {"customer_id": frame["customer_id"], "priority_segment": "all", "action": "send"}
    )
    best = pd.DataFrame(scores).max(axis=1)
    audience["uplift"] = best
    for column, values in scores.items():  # the scorer writes them even for one variant
        audience[column] = values
    if with_value:
        audience["expected_incremental_value"] = best * ORDER_VALUE
    return experiment, audience, frame


def _judged(scales: dict[str, float], **kwargs) -> tuple[dict, pd.DataFrame]:
    """The block with 99% intervals, so that a miss among ten deciles is rare luck."""
    experiment, audience, frame = _campaign(scales, **kwargs)
    block = predicted_vs_realised(
        with_audience(experiment, audience), AnalysisSettings(alpha=0.01), "conversion"
    )
    return block, frame


@pytest.fixture(scope="module")
def three_times() -> tuple[dict, pd.DataFrame]:
    return _judged({"email": 3.0})


@pytest.fixture(scope="module")
def on_scale() -> tuple[dict, pd.DataFrame]:
    return _judged({"email": 1.0}, seed=1)


def test_predictions_three_times_too_large_read_as_three_times(three_times) -> None:
    block, _ = three_times
    assert block["reason"] is None
    (entry,) = block["arms"]
    assert entry["score"] == "uplift_email"
    totals = entry["conversions"]
    assert totals["ratio_ci_low"] <= 3.0 <= totals["ratio_ci_high"]
    assert 2.5 < totals["ratio"] < 3.6
    assert not totals["on_scale"]
    calibration = entry["calibration"]
    assert calibration["slope_ci_low"] <= 1 / 3 <= calibration["slope_ci_high"]
    assert calibration["slope_ci_high"] < 1
    assert calibration["heterogeneity_p"] < 0.001
    assert calibration["calibration_r2"] < 0  # taken at face value, worse than the average
    value = entry["value"]
    assert value["outcome"] == "revenue"
    assert value["ratio_ci_low"] <= 3.0 <= value["ratio_ci_high"]
    assert value["predicted"] == pytest.approx(ORDER_VALUE * totals["predicted"])


def test_each_decile_realises_the_true_mean_effect(three_times) -> None:
    block, frame = three_times
    (entry,) = block["arms"]
    deciles = entry["deciles"]
    assert [d["decile"] for d in deciles] == list(range(1, DECILES + 1))
    assert sum(d["n_arm"] + d["n_control"] for d in deciles) == N
    predicted = [d["predicted"] for d in deciles]
    assert predicted == sorted(predicted, reverse=True)
    covered = 0
    for d in deciles:
        truth = d["predicted"] / 3  # the planted miscalibration: the truth is a third
        covered += d["realised_ci_low"] <= truth <= d["realised_ci_high"]
    assert covered >= DECILES - 1  # 99% intervals: two misses in ten happen 0.4% of the time
    # the top deciles' predictions are far outside what was realised
    assert [d["covers"] for d in deciles[:3]] == [False, False, False]


def test_predictions_on_scale_read_as_on_scale(on_scale) -> None:
    block, _ = on_scale
    (entry,) = block["arms"]
    totals = entry["conversions"]
    assert totals["ratio_ci_low"] <= 1.0 <= totals["ratio_ci_high"]
    assert totals["on_scale"]
    assert 0.8 < totals["ratio"] < 1.25
    calibration = entry["calibration"]
    assert calibration["slope_ci_low"] <= 1.0 <= calibration["slope_ci_high"]
    assert sum(bool(d["covers"]) for d in entry["deciles"]) >= DECILES - 1
    assert entry["value"]["on_scale"]


def test_the_slope_is_ols_with_hc3_errors_as_statsmodels_fits_it() -> None:
    experiment, audience, frame = _campaign({"email": 2.0}, n=4000, seed=3)
    block = predicted_vs_realised(
        with_audience(experiment, audience), AnalysisSettings(alpha=0.1), "conversion"
    )
    t = (frame["arm"] == "email").to_numpy(float)
    pair = frame["arm"].isin(["email", "control"]).to_numpy()
    y, t, s = frame["conversion"].to_numpy()[pair], t[pair], audience["uplift"].to_numpy()[pair]
    p = t.mean()
    psi = y * (t / p - (1 - t) / (1 - p))
    fit = sm.OLS(psi, sm.add_constant(s - s.mean())).fit(cov_type="HC3")
    calibration = block["arms"][0]["calibration"]
    assert calibration["ate"] == pytest.approx(fit.params[0])
    assert calibration["slope"] == pytest.approx(fit.params[1])
    assert calibration["ate_se"] == pytest.approx(fit.bse[0])
    assert calibration["slope_se"] == pytest.approx(fit.bse[1])
    low, high = fit.conf_int(alpha=0.1)[1]
    assert (calibration["slope_ci_low"], calibration["slope_ci_high"]) == pytest.approx((low, high))
    assert calibration["n"] == pair.sum()
    assert calibration["intercept"] == pytest.approx(fit.params[0] - fit.params[1] * s.mean())


def test_each_variant_is_judged_on_its_own_uplift() -> None:
    block, _ = _judged({"a": 1.0, "b": 3.0}, n=60_000, seed=2)
    entries = {e["arm"]: e for e in block["arms"]}
    assert {e["score"] for e in entries.values()} == {"uplift_a", "uplift_b"}
    assert entries["a"]["conversions"]["on_scale"]
    assert (
        entries["b"]["conversions"]["ratio_ci_low"]
        <= 3.0
        <= entries["b"]["conversions"]["ratio_ci_high"]
    )
    assert 0.4 < entries["a"]["propensity"] < 0.6
    # expected_incremental_value prices the best variant, so it is no arm's own prediction
    assert "best variant" in entries["a"]["value"]["reason"]


def test_without_predictions_the_block_says_why() -> None:
    experiment, audience, _ = _campaign({"email": 1.0}, n=2000, with_value=False)
    audience[["uplift", "uplift_email"]] = np.nan  # a scorer without a trusted uplift model
    block = predicted_vs_realised(
        with_audience(experiment, audience), AnalysisSettings(), "conversion"
    )
    assert block["reason"] == (
        "email: too few customers with a predicted uplift_email and conversion (0 < 100 per arm)"
    )
    bare = predicted_vs_realised(experiment, AnalysisSettings(), "conversion")
    assert bare["arms"][0]["reason"] == "the audience has no uplift column"


def test_constant_predictions_have_no_slope_and_no_value_without_its_column() -> None:
    experiment, audience, _ = _campaign({"email": 1.0}, n=4000, with_value=False)
    audience[["uplift", "uplift_email"]] = 0.05  # the average effect for everyone
    block = predicted_vs_realised(
        with_audience(experiment, audience), AnalysisSettings(), "conversion"
    )
    (entry,) = block["arms"]
    assert "same predicted uplift" in entry["calibration"]["reason"]
    assert entry["conversions"]["predicted"] == pytest.approx(0.05 * entry["n_arm"])
    assert entry["value"] == {"reason": "the audience has no expected_incremental_value column"}
    audience.loc[0, ["uplift", "uplift_email"]] = 0.5  # one customer alone would fix the slope
    block = predicted_vs_realised(
        with_audience(experiment, audience), AnalysisSettings(), "conversion"
    )
    assert "all customers but one" in block["arms"][0]["calibration"]["reason"]


def test_targeting_carries_the_block() -> None:
    experiment, audience, _ = _campaign({"email": 1.0}, n=3000)
    result = targeting(with_audience(experiment, audience), AnalysisSettings(seed=1))
    block = result["predicted_vs_realised"]
    assert block["outcome"] == result["outcome"] == "conversion"
    assert block["arms"][0]["n_arm"] + block["arms"][0]["n_control"] == 3000
