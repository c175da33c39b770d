"""The `upseg` commands as a user runs them: exit codes and what they print."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.conftest import write_source
from tests.features.test_validation import good_tables
from tests.pipelines._invoke import invoke


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    result = invoke("generate", "--out", out, "--customers", 1_500, "--seed", 3)
    assert result.exit_code == 0, result.output
    return out


def test_help_lists_the_commands():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("generate", "validate", "features", "demo"):
        assert command in result.text


def test_generate_writes_every_table_and_the_truth(world_dir):
    names = {p.name for p in world_dir.iterdir()}
    assert {
        "customers.parquet",
        "orders.parquet",
        "email_events.parquet",
        "web_events.parquet",
        "campaign_assignments.parquet",
        "truth.parquet",
    } <= names
    assert len(pd.read_parquet(world_dir / "customers.parquet")) == 1_500


def test_validate_accepts_the_synthetic_world(world_dir):
    result = invoke("validate", "--data", world_dir)
    assert result.exit_code == 0, result.output
    assert "Data is usable" in result.text


def test_validate_json_report_reconciles(world_dir):
    result = invoke("validate", "--data", world_dir, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["usable"] and not report["problems"]
    for counts in report["tables"].values():
        assert counts["rows_read"] == counts["rows_accepted"] + counts["rows_quarantined"]


def test_features_writes_one_row_per_customer_signed_up_before(world_dir, tmp_path):
    out = tmp_path / "features.parquet"
    result = invoke("features", "--data", world_dir, "--as-of", "2026-03-01", "--out", out)
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    customers = pd.read_parquet(world_dir / "customers.parquet")
    expected = customers.loc[customers.signup_at < pd.Timestamp("2026-03-01", tz="UTC")]
    assert sorted(frame.customer_id) == sorted(expected.customer_id)
    assert frame.customer_id.is_unique
    assert "signed up on or after as-of" in result.text
    assert not list(tmp_path.glob(".*.tmp")), "no temporary file is left behind"


@pytest.fixture
def bad_source(tmp_path):
    tables = good_tables()
    tables["orders"].loc[0, "amount"] = -1.0
    return write_source(tmp_path / "bad", tables)


def test_validate_fails_on_bad_rows_and_names_them(bad_source):
    result = invoke("validate", "--data", bad_source)
    assert result.exit_code == 1
    assert "orders.amount: value is below the minimum 0 [1 row]" in result.text
    assert "--quarantine" in result.text


def test_validate_with_quarantine_sets_rows_aside(bad_source, tmp_path):
    result = invoke("validate", "--data", bad_source, "--quarantine", tmp_path / "q")
    assert result.exit_code == 0, result.output
    quarantined = pd.read_parquet(tmp_path / "q" / "orders.parquet")
    assert quarantined.reason.tolist() == ["amount: value is below the minimum 0"]


def test_features_refuses_bad_data_without_quarantine(bad_source, tmp_path):
    out = tmp_path / "f.parquet"
    result = invoke("features", "--data", bad_source, "--as-of", "2024-06-01", "--out", out)
    assert result.exit_code == 1
    assert "orders.amount" in result.text and not out.exists()


def test_features_goes_on_with_quarantine(bad_source, tmp_path):
    out = tmp_path / "f.parquet"
    result = invoke(
        "features",
        "--data",
        bad_source,
        "--as-of",
        "2024-06-01",
        "--out",
        out,
        "--quarantine",
        tmp_path / "q",
    )
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(out)) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["features", "--data", ".", "--as-of", "last tuesday", "--out", "x.parquet"],
            "--as-of must be a date YYYY-MM-DD",
        ),
        (["validate", "--data", "/no/such/dir"], "is not a directory"),
        (["generate", "--out", "x", "--customers", "0"], "--customers"),
        (["generate", "--out", "x", "--format", "xlsx"], "--format"),
    ],
)
def test_bad_options_get_clear_errors(args, message):
    result = invoke(*args)
    assert result.exit_code != 0
    assert message in result.text


def test_demo_runs_the_whole_loop_and_says_where_its_outputs_are(tmp_path):
    out = tmp_path / "demo"
    result = invoke("demo", "--out", out, "--customers", 3_000, "--seed", 2, "--trials", 0)
    assert result.exit_code == 0, result.output
    for step in ("1/5 generate", "2/5 retrain", "3/5 score", "4/5 simulate", "5/5 analyze"):
        assert step in result.text
    audience = pd.read_parquet(out / "audience.parquet")
    assert set(audience["action"]) <= {"send", "holdout", "skip", "suppress"}
    outcomes = pd.read_parquet(out / "campaign_outcomes.parquet")
    acted = audience["action"].isin(["send", "holdout"])
    assert len(outcomes) == acted.sum()
    assert (outcomes["arm"] == "email").sum() == (audience["action"] == "send").sum()
    for path in (
        out / "audience.parquet",
        out / "experiment" / "report.html",
        out / "reports" / "retrain-2026-04-01.md",
        out / "upseg.yaml",
    ):
        assert path.exists() and str(path) in result.text
    for model in ("churn", "propensity", "uplift"):
        assert f"{model} version 1 trained" in result.text
    assert f"mlflow ui --backend-store-uri sqlite:///{(out / 'mlflow.db').resolve()}" in result.text
    payload = json.loads((out / "experiment" / "results.json").read_text())
    # a tiny world's holdout is too small for most segments: they are skipped, and listed
    analysed = {r["segment_by"] for r in payload["results"] + payload["skipped"]}
    assert {"overall", "rfm_segment", "lifecycle_stage", "priority_segment"} <= analysed
    assert not next(s for s in payload["srm"] if s["segment_by"] == "overall")["flagged"]
