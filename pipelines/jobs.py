"""Wiring of the data stages: read a source, validate it, build and write features.

Nothing statistical lives here; these functions connect :mod:`features` to
files, the clock and the engine, and return plain summaries for the CLI.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import pandas as pd
import pyarrow.dataset as ds

from upseg.features.build import build_features
from upseg.features.engines import EngineSettings, open_engine
from upseg.features.pit import as_utc, customer_spine
from upseg.features.sources import connect, data_fingerprint, find_table_files
from upseg.features.validation import ValidationResult, validate_source, write_quarantine
from upseg.files import (  # write_atomically is re-exported: the jobs and CLIs import it from here
    write_atomically,
    write_folder_atomically,
)

__all__ = [
    "FeaturesRun",
    "SourceRun",
    "ValidatedData",
    "check_source",
    "load_source",
    "parse_instant",
    "run_features",
    "validated_data",
    "write_atomically",
]


@dataclass(frozen=True)
class SourceRun:
    """A validated data source and what validation did to it."""

    result: ValidationResult
    quarantine_files: dict[str, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class FeaturesRun:
    """What ``upseg features`` wrote and how the customers reconcile."""

    out: Path
    as_of: pd.Timestamp
    customers_accepted: int
    customers_scored: int
    customers_not_yet_signed_up: int
    n_features: int
    seconds: float
    source: SourceRun

    @property
    def reconciles(self) -> bool:
        """customers accepted = customers with features + customers signed up on/after as-of."""
        return self.customers_accepted == self.customers_scored + self.customers_not_yet_signed_up


def parse_instant(value: str, *, option: str) -> pd.Timestamp:
    """Parse ``YYYY-MM-DD`` or an ISO-8601 timestamp given to ``option``; naive is UTC."""
    try:
        return as_utc(value)
    except (ValueError, TypeError):
        raise ValueError(
            f"{option} must be a date YYYY-MM-DD or an ISO-8601 timestamp; got {value!r}."
        ) from None


def check_source(
    data_dir: Path,
    *,
    con: ibis.BaseBackend,
    not_after: pd.Timestamp | None = None,
    not_after_label: str = "the current time",
    read_until: pd.Timestamp | None = None,
) -> ValidationResult:
    """Validate a data source without deciding whether it is usable."""
    cutoff = not_after if not_after is not None else pd.Timestamp.now(tz="UTC")
    return validate_source(
        con,
        find_table_files(data_dir),
        not_after=cutoff,
        not_after_label=not_after_label,
        read_until=read_until,
    )


def load_source(
    data_dir: Path,
    *,
    con: ibis.BaseBackend,
    not_after: pd.Timestamp | None = None,
    not_after_label: str = "the current time",
    quarantine_dir: Path | None = None,
    read_until: pd.Timestamp | None = None,
) -> SourceRun:
    """Validate a data source; quarantine bad rows or refuse it.

    Parameters
    ----------
    data_dir : Path
        The data source directory.
    con : ibis.BaseBackend
        Engine connection.
    not_after : pandas.Timestamp, optional
        Timestamps at or after it are rejected as future; now when omitted.
    quarantine_dir : Path, optional
        Where bad rows go. Without it, any bad row makes the source unusable.
    read_until : pandas.Timestamp, optional
        The as-of of the point-in-time work that follows: event partitions
        dated after it are not read (:mod:`upseg.features.partitions`).

    Raises
    ------
    features.validation.DataValidationError
        When the source is unusable; the message lists every problem.
    """
    result = check_source(
        data_dir,
        con=con,
        not_after=not_after,
        not_after_label=not_after_label,
        read_until=read_until,
    )
    result.raise_if_unusable(quarantining=quarantine_dir is not None)
    written = write_quarantine(result, quarantine_dir) if quarantine_dir is not None else {}
    return SourceRun(result, written)


@dataclass(frozen=True)
class ValidatedData:
    """A data source validated once and its fingerprint, for every stage of one job."""

    source: SourceRun
    digest: str


def validated_data(
    data_dir: Path, *, quarantine_dir: Path | None = None, engine: EngineSettings | None = None
) -> ValidatedData:
    """Validate ``data_dir`` (see :func:`load_source`) and fingerprint its files.

    A job that runs several stages on the same data (``upseg retrain``) calls it
    once and hands the result to each stage instead of validating again.
    """
    con = connect() if engine is None else open_engine(engine)
    source = load_source(data_dir, con=con, quarantine_dir=quarantine_dir)
    return ValidatedData(source, data_fingerprint(find_table_files(data_dir)))


def run_features(
    data_dir: Path,
    as_of: pd.Timestamp,
    out: Path,
    *,
    quarantine_dir: Path | None = None,
    threads: int | None = None,
    memory_limit: str | None = None,
    engine: EngineSettings | None = None,
) -> FeaturesRun:
    """Validate ``data_dir`` and write the features of every customer as of ``as_of``.

    On DuckDB ``out`` is one Parquet file, on Spark a folder of parts (with
    Spark's ``_SUCCESS`` marker); either is written atomically: a crash leaves
    the old one or none. ``threads`` and ``memory_limit`` are DuckDB's, used
    when ``engine`` is not given.
    """
    started = time.perf_counter()
    engine = engine or EngineSettings(threads=threads, memory_limit=memory_limit)
    con = open_engine(engine)
    source = load_source(data_dir, con=con, quarantine_dir=quarantine_dir, read_until=as_of)
    tables = source.result.tables
    features = build_features(tables, customer_spine(tables["customers"], as_of))
    if con.name == "pyspark":
        write_folder_atomically(out, lambda tmp: con.to_parquet(features, tmp))
    else:
        write_atomically(out, lambda tmp: con.to_parquet(features, tmp))
    # Validation counted the accepted customers; counting them again would scan the file again.
    customers = source.result.summaries["customers"].rows_accepted
    not_yet = int(
        tables["customers"].filter(tables["customers"].signup_at >= as_of).count().execute()
    )
    written = ds.dataset(out, format="parquet").count_rows()
    return FeaturesRun(
        out=out,
        as_of=as_of,
        customers_accepted=customers,
        customers_scored=written,
        customers_not_yet_signed_up=not_yet,
        n_features=len(features.columns) - 2,
        seconds=time.perf_counter() - started,
        source=source,
    )
