"""The champion/challenger gate of the model registry, one for every kind of model.

Every training run registers a new version. It becomes ``@champion`` only if,
on the new run's own held-out rows, it beats its simple baseline (the recency
ranking of a predictive model, random targeting of an uplift model) and the
current champion by the configured metric and margin; otherwise it is
``@challenger`` and the reason is recorded on the version. A champion that
cannot be scored on the new run's rows (:func:`champion_metrics`) is kept.
``force`` promotes regardless and says so.

A version is created with its facts, its gate decision and the SHA-256 of its
model's files in one write (:func:`register_version`); a run killed before its
alias is set leaves it ``registration: incomplete`` for the next run to finish
(:func:`complete_registrations`). A model is unpickled only from a copy whose
digest matches the one recorded (:func:`verified_copy`): loading a pickle runs
its code.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode
from mlflow.tracking import MlflowClient

from upseg.errors import UpsegError
from upseg.models.evaluation import is_better

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "MODEL_SHA256_TAG",
    "REGISTRATION_TAG",
    "UPLIFT_GATE_METRIC",
    "GateDecision",
    "ModelIntegrityError",
    "apply_decision",
    "artifacts_digest",
    "champion_metrics",
    "champion_version",
    "complete_registrations",
    "gate_decision",
    "register_version",
    "unfinished",
    "verified_copy",
    "verified_model",
]

CHAMPION = "champion"
CHALLENGER = "challenger"
#: The uplift models' gate metric: the variants' held-out Qini weighted by their
#: customers (greater is better); its baseline, random targeting, scores 0.
UPLIFT_GATE_METRIC = "qini_auc_weighted"
#: The registered version's tag holding the SHA-256 of its model's files (:func:`artifacts_digest`).
MODEL_SHA256_TAG = "model_sha256"
#: What MLflow writes into a model's folder when it downloads it from the registry.
_ADDED_ON_DOWNLOAD = frozenset({"registered_model_meta"})


class ModelIntegrityError(UpsegError, RuntimeError):
    """A registered model's files cannot be shown to be the ones registered; it is not loaded."""


@dataclass(frozen=True)
class GateDecision:
    """Whether a challenger is promoted, and why, in one sentence for people."""

    promote: bool
    reason: str
    metric: str
    challenger: float
    champion: float | None
    baseline: float | None


def gate_decision(
    metric: str,
    challenger: float,
    *,
    champion: float | None,
    baseline: float | None = None,
    margin: float = 0.0,
    force: bool = False,
    not_comparable: str | None = None,
    unproven: str | None = None,
    greater_is_better: bool | None = None,
    baseline_name: str | None = None,
) -> GateDecision:
    """Decide promotion from scores on the same held-out rows.

    The checks, in order: ``force`` promotes; ``unproven`` holds; a champion
    that is ``not_comparable`` is kept; a challenger that does not beat the
    ``baseline`` is held; without a champion the challenger is promoted;
    otherwise it must beat the champion by ``margin``.

    Parameters
    ----------
    metric : str
        A key of :data:`models.evaluation.METRIC_DIRECTIONS`, e.g. ``roc_auc``,
        or :data:`UPLIFT_GATE_METRIC`.
    challenger : float
        The new model's score.
    champion : float, optional
        The current champion's score on the same rows; ``None`` when there is
        no champion (or it cannot read these rows).
    baseline : float, optional
        The simple baseline's score on the same rows; a model that does not
        beat it is never promoted unless forced.
    margin : float, default 0.0
        How much better than the champion the challenger must be.
    force : bool, default False
        Promote whatever the scores (``--promote``).
    not_comparable : str, optional
        Why the champion could not be scored on these rows (from
        :func:`champion_metrics`); the champion is then kept unless forced.
    unproven : str, optional
        Why the challenger has not shown it beats its baseline, when the caller
        decides it from more than the score (an uplift model's bootstrap
        intervals); the challenger is then held unless forced.
    greater_is_better : bool, optional
        The direction of a ``metric`` outside ``METRIC_DIRECTIONS`` (a CLV
        model's ``gini``, say); by default looked up there.
    baseline_name : str, optional
        What the baseline is, for the reason; "the recency baseline" by default.

    Returns
    -------
    GateDecision

    Raises
    ------
    ValueError
        If ``metric`` is unknown or a score is not a finite number.
    """
    uplift = metric == UPLIFT_GATE_METRIC
    direction = True if uplift else greater_is_better
    against = baseline_name or ("random targeting" if uplift else "the recency baseline")

    def decided(promote: bool, reason: str) -> GateDecision:
        return GateDecision(promote, reason, metric, challenger, champion, baseline)

    scores = f"{'held-out Qini' if uplift else metric} {challenger:.4f}"
    if force:
        return decided(True, f"promoted by request (--promote); {scores}")
    if unproven:
        return decided(False, f"{scores}: {unproven}")
    if not_comparable:
        return decided(False, f"not compared: {not_comparable}; use --promote to replace it")
    if baseline is not None and not is_better(
        metric, challenger, baseline, greater_is_better=direction
    ):
        return decided(False, f"{scores} does not beat {against}'s {baseline:.4f}")
    if champion is None:
        return decided(True, f"no champion yet; {scores}")
    if is_better(metric, challenger, champion, margin=margin, greater_is_better=direction):
        return decided(
            True,
            f"{scores} beats the champion's {champion:.4f} by at least the margin {margin:g}",
        )
    return decided(
        False,
        f"{scores} does not beat the champion's {champion:.4f} by the margin {margin:g}",
    )


