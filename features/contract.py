"""The data contract: which tables a data source holds and what their columns mean.

A data source is a directory with one file per table: ``<table>.parquet``,
``<table>.csv`` or a folder ``<table>/`` of Parquet parts. ``customers`` and
``orders`` are required; the other tables are optional, and the features that
need them are absent when they are. The contract is data, not code: validation
(:mod:`features.validation`) and the docs (``docs/data-contract.md``) both read
it from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CONTRACT",
    "ColumnSpec",
    "Kind",
    "TableSpec",
    "BOUNCE_TYPES",
    "EMAIL_EVENT_TYPES",
    "ORDER_STATUSES",
    "WEB_EVENT_TYPES",
    "CONTROL_VARIANT",
]

Kind = Literal["id", "string", "timestamp", "boolean", "float"]

EMAIL_EVENT_TYPES = (
    "sent",
    "delivered",
    "opened",
    "clicked",
    "bounced",
    "unsubscribed",
    "complained",
)
#: Values of ``email_events.bounce_type``: a hard bounce is final, soft bounces count in a row.
BOUNCE_TYPES = ("hard", "soft")
WEB_EVENT_TYPES = ("page_view", "product_view", "add_to_cart", "checkout_started", "search")
ORDER_STATUSES = ("completed", "cancelled", "returned")
CONTROL_VARIANT = "control"


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a table in the contract.

    Parameters
    ----------
    name : str
        Column name as it appears in the file.
    kind : {"id", "string", "timestamp", "boolean", "float"}
        Logical type; ids are compared as strings, timestamps are UTC.
    nullable : bool
        Whether a missing value is allowed.
    allowed : tuple of str, optional
        The closed set of values the column may take.
    minimum : float, optional
        Smallest allowed value of a numeric column.
    default : object, optional
        Value used for an optional column that is absent or null.
    """

    name: str
    kind: Kind
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    minimum: float | None = None
    default: object = None


@dataclass(frozen=True)
class TableSpec:
    """One table of the contract: its columns and its keys.

    Parameters
    ----------
    name : str
        Table name, also the file stem.
    required : bool
        Whether a data source must hold this table.
    columns : tuple of ColumnSpec
        Columns that must be present.
    optional_columns : tuple of ColumnSpec
        Columns that may be present; when absent they take their default.
    unique : tuple of str
        Column combination that must be unique, if any.
    keeps_extra_columns : bool
        Whether further columns are kept (customer attributes) or dropped.
    references_customers : bool
        Whether every row's ``customer_id`` must be an accepted customer.
    """

    name: str
    required: bool
    columns: tuple[ColumnSpec, ...]
    optional_columns: tuple[ColumnSpec, ...] = ()
    unique: tuple[str, ...] = ()
    keeps_extra_columns: bool = False
    references_customers: bool = True

    @property
    def all_columns(self) -> tuple[ColumnSpec, ...]:
        """Required and optional columns, in contract order."""
        return self.columns + self.optional_columns


CONTRACT: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            name="customers",
            required=True,
            columns=(
                ColumnSpec("customer_id", "id"),
                ColumnSpec("signup_at", "timestamp"),
                ColumnSpec("email_opt_in", "boolean"),
                ColumnSpec("unsubscribed_at", "timestamp", nullable=True),
            ),
            unique=("customer_id",),
            keeps_extra_columns=True,
            references_customers=False,
        ),
        TableSpec(
            name="orders",
            required=True,
            columns=(
                ColumnSpec("order_id", "id"),
                ColumnSpec("customer_id", "id"),
                ColumnSpec("ordered_at", "timestamp"),
                ColumnSpec("amount", "float", minimum=0.0),
            ),
            optional_columns=(
                ColumnSpec("category", "string", nullable=True),
                ColumnSpec("status", "string", allowed=ORDER_STATUSES, default="completed"),
                ColumnSpec("discount", "float", minimum=0.0, default=0.0),
            ),
            unique=("order_id",),
        ),
        TableSpec(
            name="email_events",
            required=False,
            columns=(
                ColumnSpec("customer_id", "id"),
                ColumnSpec("campaign_id", "id"),
                ColumnSpec("event_type", "string", allowed=EMAIL_EVENT_TYPES),
                ColumnSpec("occurred_at", "timestamp"),
            ),
            optional_columns=(
                ColumnSpec("bounce_type", "string", nullable=True, allowed=BOUNCE_TYPES),
                # What kind of e-mail the campaign is (newsletter, promo...), for monitoring.
                ColumnSpec("campaign_type", "string", nullable=True),
                # True for an open made by an image proxy (Apple Mail Privacy Protection).
                ColumnSpec("machine_open", "boolean", nullable=True),
            ),
        ),
        TableSpec(
            name="web_events",
            required=False,
            columns=(
                ColumnSpec("customer_id", "id"),
                ColumnSpec("session_id", "id"),
                ColumnSpec("event_type", "string", allowed=WEB_EVENT_TYPES),
                ColumnSpec("occurred_at", "timestamp"),
            ),
            optional_columns=(ColumnSpec("category", "string", nullable=True),),
        ),
        TableSpec(
            name="campaign_assignments",
            required=False,
            columns=(
                ColumnSpec("customer_id", "id"),
                ColumnSpec("campaign_id", "id"),
                ColumnSpec("variant", "string"),
                ColumnSpec("assigned_at", "timestamp"),
            ),
            unique=("customer_id", "campaign_id"),
        ),
    )
}
