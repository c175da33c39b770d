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

from upseg.features.validation.report import (
    DataValidationError,
    Problem,
    TableSummary,
    ValidationResult,
    format_problems,
)
from upseg.features.validation.run import validate_source, write_quarantine

__all__ = [
    "DataValidationError",
    "Problem",
    "TableSummary",
    "ValidationResult",
    "format_problems",
    "validate_source",
    "write_quarantine",
]
