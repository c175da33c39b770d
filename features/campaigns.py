"""One campaign of the data contract as one row per assigned customer.

Uplift training (:func:`upseg.models.uplift.data.campaign_data`) and
experiment analysis (:func:`upseg.experiments.data.campaign_experiment`) both
read a campaign with :func:`campaign_frame`, so both refuse the same campaigns
with the same words: a data source without ``campaign_assignments``, an
unknown campaign, an outcome window the orders do not yet cover, a customer
assigned before they signed up, an assignment that does not give exactly one
customer.

Each customer's outcomes are those of the window ``[assigned_at, assigned_at +
window_days)``; their features are built as of ``assigned_at`` by
:func:`upseg.features.build.build_features`, so they see only what happened
before the e-mail.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import pandas as pd

from upseg.errors import UpsegError
from upseg.features._compose import KEYS
from upseg.features.build import attribute_columns, build_features
from upseg.features.labels import OUTCOME_WINDOW_DAYS, campaign_outcomes
from upseg.features.pit import campaign_spine
from upseg.features.sets import CUSTOMER_V1, FeatureSet

__all__ = [
    "CAMPAIGN_OUTCOMES",
    "Campaign",
    "CampaignError",
    "campaign_frame",
    "check_outcome_window",
    "check_signed_up_before_assignment",
]

#: Every outcome of a campaign, in its column order, and the table it is counted from.
CAMPAIGN_OUTCOMES = {
    "conversion": "orders",
    "revenue": "orders",
    "orders_in_window": "orders",
    "visit": "web_events",
    "click": "email_events",
    "unsubscribe": "email_events",
}


class CampaignError(UpsegError, ValueError):
    """A campaign of the data source cannot be read as an experiment."""


@dataclass(frozen=True)
class Campaign:
    """The customers assigned to one campaign, with their outcomes and features.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per assigned customer, sorted by ``customer_id``:
        ``customer_id`` and ``arm`` (strings), ``assigned_at``, the outcomes
        (float), the features as of ``assigned_at``, then the customers
        table's further columns (country, tier…).
    campaign_id : str
    window_days : int
        Length of the outcome window after ``assigned_at``.
    outcomes : tuple of str
        The outcome columns, in the order of :data:`CAMPAIGN_OUTCOMES`.
    features : tuple of str
        The feature set's columns whose tables the data source holds.
    attributes : tuple of str
        The customers table's further columns.
    """

    frame: pd.DataFrame
    campaign_id: str
    window_days: int
    outcomes: tuple[str, ...]
    features: tuple[str, ...]
    attributes: tuple[str, ...]

    @property
    def source(self) -> dict[str, Any]:
        """Where the rows came from, for a run's fingerprint or parameters."""
        return {
            "campaign_id": self.campaign_id,
            "window_days": self.window_days,
            "rows": len(self.frame),
        }


def _outcome_names(tables: Mapping[str, ibis.Table], outcomes: Sequence[str] | None) -> list[str]:
    """The outcomes asked for (every one the tables allow when None), in their column order."""
    if outcomes is None:
        return [name for name, table in CAMPAIGN_OUTCOMES.items() if table in tables]
    unknown = [o for o in outcomes if o not in CAMPAIGN_OUTCOMES]
    if unknown:
        raise CampaignError(
            f"outcome(s) {unknown}: a campaign's outcomes are {list(CAMPAIGN_OUTCOMES)}."
        )
    lacking = [
        f"{o!r} needs {CAMPAIGN_OUTCOMES[o]}"
        for o in outcomes
        if CAMPAIGN_OUTCOMES[o] not in tables
    ]
    if lacking:
        raise CampaignError(
            f"the data source lacks the table(s) of outcome(s): {', '.join(lacking)}."
        )
    return [name for name in CAMPAIGN_OUTCOMES if name in outcomes]


def _assigned(tables: Mapping[str, ibis.Table], campaign_id: str) -> int:
    """How many customers are assigned to the campaign; refuses a source or campaign without any."""
    if "campaign_assignments" not in tables:
        raise CampaignError(
            "campaign_assignments: the data source has no such table, so it holds no campaign; "
            "use --table for a one-row-per-customer experiment."
        )
    assignments = tables["campaign_assignments"]
    found = int(assignments.filter(assignments.campaign_id == campaign_id).count().execute())
    if not found:
        known = sorted(
            map(str, assignments.select("campaign_id").distinct().execute()["campaign_id"])
        )
        raise CampaignError(
            f"campaign_assignments: no customer is assigned to campaign {campaign_id!r} "
            f"(--campaign); the campaigns in the data are {known}."
        )
    return found


def check_outcome_window(tables: Mapping[str, ibis.Table], campaign_id: str, days: int) -> None:
    """Refuse a campaign whose outcome window is not yet covered by the orders.

    Raises
    ------
    CampaignError
        When the latest order is more than a day before the last assignment plus
        ``days``: outcomes would be cut short.
    """
    a = tables["campaign_assignments"]
    last_assigned = a.filter(a.campaign_id == campaign_id).assigned_at.max().execute()
    last_order = tables["orders"].ordered_at.max().execute()
    needed = pd.Timestamp(last_assigned) + pd.Timedelta(days=days)
    if pd.isna(last_order) or pd.Timestamp(last_order) < needed - pd.Timedelta(days=1):
        raise CampaignError(
            f"orders: outcomes of campaign {campaign_id!r} need orders until {needed:%Y-%m-%d} "
            f"({days} days after the last assignment), but the latest order is at {last_order}."
        )


