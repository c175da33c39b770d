"""Experiments to analyse: one row per customer with an arm, outcomes and segment columns.

Two sources give the same :class:`Experiment`:

- a campaign of the data contract (:func:`campaign_experiment`): the arm from
  ``campaign_assignments``, outcomes in the window after each customer's
  ``assigned_at`` (conversion and revenue from orders, visit from web events,
  click and unsubscribe from the campaign's e-mail events), segment columns and
  pre-period covariates from the features as of ``assigned_at``, all read and
  checked by :func:`upseg.features.campaigns.campaign_frame` as uplift training
  reads them;
- a table that is already one row per customer (:func:`table_experiment`), such
  as Hillstrom's e-mail experiment.

:func:`with_audience` adds the scorer's ``priority_segment``, ``action`` and
score to an experiment, so the analysis can judge the targeting.

Nothing here drops a customer: customers without an arm, with a missing outcome
or absent from the audience are kept and counted, and the analysis reports them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import ibis
import numpy as np
import pandas as pd

from upseg.errors import UpsegError
from upseg.features.campaigns import CampaignError, campaign_frame
from upseg.features.labels import OUTCOME_WINDOW_DAYS
from upseg.features.sets import CUSTOMER_V1, FeatureSet

__all__ = [
    "AUDIENCE_SEGMENTS",
    "CAMPAIGN_COVARIATES",
    "NOT_IN_AUDIENCE",
    "Experiment",
    "ExperimentInputError",
    "campaign_experiment",
    "outcome_kinds",
    "read_table",
    "table_experiment",
    "with_audience",
]

#: Pre-period value of each campaign outcome, for CUPED: the same metric over
#: the 365 days before the assignment, as the features compute it.
CAMPAIGN_COVARIATES = {
    "conversion": "frequency_365d",
    "revenue": "monetary_365d",
    "visit": "sessions_365d",
    "click": "emails_clicked_365d",
}

#: ``priority_segment`` of experiment customers that the audience file does not hold.
NOT_IN_AUDIENCE = "(not in audience)"
#: Segment columns of the scorer's audience that :func:`with_audience` brings for ``--by``.
AUDIENCE_SEGMENTS = (
    "quadrant",
    "churn_risk",
    "value_tier",
    "cluster",
    "cluster_name",
    "rfm_segment",
    "lifecycle_stage",
)


class ExperimentInputError(UpsegError, ValueError):
    """The experiment's input cannot be analysed as given."""


@dataclass(frozen=True)
class Experiment:
    """Customers of one experiment: their arm, outcomes and segment columns.

    Attributes
    ----------
    frame : pandas.DataFrame
        ``customer_id``, ``arm`` (string; missing for customers without an arm),
        the outcome columns (float, NaN where missing) and every other column.
    control : str
        Arm of the customers who were not e-mailed.
    arms : tuple of str
        Control first, then the treated arms, sorted.
    outcomes : tuple of str
    kinds : dict of str to {"binary", "continuous"}
    covariates : dict of str to str
        Outcome → its pre-period column, for CUPED.
    source : dict
        Where the data came from, for the results' parameters.
    audience : dict, optional
        The audience file and how its customers matched, when one was attached.
    """

    frame: pd.DataFrame
    control: str
    arms: tuple[str, ...]
    outcomes: tuple[str, ...]
    kinds: dict[str, str]
    covariates: dict[str, str] = field(default_factory=dict)
    source: dict = field(default_factory=dict)
    audience: dict | None = None

    @property
    def treated(self) -> tuple[str, ...]:
        """The arms that were e-mailed."""
        return self.arms[1:]


def outcome_kinds(frame: pd.DataFrame, outcomes: Sequence[str]) -> dict[str, str]:
    """``binary`` for an outcome holding only 0 and 1 (missing aside), else ``continuous``."""
    return {
        name: "binary" if set(pd.unique(frame[name].dropna())) <= {0, 1} else "continuous"
        for name in outcomes
    }


def _numeric_outcomes(frame: pd.DataFrame, outcomes: Sequence[str], where: str) -> pd.DataFrame:
    """Outcomes as float; a value that is present but not a number is an error."""
    problems = []
    for name in outcomes:
        values = frame[name]
        if pd.api.types.is_bool_dtype(values):
            values = values.astype("float64")
        numbers = pd.to_numeric(values, errors="coerce")
        bad = numbers.isna() & values.notna()
        if bad.any():
            examples = sorted(map(str, pd.unique(values[bad])))[:3]
            problems.append(
                f"outcome {name!r} must be numeric (0/1 or an amount); {int(bad.sum())} "
                f"value(s) are not, e.g. {examples}"
            )
        elif np.isinf(numbers.astype("float64")).any():
            problems.append(f"outcome {name!r} holds infinite values")
        frame[name] = numbers.astype("float64")
    if problems:
        raise ExperimentInputError(f"{where}: " + "; ".join(problems) + ".")
    return frame


