"""The clusters benchmark: its synthetic data, and a tiny end-to-end run of both algorithms."""

from __future__ import annotations

import contextlib
import io
import json
import math

import numpy as np
import pytest

from benchmarks.bench_clusters import (
    ALGORITHMS,
    COLUMNS,
    GROUPS,
    behaviour_data,
    compare,
    evaluation_rows,
    fingerprint,
    main,
)
from upseg.features.sets import BEHAVIOUR_V1

CUSTOMERS = 5_000
EVAL_ROWS = 2_000


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Both algorithms on 5,000 customers, each in its own subprocess."""
    work = tmp_path_factory.mktemp("bench-clusters")
    out = work / "clusters.json"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        results = main(
            [
                "--customers", str(CUSTOMERS), "--eval-rows", str(EVAL_ROWS),
                "--workdir", str(work), "--out", str(out),
            ]
        )  # fmt: skip
    return results, json.loads(out.read_text()), printed.getvalue(), work


def _positive_finite(value) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def test_the_json_has_both_algorithms_with_times_memory_and_quality(run):
    results, written, _, _ = run
    assert written == json.loads(json.dumps(results))
    size = written["sizes"][str(CUSTOMERS)]
    assert set(size["runs"]) == set(size["compared"]) == set(ALGORITHMS)
    assert size["runs"]["kmeans"]["estimator"] == "KMeans"
    assert size["runs"]["minibatch"]["estimator"] == "MiniBatchKMeans"
    assert size["eval_rows"] == EVAL_ROWS and size["auto_picks"] == "kmeans"
    for r in size["runs"].values():
        for key in ("fit_seconds", "predict_seconds", "peak_rss_mb", "rss_with_data_mb", "inertia"):
            assert _positive_finite(r[key]), key
        assert r["rss_with_data_mb"] <= r["rss_after_fit_mb"] <= r["peak_rss_mb"]
        assert 0 < r["kmeans_fit_seconds"] < r["fit_seconds"]
        assert 0 < r["kmeans_predict_seconds"] < r["predict_seconds"]
        assert r["threads"] >= 1
        assert -1 <= r["silhouette"] <= 1
        assert r["calinski_harabasz"] > 0 and r["davies_bouldin"] > 0
        assert sum(r["sizes"]) == CUSTOMERS and len(r["sizes"]) == 8
    for c in size["compared"].values():
        for key in ("ari_baseline_sample", "ari_baseline_all", "ari_latent_sample"):
            assert -1 <= c[key] <= 1, key
        assert _positive_finite(c["fit_vs_baseline"]) and _positive_finite(
            c["peak_rss_vs_baseline"]
        )
    kmeans = size["compared"]["kmeans"]
    assert kmeans["fit_vs_baseline"] == kmeans["peak_rss_vs_baseline"] == 1.0
    assert kmeans["ari_baseline_all"] == pytest.approx(1.0)
    minibatch = size["compared"]["minibatch"]
    runs = size["runs"]
    assert minibatch["fit_vs_baseline"] == pytest.approx(
        runs["minibatch"]["fit_seconds"] / runs["kmeans"]["fit_seconds"]
    )


def test_the_json_records_the_data_it_measured(run):
    size = run[1]["sizes"][str(CUSTOMERS)]
    assert size["data"]["sha256"] == fingerprint(*behaviour_data(CUSTOMERS, 0))
    assert size["data"]["columns"] == list(BEHAVIOUR_V1.columns())
    assert sum(size["data"]["latent_shares"]) == pytest.approx(1.0)


def test_the_printed_tables_have_a_row_per_algorithm(run):
    printed = run[2]
    assert "machine:" in printed and "scikit-learn" in printed and "load average" in printed
    for algorithm in ALGORITHMS:
        assert printed.count(f"| {CUSTOMERS:,} | {algorithm} |") == 2  # cost and quality tables
    assert "x" in printed.split(f"| {CUSTOMERS:,} | minibatch |")[1].split("\n")[0]


def test_the_data_file_is_removed_after_the_run(run):
    work = run[3]
    assert not list(work.glob(".bench_clusters.*")) and not list(work.rglob("*.npy"))


def test_the_data_is_seeded_and_has_the_behaviour_columns():
    values, group = behaviour_data(3_000, seed=7)
    again, group_again = behaviour_data(3_000, seed=7)
    assert BEHAVIOUR_V1.columns() == COLUMNS
    assert values.shape == (3_000, len(COLUMNS)) and values.flags.c_contiguous
    assert np.array_equal(values, again, equal_nan=True) and np.array_equal(group, group_again)
    assert fingerprint(values, group) == fingerprint(again, group_again)
    assert fingerprint(values, group) != fingerprint(*behaviour_data(3_000, seed=8))
    assert set(np.unique(group)) == set(range(len(GROUPS)))


def test_values_are_missing_where_the_features_would_be():
    values, _ = behaviour_data(20_000, seed=1)
    col = {c: values[:, i] for i, c in enumerate(COLUMNS)}
    never_bought = np.isnan(col["avg_order_value"])
    for c in ("recency_days", "discount_order_share", "return_rate"):
        assert np.array_equal(np.isnan(col[c]), never_bought), c
    assert (col["frequency_365d"][never_bought] == 0).all()
    assert (col["monetary_365d"][never_bought] == 0).all()
    assert (col["category_count"][never_bought] == 0).all()
    assert (col["category_count"][~never_bought] >= 1).all()
    no_email = np.isnan(col["open_rate_365d"])
    assert np.array_equal(np.isnan(col["click_rate_365d"]), no_email)
    never_opened = np.isnan(col["days_since_last_open"])
    assert never_opened.any() and (np.nan_to_num(col["open_rate_365d"][never_opened]) == 0).all()
    never_visited = np.isnan(col["days_since_last_visit"])
    assert never_visited.any() and (col["sessions_365d"][never_visited] == 0).all()
    assert 0.2 < never_bought.mean() < 0.6 and 0.01 < no_email.mean() < 0.2
    for c in ("recency_days", "days_since_last_open", "days_since_last_visit"):
        known = ~np.isnan(col[c])
        assert (col[c][known] >= 0).all() and (col[c][known] <= col["tenure_days"][known]).all()
    for c in ("discount_order_share", "return_rate", "open_rate_365d", "click_rate_365d"):
        known = col[c][~np.isnan(col[c])]
        assert ((known >= 0) & (known <= 1)).all(), c
    assert (col["click_rate_365d"] <= col["open_rate_365d"])[~no_email].all()
    # skewed: the mean of spend and views is well above their median
    for c in ("monetary_365d", "product_views_365d", "sessions_365d"):
        assert col[c].mean() > 1.5 * np.median(col[c]), c


def test_the_evaluation_sample_is_seeded_distinct_and_sorted():
    rows = evaluation_rows(50_000, 10_000, seed=3)
    assert len(rows) == 10_000 and len(np.unique(rows)) == 10_000
    assert np.array_equal(rows, np.sort(rows)) and rows.max() < 50_000
    assert np.array_equal(rows, evaluation_rows(50_000, 10_000, seed=3))
    assert np.array_equal(evaluation_rows(500, 10_000, seed=3), np.arange(500))


def test_compare_gives_ratios_to_kmeans_and_label_agreement():
    times = ("fit_seconds", "kmeans_fit_seconds", "predict_seconds", "peak_rss_mb", "inertia")
    runs = {
        "kmeans": dict(zip(times, (10.0, 8.0, 2.0, 400.0, 5.0), strict=True)),
        "minibatch": dict(zip(times, (1.0, 2.0, 1.0, 300.0, 6.0), strict=True)),
    }
    group = np.repeat([0, 1, 2], 4)
    labels = {
        "kmeans": group + 1,
        "minibatch": np.repeat([3, 1, 2], 4),
    }  # relabelled, same partition
    out = compare(runs, labels, group, np.arange(0, 12, 2))
    assert out["minibatch"]["fit_vs_baseline"] == pytest.approx(0.1)
    assert out["minibatch"]["kmeans_fit_vs_baseline"] == pytest.approx(0.25)
    assert out["minibatch"]["predict_vs_baseline"] == pytest.approx(0.5)
    assert out["minibatch"]["peak_rss_vs_baseline"] == pytest.approx(0.75)
    assert out["minibatch"]["inertia_vs_baseline"] == pytest.approx(1.2)
    for algorithm in ALGORITHMS:
        for key in ("ari_baseline_sample", "ari_baseline_all", "ari_latent_sample"):
            assert out[algorithm][key] == pytest.approx(1.0)
