"""Segment KPIs against hand counts, Wilson against statsmodels, the bands against simulations.

The log below is small enough to count by hand: duplicate opens, an open with no
delivery receipt, a click with no open, a bounce, an unsubscribe and a complaint,
an open by an image proxy, an open of an e-mail never sent, orders inside and at
the edges of the attribution window, and a customer who changes segment mid-period.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom, chi2
from scipy.stats import t as t_dist
from statsmodels.stats.proportion import proportion_confint

from upseg.experiments.monitoring import (
    NEW_CUSTOMERS,
    customer_kpis,
    email_kpis,
    email_outcomes,
    period_start,
    wilson_interval,
)
from upseg.experiments.monitoring.bands import kpi_bands

MON = pd.Timestamp("2026-03-02T00:00", tz="UTC")  # a Monday


def at(days: float) -> pd.Timestamp:
    return MON + pd.Timedelta(days=days)


def log(rows: list[tuple]) -> pd.DataFrame:
    """email_events from (customer, campaign, event, days after MON[, machine_open])."""
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "campaign_id": [r[1] for r in rows],
            "event_type": [r[2] for r in rows],
            "occurred_at": [at(r[3]) for r in rows],
            "campaign_type": ["promo" if r[1] == "A" else "newsletter" for r in rows],
            "machine_open": [r[4] if len(r) > 4 else None for r in rows],
        }
    )


EVENTS = log(
    [
        ("c1", "A", "sent", 0.0),
        ("c1", "A", "delivered", 0.01),
        ("c1", "A", "opened", 0.5),
        ("c1", "A", "opened", 0.6),  # a second open of the same e-mail counts once
        ("c1", "A", "clicked", 0.7),
        ("c2", "A", "sent", 0.0),
        ("c2", "A", "bounced", 0.01),
        ("c3", "A", "sent", 0.0),
        ("c3", "A", "opened", 1.0),  # no delivery receipt: the open proves it arrived
        ("c4", "A", "sent", 0.0),
        ("c4", "A", "delivered", 0.01),
        ("c4", "A", "unsubscribed", 0.2),
        ("c4", "A", "complained", 0.3),
        ("c5", "B", "sent", 1.0),
        ("c5", "B", "delivered", 1.01),
        ("c5", "B", "clicked", 1.5),  # a click with images blocked: an open too
        ("c6", "B", "opened", 1.0),  # never sent: not an e-mail
        ("c7", "B", "sent", 1.0),
        ("c7", "B", "delivered", 1.01),
        ("c7", "B", "opened", 1.02, True),  # an image proxy's open: not an open
        ("c1", "B", "sent", 3.0),
        ("c1", "B", "delivered", 3.01),
    ]
)
ORDERS = pd.DataFrame(
    {
        "customer_id": ["c1", "c1", "c4", "c5", "c7"],
        "ordered_at": [at(2.0), at(4.0), at(8.0), at(1.0), at(8.0)],
        "amount": [10.0, 30.0, 99.0, 5.0, 7.0],
    }
)
# c1's first order (day 2) is A's; its second (day 4) is B's, the latest e-mail before it.
# c4's order comes 8 days after A: outside 7 days. c5's order is at B's send instant: B's.
# c7's order comes exactly 7 days after B: outside the window [sent, sent + 7 days).


def outcomes() -> pd.DataFrame:
    return email_outcomes(EVENTS, ORDERS).set_index(["customer_id", "campaign_id"]).sort_index()


def test_each_email_by_hand():
    e = outcomes()
    flags = ["delivered", "opened", "clicked", "bounced", "unsubscribed", "complained", "converted"]
    expected = {
        ("c1", "A"): (1, 1, 1, 0, 0, 0, 1),
        ("c1", "B"): (1, 0, 0, 0, 0, 0, 1),
        ("c2", "A"): (0, 0, 0, 1, 0, 0, 0),
        ("c3", "A"): (1, 1, 0, 0, 0, 0, 0),
        ("c4", "A"): (1, 0, 0, 0, 1, 1, 0),
        ("c5", "B"): (1, 1, 1, 0, 0, 0, 1),
        ("c7", "B"): (1, 0, 0, 0, 0, 0, 0),
    }
    assert list(e.index) == sorted(expected)
    for key, values in expected.items():
        assert tuple(int(e.loc[key, f]) for f in flags) == values, key
    assert e["revenue"].to_dict() == {
        ("c1", "A"): 10.0,
        ("c1", "B"): 30.0,
        ("c2", "A"): 0.0,
        ("c3", "A"): 0.0,
        ("c4", "A"): 0.0,
        ("c5", "B"): 5.0,
        ("c7", "B"): 0.0,
    }
    assert e.loc[("c1", "A"), "campaign_type"] == "promo"
    assert e.loc[("c1", "A"), "sent_at"] == at(0)


def kpi(table, metric, segment_by="all", segment="all", campaign_type="all"):
    row = table[
        (table["metric"] == metric)
        & (table["segment_by"] == segment_by)
        & (table["segment"] == segment)
        & (table["campaign_type"] == campaign_type)
    ]
    assert len(row) == 1, (metric, segment_by, segment, campaign_type, len(row))
    return row.iloc[0]


def test_the_week_overall_by_hand():
    table = email_kpis(email_outcomes(EVENTS, ORDERS), freq="week")
    assert set(table["period"]) == {MON}
    # 7 e-mails sent; 6 delivered (c2 bounced); opened: c1 A, c3 A, c5 B; clicked: c1 A, c5 B
    expected = {
        "delivery_rate": (6, 7),
        "bounce_rate": (1, 7),
        "open_rate": (3, 6),
        "click_rate": (2, 6),
        "click_to_open_rate": (2, 3),
        "unsubscribe_rate": (1, 6),
        "complaint_rate": (1, 6),
        "conversion_rate": (3, 7),
        "revenue_per_email": (45.0, 7),
    }
    for metric, (num, den) in expected.items():
        row = kpi(table, metric)
        assert (row["numerator"], row["denominator"]) == (num, den), metric
        assert row["value"] == pytest.approx(num / den), metric
        assert row["ci_low"] <= row["value"] <= row["ci_high"], metric
    promo = kpi(table, "open_rate", campaign_type="promo")
    assert (promo["numerator"], promo["denominator"]) == (2, 3)  # c1 A, c3 A of c1, c3, c4
    news = kpi(table, "delivery_rate", campaign_type="newsletter")
    assert (news["numerator"], news["denominator"]) == (3, 3)


def test_revenue_interval_is_the_normal_one_on_each_emails_revenue():
    table = email_kpis(email_outcomes(EVENTS, ORDERS), freq="week")
    row = kpi(table, "revenue_per_email")
    values = np.array([10.0, 30.0, 0, 0, 0, 5.0, 0])
    half = 1.959963984540054 * values.std(ddof=1) / np.sqrt(len(values))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(
        (values.mean() - half, values.mean() + half)
    )


def test_segments_are_the_ones_at_the_start_of_the_period():
    # c1 is "Champions" on Monday and changes on Wednesday: the week counts it as a champion.
    # c5 and c7 signed up during the week: they have no membership at its start.
    membership = pd.DataFrame(
        {
            "period": [MON] * 4 + [MON + pd.Timedelta(days=2)],
            "customer_id": ["c1", "c2", "c3", "c4", "c1"],
            "rfm_segment": ["Champions", "Lost", "Lost", "Lost", "At Risk"],
        }
    )
    table = email_kpis(
        email_outcomes(EVENTS, ORDERS),
        freq="week",
        membership=membership,
        segment_by=["rfm_segment"],
    )
    champions = kpi(table, "delivery_rate", "rfm_segment", "Champions")
    assert (champions["numerator"], champions["denominator"]) == (2, 2)  # both of c1's e-mails
    lost = kpi(table, "delivery_rate", "rfm_segment", "Lost")
    assert (lost["numerator"], lost["denominator"]) == (2, 3)  # c2 bounced
    new = kpi(table, "delivery_rate", "rfm_segment", NEW_CUSTOMERS)
    assert (new["numerator"], new["denominator"]) == (2, 2)  # c5, c7
    assert "At Risk" not in set(table["segment"])


def test_periods_start_on_monday_the_first_of_the_month_and_midnight():
    times = pd.Series(pd.to_datetime(["2026-03-08T23:59", "2026-03-09T00:00"], utc=True))
    assert list(period_start(times, "week")) == [MON, MON + pd.Timedelta(days=7)]
    assert list(period_start(times, "month")) == [pd.Timestamp("2026-03-01", tz="UTC")] * 2
    assert list(period_start(times, "day")) == [
        pd.Timestamp("2026-03-08", tz="UTC"),
        pd.Timestamp("2026-03-09", tz="UTC"),
    ]
    with pytest.raises(ValueError, match="freq must be one of day, week, month; got 'year'"):
        period_start(times, "year")


@pytest.mark.parametrize(("successes", "n"), [(0, 10), (3, 7), (50, 100), (999, 1000), (7, 7)])
def test_wilson_matches_statsmodels(successes, n):
    low, high = wilson_interval(np.array([successes]), np.array([n]))
    ref = proportion_confint(successes, n, alpha=0.05, method="wilson")
    assert (low[0], high[0]) == pytest.approx(ref, abs=1e-12)


def test_reactivation_and_churn_by_hand():
    week2 = MON + pd.Timedelta(days=7)
    membership = pd.DataFrame(
        {
            "period": [MON] * 5 + [week2] * 5,
            "customer_id": ["a", "b", "c", "d", "e"] * 2,
            "lifecycle_stage": ["churned", "churned", "retention", "conversion", "discovery"]
            + ["retention", "churned", "churned", "conversion", "discovery"],
        }
    )
    orders = pd.DataFrame(
        {"customer_id": ["a", "d"], "ordered_at": [at(3), at(1)], "amount": [1.0, 1.0]}
    )
    table = customer_kpis(membership, orders, freq="week")
    react = kpi(table[table["period"] == MON], "reactivation_rate")
    assert (react["numerator"], react["denominator"]) == (1, 2)  # a of a, b
    churn = kpi(table[table["period"] == MON], "churn_rate")
    assert (churn["numerator"], churn["denominator"]) == (1, 2)  # c of c, d
    # the last period has no next one: no churn rate, but a reactivation rate
    assert set(table.loc[table["period"] == week2, "metric"]) == {"reactivation_rate"}


def _series(values_num, values_den, metric="bounce_rate"):
    n = len(values_num)
    return pd.DataFrame(
        {
            "period": pd.date_range(MON, periods=n, freq="7D"),
            "segment_by": "all",
            "segment": "all",
            "campaign_type": "all",
            "metric": metric,
            "numerator": np.asarray(values_num, dtype=float),
            "denominator": np.asarray(values_den, dtype=float),
            "value": np.asarray(values_num, dtype=float) / np.asarray(values_den, dtype=float),
        }
    )


def test_p_chart_band_by_hand():
    # Four weeks that vary no more than binomial sampling: the band is the exact binomial one.
    banded = kpi_bands(_series([24, 26, 25, 25, 50], [1000] * 5), history=4, min_history=4)
    last = banded.iloc[-1]
    p = (100 + 0.5) / (4000 + 1)  # the four earlier weeks, smoothed by half an event
    tail = 0.0013498980316301  # P(Z > 3)
    low = min(k for k in range(1001) if binom.cdf(k, 1000, p) >= tail)
    high = min(k for k in range(1001) if binom.sf(k, 1000, p) <= tail)
    assert (last["expected"], last["band_low"], last["band_high"]) == pytest.approx(
        (p, low / 1000, high / 1000)
    )
    assert (low, high) == (12, 41)  # about 25 +- 3 sigma (4.9), a little wider above
    assert last["flag"] == "high" and last["history_periods"] == 4
    assert (banded["flag"].iloc[:4] == "").all()  # fewer than 4 earlier periods: not judged


def test_a_history_that_varies_more_than_sampling_widens_the_band_by_hand():
    # 1%, 2%, 3%, 4% at 1,000 e-mails: far more spread than Binomial(1000, 2.5%) gives.
    banded = kpi_bands(_series([10, 20, 30, 40, 50], [1000] * 5), history=4, min_history=4)
    last = banded.iloc[-1]
    p = (100 + 0.5) / (4000 + 1)
    z = (np.array([0.01, 0.02, 0.03, 0.04]) - p) / np.sqrt(p * (1 - p) / 1000)
    assert (z**2).sum() - 4 * z.mean() ** 2 > chi2.ppf(0.99, 3)  # more spread than sampling
    # Laney's factor from the standard deviation of the z-scores, as a prediction interval
    # for one more week: Student's t with 3 degrees of freedom at the tail of 3 sigmas.
    spread = z.std(ddof=1) * t_dist.isf(0.0013498980316301, 3) * np.sqrt(1 + 1 / 4) / 3
    assert spread > 2
    assert p - spread * (p - 12 / 1000) < 0 == last["band_low"]  # no rate is negative
    assert last["band_high"] == pytest.approx(p + spread * (41 / 1000 - p))
    assert last["flag"] == ""  # 5% continues the climb; it is on the trend line, not a break


def test_a_large_segment_whose_rate_wanders_is_not_flagged_every_week():
    # 200 series of 500,000 e-mails a week whose true open rate wanders (beta-distributed
    # around 15%, sd 0.3 points): sampling alone explains a tenth of that spread, so a plain
    # p-chart flags most weeks; the overdispersed band keeps the false alarms rare and still
    # flags a week whose rate falls by 3 points (10 of its sds).
    rng = np.random.default_rng(11)
    frames = []
    for s in range(200):
        rate = rng.beta(2125, 12040, size=30)  # mean 0.15, sd 0.003
        num = rng.binomial(500_000, rate)
        num[-1] = rng.binomial(500_000, 0.12)
        f = _series(num, [500_000] * 30, metric="open_rate")
        frames.append(f.assign(segment=f"s{s}"))
    banded = kpi_bands(pd.concat(frames, ignore_index=True))
    judged = banded[(banded["history_periods"] >= 4) & (banded["period"] < banded["period"].max())]
    assert (judged["flag"] != "").mean() < 0.01
    last = banded[banded["period"] == banded["period"].max()]
    assert (last["flag"] == "low").mean() > 0.95
    plain = judged[(judged["value"] - judged["expected"]).abs() > 3 * np.sqrt(0.15 * 0.85 / 5e5)]
    assert len(plain) / len(judged) > 0.5  # what the binomial band alone would flag


def test_a_rare_rate_with_a_history_of_zeros_allows_one_event():
    # No complaint in eight weeks of 300 e-mails, then one: not an anomaly; then five: one.
    banded = kpi_bands(_series([0] * 8 + [1, 5], [300] * 10, metric="complaint_rate"))
    assert list(banded["flag"].iloc[-2:]) == ["", "high"]


def test_a_stable_rate_rarely_leaves_its_band_and_a_break_is_flagged():
    rng = np.random.default_rng(7)
    frames = []
    for s in range(400):  # 400 stable series of 30 weeks, 2,000 e-mails a week at 1% bounces
        num = rng.binomial(2000, 0.01, size=30)
        f = _series(num, [2000] * 30)
        frames.append(f.assign(segment=f"s{s}"))
    banded = kpi_bands(pd.concat(frames, ignore_index=True))
    judged = banded[banded["history_periods"] >= 4]
    false_alarms = (judged["flag"] != "").mean()
    # exact limits at z = 3 hold each tail under 0.135% with a known centre; estimating
    # the centre from 8 weeks adds a little
    assert 0.0 < false_alarms < 0.006, false_alarms
    # a week of bounces: 1% -> 3% at 2,000 e-mails is flagged, in all 50 series
    broken = []
    for s in range(50):
        num = rng.binomial(2000, 0.01, size=12)
        num[-1] = rng.binomial(2000, 0.03)
        f = _series(num, [2000] * 12)
        broken.append(f.assign(segment=f"b{s}"))
    flagged = kpi_bands(pd.concat(broken, ignore_index=True))
    assert (flagged.groupby("segment")["flag"].last() == "high").all()


def test_revenue_gets_an_individuals_chart():
    rng = np.random.default_rng(3)
    values = rng.normal(2.0, 0.1, size=20)
    values[-1] = 3.0  # ten sigmas
    # revenue per e-mail: the value is the mean, not numerator / denominator of a rate
    f = _series(values * 5000, [5000] * 20, metric="revenue_per_email")
    banded = kpi_bands(f)
    assert banded["flag"].iloc[-1] == "high"
    assert (banded["flag"].iloc[4:-1] == "").mean() > 0.9
    prev = values[-9:-1]
    sigma = max(np.abs(np.diff(prev)).mean() / 1.128, prev.std(ddof=1))
    # a prediction interval from 8 values: Student's t with 7 degrees of freedom
    half = t_dist.isf(0.0013498980316301, 7) * np.sqrt(1 + 1 / 8) * sigma
    assert banded["band_high"].iloc[-1] == pytest.approx(prev.mean() + half)


def test_small_denominators_are_shown_not_flagged():
    banded = kpi_bands(_series([0, 0, 0, 0, 5], [20] * 5), min_denominator=30)
    assert banded["flag"].iloc[-1] == ""


def test_bad_band_settings_are_named():
    with pytest.raises(ValueError, match="history must be an integer of 2 or more; got 1"):
        kpi_bands(_series([1, 2], [10, 10]), history=1)
