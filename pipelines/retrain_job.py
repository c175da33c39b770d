"""``upseg retrain``: the monthly job that retrains churn, propensity and uplift from one config.

One MLflow parent run (experiment ``upseg-retrain``) holds a child run per
model trained; each model goes through its champion/challenger gate exactly as
``upseg train`` does. The job is safe to rerun: every registered version
carries a *training key* (the model, its settings, the as-of date, the data
fingerprint and the code version), and a model whose key is already registered
is not trained again, so a rerun for the same month changes nothing in the
registry. The retraining report (Markdown and JSON) says what was trained,
challenger against champion, what was promoted and why, and how the features
drifted since the last propensity model was trained.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient

from upseg.features.build import build_features
from upseg.features.pit import customer_spine
from upseg.models.dataset import TrainingDataError
from upseg.models.drift import drift_report
from upseg.models.registry import CHAMPION
from upseg.models.tracking import check_tracking, code_version, ensure_experiment, set_tracking
from upseg.models.uplift.data import ExperimentError
from upseg.pipelines.config import UpsegConfig
from upseg.pipelines.jobs import ValidatedData, validated_data, write_atomically
from upseg.pipelines.retrain_report import render_markdown
from upseg.pipelines.train_job import TrainSettings, run_training
from upseg.pipelines.uplift_job import UpliftSettings, run_uplift

__all__ = ["RETRAIN_EXPERIMENT", "ModelOutcome", "RetrainRun", "run_retrain", "training_key"]

#: MLflow experiment of the parent runs (the children live there too).
RETRAIN_EXPERIMENT = "upseg-retrain"
#: Customers sampled for the drift check (features as of the new date).
DRIFT_SAMPLE = 200_000


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


@dataclass(frozen=True)
class RetrainRun:
    """What one retraining run did; ``summary`` is what the report renders."""

    as_of: pd.Timestamp
    parent_run_id: str
    models: dict[str, ModelOutcome]
    report: Path
    report_json: Path
    summary: dict
    seconds: float
    drift: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def failed(self) -> list[str]:
        """Models whose training could not run (their reason is in ``models``)."""
        return [name for name, outcome in self.models.items() if outcome.status == "failed"]


def training_key(name: str, settings: dict, *, as_of: str, data: str, code: str) -> str:
    """A digest of everything that makes a trained model what it is.

    Two runs with the same key would register the same model: the same
    settings, cutoff, data files and code.
    """
    payload = {"model": name, "settings": settings, "as_of": as_of, "data": data, "code": code}
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _registered_with_key(client: MlflowClient, name: str, key: str):
    """The model version of ``name`` trained with ``key``, or ``None``."""
    try:
        found = client.search_model_versions(f"name = '{name}' and tags.training_key = '{key}'")
    except mlflow.exceptions.MlflowException:
        return None
    return max(found, key=lambda v: int(v.version)) if found else None


def _unchanged(client: MlflowClient, name: str, version, key: str) -> ModelOutcome:
    aliases = set(client.get_model_version(name, version.version).aliases)
    return ModelOutcome(
        name=name,
        status="unchanged",
        version=str(version.version),
        promoted=CHAMPION in aliases,
        reason=(
            f"version {version.version} was already trained from the same data, settings and "
            f"code (training key {key[:12]}); nothing retrained"
        ),
        run_id=version.run_id,
        training_key=key,
    )


def _model_settings(config: UpsegConfig, name: str) -> dict:
    model = getattr(config.models, name)
    settings = model.model_dump(mode="json")
    settings.pop("enabled", None)
    settings["seed"] = config.seed
    settings["promotion"] = config.promotion.model_dump(mode="json")
    settings["feature_set"] = config.features.set
    return settings


def _train(
    config: UpsegConfig,
    name: str,
    as_of: pd.Timestamp,
    uri: str,
    key: str,
    validated: ValidatedData,
    on_stage: Callable[[str], None],
) -> tuple[ModelOutcome, object]:
    model = getattr(config.models, name)
    workdir = Path(config.tracking.workdir)
    if name == "uplift":
        run = run_uplift(
            UpliftSettings(
                tracking_uri=uri,
                workdir=workdir,
                data_dir=Path(config.data.path),
                campaign=model.campaign,
                control=model.control,
                outcome=model.outcome,
                approaches=tuple(model.approaches) if model.approaches else None,
                n_folds=model.n_folds,
                seed=config.seed,
                trials=model.trials,
                experiment=RETRAIN_EXPERIMENT,
                margin=config.promotion.margin,
                promote=config.promotion.force,
                quarantine_dir=_path(config.data.quarantine),
                training_key=key,
            ),
            on_stage=lambda m: on_stage(f"uplift: {m}"),
            validated=validated,
        )
    else:
        run = run_training(
            TrainSettings(
                task=name,
                data_dir=Path(config.data.path),
                as_of=as_of,
                tracking_uri=uri,
                workdir=workdir,
                horizon_days=model.horizon_days,
                snapshots=model.snapshots,
                trials=model.trials,
                seed=config.seed,
                experiment=RETRAIN_EXPERIMENT,
                metric=config.promotion.metric,
                margin=config.promotion.margin,
                promote=config.promotion.force,
                calibration=model.calibration,
                quarantine_dir=_path(config.data.quarantine),
                training_key=key,
            ),
            on_stage=lambda m: on_stage(f"{name}: {m}"),
            validated=validated,
        )
    decision = run.decision
    outcome = ModelOutcome(
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
    return outcome, run


def _path(value) -> Path | None:
    return None if value is None else Path(value)


def _last_version(client: MlflowClient, name: str):
    """The newest registered version of ``name`` (promoted or not), or ``None``."""
    try:
        versions = client.search_model_versions(f"name = '{name}'")
    except mlflow.exceptions.MlflowException:
        return None
    return max(versions, key=lambda v: int(v.version)) if versions else None


def _feature_drift(previous, tables: dict, as_of: pd.Timestamp) -> tuple[pd.DataFrame, str]:
    """PSI of today's features against the training reference of the last propensity model."""
    empty = pd.DataFrame(columns=["column", "psi", "status"])
    if previous is None:
        return empty, "no propensity model trained before this run: nothing to compare with"
    try:
        reference = mlflow.artifacts.load_dict(f"runs:/{previous.run_id}/reference.json")
    except Exception as exc:  # an old run without a reference still lets the job finish
        return empty, f"propensity version {previous.version} has no reference.json ({exc})"
    features = build_features(tables, customer_spine(tables["customers"], as_of)).execute()
    if len(features) > DRIFT_SAMPLE:
        features = features.sample(DRIFT_SAMPLE, random_state=0)
    report = drift_report(reference.get("features", {}), features)
    return report, (
        f"features as of {as_of:%Y-%m-%d} ({len(features):,} customers) against the training "
        f"reference of propensity version {previous.version}, the last one trained before "
        "this run"
    )


