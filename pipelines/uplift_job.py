"""Wiring of ``upseg train uplift``: experiment → approach by CV loss → model → MLflow → gate.

Same order as the predictive models: the tracking server first, the held-out
customers set aside before anything is chosen, the champion compared on them
before the registry is touched, the version registered last.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pyarrow as pa
from mlflow import ActiveRun
from mlflow.models.model import ModelInfo
from mlflow.tracking import MlflowClient

from upseg.features.sets import CUSTOMER_V1, get_feature_set
from upseg.files import temporary_folder_beside
from upseg.locks import job_locks, lock_timeout
from upseg.models.registry import (
    UPLIFT_GATE_METRIC,
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
from upseg.models.tuning import TuningResult
from upseg.models.uplift.artifacts import write_artifacts
from upseg.models.uplift.average_effect import average_effect_metrics
from upseg.models.uplift.calibrator import UpliftCalibration, fit_calibration, heldout_check
from upseg.models.uplift.data import ExperimentError, UpliftData, campaign_data, table_data
from upseg.models.uplift.evaluation import champion_mismatch, evaluate_uplift, unproven_reason
from upseg.models.uplift.explain import surrogate_contributions
from upseg.models.uplift.learners import approaches_for
from upseg.models.uplift.model import UpliftModel
from upseg.models.uplift.selection import Selection, holdout_split, select_approach
from upseg.models.uplift.tuning import cross_validated_score, improves, tune_uplift
from upseg.pipelines.jobs import ValidatedData, validated_data
from upseg.synthetic.truth import read_truth, truth_metrics

__all__ = ["UpliftRun", "UpliftSettings", "run_uplift"]


@dataclass(frozen=True)
class UpliftSettings:
    """Everything ``upseg train uplift`` lets the user choose, for either source."""

    tracking_uri: str
    workdir: Path
    data_dir: Path | None = None
    campaign: str | None = None
    table: Path | None = None
    treatment: str | None = None
    control: str = "control"
    outcome: str = "conversion"
    id_column: str | None = None
    exclude: tuple[str, ...] = ()
    approaches: tuple[str, ...] | None = None
    n_folds: int = 3
    #: How the approach is chosen and tuned: "dr_loss", "r_loss" or "qini"
    #: (:data:`models.uplift.selection.CRITERIA`).
    criterion: str = "dr_loss"
    #: Which approach within one standard error of the lowest loss is taken first:
    #: "cheapest" (fewest trees per customer to predict) or "simplest"
    #: (:data:`models.uplift.criteria.PREFERENCES`).
    prefer: str = "cheapest"
    test_size: float = 0.3
    seed: int = 0
    n_boot: int = 200
    trials: int = 0
    experiment: str | None = None
    model_name: str = "uplift"
    margin: float = 0.0
    promote: bool = False
    quarantine_dir: Path | None = None
    #: With ``data_dir``: key of the feature set built as of each assignment.
    feature_set: str = CUSTOMER_V1.key
    #: Tagged on the registered version; the retraining job skips a key it has seen.
    training_key: str | None = None


@dataclass(frozen=True)
class UpliftRun:
    """What an uplift training run produced."""

    settings: UpliftSettings
    data: UpliftData
    selection: Selection
    per_variant: pd.DataFrame
    overall: dict[str, float]
    truth: dict[str, float]
    surrogate_r2: float
    tuning: TuningResult
    params: dict
    decision: GateDecision
    champion: float | None
    run_id: str
    version: str
    seconds: float
    notes: tuple[str, ...] = field(default=())
    #: The model's sizes and group evidence, measured on the training customers.
    calibration: UpliftCalibration | None = None
    #: :func:`~upseg.models.uplift.calibrator.heldout_check` on the held-out customers.
    sizes: pd.DataFrame | None = None


def _calibration_metrics(calibration: UpliftCalibration, sizes: pd.DataFrame) -> dict[str, float]:
    """Per variant, the calibration's figures and the held-out check of its sizes."""
    kept = ("ate", "ate_se", "blp_slope", "blp_slope_se", "heterogeneity_p", "slope_applied")
    out = {
        f"calibration_{v}_{k}": float(row[k])
        for v, row in calibration.summary().iterrows()
        for k in (*kept, "groups_positive", "groups_negative")
    }
    for v, row in sizes.iterrows():
        for k in ("predicted", "realised", "realised_se", "ratio", "top_ratio", "slope"):
            out[f"test_{v}_sizes_{k}"] = float(row[k])
    return out


