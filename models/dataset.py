"""Training data for the predictive models: stacked monthly snapshots, split out of time.

Each snapshot is the customer base as of a cutoff ``d``: features from events
strictly before ``d`` and a label from ``[d, d + horizon)``. The holdout is the
snapshot at the requested as-of date; training snapshots are the monthly
cutoffs before it whose label window has closed by then, so no training label
looks at a day the holdout's features could not see. Holdout customers are
split in two by a hash of their id: ``valid`` decides early stopping, tuning
and calibration, ``test`` is touched only by the final metrics and the
promotion gate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd

from upseg.errors import UpsegError
from upseg.features._compose import KEYS
from upseg.features.build import build_features
from upseg.features.labels import (
    ACTIVE_CUSTOMERS,
    ALL_CUSTOMERS,
    CHURN_HORIZON_DAYS,
    CLV_HORIZON_DAYS,
    PURCHASE_HORIZON_DAYS,
    churn_labels,
    purchase_labels,
    revenue_labels,
)
from upseg.features.pit import as_utc, customer_spine
from upseg.features.sets import CUSTOMER_V1, FeatureSet
from upseg.models.sampling import SampleFacts, stratified_sample

__all__ = [
    "DEFAULT_MAX_ROWS",
    "MIN_PER_CLASS",
    "TASKS",
    "Task",
    "TrainingData",
    "TrainingDataError",
    "clv_task",
    "customer_buckets",
    "snapshot_dates",
    "training_data",
]

#: Fewest positives and negatives a split may hold before the model is refused.
MIN_PER_CLASS = 30

#: Training rows a model is built from unless told otherwise: what LightGBM fits
#: comfortably on one machine (about 1 GB of float64 features at 60 columns).
DEFAULT_MAX_ROWS = 2_000_000
_POSITIVE = "_upseg_positive"

#: How much earlier than the end of the label window the data may end.
LABEL_COVERAGE_SLACK = pd.Timedelta(days=7)


class TrainingDataError(UpsegError, ValueError):
    """The data cannot give a sound training set for the requested cutoff."""


def _churn(orders: ibis.Table, spine: ibis.Table, horizon_days: int) -> ibis.Table:
    labels = churn_labels(orders, spine, horizon_days=horizon_days)
    return labels.filter(labels.churn_eligible).select(*KEYS, label=labels.churned.cast("int8"))


def _propensity(orders: ibis.Table, spine: ibis.Table, horizon_days: int) -> ibis.Table:
    labels = purchase_labels(orders, spine, horizon_days=horizon_days)
    return labels.select(*KEYS, label=labels.purchased.cast("int8"))


@dataclass(frozen=True)
class Task:
    """A predictive target: its registered model name, label and recency baseline.

    Parameters
    ----------
    name : str
        Registered model name (``churn``, ``propensity``).
    description : str
        What a positive label means, for people.
    default_horizon_days : int
        Label window length when none is given.
    labels : callable
        ``(orders, spine, horizon_days) -> ibis.Table`` of ``customer_id``,
        ``as_of`` and ``label`` (0/1), for the eligible spine rows only.
    recency_raises_score : bool
        Whether more days since the last order means a higher score in the
        recency-only baseline.
    population : str, default ``features.labels.ALL_CUSTOMERS``
        The customers ``labels`` keeps, one of ``features.labels.POPULATIONS``;
        tagged in the model's training reference.
    kind : {"binary", "amount"}, default "binary"
        A 0/1 label, or a non-negative amount (revenue), whose splits must each
        hold enough customers with an amount above zero.
    """

    name: str
    description: str
    default_horizon_days: int
    labels: Callable[[ibis.Table, ibis.Table, int], ibis.Table]
    recency_raises_score: bool
    population: str = ALL_CUSTOMERS
    kind: str = "binary"


TASKS: dict[str, Task] = {
    "churn": Task(
        "churn",
        "an active customer (an order in the past 365 days) orders nothing in the horizon",
        CHURN_HORIZON_DAYS,
        _churn,
        recency_raises_score=True,
        population=ACTIVE_CUSTOMERS,
    ),
    "propensity": Task(
        "propensity",
        "the customer completes an order in the horizon",
        PURCHASE_HORIZON_DAYS,
        _propensity,
        recency_raises_score=False,
    ),
}


def clv_task(discount_rate: float = 0.0) -> Task:
    """The lifetime-value target: discounted revenue of completed orders in the horizon.

    Not in :data:`TASKS`: its label depends on ``discount_rate``, and its models
    are regressors (:mod:`upseg.models.clv`), trained by ``upseg train clv``.
    """

    def labels(orders: ibis.Table, spine: ibis.Table, horizon_days: int) -> ibis.Table:
        revenue = revenue_labels(
            orders, spine, horizon_days=horizon_days, discount_rate=discount_rate
        )
        return revenue.select(*KEYS, label=revenue.revenue)

    return Task(
        "clv",
        "revenue of the customer's completed orders in the horizon, discounted at "
        f"{discount_rate:g} a year",
        CLV_HORIZON_DAYS,
        labels,
        recency_raises_score=False,
        kind="amount",
    )


@dataclass(frozen=True)
class TrainingData:
    """Stacked snapshots with a ``role`` column: ``train``, ``valid`` or ``test``.

    Attributes
    ----------
    frame : pandas.DataFrame
        ``customer_id``, ``as_of``, ``role``, ``label`` and the feature columns.
    features : tuple of str
        Model inputs: the feature set's columns whose tables are present.
    categorical : tuple of str
        The categorical ones among ``features``.
    feature_set : FeatureSet
    holdout_as_of : pandas.Timestamp
    train_as_of : tuple of pandas.Timestamp
        Training cutoffs, oldest first; empty when the split is by customer.
    horizon_days : int
    out_of_time : bool
        False when training and holdout rows share one cutoff (``snapshots=0``).
    warnings : tuple of str
        Problems worth telling the user that do not stop training.
    sample : dict of str to SampleFacts
        Per cutoff (ISO timestamp), what the row bound kept of each label
        class; empty when no bound was given.
    max_rows : int, optional
        The bound on all cutoffs' rows together; None when there was none.
    """

    frame: pd.DataFrame
    features: tuple[str, ...]
    categorical: tuple[str, ...]
    feature_set: FeatureSet
    holdout_as_of: pd.Timestamp
    train_as_of: tuple[pd.Timestamp, ...]
    horizon_days: int
    out_of_time: bool
    warnings: tuple[str, ...] = field(default=())
    sample: dict[str, SampleFacts] = field(default_factory=dict)
    max_rows: int | None = None

    @property
    def sampled(self) -> bool:
        """Whether the row bound dropped rows of any cutoff."""
        return any(facts.sampled for facts in self.sample.values())

    def sample_params(self) -> dict[str, Any]:
        """MLflow parameters of the row bound: the bound, the seed, rows before and kept."""
        if not self.sample:
            return {"sample_max_rows": "none"}
        first = next(iter(self.sample.values()))
        return {
            "sample_max_rows": self.max_rows,
            "sample_max_rows_per_cutoff": first.max_rows,
            "sample_seed": first.seed,
            "sample_rows_before": sum(sum(f.population.values()) for f in self.sample.values()),
            "sample_rows_kept": sum(sum(f.kept.values()) for f in self.sample.values()),
        }

    def part(self, role: str) -> pd.DataFrame:
        """Rows of one role: ``train``, ``valid`` or ``test``."""
        return self.frame[self.frame["role"] == role]

    def held_out(self) -> pd.DataFrame:
        """Rows not trained on (``valid`` and ``test``): the reference of the scored base."""
        return self.frame[self.frame["role"] != "train"]

    def fingerprint(self, source: Path, digest: str, rows: Mapping[str, int]) -> dict[str, Any]:
        """The facts a run records about its data: where, its hash, and the rows it used.

        ``rows`` is the accepted rows per table of the data source.
        """
        return {
            "source": str(Path(source).resolve()),
            "sha256": digest,
            "rows": dict(rows),
            "as_of": self.holdout_as_of.isoformat(),
            "train_as_of": [d.isoformat() for d in self.train_as_of],
            "training_rows": {
                role: int(n) for role, n in self.frame["role"].value_counts().items()
            },
            "sample": {cutoff: facts.as_dict() for cutoff, facts in self.sample.items()},
        }

    def counts(self) -> pd.DataFrame:
        """Rows and positives (labels above zero) per role and cutoff."""
        positive = self.frame["label"].gt(0).rename("positive")
        grouped = positive.groupby([self.frame["role"], self.frame["as_of"]], observed=True)
        return grouped.agg(rows="size", positives="sum").reset_index()


def snapshot_dates(as_of: pd.Timestamp, *, snapshots: int, horizon_days: int) -> list[pd.Timestamp]:
    """Monthly training cutoffs before ``as_of`` whose label window closes by ``as_of``.

    Returns the ``snapshots`` latest such cutoffs, oldest first: with
    ``as_of`` 2026-04-01, a 30-day horizon and 3 snapshots, 2026-01-01,
    2026-02-01 and 2026-03-01.
    """
    if snapshots < 0:
        raise ValueError(f"snapshots must be 0 or more; got {snapshots}.")
    as_of = as_utc(as_of)
    horizon = pd.Timedelta(days=horizon_days)
    months_back = 1
    while as_of - pd.DateOffset(months=months_back) + horizon > as_of:
        months_back += 1
    return [as_of - pd.DateOffset(months=months_back + i) for i in reversed(range(snapshots))]


def customer_buckets(customer_ids: pd.Series, n: int) -> np.ndarray:
    """A stable bucket ``0 … n-1`` per customer id, the same on every run and machine."""
    hashed = pd.util.hash_pandas_object(customer_ids.astype("string"), index=False)
    return (hashed.to_numpy() % np.uint64(n)).astype(np.int64)


def _snapshot(
    tables: dict[str, ibis.Table],
    task: Task,
    as_of: pd.Timestamp,
    horizon_days: int,
    feature_set: FeatureSet,
    columns: tuple[str, ...],
    bound: tuple[int, int] | None = None,
) -> tuple[pd.DataFrame, SampleFacts | None]:
    """One cutoff's rows; with ``bound`` (max rows, seed), a stratified sample of them."""
    spine = customer_spine(tables["customers"], as_of)
    features = build_features(tables, spine, feature_set=feature_set)
    labels = task.labels(tables["orders"], spine, horizon_days)
    facts = None
    if bound is not None:
        # the labels are sampled, not the features: the engine builds features once, and
        # only the kept customers' rows come back to this process
        positive = labels.mutate(**{_POSITIVE: labels.label > 0})
        sample, facts = stratified_sample(
            positive, max_rows=bound[0], seed=bound[1], stratum=_POSITIVE
        )
        labels = sample.drop(_POSITIVE)
    joined = features.select("customer_id", "as_of", *columns).join(labels, list(KEYS))
    return joined.execute(), facts


