"""The measured average effect per variant: Welch's difference in means, as statsmodels has it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from upseg.models.uplift.average_effect import (
    AVERAGE_EFFECT_KEYS,
    average_effect_metrics,
    average_effects,
    logged_effects,
)


def campaign(n: int = 6000, seed: int = 0) -> pd.DataFrame:
    """Three arms; ``a`` lifts conversion from 10% to 13%, ``b`` does nothing."""
    rng = np.random.default_rng(seed)
    arm = rng.choice(["control", "a", "b"], size=n)
    rate = np.where(arm == "a", 0.13, 0.10)
    return pd.DataFrame({"arm": arm, "outcome": (rng.random(n) < rate).astype(int)})


def test_each_variant_matches_statsmodels_welch_interval():
    frame = campaign()
    got = average_effects(frame["outcome"], frame["arm"], control="control", variants=["a", "b"])
    base = frame.loc[frame["arm"] == "control", "outcome"].to_numpy(float)
    for variant in ("a", "b"):
        treated = frame.loc[frame["arm"] == variant, "outcome"].to_numpy(float)
        reference = CompareMeans(DescrStatsW(treated), DescrStatsW(base))
        low, high = reference.tconfint_diff(alpha=0.05, usevar="unequal")
        row = got.loc[variant]
        assert row["effect"] == pytest.approx(treated.mean() - base.mean(), abs=1e-12)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high), abs=1e-9)
        assert (row["n_treatment"], row["n_control"]) == (len(treated), len(base))


def test_the_interval_covers_the_planted_effect_about_95_percent_of_the_time():
    covered = []
    for seed in range(200):
        frame = campaign(1500, seed)
        effects = average_effects(frame["outcome"], frame["arm"], control="control", variants=["a"])
        row = effects.loc["a"]
        covered.append(row["ci_low"] <= 0.03 <= row["ci_high"])
    # 200 draws of a 95% interval: the share lies within 0.90-0.99 but for a 1-in-1000 fluke.
    assert 0.90 <= np.mean(covered) <= 0.99


def test_the_logged_metrics_read_back_as_the_table():
    frame = campaign()
    metrics = average_effect_metrics(frame, control="control", variants=["a", "b"])
    assert set(metrics) == {
        f"ate_{v}" if key == "effect" else f"ate_{v}_{key}"
        for v in ("a", "b")
        for key in AVERAGE_EFFECT_KEYS
    }
    table = average_effects(frame["outcome"], frame["arm"], control="control", variants=["a", "b"])
    pd.testing.assert_frame_equal(logged_effects(metrics, ["a", "b"]), table)
    # A run logged before the effects were, or naming another variant, has none.
    assert logged_effects({"test_qini_auc_weighted": 0.1}, ["a"]) is None
    assert logged_effects(metrics, ["a", "c"]) is None


def test_a_group_too_small_has_no_interval():
    got = average_effects([1, 0, 1], ["control", "control", "a"], control="control", variants=["a"])
    assert got.loc["a", "effect"] == pytest.approx(0.5)
    assert np.isnan(got.loc["a", "ci_low"]) and np.isnan(got.loc["a", "ci_high"])


@pytest.mark.parametrize(
    ("outcome", "arm", "message"),
    [
        ([1, 0], ["control"], "must be 1-D of one length"),
        ([1, np.nan], ["control", "a"], "must have no missing values; got 1"),
    ],
)
def test_bad_arguments_are_named(outcome, arm, message):
    with pytest.raises(ValueError, match=message):
        average_effects(outcome, arm, control="control", variants=["a"])
