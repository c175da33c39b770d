"""Convert the CDNOW transaction log into the data contract.

CDNOW_master.txt (Fader, Hardie & Lee 2005) holds every purchase from January
1997 to June 1998 of the 23,570 customers who first bought at CDNOW in the
first quarter of 1997: customer id, date, number of CDs and dollar value. It
becomes a data source with the two required tables, ``customers`` and
``orders``; the mapping and its assumptions are in ``docs/cdnow.md``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from upseg.features.contract import CONTRACT
from upseg.features.sources import DataSourceError, find_table_files

__all__ = [
    "CDNOW_COLUMNS",
    "cdnow_customers",
    "cdnow_orders",
    "read_cdnow_sample",
    "cdnow_tables",
    "read_cdnow",
    "write_tables",
]

CDNOW_COLUMNS = ("customer_id", "date", "number_of_cds", "dollar_value")
# A bad line: its number, the column at fault (None when the line does not split) and why.
_Problem = tuple[int, str | None, str]
# A purchase is known to the day only: noon keeps it inside its day for any
# cutoff at midnight, and for any reader within 12 hours of UTC.
ORDER_TIME_OF_DAY = pd.Timedelta(hours=12)
_MAX_SHOWN = 5
_SAMPLE_HINT = " (CDNOW_sample.txt has a sample id after the customer id; convert CDNOW_master.txt)"


def read_cdnow(path: Path | str) -> pd.DataFrame:
    """Read CDNOW_master.txt: whitespace-separated, an optional header line, four columns.

    Parameters
    ----------
    path : Path or str
        The file; lines are ``customer_id date number_of_cds dollar_value``,
        for example ``00002 19970112  5   77.00``. A first line naming the
        columns (as in the published file) is skipped; blank lines are ignored.

    Returns
    -------
    DataFrame of shape (n_lines, 4)
        In file order: ``customer_id`` (str, as written, zero padding kept),
        ``date`` (datetime64, midnight), ``number_of_cds`` (int64) and
        ``dollar_value`` (float64).

    Raises
    ------
    features.sources.DataSourceError
        A ``ValueError``: if the file holds no purchase, or some lines do not parse; the message
        names the file, the line numbers, the columns, what is allowed and
        what was found, for every bad line (the first five shown).
    OSError
        If the file cannot be read.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataSourceError(
            f"CDNOW file {str(path)!r} is not a text file: byte {exc.start} is not UTF-8"
        ) from None
    numbers: list[int] = []
    fields: list[list[str]] = []
    problems: list[_Problem] = []
    for number, line in enumerate(text.split("\n"), start=1):
        parts = line.split()
        if not parts or (not fields and not problems and tuple(parts) == CDNOW_COLUMNS):
            continue
        if len(parts) != len(CDNOW_COLUMNS):
            hint = _SAMPLE_HINT if len(parts) == 5 else ""
            problems.append(
                (
                    number,
                    None,
                    f"expected 4 whitespace-separated fields; got {len(parts)}{hint}: {line!r}",
                )
            )
            continue
        numbers.append(number)
        fields.append(parts)
    raw = pd.DataFrame(fields, columns=list(CDNOW_COLUMNS), dtype=object)
    transactions, value_problems = _parsed_columns(raw, np.asarray(numbers, dtype=np.int64))
    problems = sorted(problems + value_problems, key=lambda p: p[0])
    if problems:
        raise DataSourceError(_format_problems(path, problems))
    if transactions.empty:
        raise DataSourceError(
            f"CDNOW file {str(path)!r} holds no purchase; expected lines of "
            f"{' '.join(CDNOW_COLUMNS)}"
        )
    return transactions