def _check_history(
    tables: dict[str, ibis.Table], first: pd.Timestamp, last: pd.Timestamp, horizon_days: int
) -> None:
    orders = tables["orders"]
    bounds = orders.aggregate(first=orders.ordered_at.min(), last=orders.ordered_at.max()).execute()
    # Spark hands back naive instants (UTC, the session's zone); DuckDB aware ones
    first_order, last_order = (
        None if pd.isna(bounds[end].iloc[0]) else as_utc(bounds[end].iloc[0])
        for end in ("first", "last")
    )
    if first_order is None or last_order is None or first_order >= first:
        raise TrainingDataError(
            f"orders: no order before the earliest cutoff {first:%Y-%m-%d}, so the snapshot "
            f"has no history (first order: {first_order}). Choose a later --as-of or fewer "
            "--snapshots."
        )
    needed = last + pd.Timedelta(days=horizon_days)
    if last_order < needed - LABEL_COVERAGE_SLACK:
        raise TrainingDataError(
            f"orders: labels as of {last:%Y-%m-%d} need orders until {needed:%Y-%m-%d} "
            f"(a {horizon_days}-day horizon), but the latest order is at {last_order}. "
            "Choose an earlier --as-of or a shorter --horizon-days."
        )


def _assign_roles(frame: pd.DataFrame, holdout_as_of: pd.Timestamp, out_of_time: bool) -> None:
    holdout = frame["as_of"] == holdout_as_of
    if out_of_time:
        bucket = customer_buckets(frame["customer_id"], 2)
        role = np.where(holdout, np.where(bucket == 0, "valid", "test"), "train")
    else:
        bucket = customer_buckets(frame["customer_id"], 4)
        role = np.select([bucket <= 1, bucket == 2], ["train", "valid"], "test")
    frame["role"] = pd.Categorical(role, categories=["train", "valid", "test"])


