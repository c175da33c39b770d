"""``upseg train clv``: real runs on the synthetic world into a local SQLite store.

Four training runs share one store, in order: the first (the champion), an
identical one, a forced one and one over another horizon. Each takes ~35 s on
idle cores (two to four times that when other jobs share them: LightGBM uses
every core), so they are module fixtures that every test of their outcome
reuses, and they fit only the ZILN LightGBM on one training snapshot over a
90-day horizon.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import AS_OF
from tests.pipelines._invoke import invoke
from upseg.models.clv.metrics import revenue_metrics
from upseg.models.dataset import clv_task, training_data
from upseg.models.registry import verified_model
from upseg.models.tracking import local_tracking_uri, set_tracking

HORIZON_DAYS = 90
DISCOUNT_RATE = 0.1
#: What ``revenue_metrics`` returns, so every predictor must log each of them.
METRICS = (
    "gini",
    "spearman",
    "top_decile_capture",
    "decile_error",
    "mae",
    "rmse",
    "bias_pct",
    "predicted_total",
    "realised_total",
)
#: The three predictors' names in the printed table, by their key in the metrics.
COLUMNS = {
    "probabilistic": "BG/NBD + Gamma-Gamma",
    "lightgbm": "LightGBM (ziln)",
    "baseline": "last year's spend",
}


def train_clv(world_dir: Path, workdir: Path, *extra: str):
    return invoke(
        "train", "clv", "--data", world_dir, "--as-of", "2026-04-01",
        "--horizon-days", HORIZON_DAYS, "--snapshots", "1", "--losses", "ziln",
        "--workdir", workdir, *extra,
    )  # fmt: skip


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("clv-work")


@pytest.fixture(scope="module")
def client(workdir):
    return MlflowClient(local_tracking_uri(workdir))


@pytest.fixture(scope="module")
def first(world_dir, workdir):
    return train_clv(world_dir, workdir)


@pytest.fixture(scope="module")
def logged(first, client):
    """Version 1 and its MLflow run."""
    assert first.exit_code == 0, first.output
    version = client.get_model_version("clv", "1")
    return version, client.get_run(version.run_id)


@pytest.fixture(scope="module")
def model(logged, workdir):
    """The registered version 1, loaded as the scorer loads it (its SHA-256 checked)."""
    set_tracking(local_tracking_uri(workdir))
    return verified_model(logged[0])


@pytest.fixture(scope="module")
def holdout(world_tables):
    """The run's training data rebuilt: the same cutoffs and the same split by customer hash."""
    return training_data(
        world_tables,
        clv_task(DISCOUNT_RATE),
        AS_OF,
        snapshots=1,
        horizon_days=HORIZON_DAYS,
    )


def test_a_first_run_prints_every_predictor_and_becomes_champion(first, logged, workdir):
    assert first.exit_code == 0, first.output
    out = first.text
    _, run = logged
    metrics, served = run.data.metrics, run.data.params["served"]
    assert (
        "clv: revenue in the 90 days after each cutoff, discounted at 0.1 a year; "
        "holdout cutoff 2026-04-01; rows train "
    ) in out
    header = [name + (" ←" if key == served else "") for key, name in COLUMNS.items()]
    assert "Held-out test customers" in out
    assert "┃ metric ┃ " + " ┃ ".join(header) + " ┃" in out
    # The printed table is the logged test metrics, predictor by predictor.
    for metric in ("gini", "spearman", "top_decile_capture", "decile_error", "mae", "rmse"):
        row = [f"{metrics[f'test_{key}_{metric}']:.4f}" for key in COLUMNS]
        assert f"{metric} {' '.join(row)}" in out, metric
    assert f"Serving {COLUMNS[served]} ({run.data.tags['chosen_by']}); predicted " in out
    spearman = metrics["truth_probabilistic_spearman"]
    assert (
        f"Against the world's expected revenue: BG/NBD + Gamma-Gamma Spearman {spearman:.3f}" in out
    )
    gini = metrics["test_served_gini"]
    assert f"Registered clv version 1 as @champion: no champion yet; gini {gini:.4f}." in out
    assert f"mlflow ui --backend-store-uri {local_tracking_uri(workdir)}" in out