def _parsed_columns(raw: pd.DataFrame, numbers: np.ndarray) -> tuple[pd.DataFrame, list[_Problem]]:
    """Typed columns of the split lines, and (line, column, message) for every bad value."""
    ids = raw["customer_id"].astype(str)
    dates = pd.to_datetime(raw["date"], format="%Y%m%d", errors="coerce")
    cds = pd.to_numeric(raw["number_of_cds"], errors="coerce")
    dollars = pd.to_numeric(raw["dollar_value"], errors="coerce")
    checks = [
        ("customer_id", ~ids.str.fullmatch(r"[0-9]+"), "is not a numeric id"),
        (
            "date",
            dates.isna() | ~raw["date"].astype(str).str.fullmatch(r"[0-9]{8}"),
            "is not a date YYYYMMDD",
        ),
        (
            "number_of_cds",
            ~raw["number_of_cds"].astype(str).str.fullmatch(r"[0-9]+"),
            "is not a whole number >= 0",
        ),
        (
            "dollar_value",
            dollars.isna() | ~np.isfinite(dollars.astype(float)) | (dollars < 0),
            "is not a number >= 0",
        ),
    ]
    problems: list[_Problem] = [
        (int(numbers[i]), column, f"{raw.at[i, column]!r} {message}")
        for column, bad, message in checks
        for i in np.flatnonzero(bad.to_numpy(dtype=bool))
    ]
    if problems:
        return raw, problems
    typed = pd.DataFrame(
        {
            "customer_id": ids.to_numpy(),
            "date": dates.to_numpy(),
            "number_of_cds": cds.to_numpy(dtype=np.int64),
            "dollar_value": dollars.to_numpy(dtype=np.float64),
        }
    )
    typed["customer_id"] = typed["customer_id"].astype("str")
    return typed, []


def _format_problems(path: Path, problems: list[_Problem]) -> str:
    lines = {number for number, _, _ in problems}
    shown = "; ".join(
        f"line {number}" + (f", column {column!r}" if column else "") + f": {message}"
        for number, column, message in problems[:_MAX_SHOWN]
    )
    more = f"; and {len(problems) - _MAX_SHOWN} more" if len(problems) > _MAX_SHOWN else ""
    return (
        f"CDNOW file {str(path)!r} has {len(lines)} malformed line(s); each line must be "
        f"'{' '.join(CDNOW_COLUMNS)}' (e.g. '00002 19970112 5 77.00'): {shown}{more}"
    )


def cdnow_customers(transactions: pd.DataFrame) -> pd.DataFrame:
    """The ``customers`` table: each customer signs up at midnight UTC of their first purchase day.

    CDNOW has no consent data, so every customer is assumed opted in to e-mail
    (``email_opt_in`` True) and never unsubscribed (``unsubscribed_at`` null).

    Parameters
    ----------
    transactions : DataFrame
        From :func:`read_cdnow`.

    Returns
    -------
    DataFrame
        ``customer_id``, ``signup_at``, ``email_opt_in``, ``unsubscribed_at``, sorted by id.
    """
    _check_transactions(transactions)
    first = transactions.groupby("customer_id", sort=True)["date"].min()
    n = len(first)
    return pd.DataFrame(
        {
            "customer_id": first.index.astype("str"),
            "signup_at": _utc(first.to_numpy()),
            "email_opt_in": np.ones(n, dtype=bool),
            "unsubscribed_at": pd.DatetimeIndex(np.full(n, np.datetime64("NaT", "us")), tz="UTC"),
        }
    )


def cdnow_orders(transactions: pd.DataFrame) -> pd.DataFrame:
    """The ``orders`` table: one completed order per line, at noon UTC of its date.

    ``order_id`` is ``<customer_id>-<n>`` with ``n`` the line's 1-based position
    among that customer's lines in file order, so the same file gives the same
    ids. ``amount`` is the dollar value, zero included (the contract allows
    it). The number of CDs is dropped: ``orders`` keeps no extra columns.

    Parameters
    ----------
    transactions : DataFrame
        From :func:`read_cdnow`.

    Returns
    -------
    DataFrame
        ``order_id``, ``customer_id``, ``ordered_at``, ``amount``, ``status``, in file order.
    """
    _check_transactions(transactions)
    ids = transactions["customer_id"].astype("str")
    position = transactions.groupby("customer_id", sort=False).cumcount() + 1
    return pd.DataFrame(
        {
            "order_id": (ids + "-" + position.astype("str")).to_numpy(),
            "customer_id": ids.to_numpy(),
            "ordered_at": _utc(transactions["date"].to_numpy()) + ORDER_TIME_OF_DAY,
            "amount": transactions["dollar_value"].to_numpy(dtype=np.float64),
            "status": "completed",
        }
    ).astype({"order_id": "str", "customer_id": "str"})


