"""Web behaviour features: sessions, product views, carts, checkouts, abandonment.

Events are first rolled up per session, so "a cart abandoned" means a session
with an ``add_to_cart`` and no ``checkout_started`` before as-of.
"""

from __future__ import annotations

from functools import partial

import ibis

from features.pit import AGE, within

__all__ = ["WEB_AGGREGATES", "WEB_COUNTS", "sessions"]

WINDOWS = (30, 90, 365)


def sessions(w: ibis.Table) -> ibis.Table:
    """One row per session and spine row: its last event's age and what happened in it."""
    return w.group_by(["customer_id", "as_of", "session_id"]).aggregate(
        **{AGE: w[AGE].min()},
        product_views=(w.event_type == "product_view").sum(),
        added_to_cart=(w.event_type == "add_to_cart").any(),
        started_checkout=(w.event_type == "checkout_started").any(),
    )


def session_count(s: ibis.Table, days: int) -> ibis.IntegerValue:
    """Sessions in the last ``days`` days."""
    return within(s, days).sum()


def product_views(s: ibis.Table, days: int) -> ibis.IntegerValue:
    """Product pages viewed in the last ``days`` days."""
    return s.product_views.sum(where=within(s, days)).fill_null(0)


def cart_sessions(s: ibis.Table, days: int) -> ibis.IntegerValue:
    """Sessions with an add-to-cart in the last ``days`` days."""
    return (s.added_to_cart & within(s, days)).sum()


def checkout_sessions(s: ibis.Table, days: int) -> ibis.IntegerValue:
    """Sessions that started a checkout in the last ``days`` days."""
    return (s.started_checkout & within(s, days)).sum()


def cart_abandonments(s: ibis.Table, days: int) -> ibis.IntegerValue:
    """Sessions with an add-to-cart and no checkout in the last ``days`` days."""
    return (s.added_to_cart & ~s.started_checkout & within(s, days)).sum()


def days_since_last_visit(s: ibis.Table) -> ibis.FloatingValue:
    """Days since the last web event."""
    return s[AGE].min()


WEB_AGGREGATES = {
    **{
        f"{name}_{d}d": partial(fn, days=d)
        for name, fn in (
            ("sessions", session_count),
            ("product_views", product_views),
            ("cart_sessions", cart_sessions),
            ("checkout_sessions", checkout_sessions),
            ("cart_abandonments", cart_abandonments),
        )
        for d in WINDOWS
    },
    "days_since_last_visit": days_since_last_visit,
}
WEB_COUNTS = tuple(n for n in WEB_AGGREGATES if n != "days_since_last_visit")
