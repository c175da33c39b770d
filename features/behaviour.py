"""Web behaviour features: sessions, product views, carts, checkouts, abandonment.

Events are first rolled up per session, so "a cart abandoned" means a session
with an ``add_to_cart`` and no ``checkout_started`` before as-of. A session is
in a window when any of its events is.
"""

from __future__ import annotations

from functools import partial

import ibis

from upseg.features._compose import KEYS, Aggregate
from upseg.features.pit import EVENT_AT, days_between, within

__all__ = ["WEB_AGGREGATES", "WEB_COUNTS", "WEB_DERIVED", "sessions"]

WINDOWS = (30, 90, 365)


def sessions(w: ibis.Table) -> ibis.Table:
    """One row per session and spine row: when it was last active and what happened."""
    is_view = w.event_type == "product_view"
    return w.group_by([*KEYS, "session_id"]).aggregate(
        last_visit_at=w[EVENT_AT].max(),
        added_to_cart=(w.event_type == "add_to_cart").any(),
        started_checkout=(w.event_type == "checkout_started").any(),
        **{f"in_{d}d": within(w, d).any() for d in WINDOWS},
        **{f"product_views_{d}d": (is_view & within(w, d)).sum() for d in WINDOWS},
    )


def session_count(s: ibis.Table, days: int) -> ibis.IntegerValue:
    """Sessions in the last ``days`` days."""
    return s[f"in_{days}d"].sum()


def product_views(s: ibis.Table, days: int) -> ibis.IntegerValue:
    """Product pages viewed in the last ``days`` days."""
    return s[f"product_views_{days}d"].sum()


def cart_sessions(s: ibis.Table, days: int) -> ibis.IntegerValue:
    """Sessions with an add-to-cart in the last ``days`` days."""
    return (s.added_to_cart & s[f"in_{days}d"]).sum()


def checkout_sessions(s: ibis.Table, days: int) -> ibis.IntegerValue:
    """Sessions that started a checkout in the last ``days`` days."""
    return (s.started_checkout & s[f"in_{days}d"]).sum()


def cart_abandonments(s: ibis.Table, days: int) -> ibis.IntegerValue:
    """Sessions with an add-to-cart and no checkout in the last ``days`` days."""
    return (s.added_to_cart & ~s.started_checkout & s[f"in_{days}d"]).sum()


def last_visit_at(s: ibis.Table) -> ibis.TimestampValue:
    """When the customer was last on the site."""
    return s.last_visit_at.max()


WEB_AGGREGATES: dict[str, Aggregate] = {
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
    "last_visit_at": last_visit_at,
}
WEB_COUNTS = tuple(n for n in WEB_AGGREGATES if not n.endswith("_at"))


def days_since_last_visit(as_of, last_visit_at):
    """Days since the last web event."""
    return days_between(as_of, last_visit_at)


WEB_DERIVED = {"days_since_last_visit": days_since_last_visit}
