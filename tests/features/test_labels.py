"""Labels and campaign outcomes see only the window after the cutoff."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import customers_frame, orders_frame, ts
from upseg.features.build import build_features
from upseg.features.labels import (
    ACTIVE_CUSTOMERS,
    ALL_CUSTOMERS,
    campaign_outcomes,
    churn_labels,
    in_population,
    purchase_labels,
    revenue_labels,
)
from upseg.features.pit import campaign_spine, customer_spine

AS_OF = "2024-06-01"


@pytest.fixture
def tables(validated):
    customers = customers_frame(
        [("a", "2023-01-01"), ("b", "2023-01-01"), ("c", "2023-01-01"), ("d", "2023-01-01")]
    )
    orders = orders_frame(
        [
            ("a1", "a", "2024-05-01", 10),  # a: active
            ("a2", "a", "2024-06-01T00:00:00", 30),  # exactly at as-of: a label event
            ("b1", "b", "2024-03-01", 10),  # b: active, buys nothing after
            ("b2", "b", "2024-07-15", 10, "cancelled"),  # a cancelled order is no purchase
            ("c1", "c", "2022-01-01", 10),  # c: inactive (over 365 days)
            ("c2", "c", "2024-07-01T00:00:00", 5),  # day 30 exactly: out of 30-day window
            ("d1", "d", "2024-05-01", 10),
            ("d2", "d", "2024-08-29T23:59:59", 7),  # inside the 90-day window
        ]
    )
    assignments = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "campaign_id": ["X"] * 4,
            "variant": ["control", "mail", "mail", "control"],
            "assigned_at": [ts("2024-05-25"), ts("2024-05-25"), ts("2024-06-20"), ts("2024-08-20")],
        }
    )
    result = validated(
        {"customers": customers, "orders": orders, "campaign_assignments": assignments}
    )
    assert result.rows_ok, result.problems
    return result.tables


def _by_customer(expr):
    return expr.execute().set_index("customer_id")


def test_purchase_label_window_starts_at_as_of(tables):
    labels = _by_customer(
        purchase_labels(tables["orders"], customer_spine(tables["customers"], AS_OF))
    )
    assert labels.purchased.to_dict() == {"a": True, "b": False, "c": False, "d": False}


def test_churn_label_only_for_active_customers(tables):
    spine = customer_spine(tables["customers"], AS_OF)
    labels = _by_customer(churn_labels(tables["orders"], spine))
    assert labels.churn_eligible.to_dict() == {"a": True, "b": True, "c": False, "d": True}
    churned = labels.churned.astype(object).where(labels.churned.notna(), None).to_dict()
    assert churned == {"a": False, "b": True, "c": None, "d": False}


def test_campaign_outcomes_in_window_after_assignment(tables):
    outcomes = _by_customer(
        campaign_outcomes(tables["orders"], tables["campaign_assignments"], "X")
    )
    # a: a2 six days after; b: only a cancelled order; c: c2 eleven days after;
    # d: d2 nine days after its assignment of 2024-08-20.
    assert outcomes.conversion.to_dict() == {"a": 1, "b": 0, "c": 1, "d": 1}
    assert outcomes.revenue.to_dict() == {"a": 30.0, "b": 0.0, "c": 5.0, "d": 7.0}
    assert outcomes.variant.to_dict() == {"a": "control", "b": "mail", "c": "mail", "d": "control"}


def test_campaign_features_are_taken_as_of_each_assignment(tables):
    spine = campaign_spine(tables["campaign_assignments"], "X")
    feats = _by_customer(build_features(tables, spine))
    # d is assigned on 2024-08-20: its order of 2024-08-29 is an outcome, not a feature.
    assert feats.loc["d", "frequency_lifetime"] == 1
    assert feats.loc["c", "frequency_lifetime"] == 1  # c2 (2024-07-01) is after assignment too
    assert feats.loc["a", "recency_days"] == pytest.approx(24.0)


def test_in_population_picks_the_customers_churn_labels_marks_eligible(tables):
    spine = customer_spine(tables["customers"], AS_OF)
    eligible = _by_customer(churn_labels(tables["orders"], spine)).churn_eligible
    features = build_features(tables, spine).execute()
    active = in_population(features, ACTIVE_CUSTOMERS)
    assert set(active["customer_id"]) == set(eligible[eligible].index) == {"a", "b", "d"}
    assert in_population(features, ALL_CUSTOMERS) is features
    assert in_population(features, None) is features  # a reference that names none


def test_in_population_refuses_an_unknown_population():
    with pytest.raises(ValueError, match="population must be one of all, active_365d; got 'x'"):
        in_population(pd.DataFrame({"frequency_365d": [1]}), "x")


def test_revenue_label_sums_completed_orders_in_the_window(tables):
    labels = _by_customer(
        revenue_labels(
            tables["orders"], customer_spine(tables["customers"], AS_OF), horizon_days=90
        )
    )
    # a: the order exactly at as-of; b: a cancelled order brings nothing;
    # c: day 30 is inside 90 days; d: 23:59:59 on day 89.
    assert labels["revenue"].to_dict() == {"a": 30.0, "b": 0.0, "c": 5.0, "d": 7.0}
    assert labels["orders"].to_dict() == {"a": 1, "b": 0, "c": 1, "d": 1}


def test_revenue_label_discounts_each_order_by_its_delay(tables):
    spine = customer_spine(tables["customers"], AS_OF)
    labels = _by_customer(
        revenue_labels(tables["orders"], spine, horizon_days=90, discount_rate=0.1)
    )
    days_c = 30.0
    days_d = (ts("2024-08-29T23:59:59") - ts(AS_OF)).total_seconds() / 86_400
    assert labels.loc["a", "revenue"] == pytest.approx(30.0)  # at as-of: not discounted
    assert labels.loc["c", "revenue"] == pytest.approx(5.0 * 1.1 ** (-days_c / 365), rel=1e-9)
    assert labels.loc["d", "revenue"] == pytest.approx(7.0 * 1.1 ** (-days_d / 365), rel=1e-9)
