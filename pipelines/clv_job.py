"""Wiring of ``upseg train clv``: data → probabilistic and LightGBM CLV → MLflow → gate.

Same order as ``train churn|propensity`` (:mod:`upseg.pipelines.train_job`):
the tracking server is checked before any work, the champion is compared on
the new run's held-out customers, and the version is registered only once its
run has logged everything. The statistics live in :mod:`upseg.models.clv`.
"""

from __future__ import annotations

import json
import time
import warnings
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
from upseg.features.labels import CLV_HORIZON_DAYS
from upseg.features.sets import CUSTOMER_V1, get_feature_set
from upseg.files import temporary_folder_beside
from upseg.locks import job_locks, lock_timeout
from upseg.models import plots
from upseg.models.clv.metrics import decile_calibration, metric_interval
from upseg.models.clv.plots import decile_calibration_figure
from upseg.models.clv.training import (
    BASELINE,
    GATE_METRICS,
    CLVFit,
    fit_clv,
    predictions,
    scores_by_predictor,
)
from upseg.models.dataset import DEFAULT_MAX_ROWS, TrainingData, clv_task, training_data
from upseg.models.drift import training_reference
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
from upseg.pipelines.jobs import ValidatedData, validated_data

__all__ = ["CLVRun", "CLVSettings", "run_clv"]

#: The registered model's name.
MODEL_NAME = "clv"
#: Names of the predictors in tables and plots.
LABELS = {
    "probabilistic": "BG/NBD + Gamma-Gamma",
    "lightgbm": "LightGBM",
    BASELINE: "last year's spend",
}


@dataclass(frozen=True)
class CLVSettings:
    """Everything ``upseg train clv`` lets the user choose."""

    data_dir: Path
    as_of: pd.Timestamp
    tracking_uri: str
    workdir: Path
    horizon_days: int = CLV_HORIZON_DAYS
    discount_rate: float = 0.1
    snapshots: int = 3
    seed: int = 0
    experiment: str | None = None
    metric: str = "gini"
    margin: float = 0.0
    promote: bool = False
    losses: tuple[str, ...] = ("ziln", "tweedie")
    quarantine_dir: Path | None = None
    feature_set: str = CUSTOMER_V1.key
    #: Tagged on the registered version; the retraining job skips a key it has seen.
    training_key: str | None = None
    #: Bound on the rows built for training, sampled by revenue or none (None: every row).
    max_rows: int | None = DEFAULT_MAX_ROWS
    #: Where the data is validated and features are built.
    engine: EngineSettings | None = None


@dataclass(frozen=True)
class CLVRun:
    """What a CLV training run produced, for the CLI and the retraining report."""

    settings: CLVSettings
    run_id: str
    experiment_id: str
    version: str
    decision: GateDecision
    fit: CLVFit
    test: dict[str, dict[str, float]]
    champion: dict[str, float] | None
    intervals: pd.DataFrame
    data: TrainingData
    seconds: float
    truth: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = field(default=())

    @property
    def metrics(self) -> dict[str, float]:
        """The served predictor's test metrics."""
        return self.test["served"]


def _mismatch(settings: CLVSettings) -> Callable[[Any], str | None]:
    """Why a champion predicting another revenue is not comparable, or None."""

    def check(model: Any) -> str | None:
        theirs = (getattr(model, "horizon_days", None), getattr(model, "discount_rate", None))
        ours = (settings.horizon_days, settings.discount_rate)
        if theirs != ours:
            return (
                f"predicts revenue over {theirs[0]} days discounted at {theirs[1]}, this run "
                f"over {ours[0]} days at {ours[1]}"
            )
        return None

    return check


def _write_artifacts(
    out: Path, run: dict[str, Any], y: Any, predicted: dict[str, Any], fingerprint: dict
) -> None:
    """Tables and plots of the test customers, and the run's facts, into ``out``."""
    tables = out / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    shown = {LABELS.get(k, k): v for k, v in predicted.items() if k != "served"}
    plots.save_figure(decile_calibration_figure(y, shown), out / "plots" / "decile_calibration.png")
    for name, values in predicted.items():
        if name != "served":
            decile_calibration(y, values).to_csv(tables / f"deciles_{name}.csv", index=False)
    pd.DataFrame(run["test"]).T.rename_axis("predictor").to_csv(tables / "metrics_test.csv")
    pd.DataFrame(run["valid"]).T.rename_axis("predictor").to_csv(tables / "metrics_valid.csv")
    run["intervals"].to_csv(tables / "intervals.csv", index=False)
    run["data"].counts().to_csv(tables / "training_counts.csv", index=False)
    (out / "data_fingerprint.json").write_text(json.dumps(fingerprint, indent=2, default=str))


