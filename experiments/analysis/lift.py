"""Rows of the lift table: an arm against control, its power, the SRM test, adjusted p-values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from upseg.experiments import stats
from upseg.experiments.analysis.settings import MDE_POWER, RESULT_COLUMNS, AnalysisSettings

__all__ = ["adjusted", "comparison_rows", "results_frame"]


def _row(key: dict, n_arm: int, n_control: int, lift: stats.Lift, method: str) -> dict:
    """One row of :data:`RESULT_COLUMNS` from a lift; its p-value is adjusted later."""
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
    """The minimum detectable effect of one arm against control, at :data:`MDE_POWER`."""
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
    """The sample-ratio test of the arm counts, or why it was not run."""
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
