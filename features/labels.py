"""Labels, campaign outcomes and the populations models learn on.

Features see events strictly before ``as_of``; labels see the window
``[as_of, as_of + H days)``. Only completed orders count as purchases.

A model's *population* is the customers its labels exist for: every customer
signed up before as-of (:data:`ALL_CUSTOMERS`), or, for churn, the *active*
ones (:data:`ACTIVE_CUSTOMERS`), with a completed order in the
:data:`ACTIVE_DAYS` before as-of. :func:`churn_labels` marks them in the event
tables and :func:`in_population` picks them from a feature table; both read
the same window of completed orders.
"""

from __future__ import annotations

import ibis
import pandas as pd

from upseg.features._compose import KEYS, attach
from upseg.features.pit import campaign_spine, days_between, events_in_window

__all__ = [
    "ACTIVE_CUSTOMERS",
    "ACTIVE_DAYS",
    "ALL_CUSTOMERS",
    "CHURN_HORIZON_DAYS",
    "CLV_HORIZON_DAYS",
    "OUTCOME_WINDOW_DAYS",
    "POPULATIONS",
    "PURCHASE_HORIZON_DAYS",
    "campaign_outcomes",
    "churn_labels",
    "in_population",
    "purchase_labels",
    "revenue_labels",
]

CHURN_HORIZON_DAYS = 90
PURCHASE_HORIZON_DAYS = 30
#: Window of the lifetime-value label: the revenue of the next year.
CLV_HORIZON_DAYS = 365
#: Days in the year of a discount rate: ``(1 + rate) ** (-days / DAYS_PER_YEAR)``.
DAYS_PER_YEAR = 365.0
#: Days after a campaign's assignment in which its conversions and revenue count.
OUTCOME_WINDOW_DAYS = 14
#: A customer with a completed order in this many days before as-of is active (can churn).
ACTIVE_DAYS = 365

#: Every customer signed up before as-of: the population of propensity and uplift.
ALL_CUSTOMERS = "all"
#: The active customers, churn's population; the value is tagged in registered models'
#: training references, so it stays ``active_365d``.
ACTIVE_CUSTOMERS = f"active_{ACTIVE_DAYS}d"
POPULATIONS = (ALL_CUSTOMERS, ACTIVE_CUSTOMERS)
#: The feature counting completed orders in the ACTIVE_DAYS before as-of.
_ACTIVE_FEATURE = f"frequency_{ACTIVE_DAYS}d"


def _completed(orders: ibis.Table) -> ibis.Table:
    return orders.filter(orders.status == "completed")


def purchase_labels(
    orders: ibis.Table, spine: ibis.Table, *, horizon_days: int = PURCHASE_HORIZON_DAYS
) -> ibis.Table:
    """Whether each spine row's customer completes an order in the next ``horizon_days``.

    Returns
    -------
    ibis.Table
        ``customer_id``, ``as_of``, ``purchased`` (bool) for every spine row.
    """
    window = events_in_window(
        _completed(orders), spine, "ordered_at", start_days=0, end_days=horizon_days
    )
    bought = window.group_by(list(KEYS)).aggregate(n=window.count())
    labelled = attach(spine.select(*KEYS), bought, fill_zero=("n",))
    return labelled.select(*KEYS, purchased=labelled.n > 0)


def revenue_labels(
    orders: ibis.Table,
    spine: ibis.Table,
    *,
    horizon_days: int = CLV_HORIZON_DAYS,
    discount_rate: float = 0.0,
) -> ibis.Table:
    """Each spine row's discounted revenue of completed orders in the next ``horizon_days``.

    An order placed ``d`` days after as-of counts ``amount * (1 + discount_rate)
    ** (-d / 365)``: the present value at as-of, as a CLV model predicts it.
    Cancelled and returned orders bring no revenue; a customer without an order
    in the window has 0.

    Returns
    -------
    ibis.Table
        ``customer_id``, ``as_of``, ``revenue`` (float, >= 0) and ``orders``
        (completed orders in the window) for every spine row.
    """
    window = events_in_window(
        _completed(orders), spine, "ordered_at", start_days=0, end_days=horizon_days
    )
    years = days_between(window.ordered_at, window.as_of) / DAYS_PER_YEAR
    value = window.amount * (1.0 + discount_rate) ** (-years) if discount_rate else window.amount
    earned = window.mutate(value=value.cast("float64"))
    per_row = earned.group_by(list(KEYS)).aggregate(
        revenue=earned.value.sum(), orders=earned.count()
    )
    labelled = attach(spine.select(*KEYS), per_row, fill_zero=("revenue", "orders"))
    return labelled.select(*KEYS, revenue=labelled.revenue.cast("float64"), orders=labelled.orders)


