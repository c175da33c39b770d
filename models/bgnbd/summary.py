"""Frequency, recency and age of each customer from a transaction log: the BG/NBD's input."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["rfm_summary"]


def rfm_summary(
    transactions: pd.DataFrame,
    *,
    customer_col: str,
    date_col: str,
    calibration_end: object,
    time_unit_days: float = 7.0,
) -> pd.DataFrame:
    """Frequency, recency and age of each customer at the end of a calibration period.

    Purchases on the same calendar day are one transaction, and only
    transactions on or before the day of ``calibration_end`` count; times are
    whole days divided by ``time_unit_days``. This is the convention of Fader,
    Hardie & Lee (2005) and of the ``lifetimes`` package's
    ``summary_data_from_transaction_data(..., freq="D")``.

    Parameters
    ----------
    transactions : DataFrame
        One row per purchase (several rows per day are allowed).
    customer_col : str
        Column holding the customer id.
    date_col : str
        Column holding the purchase date or timestamp; only its calendar day is used.
    calibration_end : str or Timestamp
        Last day of the calibration period, inclusive. A naive value is in the
        time zone of ``date_col``.
    time_unit_days : float, default 7.0
        Days per time unit (7 gives weeks).

    Returns
    -------
    DataFrame indexed by customer
        Customers with at least one purchase on or before ``calibration_end``,
        sorted by id, with columns ``frequency`` (int: repeat transactions),
        ``recency`` (last transaction minus first, in units; 0 without a repeat)
        and ``T`` (``calibration_end`` minus first transaction, in units).

    Raises
    ------
    ValueError
        If a column is missing, ``time_unit_days`` is not a positive number,
        or a date cannot be read.
    """
    errors = []
    missing = [c for c in (customer_col, date_col) if c not in transactions.columns]
    if missing:
        errors.append(f"columns {missing} are missing; found {list(transactions.columns)}")
    if (
        isinstance(time_unit_days, bool)
        or not isinstance(time_unit_days, int | float | np.number)
        or not np.isfinite(time_unit_days)
        or time_unit_days <= 0
    ):
        errors.append(f"'time_unit_days' must be a positive number; got {time_unit_days!r}")
    if errors:
        raise ValueError(f"{len(errors)} error(s) in rfm_summary arguments: " + "; ".join(errors))
    days = _calendar_days(transactions[date_col], date_col)
    end = _calendar_day(calibration_end, days.dt.tz)
    seen = pd.DataFrame({"customer": transactions[customer_col].to_numpy(), "day": days})
    seen = seen[seen["day"] <= end].drop_duplicates()
    per_customer = seen.groupby("customer", sort=True)["day"].agg(["min", "max", "count"])
    unit = pd.Timedelta(days=1) * time_unit_days
    summary = pd.DataFrame(
        {
            "frequency": (per_customer["count"] - 1).astype("int64"),
            "recency": (per_customer["max"] - per_customer["min"]) / unit,
            "T": (end - per_customer["min"]) / unit,
        }
    )
    summary.index.name = customer_col
    return summary


def _calendar_days(dates: pd.Series, name: str) -> pd.Series:
    """Dates or timestamps floored to midnight, keeping their time zone."""
    try:
        parsed = pd.to_datetime(dates)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"Column {name!r} of rfm_summary's transactions must hold dates or timestamps; {exc}"
        ) from None
    if parsed.isna().any():
        rows = list(dates.index[parsed.isna()][:5])
        raise ValueError(
            f"Column {name!r} of rfm_summary's transactions must not be missing; "
            f"{int(parsed.isna().sum())} rows are, e.g. index {rows}"
        )
    return parsed.dt.normalize()


def _calendar_day(value: object, tz: object) -> pd.Timestamp:
    """``value`` as a midnight timestamp in ``tz`` (naive values are taken to be in ``tz``)."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise ValueError(
            f"'calibration_end' of rfm_summary must be a date or timestamp; got {value!r}"
        ) from None
    if ts.tzinfo is None and tz is not None:
        ts = ts.tz_localize(tz)
    elif ts.tzinfo is not None:
        ts = ts.tz_convert(tz) if tz is not None else ts.tz_convert("UTC").tz_localize(None)
    return ts.normalize()
