"""What the scorer's suppression reads of ``email_events``: bounces, complaints, recent e-mails.

Not model features, and in no feature set: the frequency cap's window is a
setting of the policy, so the scorer builds these columns at scoring time
with the policy's window (:func:`deliverability_inputs`). Like every feature
they see only events strictly before each spine row's ``as_of``
(:func:`features.pit.events_before`).

A *delivery* is a ``delivered`` event; a *bounce* is a ``bounced`` event,
typed by the optional ``bounce_type`` column (``hard``, ``soft``, or missing
for an export that does not say). The rules that read these columns, and
why, are in :func:`upseg.serving.audience.suppression_reason` and
``docs/scoring.md``.
"""

from __future__ import annotations

from functools import partial

import ibis

from upseg.features._compose import KEYS, aggregate, attach, derive
from upseg.features.engagement import last_at, lifetime_count
from upseg.features.pit import EVENT_AT, days_between, events_before

__all__ = ["DELIVERABILITY_COLUMNS", "deliverability_inputs"]

#: The columns of :func:`deliverability_inputs`, after ``customer_id``.
DELIVERABILITY_COLUMNS = (
    "hard_bounces_lifetime",
    "untyped_bounces_since_delivery",
    "soft_bounces_since_delivery",
    "complaints_lifetime",
    "emails_in_cap_window",
    "hours_since_last_email",
)
_COUNTS = tuple(c for c in DELIVERABILITY_COLUMNS if c != "hours_since_last_email")


def _bounce_type(e: ibis.Table) -> ibis.StringValue:
    """The event's ``bounce_type``; missing everywhere for a table without the column."""
    return e.bounce_type if "bounce_type" in e.columns else ibis.null("string")


def _bounced(e: ibis.Table, bounce_type: str | None) -> ibis.BooleanValue:
    """Bounces of ``bounce_type`` (None: bounces whose type is missing)."""
    kind = _bounce_type(e)
    typed = kind.isnull() if bounce_type is None else kind == bounce_type
    return (e.event_type == "bounced") & typed.fill_null(False)


def hard_bounces_lifetime(e: ibis.Table) -> ibis.IntegerValue:
    """Bounces typed ``hard`` ever: a hard bounce is final, whatever was delivered later."""
    return _bounced(e, "hard").sum()


def untyped_bounces_since_delivery(e: ibis.Table) -> ibis.IntegerValue:
    """Bounces without a type after the last delivery (every bounce when none was delivered)."""
    return _bounced(e, None).sum()


def soft_bounces_since_delivery(e: ibis.Table) -> ibis.IntegerValue:
    """Soft bounces in a row: those after the last delivery (all, when none was delivered)."""
    return _bounced(e, "soft").sum()


def emails_in_cap_window(e: ibis.Table, window_days: int) -> ibis.IntegerValue:
    """E-mails sent in the ``window_days`` days before as-of, its first instant included."""
    start = e.as_of - ibis.interval(days=window_days)
    return ((e.event_type == "sent") & (e[EVENT_AT] >= start)).sum()


def hours_since_last_email(as_of, last_email_at):
    """Hours from the last e-mail sent to as-of; missing when none was ever sent."""
    return days_between(as_of, last_email_at) * 24


def deliverability_inputs(
    email_events: ibis.Table, spine: ibis.Table, *, window_days: int
) -> ibis.Table:
    """Per spine row, what decides whether its address may be e-mailed, as of its ``as_of``.

    Parameters
    ----------
    email_events : ibis.Table
        The validated ``email_events`` table; ``bounce_type`` may be absent.
    spine : ibis.Table
        ``customer_id``, ``as_of`` and the window starts (:mod:`features.pit`).
    window_days : int
        The frequency cap's window, 1 or more: ``emails_in_cap_window`` counts
        the ``sent`` events in ``[as_of - window_days days, as_of)``.

    Returns
    -------
    ibis.Table
        ``customer_id``, ``as_of`` and :data:`DELIVERABILITY_COLUMNS`, one row
        per spine row (a spine may hold a customer at several instants);
        counts are 0 and ``hours_since_last_email`` missing for a customer
        without e-mail events. The ``*_since_delivery`` counts are
        the bounces strictly after the customer's last ``delivered`` event: a
        delivery at the same instant as a bounce comes after it.
    """
    if isinstance(window_days, bool) or not isinstance(window_days, int) or window_days < 1:
        raise ValueError(f"window_days must be an integer of 1 or more; got {window_days!r}.")
    e = events_before(email_events, spine, "occurred_at")
    per_row = aggregate(
        e,
        {
            "last_delivered_at": partial(last_at, event_type="delivered"),
            "last_email_at": partial(last_at, event_type="sent"),
            "hard_bounces_lifetime": hard_bounces_lifetime,
            "complaints_lifetime": partial(lifetime_count, event_type="complained"),
            "emails_in_cap_window": partial(emails_in_cap_window, window_days=window_days),
        },
    )
    # The bounces after the last delivery: one join of the (few) bounce events.
    bounces = e.filter(e.event_type == "bounced")
    last = per_row.select(*KEYS, "last_delivered_at")
    joined = bounces.join(last, list(KEYS))
    since = joined.filter(
        joined.last_delivered_at.isnull() | (joined[EVENT_AT] > joined.last_delivered_at)
    )
    streaks = aggregate(
        since,
        {
            "untyped_bounces_since_delivery": untyped_bounces_since_delivery,
            "soft_bounces_since_delivery": soft_bounces_since_delivery,
        },
    )
    table = attach(spine.select(*KEYS), per_row, fill_zero=_COUNTS)
    table = attach(table, streaks, fill_zero=_COUNTS)
    table = derive(table, {"hours_since_last_email": hours_since_last_email})
    return table.select(*KEYS, *DELIVERABILITY_COLUMNS)
