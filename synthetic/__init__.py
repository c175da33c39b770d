"""A synthetic customer world with a known truth, and what can be checked against that truth.

- :mod:`upseg.synthetic.world` — :func:`generate_world` simulates customers,
  orders, e-mail and web events and one randomized campaign whose true
  effects it records; :func:`write_world` writes them in the data contract;
- :mod:`upseg.synthetic.effects` — the campaign's true effect structure
  (:class:`EffectSpec`) and :data:`WORLD_FAMILY`, the named worlds from 0.3 to 5 points;
- :mod:`upseg.synthetic.personas` — optional latent customer types (:class:`Persona`,
  :data:`DEFAULT_PERSONAS`) whose traits drive each customer's behaviour;
- :mod:`upseg.synthetic.params` — the world's calendar, campaign and rates;
- :mod:`upseg.synthetic.summary` — a world's effects summed up (:func:`effect_summary`);
- :mod:`upseg.synthetic.simulation` — outcomes of a later campaign drawn from the truth;
- :mod:`upseg.synthetic.truth` — how well an uplift model recovers the
  true effects (imported on first use: it needs the uplift metrics);
- :mod:`upseg.synthetic.value` — each customer's true expected revenue over any
  window (:func:`expected_revenue`) and how well a CLV model ranks by it
  (imported on first use: it needs scipy).

No modelling stage may read the truth; it is there to check what the models recover.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from upseg.synthetic.effects import (
    DEFAULT_EFFECTS,
    DRIVERS,
    WORLD_FAMILY,
    EffectSpec,
    EffectSpecError,
    world_effects,
    world_names,
)
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
from upseg.synthetic.personas import DEFAULT_PERSONAS, Persona
from upseg.synthetic.simulation import simulate_campaign
from upseg.synthetic.summary import effect_summary
from upseg.synthetic.world import World, generate_world, write_world

if TYPE_CHECKING:
    from upseg.synthetic.truth import read_truth, truth_arrays, truth_metrics
    from upseg.synthetic.value import clv_truth_metrics, expected_revenue

__all__ = [
    "CAMPAIGN_ASSIGNED_AT",
    "CAMPAIGN_ID",
    "CAMPAIGN_VARIANTS",
    "COMPLETED_SHARE",
    "DEFAULT_EFFECTS",
    "DEFAULT_END",
    "DEFAULT_PERSONAS",
    "DEFAULT_START",
    "DRIVERS",
    "OUTCOME_WINDOW_DAYS",
    "TRUTH_FILE",
    "WORLD_FAMILY",
    "EffectSpec",
    "EffectSpecError",
    "Persona",
    "World",
    "clv_truth_metrics",
    "effect_summary",
    "expected_revenue",
    "generate_world",
    "read_truth",
    "simulate_campaign",
    "truth_arrays",
    "truth_metrics",
    "world_effects",
    "world_names",
    "write_world",
]

# The truth metrics import the uplift metrics (scikit-learn, scikit-uplift) and
# scipy, which generating a world does not need: they load when first asked for.
_LAZY = {
    "read_truth": "upseg.synthetic.truth",
    "truth_arrays": "upseg.synthetic.truth",
    "truth_metrics": "upseg.synthetic.truth",
    "clv_truth_metrics": "upseg.synthetic.value",
    "expected_revenue": "upseg.synthetic.value",
}


def __getattr__(name: str) -> Any:
    """Import the truth metrics on first use."""
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'upseg.synthetic' has no attribute {name!r}")
