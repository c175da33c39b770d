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

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

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

_STRATEGIES = ("quantile", "uniform")
# Keeps log-loss finite when a calibrated model says exactly 0 or 1.
_PROBABILITY_CLIP = 1e-15


def _as_float(array: np.ndarray, name: str) -> tuple[np.ndarray | None, list[str]]:
    """``array`` as finite float64, or None and why it cannot be."""
    if array.dtype.kind not in "biufO":
        return None, [f"'{name}' must be numeric or bool; got dtype {array.dtype}"]
    missing = pd.isna(array)
    if missing.any():
        return None, [f"'{name}' must not contain missing values; got {int(missing.sum())}"]
    try:
        values = array.astype(np.float64)
    except (TypeError, ValueError):
        return None, [f"'{name}' must be numeric or bool; got dtype {array.dtype}"]
    if np.isinf(values).any():
        return None, [f"'{name}' must be finite; got {int(np.isinf(values).sum())} infinite"]
    return values, []


def _label_problems(y: np.ndarray, *, both_classes: bool) -> list[str]:
    """What is wrong with float ``y`` as binary labels (empty if nothing)."""
    values = np.unique(y)
    if not set(values.tolist()) <= {0.0, 1.0}:
        shown = ", ".join(f"{v:g}" for v in values[:5]) + (", ..." if len(values) > 5 else "")
        return [f"'y_true' must contain only 0/1 or False/True; got values {shown}"]
    if both_classes and len(values) < 2:
        return [
            "'y_true' must contain both classes 0 and 1; "
            f"got only class {int(values[0])} (n={len(y)})"
        ]
    return []


def _probability_problems(p: np.ndarray, name: str) -> list[str]:
    """Why float ``p`` is not a vector of probabilities (empty if it is)."""
    if p.size and (p.min() < 0 or p.max() > 1):
        return [
            f"'{name}' must be probabilities in [0, 1]; got values in [{p.min():g}, {p.max():g}]"
        ]
    return []


