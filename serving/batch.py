"""The batch scorer's chunk loop: a features file → scores, segments, actions → the audience file.

Two passes keep memory flat as the customer base grows:

1. the features file is streamed in chunks; each chunk is scored, segmented
   and checked for suppression, and written to a temporary Parquet file,
   keeping only the few columns the audience-wide decisions need (expected
   value, policy action, suppression, holdout draw);
2. the budget is decided over everyone at once, then the temporary file is
   streamed again with each customer's action and written to the audience
   file, which is renamed into place only when complete.

``upseg score`` (:func:`upseg.pipelines.score_job.run_scoring`) builds the
features file and wires this to the registry, the drift check and MLflow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pandas.api.types import union_categoricals

from upseg.files import write_atomically
from upseg.models.drift import DRIFT_SAMPLE, REPORT_COLUMNS
from upseg.serving.audience import (
    choose_actions,
    holdout_draw,
    holdout_mask,
    suppression_reason,
)
from upseg.serving.champions import LoadedModel, ScoringError
from upseg.serving.policy import CampaignLimits, Policy, PolicyError, assign_segments, value_cuts
from upseg.serving.scorer import (
    LIFETIME_VALUE_COLUMNS,
    ChunkMatrices,
    lifetime_value,
    mean_order_value,
    reasons,
    score_chunk,
)

if TYPE_CHECKING:
    from upseg.serving.uplift_source import UpliftFallback

__all__ = [
    "CHUNK_ROWS",
    "OUTPUT_COLUMNS",
    "BatchOptions",
    "DriftCheck",
    "audience_columns",
    "base_mean_order_value",
    "decided_actions",
    "decided_chunk",
    "score_distribution",
    "score_features_file",
    "segmenting_policy",
    "tier_values",
    "value_thresholds",
]

#: Customers per chunk; memory grows with it, not with the customer base.
CHUNK_ROWS = 200_000

#: Audience columns, in order (``uplift_<variant>`` columns follow ``best_variant``);
#: newer columns (``source_of_uplift``, ``evidence_of_uplift``, then the CLV's and the value
#: tier, then the behavioural cluster) come last, so that readers of the earlier columns by
#: position still work (not ``uplift_…``, which names the variants).
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
    "source_of_uplift",
    "evidence_of_uplift",
    "quadrant",
    "churn_risk",
    "value_tier",
    "clv",
    "p_alive",
    "source_of_clv",
    "cluster",
    "cluster_name",
)

#: Checks a sample of scored customers (features and scores) for drift: the report
#: and notes for the summary, or raises to stop the run before anything is written.
DriftCheck = Callable[[pd.DataFrame], tuple[pd.DataFrame, list[str]]]


class BatchOptions(Protocol):
    """What :func:`score_features_file` reads of a run's settings (``ScoreSettings`` has it)."""

    @property
    def campaign(self) -> str:
        """Campaign name: seeds the holdout draw."""

    @property
    def as_of(self) -> pd.Timestamp:
        """The scoring instant, written in every row."""

    @property
    def out(self) -> Path:
        """The audience file: ``.parquet`` or ``.csv``."""

    @property
    def value_per_conversion(self) -> float | None:
        """Value of one conversion; the customer's average order value when None."""

    @property
    def reasons(self) -> str:
        """``"targeted"`` (reasons for customers the policy would send) or ``"all"``."""

    @property
    def reasons_method(self) -> str:
        """``"hybrid"`` or ``"exact"``: how reasons attribute the score (:func:`reasons`)."""

    @property
    def chunk_rows(self) -> int:
        """Customers per chunk."""


def value_thresholds(
    features_file: Path,
    policy: Policy,
    models: Mapping[str, LoadedModel],
    *,
    chunk_rows: int = CHUNK_ROWS,
    uplift_fallback: UpliftFallback | None = None,
    order_value_fill: float | None = None,
) -> tuple[float, float, float]:
    """The value tiers' cuts over the whole base: every chunk must share them.

    Fixed amounts are the policy's; shares are cut on the value column, read
    from the features file when it is a feature, else scored first in a pass of
    its own over the base: ``clv`` by :func:`~upseg.serving.scorer.lifetime_value`
    alone, any other score by :func:`~upseg.serving.scorer.score_chunk`.
    """
    tier = policy.value_tier
    if tier.amounts is not None:  # fixed amounts: nothing to read
        return tier.amounts
    if tier.column in pq.read_schema(features_file).names:
        values = pq.read_table(features_file, columns=[tier.column]).column(0)
        return value_cuts(values.to_numpy(zero_copy_only=False).astype(float), tier)
    parts = [
        tier_values(
            batch.to_pandas(),
            models,
            policy,
            uplift_fallback=uplift_fallback,
            order_value_fill=order_value_fill,
        )  # fmt: skip
        for batch in pq.ParquetFile(features_file).iter_batches(batch_size=chunk_rows)
    ]
    return value_cuts(np.concatenate(parts) if parts else np.array([]), tier)


