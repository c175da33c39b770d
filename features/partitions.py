"""Partition pruning: the event folders a point-in-time cut at as-of need not read.

An event table may be a Parquet folder partitioned by the date of its own
instant, Hive-style, under the name the contract implies: ``<stem>_date`` for
the instant column ``<stem>_at`` (``orders/ordered_date=2026-01-01/``,
``email_events/occurred_date=2026-01-01/``). Features as of ``as_of`` read only
events strictly before it, so the partitions dated after it hold nothing they
use, and a command with an as-of (``features``, ``score``) does not read them.

A partition is skipped only when its date is at least two days after as-of's
UTC date: a folder named by the local date of a time zone up to 24 hours from
UTC still holds no instant before as-of. A folder named otherwise (``dt=``, an
ingestion date) is never pruned, since its rows may be older than its name;
and validation quarantines a row whose instant is more than a day from its
folder's date (:func:`partition_mismatch`), so a mislabelled lake is reported
instead of silently cut. Skipped files are counted, rows from the Parquet
footers, so the run can say what it did not read.

Tables pruned: ``orders``, ``email_events`` and ``web_events``. Not
``customers`` (events before as-of may belong to a customer whose row is
later) nor ``campaign_assignments`` (an analysis reads outcomes after them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import ibis
import pandas as pd
import pyarrow.parquet as pq

__all__ = [
    "PRUNED_TABLES",
    "SkippedParts",
    "partition_column",
    "partition_mismatch",
    "parts_to_read",
]

#: Each prunable table and the instant its partitions are dated by.
PRUNED_TABLES = {"orders": "ordered_at", "email_events": "occurred_at", "web_events": "occurred_at"}
#: Days between a partition's date and its rows' UTC dates that time zones explain.
_ZONE_SLACK = dt.timedelta(days=1)


@dataclass(frozen=True)
class SkippedParts:
    """Parts of one table not read because they are dated after as-of.

    Attributes
    ----------
    table : str
    column : str
        The partition column, e.g. ``ordered_date``.
    after : datetime.date
        Parts dated after this day were skipped.
    files : int
    rows : int
        From the skipped files' Parquet footers; never read otherwise.
    """

    table: str
    column: str
    after: dt.date
    files: int
    rows: int


def partition_column(table: str) -> str | None:
    """The partition column whose folders date ``table``'s rows, or None when it is not pruned."""
    instant = PRUNED_TABLES.get(table)
    return None if instant is None else instant.removesuffix("_at") + "_date"


def _part_date(part: Path, folder: Path, column: str) -> dt.date | None:
    """The date in ``part``'s ``column=YYYY-MM-DD`` folder, or None when it has none."""
    for segment in part.relative_to(folder).parts[:-1]:
        name, sep, value = segment.partition("=")
        if sep and name == column:
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                return None
    return None


def parts_to_read(
    table: str, folder: Path, parts: Sequence[Path], read_until: pd.Timestamp | None
) -> tuple[list[Path], SkippedParts | None]:
    """The parts of ``table``'s ``folder`` a cut at ``read_until`` needs, and what it skips.

    Without ``read_until``, or for a table or part not dated by its partition,
    every part is read. At least one part is always kept, so the table's
    columns are known even when every row is after as-of.
    """
    column = partition_column(table)
    if read_until is None or column is None:
        return list(parts), None
    stamp = pd.Timestamp(read_until)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    last = stamp.date() + _ZONE_SLACK
    dated = [(part, _part_date(part, folder, column)) for part in parts]
    later = [part for part, day in dated if day is not None and day > last]
    if not later:
        return list(parts), None
    if len(later) == len(parts):  # keep the earliest, for the schema
        earliest = min(dated, key=lambda pair: (pair[1], str(pair[0])))[0]
        later = [part for part in later if part != earliest]
    skipped = set(later)
    kept = [part for part in parts if part not in skipped]
    rows = sum(pq.read_metadata(part).num_rows for part in later)
    return kept, SkippedParts(table, column, last, len(later), rows)


def partition_mismatch(
    folder_date: ibis.DateValue, instant: ibis.TimestampValue
) -> ibis.BooleanValue:
    """Whether a row's UTC instant is more than a day from its partition folder's date."""
    day = instant.date()
    return (day > folder_date + ibis.interval(days=1)) | (day < folder_date - ibis.interval(days=1))
