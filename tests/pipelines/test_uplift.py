"""``upseg train uplift`` (both forms) and ``upseg predict uplift``, end to end on real files."""

from __future__ import annotations

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import HILLSTROM
from tests.pipelines._invoke import invoke
from upseg.models.tracking import local_tracking_uri
from upseg.models.uplift.calibrator import ORDER_SLOPE
from upseg.models.uplift.data import ExperimentError
from upseg.pipelines.uplift_job import UpliftSettings, run_uplift


@pytest.fixture(scope="module")
def hillstrom_sample(tmp_path_factory, shared_data):
    path = tmp_path_factory.mktemp("hillstrom") / "sample.csv"
    sample = pd.read_csv(shared_data("hillstrom.csv")).sample(15_000, random_state=0)
    sample.insert(0, "customer", [f"h{i}" for i in range(len(sample))])
    sample.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("uplift-work")


@pytest.fixture(scope="module")
def trained(hillstrom_sample, workdir):
    return invoke(
        "train", "uplift", "--table", hillstrom_sample, "--treatment", "segment",
        "--control", "No E-Mail", "--outcome", "visit", "--exclude", "conversion,spend",
        "--id", "customer", "--approaches", "t_learner,x_learner", "--folds", "2",
        "--workdir", workdir,
    )  # fmt: skip


def test_table_form_chooses_an_approach_and_reports_the_holdout(trained, workdir):
    assert trained.exit_code == 0, trained.output
    out = trained.text
    assert "uplift on visit (binary): 15,000 customers" in out
    assert "not features: conversion, spend" in out
    assert "t_learner" in out and "x_learner" in out and "←" in out
    # The default criterion, the rule and the guard, as the user reads them.
    assert "Approach by cross-validated dr_loss, lower is better" in out
    assert "mean Qini" in out and "SE of gap" in out
    assert "Chose " in out and "mean dr_loss over 2 x 2 folds" in out and "mean Qini above 0" in out
    for variant in ("Mens E-Mail", "Womens E-Mail"):
        assert variant in out
    assert "uplift@30%" in out
    assert "Registered uplift version 1 as" in out
    run = MlflowClient(local_tracking_uri(workdir)).search_runs(
        [
            MlflowClient(local_tracking_uri(workdir))
            .get_experiment_by_name("upseg-uplift")
            .experiment_id
        ]
    )[0]
    assert run.data.params["approach"] in ("t_learner", "x_learner")
    assert run.data.params["criterion"] == "dr_loss"
    assert "mean dr_loss over 2 x 2 folds" in run.data.params["chosen_by"]
    assert run.data.params["prefer"] == "cheapest"
    assert "cheapest to predict within one SE" in run.data.params["chosen_by"]
    assert "trees/variant" in out
    for approach in ("t_learner", "x_learner"):
        assert f"cv_loss_{approach}" in run.data.metrics
        assert f"cv_qini_{approach}" in run.data.metrics
    # What scoring costs: 2 x 200 trees for the T-learner, 2 x 100 for the X-learner's
    # effect models, per variant; the registered model's over both variants.
    assert (run.data.metrics["cv_trees_t_learner"], run.data.metrics["cv_trees_x_learner"]) == (
        400, 200,
    )  # fmt: skip
    chosen = run.data.metrics[f"cv_trees_{run.data.params['approach']}"]
    assert run.data.metrics["prediction_trees"] == 2 * chosen
    assert "test_Womens E-Mail_qini_auc" in run.data.metrics
    assert "test_qini_auc_weighted" in run.data.metrics
    assert "shap_surrogate_r2" in run.data.metrics
    # Sized on the training customers, checked on the held-out ones
    assert "Sizes: calibrated on the training customers" in out
    assert "Held-out customers: incremental visit, predicted vs realised" in out
    m = run.data.metrics
    for variant in ("Mens E-Mail", "Womens E-Mail"):
        # shrunk towards 0, but never below the slope that keeps the model's order
        applied = m[f"calibration_{variant}_slope_applied"]
        assert ORDER_SLOPE <= applied <= max(m[f"calibration_{variant}_blp_slope"], ORDER_SLOPE)
        assert m[f"calibration_{variant}_groups_negative"] >= 0
        assert f"test_{variant}_sizes_realised" in m
    client = MlflowClient(local_tracking_uri(workdir))
    tables = {a.path for a in client.list_artifacts(run.info.run_id, "tables")}
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert {"tables/calibration.csv", "tables/heldout_sizes.csv"} <= tables
    assert "tables/calibration_groups_Womens_E_Mail.csv" in tables
    assert sum(p.startswith("plots/calibration_") for p in plots) == 2


