"""What the tests that start real processes share."""

from __future__ import annotations

import os

#: MLflow exports these for subprocesses; ``mlflow.set_registry_uri`` never removes its own,
#: so an earlier test's server (since stopped) may still be named there.
_MLFLOW_URIS = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


def clean_environment() -> dict[str, str]:
    """This process's environment without the MLflow URIs earlier tests may have left in it."""
    return {k: v for k, v in os.environ.items() if k not in _MLFLOW_URIS}
