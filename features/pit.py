"""Point-in-time joins: who is scored as of when, and which events they may see.

A *spine* is a table of ``customer_id``, ``as_of`` (a UTC timestamp) and
``cohort`` (the population within which quintile scores are ranked). A
customer's features may use only events strictly before their own ``as_of``;
this module is the one place where that rule is written.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import pandas as pd

__all__ = [
    "AGE",
    "as_utc",
    "campaign_spine",
    "customer_spine",
    "events_before",
    "events_in_window",
    "within",
]

UTC_TIMESTAMP = dt.Timestamp(timezone="UTC")
AGE = "age_days"
SECONDS_PER_DAY = 86_400


def as_utc(value: str | pd.Timestamp) -> pd.Timestamp:
    """Parse an instant; naive values are UTC, as the data contract says."""
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def customer_spine(customers: ibis.Table, as_of: str | pd.Timestamp) -> ibis.Table:
    """One row per customer who signed up strictly before ``as_of``.

    Parameters
    ----------
    customers : ibis.Table
        Validated ``customers`` table.
    as_of : str or pandas.Timestamp
        The cutoff instant; naive values are UTC.

    Returns
    -------
    ibis.Table
        Columns ``customer_id``, ``as_of``, ``cohort``.
    """
    cutoff = as_utc(as_of)
    stamp = ibis.literal(cutoff, type=UTC_TIMESTAMP)
    return customers.filter(customers.signup_at < stamp).select(
        "customer_id", as_of=stamp, cohort=ibis.literal(cutoff.isoformat())
    )


def campaign_spine(assignments: ibis.Table, campaign_id: str) -> ibis.Table:
    """One row per customer assigned to ``campaign_id``, as of their ``assigned_at``.

    The cohort is the campaign, so quintile scores rank the campaign's population.
    """
    rows = assignments.filter(assignments.campaign_id == campaign_id)
    return rows.select(
        "customer_id", as_of=rows.assigned_at, cohort=ibis.literal(str(campaign_id))
    )


def events_before(events: ibis.Table, spine: ibis.Table, time_column: str) -> ibis.Table:
    """Each spine row's events that happened strictly before its ``as_of``.

    Parameters
    ----------
    events : ibis.Table
        A validated event table with ``customer_id`` and ``time_column``.
    spine : ibis.Table
        Output of :func:`customer_spine` or :func:`campaign_spine`.
    time_column : str
        The event's timestamp column.

    Returns
    -------
    ibis.Table
        The events' columns plus ``as_of`` and ``age_days``, the time between
        the event and ``as_of`` in (fractional) days, always > 0.
    """
    keys = spine.select("customer_id", "as_of")
    joined = events.join(keys, "customer_id")
    joined = joined.filter(joined[time_column] < joined.as_of)
    age = (joined.as_of.epoch_seconds() - joined[time_column].epoch_seconds()) / SECONDS_PER_DAY
    return joined.mutate(**{AGE: age})


def within(events: ibis.Table, days: int | None) -> ibis.BooleanValue:
    """Whether an event falls in the last ``days`` days before as-of (always, if None)."""
    return ibis.literal(True) if days is None else events[AGE] <= days


def events_in_window(
    events: ibis.Table, spine: ibis.Table, time_column: str, days: float
) -> ibis.Table:
    """Each spine row's events in ``[as_of, as_of + days)``: the label window.

    Label windows start at the cutoff, where features stop, so an event is
    either a feature's or a label's, never both.
    """
    keys = spine.select("customer_id", "as_of")
    joined = events.join(keys, "customer_id")
    after = joined[time_column].epoch_seconds() - joined.as_of.epoch_seconds()
    return joined.filter((after >= 0) & (after < days * SECONDS_PER_DAY))
