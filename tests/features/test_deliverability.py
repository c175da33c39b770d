"""Suppression's inputs from a hand-made e-mail log, through Parquet or CSV and DuckDB.

Each customer is one story: a sender that stops after the first bounce, a
bounce followed by a delivery, soft-bounce streaks, a hard bounce, events at
and after as-of, and the frequency cap at its boundaries. The columns are
checked by hand, and then the reasons the shipped policy gives them.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from tests.conftest import customers_frame, orders_frame
from upseg.features.deliverability import DELIVERABILITY_COLUMNS, deliverability_inputs
from upseg.features.pit import customer_spine
from upseg.serving.audience import suppression_reason
from upseg.serving.policy import load_policy

AS_OF = "2024-06-01"

# (customer, campaign, event_type, occurred_at, bounce_type)
LOG = [
    # the sender stops after the first bounce: one bounce, nothing since
    ("stopped", "c1", "sent", "2024-03-01T09:00", None),
    ("stopped", "c1", "delivered", "2024-03-01T09:01", None),
    ("stopped", "c2", "sent", "2024-04-01T09:00", None),
    ("stopped", "c2", "bounced", "2024-04-01T09:01", None),
    # bounced, then delivered to again: the address works
    ("recovered", "c1", "sent", "2024-03-01T09:00", None),
    ("recovered", "c1", "bounced", "2024-03-01T09:01", None),
    ("recovered", "c2", "sent", "2024-04-01T09:00", None),
    ("recovered", "c2", "delivered", "2024-04-01T09:01", None),
    # a bounce and a delivery at the same instant: the delivery counts as after it
    ("tie", "c1", "bounced", "2024-04-01T09:01", None),
    ("tie", "c2", "delivered", "2024-04-01T09:01", None),
    # two soft bounces in a row: one short of the shipped streak of 3
    ("soft2", "c1", "delivered", "2024-03-01T09:01", None),
    ("soft2", "c2", "bounced", "2024-04-01T09:01", "soft"),
    ("soft2", "c3", "bounced", "2024-04-15T09:01", "soft"),
    # three in a row
    ("soft3", "c1", "delivered", "2024-03-01T09:01", None),
    ("soft3", "c2", "bounced", "2024-04-01T09:01", "soft"),
    ("soft3", "c3", "bounced", "2024-04-15T09:01", "soft"),
    ("soft3", "c4", "bounced", "2024-05-01T09:01", "soft"),
    # four soft bounces, but a delivery breaks the run after the second
    ("soft_broken", "c1", "bounced", "2024-03-01T09:01", "soft"),
    ("soft_broken", "c2", "bounced", "2024-03-15T09:01", "soft"),
    ("soft_broken", "c3", "delivered", "2024-04-01T09:01", None),
    ("soft_broken", "c4", "bounced", "2024-04-15T09:01", "soft"),
    ("soft_broken", "c5", "bounced", "2024-05-01T09:01", "soft"),
    # a hard bounce is final, even with a delivery logged after it
    ("hard", "c1", "bounced", "2024-03-01T09:01", "hard"),
    ("hard", "c2", "delivered", "2024-04-01T09:01", None),
    # bounces at and after as-of, and e-mails after it, are not seen
    ("later", "c1", "delivered", "2024-03-01T09:01", None),
    ("later", "c2", "bounced", "2024-06-01T00:00", "hard"),
    ("later", "c3", "bounced", "2024-06-02T09:01", None),
    ("later", "c4", "sent", "2024-06-01T00:00", None),
    ("later", "c5", "sent", "2024-06-02T00:00", None),
    ("later", "c6", "complained", "2024-06-02T00:00", None),
    # 3 e-mails in the 7 days before as-of, the first exactly 7 days before: capped
    ("cap_at", "c1", "sent", "2024-05-25T00:00", None),
    ("cap_at", "c2", "sent", "2024-05-27T00:00", None),
    ("cap_at", "c3", "sent", "2024-05-29T00:00", None),
    # the first a second earlier: 2 in the window
    ("cap_under", "c1", "sent", "2024-05-24T23:59:59", None),
    ("cap_under", "c2", "sent", "2024-05-27T00:00", None),
    ("cap_under", "c3", "sent", "2024-05-29T00:00", None),
    # the last e-mail a second under 24 hours before as-of, and exactly 24 hours
    ("gap_under", "c1", "sent", "2024-05-31T00:00:01", None),
    ("gap_exact", "c1", "sent", "2024-05-31T00:00", None),
    ("complained", "c1", "complained", "2024-02-01T00:00", None),
]
CUSTOMERS = sorted({row[0] for row in LOG} | {"silent"})

# The columns of each story, by hand: hard bounces, untyped and soft bounces since the
# last delivery, complaints, e-mails in the 7 days before as-of, hours since the last
APRIL_FIRST = (pd.Timestamp(AS_OF) - pd.Timestamp("2024-04-01T09:00")) / pd.Timedelta(hours=1)
EXPECTED = {
    "stopped": (0, 1, 0, 0, 0, APRIL_FIRST),
    "recovered": (0, 0, 0, 0, 0, APRIL_FIRST),
    "tie": (0, 0, 0, 0, 0, math.nan),
    "soft2": (0, 0, 2, 0, 0, math.nan),
    "soft3": (0, 0, 3, 0, 0, math.nan),
    "soft_broken": (0, 0, 2, 0, 0, math.nan),
    "hard": (1, 0, 0, 0, 0, math.nan),
    "later": (0, 0, 0, 0, 0, math.nan),
    "cap_at": (0, 0, 0, 0, 3, 72.0),
    "cap_under": (0, 0, 0, 0, 2, 72.0),
    "gap_under": (0, 0, 0, 0, 1, 24.0 - 1 / 3600),
    "gap_exact": (0, 0, 0, 0, 1, 24.0),
    "complained": (0, 0, 0, 1, 0, math.nan),
    "silent": (0, 0, 0, 0, 0, math.nan),
}
# ... and the reason the shipped policy gives each
REASONS = {
    "stopped": "hard_bounce",
    "recovered": "",
    "tie": "",
    "soft2": "",
    "soft3": "soft_bounce",
    "soft_broken": "",
    "hard": "hard_bounce",
    "later": "",
    "cap_at": "frequency_cap",
    "cap_under": "",
    "gap_under": "min_gap",
    "gap_exact": "",
    "complained": "complaint",
    "silent": "",
}


def _source(validated, fmt: str = "parquet", *, bounce_type: bool = True):
    customers = customers_frame([(c, "2024-01-01") for c in CUSTOMERS])
    orders = orders_frame([("o1", "silent", "2024-02-01", 10)])
    events = pd.DataFrame.from_records(
        LOG, columns=["customer_id", "campaign_id", "event_type", "occurred_at", "bounce_type"]
    )
    events["occurred_at"] = pd.to_datetime(events["occurred_at"], utc=True, format="ISO8601")
    if not bounce_type:
        events = events.drop(columns="bounce_type")
    result = validated(
        {"customers": customers, "orders": orders, "email_events": events},
        fmt,
        not_after=pd.Timestamp("2024-07-01", tz="UTC"),
    )
    assert result.rows_ok, result.problems
    return result.tables


def _inputs(tables, window_days: int = 7) -> pd.DataFrame:
    spine = customer_spine(tables["customers"], AS_OF)
    frame = deliverability_inputs(tables["email_events"], spine, window_days=window_days)
    return frame.execute().drop(columns="as_of").set_index("customer_id").sort_index()


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_columns_by_hand(validated, fmt):
    frame = _inputs(_source(validated, fmt))
    assert list(frame.columns) == list(DELIVERABILITY_COLUMNS)
    expected = pd.DataFrame.from_dict(EXPECTED, orient="index", columns=DELIVERABILITY_COLUMNS)
    pd.testing.assert_frame_equal(
        frame, expected.sort_index(), check_dtype=False, check_names=False, atol=1e-6
    )


def test_the_shipped_policy_suppresses_each_story_as_documented(validated):
    frame = _inputs(_source(validated)).assign(email_opt_in=True, is_unsubscribed=False)
    rules = load_policy().suppression
    assert rules.frequency_cap is not None and rules.frequency_cap.window_days == 7
    reasons = suppression_reason(
        frame,
        soft_bounce_streak=rules.soft_bounce_streak,
        max_emails=rules.frequency_cap.max_emails,
        min_gap_hours=rules.frequency_cap.min_gap_hours,
    )
    assert reasons.to_dict() == REASONS


def test_without_bounce_type_every_bounce_is_judged_by_what_came_after(validated):
    # The same log without the column: soft bounces become untyped, so the last
    # attempt decides; the hard bounce delivered to later is no longer final.
    frame = _inputs(_source(validated, bounce_type=False))
    assert frame["hard_bounces_lifetime"].eq(0).all()
    assert frame["soft_bounces_since_delivery"].eq(0).all()
    untyped = frame["untyped_bounces_since_delivery"]
    assert untyped[untyped > 0].to_dict() == {
        "soft2": 2,
        "soft3": 3,
        "soft_broken": 2,
        "stopped": 1,
    }


def test_the_window_is_the_policys(validated):
    frame = _inputs(_source(validated), window_days=1)
    assert frame["emails_in_cap_window"][lambda s: s > 0].to_dict() == {
        "gap_exact": 1,
        "gap_under": 1,
    }
    with pytest.raises(ValueError, match="window_days must be an integer of 1 or more; got 0"):
        _inputs(_source(validated), window_days=0)


def test_an_unknown_bounce_type_is_a_row_problem(validated):
    events = pd.DataFrame(
        {
            "customer_id": ["a"],
            "campaign_id": ["c1"],
            "event_type": ["bounced"],
            "occurred_at": [pd.Timestamp("2024-03-01", tz="UTC")],
            "bounce_type": ["permanent"],
        }
    )
    result = validated(
        {
            "customers": customers_frame([("a", "2024-01-01")]),
            "orders": orders_frame([("o1", "a", "2024-02-01", 10)]),
            "email_events": events,
        },
        not_after=pd.Timestamp("2024-07-01", tz="UTC"),
    )
    [problem] = result.problems
    assert (problem.table, problem.column, problem.rule) == (
        "email_events",
        "bounce_type",
        "not_allowed",
    )
