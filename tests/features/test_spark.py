"""Validation and features on Spark equal DuckDB's: counts, quarantined rows, every feature.

One local Spark session (``local[2]``) serves the module. Each test runs the
same source through both engines and compares: validation summaries and
problems exactly, quarantined rows row for row, features to 1e-9 (floats) or
exactly (counts, categories, text).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.conftest import events_frame, orders_frame, write_source
from tests.features.test_build import AS_OF as EDGE_AS_OF
from tests.features.test_build import edge_case_tables
from upseg.features.build import build_features
from upseg.features.engines import EngineSettings, open_engine
from upseg.features.pit import customer_spine
from upseg.features.sets import CUSTOMER_V1
from upseg.features.sources import connect, find_table_files
from upseg.features.validation import validate_source, write_quarantine
from upseg.models.dataset import TASKS, _snapshot
from upseg.pipelines.cli import app
from upseg.synthetic import generate_world

NOT_AFTER = pd.Timestamp("2100-01-01", tz="UTC")


@pytest.fixture(scope="module")
def spark():
    """An Ibis backend on a local Spark session with two cores, stopped after the module."""
    con = open_engine(
        EngineSettings("spark", master="local[2]", conf={"spark.sql.shuffle.partitions": "2"})
    )
    yield con
    con.disconnect()


@pytest.fixture(scope="module")
def messy_world(tmp_path_factory):
    """A synthetic world whose source needs quarantine: duplicates, unknown ids, future rows."""
    return write_source(tmp_path_factory.mktemp("messy"), generate_world(800, seed=11).tables)


def _both(source, spark, *, not_after=NOT_AFTER, as_of=None):
    """Validation result and features (when ``as_of``) of ``source`` on DuckDB, then Spark."""
    out = []
    for con in (connect(threads=1), spark):
        result = validate_source(con, find_table_files(source), not_after=not_after)
        features = None
        if as_of is not None:
            spine = customer_spine(result.tables["customers"], as_of)
            features = con.execute(build_features(result.tables, spine))
        out.append((con, result, features))
    return out


def _plain(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """Rows in key order, instants as naive UTC microseconds: comparable across engines."""
    frame = frame.copy()
    for column, dtype in frame.dtypes.items():
        if isinstance(dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].dt.tz_convert("UTC").dt.tz_localize(None)
        if pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = frame[column].astype("datetime64[us]")
    return frame.sort_values(key, kind="stable").reset_index(drop=True)


def assert_same_rows(duck: pd.DataFrame, spark: pd.DataFrame, key: list[str]) -> None:
    """Same columns and rows; floats to 1e-9, everything else exactly."""
    assert list(duck.columns) == list(spark.columns)
    assert len(duck) == len(spark)
    a, b = _plain(duck, key), _plain(spark, key)
    for column in a.columns:
        x, y = a[column], b[column]
        assert (x.isna() == y.isna()).all(), f"{column}: missing in different rows"
        known = x.notna().to_numpy()
        if pd.api.types.is_float_dtype(x) or pd.api.types.is_float_dtype(y):
            np.testing.assert_allclose(
                x.to_numpy(float)[known], y.to_numpy(float)[known], rtol=0, atol=1e-9,
                err_msg=column,
            )  # fmt: skip
        else:
            left = x[known].astype(object).map(_scalar).tolist()
            right = y[known].astype(object).map(_scalar).tolist()
            assert left == right, column


def _scalar(value):
    """Integers of any width as int, instants as Timestamp: types differ, values must not."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    return pd.Timestamp(value) if isinstance(value, (pd.Timestamp, np.datetime64)) else value


def assert_same_validation(duck_result, spark_result) -> None:
    assert duck_result.summaries == spark_result.summaries
    assert [(p.table, p.column, p.rule, p.n_rows) for p in duck_result.problems] == [
        (p.table, p.column, p.rule, p.n_rows) for p in spark_result.problems
    ]


def test_messy_world_validates_and_builds_the_same(messy_world, spark):
    # Cut at a date inside the world, so that later rows are quarantined as future.
    (duck, d, df), (_, s, sf) = _both(
        messy_world, spark, not_after=pd.Timestamp("2026-03-01", tz="UTC"),
        as_of=pd.Timestamp("2026-02-01", tz="UTC"),
    )  # fmt: skip
    assert_same_validation(d, s)
    assert sum(t.rows_quarantined for t in d.summaries.values()) > 0  # the test has teeth
    assert all(t.reconciles for t in s.summaries.values())
    for name, rejected in d.quarantine.items():
        theirs = spark.execute(s.quarantine[name])
        ours = duck.execute(rejected)
        assert_same_rows(ours, theirs, key=list(ours.columns))
    assert len(df) > 500
    assert_same_rows(df, sf, key=["customer_id"])


