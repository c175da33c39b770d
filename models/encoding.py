"""The float matrix a LightGBM model reads: one encoding of a chunk, shared by every model.

LightGBM turns a pandas categorical into its codes (missing for ``-1``) and
every other column into float64 before it predicts; doing that here once per
chunk, into one C-ordered array, lets the scorer hand the same matrix to every
model that reads the same columns, instead of each model converting the frame
again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

__all__ = [
    "category_codes",
    "encoded_matrix",
    "feature_matrix",
    "missing_columns_error",
    "recoded_categories",
]


def missing_columns_error(frame: pd.DataFrame, feature_names: Sequence[str]) -> ValueError | None:
    """The error naming the model's columns ``frame`` lacks, or None when it has them all."""
    missing = [c for c in feature_names if c not in frame.columns]
    if not missing:
        return None
    return ValueError(
        f"The feature frame lacks {len(missing)} column(s) the model was trained on: "
        f"{missing[:10]}{' …' if len(missing) > 10 else ''}."
    )


def encoded_matrix(X: np.ndarray, n_features: int) -> np.ndarray:
    """``X`` (a :func:`feature_matrix`) as float64, refused unless 2-D and ``n_features`` wide.

    The check keeps a matrix of another model's columns from being read silently.
    """
    matrix = np.asarray(X, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] != n_features:
        raise ValueError(
            f"An encoded matrix must have one column per feature ({n_features}); "
            f"got shape {matrix.shape}."
        )
    return matrix


def feature_matrix(
    frame: pd.DataFrame, feature_names: Sequence[str], categories: Mapping[str, Sequence[str]]
) -> np.ndarray:
    """``frame``'s ``feature_names`` as a C-ordered float64 matrix, categories as their codes.

    Parameters
    ----------
    frame : pandas.DataFrame
        Has every name in ``feature_names`` (other columns are ignored).
    feature_names : sequence of str
        Columns in the order the model reads them.
    categories : mapping of str to sequence of str
        The categories each categorical column had in training, in code order; a
        label not among them is missing, never another label's code.

    Returns
    -------
    ndarray of shape (len(frame), len(feature_names))

    Raises
    ------
    ValueError
        Naming the columns ``frame`` lacks, or a numeric column holding text.
    """
    error = missing_columns_error(frame, feature_names)
    if error is not None:
        raise error
    out = np.empty((len(frame), len(feature_names)), dtype=np.float64)
    for j, name in enumerate(feature_names):
        col = frame[name]
        if name in categories:
            out[:, j] = category_codes(col, categories[name])
        elif is_numeric_dtype(col.dtype) or is_bool_dtype(col.dtype):
            out[:, j] = col.to_numpy(dtype=np.float64, na_value=np.nan)
        else:  # text that should hold numbers: parse, and refuse what is not a number
            try:
                parsed = pd.to_numeric(col.astype("Float64"), errors="raise")
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"Feature column {name!r} must hold numbers; got dtype {col.dtype} ({exc})."
                ) from None
            out[:, j] = parsed.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def category_codes(column: pd.Series, known: Sequence[str]) -> np.ndarray:
    """Each label's position in ``known`` as a float, missing (NaN) when it is not there."""
    labels = column.astype("string")
    codes = pd.Categorical(labels.where(labels.isin(list(known))), categories=list(known)).codes
    return np.where(codes < 0, np.nan, codes)


def recoded_categories(
    matrix: np.ndarray,
    frame: pd.DataFrame,
    feature_names: Sequence[str],
    categories: Mapping[str, Sequence[str]],
) -> np.ndarray:
    """Another model's matrix of the same columns: a copy of ``matrix`` with ``categories``' codes.

    ``matrix`` is :func:`feature_matrix` of ``frame`` for ``feature_names`` and
    some categories of the same categorical columns; models trained on different
    customers share every number but may code a category differently (a label
    one of them never saw), so only those columns are encoded again.
    """
    out = matrix.copy()
    for name, known in categories.items():
        out[:, list(feature_names).index(name)] = category_codes(frame[name], known)
    return out
