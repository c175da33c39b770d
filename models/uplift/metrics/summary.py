"""What is logged for an uplift model, and how its ranking compares with a known true effect."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import spearmanr

from upseg.models.uplift.metrics._checks import _fail, _normalize_problems, _validated
from upseg.models.uplift.metrics.at_k import uplift_at
from upseg.models.uplift.metrics.bootstrap import qini_auc_ci
from upseg.models.uplift.metrics.curves import auuc, qini_auc

__all__ = ["oracle_qini_share", "spearman", "uplift_metrics"]


def uplift_metrics(
    y_true: ArrayLike,
    uplift: ArrayLike,
    treatment: ArrayLike,
    *,
    normalize: bool | None = None,
    n_boot: int = 200,
    random_state: int | np.random.Generator | None = 0,
) -> dict[str, float]:
    """The metrics logged for an uplift model on held-out experiment data.

    A model whose bootstrap interval does not lie above zero has not shown, on
    these customers, that it targets better than picking customers at random,
    and ``beats_random`` says so.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Outcome: 0/1 conversion or a continuous amount.
    uplift : array-like of shape (n_samples,)
        Predicted uplift; higher is targeted first.
    treatment : array-like of shape (n_samples,)
        1 treated, 0 control; both arms must be present.
    normalize : bool or None, default=None
        Scale of ``qini_auc`` and ``auuc``, as in :func:`qini_auc` (None: normalised
        if and only if ``y_true`` is 0/1).
    n_boot : int, default=200
        Resamples of :func:`qini_auc_ci`.
    random_state : int, numpy.random.Generator or None, default=0
        Seed of the bootstrap.

    Returns
    -------
    dict of str to float
        ``qini_auc`` (:func:`qini_auc`), ``qini_normalized``
        (1.0 if that is scikit-uplift's normalised coefficient, 0.0 if the
        area over random in the outcome's units), ``qini_auc_ci_low``, ``qini_auc_ci_high`` and
        ``qini_auc_sd`` (95% :func:`qini_auc_ci`), ``beats_random`` (1.0 if
        ``qini_auc_ci_low > 0`` else 0.0), ``auuc`` (same scale as ``qini_auc``),
        ``uplift_at_10``, ``uplift_at_20``, ``uplift_at_30`` (:func:`uplift_at`),
        ``n``, ``n_treatment`` and ``n_control``.

    Raises
    ------
    ValueError
        Listing every problem with the arguments.
    """
    arrays = {"y_true": y_true, "uplift": uplift, "treatment": treatment}
    y, s, t = _validated("uplift_metrics", arrays)
    normalized, errors = _normalize_problems(normalize, y)
    _fail("uplift_metrics", errors)
    interval = qini_auc_ci(y, s, t, normalize=normalized, n_boot=n_boot, random_state=random_state)
    metrics = {
        "qini_auc": qini_auc(y, s, t, normalize=normalized),
        "qini_normalized": float(normalized),
        "qini_auc_ci_low": interval.low,
        "qini_auc_ci_high": interval.high,
        "qini_auc_sd": interval.sd,
        "beats_random": float(interval.low > 0),
        "auuc": auuc(y, s, t, normalize=normalized),
    }
    for percent in (10, 20, 30):
        metrics[f"uplift_at_{percent}"] = uplift_at(y, s, t, percent / 100)
    metrics |= {"n": len(y), "n_treatment": int(t.sum()), "n_control": int(len(t) - t.sum())}
    return {name: float(value) for name, value in metrics.items()}


def oracle_qini_share(
    y_true: ArrayLike, uplift: ArrayLike, true_uplift: ArrayLike, treatment: ArrayLike
) -> float:
    """Share of the oracle's Qini area the model achieves, on the same customers and outcomes.

    ``qini_auc(normalize=False)`` of ``uplift`` divided by that of
    ``true_uplift``: the oracle ranks by the true effect, which only a synthetic
    world knows. 1 means ranking as well as the truth, 0 as well as random.
    The model can exceed 1 by chance, because both are measured on noisy outcomes.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Outcome: 0/1 conversion or a continuous amount.
    uplift : array-like of shape (n_samples,)
        Predicted uplift.
    true_uplift : array-like of shape (n_samples,)
        The true effect of treatment on each customer.
    treatment : array-like of shape (n_samples,)
        1 treated, 0 control; both arms must be present.

    Returns
    -------
    float
        NaN if the oracle's area is not positive (no effect to rank on).

    Raises
    ------
    ValueError
        Listing every problem with the arguments.
    """
    arrays = {
        "y_true": y_true,
        "uplift": uplift,
        "true_uplift": true_uplift,
        "treatment": treatment,
    }
    y, s, truth, t = _validated("oracle_qini_share", arrays)
    oracle = qini_auc(y, truth, t, normalize=False)
    return qini_auc(y, s, t, normalize=False) / oracle if oracle > 0 else math.nan


def spearman(uplift: ArrayLike, true_uplift: ArrayLike) -> float:
    """Spearman rank correlation of predicted and true uplift (:func:`scipy.stats.spearmanr`).

    Parameters
    ----------
    uplift, true_uplift : array-like of shape (n_samples,)

    Returns
    -------
    float
        In [-1, 1]; NaN if either is constant.

    Raises
    ------
    ValueError
        Listing every problem with the arguments.
    """
    s, truth = _validated("spearman", {"uplift": uplift, "true_uplift": true_uplift})
    if np.ptp(s) == 0 or np.ptp(truth) == 0:
        return math.nan
    return float(spearmanr(s, truth).statistic)
