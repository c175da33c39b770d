"""The models a scoring run uses: champions (or given versions) loaded from the registry.

A scorer must never feed a model columns it was not trained on, so every model
is checked against the feature set the scorer builds before any customer is
scored: its run's ``feature_set`` tag must name that set, and every input of its
signature must be a column of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from upseg.models.registry import CHAMPION
from upseg.errors import UpsegError

__all__ = ["MODEL_NAMES", "LoadedModel", "ScoringError", "check_inputs", "load_models"]

#: The registered models a scoring run needs, by role.
MODEL_NAMES = {"churn": "churn", "propensity": "propensity", "uplift": "uplift"}


class ScoringError(UpsegError, RuntimeError):
    """A scoring run cannot go on; the message is one line a scheduler can show."""


@dataclass(frozen=True)
class LoadedModel:
    """A registered model version with what the scorer needs to trust it."""

    role: str
    name: str
    version: str
    uri: str
    model: Any
    feature_set: str | None
    inputs: tuple[str, ...]
    reference: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``name:version``, as written in the audience's ``model_versions``."""
        return f"{self.name}:{self.version}"


def _reference(client: MlflowClient, run_id: str) -> dict:
    """The training distributions logged with the run, or {} for runs that predate them."""
    try:
        path = client.download_artifacts(run_id, "reference.json")
    except (MlflowException, OSError):
        return {}
    with open(path) as fh:
        return json.load(fh)


def load_models(
    client: MlflowClient, versions: dict[str, str | None] | None = None
) -> dict[str, LoadedModel]:
    """Load churn, propensity and uplift: the ``@champion`` or the version given per role.

    Raises
    ------
    ScoringError
        Naming the model that has no champion (or no such version).
    """
    versions = versions or {}
    loaded = {}
    for role, name in MODEL_NAMES.items():
        wanted = versions.get(role)
        try:
            mv = (
                client.get_model_version(name, str(wanted))
                if wanted
                else client.get_model_version_by_alias(name, CHAMPION)
            )
        except MlflowException:
            which = f"version {wanted}" if wanted else "@champion"
            raise ScoringError(
                f"model {name!r} has no {which} in the registry; train it first "
                f"(`upseg train {role}`) or pass --{role}-version."
            ) from None
        uri = f"models:/{name}/{mv.version}"
        run = client.get_run(mv.run_id)
        info = mlflow.models.get_model_info(uri)
        inputs = tuple(info.signature.inputs.input_names()) if info.signature else ()
        loaded[role] = LoadedModel(
            role=role,
            name=name,
            version=str(mv.version),
            uri=uri,
            model=mlflow.sklearn.load_model(uri),
            feature_set=run.data.tags.get("feature_set"),
            inputs=inputs,
            reference=_reference(client, mv.run_id),
        )
    return loaded


def check_inputs(models: dict[str, LoadedModel], feature_set: str, columns: list[str]) -> None:
    """Refuse models trained on another feature set or on columns the features lack.

    Raises
    ------
    ScoringError
        Naming each model, what it was trained on and what is missing.
    """
    problems = []
    available = set(columns)
    for m in models.values():
        if m.feature_set != feature_set:
            problems.append(
                f"{m.label} was trained on feature set {m.feature_set!r}, the scorer builds "
                f"{feature_set!r}"
            )
            continue
        needed = list(m.inputs) or list(getattr(m.model, "feature_names_in_", []))
        missing = [c for c in needed if c not in available]
        if missing:
            problems.append(f"{m.label} needs column(s) the features lack: {missing[:8]}")
    if problems:
        raise ScoringError("model/feature mismatch: " + "; ".join(problems) + ".")
