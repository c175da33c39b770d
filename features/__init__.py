"""Customer data in, point-in-time features out.

The data contract (:mod:`features.contract`), its validation
(:mod:`features.validation`), feature definitions that run on any Ibis engine
(:mod:`features.build`), labels kept apart from them (:mod:`features.labels`) and
one campaign's outcomes and features as of its assignment (:mod:`features.campaigns`).
The synthetic world that fills the contract is :mod:`upseg.synthetic`.
"""

from typing import TYPE_CHECKING

from upseg._lazy import lazy_exports

if TYPE_CHECKING:
    from upseg.features.build import build_features
    from upseg.features.campaigns import Campaign, CampaignError, campaign_frame
    from upseg.features.contract import CONTRACT
    from upseg.features.labels import campaign_outcomes, churn_labels, purchase_labels
    from upseg.features.pit import campaign_spine, customer_spine
    from upseg.features.sets import CUSTOMER_V1, FeatureSet, get_feature_set
    from upseg.features.sources import connect, find_table_files
    from upseg.features.validation import DataValidationError, ValidationResult, validate_source

# Each name imports its submodule on first access (PEP 562), so importing one
# submodule of this package does not import the others.
_EXPORTS = {
    "build_features": "build",
    "Campaign": "campaigns",
    "CampaignError": "campaigns",
    "campaign_frame": "campaigns",
    "CONTRACT": "contract",
    "campaign_outcomes": "labels",
    "churn_labels": "labels",
    "purchase_labels": "labels",
    "campaign_spine": "pit",
    "customer_spine": "pit",
    "CUSTOMER_V1": "sets",
    "FeatureSet": "sets",
    "get_feature_set": "sets",
    "connect": "sources",
    "find_table_files": "sources",
    "DataValidationError": "validation",
    "ValidationResult": "validation",
    "validate_source": "validation",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "CONTRACT",
    "CUSTOMER_V1",
    "Campaign",
    "CampaignError",
    "DataValidationError",
    "FeatureSet",
    "ValidationResult",
    "build_features",
    "campaign_frame",
    "campaign_outcomes",
    "campaign_spine",
    "churn_labels",
    "connect",
    "customer_spine",
    "find_table_files",
    "get_feature_set",
    "purchase_labels",
    "validate_source",
]
