"""Checks of what every uplift learner is fitted on: X, y and treatment, in one ValueError."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__: list[str] = []


def _values(values: np.ndarray, limit: int = 10) -> str:
    """The distinct values of ``values``, at most ``limit`` of them, for an error message."""
    try:
        distinct = np.unique(values)
    except TypeError:  # mixed types cannot be sorted
        distinct = pd.unique(pd.Series(values, copy=False))
    shown = ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in distinct[:limit])
    return f"[{shown}{', …' if len(distinct) > limit else ''}]"


def _check_fit_inputs(
    owner: str, X: Any, y: Any, treatment: Any, *, binary: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``y`` as float and ``treatment`` as int arrays, after checking them against ``X``.

    Every problem found is reported in one ``ValueError``.
    """
    where = f"{owner}.fit"
    if isinstance(X, pd.DataFrame):
        bad = [str(c) for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
        if bad:
            raise ValueError(
                f"{where}: X must be numeric (encode categories as ordinal codes first); "
                f"column(s) {bad} have dtype(s) {[str(X[c].dtype) for c in bad]}."
            )
    elif np.ndim(X) != 2:
        raise ValueError(f"{where}: X must be 2-dimensional; got {np.ndim(X)} dimension(s).")
    y_arr, t_arr = np.asarray(y), np.asarray(treatment)
    lengths = (len(X), len(y_arr) if y_arr.ndim else 0, len(t_arr) if t_arr.ndim else 0)
    if y_arr.ndim != 1 or t_arr.ndim != 1 or len(set(lengths)) > 1:
        raise ValueError(
            f"{where}: X, y and treatment must have one row per customer (y and treatment "
            f"1-dimensional); got {lengths[0]} rows in X, y of shape {y_arr.shape} and "
            f"treatment of shape {t_arr.shape}."
        )

    problems = []
    if not np.isin(t_arr, [0, 1]).all():
        problems.append(
            "treatment must be 0 (control) or 1 (treated) in every row; "
            f"got values {_values(t_arr)}"
        )
    else:
        t_arr = t_arr.astype(int)
        n_treated = int(t_arr.sum())
        if n_treated in (0, len(t_arr)):
            only = "treated (1)" if n_treated else "control (0)"
            problems.append(
                "treatment must contain both arms, control (0) and treated (1); "
                f"got only {only} rows ({len(t_arr)} of them)"
            )
    if not (pd.api.types.is_numeric_dtype(y_arr.dtype) or y_arr.dtype == bool):
        problems.append(f"y must be numeric; got dtype {y_arr.dtype}")
    else:
        y_arr = y_arr.astype(float)
        if not np.isfinite(y_arr).all():
            problems.append(f"y must be finite; got {int((~np.isfinite(y_arr)).sum())} NaN/inf")
        elif binary and not np.isin(y_arr, [0, 1]).all():
            problems.append(
                "y must be 0 or 1 for a binary outcome (the outcome model is a classifier); "
                f"got values {_values(y_arr)}"
            )
        elif binary and not problems:
            for arm, name in ((0, "control"), (1, "treated")):
                seen = np.unique(y_arr[t_arr == arm])
                if len(seen) < 2:
                    problems.append(
                        f"y must take both values 0 and 1 within each arm for a classifier "
                        f"to learn from; the {name} arm has only y={seen[0]:g}"
                    )
    if len(problems) == 1:
        raise ValueError(f"{where}: {problems[0]}.")
    if problems:
        listed = "; ".join(f"({i}) {p}" for i, p in enumerate(problems, start=1))
        raise ValueError(f"{where}: {len(problems)} problems with the data: {listed}.")
    return y_arr, t_arr
