"""Several variants against one control: their metrics and the value of the best-variant policy."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from upseg.models.evaluation._checks import _as_float
from upseg.models.uplift.metrics._checks import _fail
from upseg.models.uplift.metrics.summary import uplift_metrics

__all__ = ["VariantMetrics", "best_variant_metrics"]


class VariantMetrics(NamedTuple):
    """What :func:`best_variant_metrics` returns: one row per variant and the policy summary."""

    per_variant: pd.DataFrame
    overall: dict[str, float]


def _variant_problems(
    arm: np.ndarray, scores: object, control: object, n: int
) -> tuple[pd.DataFrame | None, list[str]]:
    if not isinstance(scores, pd.DataFrame):
        return None, [
            "'uplift_by_variant' must be a pandas DataFrame with one column of predicted "
            f"uplift per variant; got {type(scores).__name__}"
        ]
    errors = []
    if scores.shape[1] == 0:
        errors.append("'uplift_by_variant' must have at least one column; got none")
    if len(scores) != n:
        errors.append(
            f"'uplift_by_variant' must have one row per customer ({n}); got {len(scores)}"
        )
    if control in scores.columns:
        errors.append(f"'uplift_by_variant' must not have a column for the control {control!r}")
    if pd.isna(arm).any():
        errors.append(f"'arm' must not contain missing values; got {int(pd.isna(arm).sum())}")
    present = set(pd.unique(arm).tolist())
    if control not in present:
        errors.append(
            f"'control' must be one of the arms in 'arm' {sorted(present, key=str)}; "
            f"got {control!r}"
        )
    absent = [v for v in scores.columns if v != control and v not in present]
    if absent:
        errors.append(
            f"every column of 'uplift_by_variant' must be an arm in 'arm'; {absent} never occur"
        )
    for name, column in scores.items():
        errors += _as_float(column.to_numpy(), f"uplift_by_variant[{name!r}]")[1]
    return scores, errors


def _recommended(scores: pd.DataFrame, control: object) -> np.ndarray:
    """The variant with the highest predicted uplift, or ``control`` if none is above 0."""
    predicted = scores.to_numpy(dtype=float)
    best = np.asarray(scores.columns, dtype=object)[predicted.argmax(axis=1)]
    return np.where(predicted.max(axis=1) > 0, best, np.asarray(control, dtype=object))


def _policy_values(
    y: np.ndarray, arms: np.ndarray, recommended: np.ndarray, control: object
) -> dict[str, float]:
    """Hajek inverse-propensity estimate of the policy's mean outcome, and single-arm values."""
    arm = pd.Series(arms)
    propensity = arm.map(arm.value_counts(normalize=True)).to_numpy(dtype=float)
    matched = arms == recommended
    weight = matched / propensity
    policy = float((weight * y).sum() / weight.sum()) if matched.any() else math.nan
    control_value = float(y[arms == control].mean())
    best_arm_value = float(pd.Series(y).groupby(arm).mean().max())
    return {
        "policy_value": policy,
        "control_value": control_value,
        "policy_gain": policy - control_value,
        "best_arm_value": best_arm_value,
        "policy_gain_over_best_arm": policy - best_arm_value,
        "share_control_recommended": float(np.mean(recommended == control)),
        "n_matched": float(matched.sum()),
        "n": float(len(y)),
    }


def best_variant_metrics(
    y_true: ArrayLike,
    arm: ArrayLike,
    uplift_by_variant: pd.DataFrame,
    control: object,
    *,
    n_boot: int = 200,
    random_state: int | np.random.Generator | None = 0,
) -> VariantMetrics:
    """Each variant's uplift metrics against control, and the value of sending the best one.

    Per variant ``v``: :func:`uplift_metrics` on the customers randomised to
    ``control`` or ``v``, scored with column ``v`` (treatment = arm is ``v``).

    Policy: the model recommends to each customer the variant with the highest
    predicted uplift, or the control (send nothing) if no variant's is above 0;
    ties go to the first column. In a randomised experiment its expected
    outcome is estimated from the customers whose assigned arm happens to be
    the recommended one, each weighted by one over the probability of that arm
    (its share of the customers, assuming constant assignment probabilities);
    the weights are normalised to sum to one (Hajek), so the estimate is a
    weighted mean outcome. Arms without a column never match.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Outcome: 0/1 conversion or a continuous amount.
    arm : array-like of shape (n_samples,)
        The arm each customer was randomised to (e.g. ``"control"``, ``"A"``, ``"B"``).
    uplift_by_variant : pandas.DataFrame of shape (n_samples, n_variants)
        Predicted uplift of each variant over control, one column per variant
        named as in ``arm``; rows in the order of ``y_true`` (the index is ignored).
    control : object
        The value of ``arm`` for the control group.
    n_boot : int, default=200
        Resamples of each :func:`qini_auc_ci`.
    random_state : int, numpy.random.Generator or None, default=0
        Seed of the bootstraps.

    Returns
    -------
    VariantMetrics
        ``per_variant``: a DataFrame indexed by variant with the keys of
        :func:`uplift_metrics` as columns and ``share_recommended`` (share of all
        customers the policy sends that variant). ``overall``: ``qini_auc_weighted``
        (mean of the variants' ``qini_auc`` weighted by their ``n``),
        ``policy_value`` (estimated mean outcome under the policy),
        ``control_value`` (mean outcome in the control arm), ``policy_gain``
        (``policy_value - control_value``), ``best_arm_value`` (highest mean
        outcome of any single arm; chosen on these data, so optimistic),
        ``policy_gain_over_best_arm``, ``share_control_recommended``,
        ``n_matched`` (customers whose arm is their recommendation) and ``n``.

    Raises
    ------
    ValueError
        Listing every problem with the arguments.

    References
    ----------
    .. [1] Zhao, Y., Fang, X. and Simchi-Levi, D. "Uplift modeling with multiple
       treatments and general response types", SIAM International Conference on
       Data Mining (2017), 588-596.
    """
    function = "best_variant_metrics"
    raw, arms = np.asarray(y_true), np.asarray(arm, dtype=object)
    errors = [
        f"'{name}' must be 1-D of shape (n_samples,); got shape {array.shape}"
        for name, array in (("y_true", raw), ("arm", arms))
        if array.ndim != 1
    ]
    if not errors and len(raw) != len(arms):
        errors.append(
            f"'y_true' and 'arm' must have the same length; got {len(raw)} and {len(arms)}"
        )
    y, problems = _as_float(raw, "y_true")
    errors += problems
    scores = None
    if arms.ndim == 1:
        scores, problems = _variant_problems(arms, uplift_by_variant, control, len(raw))
        errors += problems
    _fail(function, errors)
    # Both are None only together with a problem (a 2-D arm is one), and _fail raised them all.
    assert y is not None and scores is not None
    variants = list(scores.columns)
    rows = []
    for variant in variants:
        pair = (arms == control) | (arms == variant)
        rows.append(
            uplift_metrics(
                y[pair],
                scores[variant].to_numpy(dtype=float)[pair],
                (arms[pair] == variant).astype(float),
                n_boot=n_boot,
                random_state=random_state,
            )
        )
    per_variant = pd.DataFrame(rows, index=pd.Index(variants, name="variant"))

    recommended = _recommended(scores, control)
    per_variant["share_recommended"] = [float(np.mean(recommended == v)) for v in variants]
    overall = {
        "qini_auc_weighted": float(np.average(per_variant["qini_auc"], weights=per_variant["n"])),
        **_policy_values(y, arms, recommended, control),
    }
    return VariantMetrics(per_variant, overall)
