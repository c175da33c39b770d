"""Trigger segments: the behaviour that should start an e-mail, found in every window once.

* :mod:`~upseg.serving.triggers.rules` — the rules as validated YAML
  (``serving/default_triggers.yaml`` is the shipped set);
* :mod:`~upseg.serving.triggers.candidates` — each rule's starts, waits,
  cancels and conditions, vectorised;
* :mod:`~upseg.serving.triggers.engine` — windows, exactly once, late
  firings, cooldown, priority and consent;
* :mod:`~upseg.serving.triggers.consent` — the scorer's consent rules at the
  instant of each firing.

``upseg triggers`` (``pipelines/triggers_job.py``) wires them to a data
source and to the firings files of earlier windows; ``docs/triggers.md``
is the guide.
"""

from upseg.serving.triggers.candidates import TriggerData, candidate_firings
from upseg.serving.triggers.consent import consent_reasons
from upseg.serving.triggers.engine import (
    ACTIONS,
    FIRING_COLUMNS,
    IDENTITY,
    TriggerResult,
    empty_firings,
    find_firings,
)
from upseg.serving.triggers.rules import (
    DEFAULT_RULES_PATH,
    TriggerRule,
    TriggerRules,
    TriggerRulesError,
    load_rules,
    parse_rules,
)

__all__ = [
    "ACTIONS",
    "DEFAULT_RULES_PATH",
    "FIRING_COLUMNS",
    "IDENTITY",
    "TriggerData",
    "TriggerResult",
    "TriggerRule",
    "TriggerRules",
    "TriggerRulesError",
    "candidate_firings",
    "consent_reasons",
    "empty_firings",
    "find_firings",
    "load_rules",
    "parse_rules",
]