def _log_run(
    experiment_id: str,
    settings: CLVSettings,
    data: TrainingData,
    fit: CLVFit,
    outcome: dict[str, Any],
    decision: GateDecision,
    fingerprint: dict[str, Any],
) -> tuple[ActiveRun, ModelInfo]:
    """Tags, parameters, metrics by predictor, reference, artifacts and the model."""
    model = fit.model
    with mlflow.start_run(
        experiment_id=experiment_id,
        run_name=f"clv-{data.holdout_as_of:%Y-%m-%d}",
        nested=mlflow.active_run() is not None,
    ) as run:
        mlflow.set_tags(
            {
                "task": MODEL_NAME,
                "feature_set": data.feature_set.key,
                "data_fingerprint": fingerprint["sha256"],
                "data_source": fingerprint["source"],
                "code_version": code_version(),
                "out_of_time": str(data.out_of_time).lower(),
                "served": model.served,
                "chosen_by": fit.reason,
                "gate": "promoted" if decision.promote else "held",
                "gate_reason": decision.reason,
            }
        )
        bgnbd, gg = model.probabilistic.bgnbd_, model.probabilistic.gamma_gamma_
        mlflow.log_params(
            {
                "task": MODEL_NAME,
                "as_of": data.holdout_as_of.isoformat(),
                "horizon_days": settings.horizon_days,
                "discount_rate": settings.discount_rate,
                "snapshots": settings.snapshots,
                "seed": settings.seed,
                "gate_metric": settings.metric,
                "gate_margin": settings.margin,
                "feature_set": data.feature_set.key,
                "losses": ",".join(settings.losses),
                "lightgbm_loss": fit.loss or "",
                **data.sample_params(),
                **(
                    {"tweedie_power": fit.regressors["tweedie"].tweedie_variance_power}
                    if "tweedie" in fit.regressors
                    else {}
                ),
                "served": model.served,
                **{f"bgnbd_{k}": v for k, v in bgnbd.params_.items()},
                **{f"gamma_gamma_{k}": v for k, v in gg.params_.items()},
                **(
                    {"best_iteration": model.lightgbm.best_iteration_}
                    if model.lightgbm is not None
                    else {}
                ),
            }
        )
        for split in ("valid", "test"):
            for predictor, values in outcome[split].items():
                mlflow.log_metrics({f"{split}_{predictor}_{k}": v for k, v in values.items()})
        if outcome["champion"]:
            mlflow.log_metrics({f"champion_{k}": v for k, v in outcome["champion"].items()})
        if outcome["truth"]:
            mlflow.log_metrics(outcome["truth"])
        mlflow.log_metrics(
            {
                "gamma_gamma_spend_frequency_r": gg.independence_.pearson_r,
                "bgnbd_log_likelihood": bgnbd.log_likelihood_,
                "gamma_gamma_log_likelihood": gg.log_likelihood_,
            }
        )
        mlflow.log_dict(fingerprint, "data_fingerprint.json")
        held = data.held_out()
        mlflow.log_dict(
            training_reference(held, model.predict(held), population="all", features=data.features),
            "reference.json",
        )
        with temporary_folder_beside(Path(settings.workdir) / "run-artifacts") as tmp:
            _write_artifacts(
                tmp,
                {**outcome, "data": data},
                data.part("test")["label"].to_numpy(),
                outcome["predicted"],
                fingerprint,
            )
            mlflow.log_artifacts(str(tmp))
        example = data.part("test").loc[:, list(model.feature_names_in_)].head(5)
        example = example.astype({c: "object" for c in data.categorical if c in example})
        info = log_model(
            model,
            example,
            model.predict(example),
            metadata={"feature_set": data.feature_set.key, "task": MODEL_NAME},
        )
    return run, info


def run_clv(
    settings: CLVSettings,
    *,
    on_stage: Callable[[str], None] = lambda _: None,
    validated: ValidatedData | None = None,
) -> CLVRun:
    """Train, evaluate, track, register and gate the CLV model.

    Raises
    ------
    models.tracking.TrackingUnavailable
        Before any work, when the tracking server does not answer.
    features.validation.DataValidationError, models.dataset.TrainingDataError
        When the data cannot give a sound model (for example a horizon the
        data cannot label).
    upseg.locks.JobLockedError
        When another job holds the work directory.
    """
    with job_locks("train clv", settings.workdir, settings.tracking_uri, timeout=lock_timeout()):
        return _run_clv(settings, on_stage=on_stage, validated=validated)


