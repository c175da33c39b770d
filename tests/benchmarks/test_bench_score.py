"""The batch-scoring benchmark, end to end on a tiny world and population."""

from __future__ import annotations

import json
import math

import pandas as pd
import pyarrow.parquet as pq
import pytest

from benchmarks.bench_score import (
    MODEL_PARTS,
    REASONS,
    SCORE_CHUNK_PARTS,
    STAGES,
    main,
    markdown_table,
    resample_population,
)
from upseg.serving.batch import OUTPUT_COLUMNS

CUSTOMERS = 5_000


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Three models trained on 3,000 customers; 5,000 resampled customers scored in chunks."""
    work = tmp_path_factory.mktemp("bench-score")
    out = work / "score.json"
    results = main(
        [
            "--world",
            "3000",
            "--customers",
            str(CUSTOMERS),
            "--chunk-rows",
            "2000",
            "--budget-share",
            "0.1",
            "--workdir",
            str(work),
            "--out",
            str(out),
            "--keep-audience",
            "--uplift-approaches",
            "t_learner",
        ]  # fmt: skip
    )
    return results, json.loads(out.read_text()), work


def _positive_finite(value) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def test_the_json_holds_every_figure_of_the_report(run):
    results, written, _ = run
    assert written == json.loads(json.dumps(results))
    assert written["customers"] == [CUSTOMERS]
    assert written["reasons"] == list(REASONS) and written["reasons_method"] == "hybrid"
    assert set(written["models"]) == {"churn", "propensity", "uplift"}
    assert all(m["trees"] > 0 and m["features"] > 0 for m in written["models"].values())
    # A T-learner per variant: two 200-tree models each, both walked for every customer.
    uplift = written["models"]["uplift"]
    assert uplift["approach"] == "t_learner"
    assert uplift["trees_per_customer"] == uplift["trees"] == 2 * 2 * 200
    assert set(written["populations"][str(CUSTOMERS)]) == set(REASONS)
    for r in written["populations"][str(CUSTOMERS)].values():
        for key in ("customers_per_second", "bare_customers_per_second"):
            assert _positive_finite(r[key]), key
        assert math.isfinite(r["overhead"])
        scorer, bare = r["scorer"], r["bare"]
        for key in ("seconds", "seconds_without_loading", "peak_rss_mb", "rss_after_loading_mb"):
            assert _positive_finite(scorer[key]), key
        for key in ("seconds", "peak_rss_mb", "encoding_seconds_not_counted"):
            assert _positive_finite(bare[key]), key
        assert set(scorer["stages"]) == set(STAGES)
        assert set(scorer["score_chunk_parts"]) == set(SCORE_CHUNK_PARTS)
        assert sum(scorer["stages"].values()) <= scorer["seconds"]
        assert sum(scorer["score_chunk_parts"].values()) <= scorer["stages"]["score_features_file"]
        assert r["model_work_in_scorer_seconds"] == pytest.approx(
            sum(scorer["score_chunk_parts"][p] for p in MODEL_PARTS)
        )
        assert r["overhead"] == pytest.approx(
            scorer["seconds_without_loading"] / bare["seconds"] - 1
        )
    # Only the overhead target can be judged without 1,000,000 and 5,000,000 customers.
    assert set(written["targets"]) == {"overhead"}
    assert written["stopped"] is None
    assert len(written["load_average"]["before"]) == 3


def test_the_baseline_does_the_scorers_model_work_on_the_same_rows(run):
    modes = run[1]["populations"][str(CUSTOMERS)]
    for mode, r in modes.items():
        scorer, bare = r["scorer"], r["bare"]
        # churn and propensity predict; two T-learners of two boosters each
        assert bare["calls_per_chunk"] == {"churn": 1, "propensity": 1, "uplift": 4}, mode
        assert {"churn_predict", "propensity_predict", "uplift_predict"} <= set(bare["by_call"])
        assert {"propensity_pred_leaf", "propensity_path_lookup"} <= set(bare["by_call"])
        assert bare["customers"] == CUSTOMERS
        assert bare["max_abs_difference_vs_scorer"] < 1e-9
        assert bare["explained"] == scorer["explained"]
        assert bare["explained_exactly"] == scorer["explained_exactly"]
        assert 0 < scorer["explained_exactly"] < scorer["explained"]
    assert modes["all"]["scorer"]["explained"] == CUSTOMERS
    targeted = modes["targeted"]["scorer"]
    acted_on = targeted["actions"].get("send", 0) + targeted["actions"].get("holdout", 0)
    # Explained: whom the policy would send before the budget; the budget then cuts.
    assert acted_on <= targeted["explained"] < CUSTOMERS


def test_the_hybrid_reasons_are_compared_with_exact_treeshap(run):
    agreement = run[1]["agreement"]
    assert agreement["customers"] > 500
    assert agreement["top_driver"] >= 0.95
    assert agreement["sign_of_driver"] >= 0.99
    assert 0 < agreement["exact_share"] < 1
    assert "Hybrid reasons against exact TreeSHAP" in markdown_table(run[0])


def test_the_audience_has_one_row_per_customer(run):
    _, written, work = run
    for mode, r in written["populations"][str(CUSTOMERS)].items():
        scorer = r["scorer"]
        assert scorer["customers_scored"] == scorer["audience_rows"] == CUSTOMERS
        assert scorer["audience_unique_ids"] == CUSTOMERS
        assert sum(scorer["actions"].values()) == CUSTOMERS
        assert scorer["actions"].get("send", 0) <= int(0.1 * CUSTOMERS)
        audience = pd.read_parquet(work / f"score_audience_{CUSTOMERS}_{mode}.parquet")
        assert len(audience) == CUSTOMERS and audience["customer_id"].is_unique
        assert [c for c in audience.columns if not c.startswith("uplift_")] == list(OUTPUT_COLUMNS)
        assert audience["churn_probability"].between(0, 1).all()
        acted_on = audience["action"].isin(["send", "holdout"])
        assert audience.loc[acted_on, "reasons"].str.len().gt(0).all()
        explained = audience["reasons"].str.len().gt(0)
        assert explained.sum() == scorer["explained"]
        if mode == "all":
            assert explained.all()


def test_the_markdown_table_has_a_row_per_size_and_stage(run):
    results = run[0]
    table = markdown_table(results)
    assert f"| {CUSTOMERS:,} | targeted |" in table and f"| {CUSTOMERS:,} | all |" in table
    assert all(f"| {stage} |" in table for stage in STAGES)


def test_a_population_draws_feature_rows_under_new_unique_ids(run, tmp_path):
    work = run[2]
    features = next(work.glob("score_world_*")) / "features.parquet"
    out = resample_population(features, tmp_path / "population.parquet", 1_234, seed=3)
    source = pd.read_parquet(features)
    population = pd.read_parquet(out)
    assert pq.read_schema(out) == pq.read_schema(features)
    assert len(population) == 1_234 and population["customer_id"].is_unique
    assert population["customer_id"].iloc[0] == "P000000000"
    drawn = pd.util.hash_pandas_object(population.drop(columns="customer_id"), index=False)
    known = pd.util.hash_pandas_object(source.drop(columns="customer_id"), index=False)
    assert drawn.isin(known).all()
    assert drawn.nunique() > 100  # drawn across the source, not one row repeated


def test_boosters_of_an_s_learner_are_timed_through_its_own_predict():
    from collections import defaultdict

    import numpy as np

    from benchmarks.bench_score import _boosters, _timed_boosters
    from upseg.models.uplift.model import UpliftModel

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(2_000, 3)), columns=["a", "b", "c"])
    arm = rng.choice(["control", "A", "B"], 2_000)
    y = (rng.random(2_000) < 0.2 + 0.1 * (arm != "control")).astype(float)
    model = UpliftModel(approach="s_learner", outcome="binary", control="control").fit(X, y, arm)
    matrix = model.encode(X)
    expected = model.predict_frame(matrix)
    boosters = _boosters(model)
    seconds: dict[str, float] = defaultdict(float)
    with _timed_boosters(boosters, seconds, "uplift_predict") as outputs:
        timed = model.predict_frame(matrix)
    pd.testing.assert_frame_equal(timed, expected)
    # Two variants, each booster read with the treatment column set to 1, then to 0.
    assert len(outputs) == 4 and all(o.shape == (2_000,) for o in outputs)
    assert seconds["uplift_predict"] > 0
    assert all("predict" not in vars(b) for b in boosters)  # the class's method again
