"""Segments of an experiment: their labels, and every row of one segment."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from upseg.experiments import stats
from upseg.experiments.analysis.lift import _power_row, _row, comparison_rows
from upseg.experiments.analysis.settings import (
    MAX_NUMERIC_LEVELS,
    MISSING_SEGMENT,
    AnalysisSettings,
    _revenue_outcome,
)
from upseg.experiments.data import Experiment

__all__ = ["segment_labels"]


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
    """``overall`` (everyone in one segment), then each ``by`` column's labels and note."""
    yield "overall", pd.Series("all", index=frame.index, dtype="string"), None
    for column in by:
        labels, note = segment_labels(frame[column])
        yield column, labels, note


def _outcome_values(sub: pd.DataFrame, metric: str, arm: str) -> np.ndarray:
    """The non-missing values of ``metric`` for ``arm``'s customers in ``sub``."""
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
