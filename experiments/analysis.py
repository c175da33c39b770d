"""The causal lift of every arm, overall and per segment, as one tidy table.

:func:`analyze` turns an :class:`~experiments.data.Experiment` into the
results payload that ``results.json`` holds and the report renders:

- ``results``: one row per metric × segmentation × segment × arm × method
  (:data:`RESULT_COLUMNS`). Binary outcomes get a z-test row; continuous ones a
  Welch row and a bootstrap row; outcomes with a pre-period covariate also a
  CUPED row. P-values are adjusted within each family of one metric, method and
  segmentation (its segments × arms), by Benjamini–Hochberg unless Holm or none
  is asked for.
- ``srm``: the sample-ratio test of the arm counts, overall and per segment.
- ``skipped``: comparisons with too few customers, with the reason: shown, not dropped.
- ``power``, ``cuped``, ``roi``: the minimum detectable effect, the variance
  CUPED removed, and the return on the e-mails' cost.
- ``targeting``: when an audience file is attached (:mod:`experiments.targeting`).

Customers are never lost: ``counts`` reconciles customers = per arm + without
an arm, and missing outcome values are counted per metric and arm.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from upseg.errors import UpsegError
from upseg.experiments import stats
from upseg.experiments.data import Experiment

__all__ = [
    "MISSING_SEGMENT",
    "RESULT_COLUMNS",
    "AnalysisError",
    "AnalysisSettings",
    "adjusted",
    "analyze",
    "comparison_rows",
    "results_frame",
    "segment_labels",
]

#: Columns of the tidy results table, in order.
RESULT_COLUMNS = (
    "metric",
    "segment_by",
    "segment",
    "arm",
    "control",
    "n_arm",
    "n_control",
    "mean_arm",
    "mean_control",
    "abs_lift",
    "abs_lift_ci_low",
    "abs_lift_ci_high",
    "rel_lift",
    "rel_lift_ci_low",
    "rel_lift_ci_high",
    "p_value",
    "p_value_adjusted",
    "method",
)

#: Segment of customers whose segment column is empty.
MISSING_SEGMENT = "(missing)"
#: Numeric segment columns with more distinct values than this are cut into quintiles.
MAX_NUMERIC_LEVELS = 12
#: Power at which the minimum detectable effect is reported.
MDE_POWER = 0.8


class AnalysisError(UpsegError, ValueError):
    """The analysis cannot run with the options given."""


@dataclass(frozen=True)
class AnalysisSettings:
    """How to analyse an experiment.

    Attributes
    ----------
    by : tuple of str
        Segment columns; each gives its own family of tests.
    alpha : float
        Two-sided level: intervals are ``1 - alpha``.
    correction : {"bh", "holm", "none"}
    planned_split : dict of str to float, optional
        Planned share of each arm; equal when omitted.
    min_segment_size : int
        Fewest customers per arm (with the outcome) for a test.
    cost_per_send : float
        Cost of one e-mail, for the ROI.
    revenue_outcome : str, optional
        The outcome that is money, for the ROI; the first continuous outcome
        when omitted.
    bootstrap_resamples, seed : int
        The bootstrap interval of continuous outcomes.
    targeting_outcome : str, optional
        Outcome on which the audience's scores are judged; ``conversion`` if
        present, else the first binary outcome.
    """

    by: tuple[str, ...] = ()
    alpha: float = 0.05
    correction: str = "bh"
    planned_split: dict[str, float] | None = None
    min_segment_size: int = 100
    cost_per_send: float = 0.0
    revenue_outcome: str | None = None
    bootstrap_resamples: int = 2000
    seed: int = 0
    targeting_outcome: str | None = None


def _check_settings(experiment: Experiment, settings: AnalysisSettings) -> None:
    problems = []
    if not 0 < settings.alpha < 0.5:
        problems.append(f"--alpha must be in (0, 0.5); got {settings.alpha}")
    if settings.correction not in stats.CORRECTIONS:
        problems.append(
            f"--correction must be one of {list(stats.CORRECTIONS)}; got {settings.correction!r}"
        )
    if settings.min_segment_size < 2:
        problems.append(f"--min-segment-size must be at least 2; got {settings.min_segment_size}")
    if settings.cost_per_send < 0:
        problems.append(f"--cost-per-send must be >= 0; got {settings.cost_per_send}")
    absent = [c for c in settings.by if c not in experiment.frame.columns]
    if absent:
        problems.append(
            f"--by names column(s) {absent} that the experiment does not have; it has "
            f"{sorted(c for c in experiment.frame.columns if c not in experiment.outcomes)}"
        )
    reserved = [c for c in settings.by if c in ("arm", *experiment.outcomes)]
    if reserved:
        problems.append(f"--by cannot use the arm or an outcome: {reserved}")
    if settings.planned_split is not None:
        arms = set(experiment.arms)
        planned = set(settings.planned_split)
        if planned - arms:
            problems.append(
                f"--split names arm(s) {sorted(planned - arms)} with no customers; the arms with "
                f"customers are {list(experiment.arms)}"
            )
        if arms - planned:
            problems.append(f"--split gives no share for arm(s) {sorted(arms - planned)}")
    for name, option in (
        (settings.revenue_outcome, "--revenue"),
        (settings.targeting_outcome, "--targeting-outcome"),
    ):
        if name is not None and name not in experiment.outcomes:
            problems.append(
                f"{option} {name!r} is not among the outcomes {list(experiment.outcomes)}"
            )
    if problems:
        raise AnalysisError(f"{len(problems)} problem(s): " + "; ".join(problems) + ".")


def segment_labels(values: pd.Series) -> tuple[pd.Series, str | None]:
    """Segment labels of a column: its values as text; numeric ones with many levels in quintiles.

    Returns
    -------
    labels : pandas.Series of str
        :data:`MISSING_SEGMENT` where the value is missing.
    note : str or None
        How a numeric column was bucketed, for the report.
    """
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and values.nunique(dropna=True) > MAX_NUMERIC_LEVELS:
        cut = pd.qcut(values.astype("float64"), q=5, duplicates="drop", precision=6)
        labels = cut.map(lambda i: f"[{i.left:.4g}, {i.right:.4g}]").astype("string")
        note = f"{values.name}: numeric with {values.nunique()} values, cut into quintiles"
        return labels.fillna(MISSING_SEGMENT), note
    return values.astype("string").fillna(MISSING_SEGMENT), None


def _segmentations(
    frame: pd.DataFrame, by: Sequence[str]
) -> Iterator[tuple[str, pd.Series, str | None]]:
    yield "overall", pd.Series("all", index=frame.index, dtype="string"), None
    for column in by:
        labels, note = segment_labels(frame[column])
        yield column, labels, note


def _nan_row(metric: str, segment_by: str, segment: str, arm: str, control: str) -> dict:
    row = dict.fromkeys(RESULT_COLUMNS, np.nan)
    row.update(metric=metric, segment_by=segment_by, segment=segment, arm=arm, control=control)
    return row


def _row(key: dict, n_arm: int, n_control: int, lift: stats.Lift, method: str) -> dict:
    row = {**key, "n_arm": n_arm, "n_control": n_control, **lift.as_dict()}
    row["method"] = method
    row["p_value_adjusted"] = np.nan
    return row


def comparison_rows(
    metric: str,
    kind: str,
    key: dict,
    y_arm: np.ndarray,
    y_control: np.ndarray,
    settings: AnalysisSettings,
) -> list[dict]:
    """The test rows of one arm against control: z-test, or Welch and bootstrap.

    ``key`` holds ``metric``, ``segment_by``, ``segment``, ``arm`` and ``control``.
    """
    n1, n0 = len(y_arm), len(y_control)
    if kind == "binary":
        lift = stats.proportion_lift(
            int(y_arm.sum()), n1, int(y_control.sum()), n0, alpha=settings.alpha
        )
        return [_row(key, n1, n0, lift, "z_test")]
    welch = stats.mean_lift(y_arm, y_control, alpha=settings.alpha)
    low, high = stats.bootstrap_diff_ci(
        y_arm,
        y_control,
        alpha=settings.alpha,
        n_resamples=settings.bootstrap_resamples,
        seed=settings.seed,
    )
    boot = _row(key, n1, n0, welch, "bootstrap")
    boot.update(
        abs_lift_ci_low=low,
        abs_lift_ci_high=high,
        rel_lift_ci_low=np.nan,
        rel_lift_ci_high=np.nan,
        p_value=np.nan,
    )
    return [_row(key, n1, n0, welch, "welch"), boot]


def _power_row(
    metric: str, kind: str, key: dict, y_arm: np.ndarray, y_control: np.ndarray, alpha: float
) -> dict:
    n1, n0 = len(y_arm), len(y_control)
    baseline = float(y_control.mean()) if n0 else np.nan
    if n1 < 2 or n0 < 2:
        mde = np.nan
    elif kind == "binary":
        mde = stats.mde_proportion(baseline, n0, n1, alpha=alpha, power=MDE_POWER)
    else:
        mde = stats.mde_means(
            float(y_control.std(ddof=1)),
            float(y_arm.std(ddof=1)),
            n0,
            n1,
            alpha=alpha,
            power=MDE_POWER,
        )
    rel = mde / baseline if baseline and np.isfinite(baseline) else np.nan
    return {
        **{k: key[k] for k in ("metric", "segment_by", "segment", "arm")},
        "n_arm": n1,
        "n_control": n0,
        "baseline": baseline,
        "mde_abs": mde,
        "mde_rel": rel,
    }


def _srm(counts: dict[str, int], planned: dict[str, float] | None) -> dict:
    total = sum(counts.values())
    shares = planned or dict.fromkeys(counts, 1.0)
    share_sum = sum(shares.values())
    expected = {arm: total * shares[arm] / share_sum for arm in counts}
    if min(expected.values()) < 5:
        # the chi-square approximation needs about five expected customers per arm
        return {
            "p_value": np.nan,
            "flagged": False,
            "observed": counts,
            "expected": expected,
            "note": "too few customers for the test",
        }
    result = stats.srm_test(counts, planned)
    return {**result.as_dict(), "note": None}


def _outcome_values(sub: pd.DataFrame, metric: str, arm: str) -> np.ndarray:
    values = sub.loc[sub["arm"] == arm, metric]
    return values.dropna().to_numpy(dtype="float64")


def _cuped_values(
    sub: pd.DataFrame, metric: str, covariate: str
) -> tuple[pd.DataFrame, stats.Cuped] | None:
    """The segment's customers with both values, and CUPED fitted over all their arms."""
    both = sub.loc[sub[metric].notna() & sub[covariate].notna(), ["arm", metric, covariate]]
    if len(both) < 3:
        return None
    fitted = stats.cuped(both[metric].to_numpy("float64"), both[covariate].to_numpy("float64"))
    return both.assign(_adjusted=fitted.adjusted), fitted