def churn_labels(
    orders: ibis.Table,
    spine: ibis.Table,
    *,
    horizon_days: int = CHURN_HORIZON_DAYS,
    active_days: int = ACTIVE_DAYS,
) -> ibis.Table:
    """Whether each active customer stops buying in the next ``horizon_days``.

    A customer is *active* (``churn_eligible``) with a completed order in the
    ``active_days`` before as-of; only they can churn. An active customer
    churns when they complete no order in ``[as_of, as_of + horizon_days)``.

    Returns
    -------
    ibis.Table
        ``customer_id``, ``as_of``, ``churn_eligible`` (bool) and ``churned``
        (bool; null when not eligible) for every spine row.
    """
    done = _completed(orders)
    recent = events_in_window(done, spine, "ordered_at", start_days=-active_days, end_days=0)
    active = recent.group_by(list(KEYS)).aggregate(n_before=recent.count())
    window = events_in_window(done, spine, "ordered_at", start_days=0, end_days=horizon_days)
    after = window.group_by(list(KEYS)).aggregate(n_after=window.count())
    labelled = attach(
        attach(spine.select(*KEYS), active, fill_zero=("n_before",)), after, fill_zero=("n_after",)
    )
    eligible = labelled.n_before > 0
    return labelled.select(
        *KEYS,
        churn_eligible=eligible,
        churned=ibis.ifelse(eligible, labelled.n_after == 0, ibis.null("boolean")),
    )


def in_population(features: pd.DataFrame, population: str | None) -> pd.DataFrame:
    """The rows of a feature table that belong to ``population``.

    Active customers are those with a positive ``frequency_365d`` (completed
    orders in the :data:`ACTIVE_DAYS` before as-of): the customers
    :func:`churn_labels` marks ``churn_eligible``. ``None`` (a reference that
    names no population) is every row, as is a table without that column.

    Raises
    ------
    ValueError
        For a population other than those of :data:`POPULATIONS`.
    """
    if population is None or population == ALL_CUSTOMERS:
        return features
    if population != ACTIVE_CUSTOMERS:
        raise ValueError(f"population must be one of {', '.join(POPULATIONS)}; got {population!r}")
    if _ACTIVE_FEATURE not in features:
        return features
    return features[features[_ACTIVE_FEATURE] > 0]


def campaign_outcomes(
    orders: ibis.Table,
    assignments: ibis.Table,
    campaign_id: str,
    *,
    window_days: int = OUTCOME_WINDOW_DAYS,
) -> ibis.Table:
    """Conversion and revenue of each customer in the window after their assignment.

    Join it to ``build_features(tables, campaign_spine(assignments, campaign_id))``
    on ``customer_id`` and ``as_of`` for features taken as of ``assigned_at``.

    Returns
    -------
    ibis.Table
        ``customer_id``, ``as_of`` (= ``assigned_at``), ``campaign_id``,
        ``variant``, ``conversion`` (0/1), ``revenue`` and ``orders_in_window``.
    """
    rows = assignments.filter(assignments.campaign_id == campaign_id)
    spine = campaign_spine(assignments, campaign_id)
    window = events_in_window(
        _completed(orders), spine, "ordered_at", start_days=0, end_days=window_days
    )
    outcome = window.group_by(list(KEYS)).aggregate(
        orders_in_window=window.count(), revenue=window.amount.sum()
    )
    arms = rows.select(
        "customer_id", as_of=rows.assigned_at, campaign_id=rows.campaign_id, variant=rows.variant
    )
    joined = attach(arms, outcome, fill_zero=("orders_in_window", "revenue"))
    return joined.mutate(conversion=(joined.orders_in_window > 0).cast("int8")).order_by(list(KEYS))
