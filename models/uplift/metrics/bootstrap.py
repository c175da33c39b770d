"""Percentile bootstrap interval of the Qini coefficient, resampling customers within strata."""

from __future__ import annotations

from numbers import Real
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from upseg.models.uplift.metrics._checks import (
    _count_problems,
    _fail,
    _normalize_problems,
    _validated,
    is_binary,
)
from upseg.models.uplift.metrics.curves import _area_over_random, _qini_points

__all__ = ["BootstrapInterval", "qini_auc_ci"]

# Bootstrap weights are built this many (resample x customer) cells at a time, ~16 MB per array.
_BOOTSTRAP_CELLS = 2_000_000


class BootstrapInterval(NamedTuple):
    """Percentile bootstrap interval of a statistic and the bootstrap standard deviation."""

    low: float
    high: float
    sd: float


def _resample_counts(strata: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Times each customer is drawn in ``size`` resamples, each stratum resampled to its size."""
    counts = np.zeros((size, len(strata)))
    for stratum in np.unique(strata):
        members = np.flatnonzero(strata == stratum)
        m = len(members)
        draws = rng.integers(0, m, size=(size, m)) + m * np.arange(size)[:, None]
        counts[:, members] = np.bincount(draws.ravel(), minlength=size * m).reshape(size, m)
    return counts


def _weighted_qini_auc(
    y: np.ndarray, s: np.ndarray, t: np.ndarray, weights: np.ndarray, normalized: bool
) -> np.ndarray:
    """:func:`qini_auc` of each resample given as a row of ``weights``, shape (n_resamples,)."""
    area = _area_over_random(*_qini_points(y, s, t, weights))
    if not normalized:
        return area / weights.sum(axis=1)
    # scikit-uplift's perfect ranking: treated converters, then non-converters, then control ones.
    perfect = _area_over_random(*_qini_points(y, y * t - y * (1 - t), t, weights))
    return area / perfect


def qini_auc_ci(
    y_true: ArrayLike,
    uplift: ArrayLike,
    treatment: ArrayLike,
    *,
    normalize: bool | None = None,
    n_boot: int = 200,
    level: float = 0.95,
    random_state: int | np.random.Generator | None = 0,
) -> BootstrapInterval:
    """Percentile bootstrap interval of :func:`qini_auc`, resampling customers within strata.

    Each resample draws, with replacement, as many customers as there are in
    each stratum: the two arms, and for a 0/1 outcome also converters and
    non-converters within each arm, so every resample keeps the experiment's
    arm sizes and, for a 0/1 outcome, a defined normalisation. The scores are
    held fixed (the model is not refitted), so the interval reflects the
    evaluation sample only. A resample is evaluated as how many times each
    customer was drawn, on the ranking of the whole sample, in blocks of
    resamples that bound the memory used.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Outcome: 0/1 conversion or a continuous amount.
    uplift : array-like of shape (n_samples,)
        Predicted uplift; higher is targeted first.
    treatment : array-like of shape (n_samples,)
        1 treated, 0 control; both arms must be present.
    normalize : bool or None, default=None
        As in :func:`qini_auc`.
    n_boot : int, default=200
        Number of resamples, at least 2.
    level : float in (0, 1), default=0.95
        Coverage of the interval.
    random_state : int, numpy.random.Generator or None, default=0
        Seed; the same seed gives the same interval.

    Returns
    -------
    BootstrapInterval
        ``low`` and ``high``, the ``(1 - level) / 2`` and ``(1 + level) / 2``
        quantiles of the resampled values, and ``sd``, their standard deviation.

    Raises
    ------
    ValueError
        Listing every problem with the arguments.

    References
    ----------
    .. [1] Efron, B. and Tibshirani, R. J. "An Introduction to the Bootstrap",
       Chapman & Hall (1993), ch. 13 (percentile intervals) and 8.
    """
    extra = _count_problems("n_boot", n_boot, 2)
    if not (isinstance(level, Real) and not isinstance(level, bool) and 0 < level < 1):
        extra.append(f"'level' must be a number in (0, 1); got {level!r}")
    arrays = {"y_true": y_true, "uplift": uplift, "treatment": treatment}
    y, s, t = _validated("qini_auc_ci", arrays, extra=extra)
    normalized, errors = _normalize_problems(normalize, y)
    _fail("qini_auc_ci", errors)
    strata = 2 * t + (y > 0) if is_binary(y) else t
    rng = np.random.default_rng(random_state)
    block = max(1, _BOOTSTRAP_CELLS // len(y))
    values = np.concatenate(
        [
            _weighted_qini_auc(y, s, t, _resample_counts(strata, size, rng), normalized)
            for size in np.diff(np.r_[np.arange(0, n_boot, block), n_boot])
        ]
    )
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return BootstrapInterval(float(low), float(high), float(values.std(ddof=1)))