def _segment_rows(
    experiment: Experiment,
    sub: pd.DataFrame,
    segment_by: str,
    segment: str,
    settings: AnalysisSettings,
    out: dict[str, list],
) -> None:
    """Append every row of one segment to ``out``'s lists."""
    control = experiment.control
    for metric in experiment.outcomes:
        kind = experiment.kinds[metric]
        covariate = experiment.covariates.get(metric)
        cuped = _cuped_values(sub, metric, covariate) if covariate else None
        if cuped is not None:
            out["cuped"].append(
                {
                    "metric": metric,
                    "covariate": covariate,
                    "segment_by": segment_by,
                    "segment": segment,
                    "theta": cuped[1].theta,
                    "variance_reduction": cuped[1].variance_reduction,
                }
            )
        y_control = _outcome_values(sub, metric, control)
        for arm in experiment.treated:
            key = {
                "metric": metric,
                "segment_by": segment_by,
                "segment": segment,
                "arm": arm,
                "control": control,
            }
            y_arm = _outcome_values(sub, metric, arm)
            out["power"].append(_power_row(metric, kind, key, y_arm, y_control, settings.alpha))
            if min(len(y_arm), len(y_control)) < settings.min_segment_size:
                out["skipped"].append(
                    {
                        **key,
                        "n_arm": len(y_arm),
                        "n_control": len(y_control),
                        "reason": (
                            f"too few customers for a test ({min(len(y_arm), len(y_control))} < "
                            f"{settings.min_segment_size} per arm)"
                        ),
                    }
                )
                continue
            rows = comparison_rows(metric, kind, key, y_arm, y_control, settings)
            out["results"].extend(rows)
            if cuped is not None:
                adjusted = cuped[0]
                a = adjusted.loc[adjusted["arm"] == arm, "_adjusted"].to_numpy()
                c = adjusted.loc[adjusted["arm"] == control, "_adjusted"].to_numpy()
                if min(len(a), len(c)) >= settings.min_segment_size:
                    lift = stats.mean_lift(a, c, alpha=settings.alpha)
                    out["results"].append(_row(key, len(a), len(c), lift, "cuped_welch"))
            if metric == _revenue_outcome(experiment, settings):
                incremental = rows[0]["abs_lift"] * len(y_arm)
                cost = settings.cost_per_send * len(y_arm)
                out["roi"].append(
                    {
                        "segment_by": segment_by,
                        "segment": segment,
                        "arm": arm,
                        "n_arm": len(y_arm),
                        "incremental_revenue": incremental,
                        "cost": cost,
                        "roi_pct": stats.roi(incremental, cost),
                    }
                )