def _validated(
    function: str,
    y_true: ArrayLike,
    score: ArrayLike,
    *,
    score_name: str = "score",
    probability: bool = False,
    both_classes: bool = True,
    extra: Sequence[str] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """``y_true`` as int8 and ``score`` as float64, or one ValueError listing every problem."""
    y = np.asarray(y_true)
    s = np.asarray(score)
    errors = list(extra) + [
        f"'{name}' must be 1-D of shape (n_samples,); got shape {array.shape}"
        for name, array in (("y_true", y), (score_name, s))
        if array.ndim != 1
    ]
    if len(y) != len(s) and y.ndim == s.ndim == 1:
        errors.append(
            f"'y_true' and '{score_name}' must have the same length; got {len(y)} and {len(s)}"
        )
    if y.ndim == s.ndim == 1 and len(y) == 0:
        errors.append(f"'y_true' and '{score_name}' must not be empty; got 0 rows")
    if y.ndim != 1 or s.ndim != 1 or len(y) == 0:
        raise ValueError(f"{len(errors)} error(s) in {function} arguments: " + "; ".join(errors))
    y_float, y_errors = _as_float(y, "y_true")
    s_float, s_errors = _as_float(s, score_name)
    errors += y_errors + s_errors
    if y_float is not None:
        errors += _label_problems(y_float, both_classes=both_classes)
    if s_float is not None and probability:
        errors += _probability_problems(s_float, score_name)
    if errors:
        raise ValueError(f"{len(errors)} error(s) in {function} arguments: " + "; ".join(errors))
    return y_float.astype(np.int8), s_float


def _fraction_problems(fraction: object) -> list[str]:
    """Why ``fraction`` is not a share of customers in (0, 1] (empty if it is)."""
    ok = isinstance(fraction, Real) and not isinstance(fraction, bool) and 0 < float(fraction) <= 1
    return [] if ok else [f"'fraction' must be a number in (0, 1]; got {fraction!r}"]


def _bins_problems(n_bins: object) -> list[str]:
    """Why ``n_bins`` is not a positive integer (empty if it is)."""
    ok = isinstance(n_bins, int | np.integer) and not isinstance(n_bins, bool) and n_bins >= 1
    return [] if ok else [f"'n_bins' must be an integer >= 1; got {n_bins!r}"]


def _n_targeted(fraction: float, n: int) -> int:
    """``ceil(fraction * n)``, rounded first so that 0.3 * 10 targets 3 customers, not 4."""
    return max(1, math.ceil(round(fraction * n, 9)))


def _ranking(score: np.ndarray) -> np.ndarray:
    """Row indices from highest to lowest score; ties keep their input order."""
    return np.argsort(-score, kind="stable")


def _positives_in_top(y: np.ndarray, score: np.ndarray, fraction: float) -> int:
    """Positives among the top ``ceil(fraction * n)`` rows by score."""
    top = _ranking(score)[: _n_targeted(fraction, len(y))]
    return int(y[top].sum())


def lift_at(y_true: ArrayLike, score: ArrayLike, fraction: float) -> float:
    """Positive rate among the top ``fraction`` of customers by score, over the overall rate.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome (0/1 or bool); both classes must be present.
    score : array-like of shape (n_samples,)
        Higher means more likely positive. Ties are broken by row order (stable sort).
    fraction : float in (0, 1]
        Share of customers targeted; the top ``ceil(fraction * n_samples)`` are taken.

    Returns
    -------
    float
        1 is no better than random; the maximum is ``min(1 / positive_rate, n / k)``.

    Raises
    ------
    ValueError
        Listing every problem with the arguments (shapes, labels, scores, fraction).
    """
    y, s = _validated("lift_at", y_true, score, extra=_fraction_problems(fraction))
    k = _n_targeted(fraction, len(y))
    return (_positives_in_top(y, s, fraction) / k) / y.mean()


def capture_rate_at(y_true: ArrayLike, score: ArrayLike, fraction: float) -> float:
    """Share of all positives found in the top ``fraction`` of customers by score.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome (0/1 or bool); both classes must be present.
    score : array-like of shape (n_samples,)
        Higher means more likely positive. Ties are broken by row order (stable sort).
    fraction : float in (0, 1]
        Share of customers targeted; the top ``ceil(fraction * n_samples)`` are taken.

    Returns
    -------
    float
        In [0, 1]; a random ranking captures about ``fraction``.

    Raises
    ------
    ValueError
        Listing every problem with the arguments (shapes, labels, scores, fraction).
    """
    y, s = _validated("capture_rate_at", y_true, score, extra=_fraction_problems(fraction))
    return _positives_in_top(y, s, fraction) / y.sum()


def classification_metrics(y_true: ArrayLike, probability: ArrayLike) -> dict[str, float]:
    """The metrics logged for a binary classifier and compared by the promotion gate.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome (0/1 or bool); both classes must be present.
    probability : array-like of shape (n_samples,)
        Predicted probability of the positive class, in [0, 1].

    Returns
    -------
    dict of str to float
        ``roc_auc``, ``pr_auc`` (average precision), ``log_loss`` (probabilities
        clipped to ``[1e-15, 1 - 1e-15]``), ``brier``, ``lift_10``, ``capture_10``,
        ``lift_20``, ``capture_20`` (see :func:`lift_at`), ``positive_rate`` and
        ``n`` (as a float, so every value can be logged as a metric).

    Raises
    ------
    ValueError
        Listing every problem with the arguments.
    """
    y, p = _validated(
        "classification_metrics", y_true, probability, score_name="probability", probability=True
    )
    clipped = np.clip(p, _PROBABILITY_CLIP, 1 - _PROBABILITY_CLIP)
    metrics = {
        "roc_auc": roc_auc_score(y, p),
        "pr_auc": average_precision_score(y, p),
        "log_loss": log_loss(y, clipped, labels=[0, 1]),
        "brier": brier_score_loss(y, p),
    }
    for percent in (10, 20):
        metrics[f"lift_{percent}"] = lift_at(y, p, percent / 100)
        metrics[f"capture_{percent}"] = capture_rate_at(y, p, percent / 100)
    metrics["positive_rate"] = y.mean()
    metrics["n"] = len(y)
    return {name: float(value) for name, value in metrics.items()}


def reliability_table(
    y_true: ArrayLike,
    probability: ArrayLike,
    n_bins: int = 10,
    strategy: str = "quantile",
) -> pd.DataFrame:
    """Observed positive rate against mean predicted probability, per probability bin.

    Bins are those of :func:`sklearn.calibration.calibration_curve`, whose two
    arrays are the ``observed_rate`` and ``mean_predicted`` columns here.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome (0/1 or bool); one class alone is allowed.
    probability : array-like of shape (n_samples,)
        Predicted probability of the positive class, in [0, 1].
    n_bins : int, default=10
        Number of bins.
    strategy : {"quantile", "uniform"}, default="quantile"
        ``"quantile"``: bins hold about the same number of customers;
        ``"uniform"``: bins have equal width on [0, 1].

    Returns
    -------
    pandas.DataFrame
        One row per non-empty bin, lowest probabilities first: ``bin`` (0-based
        index among the ``n_bins``; empty bins are left out, so it may skip),
        ``n``, ``mean_predicted`` and ``observed_rate``.

    Raises
    ------
    ValueError
        Listing every problem with the arguments.

    References
    ----------
    .. [1] Niculescu-Mizil, A. and Caruana, R. "Predicting good probabilities with
       supervised learning", ICML 2005.
    """
    extra = _bins_problems(n_bins)
    if strategy not in _STRATEGIES:
        extra.append(f"'strategy' must be one of {_STRATEGIES}; got {strategy!r}")
    y, p = _validated(
        "reliability_table",
        y_true,
        probability,
        score_name="probability",
        probability=True,
        both_classes=False,
        extra=extra,
    )
    if strategy == "quantile":
        edges = np.percentile(p, np.linspace(0, 100, n_bins + 1))
    else:
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Same assignment as calibration_curve: the inner edges, searched from the left.
    bin_of = np.searchsorted(edges[1:-1], p)
    n = np.bincount(bin_of, minlength=n_bins)
    predicted = np.bincount(bin_of, weights=p, minlength=n_bins)
    positives = np.bincount(bin_of, weights=y, minlength=n_bins)
    kept = n > 0
    return pd.DataFrame(
        {
            "bin": np.flatnonzero(kept),
            "n": n[kept],
            "mean_predicted": predicted[kept] / n[kept],
            "observed_rate": positives[kept] / n[kept],
        }
    )


def gains_table(y_true: ArrayLike, score: ArrayLike, n_bins: int = 10) -> pd.DataFrame:
    """Positives, rate, lift and cumulative capture per score bin, highest scores first.

    Bin ``i`` (1-based) holds ranks ``ceil((i - 1) * n / n_bins)`` up to
    ``ceil(i * n / n_bins)``, so ``cumulative_capture`` of bin ``i`` equals
    ``capture_rate_at(y_true, score, i / n_bins)``. Ties are broken by row order.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome (0/1 or bool); both classes must be present.
    score : array-like of shape (n_samples,)
        Higher means more likely positive.
    n_bins : int, default=10
        Number of bins (10 gives deciles); at most ``n_samples``.

    Returns
    -------
    pandas.DataFrame
        ``n_bins`` rows: ``bin`` (1 = top scores), ``n``, ``positives``, ``rate``
        (positive rate in the bin), ``lift`` (rate over the overall positive
        rate) and ``cumulative_capture`` (share of all positives in this and
        higher bins).

    Raises
    ------
    ValueError
        Listing every problem with the arguments.
    """
    y, s = _validated("gains_table", y_true, score, extra=_bins_problems(n_bins))
    if n_bins > len(y):
        raise ValueError(
            f"The 'n_bins' argument of gains_table must be at most the number of samples "
            f"({len(y)}) so that no bin is empty; got {n_bins}."
        )
    ranked = y[_ranking(s)]
    bounds = [_n_targeted(i / n_bins, len(y)) for i in range(1, n_bins + 1)]
    groups = np.split(ranked, bounds[:-1])
    n = np.array([len(g) for g in groups])
    positives = np.array([int(g.sum()) for g in groups])
    rate = positives / n
    return pd.DataFrame(
        {
            "bin": np.arange(1, n_bins + 1),
            "n": n,
            "positives": positives,
            "rate": rate,
            "lift": rate / y.mean(),
            "cumulative_capture": np.cumsum(positives) / y.sum(),
        }
    )


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


def shap_importance(contributions: ArrayLike, feature_names: Sequence[str]) -> pd.DataFrame:
    """Global feature importance: the mean absolute SHAP value of each feature.

    Parameters
    ----------
    contributions : array-like of shape (n_samples, n_features)
        SHAP values, one column per feature (without LightGBM's trailing
        expected-value column).
    feature_names : sequence of str of length n_features
        Column names of ``contributions``.

    Returns
    -------
    pandas.DataFrame
        ``feature`` and ``mean_abs_shap``, most important first (ties keep the
        order of ``feature_names``).

    Raises
    ------
    ValueError
        If ``contributions`` is not 2-D or its columns do not match ``feature_names``.
    """
    values = np.asarray(contributions, dtype=float)
    names = list(feature_names)
    if values.ndim != 2:
        raise ValueError(
            "The 'contributions' argument of shap_importance must be 2-D of shape "
            f"(n_samples, n_features); got shape {values.shape}."
        )
    if values.shape[1] != len(names):
        hint = (
            " LightGBM's pred_contrib output ends with an expected-value column; "
            "pass contributions[:, :-1]."
            if values.shape[1] == len(names) + 1
            else ""
        )
        raise ValueError(
            f"'contributions' has {values.shape[1]} columns but 'feature_names' has "
            f"{len(names)} names; they must match.{hint}"
        )
    importance = pd.DataFrame({"feature": names, "mean_abs_shap": np.abs(values).mean(axis=0)})
    return importance.sort_values("mean_abs_shap", ascending=False, kind="stable").reset_index(
        drop=True
    )
