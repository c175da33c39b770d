"""The analysis of one experiment: every segmentation, reconciled counts and the payload."""

from __future__ import annotations

from upseg.experiments.analysis.lift import _srm, results_frame
from upseg.experiments.analysis.segments import _segment_rows, _segmentations
from upseg.experiments.analysis.settings import (
    MDE_POWER,
    AnalysisError,
    AnalysisSettings,
    _check_settings,
    _revenue_outcome,
)
from upseg.experiments.data import Experiment

__all__ = ["analyze"]


def _counts(experiment: Experiment) -> dict:
    """Customers per arm, without an arm and with missing outcomes; they must reconcile."""
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
