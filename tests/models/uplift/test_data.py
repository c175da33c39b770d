"""Experiment data: a campaign of the contract or a one-row-per-customer table, checked alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import customers_frame, orders_frame, write_source
from upseg.features.sources import connect
from upseg.models.uplift.data import ExperimentError, campaign_data, table_data
from upseg.pipelines.jobs import load_source


def experiment(n: int = 1_200, seed: int = 0, **columns) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "customer": [f"c{i}" for i in range(n)],
            "arm": rng.choice(["none", "A", "B"], n),
            "spend_last_year": rng.gamma(2, 50, n),
            "channel": rng.choice(["web", "phone"], n),
            "bought": rng.binomial(1, 0.2, n),
        }
    )
    return frame.assign(**columns)


def write(frame: pd.DataFrame, tmp_path: Path) -> Path:
    path = tmp_path / "experiment.csv"
    frame.to_csv(path, index=False)
    return path


def test_a_table_becomes_features_arm_and_outcome(tmp_path):
    data = table_data(
        write(experiment(), tmp_path),
        treatment="arm",
        control="none",
        outcome="bought",
        id_column="customer",
    )
    assert data.features == ("spend_last_year", "channel")
    assert data.categorical == ("channel",)
    assert data.variants == ("A", "B") and data.control == "none"
    assert data.kind == "binary"
    assert list(data.frame.columns[:3]) == ["id", "arm", "outcome"]


def test_a_continuous_outcome_is_recognised(tmp_path):
    frame = experiment().assign(revenue=lambda f: f["bought"] * 40.0)
    data = table_data(
        write(frame, tmp_path),
        treatment="arm",
        control="none",
        outcome="revenue",
        exclude=("bought",),
    )
    assert data.kind == "continuous"
    assert "bought" not in data.features and data.ignored == ("bought",)


@pytest.mark.parametrize(
    ("change", "kwargs", "message"),
    [
        (None, {"control": "nobody"}, r"control value 'nobody' is not in the arm column"),
        (None, {"treatment": "group"}, r"no column --treatment 'group'"),
        (lambda f: f.assign(arm="none"), {}, r"every customer is in 'none'; no arm was treated"),
        (
            lambda f: f.assign(arm=np.where(np.arange(len(f)) < 100, "A", "none")),
            {},
            r"arm\(s\) with fewer than 300 customers: 'A' \(100\)",
        ),
        (lambda f: f.assign(bought=0), {}, r"outcome 'bought' has one value only"),
        (
            lambda f: f.assign(bought=np.where(f["arm"] == "B", 0, f["bought"])),
            {},
            r"outcome 'bought' has one class only in arm 'B'",
        ),
        (
            lambda f: f.assign(clicked=(f["arm"] != "none") & (np.arange(len(f)) % 3 == 0)),
            {},
            r"feature 'clicked' differs between 'none' \(mean 0\) and 'A'.*not pre-treatment",
        ),
    ],
)
def test_unsound_experiments_are_refused(tmp_path, change, kwargs, message):
    frame = experiment(n=3_000)
    if change is not None:
        frame = change(frame)
    options = {"treatment": "arm", "control": "none", "outcome": "bought", **kwargs}
    with pytest.raises(ExperimentError, match=message):
        table_data(write(frame, tmp_path), **options)


def test_hillstrom_other_outcomes_are_caught_as_post_treatment(shared_data):
    hillstrom = shared_data("hillstrom.csv")
    with pytest.raises(ExperimentError, match=r"feature 'conversion' differs.*feature 'spend'"):
        table_data(hillstrom, treatment="segment", control="No E-Mail", outcome="visit")
    data = table_data(
        hillstrom,
        treatment="segment",
        control="No E-Mail",
        outcome="visit",
        exclude=("conversion", "spend"),
    )
    assert len(data.frame) == 64_000
    assert set(data.categorical) == {"history_segment", "zip_code", "channel"}
    assert data.variants == ("Mens E-Mail", "Womens E-Mail")


def test_a_campaign_gives_features_as_of_assignment(world_tables):
    data = campaign_data(world_tables, "C2026-06-SUMMER")
    assert data.variants == ("discount_10", "new_arrivals") and data.kind == "binary"
    assignments = world_tables["campaign_assignments"].execute()
    assert len(data.frame) == len(assignments)
    assert set(data.frame["id"]) == set(assignments["customer_id"])
    revenue = campaign_data(world_tables, "C2026-06-SUMMER", outcome="revenue")
    assert revenue.kind == "continuous"
    assert (revenue.frame["outcome"] >= 0).all()


def test_an_unknown_campaign_names_the_known_ones(world_tables):
    with pytest.raises(
        ExperimentError, match=r"no customer is assigned to campaign 'C1'.*C2026-06-SUMMER"
    ):
        campaign_data(world_tables, "C1")


def test_assignment_before_signup_is_refused(tmp_path):
    n = 900
    customers = customers_frame([(f"c{i}", "2026-01-01") for i in range(n)])
    customers.loc[0, "signup_at"] = pd.Timestamp("2026-03-05", tz="UTC")
    orders = orders_frame([(f"o{i}", f"c{i}", "2026-03-20", 10.0) for i in range(n)])
    assignments = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "campaign_id": "K",
            "variant": np.where(np.arange(n) % 2, "A", "control"),
            "assigned_at": pd.Timestamp("2026-03-01", tz="UTC"),
        }
    )
    source = write_source(
        tmp_path / "src",
        {"customers": customers, "orders": orders, "campaign_assignments": assignments},
    )
    tables = load_source(source, con=connect()).result.tables
    with pytest.raises(ExperimentError, match=r"1 customer\(s\) of 'K' were assigned before"):
        campaign_data(tables, "K")
