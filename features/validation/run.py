"""Validate every table of a source, quarantine the bad rows and reconcile the counts."""

from __future__ import annotations

from pathlib import Path

import duckdb
import ibis
import ibis.expr.datatypes as dt
import pandas as pd

from upseg.features.contract import CONTRACT, TableSpec
from upseg.features.partitions import SkippedParts, partition_column, parts_to_read
from upseg.features.sources import TableFile, read_raw_table, table_parts, table_read_error
from upseg.features.validation.report import Problem, TableSummary, ValidationResult
from upseg.features.validation.rules import _RAW, _UNPARSED, _Check, _row_checks, _typed_table

__all__ = ["validate_source", "write_quarantine"]

#: Example rows shown with each problem.
N_EXAMPLES = 5
#: What DuckDB raises when a file's rows cannot be read; its other errors are bugs.
_READ_ERRORS = (duckdb.InvalidInputException, duckdb.IOException)


def _read_errors(con: ibis.BaseBackend) -> tuple[type[Exception], ...]:
    """What ``con`` raises when a file's rows cannot be read (Spark: any failed job)."""
    if con.name != "pyspark":
        return _READ_ERRORS
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    return (PySparkException, Py4JJavaError)


def validate_source(
    con: ibis.BaseBackend,
    files: dict[str, TableFile],
    *,
    not_after: pd.Timestamp,
    not_after_label: str = "the current time",
    read_until: pd.Timestamp | None = None,
) -> ValidationResult:
    """Check every table of a data source against the contract.

    Parameters
    ----------
    con : ibis.BaseBackend
        Connection from :func:`features.sources.connect`.
    files : dict of str to TableFile
        Tables present in the source, from :func:`features.sources.find_table_files`.
    not_after : pandas.Timestamp
        Timestamps at or after this instant are in the future and rejected.
    not_after_label : str
        How to name ``not_after`` in messages, e.g. ``"--as-of 2026-01-01"``.
    read_until : pandas.Timestamp, optional
        The as-of of a point-in-time use of the data: event partitions dated
        after it are not read (:mod:`upseg.features.partitions`) and are
        reported in ``skipped``. Every partition is read when omitted.

    Returns
    -------
    ValidationResult
    """
    cutoff = pd.Timestamp(not_after)
    cutoff = cutoff.tz_localize("UTC") if cutoff.tzinfo is None else cutoff.tz_convert("UTC")
    problems: list[Problem] = []
    tables: dict[str, ibis.Table] = {}
    quarantine: dict[str, ibis.Table] = {}
    summaries: dict[str, TableSummary] = {}
    skipped: dict[str, SkippedParts] = {}

    for name, spec in CONTRACT.items():
        if name not in files:
            if spec.required:
                problems.append(
                    Problem(
                        name,
                        None,
                        "missing_table",
                        f"required table is missing; expected {name}.parquet, {name}.csv "
                        f"or {name}/ in the data source",
                        schema=True,
                    )
                )
            continue
        parts = None
        folder = files[name].path
        if read_until is not None and partition_column(name) is not None and folder.is_dir():
            # the parts are listed once, here; read_raw_table reads the ones kept
            parts, skip = parts_to_read(name, folder, table_parts(files[name]), read_until)
            if skip is not None:
                skipped[name] = skip
        raw = read_raw_table(con, files[name], parts=parts)
        try:
            typed, schema_problems = _typed_table(con, raw, spec)
            problems += schema_problems
            if schema_problems:
                continue
            if spec.references_customers and "customers" not in tables:
                continue  # customers unusable: nothing can be checked against it
            checks = _row_checks(typed, spec, cutoff, not_after_label, tables.get("customers"))
            accepted, rejected, summary, row_problems = _apply_checks(typed, raw, spec, checks)
        except _read_errors(con) as exc:
            # A corrupt page or a bad line deep in a CSV file shows only when the rows are read.
            raise table_read_error(files[name], exc) from exc
        summaries[name] = TableSummary(name, str(files[name].path), **summary)
        problems += row_problems
        if _holds_tables(con) or (name == "customers" and summary["rows_quarantined"]):
            accepted = _computed_once(accepted)
        tables[name] = accepted
        quarantine[name] = rejected
    return ValidationResult(tables, quarantine, tuple(problems), summaries, skipped)


