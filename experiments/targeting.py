"""Did targeting by the uplift model beat random? Judged on the experiment's outcomes.

With the scorer's audience attached (:func:`experiments.data.with_audience`):

- **Qini and uplift curves** of the audience's uplift score against each
  treated arm, overall and per ``priority_segment``, with a bootstrap interval
  of the Qini coefficient: above zero, ranking by the score found more
  incremental customers than a random order would.
- **Send vs holdout**: within each priority segment, the realized lift of the
  treated customers the audience marked ``send`` against the control
  customers it marked ``holdout``. When the campaign was sent from the
  audience these are exactly the sent and held-out customers; when the arms
  were randomized independently of it, they are two random halves of the
  customers the model would target, so the comparison is still unbiased.
- **Predicted vs realised**: whether the predicted uplift is on the scale of
  the lift the campaign realised (:mod:`experiments.calibration`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from upseg.experiments.analysis import AnalysisSettings, comparison_rows, results_frame
from upseg.experiments.calibration import predicted_vs_realised, score_column
from upseg.experiments.data import NOT_IN_AUDIENCE, Experiment
from upseg.models.uplift.metrics import qini_auc, qini_auc_ci, qini_curve, uplift_curve

__all__ = ["CURVE_POINTS", "SEND_VS_HOLDOUT", "curve_points", "targeting"]

#: Points of each curve kept for the report (the curve is interpolated on a grid).
CURVE_POINTS = 101
#: ``segment_by`` of the send-vs-holdout rows in the results table.
SEND_VS_HOLDOUT = "send_vs_holdout"
#: Bootstrap resamples of the Qini coefficient's interval.
QINI_RESAMPLES = 200


def curve_points(n_targeted: np.ndarray, values: np.ndarray) -> dict[str, list[float]]:
    """A curve on a grid of :data:`CURVE_POINTS` fractions targeted, with its random line."""
    n = n_targeted[-1]
    grid = np.linspace(0.0, 1.0, CURVE_POINTS)
    model = np.interp(grid, n_targeted / n, values)
    return {
        "x": grid.round(4).tolist(),
        "model": model.tolist(),
        "random": (grid * values[-1]).tolist(),
    }


def _qini_entry(
    sub: pd.DataFrame,
    outcome: str,
    arm: str,
    control: str,
    score: str,
    segment_by: str,
    segment: str,
    min_size: int,
    seed: int,
) -> dict:
    """The Qini entry of one segment and arm, or its ``skipped`` entry when too small."""
    both = sub.loc[sub["arm"].isin([arm, control]) & sub[outcome].notna() & sub[score].notna()]
    t = (both["arm"] == arm).to_numpy(np.int8)
    if min(t.sum(), len(t) - t.sum()) < min_size:
        return _skipped(
            outcome,
            f"qini ({segment_by})",
            segment,
            arm,
            control,
            int(t.sum()),
            int(len(t) - t.sum()),
            min_size,
            "a Qini curve",
        )
    y, s = both[outcome].to_numpy("float64"), both[score].to_numpy("float64")
    x, qini = qini_curve(y, s, t)
    xu, upl = uplift_curve(y, s, t)
    interval = qini_auc_ci(y, s, t, n_boot=QINI_RESAMPLES, random_state=seed)
    return {
        "segment_by": segment_by,
        "segment": segment,
        "arm": arm,
        "score": score,
        "n": len(both),
        "qini_auc": float(qini_auc(y, s, t)),
        "qini_auc_ci_low": float(interval.low),
        "qini_auc_ci_high": float(interval.high),
        "curve": curve_points(x, qini),
        "uplift_curve": {k: v for k, v in curve_points(xu, upl).items() if k != "random"},
    }


def _skipped(
    metric: str,
    segment_by: str,
    segment: str,
    arm: str,
    control: str,
    n_arm: int,
    n_control: int,
    minimum: int,
    what: str,
) -> dict:
    """A comparison with too few customers, in the shape of the analysis's ``skipped``."""
    return {
        "metric": metric,
        "segment_by": segment_by,
        "segment": segment,
        "arm": arm,
        "control": control,
        "n_arm": n_arm,
        "n_control": n_control,
        "reason": f"too few customers for {what} ({min(n_arm, n_control)} < {minimum} per arm)",
    }


