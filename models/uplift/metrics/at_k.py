"""Observed uplift among the top-ranked customers: at a share ``k``, and by decile.

Both cut through groups of tied scores, so among equal scores the row order
(later row first, as scikit-uplift) decides who is in.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from upseg.models.uplift.metrics._checks import (
    _count_problems,
    _fail,
    _fraction_problems,
    _validated,
)
from upseg.models.uplift.metrics.curves import _ranking

__all__ = ["uplift_at", "uplift_by_decile"]


def _n_top(k: float, n: int) -> int:
    """``floor(k * n)`` as scikit-uplift, rounded first so 0.29 * 100 gives 29; at least 1."""
    return max(1, math.floor(round(k * n, 9)))


def uplift_at(y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, k: float) -> float:
    """Observed uplift among the top ``k`` share of all customers by predicted uplift.

    scikit-uplift's ``uplift_at_k(strategy="overall")``: take the top
    ``floor(k * n)`` customers of both arms together (at least one), then
    subtract the control customers' mean outcome from the treated customers'
    among them. For a 0/1 outcome this is the difference in conversion rates,
    for revenue the difference in mean revenue; ``k = 1`` gives the average
    effect over everyone. scikit-uplift accepts only a 0/1 outcome and ``k < 1``
    and truncates ``k * n`` without rounding (0.29 * 100 gives 28).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Outcome: 0/1 conversion or a continuous amount.
    uplift : array-like of shape (n_samples,)
        Predicted uplift; higher is targeted first (ties: later row first).
    treatment : array-like of shape (n_samples,)
        1 treated, 0 control; both arms must be present.
    k : float in (0, 1]
        Share of all customers targeted.

    Returns
    -------
    float
        NaN if the top ``k`` holds no treated or no control customer.

    Raises
    ------
    ValueError
        Listing every problem with the arguments.
    """
    arrays = {"y_true": y_true, "uplift": uplift, "treatment": treatment}
    y, s, t = _validated("uplift_at", arrays, extra=_fraction_problems(k))
    top = _ranking(s)[: _n_top(float(k), len(y))]
    treated = t[top] == 1
    if treated.all() or not treated.any():
        return math.nan
    return float(y[top][treated].mean() - y[top][~treated].mean())


def uplift_by_decile(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, bins: int = 10
) -> pd.DataFrame:
    """Observed uplift in each tenth (or ``bins``-th) of customers ranked by predicted uplift.

    scikit-uplift's ``uplift_by_percentile(strategy="overall", std=True)`` for any
    outcome: all customers, both arms together, are sorted by predicted uplift
    and cut into ``bins`` groups of equal size (``np.array_split``: the first
    ``n % bins`` groups hold one more); within each, the control mean outcome is
    subtracted from the treated mean outcome. A well-ranked model shows uplift
    falling from the first bin to the last.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Outcome: 0/1 conversion or a continuous amount.
    uplift : array-like of shape (n_samples,)
        Predicted uplift; higher is targeted first (ties: later row first).
    treatment : array-like of shape (n_samples,)
        1 treated, 0 control; both arms must be present.
    bins : int, default=10
        Number of groups, at most ``n_samples``.

    Returns
    -------
    pandas.DataFrame
        ``bins`` rows, highest predicted uplift first: ``bin`` (1 = top),
        ``percentile`` (e.g. ``"0-10"``: the top 10%), ``n_treatment``,
        ``n_control``, ``mean_treatment`` and ``mean_control`` (conversion
        rates for a 0/1 outcome; NaN for an empty arm), ``uplift`` (their
        difference) and ``se_uplift``, ``sqrt(v_t / n_t + v_c / n_c)`` with the
        plug-in variances ``v`` (``p (1 - p)`` for a 0/1 outcome, as scikit-uplift's
        ``std_uplift``).

    Raises
    ------
    ValueError
        Listing every problem with the arguments.
    """
    arrays = {"y_true": y_true, "uplift": uplift, "treatment": treatment}
    y, s, t = _validated("uplift_by_decile", arrays, extra=_count_problems("bins", bins, 1))
    if bins > len(y):
        _fail(
            "uplift_by_decile",
            [f"'bins' must be at most the number of customers ({len(y)}); got {bins}"],
        )
    order = _ranking(s)
    sizes = np.full(bins, len(y) // bins) + (np.arange(bins) < len(y) % bins)
    bin_of = np.empty(len(y), dtype=np.int64)
    bin_of[order] = np.repeat(np.arange(bins), sizes)
    columns = {}
    for arm, flag in (("treatment", 1.0), ("control", 0.0)):
        rows = t == flag
        n = np.bincount(bin_of[rows], minlength=bins)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.bincount(bin_of[rows], weights=y[rows], minlength=bins) / n
            deviation = y[rows] - mean[bin_of[rows]]
            variance = np.bincount(bin_of[rows], weights=deviation**2, minlength=bins) / n
        columns[arm] = (n, mean, variance / n)
    (n_t, mean_t, var_t), (n_c, mean_c, var_c) = columns["treatment"], columns["control"]
    edges = [round(100 * i / bins) for i in range(bins + 1)]
    return pd.DataFrame(
        {
            "bin": np.arange(1, bins + 1),
            "percentile": [f"{lo}-{hi}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)],
            "n_treatment": n_t,
            "n_control": n_c,
            "mean_treatment": mean_t,
            "mean_control": mean_c,
            "uplift": mean_t - mean_c,
            "se_uplift": np.sqrt(var_t + var_c),
        }
    )
