"""Evaluation of binary classifiers: ranking, calibration and the promotion-gate comparison.

Pure functions on numpy arrays; no plotting and no I/O (figures live in
:mod:`models.plots`). ``y_true`` is binary (0/1 or bool) and ``score`` /
``probability`` is higher-means-more-likely-positive, so a churn model and a
purchase-propensity model are evaluated the same way, and a recency-only
baseline can be scored on the same rows in the same run.

Ties in ``score`` are broken by row order: customers are ranked with a stable
sort on ``-score``, so among equal scores the one that comes first in the input
is targeted first. Results are deterministic for a given input order, but a
baseline with many ties (e.g. recency in whole days) can rank differently if
the rows are reordered.
"""

from upseg.models.evaluation.comparison import METRIC_DIRECTIONS, is_better
from upseg.models.evaluation.ranking import capture_rate_at, classification_metrics, lift_at
from upseg.models.evaluation.tables import gains_table, reliability_table, shap_importance

__all__ = [
    "METRIC_DIRECTIONS",
    "capture_rate_at",
    "classification_metrics",
    "gains_table",
    "is_better",
    "lift_at",
    "reliability_table",
    "shap_importance",
]
