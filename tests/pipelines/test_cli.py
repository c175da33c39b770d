"""The `upseg` commands as a user runs them: exit codes, what they print, how fast they answer."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pandas as pd
import pytest
import typer
import yaml
from typer.main import get_command

from tests.conftest import write_source
from tests.features.test_validation import good_tables
from tests.pipelines._invoke import invoke, invoke_app
from upseg.errors import UpsegError
from upseg.pipelines._console import UpsegGroup, fail
from upseg.pipelines.cli import app

#: What ``upseg --help`` must not load: each costs up to seconds at every start.
HEAVY = ("pandas", "ibis", "mlflow", "lightgbm", "sklearn", "shap", "duckdb", "optuna", "scipy")


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    result = invoke("generate", "--out", out, "--customers", 1_500, "--seed", 3)
    assert result.exit_code == 0, result.output
    return out


def test_the_app_has_every_command():
    # the command list of the click group, not the help text (which also holds the description)
    commands = get_command(app).commands
    assert set(commands) == {
        "generate",
        "validate",
        "features",
        "import",
        "train",
        "predict",
        "score",
        "triggers",
        "retrain",
        "analyze",
        "monitor",
        "demo",
    }
    assert set(commands["train"].commands) == {"churn", "propensity", "uplift", "clv", "clusters"}
    assert set(commands["import"].commands) == {"cdnow"}
    assert set(commands["predict"].commands) == {"uplift"}
    assert set(commands["analyze"].commands) == {"power"}
    result = invoke("--help")
    assert result.exit_code == 0 and "upseg demo" in result.text


# -- a quick start: nothing heavy is imported before a command runs ------------------


def _imported_by(code: str) -> set[str]:
    """Top-level modules a fresh interpreter imports to run ``code``."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        check=True,
    )
    # lines: "import time: self | cumulative | <indent>module"
    return {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in run.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_the_cli_imports_no_heavy_library():
    heavy = set(HEAVY) & _imported_by("import upseg.pipelines.cli")
    assert not heavy, f"importing upseg.pipelines.cli imports {sorted(heavy)}"


def test_help_answers_without_heavy_libraries():
    for args in (["--help"], ["train", "churn", "--help"], ["score", "--help"]):
        code = (
            "import sys; from upseg.pipelines.cli import app\n"
            f"try: app({args!r})\n"
            "except SystemExit as e: assert e.code == 0, e.code\n"
            f"loaded = {{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}\n"
            "assert not loaded, loaded"
        )
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert run.returncode == 0, (args, run.stderr[-2000:])


@pytest.mark.parametrize(
    "module", ["upseg.features.contract", "upseg.features.sets", "upseg.serving"]
)
def test_a_light_module_does_not_pull_in_its_package(module):
    heavy = set(HEAVY) & _imported_by(f"import {module}")
    assert not heavy, f"import {module} imports {sorted(heavy)}"


@pytest.mark.parametrize(
    "package",
    [
        "upseg.features",
        "upseg.serving",
        "upseg.experiments.stats",
        "upseg.experiments.report",
    ],
)
def test_lazy_packages_export_every_name_in_all(package):
    module = importlib.import_module(package)
    assert set(module._EXPORTS) == set(module.__all__)
    for name in module.__all__:
        value = getattr(module, name)
        home = importlib.import_module(f"{package}.{module._EXPORTS[name]}")
        assert value is getattr(home, name), name
    assert set(module.__all__) <= set(dir(module))
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        module.nope  # noqa: B018


def test_train_uplift_offers_every_criterion_of_the_selection():
    from upseg.models.uplift.selection import CRITERIA
    from upseg.pipelines.train_cli import Criterion

    assert sorted(c.value for c in Criterion) == sorted(CRITERIA)
    result = invoke("train", "uplift", "--help")
    assert result.exit_code == 0
    assert "--criterion" in result.text and "[default: dr_loss]" in result.text
    assert "Nie & Wager's R-loss" in result.text
    from upseg.models.uplift.criteria import PREFERENCES
    from upseg.pipelines.train_cli import Preference

    assert tuple(p.value for p in Preference) == PREFERENCES
    assert "--prefer" in result.text and "[default: cheapest]" in result.text


def test_train_help_names_the_tasks_and_metrics_of_the_models():
    from upseg.models.dataset import TASKS
    from upseg.models.evaluation import METRIC_DIRECTIONS
    from upseg.pipelines.train_cli import GATE_METRICS, TASK_HELP

    assert tuple(METRIC_DIRECTIONS) == GATE_METRICS
    assert {
        name: (task.description, task.default_horizon_days) for name, task in TASKS.items()
    } == {name: tuple(help_) for name, help_ in TASK_HELP.items()}


# -- one error handler --------------------------------------------------------------


def _app_raising(error: Exception) -> typer.Typer:
    """An app built like upseg's whose one command raises ``error`` in a sub-app."""
    root = typer.Typer(cls=UpsegGroup)
    sub = typer.Typer()

    @sub.command()
    def boom() -> None:
        """Raise."""
        raise error

    @root.command()
    def other() -> None:
        """A second command, as the real app has."""

    root.add_typer(sub, name="sub")
    return root


def test_an_upseg_error_is_one_line_and_exit_1():
    result = invoke_app(
        _app_raising(UpsegError("the data in d is\nunusable [1 row]")), "sub", "boom"
    )
    assert result.exit_code == 1
    assert result.stderr == "error: the data in d is unusable [1 row]\n"
    assert isinstance(result.exception, SystemExit)


def test_fail_carries_a_usage_exit_code():
    result = invoke_app(_app_raising(fail("--out must end in .csv", code=2)), "sub", "boom")
    assert result.exit_code == 2
    assert result.stderr == "error: --out must end in .csv\n"


def test_anything_else_is_a_bug_and_keeps_its_traceback():
    result = invoke_app(_app_raising(KeyError("oops")), "sub", "boom")
    assert result.exit_code == 1
    assert isinstance(result.exception, KeyError)
    assert "error:" not in result.output


def test_the_environment_refusing_a_path_is_one_line_naming_it(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    error = NotADirectoryError(20, "Not a directory", str(blocker / "audience.parquet"))
    result = invoke_app(_app_raising(error), "sub", "boom")
    assert result.exit_code == 1
    assert result.stderr == f"error: Not a directory: {blocker / 'audience.parquet'}\n"


def test_generate_into_a_path_under_a_file_is_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = invoke("generate", "--out", blocker / "world", "--customers", "200")
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ") and str(blocker) in result.text
    assert "Traceback" not in result.output


def test_a_configuration_error_exits_2_naming_the_key(tmp_path):
    path = tmp_path / "upseg.yaml"
    path.write_text("version: 1\ndata: {path: d}\nmodels: {churn: {trails: 1}}\n")
    result = invoke("retrain", "--config", path, "--as-of", "2026-04-01")
    assert result.exit_code == 2, result.output
    assert "models.churn.trails: unknown key" in result.text
    assert "Traceback" not in result.output


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
    steps = ("1/7 generate", "2/7 retrain", "3/7 score", "4/7 simulate", "5/7 analyze")
    for step in (*steps, "6/7 triggers", "7/7 monitor"):
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
        out / "triggers",
        out / "monitor" / "dashboard.html",
        out / "monitor" / "kpis.parquet",
    ):
        assert path.exists() and str(path) in result.text
    # The week's triggers, one file per daily window, each firing once, with the audience's
    # columns; the table of firings per trigger and action is printed.
    firings = pd.concat(pd.read_parquet(f) for f in sorted((out / "triggers").glob("*.parquet")))
    assert len(list((out / "triggers").glob("*.parquet"))) == 7
    assert not firings.duplicated(["customer_id", "trigger", "started_at", "category"]).any()
    assert firings["trigger"].nunique() >= 3 and {"uplift", "priority_segment"} <= set(firings)
    assert "Firings by trigger and action" in result.text
    for model in ("churn", "propensity", "uplift", "clv", "clusters"):
        assert f"{model} version 1 trained" in result.text
    # The audience carries every customer's behavioural cluster, named.
    assert audience["cluster"].notna().all() and audience["cluster_name"].notna().all()
    assert audience["cluster"].nunique() >= 3
    assert f"mlflow ui --backend-store-uri sqlite:///{(out / 'mlflow.db').resolve()}" in result.text
    payload = json.loads((out / "experiment" / "results.json").read_text())
    # a tiny world's holdout is too small for most segments: they are skipped, and listed
    analysed = {r["segment_by"] for r in payload["results"] + payload["skipped"]}
    assert {"overall", "rfm_segment", "lifecycle_stage", "priority_segment"} <= analysed
    assert not next(s for s in payload["srm"] if s["segment_by"] == "overall")["flagged"]


# -- unusable data: every command that reads data says so in one line ---------------


def _corrupt_source(directory):
    """A data folder whose customers file is not Parquet at all."""
    source = write_source(directory, good_tables())
    (source / "customers.parquet").write_bytes(b"PAR1 cut short")
    return source


def _bad_rows_source(directory):
    tables = good_tables()
    tables["orders"].loc[0, "amount"] = -1.0
    return write_source(directory, tables)


def _retrain_args(data, tmp_path):
    config = {
        "version": 1,
        "data": {"path": str(data)},
        "tracking": {"workdir": str(tmp_path / "work")},
        "models": {"uplift": {"enabled": False}},
        "scoring": {"campaign": "C-{as_of:%Y-%m}", "out": "a.parquet"},
        "reports": {"out": str(tmp_path / "reports")},
    }
    path = tmp_path / "upseg.yaml"
    path.write_text(yaml.safe_dump(config))
    return ["retrain", "--config", path, "--as-of", "2024-06-01"]


#: Each command that reads a data folder, as arguments after ``upseg``, given that
#: folder ``d`` and a scratch folder ``t``.
AS_OF = ("--as-of", "2024-06-01")
DATA_COMMANDS = {
    "validate": lambda d, t: ["validate", "--data", d],
    "features": lambda d, t: ["features", "--data", d, *AS_OF, "--out", t / "f.parquet"],
    "train churn": lambda d, t: ["train", "churn", "--data", d, *AS_OF, "--workdir", t],
    "train propensity": lambda d, t: ["train", "propensity", "--data", d, *AS_OF, "--workdir", t],
    "train uplift": lambda d, t: [
        "train", "uplift", "--data", d, "--campaign", "C", "--workdir", t
    ],
    "score": lambda d, t: [
        "score", "--data", d, *AS_OF, "--campaign", "C", "--out", t / "a.parquet", "--workdir", t
    ],
    "analyze": lambda d, t: ["analyze", "--data", d, "--campaign", "C1", "--out", t / "analysis"],
    "retrain": _retrain_args,
}  # fmt: skip

#: How each kind of broken folder is named in the one-line error.
BROKEN = {
    "bad rows": (_bad_rows_source, "orders.amount: value is below the minimum 0 [1 row]"),
    "corrupt file": (_corrupt_source, "'customers'"),
}


def _error_line(result) -> str:
    assert "Traceback" not in result.output, result.output
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("error: "), result.output
    return lines[-1]


@pytest.mark.parametrize("kind", list(BROKEN))
@pytest.mark.parametrize("command", list(DATA_COMMANDS))
def test_unusable_data_is_one_line_and_exit_1(command, kind, tmp_path, monkeypatch):
    import upseg.pipelines.score_job

    # scoring loads its champions before the data; this registry has none
    monkeypatch.setattr(upseg.pipelines.score_job, "load_models", lambda client, versions, **_: {})
    make, named = BROKEN[kind]
    data = make(tmp_path / "data")
    result = invoke(*DATA_COMMANDS[command](data, tmp_path))
    assert result.exit_code == 1, result.output
    line = _error_line(result)
    if command == "validate" and kind == "bad rows":  # lists the problems, then concludes
        assert named in result.stderr and "--quarantine" in line
    else:
        assert named in line, line
        assert str(data) in line


def test_a_malformed_cdnow_file_is_one_line_and_exit_1(tmp_path):
    path = tmp_path / "cdnow.txt"
    path.write_text(" 00001 19970101  1   11.77\n 00002 1997011 1 5.00\n")
    result = invoke("import", "cdnow", path, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert "line 2, column 'date': '1997011' is not a date YYYYMMDD" in _error_line(result)


def test_a_corrupt_table_to_predict_is_one_line_and_exit_1(tmp_path):
    table = tmp_path / "customers.parquet"
    table.write_bytes(b"PAR1 cut short")
    result = invoke("predict", "uplift", "--table", table, "--out", tmp_path / "s.parquet")
    assert result.exit_code == 1
    assert f"{table}: not a readable Parquet file" in _error_line(result)