def write_quarantine(result: ValidationResult, out_dir: Path) -> dict[str, Path]:
    """Write each table's rejected rows, as read, with a ``reason``, to ``out_dir/<table>.parquet``.

    Only tables with rejected rows get one: a file on DuckDB, a folder of parts
    on Spark (written by the executors, never collected). Returns the paths written.
    """
    from upseg.files import write_folder_atomically

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, rejected in result.quarantine.items():
        if result.summaries[name].rows_quarantined:
            path = out_dir / f"{name}.parquet"
            if rejected._find_backend().name == "pyspark":
                write_folder_atomically(path, rejected.to_parquet)
            else:
                rejected.to_parquet(path)
            written[name] = path
    return written


def _apply_checks(
    typed: ibis.Table, raw: ibis.Table, spec: TableSpec, checks: list[_Check]
) -> tuple[ibis.Table, ibis.Table, dict, list[Problem]]:
    """Split ``typed`` into accepted and quarantined rows, with counts and a problem per check."""
    flags = {f"__bad_{i}": c.bad.fill_null(False) for i, c in enumerate(checks)}
    marked = typed.mutate(**flags)
    any_bad = ibis.or_(*[marked[f] for f in flags]) if flags else ibis.literal(False)
    reason = ibis.literal("; ").join(
        [
            ibis.ifelse(marked[f], f"{c.column}: {c.message}", ibis.null(dt.string))
            for f, c in zip(flags, checks, strict=True)
        ]
    )
    counts = (
        marked.aggregate(
            __rows=marked.count(),
            __bad=any_bad.sum(),
            **{f: marked[f].sum() for f in flags},
            # Read every column once here, so that a file that cannot be read in full
            # fails validation rather than a later stage.
            **{f"__read_{i}": marked[_RAW + c].count() for i, c in enumerate(raw.columns)},
        )
        .execute()
        .iloc[0]
    )
    rows, n_bad = int(counts["__rows"]), int(counts["__bad"] or 0)

    kept = [c for c in typed.columns if not c.startswith((_RAW, _UNPARSED))]
    raw_view = {c: marked[_RAW + c] for c in raw.columns}
    rejected = marked.filter(any_bad).select(**raw_view, reason=reason)
    accepted = typed.select(kept) if n_bad == 0 else marked.filter(~any_bad).select(kept)

    problems = []
    for f, check in zip(flags, checks, strict=True):
        n = int(counts[f] or 0)
        if n:
            examples = marked.filter(marked[f]).select(**raw_view).limit(N_EXAMPLES).execute()
            problems.append(
                Problem(
                    spec.name, check.column, check.rule, check.message, n, _as_records(examples)
                )
            )
    summary = dict(rows_read=rows, rows_accepted=rows - n_bad, rows_quarantined=n_bad)
    return accepted, rejected, summary, problems


def _computed_once(accepted: ibis.Table) -> ibis.Table:
    """The accepted rows held by the engine, so that later queries do not check them again.

    Every other table's unknown-customer check and the feature build read the
    accepted customers; when some were quarantined, the lazy table would repeat
    every check (the duplicate key's group-by too) in each of those queries.
    The accepted customers are one row per customer, small beside the events.
    """
    return accepted.cache()


def _holds_tables(con: ibis.BaseBackend) -> bool:
    """Whether every accepted table is held after validation, not only customers.

    On Spark each query would otherwise run every check again (the feature build
    reads the e-mail events a dozen times); Spark's cache spills to disk, so
    holding the events costs memory only as far as there is room.
    """
    return con.name == "pyspark"


def _as_records(frame: pd.DataFrame) -> list[dict]:
    """Example rows as dicts of text, missing values as None."""
    return [
        {k: (None if pd.isna(v) else str(v)) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]