def _check_classes(frame: pd.DataFrame, task: Task) -> None:
    problems = []
    for role in ("train", "valid", "test"):
        labels = frame.loc[frame["role"] == role, "label"]
        positives = int((labels > 0).sum())
        negatives = len(labels) - positives
        if min(positives, negatives) < MIN_PER_CLASS:
            problems.append(
                f"{role}: {positives:,} positive and {negatives:,} negative labels "
                f"(at least {MIN_PER_CLASS} of each are needed)"
            )
    if problems:
        kind = (
            "labels of one class" if task.kind == "binary" else "customers with and without revenue"
        )
        raise TrainingDataError(
            f"Too few {kind} for the {task.name} model ({task.description}): "
            + "; ".join(problems)
            + ". Use more --snapshots, a longer --horizon-days or more customers."
        )


def _constant_features(frame: pd.DataFrame, columns: tuple[str, ...]) -> list[str]:
    train = frame[frame["role"] == "train"]
    return [c for c in columns if train[c].nunique(dropna=False) <= 1]


def training_data(
    tables: dict[str, ibis.Table],
    task: Task,
    as_of: pd.Timestamp,
    *,
    snapshots: int = 3,
    horizon_days: int | None = None,
    feature_set: FeatureSet = CUSTOMER_V1,
    max_rows: int | None = None,
    seed: int = 0,
) -> TrainingData:
    """Build the stacked, labelled, role-split training data of ``task``.

    Parameters
    ----------
    tables : dict of str to ibis.Table
        Validated tables of the data source.
    task : Task
        One of :data:`TASKS`.
    as_of : pandas.Timestamp
        Cutoff of the holdout snapshot; the data must reach ``as_of + horizon``.
    snapshots : int, default 3
        Monthly training snapshots before the holdout. ``0`` trains on half of
        the holdout cutoff's customers instead (a customer split, not out of
        time: for data too short to stack snapshots).
    horizon_days : int, optional
        Label window; the task's default when omitted.
    feature_set : FeatureSet, default CUSTOMER_V1
    max_rows : int, optional
        Bound on the rows built, shared equally by the cutoffs: each keeps at
        most ``max_rows // cutoffs`` customers, sampled on the engine and
        stratified by label (with or without revenue, for an amount), so every
        cutoff keeps its positive rate (:func:`models.sampling.stratified_sample`).
        Every row when omitted.
    seed : int, default 0
        Chooses the sampled customers; the same on DuckDB and Spark.

    Raises
    ------
    TrainingDataError
        No history before the first cutoff, data too short for the labels, too
        few positives or negatives in a split, or every feature constant.
    """
    as_of = as_utc(as_of)
    horizon = task.default_horizon_days if horizon_days is None else int(horizon_days)
    if horizon < 1:
        raise ValueError(f"horizon_days must be at least 1; got {horizon}.")
    train_dates = snapshot_dates(as_of, snapshots=snapshots, horizon_days=horizon)
    _check_history(tables, train_dates[0] if train_dates else as_of, as_of, horizon)
    columns = feature_set.columns(set(tables))
    cutoffs = [*train_dates, as_of]
    if max_rows is not None and max_rows < len(cutoffs):
        raise TrainingDataError(
            f"max_rows (training.max_rows, --max-rows) must be at least the number of cutoffs "
            f"({len(cutoffs)}: snapshots + the holdout); got {max_rows}."
        )
    bound = None if max_rows is None else (max_rows // len(cutoffs), seed)
    built = [_snapshot(tables, task, d, horizon, feature_set, columns, bound) for d in cutoffs]
    frame = pd.concat([rows for rows, _ in built], ignore_index=True)
    sample = {
        d.isoformat(): facts
        for d, (_, facts) in zip(cutoffs, built, strict=True)
        if facts is not None
    }
    frame["as_of"] = pd.to_datetime(frame["as_of"], utc=True)
    frame = frame.sort_values(["as_of", "customer_id"], ignore_index=True)
    _assign_roles(frame, as_of, out_of_time=bool(train_dates))
    _check_classes(frame, task)
    constant = _constant_features(frame, columns)
    if len(constant) == len(columns):
        raise TrainingDataError(
            f"Every feature is constant in the training rows of {task.name}; nothing to learn."
        )
    notes = []
    if constant:
        notes.append(
            f"{len(constant)} feature(s) are constant in the training rows and cannot "
            f"help the model: {', '.join(constant)}."
        )
    dropped = {cutoff: facts for cutoff, facts in sample.items() if facts.sampled}
    if dropped:
        before = sum(sum(f.population.values()) for f in dropped.values())
        after = sum(sum(f.kept.values()) for f in dropped.values())
        notes.append(
            f"Training rows bounded at {max_rows:,}: {after:,} of {before:,} customer rows "
            f"kept at {len(dropped)} cutoff(s), each label class in its own share "
            f"(seed {seed})."
        )
    if not train_dates:
        notes.append(
            "snapshots=0: training and holdout customers share one cutoff (a customer "
            "split, not out of time), so the holdout measures generalisation to other "
            "customers, not to a later month."
        )
    return TrainingData(
        frame=frame,
        features=columns,
        categorical=tuple(c for c in feature_set.categorical if c in columns),
        feature_set=feature_set,
        holdout_as_of=as_of,
        train_as_of=tuple(train_dates),
        horizon_days=horizon,
        out_of_time=bool(train_dates),
        warnings=tuple(notes),
        sample=sample,
        max_rows=max_rows,
    )
