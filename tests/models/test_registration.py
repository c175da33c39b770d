"""A version is registered with its facts and decision in one write; a killed run's is completed."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from sklearn.linear_model import LinearRegression

from upseg.models.registry import (
    CHALLENGER,
    CHAMPION,
    REGISTRATION_TAG,
    complete_registrations,
    gate_decision,
    register_version,
)
from upseg.models.tracking import ensure_experiment, local_tracking_uri, set_tracking


@pytest.fixture
def logged(tmp_path):
    """A client on a fresh local store and a small model logged in it, to register."""
    uri = local_tracking_uri(tmp_path)
    set_tracking(uri)
    rows = pd.DataFrame({"a": [0.0, 1.0, 2.0]})
    with mlflow.start_run(experiment_id=ensure_experiment("e", uri)) as run:
        info = mlflow.sklearn.log_model(
            LinearRegression().fit(rows, [1, 2, 3]),
            name="model",
            pip_requirements=[],
            serialization_format="cloudpickle",  # as the jobs log their models
        )
    return MlflowClient(uri), {"model_uri": info.model_uri, "run_id": run.info.run_id,
                               "model_id": info.model_id}  # fmt: skip


def test_a_version_is_created_with_its_decision_and_completed_by_its_alias(logged):
    client, model = logged
    promoted = gate_decision("roc_auc", 0.8, champion=None)
    version = register_version(client, "m", **model, tags={"x": "1"}, decision=promoted)
    mv = client.get_model_version("m", version)
    assert mv.tags["x"] == "1" and mv.tags["gate"] == "promoted"
    assert mv.tags["gate_reason"] == promoted.reason
    assert mv.tags[REGISTRATION_TAG] == "complete"
    assert str(client.get_model_version_by_alias("m", CHAMPION).version) == version
    assert complete_registrations(client, "m") == []


def test_a_half_registered_version_gets_its_recorded_decision_at_the_next_run(logged):
    client, model = logged
    held = gate_decision("roc_auc", 0.7, champion=0.8)
    register_version(
        client, "m", **model, tags={}, decision=gate_decision("roc_auc", 0.8, champion=None)
    )
    # what a run killed between the version's row and its alias leaves behind
    for gate in ("promoted", "held"):
        client.create_model_version(
            "m", model["model_uri"], tags={"gate": gate, "gate_reason": held.reason,
                                           REGISTRATION_TAG: "incomplete"},
        )  # fmt: skip
    notes = complete_registrations(client, "m")
    assert notes == [
        "m version 2 was left half-registered by a run that stopped; newer versions have "
        "replaced its decision",
        "m version 3 was left half-registered by a run that stopped; its recorded decision was "
        "applied (@challenger)",
    ]
    assert str(client.get_model_version_by_alias("m", CHAMPION).version) == "1"
    assert str(client.get_model_version_by_alias("m", CHALLENGER).version) == "3"
    tags = [client.get_model_version("m", v).tags[REGISTRATION_TAG] for v in ("1", "2", "3")]
    assert tags == ["complete"] * 3
    assert complete_registrations(client, "m") == []


def test_a_model_never_registered_needs_nothing(logged):
    client, _ = logged
    assert complete_registrations(client, "nothing") == []


def test_a_version_records_the_digest_of_its_files_and_is_loaded_only_if_they_match(logged):
    from upseg.models.registry import (
        MODEL_SHA256_TAG,
        ModelIntegrityError,
        artifacts_digest,
        champion_metrics,
        verified_model,
    )

    client, model = logged
    version = register_version(
        client, "m", **model, tags={}, decision=gate_decision("roc_auc", 0.8, champion=None)
    )
    mv = client.get_model_version("m", version)
    folder = Path(client.get_model_version_download_uri("m", version).removeprefix("file://"))
    assert mv.tags[MODEL_SHA256_TAG] == artifacts_digest(folder)
    rows = pd.DataFrame({"a": [0.0, 1.0]})
    assert verified_model(mv).predict(rows).tolist() == pytest.approx([1.0, 2.0])

    pickled = folder / "model.pkl"
    original = pickled.read_bytes()
    pickled.write_bytes(original + b"\0")
    try:
        with pytest.raises(ModelIntegrityError, match=r"model 'm' version 1: its files' SHA-256"):
            verified_model(mv)
        with pytest.raises(ModelIntegrityError):  # the gate does not load it either
            champion_metrics(client, "m", rows, lambda m: {})
    finally:
        pickled.write_bytes(original)

    client.delete_model_version_tag("m", version, MODEL_SHA256_TAG)
    unverified = client.get_model_version("m", version)
    with pytest.raises(ModelIntegrityError, match="has no recorded SHA-256 of its files"):
        verified_model(unverified)
    assert champion_metrics(client, "m", rows, lambda m: {}) == (
        None,
        "the champion (version 1) has no recorded SHA-256 of its files (it was registered "
        "before upseg recorded them), so it was not loaded",
    )
