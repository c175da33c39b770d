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

__all__ = ["feature_matrix", "missing_columns_error"]


def missing_columns_error(frame: pd.DataFrame, feature_names: Sequence[str]) -> ValueError | None:
    """The error naming the model's columns ``frame`` lacks, or None when it has them all."""
    missing = [c for c in feature_names if c not in frame.columns]
    if not missing:
        return None
    return ValueError(
        f"The feature frame lacks {len(missing)} column(s) the model was trained on: "
        f"{missing[:10]}{' …' if len(missing) > 10 else ''}."
    )


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
            known = list(categories[name])
            labels = col.astype("string")
            codes = pd.Categorical(labels.where(labels.isin(known)), categories=known).codes
            out[:, j] = np.where(codes < 0, np.nan, codes)
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
