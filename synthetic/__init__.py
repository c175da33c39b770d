"""A synthetic customer world with a known truth, and what can be checked against that truth.

- :mod:`upseg.synthetic.world` — :func:`generate_world` simulates customers,
  orders, e-mail and web events and one randomized campaign whose true
  effects it records; :func:`write_world` writes them in the data contract;
- :mod:`upseg.synthetic.params` — the world's calendar, campaign and rates;
- :mod:`upseg.synthetic.simulation` — outcomes of a later campaign drawn from the truth.

No modelling stage may read the truth; it is there to check what the models recover.
"""

from __future__ import annotations

from upseg.synthetic.params import (
    CAMPAIGN_ASSIGNED_AT,
    CAMPAIGN_ID,
    CAMPAIGN_VARIANTS,
    COMPLETED_SHARE,
    DEFAULT_END,
    DEFAULT_START,
    OUTCOME_WINDOW_DAYS,
    TRUTH_FILE,
)
from upseg.synthetic.simulation import simulate_campaign
from upseg.synthetic.world import World, generate_world, write_world

__all__ = [
    "CAMPAIGN_ASSIGNED_AT",
    "CAMPAIGN_ID",
    "CAMPAIGN_VARIANTS",
    "COMPLETED_SHARE",
    "DEFAULT_END",
    "DEFAULT_START",
    "OUTCOME_WINDOW_DAYS",
    "TRUTH_FILE",
    "World",
    "generate_world",
    "simulate_campaign",
    "write_world",
]