def _arms(frame: pd.DataFrame, control: str, where: str, option: str) -> tuple[str, ...]:
    found = sorted(map(str, frame["arm"].dropna().unique()))
    if control not in found:
        raise ExperimentInputError(
            f"{where}: the control value {control!r} ({option}) is not an arm; the arms are "
            f"{found}."
        )
    if len(found) < 2:
        raise ExperimentInputError(
            f"{where}: every customer is in the control arm {control!r}; there is nothing to "
            "compare."
        )
    return (control, *[a for a in found if a != control])


def read_table(path: Path) -> pd.DataFrame:
    """A CSV or Parquet file as a data frame, with a clear error for anything else."""
    path = Path(path)
    if not path.is_file():
        raise ExperimentInputError(f"{path}: no such file.")
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        if path.suffix in (".csv", ".txt"):
            return pd.read_csv(path)
    except (ValueError, OSError) as exc:  # pyarrow's and pandas' parse errors are ValueErrors
        kind = "Parquet" if path.suffix == ".parquet" else "CSV"
        raise ExperimentInputError(f"{path}: not a readable {kind} file ({exc}).") from exc
    raise ExperimentInputError(f"{path}: expected a .csv or .parquet file; got {path.suffix!r}.")


def table_experiment(
    path: Path,
    *,
    treatment: str,
    control: str,
    outcomes: Sequence[str],
    id_column: str | None = None,
    covariates: Mapping[str, str] | None = None,
    by: Sequence[str] = (),
) -> Experiment:
    """Read a one-row-per-customer experiment such as ``hillstrom.csv``.

    Parameters
    ----------
    path : Path
        CSV or Parquet file.
    treatment : str
        Column holding each customer's arm.
    control : str
        Its value for customers who were not e-mailed.
    outcomes : sequence of str
        Outcome columns: 0/1 (visit, conversion) or amounts (spend).
    id_column : str, optional
        Customer id column; the row number when omitted.
    covariates : mapping of str to str, optional
        Outcome → pre-period column for CUPED (e.g. ``{"spend": "history"}``).
    by : sequence of str
        Segment columns the analysis will use; checked here so a typo fails early.

    Raises
    ------
    ExperimentInputError
        A named column is absent, an outcome is not numeric, or the control
        value is not an arm.
    """
    raw = read_table(path)
    covariates = dict(covariates or {})
    named = [("--treatment", treatment)] + [("--outcome", o) for o in outcomes]
    named += [("--id", id_column)] if id_column else []
    named += [("--by", b) for b in by] + [("--cuped", c) for c in covariates.values()]
    missing = [f"{option} {column!r}" for option, column in named if column not in raw.columns]
    unknown = [o for o in covariates if o not in outcomes]
    if missing:
        raise ExperimentInputError(
            f"{path}: no column {', '.join(missing)}; its columns are {list(raw.columns)}."
        )
    if unknown:
        raise ExperimentInputError(
            f"{path}: --cuped names outcome(s) {unknown} that are not among --outcome "
            f"{list(outcomes)}."
        )
    if treatment in outcomes:
        raise ExperimentInputError(f"{path}: {treatment!r} is both --treatment and an --outcome.")
    frame = raw.drop(columns=["customer_id"], errors="ignore")
    frame.insert(
        0,
        "customer_id",
        raw[id_column].astype("string")
        if id_column
        else pd.Series(np.arange(len(raw))).astype("string"),
    )
    frame["arm"] = raw[treatment].astype("string")
    frame = _numeric_outcomes(frame, outcomes, str(path))
    for column in covariates.values():
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    arms = _arms(frame, control, str(path), "--control")
    return Experiment(
        frame=frame,
        control=control,
        arms=arms,
        outcomes=tuple(outcomes),
        kinds=outcome_kinds(frame, outcomes),
        covariates=covariates,
        source={"table": str(Path(path).resolve()), "rows": len(raw), "treatment": treatment},
    )


