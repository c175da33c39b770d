"""Wiring of ``upseg train churn|propensity``: data → tuning → model → MLflow → gate.

The order matters for what a failure leaves behind: the tracking server is
checked before any work, the model is registered only once its run has
logged everything, and the champion is compared on the new run's held-out
rows before the registry is touched.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import ActiveRun
from mlflow.models.model import ModelInfo
from mlflow.tracking import MlflowClient

from upseg.features.engines import EngineSettings
from upseg.features.sets import CUSTOMER_V1, get_feature_set
from upseg.files import temporary_folder_beside
from upseg.locks import job_locks, lock_timeout
from upseg.models import plots
from upseg.models.baseline import RecencyBaseline
from upseg.models.classifier import CalibratedLGBMClassifier
from upseg.models.dataset import DEFAULT_MAX_ROWS, TASKS, TrainingData, training_data
from upseg.models.drift import training_reference
from upseg.models.evaluation import classification_metrics, gains_table, reliability_table
from upseg.models.evaluation import shap_importance as importance_table
from upseg.models.explain import top_drivers
from upseg.models.registry import (
    GateDecision,
    champion_metrics,
    complete_registrations,
    gate_decision,
    register_version,
    unfinished,
)
from upseg.models.tracking import (
    check_tracking,
    code_version,
    ensure_experiment,
    log_model,
    server_calls,
    set_tracking,
)
from upseg.models.tuning import TuningResult, study_name, tune
from upseg.pipelines.jobs import ValidatedData, validated_data

__all__ = ["TrainSettings", "TrainingRun", "run_training"]

#: Rows of the test split drawn in the SHAP summary plot.
SHAP_PLOT_ROWS = 2000
#: Test customers whose top three drivers are logged, as the scorer will write them.
REASON_ROWS = 100


@dataclass(frozen=True)
class TrainSettings:
    """Everything ``upseg train churn|propensity`` lets the user choose."""

    task: str
    data_dir: Path
    as_of: pd.Timestamp
    tracking_uri: str
    workdir: Path
    horizon_days: int | None = None
    snapshots: int = 3
    trials: int = 0
    seed: int = 0
    experiment: str | None = None
    metric: str = "roc_auc"
    margin: float = 0.0
    promote: bool = False
    calibration: str = "sigmoid"
    quarantine_dir: Path | None = None
    #: Key of the feature set the model reads (``features.sets.FEATURE_SETS``).
    feature_set: str = CUSTOMER_V1.key
    #: Tagged on the registered version; the retraining job skips a key it has seen.
    training_key: str | None = None
    #: Bound on the rows built for training, sampled by label (None: every row).
    max_rows: int | None = DEFAULT_MAX_ROWS
    #: Where the data is validated and features are built.
    engine: EngineSettings | None = None


@dataclass(frozen=True)
class TrainingRun:
    """What a training run produced, for the CLI and the retraining report."""

    settings: TrainSettings
    run_id: str
    experiment_id: str
    version: str
    decision: GateDecision
    metrics: dict[str, float]
    baseline: dict[str, float]
    champion: dict[str, float] | None
    data: TrainingData
    tuning: TuningResult
    best_iteration: int
    seconds: float
    notes: tuple[str, ...] = field(default=())


def _fit(
    data: TrainingData, settings: TrainSettings, digest: str, on_stage: Callable[[str], None]
) -> tuple[CalibratedLGBMClassifier, RecencyBaseline, TuningResult]:
    """Tune LightGBM on ``valid``, fit the calibrated model, and the recency baseline."""
    task = TASKS[settings.task]
    train, valid = data.part("train"), data.part("valid")
    features = list(data.features)
    on_stage(f"Tuning ({settings.trials} trials)" if settings.trials else "Training")
    tuning = tune(
        (train[features], train["label"]),
        (valid[features], valid["label"]),
        categorical=data.categorical,
        trials=settings.trials,
        seed=settings.seed,
        name=study_name(task.name, data.holdout_as_of, digest, settings.seed),
        storage=settings.workdir / "optuna.db",
        callbacks=(_trial_reporter(settings.trials, on_stage),),
    )
    model = CalibratedLGBMClassifier(
        params=tuning.params,
        categorical=data.categorical,
        calibration=settings.calibration,
        random_state=settings.seed,
    ).fit(train[features], train["label"], X_valid=valid[features], y_valid=valid["label"])
    baseline = RecencyBaseline(increasing=task.recency_raises_score).fit(valid, valid["label"])
    return model, baseline, tuning


def _input_example(model: CalibratedLGBMClassifier, rows: pd.DataFrame) -> pd.DataFrame:
    """Five feature rows as the feature table holds them, categories as text."""
    example = rows.loc[:, list(model.feature_names_in_)].head(5)
    return example.astype({c: "object" for c in model.categories_})


def _write_artifacts(
    out: Path,
    data: TrainingData,
    model: CalibratedLGBMClassifier,
    baseline: RecencyBaseline,
    tuning: TuningResult,
    fingerprint: dict[str, Any],
) -> None:
    """Write the plots and tables of the test split, and the run's facts, into ``out``."""
    test = data.part("test")
    y = test["label"].to_numpy()
    p_model = model.predict_proba(test)[:, 1]
    p_base = baseline.predict_proba(test)[:, 1]
    scores = {"LightGBM (calibrated)": p_model, "recency baseline": p_base}
    plots.save_figure(plots.roc_figure(y, scores), out / "plots" / "roc.png")
    plots.save_figure(plots.pr_figure(y, scores), out / "plots" / "pr.png")
    plots.save_figure(plots.calibration_figure(y, scores), out / "plots" / "calibration.png")
    plots.save_figure(plots.lift_figure(y, scores), out / "plots" / "lift.png")
    contributions = model.contributions(test).drop(columns="bias")
    sample = test.sample(min(SHAP_PLOT_ROWS, len(test)), random_state=0).index
    plots.save_figure(
        plots.shap_summary_figure(
            contributions.loc[sample].to_numpy(), test.loc[sample, list(data.features)]
        ),
        out / "plots" / "shap_summary.png",
    )
    tables = out / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    importance_table(contributions.to_numpy(), list(data.features)).to_csv(
        tables / "shap_importance.csv", index=False
    )
    reasons = test.loc[sample[:REASON_ROWS], ["customer_id"]].assign(
        probability=p_model[test.index.get_indexer(sample[:REASON_ROWS])],
        reasons=top_drivers(
            contributions.loc[sample[:REASON_ROWS]].to_numpy(), list(data.features)
        ),
    )
    reasons.to_csv(tables / "reasons_sample.csv", index=False)
    reliability_table(y, p_model).to_csv(tables / "reliability.csv", index=False)
    gains_table(y, p_model).to_csv(tables / "gains.csv", index=False)
    gains_table(y, p_base).to_csv(tables / "gains_baseline.csv", index=False)
    data.counts().to_csv(tables / "training_counts.csv", index=False)
    if not tuning.trials.empty:
        tuning.trials.to_csv(tables / "optuna_trials.csv", index=False)
    (out / "features.json").write_text(
        json.dumps(
            {
                "feature_set": data.feature_set.key,
                "features": list(data.features),
                "categorical": list(data.categorical),
            },
            indent=2,
        )
    )
    (out / "data_fingerprint.json").write_text(json.dumps(fingerprint, indent=2, default=str))