def _run_clv(
    settings: CLVSettings, *, on_stage: Callable[[str], None], validated: ValidatedData | None
) -> CLVRun:
    started = time.perf_counter()
    if settings.metric not in GATE_METRICS:
        raise ValueError(
            f"train clv: the gate metric must be one of {', '.join(GATE_METRICS)}; "
            f"got {settings.metric!r}"
        )
    on_stage(f"Checking the tracking store {settings.tracking_uri}")
    check_tracking(settings.tracking_uri)
    set_tracking(settings.tracking_uri)
    client = MlflowClient(settings.tracking_uri)
    recovered = complete_registrations(client, MODEL_NAME)
    if validated is None:
        on_stage(f"Validating {settings.data_dir}")
        validated = validated_data(
            settings.data_dir, quarantine_dir=settings.quarantine_dir, engine=settings.engine
        )
    source, digest = validated.source, validated.digest

    on_stage("Building features and revenue labels of every snapshot")
    data = training_data(
        source.result.tables,
        clv_task(settings.discount_rate),
        settings.as_of,
        snapshots=settings.snapshots,
        horizon_days=settings.horizon_days,
        feature_set=get_feature_set(settings.feature_set),
        max_rows=settings.max_rows,
        seed=settings.seed,
    )
    on_stage("Fitting BG/NBD + Gamma-Gamma and LightGBM")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = fit_clv(
            data,
            horizon_days=settings.horizon_days,
            discount_rate=settings.discount_rate,
            metric=settings.metric,
            losses=settings.losses,
            seed=settings.seed,
        )
    model_notes = tuple(
        dict.fromkeys(str(w.message) for w in caught if w.category is not DeprecationWarning)
    )

    on_stage("Evaluating on the held-out test customers")
    test = data.part("test")
    y = test["label"].to_numpy()
    predicted = predictions(
        fit.model, test, horizon_days=settings.horizon_days, discount_rate=settings.discount_rate
    )
    scores = scores_by_predictor(y, predicted)
    compared = {k: v for k, v in predicted.items() if k != "served"}
    intervals = metric_interval(y, compared, settings.metric, seed=settings.seed)
    truth = _truth_metrics(settings, test, predicted)
    champion, not_comparable = champion_metrics(
        client,
        MODEL_NAME,
        test,
        lambda its: scores_by_predictor(y, {"m": its.predict(test)})["m"],
        feature_set=data.feature_set.key,
        mismatch=_mismatch(settings),
    )
    metric = settings.metric
    decision = gate_decision(
        metric,
        scores["served"][metric],
        champion=champion[metric] if champion else None,
        baseline=scores[BASELINE][metric],
        margin=settings.margin,
        force=settings.promote,
        not_comparable=not_comparable,
        greater_is_better=GATE_METRICS[metric],
        baseline_name="last year's spend carried forward",
    )

    on_stage("Logging the run to MLflow")
    rows = {table: summary.rows_accepted for table, summary in source.result.summaries.items()}
    fingerprint = data.fingerprint(settings.data_dir, digest, rows)
    uri = settings.tracking_uri
    outcome = {
        "valid": fit.valid,
        "test": scores,
        "champion": champion,
        "truth": truth,
        "intervals": intervals,
        "predicted": predicted,
    }
    with server_calls(uri, "logging the run", consequence="nothing was registered"):
        experiment_id = ensure_experiment(settings.experiment or f"upseg-{MODEL_NAME}", uri)
        run, model_info = _log_run(
            experiment_id, settings, data, fit, outcome, decision, fingerprint
        )
    on_stage(f"Registering a version of {MODEL_NAME!r}")
    with server_calls(
        uri, f"registering a version of {MODEL_NAME!r}", consequence=unfinished(MODEL_NAME)
    ):
        version = register_version(
            client,
            MODEL_NAME,
            model_uri=model_info.model_uri,
            run_id=run.info.run_id,
            model_id=model_info.model_id,
            tags={
                "feature_set": data.feature_set.key,
                "data_fingerprint": digest,
                "served": fit.model.served,
                **({"training_key": settings.training_key} if settings.training_key else {}),
            },
            decision=decision,
        )
    return CLVRun(
        settings=settings,
        run_id=run.info.run_id,
        experiment_id=experiment_id,
        version=str(version),
        decision=decision,
        fit=fit,
        test=scores,
        champion=champion,
        intervals=intervals,
        data=data,
        seconds=time.perf_counter() - started,
        truth=truth,
        notes=(*recovered, *data.warnings, *model_notes),
    )


def _truth_metrics(
    settings: CLVSettings, test: pd.DataFrame, predicted: dict[str, Any]
) -> dict[str, float]:
    """How close each predictor is to a synthetic world's expected revenue; {} elsewhere.

    ``truth_spearman`` and ``truth_top_decile_share`` are the served predictor's;
    ``truth_<predictor>_…`` every predictor's, the baseline's included.
    """
    from upseg.synthetic.truth import read_truth
    from upseg.synthetic.value import clv_truth_metrics

    truth = read_truth(settings.data_dir)
    if truth is None or "world_end" not in truth:
        return {}
    ids = test["customer_id"].astype(str).to_numpy()
    out: dict[str, float] = {}
    for name, values in predicted.items():
        scores = clv_truth_metrics(
            truth.reset_index(),
            ids,
            values,
            settings.as_of,
            settings.horizon_days,
            settings.discount_rate,
        )
        prefix = "truth_" if name == "served" else f"truth_{name}_"
        out |= {prefix + k.removeprefix("truth_"): v for k, v in scores.items()}
    return out