def test_the_run_logs_params_metrics_of_every_predictor_and_tags(logged, client):
    version, run = logged
    params, metrics, tags = run.data.params, run.data.metrics, run.data.tags
    assert params["horizon_days"] == "90"
    assert params["discount_rate"] == "0.1"
    assert params["losses"] == "ziln" and params["lightgbm_loss"] == "ziln"
    served = params["served"]
    assert served in ("probabilistic", "lightgbm")
    assert tags["served"] == served and version.tags["served"] == served
    for name in ("bgnbd_r", "bgnbd_alpha", "bgnbd_a", "bgnbd_b"):
        assert float(params[name]) > 0, name
    for name in ("gamma_gamma_p", "gamma_gamma_q", "gamma_gamma_v"):
        assert float(params[name]) > 0, name
    for predictor in ("probabilistic", "lightgbm", "baseline", "served"):
        for metric in METRICS:
            assert f"test_{predictor}_{metric}" in metrics, (predictor, metric)
    for candidate in ("probabilistic", "lightgbm_ziln", "baseline"):
        for metric in METRICS:
            assert f"valid_{candidate}_{metric}" in metrics, (candidate, metric)
    # served is a copy of the chosen predictor's scores, and the choice follows valid gini
    for metric in METRICS:
        assert metrics[f"test_served_{metric}"] == metrics[f"test_{served}_{metric}"], metric
    ours, theirs = metrics["valid_lightgbm_ziln_gini"], metrics["valid_probabilistic_gini"]
    assert served == ("lightgbm" if ours > theirs else "probabilistic")
    assert tags["chosen_by"] == (
        f"valid gini: LightGBM (ziln) {ours:.4f}, BG/NBD + Gamma-Gamma {theirs:.4f}"
    )
    # The world's truth is there, so the run says how close the served CLV is to it.
    assert -1 <= metrics["truth_spearman"] <= 1
    assert 0 <= metrics["truth_top_decile_share"] <= 1
    assert metrics["truth_spearman"] > metrics["test_served_spearman"]  # truth is noiseless
    for predictor in ("probabilistic", "lightgbm", "baseline"):
        assert -1 <= metrics[f"truth_{predictor}_spearman"] <= 1
        assert 0 <= metrics[f"truth_{predictor}_top_decile_share"] <= 1
    assert metrics["truth_spearman"] == metrics[f"truth_{served}_spearman"]
    assert tags["task"] == "clv" and tags["feature_set"] == "customer_v1"
    assert tags["out_of_time"] == "true"
    assert tags["gate"] == "promoted" and version.tags["gate"] == "promoted"


def test_the_run_logs_tables_plots_and_the_data_fingerprint(logged, workdir, world_dir):
    version, run = logged
    local = Path(
        mlflow.artifacts.download_artifacts(
            run_id=run.info.run_id, tracking_uri=local_tracking_uri(workdir)
        )
    )
    names = {p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file()}
    assert {
        "tables/metrics_test.csv",
        "tables/metrics_valid.csv",
        "tables/deciles_probabilistic.csv",
        "tables/deciles_lightgbm.csv",
        "tables/deciles_baseline.csv",
        "tables/intervals.csv",
        "tables/training_counts.csv",
        "plots/decile_calibration.png",
        "data_fingerprint.json",
        "reference.json",
    } <= names
    # metrics_test.csv holds the logged test metrics of every predictor
    table = pd.read_csv(local / "tables" / "metrics_test.csv", index_col="predictor")
    assert set(table.index) == {"probabilistic", "lightgbm", "baseline", "served"}
    for predictor, row in table.iterrows():
        for metric in METRICS:
            expected = run.data.metrics[f"test_{predictor}_{metric}"]
            assert row[metric] == pytest.approx(expected, rel=1e-12), (predictor, metric)
    # Each decile table sums to the test customers' realised revenue.
    realised = run.data.metrics["test_served_realised_total"]
    for predictor in ("probabilistic", "lightgbm", "baseline"):
        deciles = pd.read_csv(local / "tables" / f"deciles_{predictor}.csv")
        assert deciles["realised_total"].sum() == pytest.approx(realised, rel=1e-9), predictor
    # The bootstrap intervals of the gate metric: each predictor, then each difference.
    intervals = pd.read_csv(local / "tables" / "intervals.csv").set_index("predictor")
    assert list(intervals.index[:3]) == ["probabilistic", "lightgbm", "baseline"]
    assert "lightgbm - baseline" in intervals.index
    for predictor in ("probabilistic", "lightgbm", "baseline"):
        estimate = intervals.loc[predictor, "estimate"]
        assert estimate == pytest.approx(run.data.metrics[f"test_{predictor}_gini"], rel=1e-9)
    assert (intervals["ci_low"] <= intervals["ci_high"]).all()
    fingerprint = json.loads((local / "data_fingerprint.json").read_text())
    assert fingerprint["source"] == str(world_dir.resolve())
    assert fingerprint["rows"]["customers"] == 6_000
    assert fingerprint["as_of"].startswith("2026-04-01")
    digest = run.data.tags["data_fingerprint"]
    assert len(digest) == 64 and fingerprint["sha256"] == digest
    assert version.tags["data_fingerprint"] == digest


def test_the_registered_model_predicts_clv_and_p_alive(model, logged, holdout):
    _, run = logged
    assert model.served == run.data.params["served"]
    assert (model.horizon_days, model.discount_rate) == (HORIZON_DAYS, DISCOUNT_RATE)
    rows = holdout.held_out()
    frame = model.predict_frame(rows)
    assert list(frame.columns) == ["clv", "p_alive"] and frame.index.equals(rows.index)
    assert (frame["clv"] >= 0).all() and np.isfinite(frame["clv"]).all()
    never = rows["frequency_lifetime"].fillna(0).eq(0)
    assert never.any() and (~never).any()
    assert frame["p_alive"].isna().equals(never)
    assert frame.loc[~never, "p_alive"].between(0, 1).all()


