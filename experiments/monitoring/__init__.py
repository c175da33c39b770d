"""Segment KPIs over time: tidy tables of what e-mails did per period and segment, and their bands.

* :mod:`~upseg.experiments.monitoring.kpis` — each e-mail's outcomes (last-touch
  attribution of orders) and the KPI table per period × segment × campaign type;
* :mod:`~upseg.experiments.monitoring.bands` — the expected band of each KPI from
  its own recent history, and the periods that leave it.

``docs/monitoring.md`` defines every KPI with its numerator and denominator.
"""

from upseg.experiments.monitoring.kpis import (
    ALL,
    EMAIL_METRICS,
    KPI_COLUMNS,
    NEW_CUSTOMERS,
    customer_kpis,
    email_kpis,
    email_outcomes,
    period_start,
    wilson_interval,
)

__all__ = [
    "ALL",
    "EMAIL_METRICS",
    "KPI_COLUMNS",
    "NEW_CUSTOMERS",
    "customer_kpis",
    "email_kpis",
    "email_outcomes",
    "period_start",
    "wilson_interval",
]