def test_a_bounded_training_snapshot_keeps_the_same_customers_and_rows(messy_world, spark):
    # the sample is drawn on each engine from its own labels: the same MD5 ranks, the same rows
    as_of = pd.Timestamp("2026-02-01", tz="UTC")
    rows, facts = [], []
    for _, result, _ in _both(messy_world, spark):
        columns = CUSTOMER_V1.columns(set(result.tables))
        frame, sampled = _snapshot(
            result.tables, TASKS["propensity"], as_of, 30, CUSTOMER_V1, columns, (150, 9)
        )
        rows.append(frame)
        facts.append(sampled)
    assert facts[0] == facts[1] and facts[0] is not None and facts[0].sampled
    assert len(rows[0]) == 150
    assert_same_rows(rows[0], rows[1], key=["customer_id"])


def test_hand_built_edge_cases_build_the_same(tmp_path, spark):
    source = write_source(tmp_path / "edge", edge_case_tables())
    (_, d, df), (_, s, sf) = _both(source, spark, as_of=EDGE_AS_OF)
    assert_same_validation(d, s)
    assert_same_rows(df, sf, key=["customer_id"])
    # Spark's epoch drops fractions of a second; fractional days must not.
    assert float(sf.set_index("customer_id").loc["A", "recency_days"]).is_integer()


def test_sub_second_instants_and_text_sources_agree(tmp_path, spark):
    customers = pd.DataFrame(
        {
            "customer_id": ["Z", "Y", "Y", "X"],
            "signup_at": [
                "2024-01-01T00:00:00.250+05:00", "2024-01-02", "2024-01-03", "not a date",
            ],
            "email_opt_in": ["true", "false", "true", "true"],
            "unsubscribed_at": [None, None, None, None],
        }
    )  # fmt: skip
    orders = pd.DataFrame(
        {
            "order_id": ["z1", "z2", "z3", "w1"],
            "customer_id": ["Z", "Z", "Z", "W"],
            # 23:30 at UTC-2 is after the cutoff; 01:00 at UTC+2 is an hour before it.
            "ordered_at": [
                "2024-05-31T23:30:00-02:00", "2024-06-01T01:00:00.000250+02:00",
                "2024-03-01T10:00:00.5", "2024-03-01",
            ],
            "amount": ["10", "20", "abc", "5"],
        }
    )  # fmt: skip
    source = write_source(tmp_path / "csv", {"customers": customers, "orders": orders}, "csv")
    (_, d, df), (_, s, sf) = _both(source, spark, as_of=pd.Timestamp("2024-06-01", tz="UTC"))
    assert_same_validation(d, s)
    rules = {(p.table, p.rule) for p in s.problems}
    assert {("customers", "duplicate"), ("customers", "bad_type"), ("orders", "bad_type")} <= rules
    assert_same_rows(df, sf, key=["customer_id"])
    assert sf.set_index("customer_id").loc["Z", "frequency_lifetime"] == 1


def test_events_at_or_after_as_of_change_nothing_on_spark(tmp_path, spark):
    tables = edge_case_tables()
    at = pd.Timestamp(EDGE_AS_OF, tz="UTC")
    later = dict(tables)
    later["orders"] = pd.concat(
        [
            tables["orders"],
            orders_frame([("late1", "A", str(at), 500), ("late2", "B", "2024-09-01", 70)]),
        ],
        ignore_index=True,
    )
    later["email_events"] = pd.concat(
        [
            tables["email_events"],
            events_frame([("B", "c9", "opened", str(at)), ("A", "c9", "clicked", "2025-01-01")],
                         "campaign_id"),
        ],
        ignore_index=True,
    )  # fmt: skip
    later["web_events"] = pd.concat(
        [
            tables["web_events"],
            events_frame([("B", "s9", "add_to_cart", str(at + pd.Timedelta("1us")))],
                         "session_id"),
        ],
        ignore_index=True,
    )  # fmt: skip
    features = []
    for name, source_tables in (("before", tables), ("later", later)):
        source = write_source(tmp_path / name, source_tables)
        result = validate_source(spark, find_table_files(source), not_after=NOT_AFTER)
        assert result.rows_ok, result.problems
        spine = customer_spine(result.tables["customers"], EDGE_AS_OF)
        features.append(spark.execute(build_features(result.tables, spine)))
    assert_same_rows(features[0], features[1], key=["customer_id"])


