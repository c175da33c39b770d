"""E-mail engagement features: sends, opens, clicks, their rates, and bad signals.

Opens and clicks are counted once per campaign (an e-mail opened three times is
one open), so rates stay between 0 and 1.
"""

from __future__ import annotations

from functools import partial

import ibis

from upseg.features._compose import Aggregate, ratio
from upseg.features.pit import EVENT_AT, days_between, within

__all__ = ["EMAIL_AGGREGATES", "EMAIL_COUNTS", "EMAIL_DERIVED"]

WINDOWS = (30, 90, 365)


def _is(e: ibis.Table, event_type: str) -> ibis.BooleanValue:
    return e.event_type == event_type


def emails_sent(e: ibis.Table, days: int) -> ibis.IntegerValue:
    """E-mails sent in the last ``days`` days."""
    return (_is(e, "sent") & within(e, days)).sum()


def emails_opened(e: ibis.Table, days: int) -> ibis.IntegerValue:
    """Campaigns opened in the last ``days`` days."""
    return e.campaign_id.nunique(where=_is(e, "opened") & within(e, days))


def emails_clicked(e: ibis.Table, days: int) -> ibis.IntegerValue:
    """Campaigns clicked in the last ``days`` days."""
    return e.campaign_id.nunique(where=_is(e, "clicked") & within(e, days))


def last_at(e: ibis.Table, event_type: str) -> ibis.TimestampValue:
    """When the last event of ``event_type`` happened."""
    return e[EVENT_AT].max(where=_is(e, event_type))


def lifetime_count(e: ibis.Table, event_type: str) -> ibis.IntegerValue:
    """Events of ``event_type`` ever."""
    return _is(e, event_type).sum()


EMAIL_AGGREGATES: dict[str, Aggregate] = {
    **{f"emails_sent_{d}d": partial(emails_sent, days=d) for d in WINDOWS},
    **{f"emails_opened_{d}d": partial(emails_opened, days=d) for d in WINDOWS},
    **{f"emails_clicked_{d}d": partial(emails_clicked, days=d) for d in WINDOWS},
    "last_email_at": partial(last_at, event_type="sent"),
    "last_open_at": partial(last_at, event_type="opened"),
    "last_click_at": partial(last_at, event_type="clicked"),
    "unsubscribes_lifetime": partial(lifetime_count, event_type="unsubscribed"),
    "bounces_lifetime": partial(lifetime_count, event_type="bounced"),
    "complaints_lifetime": partial(lifetime_count, event_type="complained"),
}
EMAIL_COUNTS = tuple(n for n in EMAIL_AGGREGATES if not n.endswith("_at"))


def days_since_last_email(as_of, last_email_at):
    """Days since the last e-mail was sent."""
    return days_between(as_of, last_email_at)


def days_since_last_open(as_of, last_open_at):
    """Days since the last e-mail was opened."""
    return days_between(as_of, last_open_at)


def days_since_last_click(as_of, last_click_at):
    """Days since the last e-mail was clicked."""
    return days_between(as_of, last_click_at)


def open_rate_30d(emails_opened_30d, emails_sent_30d):
    """Share of e-mails sent in the last 30 days that were opened."""
    return ratio(emails_opened_30d, emails_sent_30d)


def open_rate_90d(emails_opened_90d, emails_sent_90d):
    """Share of e-mails sent in the last 90 days that were opened."""
    return ratio(emails_opened_90d, emails_sent_90d)


def open_rate_365d(emails_opened_365d, emails_sent_365d):
    """Share of e-mails sent in the last 365 days that were opened."""
    return ratio(emails_opened_365d, emails_sent_365d)


def click_rate_30d(emails_clicked_30d, emails_sent_30d):
    """Share of e-mails sent in the last 30 days that were clicked."""
    return ratio(emails_clicked_30d, emails_sent_30d)


def click_rate_90d(emails_clicked_90d, emails_sent_90d):
    """Share of e-mails sent in the last 90 days that were clicked."""
    return ratio(emails_clicked_90d, emails_sent_90d)


def click_rate_365d(emails_clicked_365d, emails_sent_365d):
    """Share of e-mails sent in the last 365 days that were clicked."""
    return ratio(emails_clicked_365d, emails_sent_365d)


EMAIL_DERIVED = {
    f.__name__: f
    for f in (
        days_since_last_email,
        days_since_last_open,
        days_since_last_click,
        open_rate_30d,
        open_rate_90d,
        open_rate_365d,
        click_rate_30d,
        click_rate_90d,
        click_rate_365d,
    )
}
