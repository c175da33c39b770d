"""Partition pruning: folders dated after as-of are not read, and that changes nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import write_source
from tests.features.test_spark import assert_same_rows
from upseg.features.build import build_features
from upseg.features.partitions import parts_to_read
from upseg.features.pit import customer_spine
from upseg.features.sources import connect, find_table_files, table_parts
from upseg.features.validation import validate_source
from upseg.synthetic import generate_world

AS_OF = pd.Timestamp("2026-03-01 10:30", tz="UTC")
NOT_AFTER = pd.Timestamp("2100-01-01", tz="UTC")
EVENTS = {"orders": "ordered_at", "email_events": "occurred_at", "web_events": "occurred_at"}


def write_partitioned(folder: Path, frame: pd.DataFrame, instant: str) -> None:
    """``frame`` as ``folder/<stem>_date=YYYY-MM-DD/part-0.parquet``, one folder per UTC day."""
    column = instant.removesuffix("_at") + "_date"
    days = frame[instant].dt.tz_convert("UTC").dt.date
    for day, rows in frame.groupby(days):
        part = folder / f"{column}={day}"
        part.mkdir(parents=True)
        rows.to_parquet(part / "part-0.parquet", index=False)


def lake_and_flat(root: Path) -> tuple[Path, Path, dict[str, pd.DataFrame]]:
    """A synthetic world's events of the 30 days around as-of, flat and partitioned by day."""
    tables = dict(generate_world(300, seed=3).tables)
    near = (AS_OF - pd.Timedelta(days=15), AS_OF + pd.Timedelta(days=15))
    for name, instant in EVENTS.items():
        frame = tables[name]
        tables[name] = frame[frame[instant].between(*near)].reset_index(drop=True)
    flat = write_source(root / "flat", tables)
    lake = write_source(root / "lake", {k: v for k, v in tables.items() if k not in EVENTS})
    for name, instant in EVENTS.items():
        write_partitioned(lake / name, tables[name], instant)
    return flat, lake, tables


def features_of(con, source: Path, read_until: pd.Timestamp | None):
    result = validate_source(
        con, find_table_files(source), not_after=NOT_AFTER, read_until=read_until
    )
    spine = customer_spine(result.tables["customers"], AS_OF)
    return result, con.execute(build_features(result.tables, spine))


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    return lake_and_flat(tmp_path_factory.mktemp("partitions"))


def test_only_folders_at_least_two_days_after_as_of_are_skipped(lake):
    _, source, tables = lake
    files = find_table_files(source)
    parts = table_parts(files["orders"])
    kept, skipped = parts_to_read("orders", files["orders"].path, parts, AS_OF)
    days = {dt.date.fromisoformat(p.parent.name.partition("=")[2]) for p in kept}
    # 2026-03-02 may hold instants before as-of in a zone behind UTC: it is read
    assert max(days) == dt.date(2026, 3, 2)
    assert skipped is not None and skipped.after == dt.date(2026, 3, 2)
    assert skipped.files == len(parts) - len(kept)
    later = tables["orders"]["ordered_at"].dt.date > dt.date(2026, 3, 2)
    assert skipped.rows == int(later.sum()) > 0  # from the footers: the rows not read
    # no as-of, or a table not dated by its folders: everything is read
    assert parts_to_read("orders", files["orders"].path, parts, None) == (parts, None)
    assert parts_to_read("customers", files["orders"].path, parts, AS_OF) == (parts, None)


def test_a_cut_before_every_folder_keeps_the_earliest_for_the_schema(lake):
    _, source, _ = lake
    files = find_table_files(source)
    parts = table_parts(files["web_events"])
    kept, skipped = parts_to_read(
        "web_events", files["web_events"].path, parts, AS_OF - pd.Timedelta(days=60)
    )
    assert kept == parts[:1] and skipped is not None and skipped.files == len(parts) - 1


def test_folders_named_otherwise_are_never_pruned(tmp_path):
    frame = pd.DataFrame({"x": [1]})
    for name in ("dt=2030-01-01", "ordered_date=not-a-date"):
        (tmp_path / name).mkdir()
        frame.to_parquet(tmp_path / name / "part-0.parquet")
    parts = sorted(tmp_path.rglob("*.parquet"))
    assert parts_to_read("orders", tmp_path, parts, AS_OF) == (parts, None)


def test_pruned_features_equal_the_whole_lakes_and_the_flat_files(lake):
    flat, source, tables = lake
    con = connect(threads=1)
    _, reference = features_of(con, flat, None)
    whole_result, whole = features_of(con, source, None)
    pruned_result, pruned = features_of(con, source, AS_OF)
    assert_same_rows(reference, whole, key=["customer_id"])
    assert_same_rows(reference, pruned, key=["customer_id"])
    assert not whole_result.skipped and set(pruned_result.skipped) == set(EVENTS)
    for name in EVENTS:
        # every row is counted once: read (accepted + quarantined) or skipped unread
        read = pruned_result.summaries[name]
        assert read.reconciles
        assert read.rows_read + pruned_result.skipped[name].rows == len(tables[name])
        assert whole_result.summaries[name].rows_read == len(tables[name])


def test_a_row_outside_its_folders_day_is_quarantined_naming_the_folder(tmp_path):
    _, source, tables = lake_and_flat(tmp_path)
    orders = tables["orders"]
    late = orders.iloc[[0]].assign(order_id="LATE-1")  # an old order filed under a later day
    folder = source / "orders" / "ordered_date=2026-03-10"
    folder.mkdir(exist_ok=True)
    late.to_parquet(folder / "part-late.parquet", index=False)
    result = validate_source(connect(threads=1), find_table_files(source), not_after=NOT_AFTER)
    (problem,) = [p for p in result.problems if p.rule == "partition_date"]
    assert (problem.table, problem.column, problem.n_rows) == ("orders", "ordered_date", 1)
    assert (
        "ordered_at is more than a day from the date of its ordered_date= folder" in problem.message
    )
    assert result.summaries["orders"].rows_quarantined == 1
