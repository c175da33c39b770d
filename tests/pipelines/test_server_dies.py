"""A real ``mlflow server`` stopped between training and registration (issue 14).

The job's stage callback stops the server the moment the run reaches
"Registering": the model is trained and logged, the registry is next. The
command must end in one line naming the server's URI, and the server's own
database must hold no version.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from tests.pipelines._invoke import invoke
from tests.pipelines.test_mlflow_server import free_port, wait_until_healthy
from upseg.synthetic import generate_world, write_world


@pytest.fixture
def server(tmp_path):
    """A server on a loopback port with its own SQLite backend; the test may stop it."""
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1", "--backend-store-uri", f"sqlite:///{tmp_path / 'backend.db'}",
             "--artifacts-destination", str(tmp_path / "artifacts")],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        wait_until_healthy(uri, process, log)
        yield uri, process, tmp_path / "backend.db"
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    """Stop the server and its workers (one process group), as a crash or a shutdown would."""
    import os
    import signal

    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def test_a_server_that_dies_before_registration_fails_the_job_naming_it(
    server, tmp_path, monkeypatch
):
    import upseg.pipelines.train_job as train_job

    uri, process, backend = server
    world = tmp_path / "world"
    write_world(generate_world(1_500, seed=3), world)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    # MLflow sets it too and never unsets it: restored after the test, no later test calls here
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    # MLflow's own retries would wait minutes for a server that is gone
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    stages = []
    real = train_job.run_training

    def stopping_at_registration(settings, *, on_stage, **kwargs):
        def stage(message: str) -> None:
            stages.append(message)
            if message.startswith("Registering"):
                _stop(process)
            on_stage(message)

        return real(settings, on_stage=stage, **kwargs)

    monkeypatch.setattr(train_job, "run_training", stopping_at_registration)
    result = invoke(
        "train", "churn", "--data", world, "--as-of", "2026-04-01", "--snapshots", 1,
        "--workdir", tmp_path / "work",
    )  # fmt: skip

    assert stages[-1] == "Registering a version of 'churn'"
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"error: MLflow tracking server {uri} stopped answering while registering a version "
        "of 'churn' ("
    ), result.stderr
    assert "'churn' has no new version, or one whose alias is not yet set" in lines[0]
    with sqlite3.connect(f"file:{backend}?mode=ro", uri=True) as db:
        assert db.execute("SELECT count(*) FROM model_versions").fetchone()[0] == 0
        # the run itself was logged whole before the server went
        assert db.execute("SELECT status FROM runs").fetchall() == [("FINISHED",)]