#: What pandas and pyarrow raise on a table that is not its format (truncated, another
#: encoding, a broken quote, empty): the user's file, not a bug.
_TABLE_READ_ERRORS = (
    pd.errors.ParserError,
    pd.errors.EmptyDataError,
    UnicodeDecodeError,
    pa.ArrowException,
    OSError,
)


def _load(
    settings: UpliftSettings, validated: ValidatedData | None
) -> tuple[UpliftData, str, Path | None]:
    """The experiment, its fingerprint, and the data directory (campaign mode)."""
    if settings.table is not None:
        if settings.treatment is None:
            raise ExperimentError("--table needs --treatment COL: the column holding the arm.")
        try:
            data = table_data(
                settings.table,
                treatment=settings.treatment,
                control=settings.control,
                outcome=settings.outcome,
                id_column=settings.id_column,
                exclude=settings.exclude,
            )
        except _TABLE_READ_ERRORS as exc:
            kind = "Parquet" if Path(settings.table).suffix == ".parquet" else "CSV"
            raise ExperimentError(f"{settings.table}: not a readable {kind} file ({exc}).") from exc
        return data, hashlib.sha256(Path(settings.table).read_bytes()).hexdigest(), None
    if validated is None and settings.data_dir is not None:
        validated = validated_data(settings.data_dir, quarantine_dir=settings.quarantine_dir)
    if validated is None or settings.campaign is None:
        raise ExperimentError("give either --data DIR with --campaign ID, or --table FILE.")
    data = campaign_data(
        validated.source.result.tables,
        settings.campaign,
        outcome=settings.outcome,
        control=settings.control,
        feature_set=get_feature_set(settings.feature_set),
    )
    return data, validated.digest, settings.data_dir


def _log_run(
    settings: UpliftSettings,
    data: UpliftData,
    model: UpliftModel,
    decision: GateDecision,
    *,
    params: dict[str, object],
    metrics: dict[str, float],
    artifacts: Path,
    example: pd.DataFrame,
    digest: str,
    feature_set: str,
) -> tuple[ActiveRun, ModelInfo]:
    """Log the run: tags, parameters, metrics, the ``artifacts`` folder and the model.

    ``example`` is a few held-out customers' features, the model's input example.
    """
    experiment_id = ensure_experiment(
        settings.experiment or f"upseg-{settings.model_name}", settings.tracking_uri
    )
    with mlflow.start_run(
        experiment_id=experiment_id,
        run_name=f"uplift-{data.outcome}",
        nested=mlflow.active_run() is not None,  # a child of the retraining job's run
    ) as run:
        mlflow.set_tags(
            {
                "task": "uplift",
                "data_fingerprint": digest,
                "code_version": code_version(),
                "gate": "promoted" if decision.promote else "held",
                "gate_reason": decision.reason,
                "feature_set": feature_set,
            }
        )
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        mlflow.log_artifacts(str(artifacts))
        info = log_model(
            model,
            example,
            model.predict(example),
            metadata={"task": "uplift", "io": json.dumps({"id": settings.id_column})},
        )
    return run, info


def run_uplift(
    settings: UpliftSettings,
    *,
    on_stage: Callable[[str], None] = lambda _: None,
    validated: ValidatedData | None = None,
) -> UpliftRun:
    """Train, choose, evaluate, track, register and gate one uplift model.

    ``validated`` is ``settings.data_dir`` already validated by the calling job
    (campaign mode); without it the data is validated here. The work directory's
    lock is held throughout (:mod:`upseg.locks`).
    """
    job = f"train uplift {settings.model_name}"
    with job_locks(job, settings.workdir, settings.tracking_uri, timeout=lock_timeout()):
        return _run_uplift(settings, on_stage=on_stage, validated=validated)


