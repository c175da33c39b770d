"""Wiring of ``upseg score``: champions → features → scores → segments → actions → audience.

Two passes keep memory flat as the customer base grows:

1. features are streamed from the engine in chunks; each chunk is scored,
   segmented and checked for suppression, and written to a temporary Parquet
   file, keeping only the few columns the audience-wide decisions need
   (expected value, policy action, suppression, holdout draw);
2. the budget is decided over everyone at once, then the temporary file is
   streamed again with each customer's action and written to the audience
   file, which is renamed into place only when complete.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from mlflow.tracking import MlflowClient

from upseg.features.build import build_features
from upseg.features.pit import customer_spine
from upseg.features.sets import CUSTOMER_V1
from upseg.features.sources import connect, data_fingerprint, find_table_files
from upseg.models.drift import drift_report
from upseg.models.tracking import check_tracking, code_version, ensure_experiment, set_tracking
from upseg.pipelines.jobs import load_source, write_atomically
from upseg.serving.audience import (
    campaign_economics,
    choose_actions,
    holdout_draw,
    holdout_mask,
    segment_changes,
    suppression_reason,
)
from upseg.serving.champions import ScoringError, check_inputs, load_models
from upseg.serving.policy import Policy, assign_segments, load_policy, policy_digest, vip_cut
from upseg.serving.scorer import reasons, score_chunk

__all__ = ["ScoreRun", "ScoreSettings", "run_scoring", "score_features_file"]

#: Customers per chunk; memory grows with it, not with the customer base.
CHUNK_ROWS = 200_000
#: Customers sampled (spread over the chunks) for the PSI of features and scores.
DRIFT_SAMPLE = 200_000

#: Audience columns, in order (``uplift_<variant>`` columns follow ``best_variant``).
OUTPUT_COLUMNS = (
    "customer_id",
    "churn_probability",
    "purchase_probability",
    "uplift",
    "best_variant",
    "expected_incremental_value",
    "priority_segment",
    "rfm_segment",
    "lifecycle_stage",
    "reasons",
    "action",
    "suppression_reason",
    "skip_reason",
    "model_versions",
    "as_of",
)


@dataclass(frozen=True)
class ScoreSettings:
    """Everything ``upseg score`` lets the user choose."""

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
    chunk_rows: int = CHUNK_ROWS
    quarantine_dir: Path | None = None


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

    @property
    def reconciles(self) -> bool:
        """Customers signed up before as-of = customers in the audience file."""
        return self.customers_eligible == self.customers_scored == sum(self.actions.values())


def _vip_threshold(features_file: Path, policy: Policy) -> float:
    """Spend at the VIP cut over the whole base: every chunk must share one cut."""
    column = policy.value_tier.spend_column
    spend = pq.read_table(features_file, columns=[column]).column(0).to_numpy(zero_copy_only=False)
    return vip_cut(spend.astype(float), policy.value_tier.vip_share)


def _distribution(values: np.ndarray) -> dict[str, float]:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return {}
    q = np.quantile(finite, [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99])
    return {
        "mean": float(finite.mean()),
        **{f"p{p}": float(v) for p, v in zip((1, 10, 25, 50, 75, 90, 99), q, strict=True)},
    }


_SCORE_OF_ROLE = {
    "churn": "churn_probability",
    "propensity": "purchase_probability",
    "uplift": "uplift",
}


def _drift(models: dict, sample: pd.DataFrame, s: ScoreSettings) -> tuple[pd.DataFrame, list[str]]:
    """PSI of every feature and score against training; refuse drifting scores.

    Scores fail the run above ``psi_fail``; features only warn unless
    ``strict_drift``, because schedule-driven features (days since the last
    newsletter) shift with the calendar without the customers changing. The
    churn score is compared on the customers it was trained on: those with an
    order in the past 365 days.
    """
    references, scores = {}, {}
    for m in models.values():
        references.update(m.reference.get("features", {}))
        if "score" in m.reference:
            scores[_SCORE_OF_ROLE[m.role]] = m.reference
    frames = [drift_report(references, sample, warn=0.1, fail=s.psi_fail)] if references else []
    for column, reference in scores.items():
        rows = sample
        if reference.get("population") == "active_365d" and "frequency_365d" in sample:
            rows = sample[sample["frequency_365d"] > 0]
        frames.append(drift_report({column: reference["score"]}, rows, warn=0.1, fail=s.psi_fail))
    drift = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["column", "psi", "status"])
    )
    notes = [] if references else ["the models carry no training distributions of features"]
    failing = drift["status"] == "fail"
    if not s.strict_drift:
        failing &= drift["column"].isin(list(scores))
    if failing.any():
        raise ScoringError(
            f"drift above the limit {s.psi_fail} (PSI against training): "
            + ", ".join(f"{r.column} {r.psi:.2f}" for r in drift[failing].itertuples())
            + "; nothing was written. Retrain, or raise --psi-fail if this is expected."
        )
    drifting = drift[drift["status"].isin(["warn", "fail"])]
    if len(drifting):
        notes.append(
            f"PSI above 0.1 for {len(drifting)} column(s): "
            + ", ".join(f"{r.column} {r.psi:.2f}" for r in drifting.head(8).itertuples())
            + (" …" if len(drifting) > 8 else "")
        )
    return drift, notes


def score_features_file(
    features_file: Path,
    models: dict,
    policy: Policy,
    s: ScoreSettings,
    *,
    eligible: int,
    work_dir: Path,
    on_stage: Callable[[str], None] = lambda _: None,
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Everything after feature building: scores, segments, actions, the audience file.

    Streams ``features_file`` in chunks of ``s.chunk_rows`` through the models and
    the policy into a temporary file in ``work_dir``, decides the actions over
    everyone, and writes ``s.out`` atomically.

    Returns
    -------
    decided : pandas.DataFrame
        One row per customer: ``customer_id``, ``segment``, ``suppression``,
        ``policy``, ``value``, ``uplift`` and the final ``action``.
    drift : pandas.DataFrame
        :func:`models.drift.drift_report` rows of every feature and score.
    notes : list of str
        Warnings for the run summary.

    Raises
    ------
    serving.champions.ScoringError
        Drifting scores, or counts that do not reconcile; nothing is written.
    """
    versions = ",".join(m.label for m in models.values())
    stage1 = work_dir / "scored.parquet"
    decisions: list[pd.DataFrame] = []
    drift_frames: list[pd.DataFrame] = []
    writer = None
    scored_rows = 0
    vip_threshold = _vip_threshold(features_file, policy)
    on_stage("Scoring")
    for batch in pq.ParquetFile(features_file).iter_batches(batch_size=s.chunk_rows):
        chunk = batch.to_pandas()
        chunk.index = pd.RangeIndex(scored_rows, scored_rows + len(chunk))
        scores = score_chunk(
            chunk, models, value_per_conversion=s.value_per_conversion, with_reasons=False
        )
        segments = assign_segments(
            pd.concat([chunk, scores], axis=1), policy, vip_threshold=vip_threshold
        )
        suppressed = suppression_reason(chunk, hard_bounce_min=policy.suppression.hard_bounce_min)
        targeted = (segments["policy_action"] == "send").to_numpy() & (suppressed == "").to_numpy()
        scores["reasons"] = reasons(chunk, models, None if s.reasons == "all" else targeted)
        scored = pd.concat([chunk[["customer_id"]], scores], axis=1)
        out = pd.concat(
            [
                scored,
                segments[["priority_segment"]],
                chunk[["rfm_segment", "lifecycle_stage"]]
                if "rfm_segment" in chunk
                else pd.DataFrame(index=chunk.index, columns=["rfm_segment", "lifecycle_stage"]),
            ],
            axis=1,
        )
        decisions.append(
            pd.DataFrame(
                {
                    "customer_id": chunk["customer_id"].astype(str),
                    "suppression": suppressed.to_numpy(),
                    "policy": segments["policy_action"].to_numpy(),
                    "policy_reason": segments["policy_reason"].to_numpy(),
                    "draw": holdout_draw(chunk["customer_id"], s.campaign),
                    "value": scores["expected_incremental_value"].to_numpy(),
                    "uplift": scores["uplift"].to_numpy(),
                    "segment": segments["priority_segment"].to_numpy(),
                },
                index=chunk.index,
            )
        )
        # The same share of every chunk, so the sample is spread over the whole base.
        sample = chunk.sample(frac=min(1.0, DRIFT_SAMPLE / max(eligible, 1)), random_state=0)
        drift_frames.append(pd.concat([sample, scores.loc[sample.index]], axis=1))
        table = pa.Table.from_pandas(out, preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(stage1, table.schema)
        writer.write_table(table)
        scored_rows += len(chunk)
        on_stage(f"Scoring: {scored_rows:,} of {eligible:,} customers")
    if writer is not None:
        writer.close()

    drift, notes = _drift(models, pd.concat(drift_frames), s)
    decided = pd.concat(decisions) if decisions else pd.DataFrame()
    on_stage("Choosing the audience")
    holdout = holdout_mask(decided["draw"].to_numpy(), s.holdout)
    actions = choose_actions(
        decided["customer_id"],
        decided["suppression"],
        decided["policy"],
        holdout,
        decided["value"].to_numpy(),
        policy_reason=decided["policy_reason"],
        budget=s.budget,
        cost_per_send=s.cost_per_send,
    )
    if scored_rows != eligible or len(actions) != eligible:
        raise ScoringError(
            f"customers do not reconcile: {eligible:,} signed up before as-of, "
            f"{scored_rows:,} scored, {len(actions):,} with an action; nothing was written."
        )
    on_stage(f"Writing {s.out}")
    _write_audience(stage1, actions, s, versions)
    return decided.assign(action=actions["action"].to_numpy()), drift, notes


def run_scoring(
    settings: ScoreSettings, *, on_stage: Callable[[str], None] = lambda _: None
) -> ScoreRun:
    """Score every customer who signed up before ``as_of`` and write the audience file.

    Raises
    ------
    serving.champions.ScoringError
        Missing champions, a model/feature mismatch, feature drift above the
        failure limit, or counts that do not reconcile.
    """
    started = time.perf_counter()
    policy = load_policy(settings.policy_path)
    # Options given on the command line override the policy file's holdout and budget.
    s = replace(
        settings,
        holdout=policy.holdout.share if settings.holdout is None else settings.holdout,
        budget=policy.budget.max_sends if settings.budget is None else settings.budget,
        cost_per_send=policy.budget.cost_per_send
        if settings.cost_per_send is None
        else settings.cost_per_send,
    )
    on_stage(f"Checking the tracking store {s.tracking_uri}")
    check_tracking(s.tracking_uri)
    set_tracking(s.tracking_uri)
    client = MlflowClient(s.tracking_uri)
    on_stage("Loading the models")
    models = load_models(client, s.versions)
    versions = ",".join(m.label for m in models.values())

    on_stage(f"Validating {s.data_dir}")
    con = connect()
    source = load_source(s.data_dir, con=con, quarantine_dir=s.quarantine_dir)
    tables = source.result.tables
    columns = CUSTOMER_V1.columns(set(tables))
    check_inputs(models, CUSTOMER_V1.key, list(columns))
    policy.check_columns(["customer_id", *columns, "uplift", "purchase_probability",
                          "churn_probability", "expected_incremental_value"])  # fmt: skip
    spine = customer_spine(tables["customers"], s.as_of)
    features = build_features(tables, spine, feature_set=CUSTOMER_V1).select(
        "customer_id", *columns
    )
    eligible = int(spine.count().execute())

    Path(s.out).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{s.out.name}.", dir=s.out.parent) as tmp:
        on_stage(f"Building the features of {eligible:,} customers")
        features_file = Path(tmp) / "features.parquet"
        # Sorted, so that a rerun writes the same file, row for row.
        con.to_parquet(features.order_by("customer_id"), features_file)
        decided, drift, notes = score_features_file(
            features_file, models, policy, s, eligible=eligible, work_dir=Path(tmp),
            on_stage=on_stage,
        )  # fmt: skip
    scored_rows = len(decided)

    segments_table = (
        decided.groupby(["segment", "action"]).size().unstack(fill_value=0).reset_index()
    )
    counts = decided["action"].value_counts().to_dict()
    suppression_counts = decided.loc[decided["suppression"] != "", "suppression"].value_counts()
    # Without a value per conversion, revenue and profit are counted in conversions.
    economics = campaign_economics(
        decided,
        value_per_conversion=s.value_per_conversion or 1.0,
        cost_per_send=s.cost_per_send or 0.0,
    )
    changes = None
    if s.previous is not None:
        previous = (
            pd.read_parquet(s.previous)
            if s.previous.suffix == ".parquet"
            else pd.read_csv(s.previous)
        )
        current = decided[["customer_id", "segment"]].rename(
            columns={"segment": "priority_segment"}
        )
        diff = segment_changes(previous, current, campaign=s.campaign)
        changes = diff["change"].value_counts().to_dict()
        changes_path = s.out.with_name(f"{s.out.stem}_segment_changes.csv")
        write_atomically(changes_path, lambda tmp: diff.to_csv(tmp, index=False))

    scores_summary = {
        name: _distribution(decided[col].to_numpy(dtype=float))
        for name, col in (("uplift", "uplift"), ("expected_incremental_value", "value"))
    }
    summary = {
        "campaign": s.campaign,
        "as_of": s.as_of.isoformat(),
        "out": str(s.out),
        "customers_signed_up_before_as_of": eligible,
        "customers_in_audience": scored_rows,
        "reconciles": eligible == scored_rows == sum(counts.values()),
        "actions": counts,
        "suppression": suppression_counts.to_dict(),
        "segments": segments_table.to_dict(orient="records"),
        "economics": economics,
        "scores": scores_summary,
        "drift": drift.to_dict(orient="records") if len(drift) else [],
        "segment_changes": changes,
        "model_versions": versions,
        "policy": policy_digest(policy),
        "holdout_share": s.holdout,
        "budget": s.budget,
        "cost_per_send": s.cost_per_send,
        "value_per_conversion": s.value_per_conversion,
        "data_fingerprint": data_fingerprint(find_table_files(s.data_dir)),
        "code_version": code_version(),
    }
    summary_path = s.out.with_name(f"{s.out.stem}_summary.json")
    write_atomically(
        summary_path, lambda tmp: tmp.write_text(json.dumps(summary, indent=2, default=str))
    )
    run_id = _log_scoring_run(s, summary, summary_path)
    return ScoreRun(
        settings=s,
        customers_eligible=eligible,
        customers_scored=scored_rows,
        actions=counts,
        segments=segments_table,
        suppression=suppression_counts.to_dict(),
        economics=economics,
        drift=drift,
        scores=scores_summary,
        changes=changes,
        model_versions=versions,
        summary_path=summary_path,
        run_id=run_id,
        seconds=time.perf_counter() - started,
        notes=tuple(notes),
    )


def _write_audience(stage1: Path, actions: pd.DataFrame, s: ScoreSettings, versions: str) -> None:
    """Stream the scored rows again with their actions into the audience file, atomically."""
    action = actions["action"].to_numpy()
    reason = actions["reason"].to_numpy()
    suppression = np.where(action == "suppress", reason, "")
    skip = np.where(action == "skip", reason, "")

    def write(tmp: Path) -> None:
        source = pq.ParquetFile(stage1)
        writer = None
        offset = 0
        try:
            for batch in source.iter_batches(batch_size=s.chunk_rows):
                frame = batch.to_pandas()
                n = len(frame)
                frame["action"] = action[offset : offset + n]
                frame["suppression_reason"] = suppression[offset : offset + n]
                frame["skip_reason"] = skip[offset : offset + n]
                frame["model_versions"] = versions
                frame["as_of"] = s.as_of
                variants = [c for c in frame.columns if c.startswith("uplift_")]
                order = [c for c in OUTPUT_COLUMNS if c in frame.columns]
                at = order.index("best_variant") + 1
                frame = frame[order[:at] + variants + order[at:]]
                table = pa.Table.from_pandas(frame, preserve_index=False)
                if writer is None:
                    writer = (
                        pq.ParquetWriter(tmp, table.schema)
                        if s.out.suffix == ".parquet"
                        else pacsv.CSVWriter(tmp, table.schema)
                    )
                writer.write_table(table)
                offset += n
        finally:
            if writer is not None:
                writer.close()

    write_atomically(s.out, write)


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
