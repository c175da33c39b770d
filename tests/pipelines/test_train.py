"""``upseg train``: a real run into a local SQLite store, the gate, and what a user sees."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from tests.pipelines._invoke import invoke
from upseg.models.tracking import local_tracking_uri


def train(world_dir, workdir, *extra: str, task: str = "churn"):
    return invoke(
        "train", task, "--data", world_dir, "--as-of", "2026-04-01", "--snapshots", "2",
        "--workdir", workdir, *extra,
    )  # fmt: skip


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("work")


@pytest.fixture(scope="module")
def first(world_dir, workdir):
    return train(world_dir, workdir)


def test_first_run_becomes_champion_and_reports_against_the_baseline(first, workdir):
    assert first.exit_code == 0, first.output
    out = first.text
    assert "Registered churn version 1 as @champion: no champion yet" in out
    assert "recency baseline" in out and "roc_auc" in out and "lift_10" in out
    assert f"mlflow ui --backend-store-uri {local_tracking_uri(workdir)}" in out


def test_the_run_logs_what_a_data_scientist_needs(first, workdir, world_dir):
    client = MlflowClient(local_tracking_uri(workdir))
    version = client.get_model_version_by_alias("churn", "champion")
    run = client.get_run(version.run_id)
    assert run.data.tags["feature_set"] == "customer_v1"
    assert len(run.data.tags["data_fingerprint"]) == 64
    assert run.data.tags["code_version"]
    assert run.data.params["horizon_days"] == "90"
    for metric in ("roc_auc", "pr_auc", "log_loss", "brier", "lift_10", "capture_20"):
        assert f"test_{metric}" in run.data.metrics
        assert f"baseline_{metric}" in run.data.metrics
    assert run.data.metrics["test_roc_auc"] > run.data.metrics["baseline_roc_auc"]
    local = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, tracking_uri=local_tracking_uri(workdir)
    )
    names = {p.relative_to(local).as_posix() for p in Path(local).rglob("*")}
    for plot in ("roc", "pr", "calibration", "lift", "shap_summary"):
        assert f"plots/{plot}.png" in names
    assert {
        "tables/reliability.csv",
        "tables/shap_importance.csv",
        "tables/reasons_sample.csv",
        "features.json",
    } <= names
    fingerprint = json.loads((Path(local) / "data_fingerprint.json").read_text())
    assert fingerprint["source"] == str(world_dir.resolve())
    assert fingerprint["rows"]["customers"] == 6_000
    assert fingerprint["as_of"].startswith("2026-04-01")


def test_champion_loads_back_with_its_signature(first, workdir, world_tables):
    mlflow.set_tracking_uri(local_tracking_uri(workdir))
    mlflow.set_registry_uri(local_tracking_uri(workdir))
    info = mlflow.models.get_model_info("models:/churn@champion")
    assert info.signature is not None
    assert "recency_days" in info.signature.inputs.input_names()
    model = mlflow.sklearn.load_model("models:/churn@champion")
    assert model.feature_names_in_[0] == "tenure_days"


def test_an_equal_challenger_is_held_and_promote_forces_it(first, world_dir, workdir):
    again = train(world_dir, workdir)
    assert again.exit_code == 0, again.output
    assert "version 2 as @challenger: roc_auc" in again.text
    assert "does not beat the champion's" in again.text
    forced = train(world_dir, workdir, "--promote")
    assert "version 3 as @champion: promoted by request" in forced.text
    client = MlflowClient(local_tracking_uri(workdir))
    assert str(client.get_model_version_by_alias("churn", "champion").version) == "3"
    assert str(client.get_model_version_by_alias("churn", "challenger").version) == "2"
    held = client.get_model_version("churn", "2")
    assert "does not beat" in held.tags["gate_reason"]


def test_a_tuned_run_reports_its_study(world_dir, tmp_path):
    result = train(world_dir, tmp_path, "--trials", "3", task="propensity")
    assert result.exit_code == 0, result.output
    assert "Optuna study 'propensity-20260401-" in result.text
    assert "3 trials" in result.text
    assert (tmp_path / "optuna.db").exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_server_fails_before_any_work(world_dir, tmp_path, monkeypatch):
    uri = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    result = train(world_dir, tmp_path)
    assert result.exit_code == 1
    assert f"MLflow tracking server {uri} is unreachable" in result.text
    assert "nothing was trained" in result.text
    assert not (tmp_path / "optuna.db").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-of", "2023-07-10"], "no order before the earliest cutoff"),
        (["--as-of", "2026-06-25"], "need orders until 2026-09-23"),
        (["--as-of", "yesterday"], "--as-of must be a date YYYY-MM-DD"),
    ],
)
def test_bad_cutoffs_are_refused_with_a_reason(world_dir, tmp_path, args, message):
    result = train(world_dir, tmp_path, *args)
    assert result.exit_code != 0
    assert message in result.text
