"""``upseg retrain``: the monthly job retraining churn, propensity, uplift, CLV and clusters.

One MLflow parent run (experiment ``upseg-retrain``) holds a child run per
model trained; each model goes through its champion/challenger gate exactly as
``upseg train`` does. The job is safe to rerun: every registered version
carries a *training key* (:mod:`upseg.models.lineage`: the model, its settings,
the as-of date, the data fingerprint and the code version), and a model whose
key is already registered is not trained again, so a rerun for the same month
changes nothing in the registry. The retraining report (Markdown and JSON,
:mod:`upseg.pipelines.retrain_report`) says what was trained, challenger
against champion, what was promoted and why, and how the features drifted
since the last propensity model was trained (:func:`upseg.models.drift.features_drift`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient

from upseg.features.engines import EngineSettings
from upseg.locks import job_locks, lock_timeout
from upseg.models.clusters.preprocessing import ClusteringError
from upseg.models.dataset import TrainingDataError
from upseg.models.drift import features_drift
from upseg.models.lineage import latest_version, training_key, version_with_key
from upseg.models.registry import CHAMPION
from upseg.models.tracking import check_tracking, code_version, ensure_experiment, set_tracking
from upseg.models.uplift.data import ExperimentError
from upseg.pipelines.clusters_job import run_clusters
from upseg.pipelines.clv_job import run_clv
from upseg.pipelines.config import UpsegConfig
from upseg.pipelines.jobs import ValidatedData, validated_data
from upseg.pipelines.retrain_report import retrain_summary, write_reports
from upseg.pipelines.settings import (
    clusters_settings,
    clv_settings,
    engine_settings,
    key_settings,
    train_settings,
    uplift_settings,
)
from upseg.pipelines.train_job import run_training
from upseg.pipelines.uplift_job import run_uplift

__all__ = ["MODELS", "RETRAIN_EXPERIMENT", "ModelOutcome", "RetrainRun", "run_retrain"]

#: MLflow experiment of the parent runs (the children live there too).
RETRAIN_EXPERIMENT = "upseg-retrain"
#: The models the job trains, in order.
MODELS = ("churn", "propensity", "uplift", "clv", "clusters")


@dataclass(frozen=True)
class ModelOutcome:
    """What the job did with one model."""

    name: str
    status: str  # trained | unchanged | failed | disabled
    version: str | None = None
    promoted: bool | None = None
    reason: str = ""
    metric: str | None = None
    challenger: float | None = None
    champion: float | None = None
    baseline: float | None = None
    run_id: str | None = None
    training_key: str | None = None
    seconds: float = 0.0
    notes: tuple[str, ...] = ()

    @classmethod
    def trained(cls, name: str, run: Any, key: str) -> ModelOutcome:
        """The outcome of a training run (``TrainingRun``, ``UpliftRun``, ``CLVRun``...)."""
        decision = run.decision
        return cls(
            name=name,
            status="trained",
            version=str(run.version),
            promoted=decision.promote,
            reason=decision.reason,
            metric=decision.metric,
            challenger=decision.challenger,
            champion=decision.champion,
            baseline=decision.baseline,
            run_id=run.run_id,
            training_key=key,
            seconds=run.seconds,
            notes=tuple(run.notes),
        )

    @classmethod
    def unchanged(
        cls, client: MlflowClient, name: str, version: ModelVersion, key: str
    ) -> ModelOutcome:
        """The outcome of a model whose ``version`` was already trained with ``key``."""
        aliases = set(client.get_model_version(name, version.version).aliases)
        return cls(
            name=name,
            status="unchanged",
            version=str(version.version),
            promoted=CHAMPION in aliases,
            reason=(
                f"version {version.version} was already trained from the same data, settings "
                f"and code (training key {key[:12]}); nothing retrained"
            ),
            run_id=version.run_id,
            training_key=key,
        )


@dataclass(frozen=True)
class RetrainRun:
    """What one retraining run did; ``summary`` is what the report renders."""

    as_of: pd.Timestamp
    parent_run_id: str
    models: dict[str, ModelOutcome]
    report: Path
    report_json: Path
    summary: dict[str, Any]
    seconds: float
    drift: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def failed(self) -> list[str]:
        """Models whose training could not run (their reason is in ``models``)."""
        return [name for name, outcome in self.models.items() if outcome.status == "failed"]


def _train(
    config: UpsegConfig,
    name: str,
    as_of: pd.Timestamp,
    key: str,
    validated: ValidatedData,
    on_stage: Callable[[str], None],
) -> ModelOutcome:
    """Train model ``name`` as the configuration says; its outcome."""

    def stage(message: str) -> None:
        on_stage(f"{name}: {message}")

    run: Any
    if name == "uplift":
        uplift = uplift_settings(config, experiment=RETRAIN_EXPERIMENT, training_key=key)
        run = run_uplift(uplift, on_stage=stage, validated=validated)
    elif name == "clv":
        clv = clv_settings(config, as_of, experiment=RETRAIN_EXPERIMENT, training_key=key)
        run = run_clv(clv, on_stage=stage, validated=validated)
    elif name == "clusters":
        clusters = clusters_settings(config, as_of, experiment=RETRAIN_EXPERIMENT, training_key=key)
        run = run_clusters(clusters, on_stage=stage, validated=validated)
    else:
        train = train_settings(config, name, as_of, experiment=RETRAIN_EXPERIMENT, training_key=key)
        run = run_training(train, on_stage=stage, validated=validated)
    return ModelOutcome.trained(name, run, key)


def _model_outcome(
    config: UpsegConfig,
    name: str,
    as_of: pd.Timestamp,
    client: MlflowClient,
    validated: ValidatedData,
    code: str,
    on_stage: Callable[[str], None],
) -> ModelOutcome:
    """Train model ``name`` unless it is disabled or already trained with this key."""
    if not getattr(config.models, name).enabled:
        return ModelOutcome(name=name, status="disabled", reason="disabled")
    settings = key_settings(config, name)
    key = training_key(name, settings, as_of=as_of.isoformat(), data=validated.digest, code=code)
    existing = version_with_key(client, name, key)
    if existing is not None:
        on_stage(f"{name}: unchanged (version {existing.version})")
        return ModelOutcome.unchanged(client, name, existing, key)
    on_stage(f"Training {name}")
    try:
        return _train(config, name, as_of, key, validated, on_stage)
    except (TrainingDataError, ExperimentError, ClusteringError) as exc:
        # one model's data problem must not cost the others their month
        return ModelOutcome(name=name, status="failed", reason=" ".join(str(exc).split()))


def _feature_drift(
    previous: ModelVersion | None, validated: ValidatedData, as_of: pd.Timestamp
) -> tuple[pd.DataFrame, str]:
    """PSI of today's features against the training reference of the last propensity model."""
    reference, note = None, "no propensity model trained before this run: nothing to compare with"
    if previous is not None:
        try:
            reference = mlflow.artifacts.load_dict(f"runs:/{previous.run_id}/reference.json")
        except Exception as exc:  # an old run without a reference still lets the job finish
            note = f"propensity version {previous.version} has no reference.json ({exc})"
    drift, customers = features_drift(reference, validated.source.result.tables, as_of)
    if reference is not None and previous is not None:
        note = (
            f"features as of {as_of:%Y-%m-%d} ({customers:,} customers) against the training "
            f"reference of propensity version {previous.version}, the last one trained before "
            "this run"
        )
    return drift, note


