"""Wiring of ``upseg score``: champions → features → scores → segments → actions → audience.

The job loads the policy and the models, builds the features of the feature
set the models were trained on into a temporary file, hands it to
:func:`upseg.serving.batch.score_features_file` (the two-pass chunk loop that
writes the audience file), and writes the run summary and the MLflow run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
from mlflow.tracking import MlflowClient

from upseg.experiments.data import read_table
from upseg.features.build import build_features
from upseg.features.deliverability import DELIVERABILITY_COLUMNS, deliverability_inputs
from upseg.features.engines import EngineSettings, open_engine
from upseg.features.pit import customer_spine
from upseg.features.sources import data_fingerprint, find_table_files
from upseg.files import temporary_folder_beside
from upseg.locks import job_locks, lock_timeout
from upseg.models.drift import DriftError, scoring_drift
from upseg.models.tracking import (
    check_tracking,
    code_version,
    ensure_experiment,
    server_calls,
    set_tracking,
)
from upseg.pipelines.jobs import load_source, write_atomically
from upseg.serving.audience import SUPPRESSION_REASONS, campaign_economics, segment_changes
from upseg.serving.batch import CHUNK_ROWS, score_distribution, score_features_file
from upseg.serving.champions import ScoringError, check_inputs, feature_set_of, load_models
from upseg.serving.policy import campaign_limits, load_policy, policy_digest
from upseg.serving.scorer import CLV_FALLBACK, SCORE_COLUMNS
from upseg.serving.uplift_source import FALLBACKS, UPLIFT_SOURCES, UpliftFallback, fallback_uplift

__all__ = ["ScoreRun", "ScoreSettings", "run_scoring"]


@dataclass(frozen=True)
class ScoreSettings:
    """Everything ``upseg score`` lets the user choose.

    ``holdout``, ``budget`` and ``cost_per_send`` override the policy's
    ``holdout.share``, ``budget.max_sends`` and ``budget.cost_per_send``;
    ``None`` (the default) keeps the policy's value, and a value given must lie
    in the policy's range (:func:`upseg.serving.policy.campaign_limits`).
    ``given_by`` says where each override came from, by the policy's key
    (``{"holdout": "--holdout", "max_sends": "scoring.budget in upseg.yaml"}``),
    for errors and the run summary. After :func:`run_scoring` has resolved them,
    the three fields hold the values the run applied.

    ``uplift_fallback`` (:data:`upseg.serving.uplift_source.FALLBACKS`) says what
    to do when ``uplift`` has no ``@champion`` and no version is given:
    ``average`` scores with the best variant's measured average effect,
    ``none`` with 0, ``refuse`` stops the run.

    ``engine`` says where validation, features and the per-customer scoring run:
    DuckDB and this process, or Spark's executors (:mod:`upseg.serving.spark_batch`),
    which write the audience as a folder of Parquet parts.
    """

    data_dir: Path
    as_of: pd.Timestamp
    campaign: str
    out: Path
    tracking_uri: str
    workdir: Path
    policy_path: Path | None = None
    holdout: float | None = None
    budget: int | None = None
    cost_per_send: float | None = None
    value_per_conversion: float | None = None
    previous: Path | None = None
    versions: dict[str, str | None] = field(default_factory=dict)
    psi_fail: float = 0.25
    strict_drift: bool = False
    reasons: str = "targeted"
    reasons_method: str = "hybrid"
    chunk_rows: int = CHUNK_ROWS
    quarantine_dir: Path | None = None
    given_by: dict[str, str] = field(default_factory=dict)
    uplift_fallback: str = "average"
    engine: EngineSettings = field(default_factory=EngineSettings)


@dataclass(frozen=True)
class ScoreRun:
    """What a scoring run wrote and how its customers reconcile."""

    settings: ScoreSettings
    customers_eligible: int
    customers_scored: int
    actions: dict[str, int]
    segments: pd.DataFrame
    suppression: dict[str, int]
    economics: dict[str, dict[str, float]]
    drift: pd.DataFrame
    scores: dict[str, dict[str, float]]
    changes: dict[str, int] | None
    model_versions: str
    summary_path: Path
    run_id: str | None
    seconds: float
    notes: tuple[str, ...] = ()
    uplift_source: dict = field(default_factory=dict)
    suppression_settings: dict = field(default_factory=dict)

    @property
    def reconciles(self) -> bool:
        """Customers signed up before as-of = customers in the audience file."""
        return self.customers_eligible == self.customers_scored == sum(self.actions.values())


_SCORE_OF_ROLE = {
    "churn": "churn_probability",
    "propensity": "purchase_probability",
    "uplift": "uplift",
    "clv": "clv",
}


def _drift(models: dict, sample: pd.DataFrame, s: ScoreSettings) -> tuple[pd.DataFrame, list[str]]:
    """PSI of every feature and score against training (:func:`models.drift.scoring_drift`)."""
    features, scores = {}, {}
    for m in models.values():
        features.update(m.reference.get("features", {}))
        if "score" in m.reference:
            scores[_SCORE_OF_ROLE[m.role]] = m.reference
    try:
        return scoring_drift(features, scores, sample, fail=s.psi_fail, strict=s.strict_drift)
    except DriftError as exc:
        raise ScoringError(str(exc)) from None


def run_scoring(
    settings: ScoreSettings, *, on_stage: Callable[[str], None] = lambda _: None
) -> ScoreRun:
    """Score every customer who signed up before ``as_of`` and write the audience file.

    Without an uplift champion the run falls back as ``settings.uplift_fallback``
    says (:mod:`upseg.serving.uplift_source`), and the summary's
    ``uplift_source`` says so.

    Raises
    ------
    serving.champions.ScoringError
        Missing champions (the uplift model's only with ``uplift_fallback``
        ``refuse``), a model/feature mismatch, feature drift above the failure
        limit, or counts that do not reconcile.
    ValueError
        When ``uplift_fallback`` is not one of :data:`upseg.serving.uplift_source.FALLBACKS`.
    upseg.locks.JobLockedError
        When another job holds the work directory (see :mod:`upseg.locks`).
    """
    job = f"score {settings.campaign}"
    with job_locks(job, settings.workdir, settings.tracking_uri, timeout=lock_timeout()):
        return _run_scoring(settings, on_stage=on_stage)


def _run_scoring(settings: ScoreSettings, *, on_stage: Callable[[str], None]) -> ScoreRun:
    if settings.uplift_fallback not in FALLBACKS:
        raise ValueError(
            f"uplift_fallback must be one of {', '.join(FALLBACKS)}; "
            f"got {settings.uplift_fallback!r}"
        )
    started = time.perf_counter()
    policy = load_policy(settings.policy_path)
    # The policy owns the holdout and budget; settings given override them, within its ranges.
    limits = campaign_limits(
        policy,
        holdout=settings.holdout,
        max_sends=settings.budget,
        cost_per_send=settings.cost_per_send,
        given_by=settings.given_by,
    )
    s = replace(
        settings,
        holdout=limits.holdout,
        budget=limits.max_sends,
        cost_per_send=limits.cost_per_send,
    )
    on_stage(f"Checking the tracking store {s.tracking_uri}")
    check_tracking(s.tracking_uri)
    set_tracking(s.tracking_uri)
    client = MlflowClient(s.tracking_uri)
    on_stage("Loading the models")
    with server_calls(s.tracking_uri, "loading the models", consequence="nothing was written"):
        models = load_models(client, s.versions, uplift_optional=s.uplift_fallback != "refuse")
        fallback: UpliftFallback | None = None
        if "uplift" not in models:
            on_stage("Measuring the campaign's average effect")
            fallback = fallback_uplift(client, s.uplift_fallback, name="uplift")
    versions = ",".join(m.label for m in models.values())

    on_stage(f"Validating {s.data_dir} on {s.engine.name}")
    con = open_engine(s.engine)
    source = load_source(s.data_dir, con=con, quarantine_dir=s.quarantine_dir, read_until=s.as_of)
    tables = source.result.tables
    # Read before anything is written: an unreadable --previous must not cost the audience.
    previous = read_table(s.previous) if s.previous is not None else None
    feature_set = feature_set_of(models)
    columns = feature_set.columns(set(tables))
    check_inputs(models, feature_set.key, list(columns))
    policy.check_columns(["customer_id", *columns, *SCORE_COLUMNS])
    spine = customer_spine(tables["customers"], s.as_of)
    features = build_features(tables, spine, feature_set=feature_set).select(
        "customer_id", *columns
    )
    extra_notes = []
    if "clv" not in models:
        extra_notes.append(
            "no clv @champion: clv is last year's spend carried forward (source_of_clv "
            f"{CLV_FALLBACK}) and p_alive is empty; train one with `upseg train clv`"
        )
    if "clusters" not in models:
        extra_notes.append(
            "no clusters @champion: cluster and cluster_name are empty, so policy rules on them "
            "match nobody; train one with `upseg train clusters`"
        )
    if "email_events" in tables:
        # What suppression reads of the e-mail log, with the policy's cap window (any when off).
        cap = policy.suppression.frequency_cap
        inputs = deliverability_inputs(
            tables["email_events"], spine, window_days=1 if cap is None else cap.window_days
        )
        own = [c for c in DELIVERABILITY_COLUMNS if c not in columns]
        features = features.join(inputs.select("customer_id", *own), "customer_id")
    else:
        extra_notes.append(
            "no email_events in the data: only consent (opt-in, unsubscribes) was checked; "
            "bounces, complaints and the frequency cap could not be"
        )
    eligible = int(spine.count().execute())

    # Beside the audience, named as its own: a killed run's folder goes at the next run.
    with temporary_folder_beside(s.out) as tmp:
        if con.name == "pyspark":
            from upseg.serving.spark_batch import score_features_on_spark

            # Never collected: the executors build the features and score them. Held, since
            # the value cuts, the scoring and the drift sample each read them.
            frame = con._session.sql(con.compile(features)).persist()
            try:
                decided, drift, notes = score_features_on_spark(
                    frame, models, policy, s, limits=limits, eligible=eligible,
                    work_dir=Path(tmp), check_drift=lambda sample: _drift(models, sample, s),
                    on_stage=on_stage, uplift_fallback=fallback,
                )  # fmt: skip
            finally:
                frame.unpersist()
        else:
            on_stage(f"Building the features of {eligible:,} customers")
            features_file = Path(tmp) / "features.parquet"
            # Sorted, so that a rerun writes the same file, row for row.
            con.to_parquet(features.order_by("customer_id"), features_file)
            decided, drift, notes = score_features_file(
                features_file, models, policy, s, limits=limits, eligible=eligible,
                work_dir=Path(tmp), check_drift=lambda sample: _drift(models, sample, s),
                on_stage=on_stage, uplift_fallback=fallback,
            )  # fmt: skip
    notes = [*extra_notes, *notes]
    scored_rows = len(decided)

    segments_table = (
        decided.groupby(["segment", "action"]).size().unstack(fill_value=0).reset_index()
    )
    counts = decided["action"].value_counts().to_dict()
    # Every reason, 0 included, so that a rule that suppressed nobody still shows it was applied.
    by_reason = decided["suppression"].value_counts()
    suppression_counts = {r: int(by_reason.get(r, 0)) for r in SUPPRESSION_REASONS}
    # Without a value per conversion, revenue and profit are counted in conversions.
    economics = campaign_economics(
        decided,
        value_per_conversion=s.value_per_conversion or 1.0,
        cost_per_send=s.cost_per_send or 0.0,
    )
    changes = None
    if previous is not None:
        current = decided[["customer_id", "segment"]].rename(
            columns={"segment": "priority_segment"}
        )
        diff = segment_changes(previous, current, campaign=s.campaign)
        changes = diff["change"].value_counts().to_dict()
        changes_path = s.out.with_name(f"{s.out.stem}_segment_changes.csv")
        write_atomically(changes_path, lambda tmp: diff.to_csv(tmp, index=False))

    uplift_source = _uplift_source(decided, fallback, holdout=int(counts.get("holdout", 0)))
    scores_summary = {
        name: score_distribution(decided[col].to_numpy(dtype=float))
        for name, col in (
            ("uplift", "uplift"),
            ("expected_incremental_value", "value"),
            ("clv", "clv"),
        )
    }
    summary = {
        "campaign": s.campaign,
        "as_of": s.as_of.isoformat(),
        "out": str(s.out),
        "customers_signed_up_before_as_of": eligible,
        "customers_in_audience": scored_rows,
        "reconciles": eligible == scored_rows == sum(counts.values()),
        "actions": counts,
        "suppression": suppression_counts,
        "suppression_settings": policy.suppression.to_dict(),
        "segments": segments_table.to_dict(orient="records"),
        "value_tiers": {str(k): int(v) for k, v in decided["value_tier"].value_counts().items()},
        "clusters": {
            str(k): int(v) for k, v in decided["cluster_name"].value_counts(dropna=True).items()
        },
        "economics": economics,
        "scores": scores_summary,
        "drift": drift.to_dict(orient="records") if len(drift) else [],
        "segment_changes": changes,
        "model_versions": versions,
        "uplift_source": uplift_source,
        "policy": policy_digest(policy),
        "feature_set": feature_set.key,
        "engine": s.engine.name,
        # event partitions dated after as-of, not read (upseg.features.partitions)
        "partitions_skipped": {
            name: {"files": skip.files, "rows": skip.rows, "after": skip.after.isoformat()}
            for name, skip in source.result.skipped.items()
        },
        "holdout_share": s.holdout,
        "holdout_share_from": limits.sources["holdout"],
        "budget": s.budget,
        "budget_from": limits.sources["max_sends"],
        "cost_per_send": s.cost_per_send,
        "cost_per_send_from": limits.sources["cost_per_send"],
        "value_per_conversion": s.value_per_conversion,
        "data_fingerprint": data_fingerprint(find_table_files(s.data_dir)),
        "code_version": code_version(),
    }
    summary_path = s.out.with_name(f"{s.out.stem}_summary.json")
    write_atomically(
        summary_path, lambda tmp: tmp.write_text(json.dumps(summary, indent=2, default=str))
    )
    with server_calls(
        s.tracking_uri,
        "logging the scoring run",
        consequence=f"the audience {s.out} and its summary were written; their run is not logged",
    ):
        run_id = _log_scoring_run(s, summary, summary_path)
    return ScoreRun(
        settings=s,
        customers_eligible=eligible,
        customers_scored=scored_rows,
        actions=counts,
        segments=segments_table,
        suppression=suppression_counts,
        suppression_settings=policy.suppression.to_dict(),
        economics=economics,
        drift=drift,
        scores=scores_summary,
        changes=changes,
        model_versions=versions,
        summary_path=summary_path,
        run_id=run_id,
        seconds=time.perf_counter() - started,
        notes=tuple(notes),
        uplift_source=uplift_source,
    )


def _uplift_source(decided: pd.DataFrame, fallback: UpliftFallback | None, *, holdout: int) -> dict:
    """Where the customers' uplift came from, for the summary: counts, and the fallback's story."""
    counts = decided["source_of_uplift"].value_counts()
    out: dict = {"counts": {k: int(counts.get(k, 0)) for k in UPLIFT_SOURCES if counts.get(k, 0)}}
    # How sure each customer's sign is (a calibrated model's group evidence; "" without one).
    evidence = decided["evidence_of_uplift"].astype("string").fillna("").value_counts()
    out["evidence"] = {k or "not measured": int(v) for k, v in evidence.items()}
    if fallback is None:
        return {"source": "model", **out}
    return {**fallback.to_dict(), **out, "holdout_customers": holdout,
            "message": fallback.describe(holdout)}  # fmt: skip


def _log_scoring_run(s: ScoreSettings, summary: dict, summary_path: Path) -> str | None:
    import mlflow

    experiment_id = ensure_experiment("upseg-scoring", s.tracking_uri)
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=f"score-{s.campaign}-{s.as_of:%Y-%m-%d}"
    ) as run:
        mlflow.set_tags(
            {
                "task": "scoring",
                "campaign": s.campaign,
                "model_versions": summary["model_versions"],
                "uplift_source": summary["uplift_source"]["source"],
                "data_fingerprint": summary["data_fingerprint"],
                "code_version": summary["code_version"],
            }
        )
        mlflow.log_params(
            {
                "as_of": s.as_of.isoformat(),
                "holdout": s.holdout,
                "budget": s.budget,
                "cost_per_send": s.cost_per_send,
                "value_per_conversion": s.value_per_conversion,
                "policy": summary["policy"],
                "out": str(s.out),
            }
        )
        mlflow.log_metrics(
            {
                "customers": summary["customers_in_audience"],
                **{f"action_{k}": v for k, v in summary["actions"].items()},
                **{f"suppressed_{k}": v for k, v in summary["suppression"].items()},
            }
        )
        mlflow.log_artifact(str(summary_path))
    return run.info.run_id
