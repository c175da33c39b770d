"""Ranking metrics of a binary classifier: lift and capture at k, and the logged metrics."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from upseg.models.evaluation._checks import (
    _fraction_problems,
    _n_targeted,
    _positives_in_top,
    _validated,
)

__all__ = ["capture_rate_at", "classification_metrics", "lift_at"]

# Keeps log-loss finite when a calibrated model says exactly 0 or 1.
_PROBABILITY_CLIP = 1e-15


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
