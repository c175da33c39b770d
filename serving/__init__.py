"""The batch scorer: champions from the registry → scores, reasons → policy → audience."""

from upseg.serving.policy import (
    Policy,
    PolicyError,
    assign_segments,
    load_policy,
    parse_policy,
    policy_digest,
    vip_cut,
)

__all__ = [
    "Policy",
    "PolicyError",
    "assign_segments",
    "load_policy",
    "parse_policy",
    "policy_digest",
    "vip_cut",
]
