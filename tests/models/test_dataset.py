"""Training data: stacked monthly snapshots, split out of time, refused when unsound."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import AS_OF, customers_frame, orders_frame, write_source
from upseg.features.sources import connect
from upseg.models.dataset import (
    TASKS,
    TrainingDataError,
    customer_buckets,
    snapshot_dates,
    training_data,
)
from upseg.pipelines.jobs import load_source


def utc(day: str) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC")


@pytest.mark.parametrize(
    ("horizon", "snapshots", "expected"),
    [
        (30, 3, ["2026-01-01", "2026-02-01", "2026-03-01"]),
        (90, 2, ["2025-12-01", "2026-01-01"]),
        (31, 1, ["2026-03-01"]),  # [03-01, 04-01) is exactly 31 days: it closes in time
        (32, 1, ["2026-02-01"]),
        (60, 0, []),
    ],
)
def test_snapshot_dates_close_their_label_window_by_the_holdout(horizon, snapshots, expected):
    dates = snapshot_dates(AS_OF, snapshots=snapshots, horizon_days=horizon)
    assert dates == [utc(d) for d in expected]
    assert all(d + pd.Timedelta(days=horizon) <= AS_OF for d in dates)


def test_customer_buckets_are_stable_and_independent_of_order():
    ids = pd.Series([f"c{i}" for i in range(1000)])
    buckets = customer_buckets(ids, 4)
    assert set(buckets) == {0, 1, 2, 3}
    shuffled = ids.sample(frac=1, random_state=1)
    np.testing.assert_array_equal(customer_buckets(shuffled, 4), buckets[shuffled.index])
    assert abs((buckets == 0).mean() - 0.25) < 0.05


@pytest.fixture(scope="module")
def churn_data(world_tables):
    return training_data(world_tables, TASKS["churn"], AS_OF, snapshots=2)


def test_training_rows_are_out_of_time(churn_data):
    frame = churn_data.frame
    train, valid, test = (churn_data.part(r) for r in ("train", "valid", "test"))
    horizon = pd.Timedelta(days=churn_data.horizon_days)
    assert (train["as_of"] + horizon <= AS_OF).all()
    assert (valid["as_of"] == AS_OF).all() and (test["as_of"] == AS_OF).all()
    assert set(valid["customer_id"]).isdisjoint(test["customer_id"])
    assert sorted(train["as_of"].unique()) == list(churn_data.train_as_of)
    assert len(frame) == len(train) + len(valid) + len(test)
    assert churn_data.out_of_time


def test_churn_rows_are_the_active_customers_only(churn_data, world_tables):
    orders = world_tables["orders"].execute()
    done = orders[orders["status"] == "completed"]
    for cutoff, rows in churn_data.frame.groupby("as_of"):
        window = done[
            (done["ordered_at"] < cutoff) & (done["ordered_at"] >= cutoff - pd.Timedelta(days=365))
        ]
        assert set(rows["customer_id"]) == set(window["customer_id"])
        later = done[
            (done["ordered_at"] >= cutoff)
            & (done["ordered_at"] < cutoff + pd.Timedelta(days=churn_data.horizon_days))
        ]
        expected = ~rows["customer_id"].isin(later["customer_id"])
        np.testing.assert_array_equal(rows["label"].to_numpy(), expected.astype(int).to_numpy())


def test_features_are_the_feature_set_columns(churn_data):
    assert churn_data.features == churn_data.feature_set.columns(
        {"customers", "orders", "email_events", "web_events"}
    )
    assert set(churn_data.categorical) <= set(churn_data.features)
    counts = churn_data.counts()
    assert counts["rows"].sum() == len(churn_data.frame)


def test_a_customer_split_when_no_snapshot_fits(world_tables):
    data = training_data(world_tables, TASKS["propensity"], AS_OF, snapshots=0)
    assert not data.out_of_time and data.train_as_of == ()
    assert (data.frame["as_of"] == AS_OF).all()
    shares = data.frame["role"].value_counts(normalize=True)
    assert abs(shares["train"] - 0.5) < 0.03 and abs(shares["test"] - 0.25) < 0.03
    assert any("not out of time" in w for w in data.warnings)


@pytest.mark.parametrize(
    ("as_of", "snapshots", "horizon", "message"),
    [
        ("2023-07-15", 1, 30, r"orders: no order before the earliest cutoff 2023-06-15"),
        ("2026-06-20", 1, 30, r"labels as of 2026-06-20 need orders until 2026-07-20"),
    ],
)
def test_cutoffs_without_history_or_labels_are_refused(
    world_tables, as_of, snapshots, horizon, message
):
    with pytest.raises(TrainingDataError, match=message):
        training_data(
            world_tables, TASKS["propensity"], utc(as_of), snapshots=snapshots, horizon_days=horizon
        )


def test_too_few_positives_is_refused_naming_the_split(tmp_path):
    customers = customers_frame([(f"c{i}", "2025-01-01") for i in range(400)])
    orders = orders_frame(
        [(f"o{i}", f"c{i}", "2025-06-01", 10.0) for i in range(400)]
        + [(f"p{i}", f"c{i}", "2026-03-28", 10.0) for i in range(10)]
    )
    source = write_source(tmp_path / "src", {"customers": customers, "orders": orders})
    tables = load_source(source, con=connect()).result.tables
    with pytest.raises(
        TrainingDataError,
        match=r"Too few labels of one class for the propensity model.*test: \d+ positive",
    ):
        training_data(tables, TASKS["propensity"], utc("2026-03-01"), snapshots=0)


def test_a_constant_feature_is_named_in_a_warning(tmp_path):
    rng = np.random.default_rng(0)
    customers = customers_frame([(f"c{i}", "2025-01-01") for i in range(800)])
    rows = [(f"o{i}", f"c{i % 800}", f"2025-{1 + i % 12:02d}-15", 10.0) for i in range(1600)]
    rows += [(f"p{i}", f"c{i}", "2026-03-28", 10.0) for i in rng.choice(800, 300, replace=False)]
    source = write_source(tmp_path / "src", {"customers": customers, "orders": orders_frame(rows)})
    tables = load_source(source, con=connect()).result.tables
    data = training_data(tables, TASKS["propensity"], utc("2026-03-01"), snapshots=0)
    note = next(w for w in data.warnings if "constant" in w)
    assert "tenure_days" in note and "email_opt_in" in note
