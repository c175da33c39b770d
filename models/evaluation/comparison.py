"""The promotion gate's comparison of a challenger with the champion on one metric."""

from __future__ import annotations

import math
from numbers import Real

__all__ = ["METRIC_DIRECTIONS", "is_better"]

METRIC_DIRECTIONS: dict[str, bool] = {
    "roc_auc": True,
    "pr_auc": True,
    "log_loss": False,
    "brier": False,
    "lift_10": True,
    "capture_10": True,
    "lift_20": True,
    "capture_20": True,
}
"""Whether greater is better for each metric of :func:`classification_metrics` a gate may use.

``positive_rate`` and ``n`` describe the data, not the model, so they are not here.
"""


def is_better(
    metric: str,
    challenger: float,
    champion: float,
    margin: float = 0.0,
    *,
    greater_is_better: bool | None = None,
) -> bool:
    """Whether the challenger beats the champion on ``metric`` by at least ``margin``.

    The challenger must be strictly better in the metric's direction (see
    :data:`METRIC_DIRECTIONS`), so a tie never promotes it, and the improvement
    must be at least ``margin`` (up to floating-point rounding).

    Parameters
    ----------
    metric : str
        A key of :data:`METRIC_DIRECTIONS`, or any name when ``greater_is_better`` is given.
    challenger, champion : float
        The metric's value for each model, on the same evaluation rows.
    margin : float, default=0.0
        Minimum improvement, in the metric's units (e.g. 0.005 AUC, or 0.002 log-loss).
    greater_is_better : bool, optional
        The metric's direction, for a metric outside :data:`METRIC_DIRECTIONS`
        (e.g. an uplift model's Qini); by default looked up there.

    Returns
    -------
    bool

    Raises
    ------
    ValueError
        If ``metric`` is unknown, a value is not a finite number, or ``margin`` is negative.
    """
    if greater_is_better is None and metric not in METRIC_DIRECTIONS:
        raise ValueError(
            f"The 'metric' argument of is_better must be one of {sorted(METRIC_DIRECTIONS)}; "
            f"got {metric!r} instead."
        )
    errors = [
        f"'{name}' must be a finite number; got {value!r}"
        for name, value in (("challenger", challenger), ("champion", champion), ("margin", margin))
        if not (isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value))
    ]
    if not errors and margin < 0:
        errors.append(f"'margin' must be >= 0; got {margin!r}")
    if errors:
        raise ValueError(f"{len(errors)} error(s) in is_better arguments: " + "; ".join(errors))
    if greater_is_better is None:
        greater_is_better = METRIC_DIRECTIONS[metric]
    improvement = challenger - champion if greater_is_better else champion - challenger
    enough = improvement >= margin or math.isclose(improvement, margin, abs_tol=1e-12)
    return bool(improvement > 0 and enough)
