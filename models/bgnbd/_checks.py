"""Checks of the BG/NBD's per-customer arrays and of the future window; all problems at once."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__: list[str] = []


def _rfm_arrays(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, *, where: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated float arrays (x, t_x, T); every problem is reported at once."""
    arrays, errors = {}, []
    for name, value in (("frequency", frequency), ("recency", recency), ("T", T)):
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            errors.append(f"'{name}' must be numbers; got {_preview(value)}")
            continue
        if arr.ndim != 1:
            errors.append(f"'{name}' must be 1-dimensional; got shape {arr.shape}")
            continue
        arrays[name] = arr
        bad = ~np.isfinite(arr)
        if bad.any():
            errors.append(f"'{name}' must be finite (no NaN or inf); {_where_bad(bad, arr)}")
            continue
        if (arr < 0).any():
            errors.append(f"'{name}' must be >= 0; {_where_bad(arr < 0, arr)}")
        if name == "frequency" and (arr != np.round(arr)).any():
            errors.append(
                f"'frequency' must be whole numbers of repeat transactions; "
                f"{_where_bad(arr != np.round(arr), arr)}"
            )
    if len(arrays) == 3 and not errors:
        x, t_x, age = arrays["frequency"], arrays["recency"], arrays["T"]
        if not x.size == t_x.size == age.size:
            errors.append(
                "'frequency', 'recency' and 'T' must have the same length; "
                f"got {x.size}, {t_x.size} and {age.size}"
            )
        else:
            late = t_x > age
            if late.any():
                errors.append(
                    f"'recency' must be <= 'T' (the last purchase cannot come after the end of "
                    f"observation); {_where_bad(late, t_x)} against T={age[late][:5].tolist()}"
                )
            orphan = (x == 0) & (t_x > 0)
            if orphan.any():
                errors.append(
                    "'recency' must be 0 where 'frequency' is 0 (no repeat transaction, no "
                    f"time of the last one); {_where_bad(orphan, t_x)}"
                )
    if errors:
        raise ValueError(
            f"{len(errors)} error(s) in the arguments of {where}: " + "; ".join(errors)
        )
    return arrays["frequency"], arrays["recency"], arrays["T"]


def _window(t: ArrayLike, n: int, *, where: str) -> np.ndarray:
    """The future window length ``t`` broadcast to ``n`` customers, validated."""
    try:
        arr = np.broadcast_to(np.asarray(t, dtype=float), (n,))
    except (TypeError, ValueError):
        raise ValueError(
            f"'t' of {where} must be a number or an array of {n} numbers (one per customer); "
            f"got {_preview(t)}"
        ) from None
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        raise ValueError(
            f"'t' of {where} must be a finite window length >= 0; {_where_bad(bad, arr)}"
        )
    return arr


def _where_bad(bad: np.ndarray, values: np.ndarray) -> str:
    """'got N bad values, e.g. at positions [...]: [...]' for an error message."""
    positions = np.flatnonzero(bad)[:5]
    return (
        f"got {int(bad.sum())} bad value(s), e.g. at positions {positions.tolist()}: "
        f"{values[positions].tolist()}"
    )


def _preview(value: object) -> str:
    """``repr(value)`` cut to 80 characters, for an error message."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
