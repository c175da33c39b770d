"""Validate a data source against the contract, quarantining the rows that break it.

Every problem names its table, its column, how many rows it concerns and shows
a few of them. Problems come in two weights:

* schema problems (a required table or column is missing, or a column has a
  type that cannot hold the contract's values) make the source unusable;
* row problems (a bad value, a duplicate key, an unknown customer, a
  timestamp in the future) make the rows unusable. With a quarantine they are
  set aside with a ``reason`` and the good rows go on.

Nothing is lost: for every table, rows read = rows accepted + rows
quarantined. A row whose customer is quarantined is quarantined too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import ibis
import ibis.expr.datatypes as dt
import pandas as pd

from upseg.errors import UpsegError
from upseg.features.contract import CONTRACT, ColumnSpec, TableSpec
from upseg.features.sources import TableFile, read_raw_table

__all__ = [
    "DataValidationError",
    "Problem",
    "TableSummary",
    "ValidationResult",
    "format_problems",
    "validate_source",
    "write_quarantine",
]

N_EXAMPLES = 5


@dataclass(frozen=True)
class Problem:
    """One way in which the data breaks the contract.

    Parameters
    ----------
    table, column : str
        Where the problem is; ``column`` is None for a missing table.
    rule : str
        Machine-readable name of the broken rule, e.g. ``"duplicate"``.
    message : str
        What was expected and what was found.
    n_rows : int
        Rows concerned; 0 for a problem of the schema.
    examples : list of dict
        A few offending rows as they are in the file.
    schema : bool
        True when the problem makes the whole table unusable.
    """

    table: str
    column: str | None
    rule: str
    message: str
    n_rows: int = 0
    examples: list[dict] = field(default_factory=list)
    schema: bool = False

    def __str__(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        count = f" [{self.n_rows:,} row{'s' if self.n_rows != 1 else ''}]" if self.n_rows else ""
        return f"{where}: {self.message}{count}"


@dataclass(frozen=True)
class TableSummary:
    """Row counts of one table through validation."""

    table: str
    path: str
    rows_read: int
    rows_accepted: int
    rows_quarantined: int

    @property
    def reconciles(self) -> bool:
        """Whether rows read = rows accepted + rows quarantined."""
        return self.rows_read == self.rows_accepted + self.rows_quarantined


@dataclass(frozen=True)
class ValidationResult:
    """What validation found and the tables that may be used.

    Attributes
    ----------
    tables : dict of str to ibis.Table
        The accepted rows of each present table, typed as the contract says
        (ids as strings, timestamps in UTC, defaults filled in).
    quarantine : dict of str to ibis.Table
        The rejected rows of each table, as read, with a ``reason`` column.
    problems : tuple of Problem
    summaries : dict of str to TableSummary
    """

    tables: dict[str, ibis.Table]
    quarantine: dict[str, ibis.Table]
    problems: tuple[Problem, ...]
    summaries: dict[str, TableSummary]

    @property
    def schema_ok(self) -> bool:
        """True when no problem makes a table unusable."""
        return not any(p.schema for p in self.problems)

    @property
    def rows_ok(self) -> bool:
        """True when no row was quarantined."""
        return not any(p.n_rows for p in self.problems)

    def raise_if_unusable(self, *, quarantining: bool) -> None:
        """Raise :class:`DataValidationError` unless the accepted tables can be used.

        Parameters
        ----------
        quarantining : bool
            Whether bad rows are being set aside; if not, any bad row is fatal.
        """
        if not self.schema_ok or (not quarantining and not self.rows_ok):
            folders = {str(Path(s.path).parent) for s in self.summaries.values()}
            source = folders.pop() if len(folders) == 1 else None
            raise DataValidationError(self.problems, source=source)


class DataValidationError(UpsegError, ValueError):
    """The data source breaks the contract.

    The message is one line: where the data is, every problem (table, column,
    rule, rows), and the command that lists example rows of each.

    Attributes
    ----------
    problems : tuple of Problem
    source : str or None
        The data source directory, when known.
    """

    #: Problems named in the message; ``upseg validate`` lists them all.
    SHOWN = 5

    def __init__(self, problems: tuple[Problem, ...], source: str | Path | None = None):
        self.problems = tuple(problems)
        self.source = None if source is None else str(source)
        where = f"the data in {self.source}" if self.source else "the data"
        named = "; ".join(str(p) for p in self.problems[: self.SHOWN])
        if len(self.problems) > self.SHOWN:
            named += f"; and {len(self.problems) - self.SHOWN} more"
        command = f"upseg validate --data {self.source or 'DIR'}"
        super().__init__(
            f"{where} is unusable: {named}. Run `{command}` for example rows of each problem"
            + (", or set bad rows aside with --quarantine DIR." if self.rows_only else ".")
        )

    @property
    def rows_only(self) -> bool:
        """Whether every problem is in rows that quarantine could set aside."""
        return not any(p.schema for p in self.problems)


def format_problems(problems: tuple[Problem, ...] | list[Problem]) -> str:
    """Render problems as a numbered list with example rows, for people."""
    if not problems:
        return "no problems"
    lines = [f"{len(problems)} problem{'s' if len(problems) != 1 else ''} found in the data:"]
    for i, problem in enumerate(problems, 1):
        lines.append(f"  {i}. {problem}")
        for row in problem.examples:
            shown = ", ".join(f"{k}={v!r}" for k, v in row.items())
            lines.append(f"       e.g. {shown}")
    return "\n".join(lines)


def validate_source(
    con: ibis.BaseBackend,
    files: dict[str, TableFile],
    *,
    not_after: pd.Timestamp,
    not_after_label: str = "the current time",
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
        raw = read_raw_table(con, files[name])
        typed, schema_problems = _typed_table(con, raw, spec)
        problems += schema_problems
        if schema_problems:
            continue
        if spec.references_customers and "customers" not in tables:
            continue  # customers unusable: nothing can be checked against it
        checks = _row_checks(typed, spec, cutoff, not_after_label, tables.get("customers"))
        accepted, rejected, summary, row_problems = _apply_checks(typed, raw, spec, checks)
        summaries[name] = TableSummary(name, str(files[name].path), **summary)
        problems += row_problems
        tables[name] = accepted
        quarantine[name] = rejected
    return ValidationResult(tables, quarantine, tuple(problems), summaries)


def write_quarantine(result: ValidationResult, out_dir: Path) -> dict[str, Path]:
    """Write each table's rejected rows to ``out_dir/<table>.parquet``.

    Only tables with rejected rows get a file. Returns the paths written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, rejected in result.quarantine.items():
        if result.summaries[name].rows_quarantined:
            path = out_dir / f"{name}.parquet"
            rejected.to_parquet(path)
            written[name] = path
    return written