def tier_values(
    chunk: pd.DataFrame,
    models: Mapping[str, LoadedModel],
    policy: Policy,
    *,
    uplift_fallback: UpliftFallback | None = None,
    order_value_fill: float | None = None,
) -> np.ndarray:
    """The value tier's column of a chunk when it is a score: ``clv`` or another of the scorer's.

    Raises
    ------
    upseg.serving.policy.PolicyError
        When neither the features nor the scores have the policy's column.
    """
    column = policy.value_tier.column
    if column in LIFETIME_VALUE_COLUMNS:
        scored = lifetime_value(chunk, models)
    else:
        scored = score_chunk(
            chunk, models, with_reasons=False, uplift_fallback=uplift_fallback,
            order_value_fill=order_value_fill,
        )  # fmt: skip
    if column not in scored:
        raise PolicyError(
            [
                f"value_tier.column: no column {column!r} among the features or the "
                f"scores; expected a numeric column; got {column!r}"
            ],
            policy.source,
        )
    return pd.to_numeric(scored[column]).to_numpy(dtype=float)


def base_mean_order_value(features_file: Path) -> float | None:
    """The order value of customers who never ordered: the whole base's mean, or None.

    None when the features have no ``avg_order_value`` (the scorer then fills with 0).
    """
    if "avg_order_value" not in pq.read_schema(features_file).names:
        return None
    column = pq.read_table(features_file, columns=["avg_order_value"]).column(0)
    return mean_order_value(column.to_numpy(zero_copy_only=False).astype(float))