def run_retrain(
    config: UpsegConfig,
    as_of: pd.Timestamp,
    *,
    on_stage: Callable[[str], None] = lambda _: None,
    engine: EngineSettings | None = None,
) -> RetrainRun:
    """Validate the data, retrain every enabled model, gate each, and write the report.

    ``engine`` is where the data is validated and features are built, the
    configuration's ``engine:`` when omitted; the models train in this process
    on at most ``training.max_rows`` rows each (see :mod:`upseg.models.sampling`).

    Raises
    ------
    models.tracking.TrackingUnavailable
        Before any work, when the tracking server does not answer.
    features.validation.DataValidationError
        When the data is unusable.
    upseg.locks.JobLockedError
        When another job holds the work directory (see :mod:`upseg.locks`).
    """
    workdir, uri = config.tracking.workdir, config.tracking_uri()
    with job_locks("retrain", workdir, uri, timeout=lock_timeout()):
        return _run_retrain(config, as_of, on_stage=on_stage, engine=engine)


def _run_retrain(
    config: UpsegConfig,
    as_of: pd.Timestamp,
    *,
    on_stage: Callable[[str], None],
    engine: EngineSettings | None,
) -> RetrainRun:
    started = time.perf_counter()
    uri = config.tracking_uri()
    on_stage(f"Checking the tracking store {uri}")
    check_tracking(uri)
    set_tracking(uri)
    client = MlflowClient(uri)
    data_dir = Path(config.data.path)
    engine = engine or engine_settings(config)
    on_stage(f"Validating {data_dir} on {engine.name}")
    quarantine = None if config.data.quarantine is None else Path(config.data.quarantine)
    validated = validated_data(data_dir, quarantine_dir=quarantine, engine=engine)
    code = code_version()
    previous_propensity = latest_version(client, "propensity")
    experiment_id = ensure_experiment(RETRAIN_EXPERIMENT, uri)
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=f"retrain-{as_of:%Y-%m-%d}"
    ) as parent:
        mlflow.set_tags(
            {
                "job": "retrain",
                "as_of": as_of.isoformat(),
                "data_fingerprint": validated.digest,
                "code_version": code,
                "config_digest": config.digest(),
                "engine": engine.name,
            }
        )
        mlflow.log_dict(config.model_dump(mode="json"), "config.json")
        outcomes = {
            name: _model_outcome(config, name, as_of, client, validated, code, on_stage)
            for name in MODELS
        }
        on_stage("Measuring drift since the last run")
        drift, drift_note = _feature_drift(previous_propensity, validated, as_of)
        summary = retrain_summary(
            config,
            as_of,
            parent_run_id=parent.info.run_id,
            tracking_uri=uri,
            code=code,
            validated=validated,
            models={name: asdict(o) for name, o in outcomes.items()},
            drift=drift,
            drift_note=drift_note,
            engine=engine.name,
        )
        report, report_json = write_reports(summary, Path(config.reports.out), as_of)
        mlflow.log_artifact(str(report))
        mlflow.log_artifact(str(report_json))
        failed = [name for name, o in outcomes.items() if o.status == "failed"]
        mlflow.log_metrics(
            {
                "models_trained": sum(o.status == "trained" for o in outcomes.values()),
                "models_promoted": sum(
                    bool(o.promoted) and o.status == "trained" for o in outcomes.values()
                ),
                "features_drifting": int((drift["status"] == "fail").sum()) if len(drift) else 0,
                "models_failed": len(failed),
            }
        )
        if failed:
            mlflow.set_tag("failed_models", ",".join(failed))
    return RetrainRun(
        as_of=as_of,
        parent_run_id=parent.info.run_id,
        models=outcomes,
        report=report,
        report_json=report_json,
        summary=summary,
        seconds=time.perf_counter() - started,
        drift=drift,
    )