def test_the_served_test_metrics_are_the_registered_models_on_the_test_customers(
    model, logged, holdout
):
    _, run = logged
    test = holdout.part("test")
    fingerprint = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/data_fingerprint.json")
    assert len(test) == fingerprint["training_rows"]["test"]
    recomputed = revenue_metrics(test["label"].to_numpy(), model.predict(test))
    for metric, value in recomputed.items():
        logged_value = run.data.metrics[f"test_served_{metric}"]
        assert logged_value == pytest.approx(value, rel=1e-9, abs=1e-12), metric
    assert recomputed["realised_total"] == pytest.approx(test["label"].sum(), rel=1e-12)


@pytest.fixture(scope="module")
def second(logged, world_dir, workdir):
    return train_clv(world_dir, workdir)


@pytest.fixture(scope="module")
def forced(second, world_dir, workdir):
    return train_clv(world_dir, workdir, "--promote")


@pytest.fixture(scope="module")
def other_horizon(forced, world_dir, workdir):
    return train_clv(world_dir, workdir, "--horizon-days", "60")


def test_an_identical_run_ties_the_champion_and_is_held(second, logged, client):
    assert second.exit_code == 0, second.output
    _, run = logged
    gini = run.data.metrics["test_served_gini"]
    assert (
        f"Registered clv version 2 as @challenger: gini {gini:.4f} does not beat the "
        f"champion's {gini:.4f} by the margin 0."
    ) in second.text
    held = client.get_model_version("clv", "2")
    assert held.tags["gate"] == "held"
    assert "does not beat the champion's" in held.tags["gate_reason"]
    # The champion was scored on the new run's test customers: the same model, the same rows.
    again = client.get_run(held.run_id).data.metrics
    for metric in ("gini", "spearman", "mae", "rmse", "decile_error", "top_decile_capture"):
        assert again[f"champion_{metric}"] == pytest.approx(
            run.data.metrics[f"test_served_{metric}"], rel=1e-12
        ), metric


def test_promote_replaces_the_champion(forced, client):
    assert forced.exit_code == 0, forced.output
    assert "Registered clv version 3 as @champion: promoted by request (--promote); gini" in (
        forced.text
    )
    assert str(client.get_model_version_by_alias("clv", "champion").version) == "3"
    assert str(client.get_model_version_by_alias("clv", "challenger").version) == "2"


def test_a_champion_of_another_horizon_is_not_compared_and_kept(other_horizon, client):
    assert other_horizon.exit_code == 0, other_horizon.output
    out = other_horizon.text
    assert "clv: revenue in the 60 days after each cutoff" in out
    assert "Registered clv version 4 as @challenger: not compared: the champion (version 3)" in out
    assert "revenue over 90 days discounted at 0.1, this run over 60 days at 0.1" in out
    assert "use --promote to replace it." in out
    assert str(client.get_model_version_by_alias("clv", "champion").version) == "3"
    assert str(client.get_model_version_by_alias("clv", "challenger").version) == "4"
    assert client.get_model_version("clv", "4").tags["gate"] == "held"
    assert not any(
        k.startswith("champion_")
        for k in client.get_run(client.get_model_version("clv", "4").run_id).data.metrics
    )


def test_the_not_compared_reason_reads_as_one_sentence(other_horizon):
    assert (
        "not compared: the champion (version 3) predicts revenue over 90 days discounted at "
        "0.1, this run over 60 days at 0.1; use --promote to replace it."
    ) in other_horizon.text


def test_a_cutoff_too_late_for_the_horizon_is_refused_naming_it(
    other_horizon, world_dir, workdir, client
):
    before = len(client.search_model_versions("name = 'clv'"))
    result = train_clv(world_dir, workdir, "--as-of", "2026-06-01")
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    assert (
        "error: orders: labels as of 2026-06-01 need orders until 2026-08-30 (a 90-day "
        "horizon), but the latest order is at 2026-06-"
    ) in errors[0]
    assert errors[0].endswith("Choose an earlier --as-of or a shorter --horizon-days.")
    assert len(client.search_model_versions("name = 'clv'")) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--losses", "mse"], "error: --losses must be among ziln, tweedie (comma-separated); "
         "got 'mse'"),
        (["--losses", "ziln,mse"], "got 'ziln,mse'"),
        (["--metric", "bad"], "Invalid value for '--metric': Value error, 'bad' is not one of "
         "'gini', 'spearman', 'top_decile_capture', 'decile_error', 'mae', 'rmse'."),
        (["--discount-rate", "-0.1"], "Invalid value for '--discount-rate': Input should be "
         "greater than or equal to 0"),
        (["--horizon-days", "0"], "Invalid value for '--horizon-days'"),
    ],
)  # fmt: skip
def test_bad_options_exit_2_naming_the_option_before_any_work(world_dir, tmp_path, args, message):
    result = invoke(
        "train", "clv", "--data", world_dir, "--as-of", "2026-04-01", "--workdir", tmp_path, *args
    )
    assert result.exit_code == 2
    assert message in result.text
    assert not (tmp_path / "mlflow.db").exists()
