"""Named, versioned feature sets: the only way a model names its inputs.

A set's columns are written out literally, so adding a feature function never
changes a set silently: it needs a new version. Models log the set's
:attr:`FeatureSet.key` and the scorer rebuilds exactly those columns.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BEHAVIOUR_V1",
    "CLUSTER_FEATURE_SETS",
    "CUSTOMER_V1",
    "FEATURE_SETS",
    "FeatureSet",
    "get_cluster_feature_set",
    "get_feature_set",
]


@dataclass(frozen=True)
class FeatureSet:
    """A versioned list of feature columns, grouped by the table each group needs.

    Parameters
    ----------
    name : str
        Short name, e.g. ``"customer"``.
    version : int
        Bumped whenever a column is added, removed or redefined.
    groups : dict of str to tuple of str
        Columns by the table they come from (``customers``, ``orders``,
        ``email_events``, ``web_events``); a group whose table is absent from a
        data source is absent from the features.
    categorical : tuple of str
        Columns holding categories rather than numbers.
    built_from : str, optional
        Key of the set this one selects columns of: the scorer builds that set
        and the model reads its subset (the clusters' behavioural sets).
    """

    name: str
    version: int
    groups: dict[str, tuple[str, ...]]
    categorical: tuple[str, ...] = ()
    built_from: str | None = None

    @property
    def key(self) -> str:
        """``<name>_v<version>``, the identifier logged with models."""
        return f"{self.name}_v{self.version}"

    def columns(self, tables: set[str] | None = None) -> tuple[str, ...]:
        """The set's columns, restricted to groups whose table is in ``tables``."""
        return tuple(
            c
            for table, cols in self.groups.items()
            if tables is None or table in tables
            for c in cols
        )


_WINDOWS = ("30d", "90d", "365d")

CUSTOMER_V1 = FeatureSet(
    name="customer",
    version=1,
    groups={
        "customers": ("tenure_days", "email_opt_in", "is_unsubscribed"),
        "orders": (
            "frequency_30d",
            "frequency_90d",
            "frequency_365d",
            "frequency_lifetime",
            "monetary_30d",
            "monetary_90d",
            "monetary_365d",
            "monetary_lifetime",
            "recency_days",
            "days_since_first_order",
            "avg_order_value",
            "days_between_orders",
            "frequency_prev_90d",
            "monetary_prev_90d",
            "frequency_trend_90d",
            "monetary_trend_90d",
            "returns_365d",
            "cancellations_365d",
            "orders_placed_lifetime",
            "returns_lifetime",
            "return_rate",
            "discounted_orders_lifetime",
            "discount_order_share",
            "category_count",
            "favourite_category",
            "favourite_category_share",
            "rfm_r",
            "rfm_f",
            "rfm_m",
            "rfm_score",
            "rfm_segment",
            "lifecycle_stage",
        ),
        "email_events": (
            *(f"emails_{kind}_{w}" for kind in ("sent", "opened", "clicked") for w in _WINDOWS),
            *(f"{kind}_rate_{w}" for kind in ("open", "click") for w in _WINDOWS),
            "days_since_last_email",
            "days_since_last_open",
            "days_since_last_click",
            "unsubscribes_lifetime",
            "bounces_lifetime",
            "complaints_lifetime",
        ),
        "web_events": (
            *(
                f"{kind}_{w}"
                for kind in (
                    "sessions",
                    "product_views",
                    "cart_sessions",
                    "checkout_sessions",
                    "cart_abandonments",
                )
                for w in _WINDOWS
            ),
            "days_since_last_visit",
        ),
    },
    categorical=("favourite_category", "rfm_score", "rfm_segment", "lifecycle_stage"),
)

FEATURE_SETS = {fs.key: fs for fs in (CUSTOMER_V1,)}

#: What the behavioural clusters read: how much, how often and how recently a
#: customer buys, at what discount, and how they use e-mail and the web. Yearly
#: windows, so that a segment describes a habit rather than last month's noise;
#: a subset of :data:`CUSTOMER_V1`, which the scorer builds.
BEHAVIOUR_V1 = FeatureSet(
    name="behaviour",
    version=1,
    groups={
        "customers": ("tenure_days",),
        "orders": (
            "frequency_365d",
            "monetary_365d",
            "avg_order_value",
            "recency_days",
            "discount_order_share",
            "return_rate",
            "category_count",
        ),
        "email_events": (
            "open_rate_365d",
            "click_rate_365d",
            "days_since_last_open",
        ),
        "web_events": (
            "sessions_365d",
            "product_views_365d",
            "cart_abandonments_365d",
            "days_since_last_visit",
        ),
    },
    built_from=CUSTOMER_V1.key,
)

#: Sets ``upseg train clusters --features`` accepts.
CLUSTER_FEATURE_SETS = {fs.key: fs for fs in (BEHAVIOUR_V1,)}


def get_feature_set(key: str) -> FeatureSet:
    """Look a feature set up by its key, e.g. ``"customer_v1"``."""
    try:
        return FEATURE_SETS[key]
    except KeyError:
        raise KeyError(
            f"Unknown feature set {key!r}; known sets are {sorted(FEATURE_SETS)}."
        ) from None


def get_cluster_feature_set(key: str) -> FeatureSet:
    """Look a clusters' feature set up by its key, e.g. ``"behaviour_v1"``."""
    try:
        return CLUSTER_FEATURE_SETS[key]
    except KeyError:
        raise KeyError(
            f"Unknown clusters feature set {key!r}; known sets are {sorted(CLUSTER_FEATURE_SETS)}."
        ) from None
