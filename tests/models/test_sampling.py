"""Bounded, stratified samples of training rows: exact sizes, kept shares, chosen by a hash.

The reference is written here independently: Python's ``hashlib`` MD5 of
``"<seed>:<id>"``, the lowest digests of each stratum in pandas. The engine's
sample must be exactly that set of customers.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import AS_OF
from upseg.models import sampling
from upseg.models.dataset import TASKS, training_data
from upseg.models.sampling import stratified_sample, stratum_quotas


def population_frame(n: int, rate: float, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:07d}" for i in range(n)],
            "label": rng.random(n) < rate,
            "spend": rng.gamma(2.0, 30.0, n),
        }
    )


def reference_sample(frame: pd.DataFrame, quotas: dict[str, int], seed: int) -> set[str]:
    digest = [hashlib.md5(f"{seed}:{c}".encode()).hexdigest() for c in frame["customer_id"]]
    ranked = frame.assign(digest=digest).sort_values(["digest", "customer_id"])
    kept: set[str] = set()
    for value, rows in ranked.groupby("label"):
        kept |= set(rows["customer_id"].head(quotas[str(value).lower()]))
    return kept


def table(frame: pd.DataFrame) -> ibis.Table:
    return ibis.duckdb.connect().create_table("rows", frame)


@given(
    counts=st.lists(st.integers(0, 10_000), min_size=1, max_size=5),
    max_rows=st.integers(1, 20_000),
)
@settings(max_examples=200, deadline=None)
def test_quotas_add_up_to_the_bound_and_keep_each_share_within_one_row(counts, max_rows):
    population = {f"s{i}": n for i, n in enumerate(counts)}
    quotas = stratum_quotas(population, max_rows)
    total = sum(counts)
    assert sum(quotas.values()) == min(total, max_rows)
    for s, n in population.items():
        assert 0 <= quotas[s] <= n
        if total > max_rows:
            assert abs(quotas[s] - n * max_rows / total) < 1


@pytest.mark.parametrize(
    ("n", "rate", "max_rows", "seed"),
    [(20_000, 0.07, 1_500, 3), (5_000, 0.5, 4_999, 0), (8_000, 0.002, 700, 11)],
)
def test_the_sample_is_the_lowest_digests_of_each_stratum(n, rate, max_rows, seed):
    frame = population_frame(n, rate)
    sample, facts = stratified_sample(table(frame), max_rows=max_rows, seed=seed, stratum="label")
    rows = sample.execute()
    assert len(rows) == max_rows == facts.as_dict()["rows_after"]
    assert facts.population == {
        "true": int(frame["label"].sum()),
        "false": int((~frame["label"]).sum()),
    }
    assert set(rows["customer_id"]) == reference_sample(frame, facts.kept, seed)
    # the positive rate is the population's to within one row
    assert abs(rows["label"].sum() - frame["label"].mean() * max_rows) < 1
    # kept rows are whole rows of the table
    merged = rows.merge(frame, on="customer_id", suffixes=("", "_source"))
    np.testing.assert_array_equal(merged["spend"], merged["spend_source"])


def test_the_seed_chooses_the_rows_and_row_order_does_not():
    frame = population_frame(10_000, 0.1)
    kept = {
        seed: set(
            stratified_sample(table(frame), max_rows=1_000, seed=seed, stratum="label")[
                0
            ].execute()["customer_id"]
        )
        for seed in (0, 1)
    }
    shuffled = frame.sample(frac=1.0, random_state=5)
    again = stratified_sample(table(shuffled), max_rows=1_000, seed=0, stratum="label")[0]
    assert set(again.execute()["customer_id"]) == kept[0]
    assert len(kept[0] & kept[1]) < 300  # about 10% overlap expected by chance


def test_a_table_within_the_bound_is_returned_whole():
    frame = population_frame(500, 0.2)
    rows = table(frame)
    sample, facts = stratified_sample(rows, max_rows=500, seed=0, stratum="label")
    assert sample is rows and not facts.sampled
    assert facts.kept == facts.population


def test_a_prefilter_that_keeps_too_few_rows_falls_back_to_the_exact_ranking(monkeypatch):
    frame = population_frame(6_000, 0.1)
    # a pre-filter at a third of the share it needs leaves every stratum short
    monkeypatch.setattr(
        sampling, "_prefilter_share", lambda kept, population: kept / population / 3
    )
    sample, facts = stratified_sample(table(frame), max_rows=900, seed=2, stratum="label")
    rows = sample.execute()
    assert len(rows) == 900
    assert set(rows["customer_id"]) == reference_sample(frame, facts.kept, 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_rows": 0, "stratum": "label"}, "max_rows must be at least 1; got 0"),
        ({"max_rows": 10, "stratum": "class"}, "no column 'class'; its columns are"),
        ({"max_rows": 10, "stratum": "label", "key": "id"}, "no column 'id'"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        stratified_sample(table(population_frame(50, 0.5)), seed=0, **kwargs)


# ---------------------------------------------------------------------- training data


@pytest.fixture(scope="module")
def whole(world_tables):
    return training_data(world_tables, TASKS["propensity"], AS_OF, snapshots=2)


def test_bounded_training_data_is_a_stratified_subset_of_the_whole(world_tables, whole):
    bounded = training_data(
        world_tables, TASKS["propensity"], AS_OF, snapshots=2, max_rows=3_000, seed=4
    )
    frame, full = bounded.frame, whole.frame
    assert len(frame) == 3_000 and bounded.sampled
    for cutoff, rows in frame.groupby("as_of"):
        population = full[full["as_of"] == cutoff]
        assert len(rows) == 1_000
        positives = population["label"].gt(0).mean() * 1_000
        assert abs(rows["label"].gt(0).sum() - positives) < 1
        facts = bounded.sample[cutoff.isoformat()]
        assert sum(facts.population.values()) == len(population)
    # each kept row is the row the whole data has: features built on the whole base
    # (quintile scores rank every customer), then sampled
    keys = ["as_of", "customer_id"]
    merged = frame.merge(full, on=keys, suffixes=("", "_whole"))
    assert len(merged) == len(frame)
    for column in (*bounded.features, "label", "role"):
        pd.testing.assert_series_equal(
            merged[column], merged[f"{column}_whole"], check_names=False, check_categorical=False
        )
    record = bounded.fingerprint(Path("."), "digest", {})
    assert record["sample"][AS_OF.isoformat()]["rows_after"] == 1_000
    params = bounded.sample_params()
    assert params["sample_max_rows"] == 3_000 and params["sample_seed"] == 4
    assert params["sample_rows_kept"] == 3_000
    assert params["sample_rows_before"] == len(full)
    assert any("bounded at 3,000" in note for note in bounded.warnings)


def test_a_bound_above_the_rows_changes_nothing(world_tables, whole):
    bounded = training_data(
        world_tables, TASKS["propensity"], AS_OF, snapshots=2, max_rows=10_000_000
    )
    pd.testing.assert_frame_equal(bounded.frame, whole.frame)
    assert not bounded.sampled and whole.sample_params() == {"sample_max_rows": "none"}
    with pytest.raises(ValueError, match=r"at least the number of cutoffs \(3: snapshots"):
        training_data(world_tables, TASKS["propensity"], AS_OF, snapshots=2, max_rows=2)
