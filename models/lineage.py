"""What makes a trained model what it is: its training key, and the versions that carry one.

Every version the retraining job registers is tagged with a *training key*, a
digest of the model's settings, its cutoff, the data fingerprint and the code
version. A model whose key is already registered would come out the same, so
the job does not train it again, and a rerun for the same month changes
nothing in the registry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient

__all__ = ["latest_version", "training_key", "version_with_key"]


def training_key(
    name: str, settings: Mapping[str, Any], *, as_of: str, data: str, code: str
) -> str:
    """A digest of everything that makes a trained model what it is.

    Two runs with the same key would register the same model: the same
    settings, cutoff, data files and code.
    """
    payload = {"model": name, "settings": settings, "as_of": as_of, "data": data, "code": code}
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _newest(client: MlflowClient, query: str) -> ModelVersion | None:
    try:
        found = client.search_model_versions(query)
    except mlflow.exceptions.MlflowException:
        return None
    return max(found, key=lambda v: int(v.version)) if found else None


def version_with_key(client: MlflowClient, name: str, key: str) -> ModelVersion | None:
    """The newest version of registered model ``name`` trained with ``key``, or ``None``."""
    return _newest(client, f"name = '{name}' and tags.training_key = '{key}'")


def latest_version(client: MlflowClient, name: str) -> ModelVersion | None:
    """The newest registered version of ``name``, promoted or not, or ``None``."""
    return _newest(client, f"name = '{name}'")
