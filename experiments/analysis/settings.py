"""The analysis' options, its columns and its error, checked against the experiment."""

from __future__ import annotations

from dataclasses import dataclass

from upseg.errors import UpsegError
from upseg.experiments import stats
from upseg.experiments.data import Experiment

__all__ = [
    "MAX_NUMERIC_LEVELS",
    "MDE_POWER",
    "MISSING_SEGMENT",
    "RESULT_COLUMNS",
    "AnalysisError",
    "AnalysisSettings",
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
    """Raise one :class:`AnalysisError` naming every option that does not fit ``experiment``."""
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


def _revenue_outcome(experiment: Experiment, settings: AnalysisSettings) -> str | None:
    """The outcome that is money: the setting, else revenue or spend, else the first continuous."""
    if settings.revenue_outcome is not None:
        return settings.revenue_outcome
    continuous = [o for o in experiment.outcomes if experiment.kinds[o] == "continuous"]
    preferred = [o for o in continuous if o in ("revenue", "spend")]
    if preferred:
        return preferred[0]
    return continuous[0] if continuous else None
