"""The batch scorer on Spark: the same chunk code, run by the executors on their partitions.

:func:`score_features_on_spark` is :func:`upseg.serving.batch.score_features_file`
for features that live on a Spark cluster. The per-customer work (scores,
segments, suppression, reasons, the holdout draw) is
:func:`upseg.serving.batch.decided_chunk`, applied to each partition with
``mapInPandas``; its rows are written by the executors to a Parquet folder and
never pass through the driver. What needs the whole base is done on the
driver from compact columns, with the same code as on one machine, so the
audience is the same row for row:

- the value tiers' cuts read one number per customer (the tier's column), and
  so does the order value of customers who never ordered (the base's mean);
- the budget, holdout and suppression decisions read the thirteen short
  columns of :func:`~upseg.serving.batch.decided_chunk`'s decisions (about
  50 bytes a customer as categories: 5 GB for 100 million);
- the drift check reads a sample of about ``DRIFT_SAMPLE`` customers.

The audience is then joined with the actions on the cluster and written as a
Parquet folder sorted by customer id, renamed into place when complete (with
Spark's ``_SUCCESS`` marker).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from upseg.files import write_folder_atomically
from upseg.models.drift import DRIFT_SAMPLE, REPORT_COLUMNS
from upseg.serving.batch import (
    BatchOptions,
    DriftCheck,
    _compact,
    _stacked,
    audience_columns,
    decided_actions,
    decided_chunk,
    segmenting_policy,
    tier_values,
)
from upseg.serving.champions import LoadedModel, ScoringError
from upseg.serving.policy import CampaignLimits, Policy, value_cuts
from upseg.serving.scorer import mean_order_value, score_chunk

if TYPE_CHECKING:
    from upseg.serving.uplift_source import UpliftFallback

__all__ = ["score_features_on_spark"]

#: Prefix of the decisions' columns in the executors' rows (no audience column starts so).
_D = "__decision_"


def score_features_on_spark(
    features: Any,
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
    """Score a Spark DataFrame of features and write ``s.out`` as a Parquet folder.

    Parameters and returns as :func:`upseg.serving.batch.score_features_file`,
    except ``features``: a :class:`pyspark.sql.DataFrame` with ``customer_id``,
    the models' feature columns and the suppression's; ``work_dir`` must be
    on storage the executors and the driver share (beside the audience).

    Raises
    ------
    upseg.serving.champions.ScoringError
        Counts that do not reconcile; nothing is written.
    """
    if s.out.suffix.lower() == ".csv":
        raise ScoringError(
            f"--out {s.out}: on Spark the audience is a folder of Parquet parts; "
            "expected a path ending in .parquet (or no suffix); got .csv"
        )
    versions = ",".join(m.label for m in models.values())
    on_stage("Cutting the value tiers")
    fill = _base_mean_order_value(features)
    cuts = _value_cuts(features, policy, models, uplift_fallback, fill)
    segmenting = segmenting_policy(policy, models, uplift_fallback)

    def decide(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for chunk in batches:
            out, decision, _ = decided_chunk(
                chunk, models, policy, s, cuts=cuts, segmenting=segmenting,
                uplift_fallback=uplift_fallback, order_value_fill=fill,
            )  # fmt: skip
            yield _executor_rows(out, decision)

    on_stage("Scoring on the cluster")
    sample = _first_rows(features)
    schema = _spark_schema(next(decide(iter([sample]))))
    stage1 = work_dir / "scored"
    features.mapInPandas(decide, schema).write.parquet(str(stage1))
    session = features.sparkSession
    scored = session.read.parquet(str(stage1))

    on_stage("Reading the decisions")
    decision_columns = [c for c in scored.columns if c.startswith(_D)]
    decided = _decided(scored.select("customer_id", *decision_columns).toPandas())
    scored_rows = len(decided)

    if check_drift is not None:
        on_stage("Checking drift on a sample")
        drift, notes = check_drift(
            _drift_sample(
                features, models, s, eligible=eligible, uplift_fallback=uplift_fallback, fill=fill
            )
        )
    else:
        drift, notes = pd.DataFrame(columns=list(REPORT_COLUMNS)), []

    on_stage("Choosing the audience")
    actions = decided_actions(decided, limits, eligible=eligible, scored=scored_rows)
    action = actions["action"].to_numpy().astype(object)
    reason = actions["reason"].to_numpy().astype(object)
    chosen = pd.DataFrame(
        {
            "customer_id": decided["customer_id"].astype(str).to_numpy(),
            "action": action,
            "suppression_reason": np.where(action == "suppress", reason, ""),
            "skip_reason": np.where(action == "skip", reason, ""),
        }
    )
    actions_path = work_dir / "actions.parquet"
    chosen.to_parquet(actions_path, index=False)

    on_stage(f"Writing {s.out}")
    _write_audience(scored, session.read.parquet(str(actions_path)), s, versions)
    return decided.assign(action=actions["action"].to_numpy()), drift, notes


def _executor_rows(out: pd.DataFrame, decision: pd.DataFrame) -> pd.DataFrame:
    """One chunk's audience columns and its decisions, as plain columns Arrow can carry."""
    rows = out.copy()
    for name in decision.columns.drop("customer_id"):
        rows[f"{_D}{name}"] = decision[name].to_numpy()
    for name, dtype in rows.dtypes.items():
        if isinstance(dtype, pd.CategoricalDtype):
            rows[name] = rows[name].astype(object).where(rows[name].notna(), None)
    return rows.reset_index(drop=True)


