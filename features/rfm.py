"""Order features: recency, frequency, monetary value and their relatives.

Aggregates take the point-in-time orders of each spine row (see
:func:`features.pit.events_before`); only ``completed`` orders count as
purchases, while returns and cancellations are features of their own.
"""

from __future__ import annotations

from functools import partial

import ibis

from upseg.features._compose import Aggregate, ratio
from upseg.features.pit import EVENT_AT, days_between, since, within

__all__ = ["ORDER_AGGREGATES", "ORDER_COUNTS", "ORDER_DERIVED", "favourite_category"]

WINDOWS = (30, 90, 365)

#: Amounts are summed in millionths of the currency, as integers: an integer sum is the
#: same in any order, so every engine (and every partitioning) gets the same bits, where
#: a sum of floats differs in its last bits with the order the rows arrive in.
MONEY_UNITS = 1_000_000


def _money_sum(amount: ibis.FloatingValue, where: ibis.BooleanValue) -> ibis.FloatingValue:
    """The sum of ``amount`` where ``where``, exact to a millionth; 0 when nothing matches."""
    units = (amount * MONEY_UNITS).round().cast("int64")
    return (units.sum(where=where) / MONEY_UNITS).fill_null(0)


def _completed(o: ibis.Table) -> ibis.BooleanValue:
    return o.status == "completed"


def frequency(o: ibis.Table, days: int | None) -> ibis.IntegerValue:
    """Completed orders in the last ``days`` days (ever, if None)."""
    return (_completed(o) & within(o, days)).sum()


def monetary(o: ibis.Table, days: int | None) -> ibis.FloatingValue:
    """Amount of completed orders in the last ``days`` days (ever, if None)."""
    return _money_sum(o.amount, _completed(o) & within(o, days))


def last_order_at(o: ibis.Table) -> ibis.TimestampValue:
    """When the last completed order was placed."""
    return o[EVENT_AT].max(where=_completed(o))


def first_order_at(o: ibis.Table) -> ibis.TimestampValue:
    """When the first completed order was placed."""
    return o[EVENT_AT].min(where=_completed(o))


def _previous_90d(o: ibis.Table) -> ibis.BooleanValue:
    return _completed(o) & (o[EVENT_AT] < o[since(90)]) & within(o, 180)


def frequency_prev_90d(o: ibis.Table) -> ibis.IntegerValue:
    """Completed orders 90 to 180 days before as-of."""
    return _previous_90d(o).sum()


def monetary_prev_90d(o: ibis.Table) -> ibis.FloatingValue:
    """Amount of completed orders 90 to 180 days before as-of."""
    return _money_sum(o.amount, _previous_90d(o))


def returns_365d(o: ibis.Table) -> ibis.IntegerValue:
    """Orders returned in the last 365 days."""
    return ((o.status == "returned") & within(o, 365)).sum()


def cancellations_365d(o: ibis.Table) -> ibis.IntegerValue:
    """Orders cancelled in the last 365 days."""
    return ((o.status == "cancelled") & within(o, 365)).sum()


def orders_placed_lifetime(o: ibis.Table) -> ibis.IntegerValue:
    """Orders of any status ever placed."""
    return o.count()


def returns_lifetime(o: ibis.Table) -> ibis.IntegerValue:
    """Orders ever returned."""
    return (o.status == "returned").sum()


def discounted_orders_lifetime(o: ibis.Table) -> ibis.IntegerValue:
    """Completed orders that carried a discount."""
    return (_completed(o) & (o.discount > 0)).sum()


def category_count(o: ibis.Table) -> ibis.IntegerValue:
    """Distinct categories among completed orders."""
    return o.category.nunique(where=_completed(o))


ORDER_AGGREGATES: dict[str, Aggregate] = {
    **{f"frequency_{d}d": partial(frequency, days=d) for d in WINDOWS},
    "frequency_lifetime": partial(frequency, days=None),
    **{f"monetary_{d}d": partial(monetary, days=d) for d in WINDOWS},
    "monetary_lifetime": partial(monetary, days=None),
    "last_order_at": last_order_at,
    "first_order_at": first_order_at,
    "frequency_prev_90d": frequency_prev_90d,
    "monetary_prev_90d": monetary_prev_90d,
    "returns_365d": returns_365d,
    "cancellations_365d": cancellations_365d,
    "orders_placed_lifetime": orders_placed_lifetime,
    "returns_lifetime": returns_lifetime,
    "discounted_orders_lifetime": discounted_orders_lifetime,
    "category_count": category_count,
}
# Columns that are 0, not null, for a customer without orders.
ORDER_COUNTS = tuple(n for n in ORDER_AGGREGATES if not n.endswith("_at"))


def recency_days(as_of, last_order_at):
    """Days since the last completed order."""
    return days_between(as_of, last_order_at)


def days_since_first_order(as_of, first_order_at):
    """Days since the first completed order."""
    return days_between(as_of, first_order_at)


def avg_order_value(monetary_lifetime, frequency_lifetime):
    """Mean amount of a completed order."""
    return ratio(monetary_lifetime, frequency_lifetime)


def days_between_orders(days_since_first_order, recency_days, frequency_lifetime):
    """Mean gap between consecutive completed orders (null below two orders)."""
    return ratio(days_since_first_order - recency_days, frequency_lifetime - 1)


def frequency_trend_90d(frequency_90d, frequency_prev_90d):
    """Completed orders in the last 90 days minus the 90 days before."""
    return frequency_90d - frequency_prev_90d


def monetary_trend_90d(monetary_90d, monetary_prev_90d):
    """Amount of the last 90 days minus the 90 days before."""
    return monetary_90d - monetary_prev_90d


def return_rate(returns_lifetime, orders_placed_lifetime):
    """Share of placed orders that were returned."""
    return ratio(returns_lifetime, orders_placed_lifetime)


def discount_order_share(discounted_orders_lifetime, frequency_lifetime):
    """Share of completed orders that carried a discount."""
    return ratio(discounted_orders_lifetime, frequency_lifetime)


ORDER_DERIVED = {
    f.__name__: f
    for f in (
        recency_days,
        days_since_first_order,
        avg_order_value,
        days_between_orders,
        frequency_trend_90d,
        monetary_trend_90d,
        return_rate,
        discount_order_share,
    )
}


def favourite_category(o: ibis.Table) -> ibis.Table:
    """Most bought category among completed orders and its share of them.

    Ties go to the alphabetically first category, so the result is deterministic.

    Returns
    -------
    ibis.Table
        ``customer_id``, ``as_of``, ``favourite_category``, ``favourite_category_share``.
    """
    done = o.filter(_completed(o) & o.category.notnull())
    per = done.group_by(["customer_id", "as_of", "category"]).aggregate(n=done.count())
    per = per.mutate(
        total=per.n.sum().over(group_by=["customer_id", "as_of"]),
        rank=ibis.row_number().over(
            group_by=["customer_id", "as_of"], order_by=[ibis.desc(per.n), per.category]
        ),
    )
    top = per.filter(per["rank"] == 0)
    return top.select(
        "customer_id",
        "as_of",
        favourite_category=top.category,
        favourite_category_share=top.n / top.total,
    )