# -- typing -------------------------------------------------------------------------

_RAW = "__raw_"
_UNPARSED = "__unparsed_"


def _typed_table(
    con: ibis.BaseBackend, raw: ibis.Table, spec: TableSpec
) -> tuple[ibis.Table, list[Problem]]:
    """Cast the contract's columns to their kinds, keeping the raw values beside them."""
    problems = []
    columns: dict[str, ibis.Value] = {}
    present = set(raw.columns)
    for col in spec.columns:
        if col.name not in present:
            problems.append(
                Problem(
                    spec.name,
                    col.name,
                    "missing_column",
                    f"required column is missing; found columns {sorted(present)}",
                    schema=True,
                )
            )
    for col in spec.all_columns:
        if col.name not in present:
            if col.default is not None or col.nullable:
                columns[col.name] = ibis.literal(col.default, type=_dtype(col))
            continue
        cast = _cast(raw[col.name], col)
        if cast is None:
            problems.append(
                Problem(
                    spec.name,
                    col.name,
                    "column_type",
                    f"column has type {raw[col.name].type()}, which cannot hold "
                    f"{_KINDS[col.kind].plural}",
                    schema=True,
                )
            )
            continue
        typed, can_fail = cast
        if can_fail:
            # Judged before a default fills the gap: "abc" is a bad value, not a 0.
            columns[_UNPARSED + col.name] = raw[col.name].notnull() & typed.isnull()
        if col.default is not None:
            typed = typed.fill_null(col.default)
        columns[col.name] = typed
        columns[_RAW + col.name] = raw[col.name]
    if problems:
        return raw, problems
    contract_names = {c.name for c in spec.all_columns}
    others = [c for c in raw.columns if c not in contract_names]
    # Every raw column travels along so that a quarantined row is kept as it was read.
    columns.update({_RAW + c: raw[c] for c in others})
    extras = _typed_extras(con, raw, others) if spec.keeps_extra_columns else {}
    return raw.select(**columns, **extras), []


@dataclass(frozen=True)
class _Kind:
    dtype: dt.DataType
    plural: str  # "column has type X, which cannot hold <plural>"
    singular: str  # "value is not <singular>"


_KINDS = {
    "id": _Kind(dt.string, "ids (strings or integers)", "an id"),
    "string": _Kind(dt.string, "text", "text"),
    "timestamp": _Kind(
        dt.Timestamp(timezone="UTC"), "ISO-8601 timestamps", "an ISO-8601 timestamp"
    ),
    "boolean": _Kind(dt.boolean, "booleans (true/false)", "a boolean (true/false)"),
    "float": _Kind(dt.float64, "numbers", "a number"),
}