def score_distribution(values: np.ndarray) -> dict[str, float]:
    """Mean and percentiles 1 to 99 of the finite ``values``, for the run summary; {} if none."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return {}
    q = np.quantile(finite, [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99])
    return {
        "mean": float(finite.mean()),
        **{f"p{p}": float(v) for p, v in zip((1, 10, 25, 50, 75, 90, 99), q, strict=True)},
    }


def score_features_file(
    features_file: Path,
    models: Mapping[str, LoadedModel],
    policy: Policy,
    s: BatchOptions,
    *,
    limits: CampaignLimits,
    eligible: int,
    work_dir: Path,
    check_drift: DriftCheck | None = None,
    on_stage: Callable[[str], None] = lambda _: None,
    uplift_fallback: UpliftFallback | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Everything after feature building: scores, segments, actions, the audience file.

    Streams ``features_file`` in chunks of ``s.chunk_rows`` through the models and
    the policy into a temporary file in ``work_dir``, checks drift, decides the
    actions over everyone, and writes ``s.out`` atomically.

    Parameters
    ----------
    features_file : Path
        Parquet: ``customer_id``, the models' feature columns and, when the
        source has e-mail events, the suppression's
        (:func:`upseg.features.deliverability.deliverability_inputs`), one row
        per customer, sorted as the audience should be.
    models : mapping of str to LoadedModel
        :func:`upseg.serving.champions.load_models` output.
    policy : Policy
    s : BatchOptions
        Campaign, as-of, audience path, value per conversion, reasons, chunk rows.
    limits : CampaignLimits
        Holdout share and budget: :func:`upseg.serving.policy.campaign_limits`.
    eligible : int
        Customers who signed up before as-of: the rows every count must reconcile with.
    work_dir : Path
        For the temporary pass-1 file.
    check_drift : DriftCheck, optional
        Called with a sample of about ``DRIFT_SAMPLE`` scored customers (spread
        over the chunks) between the two passes; raising stops the run with
        nothing written. None skips the check and returns an empty report.
    on_stage : callable, optional
        Told the stage in words, for a progress display.
    uplift_fallback : UpliftFallback, optional
        Everyone's uplift when ``models`` has no ``uplift``
        (:func:`upseg.serving.uplift_source.fallback_uplift`); the policy then
        segments with :meth:`~upseg.serving.uplift_source.UpliftFallback.segmenting_policy`.

    Returns
    -------
    decided : pandas.DataFrame
        One row per customer: ``customer_id``, ``segment``, ``suppression``,
        ``policy``, ``value``, ``uplift``, ``source_of_uplift``, ``evidence_of_uplift``,
        ``value_tier``, ``clv``, ``cluster_name`` and the final ``action``.
    drift : pandas.DataFrame
        What ``check_drift`` reported.
    notes : list of str
        Warnings for the run summary.

    Raises
    ------
    upseg.serving.champions.ScoringError
        Counts that do not reconcile; nothing is written.
    """
    versions = ",".join(m.label for m in models.values())
    stage1 = work_dir / "scored.parquet"
    decisions: list[pd.DataFrame] = []
    drift_frames: list[pd.DataFrame] = []
    writer = None
    scored_rows = 0
    on_stage("Cutting the value tiers")
    fill = base_mean_order_value(features_file)
    cuts = value_thresholds(
        features_file, policy, models, chunk_rows=s.chunk_rows, uplift_fallback=uplift_fallback,
        order_value_fill=fill,
    )  # fmt: skip
    segmenting = segmenting_policy(policy, models, uplift_fallback)
    on_stage("Scoring")
    for batch in pq.ParquetFile(features_file).iter_batches(batch_size=s.chunk_rows):
        chunk = batch.to_pandas()
        chunk.index = pd.RangeIndex(scored_rows, scored_rows + len(chunk))
        out, decision, scores = decided_chunk(
            chunk, models, policy, s, cuts=cuts, segmenting=segmenting,
            uplift_fallback=uplift_fallback, order_value_fill=fill,
        )  # fmt: skip
        decisions.append(decision)
        if check_drift is not None:
            # The same share of every chunk, so the sample is spread over the whole base.
            sample = chunk.sample(frac=min(1.0, DRIFT_SAMPLE / max(eligible, 1)), random_state=0)
            drift_frames.append(pd.concat([sample, scores.loc[sample.index]], axis=1))
        table = pa.Table.from_pandas(out, preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(stage1, table.schema)
        writer.write_table(table)
        # Nothing per customer outlives its chunk.
        del scores, out, table
        scored_rows += len(chunk)
        on_stage(f"Scoring: {scored_rows:,} of {eligible:,} customers")
    if writer is not None:
        writer.close()

    if check_drift is not None:
        drift, notes = check_drift(pd.concat(drift_frames))
    else:
        drift, notes = pd.DataFrame(columns=list(REPORT_COLUMNS)), []
    decided = _stacked(decisions)
    del decisions
    on_stage("Choosing the audience")
    actions = decided_actions(decided, limits, eligible=eligible, scored=scored_rows)
    on_stage(f"Writing {s.out}")
    _write_audience(stage1, actions, s, versions)
    return decided.assign(action=actions["action"].to_numpy()), drift, notes


def segmenting_policy(
    policy: Policy, models: Mapping[str, LoadedModel], uplift_fallback: UpliftFallback | None
) -> Policy:
    """The policy that segments: the fallback's version of it when there is no uplift model."""
    if "uplift" in models or uplift_fallback is None:
        return policy
    return uplift_fallback.segmenting_policy(policy)


def decided_chunk(
    chunk: pd.DataFrame,
    models: Mapping[str, LoadedModel],
    policy: Policy,
    s: BatchOptions,
    *,
    cuts: tuple[float, float, float],
    segmenting: Policy,
    uplift_fallback: UpliftFallback | None = None,
    order_value_fill: float | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One chunk of customers scored, segmented, checked for suppression and explained.

    Everything here depends on the customer's own row (and the base-wide value
    cuts and ``order_value_fill``), so a chunk gives the same rows wherever it
    is cut: in the scorer's loop or in a Spark partition.

    Returns
    -------
    out : pandas.DataFrame
        The audience's columns known before the actions (scores, segments, reasons).
    decision : pandas.DataFrame
        What the audience-wide decisions read (:func:`_compact` columns).
    scores : pandas.DataFrame
        The models' outputs, for the drift sample.
    """
    cap = policy.suppression.frequency_cap  # None: the policy turned it off
    matrices = ChunkMatrices(chunk)
    scores = score_chunk(
        chunk,
        models,
        value_per_conversion=s.value_per_conversion,
        with_reasons=False,
        uplift_fallback=uplift_fallback,
        matrices=matrices,
        order_value_fill=order_value_fill,
    )
    segments = assign_segments(pd.concat([chunk, scores], axis=1), segmenting, value_cuts=cuts)
    suppressed = suppression_reason(
        chunk,
        soft_bounce_streak=policy.suppression.soft_bounce_streak,
        max_emails=None if cap is None else cap.max_emails,
        min_gap_hours=None if cap is None else cap.min_gap_hours,
    )
    targeted = (segments["policy_action"] == "send").to_numpy() & (suppressed == "").to_numpy()
    scores["reasons"] = reasons(
        chunk,
        models,
        None if s.reasons == "all" else targeted,
        method=s.reasons_method,
        matrices=matrices,
    )
    scored = pd.concat([chunk[["customer_id"]], scores], axis=1)
    out = pd.concat(
        [
            scored,
            # "quadrant", not the engine's uplift_quadrant: readers take uplift_* for variants
            segments[["priority_segment", "uplift_quadrant", "churn_risk", "value_tier"]].rename(
                columns={"uplift_quadrant": "quadrant"}
            ),
            chunk[["rfm_segment", "lifecycle_stage"]]
            if "rfm_segment" in chunk
            else pd.DataFrame(index=chunk.index, columns=["rfm_segment", "lifecycle_stage"]),
        ],
        axis=1,
    )
    decision = _compact(
        {
            "customer_id": chunk["customer_id"].astype(str),
            "suppression": suppressed.to_numpy(),
            "policy": segments["policy_action"].to_numpy(),
            "policy_reason": segments["policy_reason"].to_numpy(),
            "draw": holdout_draw(chunk["customer_id"], s.campaign),
            "value": scores["expected_incremental_value"].to_numpy(),
            "uplift": scores["uplift"].to_numpy(),
            "source_of_uplift": scores["source_of_uplift"].to_numpy(),
            "evidence_of_uplift": scores["evidence_of_uplift"].to_numpy(),
            "segment": segments["priority_segment"].to_numpy(),
            "value_tier": segments["value_tier"].to_numpy(),
            "clv": scores["clv"].to_numpy(),
            "cluster_name": scores["cluster_name"].to_numpy(),
        },
        index=chunk.index,
    )
    return out, decision, scores


def decided_actions(
    decided: pd.DataFrame, limits: CampaignLimits, *, eligible: int, scored: int
) -> pd.DataFrame:
    """Every customer's action (:func:`~upseg.serving.audience.choose_actions`) over the base.

    Raises
    ------
    upseg.serving.champions.ScoringError
        When eligible, scored and decided customers are not the same number.
    """
    holdout = holdout_mask(decided["draw"].to_numpy(), limits.holdout)
    actions = choose_actions(
        decided["customer_id"],
        decided["suppression"],
        decided["policy"],
        holdout,
        decided["value"].to_numpy(),
        policy_reason=decided["policy_reason"],
        budget=limits.max_sends,
        cost_per_send=limits.cost_per_send,
    )
    if scored != eligible or len(actions) != eligible:
        raise ScoringError(
            f"customers do not reconcile: {eligible:,} signed up before as-of, "
            f"{scored:,} scored, {len(actions):,} with an action; nothing was written."
        )
    return actions


def audience_columns(columns: list[str]) -> list[str]:
    """The audience's column order: :data:`OUTPUT_COLUMNS`, variants after ``best_variant``."""
    variants = [c for c in columns if c.startswith("uplift_")]
    order = [c for c in OUTPUT_COLUMNS if c in columns]
    at = order.index("best_variant") + 1
    return order[:at] + variants + order[at:]


#: Columns of the audience-wide decisions kept as numbers or the customer id; the rest are
#: labels, kept as category codes so that 5 million customers hold no Python string each.
_DECISION_NUMBERS = ("customer_id", "draw", "value", "uplift", "clv")


def _compact(columns: dict, index: pd.Index) -> pd.DataFrame:
    """One chunk's decisions, labels as categoricals."""
    return pd.DataFrame(
        {
            name: values if name in _DECISION_NUMBERS else pd.Categorical(values)
            for name, values in columns.items()
        },
        index=index,
    )


def _stacked(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The chunks' decisions as one frame, categories united rather than turned into objects."""
    if not parts:
        return pd.DataFrame()
    columns = {}
    for name, dtype in parts[0].dtypes.items():
        if isinstance(dtype, pd.CategoricalDtype):
            columns[name] = union_categoricals([p[name] for p in parts])
        else:  # pandas keeps the ids in Arrow, not as Python strings
            columns[name] = pd.concat([p[name] for p in parts], ignore_index=True)
    return pd.DataFrame(columns, index=pd.RangeIndex(sum(len(p) for p in parts)))


def _write_audience(stage1: Path, actions: pd.DataFrame, s: BatchOptions, versions: str) -> None:
    """Stream the scored rows again with their actions into the audience file, atomically."""
    action = actions["action"].to_numpy()
    reason = actions["reason"].to_numpy()
    suppression = np.where(action == "suppress", reason, "")
    skip = np.where(action == "skip", reason, "")

    def write(tmp: Path) -> None:
        source = pq.ParquetFile(stage1)
        writer: pq.ParquetWriter | pacsv.CSVWriter | None = None
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
                frame = frame[audience_columns(list(frame.columns))]
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
