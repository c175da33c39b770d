"""One campaign loader: a tidy row per assigned customer, refused alike for uplift and analysis."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import customers_frame, orders_frame, ts
from upseg.features.campaigns import CAMPAIGN_OUTCOMES, CampaignError, campaign_frame
from upseg.features.sets import CUSTOMER_V1

CAMPAIGN = "C2026-06-SUMMER"


@pytest.fixture
def small(validated):
    """Three customers of campaign X assigned on 2024-05-25, orders until 2024-06-30."""

    def make(signup_c: str = "2023-01-01", *, with_assignments: bool = True):
        customers = customers_frame([("a", "2023-01-01"), ("b", "2023-01-01"), ("c", signup_c)])
        orders = orders_frame(
            [
                ("a1", "a", "2024-05-01", 10),  # a feature: before the assignment
                ("a2", "a", "2024-05-30", 30),  # an outcome: five days after
                ("b1", "b", "2024-06-30", 5),  # after the 14-day window
            ]
        )
        assignments = pd.DataFrame(
            {
                "customer_id": ["a", "b", "c"],
                "campaign_id": "X",
                "variant": ["mail", "control", "mail"],
                "assigned_at": ts("2024-05-25"),
            }
        )
        tables = {"customers": customers, "orders": orders}
        if with_assignments:
            tables["campaign_assignments"] = assignments
        result = validated(tables)
        assert result.rows_ok, result.problems
        return result.tables

    return make


def test_a_campaign_is_one_tidy_row_per_assigned_customer(world_tables):
    campaign = campaign_frame(world_tables, CAMPAIGN)
    frame = campaign.frame
    assignments = world_tables["campaign_assignments"].execute()
    assert len(frame) == len(assignments) and frame["customer_id"].is_unique
    assert frame["customer_id"].is_monotonic_increasing
    assert campaign.outcomes == tuple(CAMPAIGN_OUTCOMES)  # the world has every event table
    assert campaign.features == CUSTOMER_V1.columns(set(world_tables))
    assert list(frame.columns) == [
        "customer_id",
        "arm",
        "assigned_at",
        *campaign.outcomes,
        *campaign.features,
        *campaign.attributes,
    ]
    assert all(frame[o].dtype == "float64" for o in campaign.outcomes)
    by_id = assignments.set_index("customer_id")
    assert (frame.set_index("customer_id")["assigned_at"] == by_id["assigned_at"]).all()
    assert campaign.source == {"campaign_id": CAMPAIGN, "window_days": 14, "rows": len(frame)}


def test_outcomes_and_features_straddle_the_assignment(small):
    frame = campaign_frame(small(), "X").frame.set_index("customer_id")
    assert frame["conversion"].to_dict() == {"a": 1.0, "b": 0.0, "c": 0.0}
    assert frame["revenue"].to_dict() == {"a": 30.0, "b": 0.0, "c": 0.0}
    assert frame.loc["a", "frequency_lifetime"] == 1  # a2 is an outcome, not a feature
    assert frame["arm"].to_dict() == {"a": "mail", "b": "control", "c": "mail"}


def test_only_the_outcomes_asked_for_are_counted(small):
    campaign = campaign_frame(small(), "X", outcomes=("revenue",))
    assert campaign.outcomes == ("revenue",)
    assert "conversion" not in campaign.frame


@pytest.mark.parametrize(
    ("outcomes", "message"),
    [
        (("sales",), r"outcome\(s\) \['sales'\]: a campaign's outcomes are \['conversion'"),
        (("visit",), r"lacks the table\(s\) of outcome\(s\): 'visit' needs web_events"),
    ],
)
def test_an_outcome_it_cannot_count_is_refused(small, outcomes, message):
    with pytest.raises(CampaignError, match=message):
        campaign_frame(small(), "X", outcomes=outcomes)


def test_each_refusal_names_the_table_and_what_it_found(small):
    with pytest.raises(CampaignError, match=r"no customer is assigned to campaign 'Y'.*\['X'\]"):
        campaign_frame(small(), "Y")
    with pytest.raises(CampaignError, match=r"need orders until 2024-07-24 .* 2024-06-30"):
        campaign_frame(small(), "X", window_days=60)
    with pytest.raises(CampaignError, match=r"1 customer\(s\) of 'X' were assigned before .*'c'"):
        campaign_frame(small(signup_c="2024-05-26"), "X")
    with pytest.raises(CampaignError, match=r"campaign_assignments: .* no such table.*--table"):
        campaign_frame(small(with_assignments=False), "X")
