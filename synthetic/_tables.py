"""Table helpers of the synthetic world: string ids, UTC timestamps, categoricals, sorting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from upseg.synthetic.params import DAY_US

__all__ = ["categorical", "sorted_rows", "string_ids", "timestamps"]


def string_ids(prefix: str, n: int, width: int) -> pa.Array:
    """Zero-padded string ids ``<prefix>0000001`` ... for 1..n, as pandas stores strings."""
    digits = pc.cast(pa.array(np.arange(1, n + 1, dtype=np.int64)), pa.string())
    padded = pc.utf8_lpad(digits, max(width, len(str(n))), "0")
    return pc.binary_join_element_wise(prefix, padded, "").cast(pa.large_string())


def timestamps(start: pd.Timestamp, days: np.ndarray) -> pd.DatetimeIndex:
    """UTC microsecond timestamps from days (>= 0) since ``start``; non-finite days are NaT."""
    finite = np.isfinite(days)
    us = np.zeros(days.size, np.int64)
    # unsafe casting truncates, which floors days >= 0, with no float temporary
    np.multiply(days, DAY_US, out=us, where=finite, casting="unsafe")
    us += start.value // 1000
    us[~finite] = np.iinfo(np.int64).min
    return pd.DatetimeIndex(us.view("M8[us]")).tz_localize("UTC")


def categorical(codes: np.ndarray, labels: tuple[str, ...] | list[str]) -> pd.Categorical:
    """Categorical from integer codes (-1 is missing)."""
    return pd.Categorical.from_codes(codes, categories=list(labels))


def sorted_rows(cols: dict[str, np.ndarray], keep: np.ndarray, keys: tuple[str, ...]) -> dict:
    """Rows where ``keep``, sorted by ``keys`` (last key first)."""
    for k in cols:  # one column at a time: a million customers make ~40M e-mail rows
        cols[k] = cols[k][keep]
    order = np.lexsort(tuple(cols[k] for k in keys))
    for k in cols:
        cols[k] = cols[k][order]
    return cols