def _revenue_outcome(experiment: Experiment, settings: AnalysisSettings) -> str | None:
    if settings.revenue_outcome is not None:
        return settings.revenue_outcome
    continuous = [o for o in experiment.outcomes if experiment.kinds[o] == "continuous"]
    preferred = [o for o in continuous if o in ("revenue", "spend")]
    return (preferred or continuous or [None])[0]


def adjusted(rows: pd.DataFrame, correction: str) -> pd.Series:
    """Adjusted p-values within each family of one metric, method and segmentation."""
    out = pd.Series(np.nan, index=rows.index, dtype="float64")
    if rows.empty:
        return out
    for _, family in rows.groupby(["metric", "method", "segment_by"], sort=False):
        out[family.index] = stats.adjust_p_values(family["p_value"].to_numpy("float64"), correction)
    return out


def results_frame(rows: list[dict], correction: str) -> pd.DataFrame:
    """The tidy table of :data:`RESULT_COLUMNS`, p-values adjusted."""
    frame = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    frame["p_value_adjusted"] = adjusted(frame, correction)
    return frame


def _counts(experiment: Experiment) -> dict:
    frame = experiment.frame
    per_arm = {arm: int((frame["arm"] == arm).sum()) for arm in experiment.arms}
    without = int(frame["arm"].isna().sum())
    missing = [
        {
            "metric": metric,
            "arm": arm,
            "n_missing": int(frame.loc[frame["arm"] == arm, metric].isna().sum()),
        }
        for metric in experiment.outcomes
        for arm in experiment.arms
    ]
    counts = {
        "customers": len(frame),
        "per_arm": per_arm,
        "without_arm": without,
        "missing_outcomes": missing,
    }
    if counts["customers"] != sum(per_arm.values()) + without:
        raise AnalysisError(
            f"customers do not reconcile: {counts['customers']} customers, "
            f"{sum(per_arm.values())} in arms and {without} without one."
        )
    return counts


