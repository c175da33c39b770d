"""Multiple testing: adjust a family of p-values (Benjamini–Hochberg or Holm).

References
----------
.. [1] Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate.
   *JRSS B* 57, 289–300.
.. [2] Holm, S. (1979). A simple sequentially rejective multiple test procedure.
   *Scand. J. Statist.* 6, 65–70.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from upseg.experiments.stats._checks import _raise_if

__all__ = ["CORRECTIONS", "adjust_p_values"]

CORRECTIONS = ("bh", "holm", "none")
"""Multiple-testing corrections of :func:`adjust_p_values`."""


def _benjamini_hochberg(sorted_p: np.ndarray) -> np.ndarray:
    """BH adjusted p-values of ascending ``sorted_p``: ``min_{j >= i} m p_(j) / j``, capped at 1."""
    m = sorted_p.size
    raw = sorted_p * m / np.arange(1, m + 1)
    return np.minimum(np.minimum.accumulate(raw[::-1])[::-1], 1.0)


def _holm(sorted_p: np.ndarray) -> np.ndarray:
    """Holm adjusted p-values of ascending ``sorted_p``: ``max_{j <= i} (m - j + 1) p_(j)``."""
    m = sorted_p.size
    raw = sorted_p * np.arange(m, 0, -1)
    return np.minimum(np.maximum.accumulate(raw), 1.0)


def adjust_p_values(p_values: ArrayLike, method: str = "bh") -> np.ndarray:
    """Adjust a family of p-values for multiple testing.

    Parameters
    ----------
    p_values : array-like of shape (n_tests,)
        p-values in [0, 1]; NaN entries (tests that could not be run) stay NaN and
        do not count in the family size.
    method : {"bh", "holm", "none"}, default "bh"
        Benjamini–Hochberg (false discovery rate), Holm (family-wise error rate) or
        no adjustment.

    Returns
    -------
    numpy.ndarray of shape (n_tests,)
        Adjusted p-values in the input order.

    Raises
    ------
    ValueError
        If ``method`` is not one of :data:`CORRECTIONS`, ``p_values`` is not 1-D or
        has values outside [0, 1].

    References
    ----------
    Benjamini and Hochberg (1995); Holm (1979); agrees with statsmodels'
    ``multipletests(method="fdr_bh" | "holm")``.
    """
    errors = []
    if method not in CORRECTIONS:
        errors.append(f"'method' must be one of {CORRECTIONS}; got {method!r}")
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        errors.append(f"'p_values' must be 1-D of shape (n_tests,); got shape {p.shape}")
    elif ((p < 0) | (p > 1)).any():
        outside = p[(p < 0) | (p > 1)]
        errors.append(f"'p_values' must be in [0, 1] or NaN; got {outside[:5].tolist()}")
    _raise_if("adjust_p_values", errors)
    adjusted = p.copy()
    present = np.flatnonzero(~np.isnan(p))
    if method == "none" or present.size == 0:
        return adjusted
    order = present[np.argsort(p[present], kind="stable")]
    correct = _benjamini_hochberg if method == "bh" else _holm
    adjusted[order] = correct(p[order])
    return adjusted
