"""Evaluation of uplift models: does ranking on the predicted uplift find who the e-mail changes?

Pure functions on numpy arrays; no plotting and no I/O (figures live in
:mod:`models.uplift.plots`). Every function takes ``y_true`` (the outcome: 0/1
conversion, or a continuous amount such as revenue), ``uplift`` (the predicted
effect of treatment, higher means target first) and ``treatment`` (1 treated,
0 control), from a randomised experiment held out from training.

Two scales
----------
For a 0/1 outcome, :func:`qini_auc` and :func:`auuc` are scikit-uplift's
normalised coefficients: ``(model - random) / (perfect - random)``, where the
areas are under the curves of :func:`qini_curve` / :func:`uplift_curve`, 1 is
the best ranking possible on the observed outcomes and 0 is random targeting.
scikit-uplift defines "perfect" only for binary outcomes, so for any other
outcome (and for a binary one with ``normalize=False``) they return the area
between the model's curve and the random-targeting line divided by the number
of customers, in the outcome's units. The two scales cannot be compared;
:func:`uplift_metrics` says which one it used in ``qini_normalized``.

Ties in ``uplift`` follow scikit-uplift: customers are ranked by
``np.argsort(uplift, kind="mergesort")[::-1]``, so among equal scores the later
row comes first. The curves are only evaluated after a whole group of ties, so
their areas do not depend on the row order; :func:`uplift_at` and
:func:`uplift_by_decile` cut through ties and do.

The functions live in modules by what they hold: :mod:`.curves` (Qini and
uplift curves, their areas), :mod:`.at_k` (uplift among the top customers),
:mod:`.bootstrap` (the Qini interval), :mod:`.summary` (the logged metrics and
scores against a known truth) and :mod:`.variants` (several variants against
one control); every public name is importable from here.
"""

from upseg.models.uplift.metrics._checks import is_binary
from upseg.models.uplift.metrics.at_k import uplift_at, uplift_by_decile
from upseg.models.uplift.metrics.bootstrap import BootstrapInterval, qini_auc_ci
from upseg.models.uplift.metrics.curves import auuc, qini_auc, qini_curve, uplift_curve
from upseg.models.uplift.metrics.summary import oracle_qini_share, spearman, uplift_metrics
from upseg.models.uplift.metrics.variants import VariantMetrics, best_variant_metrics

__all__ = [
    "BootstrapInterval",
    "VariantMetrics",
    "auuc",
    "best_variant_metrics",
    "is_binary",
    "oracle_qini_share",
    "qini_auc",
    "qini_auc_ci",
    "qini_curve",
    "spearman",
    "uplift_at",
    "uplift_by_decile",
    "uplift_curve",
    "uplift_metrics",
]