def cdnow_tables(transactions: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``customers`` and ``orders`` of the data contract from CDNOW transactions.

    Parameters
    ----------
    transactions : DataFrame
        From :func:`read_cdnow`.

    Returns
    -------
    dict of str to DataFrame
        See :func:`cdnow_customers` and :func:`cdnow_orders`.
    """
    return {"customers": cdnow_customers(transactions), "orders": cdnow_orders(transactions)}


def write_tables(tables: dict[str, pd.DataFrame], out_dir: Path | str) -> dict[str, Path]:
    """Write each table to ``<out_dir>/<table>.parquet``, the data source layout.

    Parameters
    ----------
    tables : dict of str to DataFrame
        Contract tables by name.
    out_dir : Path or str
        Directory, created if missing. Files of the same tables are replaced.

    Returns
    -------
    dict of str to Path
        Path of each file written.

    Raises
    ------
    ValueError
        If a name is not a contract table.
    features.sources.DataSourceError
        If ``out_dir`` already holds other contract tables, or these tables in
        another form: they would be read as part of the new source.
    """
    unknown = sorted(set(tables) - set(CONTRACT))
    if unknown:
        raise ValueError(
            f"write_tables can only write contract tables {list(CONTRACT)}; got {unknown}"
        )
    out_dir = Path(out_dir)
    paths = {name: out_dir / f"{name}.parquet" for name in tables}
    if out_dir.exists():
        stale = sorted(
            str(found.path.name)
            for name, found in find_table_files(out_dir).items()
            if found.path != paths.get(name)
        )
        if stale:
            raise DataSourceError(
                f"Output directory {str(out_dir)!r} already holds {stale}, which would be "
                f"read together with the new {sorted(tables)}; choose an empty directory "
                "or remove them."
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_parquet(paths[name], engine="pyarrow", index=False)
    return paths


def _check_transactions(transactions: pd.DataFrame) -> None:
    required = ("customer_id", "date", "dollar_value")
    missing = [c for c in required if c not in transactions.columns]
    if missing:
        raise ValueError(
            f"CDNOW transactions need columns {list(required)} as read_cdnow returns them; "
            f"missing {missing}, found {list(transactions.columns)}"
        )
    if not pd.api.types.is_datetime64_any_dtype(transactions["date"]):
        raise ValueError(
            "The 'date' column of CDNOW transactions must be datetime64 as read_cdnow returns "
            f"it; got dtype {transactions['date'].dtype}"
        )


def _utc(days: np.ndarray) -> pd.DatetimeIndex:
    """Naive calendar dates as UTC instants with microsecond resolution."""
    return pd.DatetimeIndex(days).as_unit("us").tz_localize("UTC")


def read_cdnow_sample(path: Path | str) -> pd.DataFrame:
    """Read CDNOW_sample.txt, the 1/10 sample of Fader, Hardie & Lee (2005).

    No header; whitespace-separated master id, sample id, ``YYYYMMDD`` date,
    CDs and dollars. For checks against the papers' published fits; the
    importer takes the master file (:func:`read_cdnow`).

    Returns
    -------
    pandas.DataFrame
        ``master_id``, ``customer_id`` (the sample id), ``date`` (datetime),
        ``cds`` and ``dollars``, one row per line.
    """
    frame = pd.read_csv(
        path,
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "date", "cds", "dollars"],
        dtype={"date": str},
    )
    frame["date"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    return frame