def _targeting_outcome(experiment: Experiment, settings: AnalysisSettings) -> str:
    if settings.targeting_outcome:
        return settings.targeting_outcome
    if "conversion" in experiment.outcomes:
        return "conversion"
    binary = [o for o in experiment.outcomes if experiment.kinds[o] == "binary"]
    return (binary or list(experiment.outcomes))[0]


def _send_vs_holdout(
    experiment: Experiment, settings: AnalysisSettings
) -> tuple[list[dict], list[dict]]:
    """Result rows of sent against held-out customers per priority segment, and the skipped."""
    frame = experiment.frame
    control = experiment.control
    rows, skipped = [], []
    labels = frame["priority_segment"].astype("string")
    scored = sorted(set(labels.dropna().unique()) - {NOT_IN_AUDIENCE})
    for segment in ["all", *scored]:
        in_segment = labels.notna() if segment == "all" else labels == segment
        held = frame.loc[in_segment & (frame["arm"] == control) & (frame["action"] == "holdout")]
        for arm in experiment.treated:
            sent = frame.loc[in_segment & (frame["arm"] == arm) & (frame["action"] == "send")]
            for metric in experiment.outcomes:
                y1 = sent[metric].dropna().to_numpy("float64")
                y0 = held[metric].dropna().to_numpy("float64")
                if min(len(y1), len(y0)) < settings.min_segment_size:
                    skipped.append(
                        _skipped(
                            metric,
                            SEND_VS_HOLDOUT,
                            segment,
                            arm,
                            control,
                            len(y1),
                            len(y0),
                            settings.min_segment_size,
                            "a test",
                        )
                    )
                    continue
                key = {
                    "metric": metric,
                    "segment_by": SEND_VS_HOLDOUT,
                    "segment": segment,
                    "arm": arm,
                    "control": control,
                }
                rows.extend(
                    comparison_rows(metric, experiment.kinds[metric], key, y1, y0, settings)
                )
    return rows, skipped


def targeting(experiment: Experiment, settings: AnalysisSettings) -> dict:
    """Qini of the audience's score and send-vs-holdout lift, per priority segment.

    Parameters
    ----------
    experiment : Experiment
        With an audience attached.
    settings : AnalysisSettings

    Returns
    -------
    dict
        ``score``, ``outcome``, ``audience`` (how the customers matched),
        ``qini`` (one entry per segment × arm with enough customers, each with
        its curves), ``send_vs_holdout`` (tidy result rows, p-values
        adjusted within their own family), ``skipped`` (what was too small
        to judge, with the reason) and ``predicted_vs_realised`` (the predicted
        uplift against the realised lift, :func:`experiments.calibration.predicted_vs_realised`).
    """
    if experiment.audience is None:
        raise ValueError("targeting needs an experiment with an audience; see with_audience.")
    outcome = _targeting_outcome(experiment, settings)
    frame = experiment.frame.loc[experiment.frame["arm"].notna()]
    entries: list[dict] = []
    skipped: list[dict] = []
    segments = [("overall", "all", frame)] + [
        ("priority_segment", str(name), sub)
        for name, sub in frame.groupby("priority_segment", sort=True, observed=True)
        if name != NOT_IN_AUDIENCE  # no score to rank them by
    ]
    for segment_by, segment, sub in segments:
        for arm in experiment.treated:
            entry = _qini_entry(
                sub,
                outcome,
                arm,
                experiment.control,
                score_column(experiment, arm),
                segment_by,
                segment,
                settings.min_segment_size,
                settings.seed,
            )
            (entries if "qini_auc" in entry else skipped).append(entry)
    rows, too_small = _send_vs_holdout(experiment, settings)
    return {
        "score": "uplift",
        "outcome": outcome,
        "audience": experiment.audience,
        "qini": entries,
        "send_vs_holdout": results_frame(rows, settings.correction).to_dict(orient="records"),
        "skipped": skipped + too_small,
        "predicted_vs_realised": predicted_vs_realised(experiment, settings, outcome),
    }
