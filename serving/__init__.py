"""The batch scorer: champions from the registry → scores, reasons → policy → audience."""

from typing import TYPE_CHECKING

from upseg._lazy import lazy_exports

if TYPE_CHECKING:
    from upseg.serving.policy import (
        Policy,
        PolicyError,
        assign_segments,
        load_policy,
        parse_policy,
        policy_digest,
        share_cut,
        value_cuts,
    )

# Each name imports its submodule on first access (PEP 562), so importing one
# submodule of this package does not import the others.
_EXPORTS = {
    "Policy": "policy",
    "PolicyError": "policy",
    "assign_segments": "policy",
    "load_policy": "policy",
    "parse_policy": "policy",
    "policy_digest": "policy",
    "share_cut": "policy",
    "value_cuts": "policy",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "Policy",
    "PolicyError",
    "assign_segments",
    "load_policy",
    "parse_policy",
    "policy_digest",
    "share_cut",
    "value_cuts",
]
