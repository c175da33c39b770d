"""Argument checks and ranking shared by the evaluation functions.

Every check returns the list of problems it finds, so that a function can
raise one ValueError naming all of them at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__: list[str] = []


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
    if errors or y_float is None or s_float is None:
        # an array is None only when its problem is in ``errors``
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
