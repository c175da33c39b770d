"""What validation reports: each problem, each table's row counts, the result and the error."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import ibis

from upseg.errors import UpsegError
from upseg.features.partitions import SkippedParts

__all__ = [
    "DataValidationError",
    "Problem",
    "TableSummary",
    "ValidationResult",
    "format_problems",
]


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
    skipped : dict of str to SkippedParts
        Per table, the partitions dated after as-of that were not read
        (:mod:`upseg.features.partitions`); their rows are in no count above.
    """

    tables: dict[str, ibis.Table]
    quarantine: dict[str, ibis.Table]
    problems: tuple[Problem, ...]
    summaries: dict[str, TableSummary]
    skipped: dict[str, SkippedParts] = field(default_factory=dict)

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
