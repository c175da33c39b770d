"""The models a scoring run uses: champions (or given versions) loaded from the registry.

A scorer must never feed a model columns it was not trained on, so the scorer
builds the feature set the models name: :func:`feature_set_of` reads it from
each model's ``feature_set`` tag (its run's, else its registered version's) and
refuses models that name no set, a set the scorer cannot build, or different
sets; :func:`check_inputs` then checks every input of each model's signature
is a column of it, before any customer is scored.

Loading a pickled model runs code, so each model's files are downloaded and
checked against the SHA-256 recorded on its registered version before they
are unpickled (:func:`upseg.models.registry.verified_copy`); a version whose
files changed, or that has no recorded digest, is refused.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.models import Model
from mlflow.tracking import MlflowClient

from upseg.errors import UpsegError
from upseg.features.sets import FEATURE_SETS, FeatureSet
from upseg.models.registry import CHAMPION, ModelIntegrityError, verified_copy

__all__ = [
    "MODEL_NAMES",
    "OPTIONAL_ROLES",
    "TABLE_FEATURE_SET",
    "LoadedModel",
    "ScoringError",
    "check_inputs",
    "feature_set_of",
    "load_models",
]

#: The registered models a scoring run uses, by role.
MODEL_NAMES = {
    "churn": "churn",
    "propensity": "propensity",
    "uplift": "uplift",
    "clv": "clv",
    "clusters": "clusters",
}
#: Roles a run can do without, said in the summary: without ``clv`` the scorer falls back to
#: last year's spend, without ``clusters`` the audience's cluster columns are empty.
OPTIONAL_ROLES = ("clv", "clusters")
#: The ``feature_set`` tag of an uplift model trained on a table (``upseg train uplift
#: --table``): its columns come from that table, which the scorer cannot rebuild.
TABLE_FEATURE_SET = "table"


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
    client: MlflowClient,
    versions: dict[str, str | None] | None = None,
    *,
    uplift_optional: bool = False,
) -> dict[str, LoadedModel]:
    """Load churn, propensity, uplift, clv and clusters: each ``@champion`` or the version given.

    Parameters
    ----------
    client : MlflowClient
    versions : dict of str to str or None, optional
        A version to load instead of the champion, per role.
    uplift_optional : bool, default=False
        True leaves ``uplift`` out of the result when it has no ``@champion``
        and no version is given, for the scorer to fall back on the measured
        average effect (:mod:`upseg.serving.uplift_source`); a version given
        that does not exist is still an error. ``clv`` and ``clusters``
        (:data:`OPTIONAL_ROLES`) are always left out when they have no champion
        and no version is given.

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
            optional = role in OPTIONAL_ROLES or (role == "uplift" and uplift_optional)
            if optional and not wanted:
                continue
            which = f"version {wanted}" if wanted else "@champion"
            raise ScoringError(
                f"model {name!r} has no {which} in the registry; train it first "
                f"(`upseg train {role}`) or pass --{role}-version."
            ) from None
        if mv.run_id is None:
            raise ScoringError(
                f"model {name!r} version {mv.version} has no training run in the registry, "
                f"so its feature set and reference are unknown; retrain it (`upseg train {role}`)."
            )
        uri = f"models:/{name}/{mv.version}"
        run = client.get_run(mv.run_id)
        with tempfile.TemporaryDirectory() as scratch:
            try:  # checked against the SHA-256 recorded at registration, then loaded
                local = verified_copy(mv, Path(scratch))
            except ModelIntegrityError as exc:
                raise ScoringError(str(exc)) from None
            model = mlflow.sklearn.load_model(str(local))
            info = Model.load(str(local))
        if hasattr(model, "use_threads"):  # uplift learners train on one thread; predict on all
            model.use_threads(-1)
        inputs = tuple(info.signature.inputs.input_names()) if info.signature else ()
        loaded[role] = LoadedModel(
            role=role,
            name=name,
            version=str(mv.version),
            uri=uri,
            model=model,
            feature_set=run.data.tags.get("feature_set") or (mv.tags or {}).get("feature_set"),
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


def feature_set_of(models: dict[str, LoadedModel]) -> FeatureSet:
    """The one feature set every model was trained on, read from its ``feature_set`` tag.

    Raises
    ------
    ScoringError
        Naming each model that carries no tag, was trained on a table
        (:data:`TABLE_FEATURE_SET`) or on a set the scorer does not know, with
        the known sets; or naming each model's set when they differ.
    """
    known = ", ".join(sorted(FEATURE_SETS))
    problems, sets = [], {}
    for m in models.values():
        if m.feature_set is None:
            problems.append(f"{m.label} has no feature_set tag; the scorer builds one of: {known}")
        elif m.feature_set == TABLE_FEATURE_SET:
            problems.append(
                f"{m.label} was trained on feature set {TABLE_FEATURE_SET!r} (the columns of "
                "a table given to `upseg train uplift --table`), which the scorer cannot build "
                f"from a data source; it builds one of: {known}"
            )
        elif m.feature_set not in FEATURE_SETS:
            problems.append(
                f"{m.label} was trained on feature set {m.feature_set!r}, which the scorer does "
                f"not know; it builds one of: {known}"
            )
        else:
            sets[m.label] = m.feature_set
    if not problems and len(set(sets.values())) > 1:
        problems.append(
            "the models were trained on different feature sets ("
            + ", ".join(f"{label}: {key}" for label, key in sets.items())
            + "); the scorer builds one set for all of them: retrain them on one"
        )
    if problems:
        raise ScoringError("model/feature mismatch: " + "; ".join(problems) + ".")
    return FEATURE_SETS[next(iter(sets.values()))]
