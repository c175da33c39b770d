"""Every notebook runs top to bottom on small data, so a change that breaks one fails the suite.

Notebooks are Jupytext percent scripts in ``notebooks/``. Each is converted in
memory and executed in a fresh kernel of this interpreter. The kernel inherits
this process's environment, so the test sets the notebooks' variables
(``UPSEG_NOTEBOOK_OUT``, ``UPSEG_NOTEBOOK_CUSTOMERS``, ``UPSEG_NOTEBOOK_ROWS``)
there. It runs in a temporary folder, so nothing is written into the
repository.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import jupytext
import nbclient
import pandas as pd
import pytest
from ipykernel.kernelspec import write_kernel_spec
from jupyter_client.kernelspec import KernelSpecManager
from mlflow.tracking import MlflowClient

from tests.conftest import REPO, shared_data_dir
from upseg.experiments.analysis import RESULT_COLUMNS
from upseg.features.sets import CUSTOMER_V1
from upseg.models.tracking import local_tracking_uri

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.py"))

#: Small enough to run quickly, large enough that churn has 30+ labels of each class per split.
CUSTOMERS = 2500
#: Hillstrom rows the uplift model of notebook 3 is fitted on (of 64,000).
HILLSTROM_ROWS = 20_000
#: Seconds any one cell may take.
CELL_TIMEOUT = 600


def _world_features(out: Path) -> None:
    path = out / "world" / "features_2026-06-01.parquet"
    features = pd.read_parquet(path)
    assert len(features) > CUSTOMERS // 2
    missing = set(CUSTOMER_V1.columns()) - set(features.columns)
    assert not missing, f"{path} lacks feature columns {sorted(missing)}"


def _churn_registered(out: Path) -> None:
    uri = local_tracking_uri(out / "churn")
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    versions = client.search_model_versions("name='churn'")
    assert len(versions) == 1
    assert client.get_run(versions[0].run_id).data.tags["feature_set"] == CUSTOMER_V1.key


def _hillstrom_report(out: Path) -> None:
    folder = out / "hillstrom" / "analysis"
    assert "<html" in (folder / "report.html").read_text(encoding="utf-8").lower()
    results = pd.read_csv(folder / "results.csv")
    assert tuple(results.columns) == RESULT_COLUMNS
    assert set(results["metric"]) == {"visit", "conversion", "spend"}


#: What each notebook must leave in its work folder, beyond running without an error.
OUTPUTS: dict[str, Callable[[Path], None]] = {
    "01_synthetic_world_and_features": _world_features,
    "02_churn_model_from_mlflow": _churn_registered,
    "03_hillstrom_uplift_and_report": _hillstrom_report,
}

#: Notebooks that read real data from the shared data folder, and the file they need.
NEEDS = {"03_hillstrom_uplift_and_report": "hillstrom.csv"}


def test_there_are_at_least_three_notebooks():
    assert len(NOTEBOOKS) >= 3, f"found only {[p.name for p in NOTEBOOKS]} in notebooks/"


def test_every_notebook_has_an_output_check():
    assert {p.stem for p in NOTEBOOKS} <= set(OUTPUTS)


@pytest.fixture
def kernel_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``python3`` kernel spec of this interpreter first on the Jupyter path, the
    notebooks' variables set, and no MLflow server; returns the work folder."""
    # A user-level python3 spec (~/.local/share/jupyter) would otherwise win over the venv's.
    jupyter = tmp_path / "jupyter"
    write_kernel_spec(jupyter / "kernels" / "python3")
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter))
    out = tmp_path / "out"
    monkeypatch.setenv("UPSEG_NOTEBOOK_OUT", str(out))
    monkeypatch.setenv("UPSEG_NOTEBOOK_CUSTOMERS", str(CUSTOMERS))
    monkeypatch.setenv("UPSEG_NOTEBOOK_ROWS", str(HILLSTROM_ROWS))
    monkeypatch.setenv("UPSEG_SHARED_DATA", str(shared_data_dir()))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    # The debugger's warning about frozen modules is noise in every kernel's stderr.
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    spec = KernelSpecManager().get_kernel_spec("python3")
    assert spec.argv[0] == sys.executable, spec.argv
    return out


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(
    path: Path, kernel_environment: Path, tmp_path: Path, shared_data
):
    if path.stem in NEEDS:
        shared_data(NEEDS[path.stem])  # skipped without it, failed under CI
    notebook = jupytext.read(path)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    code = [cell for cell in notebook.cells if cell.cell_type == "code" and cell.source.strip()]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1)), (
        "every code cell ran once, in order"
    )
    shown = [o for cell in code for o in cell.outputs if o.output_type != "stream"]
    assert shown, f"{path.name} shows no result (no table, figure or value)"
    OUTPUTS[path.stem](kernel_environment)
    assert not any(cwd.iterdir()), (
        f"{path.name} wrote outside its work folder: {list(cwd.iterdir())}"
    )
