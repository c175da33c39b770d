"""The measured average effect of each variant of a randomized campaign, with its interval.

``upseg train uplift`` logs it with every run, promoted or held
(:func:`average_effect_metrics`); ``upseg score`` falls back on it when no uplift
model is trusted (:mod:`upseg.serving.uplift_source`). No model is involved: in a
randomized campaign the difference in mean outcome between a variant's customers
and the control's is an unbiased estimate of the variant's average effect, so
every customer of the campaign counts, not only the held-out ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

__all__ = ["AVERAGE_EFFECT_KEYS", "average_effect_metrics", "average_effects", "logged_effects"]

#: Columns of :func:`average_effects`; each is logged as ``ate_<variant>_<key>``
#: (``effect`` as ``ate_<variant>``).
AVERAGE_EFFECT_KEYS = ("effect", "ci_low", "ci_high", "n_treatment", "n_control")


def average_effects(
    outcome: ArrayLike,
    arm: ArrayLike,
    *,
    control: str,
    variants: Sequence[str],
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Each variant's average effect against control: difference in means with Welch's interval.

    Parameters
    ----------
    outcome : array-like of shape (n_samples,)
        0/1 conversion or a continuous amount.
    arm : array-like of shape (n_samples,)
        The arm each customer was randomized to.
    control : str
        The control arm (no e-mail).
    variants : sequence of str
        The treated arms, in the order of the rows.
    confidence : float, default=0.95
        Coverage of the interval.

    Returns
    -------
    pandas.DataFrame
        Indexed by variant, with :data:`AVERAGE_EFFECT_KEYS` as columns: the mean
        outcome of the variant's customers minus the control's, the bounds of
        Welch's t interval (unequal variances), and the two group sizes. The
        bounds are NaN when a group has fewer than two customers or neither
        group varies.

    Raises
    ------
    ValueError
        When ``outcome`` and ``arm`` differ in length or ``outcome`` has missing values.
    """
    y = np.asarray(outcome, dtype=float)
    arms = np.asarray(arm, dtype=object)
    if y.shape != arms.shape or y.ndim != 1:
        raise ValueError(
            f"average_effects: 'outcome' and 'arm' must be 1-D of one length; got shapes "
            f"{y.shape} and {arms.shape}"
        )
    if np.isnan(y).any():
        raise ValueError(
            f"average_effects: 'outcome' must have no missing values; got {int(np.isnan(y).sum())}"
        )
    base = y[arms == control]
    rows = []
    for variant in variants:
        treated = y[arms == variant]
        effect = float(treated.mean() - base.mean()) if len(treated) and len(base) else np.nan
        low = high = np.nan
        if min(len(treated), len(base)) >= 2 and (treated.var() > 0 or base.var() > 0):
            test = stats.ttest_ind(treated, base, equal_var=False)
            interval = test.confidence_interval(confidence_level=confidence)
            low, high = float(interval.low), float(interval.high)
        rows.append((effect, low, high, float(len(treated)), float(len(base))))
    return pd.DataFrame(
        rows, index=pd.Index(list(variants), name="variant"), columns=list(AVERAGE_EFFECT_KEYS)
    )


def average_effect_metrics(
    frame: pd.DataFrame, *, control: str, variants: Sequence[str]
) -> dict[str, float]:
    """:func:`average_effects` of an experiment's ``outcome`` by ``arm``, as MLflow metrics.

    ``ate_<variant>`` is the effect, ``ate_<variant>_<key>`` the other columns.
    """
    effects = average_effects(frame["outcome"], frame["arm"], control=control, variants=variants)
    return {
        (f"ate_{v}" if key == "effect" else f"ate_{v}_{key}"): float(value)
        for v, row in effects.iterrows()
        for key, value in row.items()
    }


def logged_effects(metrics: Mapping[str, float], variants: Sequence[str]) -> pd.DataFrame | None:
    """The :func:`average_effects` table back from a run's metrics; None if the run has none.

    Runs logged before the average effects were (or with a variant missing) give None.
    """
    rows = {}
    for v in variants:
        names = [f"ate_{v}" if key == "effect" else f"ate_{v}_{key}" for key in AVERAGE_EFFECT_KEYS]
        if not all(name in metrics for name in names):
            return None
        rows[v] = [float(metrics[name]) for name in names]
    if not rows:
        return None
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=list(AVERAGE_EFFECT_KEYS))
    return frame.rename_axis("variant")
