"""The contract's rules for one table: its columns typed as the contract says, then row checks.

Schema rules (a missing column, a type that cannot hold the contract's values)
come out of :func:`_typed_table` as problems; row rules come out of
:func:`_row_checks` as boolean expressions, which :mod:`features.validation.run`
counts and uses to quarantine rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt
import pandas as pd

from upseg.features.contract import ColumnSpec, TableSpec
from upseg.features.partitions import PRUNED_TABLES, partition_column, partition_mismatch
from upseg.features.validation.report import Problem

__all__: list[str] = []

# -- typing -------------------------------------------------------------------------

# Prefixes of the helper columns that carry each raw value and whether it failed to parse.
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


def _among(value: ibis.Value, allowed: tuple[str, ...]) -> ibis.BooleanValue:
    """Whether ``value`` is one of ``allowed``; null where ``value`` is null.

    A lookup in an array literal rather than ``isin``: DuckDB turns ``isin`` of
    the five web or seven e-mail event types into a hash join probed by every
    row (about a tenth of validating 41 M e-mail events), while an array
    lookup of a dictionary-encoded column runs once per distinct value.
    """
    return ibis.literal(list(allowed), type=dt.Array(dt.string)).contains(value)


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
                    value.notnull() & ~_among(value, col.allowed),
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
    folder = partition_column(spec.name)
    if (
        folder is not None
        and _RAW + folder in typed.columns
        and typed[_RAW + folder].type().is_date()
    ):
        instant = PRUNED_TABLES[spec.name]
        checks.append(
            _Check(
                folder,
                "partition_date",
                f"{instant} is more than a day from the date of its {folder}= folder; the "
                "folders must date their rows for an as-of to skip the later ones",
                partition_mismatch(typed[_RAW + folder], typed[instant]),
            )
        )
    if spec.references_customers and customers is not None:
        checks.append(
            _Check(
                "customer_id",
                "unknown_customer",
                "customer_id is not among the accepted rows of customers",
                # "not (in or null)", not "not in": a NOT IN subquery must honour nulls, which
                # Spark does with a nested-loop join (customers × events); IN is a hash join.
                typed.customer_id.notnull()
                & ~typed.customer_id.isin(customers.customer_id).fill_null(False),
            )
        )
    return checks
