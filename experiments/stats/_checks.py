"""Validation shared by the statistics: every problem with the arguments, raised together."""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import TypeGuard

import numpy as np
from numpy.typing import ArrayLike


def _raise_if(function: str, errors: list[str]) -> None:
    """Raise one ValueError listing every problem with ``function``'s arguments."""
    if errors:
        raise ValueError(f"{len(errors)} error(s) in {function} arguments: " + "; ".join(errors))


def _is_number(value: object) -> TypeGuard[float]:
    """Whether ``value`` is a finite real number (bools are not numbers here).

    Any :class:`numbers.Real` passes (int, float, NumPy scalars); mypy then
    compares it as a float.
    """
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _is_count(value: object) -> TypeGuard[int]:
    """Whether ``value`` is an integer, Python's or NumPy's (bools are not counts here)."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def _open_unit_problems(value: object, name: str) -> list[str]:
    """Why ``value`` is not a number in (0, 1) (empty if it is)."""
    ok = _is_number(value) and 0 < value < 1
    return [] if ok else [f"'{name}' must be a number in (0, 1); got {value!r}"]


def _sample(values: ArrayLike, name: str) -> tuple[np.ndarray | None, list[str]]:
    """``values`` as a 1-D finite float64 array of at least 2 values, or None and why not."""
    array = np.asarray(values)
    if array.ndim != 1:
        return None, [f"'{name}' must be 1-D of shape (n_samples,); got shape {array.shape}"]
    if array.dtype.kind not in "biuf":
        return None, [f"'{name}' must be numeric or bool; got dtype {array.dtype}"]
    array = array.astype(np.float64)
    n_missing = int(np.isnan(array).sum())
    if n_missing:
        return None, [
            f"'{name}' must not contain NaN; got {n_missing} of {array.size}: drop or count "
            "missing values (e.g. as 0 revenue) before the comparison"
        ]
    if not np.isfinite(array).all():
        return None, [f"'{name}' must be finite; got {int(np.isinf(array).sum())} infinite"]
    if array.size < 2:
        return None, [f"'{name}' must have at least 2 values; got {array.size}"]
    return array, []


def _samples(
    function: str, y_arm: ArrayLike, y_control: ArrayLike, extra: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Both arms as validated float arrays, or one ValueError listing every problem."""
    arm, arm_errors = _sample(y_arm, "y_arm")
    control, control_errors = _sample(y_control, "y_control")
    _raise_if(function, arm_errors + control_errors + extra)
    # _sample gives None only together with a problem, and _raise_if raised every problem.
    assert arm is not None and control is not None
    return arm, control