def test_criterion_qini_still_takes_the_highest_cross_validated_qini(hillstrom_sample, tmp_path):
    result = invoke(
        "train", "uplift", "--table", hillstrom_sample, "--treatment", "segment",
        "--control", "No E-Mail", "--outcome", "visit", "--exclude", "conversion,spend",
        "--approaches", "s_learner,t_learner", "--folds", "2", "--criterion", "qini",
        "--workdir", tmp_path,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Approach by cross-validated Qini" in result.text
    assert "highest mean Qini" in result.text
    client = MlflowClient(local_tracking_uri(tmp_path))
    experiment = client.get_experiment_by_name("upseg-uplift").experiment_id
    run = client.search_runs([experiment])[0]
    assert (run.data.params["criterion"], run.data.params["chosen_by"]) == (
        "qini",
        "highest mean Qini",
    )
    qini = {a: run.data.metrics[f"cv_qini_{a}"] for a in ("s_learner", "t_learner")}
    assert run.data.params["approach"] == max(qini, key=qini.get)
    assert not any(name.startswith("cv_loss_") for name in run.data.metrics)


def test_an_unknown_criterion_is_refused_with_the_allowed_ones():
    result = invoke("train", "uplift", "--table", "t.csv", "--criterion", "auuc")
    assert result.exit_code == 2
    assert "Invalid value for '--criterion'" in result.text
    assert "'auuc' is not one of 'dr_loss', 'r_loss', 'qini'" in result.text


def test_predict_scores_every_row_of_a_matching_table(trained, hillstrom_sample, workdir, tmp_path):
    out = tmp_path / "scores.csv"
    result = invoke(
        "predict", "uplift", "--table", hillstrom_sample, "--out", out,
        "--model", "models:/uplift/1", "--workdir", workdir,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(out)
    assert list(scores.columns) == [
        "customer", "uplift", "best_variant", "uplift_Mens E-Mail", "uplift_Womens E-Mail",
        "raw_uplift", "evidence_of_uplift",
    ]  # fmt: skip
    assert len(scores) == 15_000
    assert set(scores["evidence_of_uplift"]) <= {"positive", "uncertain", "negative"}
    assert set(scores["best_variant"]) <= {"Mens E-Mail", "Womens E-Mail"}
    assert "15,000 customers scored" in result.text


def test_predict_refuses_a_table_that_does_not_match(trained, hillstrom_sample, workdir, tmp_path):
    table = pd.read_csv(hillstrom_sample).drop(columns=["newbie"]).assign(age=40)
    path = tmp_path / "other.parquet"
    table.to_parquet(path)
    result = invoke(
        "predict", "uplift", "--table", path, "--out", tmp_path / "x.parquet",
        "--model", "models:/uplift/1", "--workdir", workdir,
    )  # fmt: skip
    assert result.exit_code == 1
    assert "lacks the model's feature column(s) ['newbie']" in result.text
    assert "has column(s) the model was not trained on ['age']" in result.text
    assert not (tmp_path / "x.parquet").exists()


def test_campaign_form_reports_against_the_synthetic_truth(world_dir, tmp_path):
    result = invoke(
        "train", "uplift", "--data", world_dir, "--campaign", "C2026-06-SUMMER",
        "--approaches", "t_learner", "--folds", "2", "--workdir", tmp_path,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "arms control" in result.text and "discount_10" in result.text
    assert "Against the synthetic truth: spearman_discount_10" in result.text
    assert "oracle_share_new_arrivals" in result.text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give either --data DIR with --campaign ID, or --table FILE"),
        (["--data", "x"], "--data needs --campaign ID"),
        (["--table", "x.csv"], "--table needs --treatment COL"),
        (["--table", "missing.csv", "--treatment", "arm"], "missing.csv: no such file"),
        (
            [
                "--table",
                HILLSTROM,
                "--treatment",
                "segment",
                "--control",
                "No E-Mail",
                "--outcome",
                "spend",
                "--exclude",
                "visit,conversion",
                "--approaches",
                "class_transformation",
            ],
            "--approaches class_transformation cannot model a continuous outcome",
        ),
    ],
)
def test_bad_options_are_named(args, message, tmp_path, shared_data):
    if HILLSTROM in args:
        shared_data("hillstrom.csv")
    result = invoke("train", "uplift", *args, "--workdir", tmp_path)
    assert result.exit_code == 1
    assert message in result.text


def test_settings_without_a_campaign_are_refused(tmp_path):
    settings = UpliftSettings(tracking_uri=local_tracking_uri(tmp_path), workdir=tmp_path)
    with pytest.raises(ExperimentError, match="give either --data DIR with --campaign ID"):
        run_uplift(settings)
