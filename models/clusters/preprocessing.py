"""From behavioural features to the space k-means measures distances in.

k-means compares customers by Euclidean distance, so every column must mean
something comparable: a difference of one unit should matter about as much in
each. :class:`BehaviourTransformer` gets there in three steps, decided by each
column's kind (:func:`column_kind`):

1. **missing values** get what they mean: a customer who never bought has
   spent nothing (``0``), has no discount share (``0``); "days since" an event
   that never happened is as long as the customer has existed (their
   ``tenure_days``, else the column's largest value);
2. **counts, amounts and days** are log-transformed (``sign(x) log(1 + |x|)``):
   their long right tails would otherwise make a few heavy buyers clusters of
   their own; shares and rates stay as they are;
3. every column is **robustly scaled**: centred on its median and divided by
   its interquartile range over 1.349 (the standard deviation of a normal
   distribution with that IQR), or by its standard deviation where most
   customers share one value and the IQR is zero.

A column that is missing everywhere, or takes one value once transformed,
cannot separate anyone and is refused (:class:`ClusteringError`), as is a
column the frame lacks or that is not numeric.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from upseg.errors import UpsegError

__all__ = [
    "KINDS",
    "BehaviourTransformer",
    "ClusteringError",
    "column_kind",
    "filled",
]

#: Column kinds and what each does: (missing value, log-transformed).
KINDS = {
    "count": ("0", True),
    "amount": ("0", True),
    "days": ("tenure_days", True),
    "share": ("0", False),
}
#: Kinds of the behavioural columns; others are told by their names (:func:`column_kind`).
_KNOWN = {
    "tenure_days": "days",
    "recency_days": "days",
    "avg_order_value": "amount",
    "category_count": "count",
    "return_rate": "share",
    "discount_order_share": "share",
}
#: IQR of a standard normal distribution: IQR / 1.349 estimates a standard deviation.
_NORMAL_IQR = 1.349


class ClusteringError(UpsegError, ValueError):
    """Data or settings the clusters cannot be fitted or applied on; the message says which."""


def column_kind(column: str) -> str:
    """The kind of a behavioural column: ``count``, ``amount``, ``days`` or ``share``.

    Known columns are listed; otherwise ``days_since_*`` and ``*_days`` are days,
    ``*_rate*`` and ``*_share*`` shares, ``monetary_*`` amounts, and the rest counts.
    """
    if column in _KNOWN:
        return _KNOWN[column]
    if column.startswith("days_since") or column.endswith("_days"):
        return "days"
    if "_rate" in column or "_share" in column:
        return "share"
    if column.startswith("monetary") or "value" in column:
        return "amount"
    return "count"


def _numeric(frame: pd.DataFrame, columns: Sequence[str], where: str) -> pd.DataFrame:
    """The columns as float, or an error naming every absent or non-numeric one."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ClusteringError(
            f"{where}: the features lack column(s) {missing}; expected every column of the "
            f"clusters' feature set ({', '.join(columns)})"
        )
    bad = [c for c in columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        kinds = ", ".join(f"{c} ({frame[c].dtype})" for c in bad)
        raise ClusteringError(f"{where}: column(s) must be numeric; got {kinds}")
    return frame.loc[:, list(columns)].astype("float64")


def filled(frame: pd.DataFrame, columns: Sequence[str], *, where: str = "clusters") -> pd.DataFrame:
    """The columns with missing values filled by their kind (see the module), as float.

    Raises
    ------
    ClusteringError
        For an absent or non-numeric column.
    """
    values = _numeric(frame, columns, where)
    tenure = frame["tenure_days"].astype("float64") if "tenure_days" in frame else None
    for column in columns:
        if column_kind(column) == "days":
            longest = values[column].max()
            fill = tenure if tenure is not None else pd.Series(longest, index=values.index)
            values[column] = values[column].fillna(fill).fillna(longest)
        else:
            values[column] = values[column].fillna(0.0)
    return values


def _signed_log(values: np.ndarray) -> np.ndarray:
    return np.sign(values) * np.log1p(np.abs(values))


class BehaviourTransformer(TransformerMixin, BaseEstimator):
    """Fill, log-transform and robustly scale behavioural columns (see the module).

    Parameters
    ----------
    columns : sequence of str
        The columns to read, in order; the output has one column per entry.

    Attributes
    ----------
    feature_names_in_ : ndarray of str
        ``columns``.
    kinds_ : dict of str to str
        Each column's kind (:func:`column_kind`).
    center_, scale_ : ndarray of float
        Median and robust spread of each transformed column.
    """

    def __init__(self, columns: Sequence[str] = ()) -> None:
        self.columns = columns

    def _logged(self, frame: pd.DataFrame, where: str) -> np.ndarray:
        values = filled(frame, list(self.columns), where=where).to_numpy()
        logs = np.array([KINDS[column_kind(c)][1] for c in self.columns])
        values[:, logs] = _signed_log(values[:, logs])
        return values

    def fit(self, X: pd.DataFrame, y: object = None) -> BehaviourTransformer:
        """Learn each column's median and spread.

        Raises
        ------
        ClusteringError
            For no columns, a column absent, not numeric, missing in every row,
            or taking a single value.
        """
        if not len(self.columns):
            raise ClusteringError("clusters: no feature columns given; expected at least one")
        where = "clusters (fit)"
        raw = _numeric(X, list(self.columns), where)
        empty = [c for c in self.columns if raw[c].isna().all()]
        if empty:
            raise ClusteringError(
                f"{where}: column(s) {empty} are missing for every one of the {len(X):,} "
                "customers; they cannot separate anyone. Leave them out (upseg train clusters "
                f"--exclude {','.join(empty)}) or use a data source that has them"
            )
        values = self._logged(X, where)
        q1, center, q3 = np.nanquantile(values, [0.25, 0.5, 0.75], axis=0)
        scale = (q3 - q1) / _NORMAL_IQR
        flat = scale <= 0
        scale[flat] = values[:, flat].std(axis=0)
        constant = [c for c, s in zip(self.columns, scale, strict=True) if not s > 0]
        if constant:
            raise ClusteringError(
                f"{where}: column(s) {constant} take a single value over the {len(X):,} "
                "customers; they cannot separate anyone. Leave them out (upseg train clusters "
                f"--exclude {','.join(constant)})"
            )
        self.feature_names_in_ = np.asarray(self.columns, dtype=object)
        self.kinds_ = {c: column_kind(c) for c in self.columns}
        self.center_, self.scale_ = center, scale
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """The scaled matrix, one row per customer, one column per feature."""
        check_is_fitted(self, "scale_")
        return (self._logged(X, "clusters") - self.center_) / self.scale_

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """The columns, in order."""
        return np.asarray(self.columns, dtype=object)
