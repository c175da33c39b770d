"""The causal lift of every arm, overall and per segment, as one tidy table.

:func:`analyze` turns an :class:`~experiments.data.Experiment` into the
results payload that ``results.json`` holds and the report renders:

- ``results``: one row per metric × segmentation × segment × arm × method
  (:data:`RESULT_COLUMNS`). Binary outcomes get a z-test row; continuous ones a
  Welch row and a bootstrap row; outcomes with a pre-period covariate also a
  CUPED row. P-values are adjusted within each family of one metric, method and
  segmentation (its segments × arms), by Benjamini–Hochberg unless Holm or none
  is asked for.
- ``srm``: the sample-ratio test of the arm counts, overall and per segment.
- ``skipped``: comparisons with too few customers, with the reason: shown, not dropped.
- ``power``, ``cuped``, ``roi``: the minimum detectable effect, the variance
  CUPED removed, and the return on the e-mails' cost.
- ``targeting``: when an audience file is attached (:mod:`experiments.targeting`).

Customers are never lost: ``counts`` reconciles customers = per arm + without
an arm, and missing outcome values are counted per metric and arm.
"""

from upseg.experiments.analysis.lift import adjusted, comparison_rows, results_frame
from upseg.experiments.analysis.run import analyze
from upseg.experiments.analysis.segments import segment_labels
from upseg.experiments.analysis.settings import (
    MISSING_SEGMENT,
    RESULT_COLUMNS,
    AnalysisError,
    AnalysisSettings,
)

__all__ = [
    "MISSING_SEGMENT",
    "RESULT_COLUMNS",
    "AnalysisError",
    "AnalysisSettings",
    "adjusted",
    "analyze",
    "comparison_rows",
    "results_frame",
    "segment_labels",
]
