"""``upseg retrain`` and ``upseg score --config``: one configuration, a real local registry."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.pipelines._invoke import invoke
from upseg.models.tracking import local_tracking_uri
from upseg.pipelines.retrain_job import RETRAIN_EXPERIMENT
from upseg.synthetic import CAMPAIGN_ID

AS_OF = "2026-03-01"


def _config(world_dir, work, **models) -> dict:
    return {
        "version": 1,
        "data": {"path": str(world_dir)},
        "tracking": {"workdir": str(work)},
        "models": {
            "churn": {"trials": 0, "snapshots": 1},
            "propensity": {"trials": 0, "snapshots": 1},
            "uplift": {"campaign": CAMPAIGN_ID, "approaches": ["t_learner"], "n_folds": 2},
            # the world ends 2026-07-01: a quarter's revenue is all it can label
            "clv": {"horizon_days": 90, "snapshots": 1, "losses": ["ziln"]},
            "clusters": {"k": 4, "sample": 3000, "eval_sample": 1000, "resamples": 1},
            **models,
        },
        # the test world is small: promote whatever is trained so that scoring has champions
        "promotion": {"force": True},
        "scoring": {"campaign": "TEST-{as_of:%Y-%m}", "out": "audience-{as_of:%Y-%m-%d}.parquet"},
        "reports": {"out": "reports"},
    }


@pytest.fixture(scope="module")
def retrained(world_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("retrain")
    path = work / "upseg.yaml"
    path.write_text(yaml.safe_dump(_config(world_dir, work)))
    first = invoke("retrain", "--config", path, "--as-of", AS_OF)
    return first, path, work


def _versions(work) -> dict[str, list[str]]:
    client = MlflowClient(local_tracking_uri(work))
    return {
        name: sorted(str(v.version) for v in client.search_model_versions(f"name = '{name}'"))
        for name in ("churn", "propensity", "uplift", "clv", "clusters")
    }


def test_retrain_trains_every_model_under_one_parent_run(retrained):
    result, _, work = retrained
    assert result.exit_code == 0, result.output
    assert _versions(work) == {
        "churn": ["1"], "propensity": ["1"], "uplift": ["1"], "clv": ["1"], "clusters": ["1"]
    }  # fmt: skip
    client = MlflowClient(local_tracking_uri(work))
    experiment = client.get_experiment_by_name(RETRAIN_EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 5
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    assert {c.data.tags["task"] for c in children} == {
        "churn", "propensity", "uplift", "clv", "clusters"
    }  # fmt: skip
    assert {c.data.tags["feature_set"] for c in children} == {"customer_v1"}
    assert parents[0].data.tags["as_of"].startswith(AS_OF)
    logged = {a.path for a in client.list_artifacts(parents[0].info.run_id)}
    assert {"config.json", f"retrain-{AS_OF}.md", f"retrain-{AS_OF}.json"} <= logged


def test_the_report_says_what_was_trained_and_promoted(retrained):
    _, _, work = retrained
    report = (work / "reports" / f"retrain-{AS_OF}.md").read_text()
    assert "Trained 5 model(s) (churn, propensity, uplift, clv, clusters)" in report
    assert "| clusters | trained | 1 | silhouette |" in report
    assert "| churn | trained | 1 | roc_auc |" in report
    summary = json.loads((work / "reports" / f"retrain-{AS_OF}.json").read_text())
    assert summary["models"]["propensity"]["promoted"] is True
    assert summary["drift"]["note"].startswith("no propensity model trained before this run")
    tables = summary["data"]["tables"]
    assert all(t["read"] == t["accepted"] + t["quarantined"] for t in tables.values())


def test_a_rerun_for_the_same_month_changes_nothing_in_the_registry(retrained):
    _, path, work = retrained
    client = MlflowClient(local_tracking_uri(work))
    names = ("churn", "propensity", "uplift", "clv", "clusters")
    aliases = {n: client.get_registered_model(n).aliases for n in names}
    again = invoke("retrain", "--config", path, "--as-of", AS_OF)
    assert again.exit_code == 0, again.output
    assert again.text.count("unchanged") == 5
    assert _versions(work) == {
        "churn": ["1"], "propensity": ["1"], "uplift": ["1"], "clv": ["1"], "clusters": ["1"]
    }  # fmt: skip
    assert {n: client.get_registered_model(n).aliases for n in names} == aliases


def test_a_new_month_trains_again_and_reports_drift(retrained, world_dir):
    _, path, work = retrained
    config = yaml.safe_load(path.read_text())
    config["models"]["uplift"]["enabled"] = False
    later = work / "later.yaml"
    later.write_text(yaml.safe_dump(config))
    result = invoke("retrain", "--config", later, "--as-of", "2026-04-01")
    assert result.exit_code == 0, result.output
    assert _versions(work) == {
        "churn": ["1", "2"], "propensity": ["1", "2"], "uplift": ["1"], "clv": ["1", "2"],
        "clusters": ["1", "2"],
    }  # fmt: skip
    # The clusters of the new month keep the labels of the first where they match.
    client = MlflowClient(local_tracking_uri(work))
    second = client.get_model_version("clusters", "2")
    matching = client.download_artifacts(second.run_id, "tables/matching.csv")
    assert (pd.read_csv(matching)["status"] == "kept").sum() >= 2
    summary = json.loads((work / "reports" / "retrain-2026-04-01.json").read_text())
    assert summary["models"]["uplift"]["status"] == "disabled"
    assert "against the training reference of propensity version 1" in summary["drift"]["note"]
    assert len(summary["drift"]["rows"]) > 10


@pytest.fixture(scope="module")
def scored(retrained):
    _, path, work = retrained
    result = invoke("score", "--config", path, "--as-of", "2026-05-01")
    return result, work / "audience-2026-05-01.parquet"


def test_score_reads_the_same_configuration(scored):
    result, out = scored
    assert result.exit_code == 0, result.output
    audience = pd.read_parquet(out)
    assert "TEST-2026-05" in result.text
    shares = audience["action"].value_counts()
    # the configuration's default holdout of 10% of the customers who would be sent
    assert 0.05 < shares["holdout"] / (shares["holdout"] + shares["send"]) < 0.15


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"models": {"churn": {"trails": 1}}}, "models.churn.trails: unknown key"),
        ({"scoring": {"holdout": 2}}, "scoring.holdout"),
    ],
)
def test_a_bad_configuration_exits_2_naming_the_key(tmp_path, world_dir, change, message):
    config = _config(world_dir, tmp_path)
    for section, values in change.items():
        for key, value in values.items():
            if isinstance(value, dict):
                config[section].setdefault(key, {}).update(value)
            else:
                config[section] = {**config.get(section, {}), key: value}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    for command in ("retrain", "score"):
        result = invoke(command, "--config", path, "--as-of", AS_OF)
        assert result.exit_code == 2, result.output
        assert message in result.text


def test_score_without_config_or_data_names_the_missing_options(tmp_path):
    result = invoke("score", "--as-of", AS_OF)
    assert result.exit_code == 2
    assert "give --data, --campaign, --out or a --config that sets them" in result.text


def test_analyze_judges_the_scored_audience_on_the_campaign(scored, world_dir, tmp_path):
    _, audience = scored
    result = invoke(
        "analyze", "--data", world_dir, "--campaign", CAMPAIGN_ID, "--audience", audience,
        "--outcome", "conversion,revenue", "--bootstrap", "200", "--out", tmp_path,
        "--by", "cluster_name",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads((tmp_path / "results.json").read_text())
    # The audience's behavioural clusters are a --by column: one row per cluster and outcome.
    names = set(pd.read_parquet(audience)["cluster_name"])
    by_cluster = [r for r in payload["results"] if r["segment_by"] == "cluster_name"]
    assert {r["segment"] for r in by_cluster} <= names | {"(not in audience)"}
    assert len({r["segment"] for r in by_cluster} & names) >= 2
    targeting = payload["targeting"]
    assert (
        targeting["audience"]["matched"]
        == payload["counts"]["customers"]
        - (targeting["audience"]["experiment_customers_not_in_audience"])
    )
    assert {q["segment"] for q in targeting["qini"]} >= {"all"}
    assert {r["segment_by"] for r in payload["results"]} >= {"priority_segment", "send_vs_holdout"}
    assert "Targeting" in (tmp_path / "report.html").read_text()


def test_a_model_that_cannot_be_trained_does_not_stop_the_others(world_dir, tmp_path):
    config = _config(world_dir, tmp_path)
    # a churn label 400 days long needs data past the end of the world
    config["models"]["churn"]["horizon_days"] = 400
    config["models"]["uplift"]["enabled"] = False
    config["models"]["clusters"]["enabled"] = False
    path = tmp_path / "upseg.yaml"
    path.write_text(yaml.safe_dump(config))
    result = invoke("retrain", "--config", path, "--as-of", AS_OF)
    assert result.exit_code == 1
    assert "churn could not be trained (see the report)" in result.text
    assert _versions(tmp_path) == {
        "churn": [], "propensity": ["1"], "uplift": [], "clv": ["1"], "clusters": []
    }  # fmt: skip
    summary = json.loads((tmp_path / "reports" / f"retrain-{AS_OF}.json").read_text())
    assert summary["models"]["churn"]["status"] == "failed"
    assert "400-day horizon" in summary["models"]["churn"]["reason"]
    report = (tmp_path / "reports" / f"retrain-{AS_OF}.md").read_text()
    assert "**churn could not be trained**" in report


def test_retrain_on_spark_trains_the_same_bounded_model_as_duckdb(world_dir, tmp_path, monkeypatch):
    # Only propensity, on at most 2,000 rows: Spark validates, builds both snapshots and
    # draws the sample; the model must be the one DuckDB's rows train, metric for metric.
    runs = {}
    for engine in ("duckdb", "spark"):
        # MLflow exports the URI a job set; the second job in this process must not read it
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
        monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
        work = tmp_path / engine
        config = _config(world_dir, work)
        for name in ("churn", "uplift", "clv", "clusters"):
            config["models"][name]["enabled"] = False
        config["training"] = {"max_rows": 2000}
        config["engine"] = {"name": engine}
        if engine == "spark":
            config["engine"]["spark_conf"] = {"spark.sql.shuffle.partitions": "2"}
        work.mkdir()
        path = work / "upseg.yaml"
        path.write_text(yaml.safe_dump(config))
        args = ("--spark-master", "local[2]") if engine == "spark" else ()
        result = invoke("retrain", "--config", path, "--as-of", AS_OF, *args)
        assert result.exit_code == 0, result.output
        client = MlflowClient(local_tracking_uri(work))
        experiment = client.get_experiment_by_name(RETRAIN_EXPERIMENT)
        (run,) = client.search_runs(
            [experiment.experiment_id], filter_string="tags.task = 'propensity'"
        )
        runs[engine] = run.data
        summary = json.loads((work / "reports" / f"retrain-{AS_OF}.json").read_text())
        assert summary["data"]["engine"] == engine
    duck, spark = runs["duckdb"], runs["spark"]
    assert spark.params["sample_max_rows"] == "2000" and spark.params["sample_seed"] == "0"
    assert int(spark.params["sample_rows_kept"]) == 2000
    assert int(spark.params["sample_rows_before"]) > 2000  # the bound did bite
    sample_params = {k: v for k, v in duck.params.items() if k.startswith("sample_")}
    assert sample_params == {k: v for k, v in spark.params.items() if k.startswith("sample_")}
    assert duck.metrics["test_roc_auc"] == pytest.approx(spark.metrics["test_roc_auc"], abs=1e-12)
    assert duck.metrics["test_log_loss"] == pytest.approx(spark.metrics["test_log_loss"], abs=1e-12)
