"""Validation reports and quarantines exactly what it did before its checks were made cheaper.

``validation_report.json`` was recorded with the validation of commit 9422d64
(before the allowed-values check became an array lookup and quarantined
customers were computed once): for every hand-built bad-data case, each
problem with its count and example rows, each table's counts, the accepted
rows and the quarantined rows with their reasons. Rewrite it only for a
deliberate change of what validation reports (``python -m
tests.features.test_validation_same_report``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from tempfile import TemporaryDirectory

import pandas as pd
import pytest

from tests.conftest import write_source
from tests.features.test_validation import ROW_CASES, _append, _set, good_tables
from upseg.features.sources import connect, find_table_files
from upseg.features.validation import ValidationResult, validate_source

RECORDED = Path(__file__).with_name("validation_report.json")
NOT_AFTER = pd.Timestamp("2026-11-01", tz="UTC")


def _many_problems(tables: dict[str, pd.DataFrame]) -> None:
    """A duplicated customer, an orphan, a bad type, a future event and a bad value together."""
    for mutate in (
        _append("customers", email_opt_in=False),
        _set("orders", "customer_id", 1, "ghost"),
        _set("orders", "amount", 2, -1.0),
        _set("email_events", "event_type", 1, "read"),
        _set("web_events", "occurred_at", 0, pd.Timestamp("2027-01-01", tz="UTC")),
        _set("campaign_assignments", "customer_id", 1, "ghost"),
    ):
        mutate(tables)


#: (case id, how the good tables are broken, file format)
CASES = [(case[0], case[1], case[2]) for case in ROW_CASES] + [
    ("clean", lambda tables: None, "parquet"),
    ("clean csv", lambda tables: None, "csv"),
    ("many problems", _many_problems, "parquet"),
    ("many problems csv", _many_problems, "csv"),
]


def _rows(table) -> list[dict]:
    """A table's rows as sorted records of text, so that order and dtypes do not matter."""
    frame = table.execute()
    records = [
        {k: (None if pd.isna(v) else str(v)) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]
    return sorted(records, key=lambda r: json.dumps(r, sort_keys=True))


def report(result: ValidationResult) -> dict:
    """Everything validation says about a source, as plain JSON."""
    return {
        "problems": [
            [p.table, p.column, p.rule, p.message, p.n_rows, p.examples, p.schema]
            for p in result.problems
        ],
        "summaries": {
            name: [s.rows_read, s.rows_accepted, s.rows_quarantined]
            for name, s in result.summaries.items()
        },
        "accepted": {name: _rows(t) for name, t in result.tables.items()},
        "quarantine": {name: _rows(t) for name, t in result.quarantine.items()},
    }


def case_report(mutate, fmt: str, directory: Path) -> dict:
    """Validate the good tables broken by ``mutate`` and written as ``fmt``."""
    tables = good_tables()
    mutate(tables)
    source = write_source(directory, tables, fmt)
    result = validate_source(connect(threads=1), find_table_files(source), not_after=NOT_AFTER)
    return json.loads(json.dumps(report(result)))


@pytest.mark.parametrize(("mutate", "fmt"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_validation_reports_and_quarantines_what_it_did_before(request, tmp_path, mutate, fmt):
    recorded = json.loads(RECORDED.read_text())[request.node.callspec.id]
    assert case_report(mutate, fmt, tmp_path / "source") == recorded


if __name__ == "__main__":
    with TemporaryDirectory() as tmp:
        reports = {
            case_id: case_report(mutate, fmt, Path(tmp) / str(i))
            for i, (case_id, mutate, fmt) in enumerate(CASES)
        }
    RECORDED.write_text(json.dumps(reports, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(reports)} reports to {RECORDED}", file=sys.stderr)
