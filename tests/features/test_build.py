"""Features hand-computed on tiny hand-made data, edge cases included."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from tests.conftest import customers_frame, events_frame, orders_frame
from upseg.features.build import build_features
from upseg.features.pit import customer_spine
from upseg.features.sets import CUSTOMER_V1

AS_OF = "2024-06-01"


@pytest.fixture
def world(validated):
    result = validated(edge_case_tables())
    assert result.rows_ok, result.problems
    return result.tables


def edge_case_tables() -> dict[str, pd.DataFrame]:
    """The hand-built source of these tests: events at, before and after as-of, and more."""
    customers = customers_frame(
        [
            ("A", "2024-01-01"),
            ("B", "2024-05-01", True),  # no orders at all
            ("C", "2024-06-02"),  # signed up after as-of: absent
            ("D", "2024-06-01T00:00:00"),  # signed up exactly at as-of: absent
            ("E", "2023-01-01", False, "2024-05-15"),  # unsubscribed before as-of
        ]
    )
    customers["country"] = ["US", "GB", "DE", "FR", "US"]
    orders = orders_frame(
        [
            ("o1", "A", "2024-03-01", 20, "completed", "shoes", 5),
            ("o2", "A", "2024-04-15", 99, "cancelled", "home"),
            ("o3", "A", "2024-05-01", 100, "completed", "shoes"),
            ("o4", "A", "2024-05-20", 50, "completed", "apparel"),
            ("o5", "A", "2024-05-25", 30, "returned", "apparel"),
            ("o6", "A", "2024-06-01T00:00:00", 1000, "completed", "home"),  # at as-of: excluded
            ("o7", "A", "2024-07-01", 1000, "completed", "home"),  # after: excluded
            ("o8", "E", "2023-02-01", 10, "completed", "beauty"),
        ]
    )
    email = events_frame(
        [
            ("A", "c1", "sent", "2024-05-10"),
            ("A", "c1", "opened", "2024-05-11"),
            ("A", "c1", "opened", "2024-05-12"),  # a second open of the same e-mail
            ("A", "c1", "clicked", "2024-05-11"),
            ("A", "c2", "sent", "2024-02-01"),
            ("A", "c2", "opened", "2024-02-02"),
            ("A", "c0", "bounced", "2024-01-05"),
            ("A", "c3", "sent", "2024-06-01"),  # at as-of: excluded
            ("A", "c3", "opened", "2024-06-02"),
            ("E", "c2", "unsubscribed", "2024-05-15"),
        ],
        "campaign_id",
    )
    web = events_frame(
        [
            ("A", "s1", "page_view", "2024-05-30"),
            ("A", "s1", "product_view", "2024-05-30T00:01"),
            ("A", "s1", "add_to_cart", "2024-05-30T00:02"),
            ("A", "s2", "product_view", "2024-05-20"),
            ("A", "s2", "add_to_cart", "2024-05-20T00:01"),
            ("A", "s2", "checkout_started", "2024-05-20T00:02"),
            ("A", "s3", "page_view", "2024-01-01"),
            ("A", "s4", "checkout_started", "2024-06-01T00:00"),  # at as-of: excluded
            ("B", "s5", "product_view", "2024-05-25"),
        ],
        "session_id",
    )
    return {"customers": customers, "orders": orders, "email_events": email, "web_events": web}


def _features(tables, as_of=AS_OF) -> pd.DataFrame:
    frame = build_features(tables, customer_spine(tables["customers"], as_of)).execute()
    return frame.set_index("customer_id")


def test_only_customers_signed_up_strictly_before_as_of(world):
    assert sorted(_features(world).index) == ["A", "B", "E"]


def test_rfm_features_by_hand(world):
    a = _features(world).loc["A"]
    expected = {
        "recency_days": 12.0,  # 2024-05-20 -> 2024-06-01
        "days_since_first_order": 92.0,  # 2024-03-01 -> 2024-06-01
        "frequency_30d": 1,
        "monetary_30d": 50.0,
        "frequency_90d": 2,
        "monetary_90d": 150.0,
        "frequency_365d": 3,
        "frequency_lifetime": 3,
        "monetary_lifetime": 170.0,
        "avg_order_value": 170 / 3,
        "days_between_orders": (92 - 12) / 2,
        "frequency_prev_90d": 1,
        "monetary_prev_90d": 20.0,
        "frequency_trend_90d": 1,
        "monetary_trend_90d": 130.0,
        "returns_365d": 1,
        "cancellations_365d": 1,
        "orders_placed_lifetime": 5,
        "returns_lifetime": 1,
        "return_rate": 1 / 5,
        "discounted_orders_lifetime": 1,
        "discount_order_share": 1 / 3,
        "category_count": 2,
        "favourite_category": "shoes",
        "favourite_category_share": 2 / 3,
        "tenure_days": 152.0,
    }
    for column, value in expected.items():
        assert a[column] == pytest.approx(value), column


def test_customer_without_orders_has_zero_counts_and_null_recency(world):
    b = _features(world).loc["B"]
    assert b["frequency_lifetime"] == 0 and b["monetary_lifetime"] == 0
    assert b["emails_sent_365d"] == 0
    assert pd.isna(b["recency_days"]) and pd.isna(b["avg_order_value"])
    assert pd.isna(b["open_rate_30d"])  # nothing sent: no rate, not a zero rate
    assert b["rfm_segment"] == "Prospects" and pd.isna(b["rfm_r"])
    assert b["lifecycle_stage"] == "consideration"  # viewed a product 7 days ago
    assert b["product_views_30d"] == 1


def test_engagement_features_by_hand(world):
    a = _features(world).loc["A"]
    assert a["emails_sent_30d"] == 1 and a["emails_sent_90d"] == 1 and a["emails_sent_365d"] == 2
    assert a["emails_opened_30d"] == 1  # two opens of one e-mail count once
    assert a["open_rate_30d"] == 1.0 and a["open_rate_365d"] == 1.0
    assert a["click_rate_365d"] == 0.5
    assert a["days_since_last_open"] == pytest.approx(20.0)
    assert a["days_since_last_click"] == pytest.approx(21.0)
    assert a["bounces_lifetime"] == 1 and a["unsubscribes_lifetime"] == 0


def test_web_features_by_hand(world):
    a = _features(world).loc["A"]
    assert a["sessions_30d"] == 2 and a["sessions_365d"] == 3
    assert a["product_views_30d"] == 2
    assert a["cart_sessions_30d"] == 2 and a["checkout_sessions_30d"] == 1
    assert a["cart_abandonments_30d"] == 1
    assert a["days_since_last_visit"] == pytest.approx(2.0 - 2 / 1440)


def test_unsubscribe_is_point_in_time(world):
    before = _features(world, "2024-05-10").loc["E"]
    after = _features(world).loc["E"]
    assert not before["is_unsubscribed"] and after["is_unsubscribed"]
    assert after["unsubscribes_lifetime"] == 1 and before["unsubscribes_lifetime"] == 0
    assert after["lifecycle_stage"] == "churned"  # last order 16 months ago


def test_attributes_pass_through(world):
    assert _features(world).loc["A", "country"] == "US"


def test_columns_follow_the_feature_set(world):
    frame = _features(world).reset_index()
    expected = ["customer_id", "as_of", *CUSTOMER_V1.columns(), "country"]
    assert list(frame.columns) == expected


def test_optional_tables_absent_means_their_features_absent(validated, world):
    customers = world["customers"].execute()
    orders = world["orders"].execute()
    tables = validated({"customers": customers, "orders": orders}).tables
    frame = _features(tables)
    assert "emails_sent_30d" not in frame.columns and "sessions_30d" not in frame.columns
    assert frame.loc["A", "frequency_lifetime"] == 3


def test_time_zones_are_converted_to_utc(validated):
    customers = pd.DataFrame(
        {
            "customer_id": ["Z"],
            "signup_at": ["2024-01-01T00:00:00+05:00"],
            "email_opt_in": ["true"],
            "unsubscribed_at": [None],
        }
    )
    orders = pd.DataFrame(
        {
            "order_id": ["z1", "z2"],
            "customer_id": ["Z", "Z"],
            # 23:30 at UTC-2 is 01:30 UTC on June 1st: after the cutoff.
            # 01:00 at UTC+2 is 23:00 UTC on May 31st: one hour before it.
            "ordered_at": ["2024-05-31T23:30:00-02:00", "2024-06-01T01:00:00+02:00"],
            "amount": ["10", "20"],
        }
    )
    tables = validated({"customers": customers, "orders": orders}, fmt="csv").tables
    z = _features(tables).loc["Z"]
    assert z["frequency_lifetime"] == 1 and z["monetary_lifetime"] == 20.0
    assert z["recency_days"] == pytest.approx(1 / 24)
    assert z["tenure_days"] == pytest.approx(152 + 5 / 24)
    assert not math.isnan(z["recency_days"])