def _first_rows(features: Any, n: int = 200) -> pd.DataFrame:
    """A few rows of the features, to learn the executors' output schema from."""
    rows = features.limit(n).toPandas()
    if rows.empty:
        raise ScoringError("no customer signed up before as-of: nothing to score")
    return rows


def _spark_schema(frame: pd.DataFrame) -> Any:
    """The Spark schema of the executors' rows; a column empty in the sample is text."""
    from pyspark.sql.pandas.types import from_arrow_schema

    table = pa.Table.from_pandas(frame, preserve_index=False)
    fields = [
        pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in table.schema
    ]
    return from_arrow_schema(pa.schema(fields))


def _decided(frame: pd.DataFrame) -> pd.DataFrame:
    """The executors' decisions as the one-machine scorer holds them, in customer order."""
    frame = frame.sort_values("customer_id", kind="stable", ignore_index=True)
    # The executors wrote decided_chunk's columns in its order; _compact types them as it did.
    columns = {
        "customer_id": frame["customer_id"].astype(str),
        **{name.removeprefix(_D): frame[name] for name in frame.columns if name.startswith(_D)},
    }
    return _stacked([_compact(columns, index=frame.index)])


def _base_mean_order_value(features: Any) -> float | None:
    """:func:`upseg.serving.batch.base_mean_order_value` of a Spark DataFrame (one column read)."""
    if "avg_order_value" not in features.columns:
        return None
    values = features.select("avg_order_value").toPandas()["avg_order_value"]
    return mean_order_value(pd.to_numeric(values).to_numpy(dtype=float))


def _value_cuts(
    features: Any,
    policy: Policy,
    models: Mapping[str, LoadedModel],
    uplift_fallback: UpliftFallback | None,
    fill: float | None,
) -> tuple[float, float, float]:
    """:func:`upseg.serving.batch.value_thresholds` over a Spark DataFrame."""
    from pyspark.sql.types import DoubleType, StructField, StructType

    tier = policy.value_tier
    if tier.amounts is not None:
        return tier.amounts
    if tier.column in features.columns:
        values = features.select(tier.column).toPandas()[tier.column]
        return value_cuts(pd.to_numeric(values).to_numpy(dtype=float), tier)

    def column(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for chunk in batches:
            values = tier_values(
                chunk, models, policy, uplift_fallback=uplift_fallback, order_value_fill=fill
            )
            yield pd.DataFrame({"v": values})

    # A policy naming a column nobody makes fails here, on the driver, with its own error.
    next(column(iter([_first_rows(features)])))
    schema = StructType([StructField("v", DoubleType())])
    values = features.mapInPandas(column, schema).toPandas()["v"]
    return value_cuts(values.to_numpy(dtype=float), tier)


def _drift_sample(
    features: Any,
    models: Mapping[str, LoadedModel],
    s: BatchOptions,
    *,
    eligible: int,
    uplift_fallback: UpliftFallback | None,
    fill: float | None,
) -> pd.DataFrame:
    """About ``DRIFT_SAMPLE`` customers' features and scores, drawn on the cluster."""
    share = min(1.0, DRIFT_SAMPLE / max(eligible, 1))
    sample = features.sample(fraction=share, seed=0).toPandas()
    scores = score_chunk(
        sample,
        models,
        value_per_conversion=s.value_per_conversion,
        with_reasons=False,
        uplift_fallback=uplift_fallback,
        order_value_fill=fill,
    )
    return pd.concat([sample, scores], axis=1)


def _write_audience(scored: Any, chosen: Any, s: BatchOptions, versions: str) -> None:
    """The scored rows with their actions, in customer order, as a Parquet folder put in place."""
    from pyspark.sql import functions as F

    own = [c for c in scored.columns if not c.startswith(_D)]
    rows = (
        scored.select(*own)
        .join(chosen, "customer_id", "inner")
        .withColumn("model_versions", F.lit(versions))
        .withColumn("as_of", F.lit(s.as_of.tz_convert("UTC").to_pydatetime()))
    )
    rows = rows.select(*audience_columns(rows.columns)).orderBy("customer_id")
    write_folder_atomically(s.out, lambda tmp: rows.write.parquet(str(tmp)))