def test_partitioned_folders_read_the_same_on_both_engines(tmp_path, spark):
    tables = edge_case_tables()
    flat = write_source(tmp_path / "flat", tables)
    lake = write_source(tmp_path / "lake", {k: v for k, v in tables.items() if k != "orders"})
    orders = tables["orders"].assign(ordered_date=tables["orders"]["ordered_at"].dt.date)
    for day, part in orders.groupby("ordered_date"):
        folder = lake / "orders" / f"ordered_date={day}"
        folder.mkdir(parents=True)
        part.drop(columns="ordered_date").to_parquet(folder / "part-0.parquet", index=False)
    assert find_table_files(lake)["orders"].path == lake / "orders"
    reference = None
    for con in (connect(threads=1), spark):
        for source in (flat, lake):
            result = validate_source(con, find_table_files(source), not_after=NOT_AFTER)
            assert result.summaries["orders"].rows_accepted == len(tables["orders"])
            spine = customer_spine(result.tables["customers"], EDGE_AS_OF)
            features = con.execute(build_features(result.tables, spine))
            if reference is None:
                reference = features
            assert_same_rows(reference, features, key=["customer_id"])


def test_spark_prunes_the_same_partitions_and_quarantines_the_same_misfiled_rows(tmp_path, spark):
    from tests.features.test_partitions import AS_OF as LAKE_AS_OF
    from tests.features.test_partitions import lake_and_flat

    _, lake, tables = lake_and_flat(tmp_path)
    misfiled = sorted((lake / "orders").iterdir())[0]  # read, and given the last order
    tables["orders"].iloc[[-1]].assign(order_id="MISFILED").to_parquet(
        misfiled / "part-misfiled.parquet", index=False
    )
    out = []
    for con in (connect(threads=1), spark):
        result = validate_source(
            con, find_table_files(lake), not_after=NOT_AFTER, read_until=LAKE_AS_OF
        )
        spine = customer_spine(result.tables["customers"], LAKE_AS_OF)
        out.append((result, con.execute(build_features(result.tables, spine))))
    (duck, duck_features), (theirs, spark_features) = out
    assert duck.skipped == theirs.skipped and len(duck.skipped) == 3
    assert_same_validation(duck, theirs)
    assert [p.rule for p in theirs.problems] == ["partition_date"]
    assert_same_rows(duck_features, spark_features, key=["customer_id"])


def test_quarantine_on_spark_is_a_folder_of_the_same_rows(messy_world, spark, tmp_path):
    cutoff = pd.Timestamp("2026-03-01", tz="UTC")
    (duck, d, _), (_, s, _) = _both(messy_world, spark, not_after=cutoff)
    ours = write_quarantine(d, tmp_path / "duck")
    theirs = write_quarantine(s, tmp_path / "spark")
    assert set(ours) == set(theirs) and ours
    for name, path in theirs.items():
        assert path.is_dir() and (path / "_SUCCESS").exists()
        assert_same_rows(
            pd.read_parquet(ours[name]), pd.read_parquet(path), key=list(s.quarantine[name].columns)
        )


def test_features_command_on_spark_writes_a_folder_equal_to_duckdbs_file(messy_world, tmp_path):
    runner = CliRunner()
    common = ["features", "--data", str(messy_world), "--as-of", "2026-02-01",
              "--quarantine", str(tmp_path / "q")]  # fmt: skip
    duck = runner.invoke(app, [*common, "--out", str(tmp_path / "duck.parquet")])
    assert duck.exit_code == 0, duck.output
    spark = runner.invoke(
        app,
        [*common, "--out", str(tmp_path / "spark.parquet"), "--engine", "spark",
         "--spark-master", "local[2]", "--spark-conf", "spark.sql.shuffle.partitions=2"],
    )  # fmt: skip
    assert spark.exit_code == 0, spark.output
    assert (tmp_path / "spark.parquet" / "_SUCCESS").exists()
    assert_same_rows(
        pd.read_parquet(tmp_path / "duck.parquet"),
        pd.read_parquet(tmp_path / "spark.parquet"),
        key=["customer_id"],
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--engine", "spark", "--spark-conf", "spark.executor.memory"], "KEY=VALUE"),
        (["--spark-master", "local[2]"], "apply to --engine spark"),
        (["--engine", "flink"], "flink"),
    ],
)
def test_engine_options_are_checked_before_anything_runs(tmp_path, args, message):
    result = CliRunner().invoke(
        app, ["validate", "--data", str(tmp_path), *args], terminal_width=200
    )
    assert result.exit_code == 2
    assert message in " ".join(result.output.replace("│", " ").split())