def _trial_reporter(trials: int, on_stage: Callable[[str], None]):
    def report(study, trial) -> None:
        complete = [t for t in study.trials if t.value is not None]
        best = f", best valid AUC {max(t.value for t in complete):.4f}" if complete else ""
        on_stage(f"Tuning: trial {trial.number + 1} of {trials}{best}")

    return report


def _log_run(
    experiment_id: str,
    settings: TrainSettings,
    data: TrainingData,
    fitted: tuple[CalibratedLGBMClassifier, RecencyBaseline, TuningResult],
    metrics: dict[str, dict[str, float]],
    decision: GateDecision,
    fingerprint: dict[str, Any],
) -> tuple[ActiveRun, ModelInfo]:
    """Log the run: tags, parameters, metrics by prefix, reference, artifacts and the model."""
    task = TASKS[settings.task]
    model, baseline, tuning = fitted
    with mlflow.start_run(
        experiment_id=experiment_id,
        run_name=f"{task.name}-{data.holdout_as_of:%Y-%m-%d}",
        nested=mlflow.active_run() is not None,  # a child of the retraining job's run
    ) as run:
        mlflow.set_tags(
            {
                "task": task.name,
                "feature_set": data.feature_set.key,
                "data_fingerprint": fingerprint["sha256"],
                "data_source": fingerprint["source"],
                "code_version": code_version(),
                "out_of_time": str(data.out_of_time).lower(),
                "gate": "promoted" if decision.promote else "held",
                "gate_reason": decision.reason,
            }
        )
        mlflow.log_params(
            {
                "task": task.name,
                "as_of": data.holdout_as_of.isoformat(),
                "horizon_days": data.horizon_days,
                "snapshots": settings.snapshots,
                "trials": settings.trials,
                "seed": settings.seed,
                "calibration": settings.calibration,
                "gate_metric": settings.metric,
                "gate_margin": settings.margin,
                "feature_set": data.feature_set.key,
                "n_features": len(data.features),
                "best_iteration": model.best_iteration_,
                **data.sample_params(),
                **{f"lgbm_{k}": v for k, v in tuning.params.items()},
            }
        )
        for prefix, values in metrics.items():
            if values:
                mlflow.log_metrics({f"{prefix}_{k}": v for k, v in values.items()})
        mlflow.log_metrics({"valid_auc": model.best_score_["auc"], **tuning.summary()})
        mlflow.log_dict(fingerprint, "data_fingerprint.json")
        held = data.held_out()
        reference = training_reference(
            held,
            model.predict_proba(held)[:, 1],
            population=task.population,
            features=data.features,
        )
        mlflow.log_dict(reference, "reference.json")
        # In the work directory, named as upseg's: a killed run's folder goes at the next run.
        with temporary_folder_beside(Path(settings.workdir) / "run-artifacts") as tmp:
            _write_artifacts(tmp, data, model, baseline, tuning, fingerprint)
            mlflow.log_artifacts(str(tmp))
        example = _input_example(model, data.part("test"))
        model_info = log_model(
            model,
            example,
            model.predict_proba(example),
            metadata={"feature_set": data.feature_set.key, "task": task.name},
            predict_fn="predict_proba",
        )
    return run, model_info


