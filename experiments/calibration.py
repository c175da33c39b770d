"""Predicted vs realised uplift: were the audience's uplift predictions on the right scale?

A ranking can beat random (:mod:`experiments.targeting`) while its magnitudes
are several times too large, and budgets and profit rules multiply the
predicted uplift by money. With the scorer's audience attached to a randomised
campaign, :func:`predicted_vs_realised` sets each treated arm's predicted
uplift (``uplift_<arm>``, else ``uplift``) against what the campaign realised
on the same customers:

- **per decile** of predicted uplift (decile 1 the highest, both arms ranked
  together), the mean predicted uplift beside the realised lift (treated mean
  minus control mean of the outcome) and its interval — the z-test interval of
  :func:`experiments.stats.proportion_lift` for a conversion, Welch's of
  :func:`experiments.stats.mean_lift` for an amount;
- **the calibration slope**, the best linear predictor of Chernozhukov et al.
  (:func:`models.uplift.calibration.blp_test`, HC3 errors): the IPW
  pseudo-outcome ``y (t / p - (1 - t) / (1 - p))`` (``p`` the arm's observed
  share of the arm and control customers, the known propensity of a randomised
  split) regressed on the centred predictions. Slope 1: on scale; 1/3: the
  predictions spread three times too wide; 0: they carry no information on who
  is affected more;
- **totals**: predicted incremental conversions (the sum of the predicted
  uplift over the treated customers) against the realised ones (treated
  conversions minus the control rate times the treated customers) with the
  interval of the lift scaled the same way, and the same for value when the
  audience has ``expected_incremental_value`` and the experiment an outcome
  that is money.

References
----------
Chernozhukov, V., Demirer, M., Duflo, E. and Fernández-Val, I. (2018). Generic
machine learning inference on heterogeneous treatment effects in randomized
experiments. NBER Working Paper 24678.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from upseg.experiments import stats
from upseg.experiments.analysis import AnalysisSettings
from upseg.experiments.analysis.settings import _revenue_outcome
from upseg.experiments.data import Experiment
from upseg.models.uplift.calibration import blp_test, ipw_pseudo_outcome

__all__ = ["DECILES", "VALUE_COLUMN", "predicted_vs_realised", "score_column"]

#: Bins of predicted uplift; each holds a tenth of the scored customers.
DECILES = 10
#: The audience's predicted value of the e-mail per customer (``uplift`` × value per conversion).
VALUE_COLUMN = "expected_incremental_value"


def score_column(experiment: Experiment, arm: str) -> str:
    """The score of ``arm``: ``uplift_<arm>`` if the audience has it, else ``uplift``."""
    columns = (experiment.audience or {}).get("score_columns", ["uplift"])
    return f"uplift_{arm}" if f"uplift_{arm}" in columns else "uplift"


def _lift(y1: np.ndarray, y0: np.ndarray, kind: str, alpha: float) -> stats.Lift | None:
    """Treated against control: z-test for a conversion, Welch for an amount; None if too few."""
    if kind == "binary":
        if min(len(y1), len(y0)) < 1:
            return None
        return stats.proportion_lift(int(y1.sum()), len(y1), int(y0.sum()), len(y0), alpha=alpha)
    if min(len(y1), len(y0)) < 2:
        return None
    return stats.mean_lift(y1, y0, alpha=alpha)


def _deciles(y: np.ndarray, t: np.ndarray, s: np.ndarray, kind: str, alpha: float) -> list[dict]:
    """Per decile of ``s`` (1 = highest): counts, predicted mean and the realised lift."""
    order = np.argsort(-s, kind="stable")
    decile = np.empty(len(s), dtype=np.int64)
    decile[order] = np.arange(len(s)) * DECILES // len(s) + 1
    rows = []
    for d in range(1, DECILES + 1):
        inside = decile == d
        treated, control = inside & (t == 1), inside & (t == 0)
        lift = _lift(y[treated], y[control], kind, alpha)
        predicted = float(s[inside].mean()) if inside.any() else math.nan
        low, high = (lift.abs_lift_ci_low, lift.abs_lift_ci_high) if lift else (math.nan,) * 2
        rows.append(
            {
                "decile": d,
                "n_arm": int(treated.sum()),
                "n_control": int(control.sum()),
                "predicted_min": float(s[inside].min()) if inside.any() else math.nan,
                "predicted_max": float(s[inside].max()) if inside.any() else math.nan,
                "predicted": predicted,
                "realised": lift.abs_lift if lift else math.nan,
                "realised_ci_low": low,
                "realised_ci_high": high,
                "covers": bool(low <= predicted <= high) if lift else None,
            }
        )
    return rows


def _calibration(y: np.ndarray, t: np.ndarray, s: np.ndarray, alpha: float) -> dict:
    """The best linear predictor of the effect given ``s``, or why there is none."""
    if np.ptp(s) == 0:
        return {
            "reason": f"every customer has the same predicted uplift ({s[0]:g}): no slope to fit"
        }
    psi = ipw_pseudo_outcome(y, t, float(t.mean()))
    try:
        blp = blp_test(psi, s, alpha=alpha, n_bins=DECILES)
    except ValueError as exc:  # one customer alone would fix the slope
        return {"reason": str(exc)}
    return {
        "method": "ipw_blp_hc3",
        "n": blp.n,
        "ate": blp.ate,
        "ate_se": blp.ate_se,
        "ate_ci_low": blp.ate_ci[0],
        "ate_ci_high": blp.ate_ci[1],
        "slope": blp.slope,
        "slope_se": blp.slope_se,
        "slope_ci_low": blp.slope_ci[0],
        "slope_ci_high": blp.slope_ci[1],
        "heterogeneity_p": blp.heterogeneity_p,
        "intercept": blp.intercept,
        "calibration_r2": blp.calibration_r2,
        "predicted_mean": blp.predicted_mean,
    }


def _total(predicted: float, y1: np.ndarray, y0: np.ndarray, kind: str, alpha: float) -> dict:
    """Predicted against realised incremental outcome of the treated customers, with the ratio."""
    lift = _lift(y1, y0, kind, alpha)
    if lift is None:
        return {"reason": "too few customers with the outcome in one of the arms"}
    n = len(y1)
    realised, low, high = (
        n * v for v in (lift.abs_lift, lift.abs_lift_ci_low, lift.abs_lift_ci_high)
    )
    ratio = predicted / realised if realised > 0 else math.nan
    return {
        "n_arm": n,
        "n_control": len(y0),
        "predicted": predicted,
        "realised": realised,
        "realised_ci_low": low,
        "realised_ci_high": high,
        "ratio": ratio,
        # predicted / realised over the realised interval; unbounded when it reaches 0
        "ratio_ci_low": predicted / high if high > 0 else math.nan,
        "ratio_ci_high": predicted / low if low > 0 else math.nan,
        "on_scale": bool(low <= predicted <= high),
    }


def _value_total(
    arm_rows: pd.DataFrame, control_rows: pd.DataFrame, score: str, money: str | None, alpha: float
) -> dict:
    """Predicted ``expected_incremental_value`` against the realised lift of the money outcome."""
    if money is None:
        return {"reason": "the experiment has no outcome that is money"}
    if VALUE_COLUMN not in arm_rows:
        return {"reason": f"the audience has no {VALUE_COLUMN} column"}
    both = pd.concat([arm_rows, control_rows])
    same = "uplift" in both and np.allclose(both[score], both["uplift"], equal_nan=True)
    if score != "uplift" and not same:
        return {
            "reason": f"{VALUE_COLUMN} values the best variant's uplift, which is not "
            f"{score} for every customer"
        }
    treated = arm_rows.loc[arm_rows[money].notna() & arm_rows[VALUE_COLUMN].notna()]
    if treated.empty:
        return {"reason": f"no treated customer has both {VALUE_COLUMN} and {money}"}
    return {
        "outcome": money,
        **_total(
            float(treated[VALUE_COLUMN].sum()),
            treated[money].to_numpy("float64"),
            control_rows[money].dropna().to_numpy("float64"),
            "continuous",
            alpha,
        ),
    }


def _arm_entry(experiment: Experiment, settings: AnalysisSettings, arm: str, outcome: str) -> dict:
    """Deciles, calibration and totals of one treated arm against control, or why not."""
    control, frame = experiment.control, experiment.frame
    score = score_column(experiment, arm)
    entry: dict = {"arm": arm, "control": control, "score": score}
    if score not in frame:
        return {**entry, "reason": f"the audience has no {score} column"}
    pair = frame.loc[frame["arm"].isin([arm, control]) & frame[score].notna()]
    scored = pair.loc[pair[outcome].notna()]
    t = (scored["arm"] == arm).to_numpy(np.int64)
    n_arm, n_control = int(t.sum()), int(len(t) - t.sum())
    entry.update(n_arm=n_arm, n_control=n_control)
    if min(n_arm, n_control) < settings.min_segment_size:
        return {
            **entry,
            "reason": f"too few customers with a predicted {score} and {outcome} "
            f"({min(n_arm, n_control)} < {settings.min_segment_size} per arm)",
        }
    y, s = scored[outcome].to_numpy("float64"), scored[score].to_numpy("float64")
    kind = experiment.kinds[outcome]
    return {
        **entry,
        "propensity": float(t.mean()),
        "deciles": _deciles(y, t, s, kind, settings.alpha),
        "calibration": _calibration(y, t, s, settings.alpha),
        "conversions": _total(float(s[t == 1].sum()), y[t == 1], y[t == 0], kind, settings.alpha),
        "value": _value_total(
            pair.loc[pair["arm"] == arm],
            pair.loc[pair["arm"] == control],
            score,
            _revenue_outcome(experiment, settings),
            settings.alpha,
        ),
    }


def predicted_vs_realised(experiment: Experiment, settings: AnalysisSettings, outcome: str) -> dict:
    """The audience's predicted uplift against the campaign's realised lift, per treated arm.

    Parameters
    ----------
    experiment : Experiment
        A randomised campaign with an audience attached
        (:func:`experiments.data.with_audience`).
    settings : AnalysisSettings
        ``alpha`` (the intervals are ``1 - alpha``), ``min_segment_size``
        (fewest scored customers per arm) and ``revenue_outcome``.
    outcome : str
        The outcome the predicted uplift is a lift of (the targeting outcome,
        ``conversion`` by default).

    Returns
    -------
    dict
        ``outcome``, ``alpha`` and ``arms``: one entry per treated arm with
        ``arm``, ``control``, ``score``, and either ``reason`` (why it could not
        be judged) or ``n_arm``, ``n_control``, ``propensity``, ``deciles``,
        ``calibration``, ``conversions`` and ``value`` (each of the last three a
        ``reason`` when it cannot be computed). See ``docs/experiments.md`` for
        every field. ``reason`` at the top is set when no arm could be judged.
    """
    arms = [_arm_entry(experiment, settings, arm, outcome) for arm in experiment.treated]
    judged = [a for a in arms if "reason" not in a]
    return {
        "outcome": outcome,
        "alpha": settings.alpha,
        "arms": arms,
        "reason": None if judged else "; ".join(f"{a['arm']}: {a['reason']}" for a in arms),
    }
