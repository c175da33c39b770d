"""Parameters of the synthetic world: its calendar, campaign, closed value sets and rates.

The public names (``CAMPAIGN_ID``, ``DEFAULT_START``...) describe the world
to its users; the others are the generator's tuning, kept in one place so that
each module of :mod:`upseg.synthetic` reads the same values.
"""

from __future__ import annotations

from upseg.features.labels import OUTCOME_WINDOW_DAYS

__all__ = [
    "ACTIVE_LIFT",
    "AMOUNT_SIGMA",
    "AOV_MEAN",
    "AOV_SIGMA",
    "BAD_ADDRESS_P",
    "CAMPAIGN_ASSIGNED_AT",
    "CAMPAIGN_ID",
    "CAMPAIGN_VARIANTS",
    "CATEGORIES",
    "CHANNELS",
    "CHURNED_OPEN_FACTOR",
    "COMPLAINT_P",
    "COMPLETED_SHARE",
    "COUNTRIES",
    "DAY_US",
    "DEFAULT_END",
    "DEFAULT_START",
    "DISCOUNT_RATES",
    "DISCOUNT_USE",
    "DORMANT_WEB",
    "EMAIL_TYPES",
    "FORMATS",
    "GENDERS",
    "LAPSING_DAYS",
    "LIFETIME_YEARS",
    "LOW_ENGAGEMENT",
    "MANY_MAILS",
    "MINUTE",
    "NEW_DAYS",
    "OUTCOME_WINDOW_DAYS",
    "RATE_MEAN",
    "RATE_SHAPE",
    "SEGMENTS",
    "SEND_P",
    "SLEEPING_DOG_LOSS",
    "SLEEPING_DOG_UNSUB_P",
    "SOFT_BOUNCE_P",
    "STAGES",
    "STATUSES",
    "SURE_THING_RATE",
    "TIERS",
    "TIER_THRESHOLDS",
    "TRUTH_FILE",
    "UNSUB_P",
    "WEB_SESSIONS_PER_YEAR",
    "WEB_TYPES",
    "WINBACK_LIFT",
    "YEAR",
]

DEFAULT_START = "2023-07-01"
DEFAULT_END = "2026-07-01"
CAMPAIGN_ID = "C2026-06-SUMMER"
CAMPAIGN_VARIANTS = ("control", "discount_10", "new_arrivals")
CAMPAIGN_ASSIGNED_AT = "2026-06-01"
#: File name of the truth that ``write_world`` writes beside the contract tables.
TRUTH_FILE = "truth.parquet"

# (values, probabilities) of customer attributes and order statuses
COUNTRIES = (("US", "GB", "DE", "FR", "ES"), (0.4, 0.2, 0.15, 0.15, 0.1))
GENDERS = (("F", "M", "U"), (0.5, 0.42, 0.08))
CHANNELS = (("organic", "paid_search", "social", "referral", "email"), (0.35, 0.25, 0.2, 0.1, 0.1))
STATUSES = (("completed", "cancelled", "returned"), (0.92, 0.04, 0.04))
TIERS = ("bronze", "silver", "gold")
CATEGORIES = ("apparel", "shoes", "beauty", "home", "electronics", "sports")
EMAIL_TYPES = ("sent", "delivered", "opened", "clicked", "bounced", "unsubscribed", "complained")
WEB_TYPES = ("page_view", "product_view", "add_to_cart", "checkout_started", "search")
STAGES = ("new", "active", "lapsing", "churned")
SEGMENTS = ("persuadable", "sure_thing", "lost_cause", "sleeping_dog")
FORMATS = ("parquet", "csv")

YEAR, DAY_US, MINUTE = 365.25, 86_400_000_000, 1 / 1440
RATE_SHAPE, RATE_MEAN = 1.2, 4.0  # orders per year ~ Gamma
LIFETIME_YEARS = 1.5  # mean time to dropout at the mean rate; slower buyers drop out sooner
AOV_MEAN, AOV_SIGMA, AMOUNT_SIGMA = 60.0, 0.5, 0.35
DISCOUNT_USE, DISCOUNT_RATES = 0.6, (0.1, 0.15, 0.2)  # P(discount) = use * affinity
TIER_THRESHOLDS = (200.0, 600.0)  # noisy expected yearly spend: ~60% bronze, ~10% gold
WEB_SESSIONS_PER_YEAR, DORMANT_WEB = 3.5, 0.1  # after dropout a customer visits 10x less
SEND_P, SOFT_BOUNCE_P, BAD_ADDRESS_P = 0.7, 0.015, 0.01
UNSUB_P, COMPLAINT_P, CHURNED_OPEN_FACTOR = 0.003, 0.0005, 0.3
NEW_DAYS, LAPSING_DAYS = 60.0, 180.0  # stage boundaries after signup and after dropout
SURE_THING_RATE, LOW_ENGAGEMENT, MANY_MAILS = 12.0, 0.15, 10
WINBACK_LIFT, ACTIVE_LIFT = 0.10, 0.06  # persuadable lift at an open probability of 0.25
SLEEPING_DOG_LOSS = (0.6, 0.8)  # share of p0 lost, per treatment variant
SLEEPING_DOG_UNSUB_P = 0.05

#: Share of orders that complete (the rest are cancelled or returned).
COMPLETED_SHARE = STATUSES[1][0]