def analyze(experiment: Experiment, settings: AnalysisSettings | None = None) -> dict:
    """Lift, intervals, p-values, SRM, power, CUPED and ROI of every arm in every segment.

    Parameters
    ----------
    experiment : Experiment
    settings : AnalysisSettings, optional

    Returns
    -------
    dict
        ``parameters``, ``counts``, ``srm``, ``results`` (list of row dicts,
        :data:`RESULT_COLUMNS`), ``skipped``, ``power``, ``cuped``, ``roi``,
        ``notes`` and ``targeting`` (``None`` here; see
        :func:`experiments.targeting.targeting`).

    Raises
    ------
    AnalysisError
        An option does not fit the experiment; the message lists every problem.
    """
    settings = settings or AnalysisSettings()
    _check_settings(experiment, settings)
    frame = experiment.frame.loc[experiment.frame["arm"].notna()]
    out: dict[str, list] = {k: [] for k in ("results", "skipped", "power", "cuped", "roi", "srm")}
    notes = []
    for segment_by, labels, note in _segmentations(frame, settings.by):
        if note:
            notes.append(note)
        for segment, sub in frame.groupby(labels, sort=True, observed=True):
            counts = {arm: int((sub["arm"] == arm).sum()) for arm in experiment.arms}
            out["srm"].append(
                {
                    "segment_by": segment_by,
                    "segment": str(segment),
                    **_srm(counts, settings.planned_split),
                }
            )
            _segment_rows(experiment, sub, segment_by, str(segment), settings, out)
    results = results_frame(out.pop("results"), settings.correction)
    return {
        "parameters": {
            "source": experiment.source,
            "control": experiment.control,
            "arms": list(experiment.arms),
            "outcomes": list(experiment.outcomes),
            "outcome_kinds": dict(experiment.kinds),
            "by": list(settings.by),
            "alpha": settings.alpha,
            "correction": settings.correction,
            "planned_split": settings.planned_split
            or dict.fromkeys(experiment.arms, 1 / len(experiment.arms)),
            "min_segment_size": settings.min_segment_size,
            "cost_per_send": settings.cost_per_send,
            "revenue_outcome": _revenue_outcome(experiment, settings),
            "bootstrap_resamples": settings.bootstrap_resamples,
            "seed": settings.seed,
            "cuped": dict(experiment.covariates),
            "mde_power": MDE_POWER,
        },
        "counts": _counts(experiment),
        "srm": out.pop("srm"),
        "results": results.to_dict(orient="records"),
        **out,
        "notes": notes,
        "targeting": None,
    }
