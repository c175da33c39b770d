"""Assemble every feature group onto a spine: the one definition training and scoring share.

:func:`build_features` returns a lazy Ibis expression; nothing runs until it is
executed or written, and then it runs on whichever engine the tables live on.
"""

from __future__ import annotations

from collections.abc import Mapping

import ibis

from upseg.features._compose import KEYS, aggregate, attach, derive
from upseg.features.behaviour import WEB_AGGREGATES, WEB_COUNTS, WEB_DERIVED, sessions
from upseg.features.contract import CONTRACT
from upseg.features.engagement import EMAIL_AGGREGATES, EMAIL_COUNTS, EMAIL_DERIVED
from upseg.features.pit import days_between, events_before
from upseg.features.rfm import ORDER_AGGREGATES, ORDER_COUNTS, ORDER_DERIVED, favourite_category
from upseg.features.segments import with_lifecycle_stage, with_rfm
from upseg.features.sets import CUSTOMER_V1, FeatureSet

__all__ = ["attribute_columns", "build_features", "customer_attributes"]


def attribute_columns(customers: ibis.Table) -> list[str]:
    """The customers table's further columns (country, tier, …), passed through as features."""
    contract = {c.name for c in CONTRACT["customers"].all_columns}
    return [c for c in customers.columns if c not in contract]


def customer_attributes(customers: ibis.Table, spine: ibis.Table) -> ibis.Table:
    """Spine rows with tenure, consent as of the cutoff, and the customer's attributes.

    ``unsubscribed_at`` becomes ``is_unsubscribed`` (unsubscribed strictly
    before as-of), so a later unsubscribe cannot leak into the past.
    """
    joined = spine.join(customers, "customer_id")
    tenure = days_between(joined.as_of, joined.signup_at)
    unsubscribed = (joined.unsubscribed_at < joined.as_of).fill_null(False)
    return joined.select(
        *spine.columns,
        tenure_days=tenure,
        email_opt_in=joined.email_opt_in,
        is_unsubscribed=unsubscribed,
        **{c: joined[c] for c in attribute_columns(customers)},
    )


def build_features(
    tables: Mapping[str, ibis.Table],
    spine: ibis.Table,
    *,
    feature_set: FeatureSet = CUSTOMER_V1,
) -> ibis.Table:
    """Point-in-time features of every spine row.

    Parameters
    ----------
    tables : mapping of str to ibis.Table
        Validated tables (:attr:`features.validation.ValidationResult.tables`);
        ``customers`` and ``orders`` are required, the e-mail and web features
        are present only when their tables are.
    spine : ibis.Table
        ``customer_id``, ``as_of``, ``cohort`` — see :mod:`features.pit`.
    feature_set : FeatureSet
        Which columns to return, in its order.

    Returns
    -------
    ibis.Table
        One row per spine row, in no particular order: ``customer_id``,
        ``as_of``, the feature set's columns whose tables are present, then
        the customer attributes. Only events strictly before each row's
        ``as_of`` are used.
    """
    table = customer_attributes(tables["customers"], spine)
    orders = events_before(tables["orders"], spine, "ordered_at")
    table = attach(table, aggregate(orders, ORDER_AGGREGATES), fill_zero=ORDER_COUNTS)
    table = attach(table, favourite_category(orders))
    derived = dict(ORDER_DERIVED)
    if "email_events" in tables:
        email = events_before(tables["email_events"], spine, "occurred_at")
        table = attach(table, aggregate(email, EMAIL_AGGREGATES), fill_zero=EMAIL_COUNTS)
        derived |= EMAIL_DERIVED
    if "web_events" in tables:
        web = sessions(events_before(tables["web_events"], spine, "occurred_at"))
        table = attach(table, aggregate(web, WEB_AGGREGATES), fill_zero=WEB_COUNTS)
        derived |= WEB_DERIVED
    table = derive(table, derived)
    table = with_lifecycle_stage(with_rfm(table))
    columns = feature_set.columns(set(tables))
    attributes = attribute_columns(tables["customers"])
    return table.select(*KEYS, *columns, *attributes)