def champion_metrics(
    client: MlflowClient,
    name: str,
    rows: pd.DataFrame,
    evaluate: Callable[[Any], dict[str, float]],
    *,
    feature_set: str | None = None,
    mismatch: Callable[[Any], str | None] = lambda model: None,
) -> tuple[dict[str, float] | None, str | None]:
    """The ``@champion``'s metrics on the challenger's held-out ``rows``, or why it has none.

    Parameters
    ----------
    client : MlflowClient
    name : str
        Registered model name.
    rows : pandas.DataFrame
        The challenger's held-out rows; the champion must find its features among the columns.
    evaluate : callable
        The challenger's metrics of a model on ``rows``, applied to the champion.
    feature_set : str, optional
        The challenger's feature set; a champion whose run read another is not compared.
    mismatch : callable, optional
        What makes the loaded champion incomparable beyond its columns (e.g. other
        arms), as the end of a sentence, or ``None``.

    Returns
    -------
    metrics : dict of str to float or None
        ``None`` without a champion or when it cannot be compared.
    not_comparable : str or None
        Why the champion cannot be scored on ``rows``.
    """
    current: ModelVersion | None = champion_version(client, name)
    if current is None:
        return None, None
    which = f"the champion (version {current.version})"
    if feature_set is not None:
        if current.run_id is None:
            return None, f"{which} has no training run, so its feature set is unknown"
        its_set = client.get_run(current.run_id).data.tags.get("feature_set")
        if its_set != feature_set:
            return None, f"{which} reads feature set {its_set!r}, this run {feature_set!r}"
    if not (current.tags or {}).get(MODEL_SHA256_TAG):
        return None, (
            f"{which} has no recorded SHA-256 of its files (it was registered before upseg "
            "recorded them), so it was not loaded"
        )
    model = verified_model(current)  # a changed file stops the job
    missing = [c for c in model.feature_names_in_ if c not in rows.columns]
    if missing:
        return None, f"{which} needs absent columns {missing}"
    problem = mismatch(model)
    if problem:
        return None, f"{which} {problem}"
    return evaluate(model), None


def artifacts_digest(folder: Path) -> str:
    """SHA-256 over a model folder's files, their paths and bytes, in a fixed order.

    The file MLflow adds when it downloads a model from the registry
    (``registered_model_meta``) is not the model's and is left out, so the
    digest of the folder logged and of any copy downloaded later agree.
    """
    folder = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if relative in _ADDED_ON_DOWNLOAD:
            continue
        digest.update(f"{relative}\0".encode())
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _download(uri: str, into: Path) -> Path:
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(into)))


def verified_copy(version: ModelVersion, into: Path) -> Path:
    """Download a registered version's model into ``into`` and check it; the model's folder.

    The files come from the registry ``mlflow`` points at
    (:func:`upseg.models.tracking.set_tracking`) and must have the SHA-256
    recorded on the version when it was registered. Unpickling a model runs
    code: load it from this copy, the one checked, and only after this.

    Raises
    ------
    ModelIntegrityError
        When the version has no ``model_sha256`` tag, or its files' digest differs.
    """
    name, number = version.name, version.version
    expected = (version.tags or {}).get(MODEL_SHA256_TAG)
    if not expected:
        raise ModelIntegrityError(
            f"model {name!r} version {number} has no recorded SHA-256 of its files (it was "
            "registered before upseg recorded them), so it is not loaded: loading a model runs "
            "the code pickled in it. Retrain it and promote the new version (--promote, or "
            "promotion.force in the retraining configuration)."
        )
    local = _download(f"models:/{name}/{number}", into)
    actual = artifacts_digest(local)
    if actual != expected:
        raise ModelIntegrityError(
            f"model {name!r} version {number}: its files' SHA-256 is {actual[:16]}…, not "
            f"the {expected[:16]}… recorded when it was registered; they have changed since, "
            "so it is not loaded (loading a model runs the code pickled in it). Use only a "
            "registry you trust, and retrain to replace this version."
        )
    return local


