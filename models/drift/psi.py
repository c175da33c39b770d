"""Population stability of features and scores between training and a scoring run.

At training, :func:`reference_distribution` summarises each column of the
training data in a small JSON-serialisable dict (logged with the model); at
scoring, :func:`psi` compares the column's distribution in the scored
population with it, and :func:`drift_report` does so for every column.

The population stability index over bins :math:`i` with training shares
:math:`e_i` and scoring shares :math:`a_i` is

.. math:: \\mathrm{PSI} = \\sum_i (a_i - e_i) \\ln(a_i / e_i),

the symmetrised Kullback–Leibler divergence of the two binned distributions.
Customary reading: below 0.1 stable, 0.1–0.25 a moderate shift worth a look,
above 0.25 a major shift.

References
----------
.. [1] Yurdakul, B. (2018). *Statistical properties of population stability
   index*. PhD dissertation, Western Michigan University.
.. [2] Siddiqi, N. (2006). *Credit Risk Scorecards*, Wiley, ch. 8.
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Integral, Real

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype

__all__ = [
    "PSI_EPSILON",
    "PSI_FAIL",
    "PSI_WARN",
    "REPORT_COLUMNS",
    "drift_report",
    "psi",
    "reference_distribution",
    "reference_distributions",
]

#: Shares below this are raised to it before the logarithm, so an empty bin on one side gives a
#: large but finite term (a bin holding 10% in training and nothing now adds 0.69) and a bin
#: empty on both sides adds 0. 1e-4 is one customer in 10,000: smaller than any share a bin of
#: a real population is meant to hold, large enough not to let one empty bin swamp the index.
PSI_EPSILON = 1e-4
#: PSI strictly above this is a moderate shift, worth a look (status ``warn``).
PSI_WARN = 0.1
#: PSI strictly above this is a major shift (status ``fail``); the scorer's default limit.
PSI_FAIL = 0.25
#: Columns of :func:`drift_report`.
REPORT_COLUMNS = ("column", "psi", "status")


def _kind(values: pd.Series) -> str:
    if is_bool_dtype(values.dtype):
        return "categorical"
    if is_datetime64_any_dtype(values.dtype):
        raise ValueError(
            f"Column {values.name!r}: datetimes have no reference distribution; "
            "give a numeric feature derived from them (e.g. days since)."
        )
    return "numeric" if is_numeric_dtype(values.dtype) else "categorical"


def _as_float(values: pd.Series, reference_kind: str = "numeric") -> np.ndarray:
    try:
        numbers = pd.to_numeric(values, errors="raise")
    except (TypeError, ValueError):
        raise ValueError(
            f"Column {values.name!r}: the {reference_kind} reference needs numbers; "
            f"got dtype {values.dtype}."
        ) from None
    return numbers.astype("Float64").to_numpy(dtype=float, na_value=np.nan)


def _labels(values: pd.Series) -> tuple[pd.Series, int]:
    """Non-missing values as strings (a categorical reference's keys), and the missing count."""
    missing = values.isna()
    return values[~missing].astype(str), int(missing.sum())


def reference_distribution(
    values: pd.Series, n_bins: int = 10, *, max_categories: int = 50
) -> dict:
    """The training distribution of one column, as a JSON-serialisable dict.

    Numeric columns are cut at the ``n_bins``-quantiles of their finite
    values into right-closed bins ``(-inf, e_1], (e_1, e_2], …, (e_k, inf)``;
    equal quantiles (many ties, a constant column) merge, so there may be fewer
    bins, and a value repeated across a quantile keeps all its customers in one
    bin. Booleans, strings and categories keep the share of each value (the
    ``max_categories`` most frequent; the rest are pooled as ``other``). Both
    keep the share of missing values as a bin of its own.

    Parameters
    ----------
    values : pandas.Series of shape (n_samples,)
        The column in the training data; at least one row.
    n_bins : int, default 10
        Quantile bins for a numeric column, 2 or more.
    max_categories : int, default 50
        Categories kept by name, 1 or more.

    Returns
    -------
    dict
        ``{"kind": "numeric", "edges": [e_1, …, e_k], "shares": [k + 1 floats],
        "missing": float, "n": int}`` or ``{"kind": "categorical",
        "categories": {label: share}, "other": float, "missing": float, "n": int}``.
        Shares are fractions of all ``n`` rows, so with ``missing`` (and
        ``other``) they sum to 1. Labels are the values as strings.
    """
    for name, number, least in (("n_bins", n_bins, 2), ("max_categories", max_categories, 1)):
        if not isinstance(number, Integral) or isinstance(number, bool) or number < least:
            raise ValueError(f"{name} must be an integer of {least} or more; got {number!r}.")
    values = pd.Series(values, copy=False)
    n = len(values)
    if n == 0:
        raise ValueError(f"Column {values.name!r}: no training values to take a reference from.")
    if _kind(values) == "numeric":
        numbers = _as_float(values)
        nan = np.isnan(numbers)
        finite = numbers[np.isfinite(numbers)]
        quantiles = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
        edges = np.unique(np.quantile(finite, quantiles)) if len(finite) else np.array([])
        counts = np.bincount(np.searchsorted(edges, numbers[~nan]), minlength=len(edges) + 1)
        return {
            "kind": "numeric",
            "edges": [float(e) for e in edges],
            "shares": [float(c) / n for c in counts],
            "missing": float(nan.sum()) / n,
            "n": n,
        }
    labels, missing = _labels(values)
    counts = labels.value_counts()
    # Most frequent first, ties by label, so the kept categories do not depend on row order.
    order = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    kept = order[:max_categories]
    return {
        "kind": "categorical",
        "categories": {str(label): int(count) / n for label, count in kept},
        "other": sum(int(count) for _, count in order[max_categories:]) / n,
        "missing": missing / n,
        "n": n,
    }


def reference_distributions(
    frame: pd.DataFrame, columns: list[str], n_bins: int = 10
) -> dict[str, dict]:
    """:func:`reference_distribution` of each of ``columns`` of ``frame``, by column name."""
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise ValueError(f"The training frame lacks column(s) {absent}.")
    return {c: reference_distribution(frame[c], n_bins) for c in columns}


def _shares(reference: Mapping, values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Training and scoring shares over the reference's bins, the missing bin last."""
    n = len(values)
    kind = reference.get("kind")
    try:
        if kind == "numeric":
            edges = np.asarray(reference["edges"], dtype=float)
            expected = [*reference["shares"], reference["missing"]]
            if len(expected) != len(edges) + 2:
                raise ValueError("it needs one share more than edges")
            numbers = _as_float(values)
            nan = np.isnan(numbers)
            counts = np.bincount(np.searchsorted(edges, numbers[~nan]), minlength=len(edges) + 1)
            actual = [*counts, nan.sum()]
        elif kind == "categorical":
            categories = reference["categories"]
            expected = [*categories.values(), reference["other"], reference["missing"]]
            labels, missing = _labels(values)
            counts = labels.value_counts()
            known = counts.index.isin(list(categories))
            actual = [
                *counts.reindex(list(categories), fill_value=0),
                counts[~known].sum(),
                missing,
            ]
        else:
            raise ValueError(f"'kind' must be 'numeric' or 'categorical', got {kind!r}")
    except (KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"Not a reference distribution (missing or bad {error}).") from None
    except ValueError as error:
        if str(error).startswith("Column"):
            raise
        raise ValueError(f"Not a reference distribution: {error}.") from None
    return np.asarray(expected, dtype=float), np.asarray(actual, dtype=float) / n


def psi(reference: Mapping, values: pd.Series) -> float:
    """Population stability index of ``values`` against a training reference.

    ``sum((a - e) · ln(a / e))`` over the reference's bins and the missing
    bin, with shares below :data:`PSI_EPSILON` raised to it. For a categorical
    reference, values not seen in training join the ``other`` bin.

    Parameters
    ----------
    reference : dict
        From :func:`reference_distribution` (possibly read back from JSON).
    values : pandas.Series of shape (n_samples,)
        The column in the scored population; at least one row.

    Returns
    -------
    float
        0 for identical binned distributions; larger is a bigger shift.
    """
    values = pd.Series(values, copy=False)
    if len(values) == 0:
        raise ValueError(f"Column {values.name!r}: no values to compare with the reference.")
    expected, actual = _shares(reference, values)
    e = np.maximum(expected, PSI_EPSILON)
    a = np.maximum(actual, PSI_EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


def drift_report(
    references: Mapping[str, Mapping],
    frame: pd.DataFrame,
    *,
    warn: float = PSI_WARN,
    fail: float = PSI_FAIL,
) -> pd.DataFrame:
    """PSI and a status for every column with a reference, worst first.

    Parameters
    ----------
    references : mapping of str to dict
        Column name to :func:`reference_distribution`.
    frame : pandas.DataFrame of shape (n_customers, n_columns)
        The scored population.
    warn, fail : float, default 0.1 and 0.25
        A PSI strictly above ``warn`` is ``"warn"``, strictly above ``fail``
        is ``"fail"``; ``0 <= warn <= fail``.

    Returns
    -------
    pandas.DataFrame of shape (n_references, 3)
        ``column``, ``psi`` (NaN when missing) and ``status`` in
        ``{"missing", "fail", "warn", "ok"}``. Columns absent from ``frame``
        come first (status ``"missing"``: the scorer cannot check them), then
        by PSI descending, ties by column name.

    Raises
    ------
    ValueError
        Listing every column whose reference or values cannot be compared.
    """
    for name, limit in (("warn", warn), ("fail", fail)):
        if not isinstance(limit, Real) or not np.isfinite(limit) or limit < 0:
            raise ValueError(f"{name} must be a finite number of 0 or more; got {limit!r}.")
    if warn > fail:
        raise ValueError(f"warn must not exceed fail; got warn={warn}, fail={fail}.")
    rows, errors = [], []
    for column, reference in references.items():
        if column not in frame.columns:
            rows.append((column, np.nan, "missing"))
            continue
        try:
            value = psi(reference, frame[column])
        except ValueError as error:
            errors.append(f"{column}: {error}")
            continue
        status = "fail" if value > fail else "warn" if value > warn else "ok"
        rows.append((column, value, status))
    if errors:
        raise ValueError(f"{len(errors)} column(s) cannot be compared: " + "; ".join(errors))
    report = pd.DataFrame(rows, columns=list(REPORT_COLUMNS))
    report["column"] = report["column"].astype(str)
    report["psi"] = report["psi"].astype(float)
    report["status"] = report["status"].astype(str)
    return report.sort_values(
        ["psi", "column"], ascending=[False, True], na_position="first", ignore_index=True
    )