def check_signed_up_before_assignment(tables: Mapping[str, ibis.Table], campaign_id: str) -> None:
    """Refuse a campaign with a customer assigned before they signed up.

    Raises
    ------
    CampaignError
        Naming how many and a few of them: their features could not be pre-treatment.
    """
    a, c = tables["campaign_assignments"], tables["customers"]
    rows = a.filter(a.campaign_id == campaign_id).join(c, "customer_id")
    early = rows.filter(rows.assigned_at < rows.signup_at)
    n = int(early.count().execute())
    if n:
        examples = early.limit(3).execute()["customer_id"].tolist()
        raise CampaignError(
            f"campaign_assignments: {n} customer(s) of {campaign_id!r} were assigned before "
            f"they signed up (e.g. {examples}); their features could not be pre-treatment."
        )


def _flag_in_window(events: ibis.Table, spine: ibis.Table, days: int, name: str) -> ibis.Table:
    """1 for spine customers with at least one of ``events`` in ``[as_of, as_of + days)``."""
    joined = events.join(spine, "customer_id")
    inside = joined.filter(
        (joined.occurred_at >= joined.as_of)
        & (joined.occurred_at < joined.as_of + ibis.interval(days=days))
    )
    return inside.select("customer_id").distinct().mutate(**{name: ibis.literal(1, "int8")})


def _event_flags(
    tables: Mapping[str, ibis.Table], campaign_id: str, spine: ibis.Table, days: int
) -> dict[str, ibis.Table]:
    """The 0/1 outcomes counted from web and e-mail events: visit, click, unsubscribe."""
    flags = {}
    if "web_events" in tables:
        flags["visit"] = _flag_in_window(tables["web_events"], spine, days, "visit")
    if "email_events" in tables:
        events = tables["email_events"]
        # a click can only follow this campaign's e-mail (the control's rate is 0 by design);
        # an unsubscribe counts from any source, so the control shows the background rate
        mail = events.filter((events.campaign_id == campaign_id) & (events.event_type == "clicked"))
        flags["click"] = _flag_in_window(mail, spine, days, "click")
        left = events.filter(events.event_type == "unsubscribed").select(
            "customer_id", "occurred_at"
        )
        customers = tables["customers"].filter(tables["customers"].unsubscribed_at.notnull())
        left = left.union(customers.select("customer_id", occurred_at=customers.unsubscribed_at))
        flags["unsubscribe"] = _flag_in_window(left, spine, days, "unsubscribe")
    return flags


def campaign_frame(
    tables: Mapping[str, ibis.Table],
    campaign_id: str,
    *,
    window_days: int = OUTCOME_WINDOW_DAYS,
    feature_set: FeatureSet = CUSTOMER_V1,
    outcomes: Sequence[str] | None = None,
) -> Campaign:
    """Each customer assigned to ``campaign_id``: arm, outcomes after and features before.

    Parameters
    ----------
    tables : mapping of str to ibis.Table
        Validated tables, with ``campaign_assignments``.
    campaign_id : str
        The campaign.
    window_days : int, default 14
        Outcome window after ``assigned_at``.
    feature_set : FeatureSet, default CUSTOMER_V1
        The features built as of ``assigned_at``.
    outcomes : sequence of str, optional
        Outcomes to count (names of :data:`CAMPAIGN_OUTCOMES`); every one whose
        table the data source holds when omitted.

    Raises
    ------
    CampaignError
        The data source has no ``campaign_assignments``, the campaign has no
        customer, an outcome is unknown or its table absent, the orders end
        before the outcome window does, a customer was assigned before they
        signed up, or the rows do not give each assigned customer once.
    """
    n_assigned = _assigned(tables, campaign_id)
    names = _outcome_names(tables, outcomes)
    check_outcome_window(tables, campaign_id, window_days)
    check_signed_up_before_assignment(tables, campaign_id)
    assignments = tables["campaign_assignments"]
    spine = campaign_spine(assignments, campaign_id)
    counted = campaign_outcomes(tables["orders"], assignments, campaign_id, window_days=window_days)
    order_outcomes = [n for n in names if CAMPAIGN_OUTCOMES[n] == "orders"]
    frame = counted.select(*KEYS, arm=counted.variant, **{n: counted[n] for n in order_outcomes})
    frame = frame.execute()
    flags = _event_flags(tables, campaign_id, spine, window_days)
    for name in names:
        if name in flags:
            got = flags[name].execute()
            frame = frame.merge(got, on="customer_id", how="left")
            frame[name] = frame[name].fillna(0)
    features = feature_set.columns(set(tables))
    attributes = tuple(
        c for c in attribute_columns(tables["customers"]) if c not in frame and c != "assigned_at"
    )
    built = build_features(tables, spine, feature_set=feature_set).execute()
    frame = frame.merge(built.loc[:, [*KEYS, *features, *attributes]], on=list(KEYS), how="left")
    frame = frame.rename(columns={"as_of": "assigned_at"}).loc[
        :, ["customer_id", "arm", "assigned_at", *names, *features, *attributes]
    ]
    frame["customer_id"] = frame["customer_id"].astype("string")
    frame["arm"] = frame["arm"].astype("string")
    frame = frame.astype({name: "float64" for name in names})
    frame = frame.sort_values("customer_id", ignore_index=True)
    if len(frame) != n_assigned or frame["customer_id"].duplicated().any():
        raise CampaignError(
            f"campaign {campaign_id!r}: {n_assigned} assignments gave {len(frame)} customers; "
            "a customer is assigned twice or lost in the join."
        )
    return Campaign(
        frame=frame,
        campaign_id=campaign_id,
        window_days=window_days,
        outcomes=tuple(names),
        features=features,
        attributes=attributes,
    )