def _run_uplift(
    settings: UpliftSettings,
    *,
    on_stage: Callable[[str], None],
    validated: ValidatedData | None,
) -> UpliftRun:
    started = time.perf_counter()
    on_stage(f"Checking the tracking store {settings.tracking_uri}")
    check_tracking(settings.tracking_uri)
    set_tracking(settings.tracking_uri)
    client = MlflowClient(settings.tracking_uri)
    recovered = complete_registrations(client, settings.model_name)

    on_stage("Reading the experiment")
    data, digest, data_dir = _load(settings, validated)
    train_idx, test_idx = holdout_split(
        data.frame, test_size=settings.test_size, random_state=settings.seed
    )
    train, test = data.frame.iloc[train_idx], data.frame.iloc[test_idx]
    candidates = settings.approaches or approaches_for(data.kind)
    unusable = [a for a in candidates if a not in approaches_for(data.kind)]
    if unusable:
        raise ExperimentError(
            f"--approaches {', '.join(unusable)} cannot model a {data.kind} outcome; "
            f"choose among {', '.join(approaches_for(data.kind))}."
        )

    criterion = settings.criterion
    cv: dict[str, Any] = {
        "features": data.features,
        "categorical": data.categorical,
        "control": data.control,
        "outcome": data.kind,
    }
    selection = select_approach(
        train,
        **cv,
        approaches=candidates,
        n_folds=settings.n_folds,
        random_state=settings.seed,
        criterion=criterion,
        prefer=settings.prefer,
        on_fit=lambda a, f: on_stage(
            f"Choosing the approach by {criterion}: {a}, fold {f + 1} of {settings.n_folds}"
        ),
    )
    tuning = tune_uplift(
        train,
        **cv,
        approach=selection.best,
        trials=settings.trials,
        n_folds=settings.n_folds,
        seed=settings.seed,
        criterion=criterion,
        name=f"{settings.model_name}-{digest[:12]}-{data.outcome}-{selection.best}-"
        f"{criterion}-seed{settings.seed}",
        storage=settings.workdir / "optuna.db",
        callbacks=(
            lambda study, trial: on_stage(
                f"Tuning {selection.best} by {criterion}: trial {trial.number + 1} of "
                f"{settings.trials}"
            ),
        ),
    )
    # Tuned parameters replace the defaults only when they score better by the same
    # criterion on the same folds (and, for a loss, the same outcome models).
    default_score: float | None = None
    params: dict = {}
    if tuning.best_value is not None:
        default_score = cross_validated_score(
            train,
            **cv,
            approach=selection.best,
            params=None,
            criterion=criterion,
            n_folds=settings.n_folds,
            seed=settings.seed,
        )
        if improves(criterion, tuning.best_value, default_score):
            params = tuning.params
    on_stage(f"Fitting {selection.best} on every training customer")
    model = UpliftModel(
        approach=selection.best,
        outcome=data.kind,
        control=data.control,
        categorical=data.categorical,
        params=params or None,
        random_state=settings.seed,
    ).fit(train.loc[:, list(data.features)], train["outcome"], train["arm"])
    # What `upseg predict uplift` may find beside the features in a table to score.
    model.columns_ = {
        "id": settings.id_column,
        "arm": settings.treatment or "variant",
        "outcomes": [settings.outcome, *data.ignored],
    }
    calibration = fit_calibration(
        train,
        model,
        features=data.features,
        n_folds=settings.n_folds,
        random_state=settings.seed,
        on_fit=lambda k: on_stage(
            f"Sizing the uplift and its evidence: fold {k + 1} of {settings.n_folds}"
        ),
    )
    model.calibrate(calibration)

    on_stage("Evaluating on the held-out customers")
    evaluate = partial(
        evaluate_uplift,
        test=test,
        variants=data.variants,
        control=data.control,
        n_boot=settings.n_boot,
        seed=settings.seed,
    )
    scores, result = evaluate(model)
    per_variant, overall = result.per_variant, dict(result.overall)
    sizes = heldout_check(model, test)
    truth = truth_metrics(read_truth(data_dir), data, test, scores)
    contributions, r2 = surrogate_contributions(model, train, test, settings.seed)
    champion_overall, not_comparable = champion_metrics(
        client,
        settings.model_name,
        test,
        lambda champion: evaluate(champion)[1].overall,
        mismatch=lambda champion: champion_mismatch(
            champion, variants=data.variants, kind=data.kind, outcome=data.outcome
        ),
    )
    champion = float(champion_overall[UPLIFT_GATE_METRIC]) if champion_overall else None
    decision = gate_decision(
        UPLIFT_GATE_METRIC,
        overall[UPLIFT_GATE_METRIC],
        champion=champion,
        baseline=0.0,  # random targeting
        margin=settings.margin,
        force=settings.promote,
        not_comparable=not_comparable,
        unproven=unproven_reason(per_variant),
    )

    on_stage("Logging the run to MLflow")
    params_logged = {
        "approach": selection.best,
        "candidates": ",".join(candidates),
        "outcome": data.outcome,
        "outcome_kind": data.kind,
        "control": data.control,
        "variants": ",".join(data.variants),
        "n_folds": settings.n_folds,
        "criterion": criterion,
        "prefer": settings.prefer,
        "chosen_by": selection.chosen_by,
        "test_size": settings.test_size,
        "seed": settings.seed,
        "n_features": len(data.features),
        "excluded_columns": ",".join(data.ignored),
        "trials": settings.trials,
        "tuned": bool(params),
        **{f"lgbm_{k}": v for k, v in params.items()},
    }
    qini = selection.summary().set_index("approach")["mean"]
    metrics = {
        # the predictive models' "best_valid_auc" would hold a loss or a Qini here
        **{k: v for k, v in tuning.summary().items() if k != "tuning_best_valid_auc"},
        # The chosen approach's, with the default parameters, over the choice's folds.
        "cv_qini_default_params": float(qini[selection.best]),
        **(
            {"tuning_default_score": default_score, "tuning_best_score": tuning.best_value}
            if default_score is not None
            else {}
        ),
        **{f"test_{v}_{k}": float(x) for v, row in per_variant.iterrows() for k, x in row.items()},
        **{f"test_{k}": float(v) for k, v in overall.items()},
        # The measured average effect per variant, which `upseg score` falls back on.
        **average_effect_metrics(data.frame, control=data.control, variants=data.variants),
        **{f"cv_qini_{approach}": float(q) for approach, q in qini.items()},
        **(
            {f"cv_loss_{r.approach}": r.loss for r in selection.losses.itertuples()}
            if selection.losses is not None
            else {}
        ),
        # What scoring costs: trees per customer and variant of every candidate with
        # the default parameters (the choice's folds), and of the model registered.
        **(
            {
                f"cv_trees_{r.approach}": float(r.trees)
                for r in selection.losses.itertuples()
                if math.isfinite(r.trees)
            }
            if selection.losses is not None
            else {}
        ),
        "prediction_trees": float(sum(model.prediction_trees().values())),
        **truth,
        "shap_surrogate_r2": r2,
        **_calibration_metrics(calibration, sizes),
    }
    # In the work directory, named as upseg's: a killed run's folder goes at the next run.
    with temporary_folder_beside(Path(settings.workdir) / "run-artifacts") as tmp:
        write_artifacts(
            tmp,
            data,
            selection,
            per_variant,
            test,
            scores,
            contributions,
            columns=model.columns_,
            fingerprint={**data.source, "sha256": digest},
            trials=tuning.trials,
            calibration=calibration,
            sizes=sizes,
            served=model.predict_frame(test.loc[:, list(data.features)])["uplift"],
        )
        uri = settings.tracking_uri
        with server_calls(uri, "logging the run", consequence="nothing was registered"):
            run, info = _log_run(
                settings,
                data,
                model,
                decision,
                params=params_logged,
                metrics=metrics,
                artifacts=tmp,
                example=test.loc[:, list(data.features)].head(5),
                digest=digest,
                feature_set=settings.feature_set if data_dir is not None else "table",
            )
    on_stage(f"Registering a version of {settings.model_name!r}")
    name = settings.model_name
    with server_calls(uri, f"registering a version of {name!r}", consequence=unfinished(name)):
        version = register_version(
            client,
            name,
            model_uri=info.model_uri,
            run_id=run.info.run_id,
            model_id=info.model_id,
            tags={
                "data_fingerprint": digest,
                "approach": selection.best,
                **({"training_key": settings.training_key} if settings.training_key else {}),
            },
            decision=decision,
        )
    notes = (
        *recovered,
        *(
            f"variant {v!r}: its Qini interval includes zero; its uplift is not better than random"
            for v in per_variant.index
            if per_variant.loc[v, "beats_random"] == 0
        ),
    )
    return UpliftRun(
        settings=settings,
        data=data,
        selection=selection,
        per_variant=per_variant,
        overall=overall,
        truth=truth,
        surrogate_r2=r2,
        tuning=tuning,
        params=params,
        decision=decision,
        champion=champion,
        run_id=run.info.run_id,
        version=version,
        seconds=time.perf_counter() - started,
        notes=notes,
        calibration=calibration,
        sizes=sizes,
    )
