"""Experiment data for uplift models: one row per customer, arm, pre-treatment features, outcome.

Two sources give the same :class:`UpliftData`:

- a campaign of the data contract (:func:`campaign_data`): features built as of
  each customer's ``assigned_at`` with the same code as every other model,
  outcomes from the window after it, read and checked by
  :func:`upseg.features.campaigns.campaign_frame` as experiment analysis reads them;
- a table that is already one row per customer (:func:`table_data`), such as
  Hillstrom's e-mail experiment: every column that is not the arm, an outcome or
  the id is a feature, and text columns are categories.

Both are checked the same way (:func:`check_experiment`): the control value is
in the arm column, every arm has enough customers, the outcome has two classes
(binary) or varies (continuous), and no feature differs between arms by more
than chance allows in a randomized experiment, since such a feature was
measured after the e-mail and would leak the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
from scipy import stats

from upseg.errors import UpsegError
from upseg.features.campaigns import CampaignError, campaign_frame
from upseg.features.labels import OUTCOME_WINDOW_DAYS
from upseg.features.sets import CUSTOMER_V1, FeatureSet

__all__ = [
    "MIN_PER_ARM",
    "PRE_TREATMENT_P",
    "ExperimentError",
    "UpliftData",
    "campaign_data",
    "check_experiment",
    "outcome_kind",
    "table_data",
]

#: Fewest customers an arm may have: fewer cannot rank anyone's uplift.
MIN_PER_ARM = 300

#: Arm-balance p-value below which a feature is taken as measured after treatment.
#: In a randomized experiment pre-treatment features differ between arms only by
#: chance; with a few dozen features a p-value this small does not happen by chance.
PRE_TREATMENT_P = 1e-6


class ExperimentError(UpsegError, ValueError):
    """The experiment cannot give a sound uplift model."""


@dataclass(frozen=True)
class UpliftData:
    """Customers of one experiment with their arm, features and outcome.

    Attributes
    ----------
    frame : pandas.DataFrame
        ``id``, ``arm``, ``outcome`` and the feature columns.
    features : tuple of str
    categorical : tuple of str
    control : str
        The arm value of customers who were not e-mailed.
    variants : tuple of str
        The treated arms, sorted.
    outcome : str
        Name of the outcome (``conversion``, ``revenue``, ``visit``…).
    kind : {"binary", "continuous"}
    source : dict
        Where the data came from, for the run's fingerprint.
    ignored : tuple of str
        Columns of a table that were neither features nor the arm, id or outcome.
    """

    frame: pd.DataFrame
    features: tuple[str, ...]
    categorical: tuple[str, ...]
    control: str
    variants: tuple[str, ...]
    outcome: str
    kind: str
    source: dict = field(default_factory=dict)
    ignored: tuple[str, ...] = ()

    @property
    def arms(self) -> tuple[str, ...]:
        """Control first, then the variants."""
        return (self.control, *self.variants)


def outcome_kind(values: pd.Series) -> str:
    """``binary`` when the outcome holds only 0 and 1, else ``continuous``."""
    found = set(pd.unique(values.dropna()).tolist())
    return "binary" if found <= {0, 1} else "continuous"


def _balance_problems(frame: pd.DataFrame, features: tuple[str, ...], control: str) -> list[str]:
    """Features whose mean differs between control and some variant beyond chance."""
    problems = []
    is_control = frame["arm"] == control
    for column in features:
        values = frame[column]
        if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
            continue
        numbers = pd.to_numeric(values.astype("Float64"), errors="coerce").astype("float64")
        base = numbers[is_control].dropna()
        for variant in sorted(set(frame["arm"]) - {control}):
            other = numbers[frame["arm"] == variant].dropna()
            if len(base) < 2 or len(other) < 2 or base.std() == 0 and other.std() == 0:
                continue
            p = stats.ttest_ind(base, other, equal_var=False).pvalue
            if p < PRE_TREATMENT_P:
                problems.append(
                    f"{column!r} differs between {control!r} (mean {base.mean():.4g}) and "
                    f"{variant!r} (mean {other.mean():.4g}), p = {p:.1e}"
                )
                break
    return problems


def check_experiment(
    frame: pd.DataFrame,
    *,
    features: tuple[str, ...],
    control: str,
    outcome: str,
    where: str,
    min_per_arm: int = MIN_PER_ARM,
) -> str:
    """Refuse an experiment that cannot give a sound uplift model; return the outcome kind.

    Parameters
    ----------
    frame : pandas.DataFrame
        ``arm`` and ``outcome`` columns plus ``features``.
    control : str
        Arm value of the control group.
    outcome : str
        Outcome name, for messages.
    where : str
        The table or campaign, for messages.

    Raises
    ------
    ExperimentError
        Listing every problem: control value absent, an arm with too few
        customers, an outcome with one value, features that are not
        pre-treatment.
    """
    problems = []
    counts = frame["arm"].value_counts()
    if control not in counts.index:
        raise ExperimentError(
            f"{where}: the control value {control!r} is not in the arm column; "
            f"its values are {sorted(map(str, counts.index))}."
        )
    if len(counts) < 2:
        raise ExperimentError(f"{where}: every customer is in {control!r}; no arm was treated.")
    small = {arm: int(n) for arm, n in counts.items() if n < min_per_arm}
    if small:
        problems.append(
            f"arm(s) with fewer than {min_per_arm} customers: "
            + ", ".join(f"{arm!r} ({n})" for arm, n in sorted(small.items()))
        )
    values = frame["outcome"]
    if values.isna().any():
        problems.append(f"outcome {outcome!r} is missing for {int(values.isna().sum())} customers")
    kind = outcome_kind(values)
    if values.nunique(dropna=True) < 2:
        problems.append(f"outcome {outcome!r} has one value only ({values.iloc[0]!r})")
    elif kind == "binary":
        for arm in counts.index:
            if frame.loc[frame["arm"] == arm, "outcome"].nunique() < 2:
                problems.append(f"outcome {outcome!r} has one class only in arm {arm!r}")
    for problem in _balance_problems(frame, features, control):
        problems.append(f"feature {problem}: it is not pre-treatment; drop it or fix it")
    if problems:
        raise ExperimentError(
            f"{where}: {len(problems)} problem(s) with the experiment: " + "; ".join(problems) + "."
        )
    return kind


def _categorical(frame: pd.DataFrame, features: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(
        c
        for c in features
        if not (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))
    )


def table_data(
    path: Path,
    *,
    treatment: str,
    control: str,
    outcome: str,
    id_column: str | None = None,
    exclude: tuple[str, ...] = (),
) -> UpliftData:
    """Read a one-row-per-customer experiment (CSV or Parquet).

    Parameters
    ----------
    path : Path
        The table.
    treatment : str
        Column holding each customer's arm.
    control : str
        Arm value of the control group.
    outcome : str
        Outcome column (0/1 or a number such as spend).
    id_column : str, optional
        Customer id column; the row number when omitted.
    exclude : tuple of str
        Further columns that are not features, typically the other outcomes
        (with ``--outcome visit`` on Hillstrom: ``conversion`` and ``spend``).
    """
    path = Path(path)
    if not path.exists():
        raise ExperimentError(f"{path}: no such file.")
    raw = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    named = {"--treatment": treatment, "--outcome": outcome, "--id": id_column}
    missing = [f"{option} {col!r}" for option, col in named.items() if col and col not in raw]
    missing += [f"--exclude {col!r}" for col in exclude if col not in raw]
    if missing:
        raise ExperimentError(
            f"{path}: no column {', '.join(missing)}; its columns are {list(raw.columns)}."
        )
    not_features = {treatment, outcome, *exclude} | ({id_column} if id_column else set())
    features = tuple(c for c in raw.columns if c not in not_features)
    frame = pd.DataFrame(
        {
            "id": raw[id_column].astype("string") if id_column else np.arange(len(raw)),
            "arm": raw[treatment].astype("string"),
            "outcome": pd.to_numeric(raw[outcome], errors="coerce"),
        }
    )
    frame = pd.concat([frame, raw.loc[:, list(features)]], axis=1)
    kind = check_experiment(
        frame, features=features, control=control, outcome=outcome, where=str(path)
    )
    return UpliftData(
        frame=frame,
        features=features,
        categorical=_categorical(frame, features),
        control=control,
        variants=tuple(sorted(set(frame["arm"]) - {control})),
        outcome=outcome,
        kind=kind,
        source={"table": str(path.resolve()), "rows": len(raw), "treatment": treatment},
        ignored=tuple(exclude),
    )


def campaign_data(
    tables: dict[str, ibis.Table],
    campaign_id: str,
    *,
    outcome: str = "conversion",
    control: str = "control",
    window_days: int = OUTCOME_WINDOW_DAYS,
    feature_set: FeatureSet = CUSTOMER_V1,
) -> UpliftData:
    """Features as of each customer's assignment and the outcome in the window after it.

    The campaign is read by :func:`upseg.features.campaigns.campaign_frame`, the
    loader experiment analysis shares; its refusals come back as
    :class:`ExperimentError`.

    Parameters
    ----------
    tables : dict of str to ibis.Table
        Validated tables, with ``campaign_assignments``.
    campaign_id : str
        The campaign to learn from.
    outcome : {"conversion", "revenue"}
        Completed order in the window (0/1), or revenue in it.
    control : str, default "control"
        Variant value of customers who were not e-mailed.
    window_days : int, default 14
        Outcome window after ``assigned_at``.
    feature_set : FeatureSet, default CUSTOMER_V1
        The features built as of ``assigned_at``.
    """
    if outcome not in ("conversion", "revenue"):
        raise ExperimentError(f"--outcome must be conversion or revenue; got {outcome!r}.")
    try:
        campaign = campaign_frame(
            tables,
            campaign_id,
            window_days=window_days,
            feature_set=feature_set,
            outcomes=(outcome,),
        )
    except CampaignError as exc:
        raise ExperimentError(str(exc)) from exc
    rows, columns = campaign.frame, campaign.features
    frame = pd.concat(
        [
            pd.DataFrame({"id": rows["customer_id"], "arm": rows["arm"], "outcome": rows[outcome]}),
            rows.loc[:, list(columns)],
        ],
        axis=1,
    )
    kind = check_experiment(
        frame,
        features=columns,
        control=control,
        outcome=outcome,
        where=f"campaign {campaign_id!r}",
    )
    return UpliftData(
        frame=frame,
        features=columns,
        categorical=tuple(c for c in feature_set.categorical if c in columns),
        control=control,
        variants=tuple(sorted(set(frame["arm"]) - {control})),
        outcome=outcome,
        kind=kind,
        source=campaign.source,
    )
