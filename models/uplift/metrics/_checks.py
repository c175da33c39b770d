"""Argument checks shared by the uplift metrics: every problem in one ValueError."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from numbers import Integral, Real

import numpy as np
from numpy.typing import ArrayLike

from upseg.models.evaluation._checks import _as_float

__all__ = ["is_binary"]


def _fail(function: str, errors: Sequence[str]) -> None:
    if errors:
        raise ValueError(f"{len(errors)} error(s) in {function} arguments: " + "; ".join(errors))


def _shown(values: np.ndarray) -> str:
    return ", ".join(f"{v:g}" for v in values[:5]) + (", ..." if len(values) > 5 else "")


def _treatment_problems(t: np.ndarray) -> list[str]:
    """What is wrong with float ``t`` as a 0/1 treatment indicator (empty if nothing)."""
    values = np.unique(t)
    if not set(values.tolist()) <= {0.0, 1.0}:
        return [
            "'treatment' must contain only 0 (control) and 1 (treated); "
            f"got values {_shown(values)}"
        ]
    if len(values) < 2:
        return [
            "'treatment' must contain both arms, 0 (control) and 1 (treated); "
            f"got only {int(values[0])} (n={len(t)})"
        ]
    return []


def _validated(
    function: str, arrays: dict[str, ArrayLike], extra: Sequence[str] = ()
) -> list[np.ndarray]:
    """Each array as finite float64 of one common length, or one ValueError listing every problem.

    An array named ``treatment`` must also be 0/1 with both arms present.
    """
    raw = {name: np.asarray(array) for name, array in arrays.items()}
    errors = list(extra) + [
        f"'{name}' must be 1-D of shape (n_samples,); got shape {array.shape}"
        for name, array in raw.items()
        if array.ndim != 1
    ]
    lengths = {name: len(array) for name, array in raw.items() if array.ndim == 1}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"'{name}' {n}" for name, n in lengths.items())
        errors.append(f"all arrays must have the same length; got {shown}")
    elif lengths and next(iter(lengths.values())) == 0:
        errors.append(f"{', '.join(repr(n) for n in lengths)} must not be empty; got 0 rows")
    if errors:
        _fail(function, errors)
    converted = []
    for name, array in raw.items():
        values, problems = _as_float(array, name)
        errors += problems
        if values is None:  # then problems says why, and _fail raises below
            continue
        if name == "treatment":
            errors += _treatment_problems(values)
        converted.append(values)
    _fail(function, errors)
    return converted


def _normalize_problems(normalize: object, y: np.ndarray) -> tuple[bool, list[str]]:
    """Whether to normalise (``None`` means: if ``y`` is binary) and why it cannot be."""
    if normalize is not None and not isinstance(normalize, bool | np.bool_):
        return False, [f"'normalize' must be True, False or None; got {normalize!r}"]
    binary = is_binary(y)
    wanted = binary if normalize is None else bool(normalize)
    if not wanted:
        return False, []
    if not binary:
        return True, [
            "the normalised coefficient needs a 0/1 'y_true' (scikit-uplift's perfect curve is "
            f"defined for binary outcomes only); got values {_shown(np.unique(y))}; "
            "pass normalize=False for the area between curves"
        ]
    if len(np.unique(y)) < 2:
        return True, [
            "the normalised coefficient needs both outcomes 0 and 1 in 'y_true'; "
            f"got only {int(y[0])}; pass normalize=False for the area between curves"
        ]
    return True, []


def _fraction_problems(k: object) -> list[str]:
    ok = isinstance(k, Real) and not isinstance(k, bool) and 0 < float(k) <= 1
    return [] if ok else [f"'k' must be a number in (0, 1]; got {k!r}"]


def _count_problems(name: str, value: object, minimum: int) -> list[str]:
    ok = isinstance(value, Integral) and not isinstance(value, bool) and int(value) >= minimum
    return [] if ok else [f"'{name}' must be an integer >= {minimum}; got {value!r}"]


def _quietly(metric: Callable[..., float], *args: np.ndarray) -> float:
    """A scikit-uplift metric without the FutureWarning of sklearn's deprecated stable_cumsum."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Function stable_cumsum is deprecated", FutureWarning)
        return float(metric(*args))


def is_binary(y_true: ArrayLike) -> bool:
    """Whether every value of ``y_true`` is 0 or 1 (or False/True); an empty array is not binary.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)

    Returns
    -------
    bool
    """
    y = np.asarray(y_true)
    if y.size == 0 or y.dtype.kind not in "biufO":
        return False
    try:
        return bool(np.isin(y.astype(np.float64), (0.0, 1.0)).all())
    except (TypeError, ValueError):
        return False
