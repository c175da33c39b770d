"""Simulated campaign outcomes recover the truth they were drawn from."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from upseg.synthetic import COMPLETED_SHARE, simulate_campaign

SENT_AT = pd.Timestamp("2026-06-20", tz="UTC")


def _world(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = [f"c{i}" for i in range(n)]
    churned = pd.Series(pd.NaT, index=range(n), dtype="datetime64[us, UTC]")
    churned[: n // 10] = SENT_AT - pd.Timedelta(days=30)  # gone before the e-mail
    truth = pd.DataFrame(
        {
            "customer_id": ids,
            "churned_at": churned,
            "purchase_rate": rng.gamma(1.2, 4.0 / 1.2, n),
            "avg_order_value": rng.uniform(20, 120, n),
            "tau_conversion_discount_10": np.where(rng.random(n) < 0.5, 0.08, 0.0),
            "tau_conversion_new_arrivals": np.nan,
        }
    )
    audience = pd.DataFrame(
        {
            "customer_id": ids,
            "action": rng.choice(["send", "holdout", "skip"], n, p=[0.6, 0.3, 0.1]),
            "best_variant": rng.choice(["discount_10", "new_arrivals"], n),
        }
    )
    return truth, audience


def test_measured_lift_recovers_the_true_effect():
    truth, audience = _world(200_000)
    out = simulate_campaign(truth, audience, assigned_at=SENT_AT, seed=1)
    assert len(out) == audience["action"].isin(["send", "holdout"]).sum()
    sent, held = out[out.arm == "email"], out[out.arm == "control"]
    measured = sent.conversion.mean() - held.conversion.mean()
    # the control's rate estimates the sent customers' baseline: both are random halves
    se = np.sqrt(sent.conversion.var() / len(sent) + held.conversion.var() / len(held))
    assert abs(measured - sent.true_uplift.mean()) < 4 * se
    assert (out.loc[out.conversion == 0, "revenue"] == 0).all()
    assert (out.loc[out.conversion == 1, "revenue"] > 0).all()


def test_baseline_follows_the_purchase_rate_and_churn():
    truth, audience = _world(2_000)
    out = simulate_campaign(truth, audience, assigned_at=SENT_AT).merge(truth, on="customer_id")
    alive = out.churned_at.isna()
    expected = -np.expm1(-COMPLETED_SHARE * out.purchase_rate * 14 / 365.25)
    np.testing.assert_allclose(out.loc[alive, "baseline_probability"], expected[alive])
    assert (out.loc[~alive, "baseline_probability"] == 0).all()
    # customers without a true effect for their variant (NaN) get none
    na = out.variant == "new_arrivals"
    assert (out.loc[na, "true_uplift"] == 0).all()
    assert (out.loc[out.arm == "control", "variant"] == "control").all()


def test_the_same_seed_gives_the_same_outcomes():
    truth, audience = _world(5_000)
    first = simulate_campaign(truth, audience, assigned_at=SENT_AT, seed=3)
    again = simulate_campaign(truth, audience, assigned_at=SENT_AT, seed=3)
    pd.testing.assert_frame_equal(first, again)


def test_customers_outside_the_world_are_refused():
    truth, audience = _world(100)
    audience.loc[0, ["customer_id", "action"]] = ["stranger", "send"]
    with pytest.raises(ValueError, match=r"1 audience customer\(s\) are not in the truth"):
        simulate_campaign(truth, audience, assigned_at=SENT_AT)


def test_missing_columns_are_named():
    truth, audience = _world(10)
    with pytest.raises(ValueError, match=r"the audience lacks column\(s\) \['best_variant'\]"):
        simulate_campaign(truth, audience.drop(columns="best_variant"), assigned_at=SENT_AT)
