"""A model's training reference, and the drift checks of the scoring and retraining jobs.

At training, :func:`training_reference` gathers what a model logs as
``reference.json``: the population it learnt on and the distributions of its
features and score. At scoring, :func:`scoring_drift` compares the scored
customers with it and refuses drifting scores; at retraining,
:func:`features_drift` compares today's features with the last model's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ibis
import numpy as np
import pandas as pd

from upseg.errors import UpsegError
from upseg.features.build import build_features
from upseg.features.labels import ALL_CUSTOMERS, in_population
from upseg.features.pit import customer_spine
from upseg.models.drift.psi import (
    PSI_FAIL,
    PSI_WARN,
    REPORT_COLUMNS,
    drift_report,
    reference_distribution,
    reference_distributions,
)

__all__ = [
    "DRIFT_SAMPLE",
    "DriftError",
    "features_drift",
    "scoring_drift",
    "training_reference",
]

#: Customers sampled for a drift check: PSI compares shares, which this many pin down.
DRIFT_SAMPLE = 200_000


class DriftError(UpsegError, ValueError):
    """Scores (or, when strict, features) drifted past the limit since training."""


def training_reference(
    rows: pd.DataFrame,
    score: Sequence[float] | np.ndarray,
    *,
    population: str,
    features: Sequence[str] = (),
) -> dict:
    """What a model logs as ``reference.json``: its population, features' and score's distributions.

    Parameters
    ----------
    rows : pandas.DataFrame
        The held-out rows of the training data (the holdout cutoff's customers).
    score : array-like of shape (len(rows),)
        The model's score of ``rows``.
    population : str
        The customers ``rows`` stand for, one of ``features.labels.POPULATIONS``.
    features : sequence of str
        Feature columns of ``rows``. Their distributions are kept only when
        ``population`` is every customer: the scorer compares features over the
        whole base, which a narrower population (churn's active customers) does
        not stand for.

    Returns
    -------
    dict
        ``{"population": str, "features": {column: reference}, "score": reference}``.
    """
    return {
        "population": population,
        "features": reference_distributions(rows, list(features))
        if population == ALL_CUSTOMERS
        else {},
        "score": reference_distribution(pd.Series(score)),
    }


def scoring_drift(
    feature_references: Mapping[str, Mapping],
    score_references: Mapping[str, Mapping],
    sample: pd.DataFrame,
    *,
    fail: float = PSI_FAIL,
    strict: bool = False,
) -> tuple[pd.DataFrame, list[str]]:
    """PSI of every feature and score of a scoring run against training; refuse drifting scores.

    Scores fail the run above ``fail``; features only warn unless ``strict``,
    because schedule-driven features (days since the last newsletter) shift with
    the calendar without the customers changing. Each score is compared on the
    population its model was trained on (churn: the active customers).

    Parameters
    ----------
    feature_references : mapping of str to dict
        Feature column to its training :func:`reference_distribution`.
    score_references : mapping of str to dict
        Score column (``churn_probability`` …) to its model's :func:`training_reference`.
    sample : pandas.DataFrame
        Scored customers: their features and scores.
    fail : float, default PSI_FAIL
        The PSI limit.
    strict : bool, default False
        Fail on drifting features too.

    Returns
    -------
    report : pandas.DataFrame
        :func:`drift_report` rows of the features, then of each score.
    notes : list of str
        Warnings for the run summary.

    Raises
    ------
    DriftError
        A score (or, when ``strict``, a feature) above ``fail``.
    """
    frames = (
        [drift_report(feature_references, sample, warn=PSI_WARN, fail=fail)]
        if feature_references
        else []
    )
    for column, reference in score_references.items():
        rows = in_population(sample, reference.get("population"))
        frames.append(drift_report({column: reference["score"]}, rows, warn=PSI_WARN, fail=fail))
    report = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=list(REPORT_COLUMNS))
    )
    notes = [] if feature_references else ["the models carry no training distributions of features"]
    failing = report["status"] == "fail"
    if not strict:
        failing &= report["column"].isin(list(score_references))
    if failing.any():
        raise DriftError(
            f"drift above the limit {fail} (PSI against training): "
            + ", ".join(f"{r.column} {r.psi:.2f}" for r in report[failing].itertuples())
            + "; nothing was written. Retrain, or raise --psi-fail if this is expected."
        )
    drifting = report[report["status"].isin(["warn", "fail"])]
    if len(drifting):
        notes.append(
            f"PSI above {PSI_WARN} for {len(drifting)} column(s): "
            + ", ".join(f"{r.column} {r.psi:.2f}" for r in drifting.head(8).itertuples())
            + (" …" if len(drifting) > 8 else "")
        )
    return report, notes


def features_drift(
    reference: Mapping | None,
    tables: Mapping[str, ibis.Table],
    as_of: pd.Timestamp,
    *,
    sample: int = DRIFT_SAMPLE,
) -> tuple[pd.DataFrame, int]:
    """PSI of the customers' features as of ``as_of`` against a model's training reference.

    Parameters
    ----------
    reference : dict or None
        A :func:`training_reference`; ``None`` (no model to compare with) gives
        an empty report.
    tables : mapping of str to ibis.Table
        Validated tables of the data source.
    as_of : pandas.Timestamp
        The features of every customer signed up before it, ``sample`` of them at most.

    Returns
    -------
    report : pandas.DataFrame
        :func:`drift_report` of the reference's features.
    customers : int
        How many customers were compared.
    """
    if reference is None:
        return pd.DataFrame(columns=list(REPORT_COLUMNS)), 0
    features = build_features(tables, customer_spine(tables["customers"], as_of)).execute()
    if len(features) > sample:
        features = features.sample(sample, random_state=0)
    return drift_report(reference.get("features", {}), features), len(features)
