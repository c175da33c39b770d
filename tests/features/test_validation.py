"""Every bad input of the contract gets a clear problem, and every row is accounted for."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import NOW, customers_frame, events_frame, orders_frame, ts, write_source
from upseg.features.sources import DataSourceError, find_table_files
from upseg.features.validation import DataValidationError, format_problems, write_quarantine


def good_tables() -> dict[str, pd.DataFrame]:
    return {
        "customers": customers_frame(
            [("c1", "2024-01-01"), ("c2", "2024-02-01"), ("c3", "2024-03-01", False)]
        ),
        "orders": orders_frame(
            [
                ("o1", "c1", "2024-04-01", 10),
                ("o2", "c2", "2024-04-02", 20),
                ("o3", "c1", "2024-04-03", 30, "returned"),
            ]
        ),
        "email_events": events_frame(
            [("c1", "n1", "sent", "2024-04-01"), ("c1", "n1", "opened", "2024-04-02")],
            "campaign_id",
        ),
        "web_events": events_frame([("c2", "s1", "page_view", "2024-04-01")], "session_id"),
        "campaign_assignments": pd.DataFrame(
            {
                "customer_id": ["c1", "c2"],
                "campaign_id": ["X", "X"],
                "variant": ["control", "mail"],
                "assigned_at": [ts("2024-05-01")] * 2,
            }
        ),
    }


def _set(table, column, row, value):
    def mutate(tables):
        frame = tables[table].astype({column: object})
        frame.loc[row, column] = value
        tables[table] = frame

    return mutate


def _append(table, **values):
    def mutate(tables):
        frame = tables[table]
        tables[table] = pd.concat([frame, frame.iloc[[0]].assign(**values)], ignore_index=True)

    return mutate


def _drop_column(table, column):
    def mutate(tables):
        tables[table] = tables[table].drop(columns=[column])

    return mutate


# (id, mutation, format, table, column, rule, rows quarantined in that table, message)
ROW_CASES = [
    (
        "bad timestamp",
        _set("orders", "ordered_at", 0, "yesterday"),
        "csv",
        "orders",
        "ordered_at",
        "bad_type",
        1,
        "not an ISO-8601 timestamp",
    ),
    (
        "bad number",
        _set("orders", "amount", 1, "ten"),
        "csv",
        "orders",
        "amount",
        "bad_type",
        1,
        "not a number",
    ),
    (
        "bad optional number",
        _set("orders", "discount", 2, "ten percent"),
        "csv",
        "orders",
        "discount",
        "bad_type",
        1,
        "not a number",
    ),
    (
        "bad boolean",
        _set("customers", "email_opt_in", 2, "maybe"),
        "csv",
        "customers",
        "email_opt_in",
        "bad_type",
        1,
        "not a boolean",
    ),
    (
        "negative amount",
        _set("orders", "amount", 0, -5.0),
        "parquet",
        "orders",
        "amount",
        "below_minimum",
        1,
        "below the minimum 0",
    ),
    (
        "unknown email event",
        _set("email_events", "event_type", 1, "read"),
        "parquet",
        "email_events",
        "event_type",
        "not_allowed",
        1,
        "not one of",
    ),
    (
        "unknown web event",
        _set("web_events", "event_type", 0, "scroll"),
        "parquet",
        "web_events",
        "event_type",
        "not_allowed",
        1,
        "not one of",
    ),
    (
        "unknown status",
        _set("orders", "status", 2, "lost"),
        "parquet",
        "orders",
        "status",
        "not_allowed",
        1,
        "'completed', 'cancelled', 'returned'",
    ),
    (
        "missing id",
        _set("orders", "order_id", 0, None),
        "parquet",
        "orders",
        "order_id",
        "missing_value",
        1,
        "value is missing",
    ),
    (
        "duplicate order_id",
        _set("orders", "order_id", 1, "o1"),
        "parquet",
        "orders",
        "order_id",
        "duplicate",
        2,
        "duplicate order_id",
    ),
    (
        "duplicate customer_id",
        _append("customers", email_opt_in=False),
        "parquet",
        "customers",
        "customer_id",
        "duplicate",
        2,
        "duplicate customer_id",
    ),
    (
        "duplicate assignment",
        _append("campaign_assignments", variant="mail"),
        "parquet",
        "campaign_assignments",
        "customer_id, campaign_id",
        "duplicate",
        2,
        "duplicate customer_id \\+ campaign_id",
    ),
    (
        "orphan order",
        _set("orders", "customer_id", 1, "ghost"),
        "parquet",
        "orders",
        "customer_id",
        "unknown_customer",
        1,
        "not among the accepted rows of customers",
    ),
    (
        "orphan event",
        _set("web_events", "customer_id", 0, "ghost"),
        "parquet",
        "web_events",
        "customer_id",
        "unknown_customer",
        1,
        "customers",
    ),
    (
        "future order",
        _set("orders", "ordered_at", 2, ts("2027-01-01")),
        "parquet",
        "orders",
        "ordered_at",
        "future",
        1,
        "at or after the current time",
    ),
    (
        "future signup",
        _set("customers", "signup_at", 1, ts("2030-01-01")),
        "parquet",
        "customers",
        "signup_at",
        "future",
        1,
        "at or after",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "fmt", "table", "column", "rule", "n_rows", "message"),
    [case[1:] for case in ROW_CASES],
    ids=[case[0] for case in ROW_CASES],
)
def test_bad_rows_are_named_counted_and_quarantined(
    validated, tmp_path, mutate, fmt, table, column, rule, n_rows, message
):
    tables = good_tables()
    mutate(tables)
    result = validated(tables, fmt=fmt)

    problem = next(p for p in result.problems if p.rule == rule and p.table == table)
    assert (problem.column, problem.n_rows) == (column, n_rows)
    assert problem.examples, "a problem shows the offending rows"
    text = format_problems(result.problems)
    assert f"{table}.{column}" in text
    assert pd.Series([text]).str.contains(message).item(), text

    assert result.schema_ok and not result.rows_ok
    with pytest.raises(DataValidationError, match=f"{table}.{column}"):
        result.raise_if_unusable(quarantining=False)
    result.raise_if_unusable(quarantining=True)  # usable once the rows are set aside

    for summary in result.summaries.values():
        assert summary.reconciles
        assert summary.rows_read == len(tables[summary.table])
        assert summary.rows_accepted == result.tables[summary.table].count().execute()
    assert result.summaries[table].rows_quarantined >= n_rows

    written = write_quarantine(result, tmp_path / "quarantine")
    bad = pd.read_parquet(written[table])
    assert len(bad) == result.summaries[table].rows_quarantined
    assert bad["reason"].str.contains(column.split(",")[0]).all()


def test_quarantined_customer_takes_their_rows_with_them(validated):
    tables = good_tables()
    _append("customers", email_opt_in=False)(tables)  # c1 twice: both rejected
    result = validated(tables)
    assert result.summaries["customers"].rows_quarantined == 2
    # c1's two orders and two e-mail events cannot be attributed any more.
    assert result.summaries["orders"].rows_quarantined == 2
    assert result.summaries["email_events"].rows_quarantined == 2
    assert all(s.reconciles for s in result.summaries.values())


def test_as_of_rejects_events_at_or_after_it(validated):
    result = validated(good_tables(), not_after=ts("2024-04-02"))
    future = {(p.table, p.column): p.n_rows for p in result.problems if p.rule == "future"}
    # o2, o3 (2024-04-02 and later); the open of 2024-04-02; both assignments (2024-05-01).
    assert future == {
        ("orders", "ordered_at"): 2,
        ("email_events", "occurred_at"): 1,
        ("campaign_assignments", "assigned_at"): 2,
    }


SCHEMA_CASES = [
    (
        "missing customers",
        lambda t: t.pop("customers"),
        "customers",
        None,
        "missing_table",
        "required table is missing",
    ),
    (
        "missing orders",
        lambda t: t.pop("orders"),
        "orders",
        None,
        "missing_table",
        "orders.parquet, orders.csv or orders/",
    ),
    (
        "missing column",
        _drop_column("orders", "amount"),
        "orders",
        "amount",
        "missing_column",
        "required column is missing",
    ),
    (
        "missing event column",
        _drop_column("email_events", "campaign_id"),
        "email_events",
        "campaign_id",
        "missing_column",
        "required column is missing",
    ),
    (
        "wrong column type",
        _set("orders", "amount", slice(None), ts("2024-01-01")),
        "orders",
        "amount",
        "column_type",
        "cannot hold numbers",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "table", "column", "rule", "message"),
    [case[1:] for case in SCHEMA_CASES],
    ids=[case[0] for case in SCHEMA_CASES],
)
def test_schema_problems_make_the_source_unusable(validated, mutate, table, column, rule, message):
    tables = good_tables()
    mutate(tables)
    if rule == "column_type":
        tables["orders"]["amount"] = pd.to_datetime(tables["orders"]["amount"], utc=True)
    result = validated(tables)
    problem = next(p for p in result.problems if p.rule == rule)
    assert (problem.table, problem.column) == (table, column)
    assert not result.schema_ok
    with pytest.raises(DataValidationError, match=message):
        result.raise_if_unusable(quarantining=True)


def test_optional_tables_may_be_absent(validated):
    tables = good_tables()
    for name in ("email_events", "web_events", "campaign_assignments"):
        tables.pop(name)
    result = validated(tables)
    assert result.schema_ok and result.rows_ok
    assert set(result.tables) == {"customers", "orders"}


def test_optional_order_columns_take_their_defaults(validated):
    tables = good_tables()
    tables["orders"] = tables["orders"].drop(columns=["status", "discount", "category"])
    orders = validated(tables).tables["orders"].execute()
    assert (orders.status == "completed").all() and (orders.discount == 0).all()
    assert orders.category.isna().all()


def test_integer_ids_are_compared_as_strings(validated):
    tables = good_tables()
    tables["customers"]["customer_id"] = [1, 2, 3]
    tables["orders"]["customer_id"] = ["1", "2", "1"]
    for name in ("email_events", "web_events", "campaign_assignments"):
        tables.pop(name)
    result = validated(tables)
    assert result.rows_ok, format_problems(result.problems)


def test_parquet_parts_folder_is_a_table(tmp_path, con):
    from upseg.features.validation import validate_source

    tables = good_tables()
    source = write_source(tmp_path / "src", {"customers": tables["customers"]})
    (source / "orders").mkdir()
    tables["orders"].iloc[:2].to_parquet(source / "orders" / "part-0.parquet")
    tables["orders"].iloc[2:].to_parquet(source / "orders" / "part-1.parquet")
    result = validate_source(con, find_table_files(source), not_after=NOW)
    assert result.summaries["orders"].rows_accepted == 3


def test_a_table_in_two_forms_is_refused(tmp_path):
    tables = good_tables()
    source = write_source(tmp_path / "src", tables)
    tables["orders"].to_csv(source / "orders.csv", index=False)
    with pytest.raises(DataSourceError, match="'orders.parquet', 'orders.csv'"):
        find_table_files(source)


def test_missing_directory_is_refused(tmp_path):
    with pytest.raises(DataSourceError, match="is not a directory"):
        find_table_files(tmp_path / "nowhere")
