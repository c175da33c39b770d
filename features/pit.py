"""Point-in-time joins: who is scored as of when, and which events they may see.

A *spine* is a table of ``customer_id``, ``as_of`` (a UTC timestamp),
``cohort`` (the population within which quintile scores are ranked) and the
window starts ``since_30d`` … ``since_365d``. A customer's features may use
only events strictly before their own ``as_of``; this module is the one place
where that rule is written.

Per event, only comparisons run (``event_at < as_of``, ``event_at >=
since_30d``); date arithmetic runs once per spine row, since converting time
zones row by row is the slowest thing the engine does here.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import pandas as pd

__all__ = [
    "EVENT_AT",
    "as_utc",
    "campaign_spine",
    "customer_spine",
    "days_between",
    "events_before",
    "events_in_window",
    "since",
    "within",
]

UTC_TIMESTAMP = dt.Timestamp(timezone="UTC")
EVENT_AT = "event_at"
WINDOW_STARTS = (30, 90, 180, 365)
SECONDS_PER_DAY = 86_400
MICROSECONDS_PER_DAY = SECONDS_PER_DAY * 1_000_000


def since(days: int) -> str:
    """Name of the spine column holding ``as_of`` minus ``days`` days."""
    return f"since_{days}d"


def as_utc(value: str | pd.Timestamp) -> pd.Timestamp:
    """Parse an instant; naive values are UTC, as the data contract says."""
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def days_between(later: ibis.TimestampValue, earlier: ibis.TimestampValue) -> ibis.FloatingValue:
    """Fractional days from ``earlier`` to ``later``.

    Used on one row per customer, never per event: converting time zones row
    by row is the slowest thing an engine does here.
    """
    # Microseconds apart, not epoch seconds: engines differ on whether an epoch keeps the
    # fraction (Spark's does not), and every engine counts microseconds alike.
    return later.delta(earlier, unit="microsecond") / MICROSECONDS_PER_DAY


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
        ``customer_id``, ``as_of``, ``cohort`` and the window starts
        ``since_30d`` … ``since_365d``.
    """
    cutoff = as_utc(as_of)
    stamp = ibis.literal(cutoff, type=UTC_TIMESTAMP)
    starts = {
        since(d): ibis.literal(cutoff - pd.Timedelta(days=d), type=UTC_TIMESTAMP)
        for d in WINDOW_STARTS
    }
    return customers.filter(customers.signup_at < stamp).select(
        "customer_id", as_of=stamp, cohort=ibis.literal(cutoff.isoformat()), **starts
    )


def campaign_spine(assignments: ibis.Table, campaign_id: str) -> ibis.Table:
    """One row per customer assigned to ``campaign_id``, as of their ``assigned_at``.

    The cohort is the campaign, so quintile scores rank the campaign's population.
    """
    rows = assignments.filter(assignments.campaign_id == campaign_id)
    starts = {since(d): rows.assigned_at - ibis.interval(days=d) for d in WINDOW_STARTS}
    return rows.select(
        "customer_id", as_of=rows.assigned_at, cohort=ibis.literal(str(campaign_id)), **starts
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
        The events' columns with the timestamp renamed ``event_at``, plus the
        spine's ``as_of`` and window starts, for :func:`within`.
    """
    events = events.rename({EVENT_AT: time_column})
    constants = _constant_columns(spine)
    if constants is not None:
        # One cutoff for every row (a customer spine): compare with literals and
        # skip the join; attaching to the spine later drops anyone not on it.
        events = events.filter(events[EVENT_AT] < constants["as_of"])
        return events.mutate(**constants)
    joined = events.join(spine.drop("cohort"), "customer_id")
    return joined.filter(joined[EVENT_AT] < joined.as_of)


def _constant_columns(spine: ibis.Table) -> dict[str, ibis.Value] | None:
    """The spine's time columns as literals when every row shares them, else None."""
    op = spine.op()
    names = ["as_of", *(since(d) for d in WINDOW_STARTS)]
    values = getattr(op, "values", {})
    if not all(isinstance(values.get(n), ibis.expr.operations.Literal) for n in names):
        return None
    return {n: values[n].to_expr() for n in names}


def within(events: ibis.Table, days: int | None) -> ibis.BooleanValue:
    """Whether an event falls in the last ``days`` days before as-of (always, if None).

    A comparison with the spine's window start, so no arithmetic runs per event.
    """
    return ibis.literal(True) if days is None else events[EVENT_AT] >= events[since(days)]


def events_in_window(
    events: ibis.Table,
    spine: ibis.Table,
    time_column: str,
    *,
    start_days: float,
    end_days: float,
) -> ibis.Table:
    """Each spine row's events in ``[as_of + start_days, as_of + end_days)``.

    A label window is ``start_days=0, end_days=H``: it starts at the cutoff,
    where features stop, so an event is either a feature's or a label's, never
    both. A window before the cutoff (``end_days=0``) sees only feature-side
    events. The bounds are computed once per spine row; per event, only
    comparisons run.
    """
    keys = spine.select(
        "customer_id",
        "as_of",
        window_start=spine.as_of + ibis.interval(days=start_days),
        window_end=spine.as_of + ibis.interval(days=end_days),
    )
    joined = events.join(keys, "customer_id")
    at = joined[time_column]
    return joined.filter((at >= joined.window_start) & (at < joined.window_end))
