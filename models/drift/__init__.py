"""Population stability of features and scores between training and a scoring run.

:mod:`.psi` measures it (the population stability index against a training
reference); :mod:`.checks` holds a model's training reference and the checks
the scoring and retraining jobs run with it.
"""

from upseg.models.drift.checks import (
    DRIFT_SAMPLE,
    DriftError,
    features_drift,
    scoring_drift,
    training_reference,
)
from upseg.models.drift.psi import (
    PSI_EPSILON,
    PSI_FAIL,
    PSI_WARN,
    REPORT_COLUMNS,
    drift_report,
    psi,
    reference_distribution,
    reference_distributions,
)

__all__ = [
    "DRIFT_SAMPLE",
    "PSI_EPSILON",
    "PSI_FAIL",
    "PSI_WARN",
    "REPORT_COLUMNS",
    "DriftError",
    "drift_report",
    "features_drift",
    "psi",
    "reference_distribution",
    "reference_distributions",
    "scoring_drift",
    "training_reference",
]