def campaign_experiment(
    tables: dict[str, ibis.Table],
    campaign_id: str,
    *,
    control: str = "control",
    window_days: int = OUTCOME_WINDOW_DAYS,
    feature_set: FeatureSet = CUSTOMER_V1,
) -> Experiment:
    """Outcomes of a contract campaign in the window after each customer's assignment.

    The campaign is read by :func:`upseg.features.campaigns.campaign_frame`, the
    loader uplift training shares; its refusals come back as
    :class:`ExperimentInputError`.

    Parameters
    ----------
    tables : dict of str to ibis.Table
        Validated tables with ``campaign_assignments``.
    campaign_id : str
        The campaign.
    control : str, default "control"
        Variant of the customers who were not e-mailed.
    window_days : int, default 14
        Outcome window after ``assigned_at``.
    feature_set : FeatureSet, default CUSTOMER_V1
        The features built as of ``assigned_at``, to segment by.

    Returns
    -------
    Experiment
        Outcomes ``conversion``, ``revenue`` and ``orders_in_window`` always;
        ``visit`` with ``web_events``; ``click`` and ``unsubscribe`` with
        ``email_events``. Every customer column and feature (as of
        ``assigned_at``) is there to segment by, and :data:`CAMPAIGN_COVARIATES`
        are the CUPED covariates.
    """
    try:
        campaign = campaign_frame(
            tables, campaign_id, window_days=window_days, feature_set=feature_set
        )
    except CampaignError as exc:
        raise ExperimentInputError(str(exc)) from exc
    frame = campaign.frame.drop(columns="assigned_at")
    names = [o for o in campaign.outcomes if o != "orders_in_window"]
    return Experiment(
        frame=frame,
        control=control,
        arms=_arms(frame, control, f"campaign {campaign_id!r}", "--control"),
        outcomes=tuple(names),
        kinds=outcome_kinds(frame, names),
        covariates={k: v for k, v in CAMPAIGN_COVARIATES.items() if k in names and v in frame},
        source=campaign.source,
    )


def with_audience(
    experiment: Experiment, audience: pd.DataFrame, *, name: str = "audience"
) -> Experiment:
    """Attach the scorer's ``priority_segment``, ``action`` and scores to each customer.

    Customers of the experiment whom the audience does not hold get the
    segment :data:`NOT_IN_AUDIENCE` and are counted; audience customers outside
    the experiment are ignored (and counted).

    Parameters
    ----------
    experiment : Experiment
    audience : pandas.DataFrame
        The scorer's audience: ``customer_id``, ``priority_segment``, ``action``
        and ``uplift`` (``uplift_<arm>`` columns too for several variants);
        ``expected_incremental_value`` is kept when present, to check the
        predicted value against the realised one.
    name : str
        The audience file, for messages.

    The audience's other segment columns (:data:`AUDIENCE_SEGMENTS`: the
    quadrant, churn risk, value tier and behavioural cluster…) come along for
    ``--by``, unless the experiment already has a column of that name (its own,
    measured before the campaign, wins); customers the audience does not
    hold get :data:`NOT_IN_AUDIENCE` in them.
    """
    needed = ["customer_id", "priority_segment", "action", "uplift"]
    missing = [c for c in needed if c not in audience.columns]
    if missing:
        raise ExperimentInputError(
            f"{name}: the audience file lacks column(s) {missing}; expected the scorer's output "
            f"with {needed}; its columns are {list(audience.columns)}."
        )
    scores = [c for c in audience.columns if c == "uplift" or c.startswith("uplift_")]
    values = [c for c in ("expected_incremental_value",) if c in audience.columns]
    segments = [c for c in AUDIENCE_SEGMENTS if c in audience.columns and c not in experiment.frame]
    keep = audience.loc[
        :, ["customer_id", "priority_segment", "action", *scores, *values, *segments]
    ].copy()
    keep["customer_id"] = keep["customer_id"].astype("string")
    if keep["customer_id"].duplicated().any():
        raise ExperimentInputError(
            f"{name}: customer_id is not unique ({int(keep['customer_id'].duplicated().sum())} "
            "repeated rows); an audience holds each customer once."
        )
    frame = experiment.frame.drop(
        columns=[c for c in keep.columns if c != "customer_id" and c in experiment.frame]
    )
    merged = frame.merge(keep, on="customer_id", how="left", indicator=True)
    matched = merged.pop("_merge") == "both"
    merged["priority_segment"] = merged["priority_segment"].astype("string").fillna(NOT_IN_AUDIENCE)
    merged["action"] = merged["action"].astype("string").fillna(NOT_IN_AUDIENCE)
    for column in segments:
        merged[column] = merged[column].astype("string").fillna(NOT_IN_AUDIENCE)
    info = {
        "file": name,
        "rows": len(audience),
        "matched": int(matched.sum()),
        "experiment_customers_not_in_audience": int((~matched).sum()),
        "audience_customers_not_in_experiment": int(len(keep) - matched.sum()),
        "score_columns": scores,
    }
    return replace(experiment, frame=merged, audience=info)
