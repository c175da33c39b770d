"""RFM quintiles, the segment grid and lifecycle stages, computed by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import customers_frame, orders_frame
from upseg.features.build import build_features
from upseg.features.pit import customer_spine
from upseg.features.segments import NO_PURCHASE_SEGMENT, RFM_GRID, RFM_SEGMENTS

AS_OF = "2024-06-01"
ISSUE_SEGMENTS = {
    "Champions",
    "Loyal Customers",
    "Potential Loyalists",
    "New Customers",
    "Promising",
    "Need Attention",
    "About to Sleep",
    "At Risk",
    "Can't Lose Them",
    "Hibernating",
    "Lost",
}


def test_grid_covers_every_cell_with_the_eleven_named_segments():
    assert {(r, f) for r in RFM_GRID for f in RFM_GRID[r]} == {
        (r, f) for r in range(1, 6) for f in range(1, 6)
    }
    assert set(RFM_SEGMENTS) == ISSUE_SEGMENTS


@pytest.fixture
def ranked(validated):
    """Ten buyers; buyer i is i-th best on recency, frequency and monetary alike."""
    customers = customers_frame(
        [(f"c{i}", "2022-01-01") for i in range(10)] + [("none", "2024-01-01")]
    )
    rows = []
    for i in range(10):
        last = pd.Timestamp(AS_OF) - pd.Timedelta(days=100 - 10 * i)
        for k in range(i + 1):  # i + 1 orders, the last one `last`
            rows.append((f"o{i}_{k}", f"c{i}", str(last - pd.Timedelta(days=k)), 10 * (i + 1)))
    result = validated({"customers": customers, "orders": orders_frame(rows)})
    tables = result.tables
    return (
        build_features(tables, customer_spine(tables["customers"], AS_OF))
        .execute()
        .set_index("customer_id")
    )


def test_quintiles_by_percent_rank(ranked):
    # percent_rank of buyer i among 10 is i/9; score = min(5, floor(5 i / 9) + 1).
    expected = [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    for i, score in enumerate(expected):
        row = ranked.loc[f"c{i}"]
        assert (row.rfm_r, row.rfm_f, row.rfm_m) == (score, score, score)
        assert row.rfm_score == f"{score}{score}{score}"
        assert row.rfm_segment == RFM_GRID[score][score]


def test_segments_follow_the_grid(ranked):
    assert ranked.loc["c0", "rfm_segment"] == "Lost"
    assert ranked.loc["c9", "rfm_segment"] == "Champions"
    assert ranked.loc["none", "rfm_segment"] == NO_PURCHASE_SEGMENT
    assert pd.isna(ranked.loc["none", "rfm_r"])


def test_ties_share_a_score(validated):
    customers = customers_frame([(f"c{i}", "2022-01-01") for i in range(6)])
    orders = orders_frame([(f"o{i}", f"c{i}", "2024-05-01", 10.0) for i in range(6)])
    tables = validated({"customers": customers, "orders": orders}).tables
    frame = build_features(tables, customer_spine(tables["customers"], AS_OF)).execute()
    assert frame.rfm_r.nunique() == frame.rfm_f.nunique() == frame.rfm_m.nunique() == 1


@pytest.mark.parametrize(
    ("signup", "order_days_ago", "web_days_ago", "stage"),
    [
        ("2024-05-01", [], None, "discovery"),
        ("2024-05-01", [], 10, "consideration"),
        ("2023-01-01", [], None, "churned"),  # never bought, silent for over 180 days
        ("2023-01-01", [], 60, "consideration"),  # old signup but browsing lately
        ("2023-01-01", [], 100, "discovery"),  # seen in 180 days, no interest in 90
        ("2023-01-01", [20], None, "conversion"),
        ("2023-01-01", [20, 60], None, "retention"),
        ("2023-01-01", [200, 300], 5, "churned"),  # last order over 180 days ago
    ],
)
def test_lifecycle_stage_rules(validated, signup, order_days_ago, web_days_ago, stage):
    from tests.conftest import events_frame

    as_of = pd.Timestamp(AS_OF)
    tables = {
        "customers": customers_frame([("x", signup)]),
        "orders": orders_frame(
            [(f"o{d}", "x", str(as_of - pd.Timedelta(days=d)), 10) for d in order_days_ago]
        )
        if order_days_ago
        else orders_frame([("o", "x", "2025-01-01", 1)]).iloc[:0],
    }
    if web_days_ago is not None:
        tables["web_events"] = events_frame(
            [("x", "s", "product_view", str(as_of - pd.Timedelta(days=web_days_ago)))],
            "session_id",
        )
    result = validated(tables)
    frame = build_features(result.tables, customer_spine(result.tables["customers"], AS_OF))
    assert frame.execute().lifecycle_stage.tolist() == [stage]