def run_retrain(
    config: UpsegConfig,
    as_of: pd.Timestamp,
    *,
    on_stage: Callable[[str], None] = lambda _: None,
) -> RetrainRun:
    """Validate the data, retrain every enabled model, gate each, and write the report.

    Raises
    ------
    models.tracking.TrackingUnavailable
        Before any work, when the tracking server does not answer.
    features.validation.DataValidationError
        When the data is unusable.
    """
    started = time.perf_counter()
    uri = config.tracking_uri()
    on_stage(f"Checking the tracking store {uri}")
    check_tracking(uri)
    set_tracking(uri)
    client = MlflowClient(uri)
    data_dir = Path(config.data.path)
    on_stage(f"Validating {data_dir}")
    validated = validated_data(data_dir, quarantine_dir=_path(config.data.quarantine))
    source, digest = validated.source, validated.digest
    code = code_version()
    previous_propensity = _last_version(client, "propensity")
    experiment_id = ensure_experiment(RETRAIN_EXPERIMENT, uri)
    outcomes: dict[str, ModelOutcome] = {}
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=f"retrain-{as_of:%Y-%m-%d}"
    ) as parent:
        mlflow.set_tags(
            {
                "job": "retrain",
                "as_of": as_of.isoformat(),
                "data_fingerprint": digest,
                "code_version": code,
                "config_digest": config.digest(),
            }
        )
        mlflow.log_dict(config.model_dump(mode="json"), "config.json")
        for name in ("churn", "propensity", "uplift"):
            if not getattr(config.models, name).enabled:
                outcomes[name] = ModelOutcome(name=name, status="disabled", reason="disabled")
                continue
            key = training_key(
                name,
                _model_settings(config, name),
                as_of=as_of.isoformat(),
                data=digest,
                code=code,
            )
            existing = _registered_with_key(client, name, key)
            if existing is not None:
                outcomes[name] = _unchanged(client, name, existing, key)
                on_stage(f"{name}: unchanged (version {existing.version})")
                continue
            on_stage(f"Training {name}")
            try:
                outcomes[name], _ = _train(config, name, as_of, uri, key, validated, on_stage)
            except (TrainingDataError, ExperimentError) as exc:
                # one model's data problem must not cost the others their month
                reason = " ".join(str(exc).split())
                outcomes[name] = ModelOutcome(name=name, status="failed", reason=reason)
        on_stage("Measuring drift since the last run")
        drift, drift_note = _feature_drift(previous_propensity, source.result.tables, as_of)
        summary = {
            "as_of": as_of.isoformat(),
            "parent_run_id": parent.info.run_id,
            "tracking_uri": uri,
            "config_digest": config.digest(),
            "code_version": code,
            "data": {
                "path": str(data_dir.resolve()),
                "fingerprint": digest,
                "tables": {
                    t: {
                        "read": s.rows_read,
                        "accepted": s.rows_accepted,
                        "quarantined": s.rows_quarantined,
                    }
                    for t, s in source.result.summaries.items()
                },
            },
            "feature_set": config.features.set,
            "models": {name: asdict(o) for name, o in outcomes.items()},
            "drift": {"note": drift_note, "rows": drift.to_dict(orient="records")},
        }
        out = Path(config.reports.out)
        stem = f"retrain-{as_of:%Y-%m-%d}"
        report, report_json = out / f"{stem}.md", out / f"{stem}.json"
        text = render_markdown(summary)
        write_atomically(report, lambda tmp: Path(tmp).write_text(text))
        payload = json.dumps(summary, indent=2, default=str)
        write_atomically(report_json, lambda tmp: Path(tmp).write_text(payload))
        mlflow.log_artifact(str(report))
        mlflow.log_artifact(str(report_json))
        mlflow.log_metrics(
            {
                "models_trained": sum(o.status == "trained" for o in outcomes.values()),
                "models_promoted": sum(
                    bool(o.promoted) and o.status == "trained" for o in outcomes.values()
                ),
                "features_drifting": int((drift["status"] == "fail").sum()) if len(drift) else 0,
                "models_failed": sum(o.status == "failed" for o in outcomes.values()),
            }
        )
        if any(o.status == "failed" for o in outcomes.values()):
            mlflow.set_tag(
                "failed_models", ",".join(n for n, o in outcomes.items() if o.status == "failed")
            )
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