def verified_model(version: ModelVersion) -> Any:
    """The model of a registered version, loaded from a copy :func:`verified_copy` checked."""
    with tempfile.TemporaryDirectory() as scratch:
        return mlflow.sklearn.load_model(str(verified_copy(version, Path(scratch))))


def champion_version(client: MlflowClient, name: str) -> ModelVersion | None:
    """The ``@champion`` model version of ``name``, or ``None``."""
    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None


def apply_decision(client: MlflowClient, name: str, version: str, decision: GateDecision) -> None:
    """Point ``@champion`` or ``@challenger`` at ``version`` and record the reason on it."""
    alias = CHAMPION if decision.promote else CHALLENGER
    for key, value in _decision_tags(decision).items():
        client.set_model_version_tag(name, version, key, value)
    client.set_registered_model_alias(name, alias, version)


#: A version's tag while its alias is not yet applied: ``incomplete``, then ``complete``.
REGISTRATION_TAG = "registration"


def _decision_tags(decision: GateDecision) -> dict[str, str]:
    return {"gate": "promoted" if decision.promote else "held", "gate_reason": decision.reason}


def register_version(
    client: MlflowClient,
    name: str,
    *,
    model_uri: str,
    run_id: str,
    model_id: str | None,
    tags: dict[str, str],
    decision: GateDecision | None = None,
) -> str:
    """Register a logged model as a new version of ``name`` (created on first use).

    The version's ``model_sha256`` tag holds :func:`artifacts_digest` of the
    model's files as logged; :func:`verified_model` checks it before loading.
    With ``decision``, the version is created with its gate decision among its
    tags, in one write, and marked ``registration: incomplete`` until its alias
    (``@champion`` or ``@challenger``) points at it; a run killed in between
    leaves a version whose decision is recorded, which the next training run of
    ``name`` completes (:func:`complete_registrations`). No version is ever
    registered without its facts.
    """
    try:
        client.create_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
            raise
    # The digest of the files as logged, so that whoever loads the version can check them.
    with tempfile.TemporaryDirectory() as scratch:
        tags = {**tags, MODEL_SHA256_TAG: artifacts_digest(_download(model_uri, Path(scratch)))}
    if decision is not None:
        tags = {**tags, **_decision_tags(decision), REGISTRATION_TAG: "incomplete"}
    version = str(
        client.create_model_version(
            name, source=model_uri, run_id=run_id, tags=tags, model_id=model_id
        ).version
    )
    if decision is not None:
        client.set_registered_model_alias(
            name, CHAMPION if decision.promote else CHALLENGER, version
        )
        client.set_model_version_tag(name, version, REGISTRATION_TAG, "complete")
    return version


def unfinished(name: str) -> str:
    """What a registration cut short leaves of ``name``, as the end of a sentence."""
    return (
        f"{name!r} has no new version, or one whose alias is not yet set (tag registration: "
        "incomplete), which the next training run of it completes"
    )


def complete_registrations(client: MlflowClient, name: str) -> list[str]:
    """Finish the registrations a killed run left incomplete; the sentences to tell the user.

    The newest version gets the alias its recorded gate decision names; an
    older one's decision has been overtaken by the versions after it, so it is
    only marked complete. Versions from before the tag existed are complete.
    """
    try:
        versions = client.search_model_versions(f"name = '{name}'")
    except MlflowException:
        return []
    if not versions:
        return []
    newest = max(int(v.version) for v in versions)
    notes = []
    for v in sorted(versions, key=lambda v: int(v.version)):
        if (v.tags or {}).get(REGISTRATION_TAG) != "incomplete":
            continue
        promoted = v.tags.get("gate") == "promoted"
        alias = CHAMPION if promoted else CHALLENGER
        if int(v.version) == newest:
            client.set_registered_model_alias(name, alias, str(v.version))
            done = f"its recorded decision was applied (@{alias})"
        else:
            done = "newer versions have replaced its decision"
        client.set_model_version_tag(name, str(v.version), REGISTRATION_TAG, "complete")
        notes.append(
            f"{name} version {v.version} was left half-registered by a run that stopped; {done}"
        )
    return notes
