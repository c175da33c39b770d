"""Segment KPIs over time: what each e-mail did, and the tidy table of rates per period.

Pure, vectorised pandas. :func:`email_outcomes` turns the e-mail log and the
orders into one row per e-mail sent; :func:`email_kpis` counts them per period,
segment and campaign type; :func:`customer_kpis` measures reactivation and
churn from point-in-time segment membership. Every KPI is a numerator over a
denominator, with a 95% interval; ``docs/monitoring.md`` defines each one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "ALL",
    "EMAIL_METRICS",
    "FREQUENCIES",
    "KPI_COLUMNS",
    "NEW_CUSTOMERS",
    "NO_CAMPAIGN_TYPE",
    "customer_kpis",
    "email_kpis",
    "email_outcomes",
    "period_start",
    "wilson_interval",
]

#: The tidy table's columns.
KPI_COLUMNS = (
    "period",
    "segment_by",
    "segment",
    "campaign_type",
    "metric",
    "numerator",
    "denominator",
    "value",
    "ci_low",
    "ci_high",
)
#: Per-e-mail KPIs: (metric, numerator flag, denominator flag); ``None`` counts every e-mail sent.
_RATES = (
    ("delivery_rate", "delivered", None),
    ("bounce_rate", "bounced", None),
    ("open_rate", "opened", "delivered"),
    ("click_rate", "clicked", "delivered"),
    ("click_to_open_rate", "clicked", "opened"),
    ("unsubscribe_rate", "unsubscribed", "delivered"),
    ("complaint_rate", "complained", "delivered"),
    ("conversion_rate", "converted", None),
)
EMAIL_METRICS = (*(m for m, _, _ in _RATES), "revenue_per_email")
FREQUENCIES = {"day": "D", "week": "W-SUN", "month": "M"}
#: The segment and campaign type that hold everyone.
ALL = "all"
#: The segment of customers who signed up during the period (no membership at its start).
NEW_CUSTOMERS = "(signed up in the period)"
#: The campaign type of an e-mail whose log gives none.
NO_CAMPAIGN_TYPE = "(none)"
_FLAGS = ("delivered", "opened", "clicked", "bounced", "unsubscribed", "complained")
_Z95 = float(stats.norm.ppf(0.975))


def period_start(times: pd.Series, freq: str) -> pd.Series:
    """The start (UTC midnight) of the ``day``, ``week`` (Monday) or ``month`` of each instant."""
    if freq not in FREQUENCIES:
        raise ValueError(f"freq must be one of {', '.join(FREQUENCIES)}; got {freq!r}.")
    naive = times.dt.tz_convert("UTC").dt.tz_localize(None)
    start = naive.dt.to_period(FREQUENCIES[freq]).dt.start_time
    return start.dt.tz_localize("UTC").astype("datetime64[us, UTC]")


def _utc_us(times: pd.Series) -> pd.Series:
    """Instants as UTC microseconds, whatever their unit or zone."""
    return pd.to_datetime(times, utc=True).astype("datetime64[us, UTC]")


def email_outcomes(
    email_events: pd.DataFrame,
    orders: pd.DataFrame,
    *,
    attribution_days: float = 7.0,
) -> pd.DataFrame:
    """One row per e-mail sent: when, and what it led to.

    Parameters
    ----------
    email_events : pandas.DataFrame
        ``customer_id``, ``campaign_id``, ``event_type``, ``occurred_at``;
        optional ``campaign_type`` and ``machine_open`` (true for an open made
        by an image proxy, such as Apple Mail Privacy Protection, which is
        then not an open).
    orders : pandas.DataFrame
        Completed orders: ``customer_id``, ``ordered_at``, ``amount``.
    attribution_days : float
        An order counts for the customer's latest e-mail sent at or before it
        and less than this many days earlier (last touch).

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``campaign_id``, ``campaign_type``, ``sent_at`` (the
        first ``sent`` event), the flags ``delivered``, ``opened``,
        ``clicked``, ``bounced``, ``unsubscribed``, ``complained``,
        ``converted`` and ``revenue``. An e-mail is one ``(customer_id,
        campaign_id)`` with a ``sent`` event; repeated events count once. A
        click is an open (images were blocked); an open or a click proves a
        delivery whose receipt is missing; a bounce counts only when nothing
        proves a delivery.
    """
    keys = ["customer_id", "campaign_id"]
    ev = email_events
    if "machine_open" in ev.columns:
        machine = ev["machine_open"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        ev = ev[~((ev["event_type"] == "opened").to_numpy() & machine)]
    sent = ev[ev["event_type"] == "sent"]
    emails = sent.groupby(keys, sort=False, observed=True)["occurred_at"].min().rename("sent_at")
    emails = emails.to_frame()
    if "campaign_type" in ev.columns:
        kind = sent.groupby(keys, sort=False, observed=True)["campaign_type"].first()
        emails["campaign_type"] = kind.astype("string").fillna(NO_CAMPAIGN_TYPE)
    else:
        emails["campaign_type"] = NO_CAMPAIGN_TYPE
    happened = (
        ev[ev["event_type"].isin(_FLAGS)]
        .assign(event_type=lambda f: f["event_type"].astype(str))
        .groupby([*keys, "event_type"], sort=False, observed=True)
        .size()
        .unstack(fill_value=0)
        .reindex(columns=list(_FLAGS), fill_value=0)
        > 0
    )
    emails["sent_at"] = _utc_us(emails["sent_at"])
    emails = emails.join(happened, how="left")
    for flag in _FLAGS:
        emails[flag] = emails[flag].astype("boolean").fillna(False).astype(bool)
    emails["opened"] |= emails["clicked"]
    emails["delivered"] |= emails["opened"]
    emails["bounced"] &= ~emails["delivered"]
    emails = emails.reset_index()
    emails["customer_id"] = emails["customer_id"].astype(str)
    emails["campaign_id"] = emails["campaign_id"].astype(str)
    return _attributed(emails, orders, attribution_days)


def _attributed(emails: pd.DataFrame, orders: pd.DataFrame, days: float) -> pd.DataFrame:
    """``emails`` with ``converted`` and ``revenue`` from last-touch attribution of ``orders``."""
    emails = emails.assign(_email=np.arange(len(emails)))
    o = orders[["customer_id", "ordered_at", "amount"]].assign(
        customer_id=orders["customer_id"].astype(str),
        ordered_at=_utc_us(orders["ordered_at"]),
    )
    touch = emails[["customer_id", "sent_at", "_email"]].sort_values("sent_at", kind="mergesort")
    matched = pd.merge_asof(
        o.sort_values("ordered_at", kind="mergesort"),
        touch,
        left_on="ordered_at",
        right_on="sent_at",
        by="customer_id",
        direction="backward",
        allow_exact_matches=True,
    )
    window = matched["ordered_at"] - matched["sent_at"] < pd.Timedelta(days=days)
    matched = matched[matched["_email"].notna() & window.fillna(False).to_numpy()]
    revenue = matched.groupby("_email")["amount"].sum()
    emails["revenue"] = emails["_email"].map(revenue).fillna(0.0).astype(float)
    emails["converted"] = emails["_email"].isin(revenue.index)
    return emails.drop(columns="_email")


def wilson_interval(successes: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 95% Wilson score interval of ``successes / n`` (NaN where ``n`` is 0)."""
    s, n = np.asarray(successes, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = s / n
        z2 = _Z95**2
        centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        half = _Z95 * np.sqrt(p * (1 - p) / n + z2 / (4 * n**2)) / (1 + z2 / n)
    return centre - half, centre + half


def _with_segments(
    emails: pd.DataFrame, membership: pd.DataFrame | None, segment_by: Sequence[str], freq: str
) -> pd.DataFrame:
    """``emails`` with ``period`` and each ``segment_by`` column as of the period's start."""
    out = emails.assign(period=period_start(emails["sent_at"], freq))
    if not segment_by:
        return out
    if membership is None:
        raise ValueError(f"segment_by {list(segment_by)} needs a membership table; got none.")
    missing = [c for c in ("period", "customer_id", *segment_by) if c not in membership.columns]
    if missing:
        raise ValueError(
            f"The membership table lacks {missing}; expected period, customer_id and the "
            f"segment columns; got {list(membership.columns)}."
        )
    seg = membership[["period", "customer_id", *segment_by]].assign(
        customer_id=membership["customer_id"].astype(str),
        period=pd.to_datetime(membership["period"], utc=True).astype("datetime64[us, UTC]"),
    )
    out = out.merge(seg, on=["period", "customer_id"], how="left", validate="many_to_one")
    for column in segment_by:
        out[column] = out[column].astype("string").fillna(NEW_CUSTOMERS)
    return out


def _rows(grouped: pd.DataFrame, metric: str, num: str, den: str) -> pd.DataFrame:
    lo, hi = wilson_interval(grouped[num].to_numpy(), grouped[den].to_numpy())
    return grouped.assign(
        metric=metric,
        numerator=grouped[num].astype(float),
        denominator=grouped[den].astype(float),
        value=grouped[num] / grouped[den].where(grouped[den] > 0),
        ci_low=lo,
        ci_high=hi,
    )


def _sums(rows: pd.DataFrame, summed: list[str], by: str, campaign: str) -> pd.DataFrame:
    """``summed`` per period, segment of ``by`` and campaign type (``all`` for :data:`ALL`).

    Grouped on the real columns only: ``all`` is added to the (few) result
    rows, not written into every input row.
    """
    keys = ["period", *(c for c in (by, campaign) if c != ALL)]
    counted = rows.groupby(keys, observed=True)[summed].sum().reset_index()
    counted = counted.rename(columns={by: "segment"}) if by != ALL else counted
    return counted.assign(
        segment=counted["segment"] if by != ALL else ALL,
        campaign_type=counted["campaign_type"] if campaign != ALL else ALL,
        segment_by=by,
    )


def email_kpis(
    emails: pd.DataFrame,
    *,
    freq: str = "week",
    membership: pd.DataFrame | None = None,
    segment_by: Sequence[str] = (),
) -> pd.DataFrame:
    """The per-e-mail KPIs per period × segment × campaign type, as a tidy table.

    Parameters
    ----------
    emails : pandas.DataFrame
        :func:`email_outcomes`.
    freq : {"day", "week", "month"}
        The period an e-mail counts in is that of its ``sent_at``.
    membership : pandas.DataFrame, optional
        ``period`` (start), ``customer_id`` and the ``segment_by`` columns: each
        customer's segment at the start of each period. A customer missing
        from it (signed up during the period) is in :data:`NEW_CUSTOMERS`.
    segment_by : sequence of str
        Segment columns of ``membership``; the segment ``all`` (segment_by
        ``all``) is always there.

    Returns
    -------
    pandas.DataFrame
        :data:`KPI_COLUMNS`, one row per period, segmentation, segment,
        campaign type (each type and ``all``) and metric of
        :data:`EMAIL_METRICS`; the interval is Wilson's for a rate and the
        normal one for revenue per e-mail.
    """
    rows = _with_segments(emails, membership, segment_by, freq)
    rows = rows.assign(sent=1, revenue_sq=rows["revenue"] ** 2)
    summed = ["sent", *_FLAGS, "converted", "revenue", "revenue_sq"]
    frames = [
        _sums(rows, summed, by, campaign)
        for by in (ALL, *segment_by)
        for campaign in (ALL, "campaign_type")
    ]
    counts = pd.concat(frames, ignore_index=True).drop_duplicates(
        ["period", "segment_by", "segment", "campaign_type"]
    )
    out = [_rows(counts, metric, num, den or "sent") for metric, num, den in _RATES]
    out.append(_revenue_rows(counts))
    table = pd.concat(out, ignore_index=True)[list(KPI_COLUMNS)]
    return table.sort_values(
        ["period", "segment_by", "segment", "campaign_type", "metric"], kind="mergesort"
    ).reset_index(drop=True)


def _revenue_rows(counts: pd.DataFrame) -> pd.DataFrame:
    n = counts["sent"].astype(float)
    mean = counts["revenue"] / n
    with np.errstate(invalid="ignore", divide="ignore"):
        var = (counts["revenue_sq"] - n * mean**2) / (n - 1)
        half = _Z95 * np.sqrt(var.clip(lower=0) / n)
    return counts.assign(
        metric="revenue_per_email",
        numerator=counts["revenue"].astype(float),
        denominator=n,
        value=mean,
        ci_low=mean - half,
        ci_high=mean + half,
    )


def customer_kpis(
    membership: pd.DataFrame,
    orders: pd.DataFrame,
    *,
    freq: str = "week",
    segment_by: Sequence[str] = (),
    stage_column: str = "lifecycle_stage",
) -> pd.DataFrame:
    """Reactivation and churn per period and segment, from membership at each period's start.

    * ``reactivation_rate``: of the customers ``churned`` at the start of a
      period, the share with a completed order during it;
    * ``churn_rate``: of the customers ``conversion`` or ``retention``
      (buyers within 180 days) at its start, the share ``churned`` at the
      start of the next period.

    A period without a next one in ``membership`` has no churn rate.
    Returns :data:`KPI_COLUMNS` rows with ``campaign_type`` ``all``.
    """
    m = membership.assign(
        customer_id=membership["customer_id"].astype(str),
        period=pd.to_datetime(membership["period"], utc=True).astype("datetime64[us, UTC]"),
    )
    periods = np.sort(m["period"].unique())
    following = dict(zip(periods[:-1], periods[1:], strict=True))
    bought = orders.assign(
        customer_id=orders["customer_id"].astype(str),
        period=period_start(orders["ordered_at"], freq),
    )[["customer_id", "period"]].drop_duplicates()
    m = m.merge(bought.assign(ordered=True), on=["customer_id", "period"], how="left")
    m["ordered"] = m["ordered"].astype("boolean").fillna(False).astype(bool)
    stage_next = m[["customer_id", "period", stage_column]].rename(
        columns={stage_column: "_next_stage", "period": "_next"}
    )
    m["_next"] = m["period"].map(following)
    m = m.merge(stage_next, on=["customer_id", "_next"], how="left")
    m["dormant"] = m[stage_column] == "churned"
    m["reactivated"] = m["dormant"] & m["ordered"]
    m["active"] = m[stage_column].isin(["conversion", "retention"]) & m["_next"].notna()
    m["lost"] = m["active"] & (m["_next_stage"] == "churned")
    flows = ["dormant", "reactivated", "active", "lost"]
    frames = [_sums(m, flows, by, ALL) for by in (ALL, *segment_by)]
    counts = pd.concat(frames, ignore_index=True)
    last = counts["period"] == periods[-1] if len(periods) else False
    table = pd.concat(
        [
            _rows(counts, "reactivation_rate", "reactivated", "dormant"),
            _rows(counts[~last], "churn_rate", "lost", "active"),
        ],
        ignore_index=True,
    )[list(KPI_COLUMNS)]
    return table.sort_values(
        ["period", "segment_by", "segment", "metric"], kind="mergesort"
    ).reset_index(drop=True)
