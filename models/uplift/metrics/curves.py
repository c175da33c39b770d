"""Qini and uplift curves and the areas under them (:func:`qini_auc`, :func:`auuc`).

Customers are ranked as scikit-uplift does, ``np.argsort(uplift, kind="mergesort")[::-1]``;
the curves are evaluated only after a whole group of tied scores, so their
areas do not depend on the row order.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklift.metrics import qini_auc_score, uplift_auc_score

from upseg.models.uplift.metrics._checks import _fail, _normalize_problems, _quietly, _validated

__all__ = ["auuc", "qini_auc", "qini_curve", "uplift_curve"]


def _ranking(uplift: np.ndarray) -> np.ndarray:
    """Row indices from highest to lowest uplift, ties later row first (scikit-uplift's order)."""
    return np.argsort(uplift, kind="mergesort")[::-1]


def _cumulative_arms(
    y: np.ndarray, uplift: np.ndarray, treatment: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Targeted, treated, control counts and treated, control outcome sums after each tie group.

    ``weights`` has shape (n_resamples, n_samples): how many times each customer
    is drawn (all ones for the sample itself). Every output has shape
    (n_resamples, n_groups + 1) and starts with a column of zeros (nobody targeted).
    """
    order = _ranking(uplift)
    ends = np.r_[np.flatnonzero(np.diff(uplift[order])), len(order) - 1]
    w, t, y = weights[:, order], treatment[order], y[order]

    def after_each_group(values: np.ndarray) -> np.ndarray:
        totals = np.cumsum(values, axis=1)[:, ends]
        return np.concatenate([np.zeros((len(totals), 1)), totals], axis=1)

    n_all, n_t = after_each_group(w), after_each_group(w * t)
    return n_all, n_t, n_all - n_t, after_each_group(w * (t * y)), after_each_group(w * (1 - t) * y)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator``, 0 where the denominator is 0 (as scikit-uplift does)."""
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator != 0)


def _qini_points(
    y: np.ndarray, uplift: np.ndarray, treatment: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    n_all, n_t, n_c, y_t, y_c = _cumulative_arms(y, uplift, treatment, weights)
    return n_all, y_t - y_c * _ratio(n_t, n_c)


def _uplift_points(
    y: np.ndarray, uplift: np.ndarray, treatment: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    n_all, n_t, n_c, y_t, y_c = _cumulative_arms(y, uplift, treatment, weights)
    return n_all, (_ratio(y_t, n_t) - _ratio(y_c, n_c)) * n_all


def qini_curve(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Qini curve: incremental outcome among the top-ranked customers, for any outcome.

    After targeting the ``k`` customers with the highest uplift, the curve is
    ``Y_t(k) - Y_c(k) * N_t(k) / N_c(k)``: the treated customers' total outcome
    minus the control customers' total rescaled to as many customers, i.e. the
    incremental conversions (or revenue) on the scale of the treated group
    (``Y_t(k)`` while ``N_c(k) = 0``). The same points as
    :func:`sklift.metrics.qini_curve`, which accepts only a 0/1 outcome.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Outcome: 0/1 conversion or a continuous amount.
    uplift : array-like of shape (n_samples,)
        Predicted uplift; higher is targeted first.
    treatment : array-like of shape (n_samples,)
        1 treated, 0 control; both arms must be present.

    Returns
    -------
    n_targeted : ndarray of shape (n_points,)
        0, then the number of customers targeted after each group of tied scores.
    qini : ndarray of shape (n_points,)
        The curve at those points; ``qini[-1]`` does not depend on the ranking.

    References
    ----------
    .. [1] Radcliffe, N. J. "Using control groups to target on predicted lift: building
       and assessing uplift models", Direct Marketing Analytics Journal (2007), 14-21.
    """
    y, s, t = _validated("qini_curve", {"y_true": y_true, "uplift": uplift, "treatment": treatment})
    x, q = _qini_points(y, s, t, np.ones((1, len(y))))
    return x[0].astype(np.int64), q[0]


def uplift_curve(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Uplift curve: observed uplift among the top-ranked customers times their number.

    After targeting the ``k`` customers with the highest uplift, the curve is
    ``(Y_t(k) / N_t(k) - Y_c(k) / N_c(k)) * k`` (a mean is 0 while its arm is
    empty): the incremental outcome if all ``k`` were treated. The same points
    as :func:`sklift.metrics.uplift_curve`, which accepts only a 0/1 outcome.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Outcome: 0/1 conversion or a continuous amount.
    uplift : array-like of shape (n_samples,)
        Predicted uplift; higher is targeted first.
    treatment : array-like of shape (n_samples,)
        1 treated, 0 control; both arms must be present.

    Returns
    -------
    n_targeted : ndarray of shape (n_points,)
        0, then the number of customers targeted after each group of tied scores.
    uplift : ndarray of shape (n_points,)

    References
    ----------
    .. [1] Devriendt, F., Guns, T. and Verbeke, W. "Learning to rank for uplift
       modeling", arXiv:2002.05897 (2020).
    """
    y, s, t = _validated(
        "uplift_curve", {"y_true": y_true, "uplift": uplift, "treatment": treatment}
    )
    x, u = _uplift_points(y, s, t, np.ones((1, len(y))))
    return x[0].astype(np.int64), u[0]


def _area_over_random(x: np.ndarray, curve: np.ndarray) -> np.ndarray:
    """Area between each row's curve and the line from (0, 0) to its last point."""
    return np.trapezoid(curve, x, axis=1) - x[:, -1] * curve[:, -1] / 2


def qini_auc(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, *, normalize: bool | None = None
) -> float:
    """Area between the Qini curve and random targeting: normalised (0/1 outcome) or in units.

    Normalised (the default for a 0/1 outcome): :func:`sklift.metrics.qini_auc_score`,
    ``(A_model - A_random) / (A_perfect - A_random)`` with the perfect curve that
    may include negative effects (treated converters first, control converters
    last). 1 is the best ranking of these customers, 0 is random, < 0 is worse
    than random.

    Not normalised (the default for any other outcome): ``(A_model - A_random) / n``,
    the area between the model's :func:`qini_curve` and the straight line of
    random targeting, with the number targeted measured as a share of the ``n``
    customers. It is the incremental outcome gained over random targeting of the
    same number of customers, averaged over every campaign size from nobody to
    everybody, in the outcome's units (conversions, or currency) on the scale of
    the treated group. It grows with ``n`` for a fixed population, so compare it
    only between models on the same customers, and never with the normalised value.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Outcome: 0/1 conversion or a continuous amount.
    uplift : array-like of shape (n_samples,)
        Predicted uplift; higher is targeted first.
    treatment : array-like of shape (n_samples,)
        1 treated, 0 control; both arms must be present.
    normalize : bool or None, default=None
        None normalises if and only if ``y_true`` is 0/1 (:func:`is_binary`).
        True requires a 0/1 outcome with both values present; False works for any outcome.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Listing every problem with the arguments.

    References
    ----------
    .. [1] Radcliffe, N. J. "Using control groups to target on predicted lift: building
       and assessing uplift models", Direct Marketing Analytics Journal (2007), 14-21.
    """
    arrays = {"y_true": y_true, "uplift": uplift, "treatment": treatment}
    y, s, t = _validated("qini_auc", arrays)
    normalized, errors = _normalize_problems(normalize, y)
    _fail("qini_auc", errors)
    if normalized:
        return _quietly(qini_auc_score, y, s, t)
    x, q = _qini_points(y, s, t, np.ones((1, len(y))))
    return float(_area_over_random(x, q)[0] / len(y))


def auuc(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, *, normalize: bool | None = None
) -> float:
    """Area between the uplift curve and random targeting: normalised (0/1 outcome) or in units.

    Normalised: :func:`sklift.metrics.uplift_auc_score`, ``(A_model - A_random) /
    (A_perfect - A_random)`` under :func:`uplift_curve`. Not normalised: the area
    between the model's uplift curve and the random line, divided by ``n``, in
    the outcome's units (see :func:`qini_auc` for how to read it); the two scales
    cannot be compared.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Outcome: 0/1 conversion or a continuous amount.
    uplift : array-like of shape (n_samples,)
        Predicted uplift; higher is targeted first.
    treatment : array-like of shape (n_samples,)
        1 treated, 0 control; both arms must be present.
    normalize : bool or None, default=None
        None normalises if and only if ``y_true`` is 0/1.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Listing every problem with the arguments.

    References
    ----------
    .. [1] Devriendt, F., Guns, T. and Verbeke, W. "Learning to rank for uplift
       modeling", arXiv:2002.05897 (2020).
    """
    y, s, t = _validated("auuc", {"y_true": y_true, "uplift": uplift, "treatment": treatment})
    normalized, errors = _normalize_problems(normalize, y)
    _fail("auuc", errors)
    if normalized:
        return _quietly(uplift_auc_score, y, s, t)
    x, u = _uplift_points(y, s, t, np.ones((1, len(y))))
    return float(_area_over_random(x, u)[0] / len(y))
