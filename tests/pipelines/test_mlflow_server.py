"""The round trip against a real ``mlflow server`` on a loopback port.

The server gets a temporary SQLite backend and artifact folder, and serves the
artifacts itself, as a team server does; the test trains, registers, promotes,
loads the champion back and scores with it, then stops the server.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import AS_OF
from upseg.models.registry import CHAMPION
from upseg.pipelines.train_job import TrainSettings, run_training

STARTUP_SECONDS = 90


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_healthy(uri: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"mlflow server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"mlflow server did not answer in {STARTUP_SECONDS}s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    log = root / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlflow",
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
                "--backend-store-uri",
                f"sqlite:///{root / 'backend.db'}",
                "--artifacts-destination",
                str(root / "artifacts"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_healthy(uri, process, log)
        yield uri
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_train_register_promote_and_load_the_champion(server, world_dir, tmp_path):
    settings = TrainSettings(
        task="propensity",
        data_dir=world_dir,
        as_of=AS_OF,
        tracking_uri=server,
        workdir=tmp_path,
        snapshots=1,
    )
    first = run_training(settings)
    assert first.decision.promote and "no champion yet" in first.decision.reason
    second = run_training(settings)
    assert not second.decision.promote
    forced = run_training(TrainSettings(**{**settings.__dict__, "promote": True}))
    assert forced.decision.promote

    client = MlflowClient(server)
    champion = client.get_model_version_by_alias("propensity", CHAMPION)
    assert str(champion.version) == forced.version == "3"
    assert client.get_model_version_by_alias("propensity", "challenger").version in (2, "2")
    # Artifacts went through the server into its own folder, not into the client's.
    assert not (tmp_path / "mlartifacts").exists()

    mlflow.set_tracking_uri(server)
    mlflow.set_registry_uri(server)
    model = mlflow.sklearn.load_model(f"models:/propensity@{CHAMPION}")
    test = forced.data.part("test")
    probability = model.predict_proba(test)[:, 1]
    assert probability.shape == (len(test),)
    assert ((probability >= 0) & (probability <= 1)).all()
    pyfunc = mlflow.pyfunc.load_model(f"models:/propensity@{CHAMPION}")
    served = pyfunc.predict(test[list(forced.data.features)].head(20))
    served = served.to_numpy() if isinstance(served, pd.DataFrame) else served
    assert served.shape == (20, 2)
    assert abs(served[:, 1] - probability[:20]).max() < 1e-12
