"""Helpers that turn named feature functions into table columns."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping

import ibis

KEYS = ("customer_id", "as_of")

Aggregate = Callable[[ibis.Table], ibis.Value]
"""A feature computed from a table of point-in-time events, one value per spine row."""


def aggregate(events: ibis.Table, aggregates: Mapping[str, Aggregate]) -> ibis.Table:
    """Group point-in-time events by spine row and compute each named aggregate."""
    return events.group_by(list(KEYS)).aggregate(
        **{name: fn(events) for name, fn in aggregates.items()}
    )


def derive(table: ibis.Table, functions: Mapping[str, Callable]) -> ibis.Table:
    """Add one column per function, feeding each the columns its parameters name.

    ``def open_rate_30d(emails_opened_30d, emails_sent_30d)`` reads those two
    columns; functions are applied in order, so later ones may use earlier ones.
    """
    for name, fn in functions.items():
        params = inspect.signature(fn).parameters
        table = table.mutate(**{name: fn(**{p: table[p] for p in params})})
    return table


def attach(
    spine: ibis.Table, features: ibis.Table, *, fill_zero: tuple[str, ...] = ()
) -> ibis.Table:
    """Left-join per-spine-row features onto the spine, filling counts with 0.

    A customer with no events has no row in ``features``; their counts and sums
    are 0, while recencies and rates stay null (there is nothing to measure).
    """
    joined = spine.left_join(features, list(KEYS))
    new = [c for c in features.columns if c not in KEYS]
    return joined.select(
        *[joined[c] for c in spine.columns],
        **{c: joined[c].fill_null(0) if c in fill_zero else joined[c] for c in new},
    )


def ratio(numerator: ibis.NumericValue, denominator: ibis.NumericValue) -> ibis.NumericValue:
    """numerator / denominator, null where the denominator is 0 or null."""
    return ibis.ifelse(denominator > 0, numerator / denominator, ibis.null("float64"))
