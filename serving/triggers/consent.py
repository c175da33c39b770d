"""Consent at the instant a trigger fires: the scorer's absolute suppression rules, point in time.

A trigger e-mail obeys the same consent as a campaign (no opt-in,
unsubscribed, hard bounce, soft-bounce streak, complaint; see
:func:`upseg.serving.audience.suppression_reason`), each judged on the events
strictly before the firing's ``fired_at``. The campaign's frequency cap and
minimum gap are not applied: a trigger answers the customer's own action, and
its cooldown and priority are its limits.
"""

from __future__ import annotations

from collections.abc import Mapping

import ibis
import numpy as np
import pandas as pd

from upseg.features.build import customer_attributes
from upseg.features.deliverability import deliverability_inputs
from upseg.features.pit import UTC_TIMESTAMP, WINDOW_STARTS, since
from upseg.serving.audience import suppression_reason

__all__ = ["consent_reasons"]


def _spine(points: pd.DataFrame) -> tuple[pd.DataFrame, ibis.Table]:
    """The distinct ``(customer_id, fired_at)`` with a ``point`` number, and their spine."""
    rows = points[["customer_id", "fired_at"]].drop_duplicates()
    frame = pd.DataFrame(
        {
            "point": np.arange(len(rows), dtype=np.int64),
            "customer_id": rows["customer_id"].astype(str).to_numpy(),
            "as_of": pd.to_datetime(rows["fired_at"], utc=True).to_numpy(),
        }
    )
    frame["as_of"] = pd.to_datetime(frame["as_of"], utc=True)
    table = ibis.memtable(
        frame, schema={"point": "int64", "customer_id": "string", "as_of": UTC_TIMESTAMP}
    )
    starts = {since(d): table.as_of - ibis.interval(days=d) for d in WINDOW_STARTS}
    return frame, table.mutate(cohort=ibis.literal("trigger"), **starts)


def consent_reasons(
    tables: Mapping[str, ibis.Table], points: pd.DataFrame, *, soft_bounce_streak: int
) -> pd.Series:
    """Why each ``(customer_id, fired_at)`` row may not be e-mailed at that instant, or ``""``.

    Parameters
    ----------
    tables : mapping of str to ibis.Table
        The validated tables; ``email_events`` is optional.
    points : pandas.DataFrame
        ``customer_id`` and ``fired_at`` (UTC).
    soft_bounce_streak : int
        The policy's ``suppression.soft_bounce_streak``.

    Returns
    -------
    pandas.Series of str
        Indexed like ``points``: ``no_opt_in``, ``unsubscribed``,
        ``hard_bounce``, ``soft_bounce``, ``complaint`` or ``""``.
    """
    if points.empty:
        return pd.Series([], index=points.index, dtype=str)
    distinct, spine = _spine(points)
    frame = customer_attributes(tables["customers"], spine).select(
        "point", "customer_id", "as_of", "email_opt_in", "is_unsubscribed"
    )
    if "email_events" in tables:
        inputs = deliverability_inputs(tables["email_events"], spine, window_days=1)
        frame = frame.join(inputs, ["customer_id", "as_of"])
    # Back to pandas without the timestamp: the point number says which row is which.
    decided = frame.drop("as_of").to_pandas().set_index("point").reindex(distinct["point"])
    # A customer unknown to the customers table has no consent: never assumed.
    decided["email_opt_in"] = decided["email_opt_in"].astype("boolean").fillna(False)
    reasons = suppression_reason(
        decided, soft_bounce_streak=soft_bounce_streak, max_emails=None, min_gap_hours=None
    )
    by_point = pd.Series(
        reasons.to_numpy(),
        index=pd.MultiIndex.from_arrays([distinct["customer_id"], distinct["as_of"]]),
    )
    keys = pd.MultiIndex.from_arrays(
        [points["customer_id"].astype(str), pd.to_datetime(points["fired_at"], utc=True)]
    )
    return pd.Series(by_point.reindex(keys).to_numpy(), index=points.index)
