"""Wiring of ``upseg train clusters``: features as of a date → clusters → MLflow → gate.

Same order as the other training jobs: the tracking store is checked before
any work, the champion is loaded (its labels and names carry over), the new
version is logged with everything said about it and registered with its gate
decision. The statistics live in :mod:`upseg.models.clusters`.

The gate: a new version replaces the champion only if, on this month's
customers, it is at least as separated (silhouette) and at least as stable
(mean bootstrap ARI) as the champion, each within ``tolerance``; or when
``promote`` is given.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import ActiveRun
from mlflow.models.model import ModelInfo
from mlflow.tracking import MlflowClient

from upseg.features.build import build_features
from upseg.features.pit import customer_spine
from upseg.features.sets import BEHAVIOUR_V1, get_cluster_feature_set, get_feature_set
from upseg.files import temporary_folder_beside
from upseg.locks import job_locks, lock_timeout
from upseg.models import plots
from upseg.models.clusters import (
    ClusteringError,
    ClusterModel,
    ClustersFit,
    fit_clusters,
    quality,
    read_names,
    z_matrix,
)
from upseg.models.clusters.plots import k_choice_figure, profile_heatmap_figure
from upseg.models.clusters.profiles import names_file_text
from upseg.models.registry import (
    GateDecision,
    champion_version,
    complete_registrations,
    register_version,
    unfinished,
    verified_model,
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

__all__ = [
    "ClustersRun",
    "ClustersSettings",
    "clustered_columns",
    "clusters_gate",
    "customer_features",
    "run_clusters",
]

#: The registered model's name.
MODEL_NAME = "clusters"
#: What the gate compares: separation and stability (both greater is better).
GATE_MEASURES = ("silhouette", "stability_ari")


@dataclass(frozen=True)
class ClustersSettings:
    """Everything ``upseg train clusters`` lets the user choose."""

    data_dir: Path
    as_of: pd.Timestamp
    tracking_uri: str
    workdir: Path
    k: int | str = "auto"
    k_min: int = 3
    k_max: int = 10
    feature_set: str = BEHAVIOUR_V1.key
    #: Columns of the feature set left out (a source that cannot inform them, e.g. no discounts).
    exclude: tuple[str, ...] = ()
    algorithm: str = "auto"
    pca: int | float | None = None
    names_file: Path | None = None
    seed: int = 0
    sample: int = 20_000
    eval_sample: int = 5_000
    resamples: int = 5
    tolerance: float = 0.02
    promote: bool = False
    experiment: str | None = None
    quarantine_dir: Path | None = None
    #: Tagged on the registered version; the retraining job skips a key it has seen.
    training_key: str | None = None


@dataclass(frozen=True)
class ClustersRun:
    """What a clusters training run produced, for the CLI and the retraining report."""

    settings: ClustersSettings
    run_id: str
    experiment_id: str
    version: str
    decision: GateDecision
    fit: ClustersFit
    metrics: dict[str, float]
    champion: dict[str, float] | None
    customers: int
    seconds: float
    truth: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = field(default=())


def clusters_gate(
    challenger: dict[str, float],
    champion: dict[str, float] | None,
    *,
    tolerance: float,
    force: bool,
    champion_version: str | None = None,
    not_comparable: str | None = None,
) -> GateDecision:
    """Promote when at least as separated and as stable as the champion, within ``tolerance``.

    Both measures are on the same customers (this run's samples); ``force``
    promotes regardless and says so; a champion that is ``not_comparable`` (the
    reason) is kept.
    """
    sil, ari = challenger["silhouette"], challenger["stability_ari"]
    scores = f"silhouette {sil:.3f}, stability {ari:.3f}"

    def decided(promote: bool, reason: str) -> GateDecision:
        theirs = champion["silhouette"] if champion else None
        return GateDecision(promote, reason, "silhouette", sil, theirs, None)

    if force:
        return decided(True, f"promoted by request (--promote); {scores}")
    if not_comparable:
        return decided(False, f"not compared: {not_comparable}; use --promote to replace it")
    if champion is None:
        return decided(True, f"no champion yet; {scores}")
    which = f"the champion's (version {champion_version})" if champion_version else "the champion's"
    theirs = f"silhouette {champion['silhouette']:.3f}, stability {champion['stability_ari']:.3f}"
    worse = [
        m
        for m in GATE_MEASURES
        if not (np.isfinite(challenger[m]) and challenger[m] >= champion[m] - tolerance)
    ]
    if worse:
        return decided(
            False,
            f"{scores} against {which} {theirs}: less {' and less '.join(_WORDS[m] for m in worse)}"
            f" by more than the tolerance {tolerance:g}",
        )
    return decided(
        True,
        f"{scores} is at least as separated and stable as {which} {theirs} "
        f"(tolerance {tolerance:g})",
    )


_WORDS = {"silhouette": "separated", "stability_ari": "stable"}


def clustered_columns(
    feature_set: str, tables: Iterable[str], exclude: Sequence[str] = ()
) -> list[str]:
    """The set's columns whose tables are present, less ``exclude``.

    Raises
    ------
    ClusteringError
        When ``exclude`` names a column the set does not have, or leaves fewer than two.
    """
    clusters_set = get_cluster_feature_set(feature_set)
    unknown = [c for c in exclude if c not in clusters_set.columns()]
    if unknown:
        raise ClusteringError(
            f"clusters: --exclude names column(s) {unknown} that feature set {feature_set} "
            f"does not have; its columns are {', '.join(clusters_set.columns())}"
        )
    columns = [c for c in clusters_set.columns(set(tables)) if c not in exclude]
    if len(columns) < 2:
        raise ClusteringError(
            f"clusters: {len(columns)} column(s) left to cluster on ({columns}); expected at "
            "least 2 (check --exclude and the data source's tables)"
        )
    return columns


def customer_features(
    validated: ValidatedData, as_of: pd.Timestamp, feature_set: str, exclude: Sequence[str] = ()
) -> tuple[pd.DataFrame, list[str]]:
    """Every customer signed up before ``as_of``: ``customer_id`` and the columns clustered on."""
    clusters_set = get_cluster_feature_set(feature_set)
    tables = validated.source.result.tables
    built = get_feature_set(clusters_set.built_from or clusters_set.key)
    columns = clustered_columns(feature_set, tables, exclude)
    features = build_features(tables, customer_spine(tables["customers"], as_of), feature_set=built)
    frame = features.select("customer_id", *columns).execute()
    return frame, columns


def _champion(
    client: MlflowClient, frame: pd.DataFrame
) -> tuple[ClusterModel | None, str | None, str | None]:
    """The champion model and its version, or why it cannot be compared."""
    current = champion_version(client, MODEL_NAME)
    if current is None:
        return None, None, None
    model = verified_model(current)  # a changed file stops the job
    missing = [c for c in model.feature_names_in_ if c not in frame.columns]
    if missing:
        return (
            None,
            str(current.version),
            (
                f"the champion (version {current.version}) reads column(s) {missing} the features "
                "lack, so its labels are not carried over"
            ),
        )
    return model, str(current.version), None


def _write_artifacts(out: Path, fit: ClustersFit, fingerprint: dict, extra: dict[str, Any]) -> None:
    """Tables, plots, the names file and the fingerprint into ``out``."""
    tables = out / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    fit.diagnostics.to_csv(tables / "k_diagnostics.csv", index=False)
    fit.profile.to_csv(tables / "profile.csv", index=False)
    z = z_matrix(fit.profile)
    plots.save_figure(profile_heatmap_figure(z), out / "plots" / "profile_heatmap.png")
    plots.save_figure(
        k_choice_figure(fit.diagnostics, fit.model.n_clusters), out / "plots" / "k_choice.png"
    )
    if fit.matching is not None:
        fit.matching.pairs.to_csv(tables / "matching.csv", index=False)
    if fit.migration is not None:
        fit.migration.to_csv(tables / "migration.csv")
    (out / "cluster_names.yaml").write_text(names_file_text(fit.model.names_, model=extra["label"]))
    (out / "data_fingerprint.json").write_text(json.dumps(fingerprint, indent=2, default=str))


def _log_run(
    experiment_id: str,
    s: ClustersSettings,
    frame: pd.DataFrame,
    fit: ClustersFit,
    outcome: dict[str, Any],
    decision: GateDecision,
    fingerprint: dict[str, Any],
) -> tuple[ActiveRun, ModelInfo]:
    """Tags, parameters, diagnostics by k, quality, artifacts and the model."""
    model = fit.model
    clusters_set = get_cluster_feature_set(s.feature_set)
    built_from = clusters_set.built_from or clusters_set.key
    with mlflow.start_run(
        experiment_id=experiment_id,
        run_name=f"clusters-{s.as_of:%Y-%m-%d}",
        nested=mlflow.active_run() is not None,
    ) as run:
        mlflow.set_tags(
            {
                "task": MODEL_NAME,
                "feature_set": built_from,
                "cluster_feature_set": s.feature_set,
                "data_fingerprint": fingerprint["sha256"],
                "data_source": fingerprint["source"],
                "code_version": code_version(),
                "k_choice": fit.reason,
                "gate": "promoted" if decision.promote else "held",
                "gate_reason": decision.reason,
            }
        )
        mlflow.log_params(
            {
                "task": MODEL_NAME,
                "as_of": s.as_of.isoformat(),
                "feature_set": s.feature_set,
                "columns": ",".join(model.feature_names_in_),
                "exclude": ",".join(s.exclude),
                "k": model.n_clusters,
                "k_requested": s.k,
                "k_range": f"{s.k_min}-{s.k_max}",
                "algorithm": type(model.kmeans_).__name__,
                "pca": s.pca if s.pca is not None else "",
                "seed": s.seed,
                "sample": s.sample,
                "eval_sample": s.eval_sample,
                "resamples": s.resamples,
                "gate_tolerance": s.tolerance,
            }
        )
        for row in fit.diagnostics.to_dict("records"):
            k = int(row.pop("k"))
            mlflow.log_metrics({f"k{k}_{m}": float(v) for m, v in row.items() if np.isfinite(v)})
        finite = {k: v for k, v in outcome["metrics"].items() if np.isfinite(v)}
        mlflow.log_metrics({**finite, "customers": len(frame), "k": model.n_clusters})
        if outcome["champion"]:
            mlflow.log_metrics(
                {f"champion_{k}": v for k, v in outcome["champion"].items() if np.isfinite(v)}
            )
        if fit.matching is not None:
            mlflow.log_metrics(
                {
                    "clusters_kept": fit.matching.kept,
                    "clusters_vanished": len(fit.matching.vanished),
                }
            )
        if outcome["truth"]:
            mlflow.log_metrics(outcome["truth"])
        mlflow.log_dict(fingerprint, "data_fingerprint.json")
        with temporary_folder_beside(Path(s.workdir) / "run-artifacts") as tmp:
            _write_artifacts(tmp, fit, fingerprint, {"label": f"run {run.info.run_id}"})
            mlflow.log_artifacts(str(tmp))
        example = frame.loc[:, list(model.feature_names_in_)].head(5)
        info = log_model(
            model,
            example,
            model.predict(example),
            metadata={"feature_set": built_from, "cluster_feature_set": s.feature_set},
        )
    return run, info


def _truth(s: ClustersSettings, frame: pd.DataFrame, labels: np.ndarray) -> dict[str, float]:
    """ARI of the clusters against a synthetic world's latent customer types; {} elsewhere."""
    from sklearn.metrics import adjusted_rand_score

    from upseg.synthetic.truth import read_truth

    truth = read_truth(s.data_dir)
    if truth is None or "persona" not in truth:
        return {}
    personas = truth["persona"].reindex(frame["customer_id"].astype(str).to_numpy())
    known = personas.notna().to_numpy()
    return {"truth_persona_ari": float(adjusted_rand_score(personas[known], labels[known]))}


def run_clusters(
    settings: ClustersSettings,
    *,
    on_stage: Callable[[str], None] = lambda _: None,
    validated: ValidatedData | None = None,
) -> ClustersRun:
    """Fit, diagnose, track, register and gate the behavioural clusters.

    Raises
    ------
    models.tracking.TrackingUnavailable
        Before any work, when the tracking server does not answer.
    features.validation.DataValidationError
        When the data source is unusable.
    models.clusters.ClusteringError
        When the customers cannot be clustered as asked (bad k, too few
        customers, constant or empty columns, a names file that does not match).
    upseg.locks.JobLockedError
        When another job holds the work directory.
    """
    with job_locks(
        "train clusters", settings.workdir, settings.tracking_uri, timeout=lock_timeout()
    ):
        return _run_clusters(settings, on_stage=on_stage, validated=validated)


def _run_clusters(
    s: ClustersSettings, *, on_stage: Callable[[str], None], validated: ValidatedData | None
) -> ClustersRun:
    started = time.perf_counter()
    # A bad --features or --exclude fails before any work.
    clustered_columns(
        s.feature_set, ("customers", "orders", "email_events", "web_events"), s.exclude
    )
    names = read_names(s.names_file) if s.names_file is not None else None
    on_stage(f"Checking the tracking store {s.tracking_uri}")
    check_tracking(s.tracking_uri)
    set_tracking(s.tracking_uri)
    client = MlflowClient(s.tracking_uri)
    recovered = complete_registrations(client, MODEL_NAME)
    if validated is None:
        on_stage(f"Validating {s.data_dir}")
        validated = validated_data(s.data_dir, quarantine_dir=s.quarantine_dir)
    on_stage(f"Building the behavioural features as of {s.as_of:%Y-%m-%d}")
    frame, columns = customer_features(validated, s.as_of, s.feature_set, s.exclude)
    champion, champion_v, not_comparable = _champion(client, frame)
    fit = fit_clusters(
        frame,
        columns,
        k=s.k,
        k_range=(s.k_min, s.k_max),
        algorithm=s.algorithm,
        pca=s.pca,
        champion=champion,
        names=names,
        feature_set=s.feature_set,
        seed=s.seed,
        fit_rows=s.sample,
        eval_rows=s.eval_sample,
        resamples=s.resamples,
        on_stage=on_stage,
    )
    on_stage("Measuring separation and stability")
    ordered = frame.sort_values("customer_id", kind="stable").reset_index(drop=True)
    measure = dict(fit_rows=s.sample, eval_rows=s.eval_sample, resamples=s.resamples, seed=s.seed)
    metrics = quality(fit.model, ordered, **measure)
    theirs = quality(champion, ordered, **measure) if champion is not None else None
    decision = clusters_gate(
        metrics,
        theirs,
        tolerance=s.tolerance,
        force=s.promote,
        champion_version=champion_v,
        not_comparable=not_comparable,
    )
    truth = _truth(s, ordered, np.asarray(fit.model.labels_))

    on_stage("Logging the run to MLflow")
    rows = {t: summary.rows_accepted for t, summary in validated.source.result.summaries.items()}
    fingerprint = {
        "source": str(Path(s.data_dir).resolve()),
        "sha256": validated.digest,
        "rows": rows,
        "as_of": s.as_of.isoformat(),
        "customers": len(frame),
    }
    outcome = {"metrics": metrics, "champion": theirs, "truth": truth}
    uri = s.tracking_uri
    with server_calls(uri, "logging the run", consequence="nothing was registered"):
        experiment_id = ensure_experiment(s.experiment or f"upseg-{MODEL_NAME}", uri)
        run, model_info = _log_run(experiment_id, s, ordered, fit, outcome, decision, fingerprint)
    on_stage(f"Registering a version of {MODEL_NAME!r}")
    clusters_set = get_cluster_feature_set(s.feature_set)
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
                "feature_set": clusters_set.built_from or clusters_set.key,
                "cluster_feature_set": s.feature_set,
                "data_fingerprint": validated.digest,
                "k": str(fit.model.n_clusters),
                **({"training_key": s.training_key} if s.training_key else {}),
            },
            decision=decision,
        )
    return ClustersRun(
        settings=s,
        run_id=run.info.run_id,
        experiment_id=experiment_id,
        version=str(version),
        decision=decision,
        fit=fit,
        metrics=metrics,
        champion=theirs,
        customers=len(frame),
        seconds=time.perf_counter() - started,
        truth=truth,
        notes=(*recovered, *([f"not compared: {not_comparable}"] if not_comparable else [])),
    )
