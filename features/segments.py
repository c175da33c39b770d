"""RFM scores, the named RFM segment, and the lifecycle stage.

RFM scores are quintiles (1–5, 5 best) of recency, lifetime frequency and
lifetime monetary value among the customers of the same cohort who have bought
at least once; ties share a score. The segment is read off the grid
:data:`RFM_GRID` from R and FM = round-half-up((F + M) / 2). Customers who
have never bought have no scores and the segment ``"Prospects"``. The rules are
documented in ``docs/features.md``.
"""

from __future__ import annotations

import ibis

from upseg.features._compose import attach

__all__ = [
    "CHURNED_AFTER_DAYS",
    "LIFECYCLE_STAGES",
    "NO_PURCHASE_SEGMENT",
    "RFM_GRID",
    "RFM_SEGMENTS",
    "rfm_scores",
    "with_lifecycle_stage",
    "with_rfm",
]

# RFM_GRID[r][fm], r and fm from 1 to 5 (index 0 unused).
RFM_GRID = {
    5: {
        1: "New Customers",
        2: "Potential Loyalists",
        3: "Potential Loyalists",
        4: "Champions",
        5: "Champions",
    },
    4: {
        1: "Promising",
        2: "Potential Loyalists",
        3: "Loyal Customers",
        4: "Champions",
        5: "Champions",
    },
    3: {
        1: "About to Sleep",
        2: "Need Attention",
        3: "Need Attention",
        4: "Loyal Customers",
        5: "Loyal Customers",
    },
    2: {1: "Hibernating", 2: "About to Sleep", 3: "At Risk", 4: "At Risk", 5: "Can't Lose Them"},
    1: {1: "Lost", 2: "Hibernating", 3: "At Risk", 4: "Can't Lose Them", 5: "Can't Lose Them"},
}
NO_PURCHASE_SEGMENT = "Prospects"
RFM_SEGMENTS = tuple(dict.fromkeys(s for row in RFM_GRID.values() for s in row.values()))

LIFECYCLE_STAGES = ("discovery", "consideration", "conversion", "retention", "churned")
CHURNED_AFTER_DAYS = 180
CONSIDERATION_DAYS = 90


def _quintile(value: ibis.Value, partition: list, *, higher_is_better: bool) -> ibis.Value:
    order = value if higher_is_better else ibis.desc(value)
    pct = ibis.percent_rank().over(group_by=partition, order_by=order)
    return ibis.least((pct * 5).floor() + 1, 5).cast("int8")


def rfm_scores(table: ibis.Table) -> ibis.Table:
    """``rfm_r``, ``rfm_f``, ``rfm_m`` per spine row, ranked within cohort among buyers.

    Ranked on a narrow table and joined back: a window over every feature
    column would move all of them through the sort. Monetary value is ranked
    rounded to cents, so the scores do not depend on summation order.
    """
    narrow = table.select(
        "customer_id",
        "as_of",
        "cohort",
        "recency_days",
        "frequency_lifetime",
        # Ranked in cents: a parallel sum's last bits depend on the order it
        # added in, and a tie must not become a different quintile between runs.
        monetary_lifetime=table.monetary_lifetime.round(2),
        buyer=table.frequency_lifetime > 0,
    )
    partition = [narrow.cohort, narrow.buyer]
    null = ibis.null("int8")

    def score(column: str, higher_is_better: bool) -> ibis.Value:
        quintile = _quintile(narrow[column], partition, higher_is_better=higher_is_better)
        return ibis.ifelse(narrow.buyer, quintile, null)

    return narrow.select(
        "customer_id",
        "as_of",
        rfm_r=score("recency_days", higher_is_better=False),
        rfm_f=score("frequency_lifetime", higher_is_better=True),
        rfm_m=score("monetary_lifetime", higher_is_better=True),
    )


def with_rfm(table: ibis.Table) -> ibis.Table:
    """Add ``rfm_r``, ``rfm_f``, ``rfm_m``, ``rfm_score`` and ``rfm_segment``.

    Parameters
    ----------
    table : ibis.Table
        Features with ``customer_id``, ``as_of``, ``cohort``, ``recency_days``,
        ``frequency_lifetime`` and ``monetary_lifetime``.
    """
    scored = attach(table, rfm_scores(table))
    fm = ((scored.rfm_f + scored.rfm_m + 1) / 2).floor().cast("int8")
    branches = [
        ((scored.rfm_r == r) & (fm == f), name)
        for r, row in RFM_GRID.items()
        for f, name in row.items()
    ]
    return scored.mutate(
        rfm_score=(
            scored.rfm_r.cast("string") + scored.rfm_f.cast("string") + scored.rfm_m.cast("string")
        ),
        rfm_segment=ibis.cases(*branches, else_=NO_PURCHASE_SEGMENT),
    )


def with_lifecycle_stage(table: ibis.Table) -> ibis.Table:
    """Add ``lifecycle_stage`` from purchases and, where present, engagement.

    In order, first match wins:

    1. ``churned`` — bought before, but not in the last 180 days; or never
       bought, signed up over 180 days ago and no visit, open or click in
       the last 180 days.
    2. ``retention`` — two or more completed orders.
    3. ``conversion`` — exactly one completed order.
    4. ``consideration`` — no order, but a product view, add-to-cart or
       e-mail click in the last 90 days.
    5. ``discovery`` — everyone else: signed up, not yet interested.
    """
    cols = set(table.columns)

    def recent(column: str, days: int) -> ibis.BooleanValue:
        if column not in cols:
            return ibis.literal(False)
        return (table[column] <= days).fill_null(False)

    def positive(column: str) -> ibis.BooleanValue:
        return (table[column] > 0).fill_null(False) if column in cols else ibis.literal(False)

    engaged_lately = (
        recent("days_since_last_visit", CHURNED_AFTER_DAYS)
        | recent("days_since_last_open", CHURNED_AFTER_DAYS)
        | recent("days_since_last_click", CHURNED_AFTER_DAYS)
    )
    interested = (
        positive("product_views_90d")
        | positive("cart_sessions_90d")
        | positive("emails_clicked_90d")
    )
    n = table.frequency_lifetime
    stage = ibis.cases(
        ((n > 0) & (table.recency_days > CHURNED_AFTER_DAYS), "churned"),
        ((n == 0) & (table.tenure_days > CHURNED_AFTER_DAYS) & ~engaged_lately, "churned"),
        (n >= 2, "retention"),
        (n == 1, "conversion"),
        (interested, "consideration"),
        else_="discovery",
    )
    return table.mutate(lifecycle_stage=stage)