def run_training(
    settings: TrainSettings,
    *,
    on_stage: Callable[[str], None] = lambda _: None,
    validated: ValidatedData | None = None,
) -> TrainingRun:
    """Train, evaluate, track, register and gate one predictive model.

    ``validated`` is ``settings.data_dir`` already validated by the calling job;
    without it the data is validated here.

    Raises
    ------
    models.tracking.TrackingUnavailable
        Before any work, when the tracking server does not answer.
    features.validation.DataValidationError, models.dataset.TrainingDataError
        When the data cannot give a sound model.
    upseg.locks.JobLockedError
        When another job holds the work directory (see :mod:`upseg.locks`).
    """
    job = f"train {settings.task}"
    with job_locks(job, settings.workdir, settings.tracking_uri, timeout=lock_timeout()):
        return _run_training(settings, on_stage=on_stage, validated=validated)


def _run_training(
    settings: TrainSettings,
    *,
    on_stage: Callable[[str], None],
    validated: ValidatedData | None,
) -> TrainingRun:
    started = time.perf_counter()
    task = TASKS[settings.task]
    on_stage(f"Checking the tracking store {settings.tracking_uri}")
    check_tracking(settings.tracking_uri)
    set_tracking(settings.tracking_uri)
    client = MlflowClient(settings.tracking_uri)
    recovered = complete_registrations(client, task.name)

    if validated is None:
        on_stage(f"Validating {settings.data_dir}")
        validated = validated_data(
            settings.data_dir, quarantine_dir=settings.quarantine_dir, engine=settings.engine
        )
    source, digest = validated.source, validated.digest

    on_stage("Building features and labels of every snapshot")
    data = training_data(
        source.result.tables,
        task,
        settings.as_of,
        snapshots=settings.snapshots,
        horizon_days=settings.horizon_days,
        feature_set=get_feature_set(settings.feature_set),
        max_rows=settings.max_rows,
        seed=settings.seed,
    )
    test = data.part("test")
    model, baseline, tuning = _fit(data, settings, digest, on_stage)

    on_stage("Evaluating on the held-out test customers")
    metrics = classification_metrics(test["label"], model.predict_proba(test)[:, 1])
    base_metrics = classification_metrics(test["label"], baseline.predict_proba(test)[:, 1])
    champion, not_comparable = champion_metrics(
        client,
        task.name,
        test,
        lambda its: classification_metrics(test["label"], its.predict_proba(test)[:, 1]),
        feature_set=data.feature_set.key,
    )
    decision = gate_decision(
        settings.metric,
        metrics[settings.metric],
        champion=champion[settings.metric] if champion else None,
        baseline=base_metrics[settings.metric],
        margin=settings.margin,
        force=settings.promote,
        not_comparable=not_comparable,
    )

    on_stage("Logging the run to MLflow")
    rows = {table: summary.rows_accepted for table, summary in source.result.summaries.items()}
    fingerprint = data.fingerprint(settings.data_dir, digest, rows)
    uri = settings.tracking_uri
    with server_calls(uri, "logging the run", consequence="nothing was registered"):
        experiment_id = ensure_experiment(settings.experiment or f"upseg-{task.name}", uri)
        run, model_info = _log_run(
            experiment_id,
            settings,
            data,
            (model, baseline, tuning),
            {"test": metrics, "baseline": base_metrics, "champion": champion or {}},
            decision,
            fingerprint,
        )

    on_stage(f"Registering a version of {task.name!r}")
    with server_calls(
        uri, f"registering a version of {task.name!r}", consequence=unfinished(task.name)
    ):
        version = register_version(
            client,
            task.name,
            model_uri=model_info.model_uri,
            run_id=run.info.run_id,
            model_id=model_info.model_id,
            tags={
                "feature_set": data.feature_set.key,
                "data_fingerprint": digest,
                **({"training_key": settings.training_key} if settings.training_key else {}),
            },
            decision=decision,
        )
    return TrainingRun(
        settings=settings,
        run_id=run.info.run_id,
        experiment_id=experiment_id,
        version=str(version),
        decision=decision,
        metrics=metrics,
        baseline=base_metrics,
        champion=champion,
        data=data,
        tuning=tuning,
        best_iteration=model.best_iteration_,
        seconds=time.perf_counter() - started,
        notes=(*recovered, *data.warnings),
    )
