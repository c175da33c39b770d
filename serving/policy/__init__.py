"""Campaign policies: priority segments and actions from a declarative YAML file.

The package is split by what it holds: :mod:`.schema` (the constants, the
frozen dataclasses, :class:`PolicyError` and the allowed ranges of the holdout
and budget), :mod:`.loading` (reading and validating a file), :mod:`.rules`
(reading custom rules) and :mod:`.engine` (segments, the value cuts, the digest).
Every public name is importable from ``upseg.serving.policy``. The schema is
documented in ``docs/policy.md``.
"""

from upseg.serving.policy.engine import assign_segments, policy_digest, share_cut, value_cuts
from upseg.serving.policy.loading import DEFAULT_POLICY_PATH, load_policy, parse_policy
from upseg.serving.policy.schema import (
    ACTIONS,
    CHURN_RISKS,
    COST_PER_SEND,
    DERIVED_COLUMNS,
    HOLDOUT_SHARE,
    MAX_SENDS_MIN,
    OPERATORS,
    OUTPUT_COLUMNS,
    QUADRANTS,
    RULE_ACTIONS,
    SCORE_COLUMNS,
    VALUE_TIERS,
    Actions,
    Budget,
    CampaignLimits,
    ChurnRiskThresholds,
    Condition,
    FrequencyCap,
    Holdout,
    NumberRange,
    Policy,
    PolicyError,
    Rule,
    Suppression,
    UpliftThresholds,
    ValueTier,
    builtin_segment_name,
    campaign_limits,
    override_problems,
)

__all__ = [
    "ACTIONS",
    "CHURN_RISKS",
    "COST_PER_SEND",
    "DEFAULT_POLICY_PATH",
    "DERIVED_COLUMNS",
    "HOLDOUT_SHARE",
    "MAX_SENDS_MIN",
    "OPERATORS",
    "OUTPUT_COLUMNS",
    "QUADRANTS",
    "RULE_ACTIONS",
    "SCORE_COLUMNS",
    "VALUE_TIERS",
    "Actions",
    "Budget",
    "CampaignLimits",
    "ChurnRiskThresholds",
    "Condition",
    "FrequencyCap",
    "Holdout",
    "NumberRange",
    "Policy",
    "PolicyError",
    "Rule",
    "Suppression",
    "UpliftThresholds",
    "ValueTier",
    "assign_segments",
    "builtin_segment_name",
    "campaign_limits",
    "load_policy",
    "override_problems",
    "parse_policy",
    "policy_digest",
    "share_cut",
    "value_cuts",
]