def _dtype(col: ColumnSpec) -> dt.DataType:
    return _KINDS[col.kind].dtype


def _cast(value: ibis.Value, col: ColumnSpec) -> tuple[ibis.Value, bool] | None:
    """Cast a raw column to the contract kind, and whether a value can fail to parse.

    None when the column's type can never hold the kind.
    """
    have = value.type()
    want = _dtype(col)
    if have.is_string():
        return (value, False) if col.kind in ("id", "string") else (value.try_cast(want), True)
    if col.kind == "id":
        return (value.cast(dt.string), False) if have.is_integer() else None
    if col.kind == "string":
        return value.cast(dt.string), False
    if col.kind == "timestamp":
        return (value.cast(want), False) if (have.is_timestamp() or have.is_date()) else None
    if col.kind == "boolean":
        if have.is_boolean():
            return value, False
        return (value.try_cast(want), True) if have.is_integer() else None
    if col.kind == "float":
        return (value.cast(want), False) if have.is_numeric() else None
    raise AssertionError(f"unhandled kind {col.kind!r}")


def _typed_extras(con: ibis.BaseBackend, raw: ibis.Table, extras: list[str]) -> dict:
    """Keep attribute columns; text columns whose every value is a number become numbers."""
    text = [c for c in extras if raw[c].type().is_string()]
    if not text:
        return {c: raw[c] for c in extras}
    failures = (
        raw.aggregate(
            **{c: (raw[c].notnull() & raw[c].try_cast(dt.float64).isnull()).sum() for c in text}
        )
        .execute()
        .iloc[0]
    )
    numeric = {c for c in text if failures[c] == 0}
    return {c: raw[c].try_cast(dt.float64) if c in numeric else raw[c] for c in extras}


# -- row checks ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Check:
    column: str
    rule: str
    message: str
    bad: ibis.BooleanValue


def _row_checks(
    typed: ibis.Table,
    spec: TableSpec,
    cutoff: pd.Timestamp,
    cutoff_label: str,
    customers: ibis.Table | None,
) -> list[_Check]:
    checks = []
    for col in spec.all_columns:
        if _RAW + col.name not in typed.columns:
            continue
        raw, value = typed[_RAW + col.name], typed[col.name]
        if not col.nullable and col.default is None:
            checks.append(_Check(col.name, "missing_value", "value is missing", raw.isnull()))
        if _UNPARSED + col.name in typed.columns:
            checks.append(
                _Check(
                    col.name,
                    "bad_type",
                    f"value is not {_KINDS[col.kind].singular}",
                    typed[_UNPARSED + col.name],
                )
            )
        if col.kind == "float":
            checks.append(_Check(col.name, "not_a_number", "value is NaN", value.isnan()))
        if col.allowed is not None:
            checks.append(
                _Check(
                    col.name,
                    "not_allowed",
                    f"value is not one of {list(col.allowed)}",
                    value.notnull() & ~value.isin(col.allowed),
                )
            )
        if col.minimum is not None:
            checks.append(
                _Check(
                    col.name,
                    "below_minimum",
                    f"value is below the minimum {col.minimum:g}",
                    value < col.minimum,
                )
            )
        if col.kind == "timestamp":
            checks.append(
                _Check(
                    col.name,
                    "future",
                    f"timestamp is at or after {cutoff_label} ({cutoff.isoformat()})",
                    value >= ibis.literal(cutoff, type=_dtype(col)),
                )
            )
    if spec.unique:
        key = list(spec.unique)
        # One string per key, so that a hash aggregate (far cheaper than a
        # window over millions of ids) finds the keys that occur twice.
        joined_key = (
            ibis.literal("\x1f").join([typed[k] for k in key]) if len(key) > 1 else typed[key[0]]
        )
        keyed = typed.select(key_=joined_key)
        repeated = keyed.group_by("key_").aggregate(n=keyed.count()).filter(lambda t: t.n > 1)
        checks.append(
            _Check(
                ", ".join(key),
                "duplicate",
                f"duplicate {' + '.join(key)}: the key must be unique and these rows share one",
                joined_key.notnull() & joined_key.isin(repeated.key_),
            )
        )
    if spec.references_customers and customers is not None:
        checks.append(
            _Check(
                "customer_id",
                "unknown_customer",
                "customer_id is not among the accepted rows of customers",
                typed.customer_id.notnull() & ~typed.customer_id.isin(customers.customer_id),
            )
        )
    return checks


def _apply_checks(
    typed: ibis.Table, raw: ibis.Table, spec: TableSpec, checks: list[_Check]
) -> tuple[ibis.Table, ibis.Table, dict, list[Problem]]:
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


def _as_records(frame: pd.DataFrame) -> list[dict]:
    return [
        {k: (None if pd.isna(v) else str(v)) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]
