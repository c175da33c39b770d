"""Honest sizes and evidence for a trained uplift model, measured on its own training customers.

A model's raw uplift ranks customers but is rarely on the right scale: with
effects of a point or two, base learners spread their predictions several
times wider than the truth, and budgets and profit rules multiply that by
money. And a negative raw prediction is mostly noise, so holding a customer
back as a "sleeping dog" because of it withholds the e-mail from people it
would help.

:func:`fit_calibration` cross-fits the chosen approach on the training
customers (``n_folds`` folds stratified by arm and outcome): every training
customer gets an out-of-fold prediction and a doubly robust pseudo-outcome
(outcome models cross-fitted on the same folds). Per variant it then measures

- **the size**: :func:`~upseg.models.uplift.calibration.blp_test` of the
  pseudo-outcome on the out-of-fold prediction, and the slope it applies after
  empirical-Bayes shrinkage (default) or the heterogeneity test: the calibrated
  uplift is ``ate + slope * (s - predicted_mean)``, all but the average effect
  when the ranking shows no heterogeneity (the slope never goes below
  :data:`ORDER_SLOPE`, so the model's order is kept);
- **the evidence per group**: the realised effect (mean pseudo-outcome) of
  each tenth of customers ranked by the model, with a one-sided bound at level
  ``alpha / n_groups`` (Bonferroni over the groups). A group is *negative*
  when its upper bound is below 0, *positive* when its lower bound is above 0,
  else *uncertain*.

:class:`UpliftCalibration` maps a fitted model's raw predictions for any
customers to calibrated ones and to the evidence of the group each falls in
(by the model's own ranking: the cut points are the quantiles of the final
model's predictions on the training customers). A customer is a sleeping dog
only when the evidence of every variant is negative.

The held-out test customers of a training run are never used here, so the
run's held-out metrics stay an independent check.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from upseg.models.uplift.calibration import (
    BLPResult,
    Shrinkage,
    _used_slope,
    blp_test,
    decile_calibration,
)
from upseg.models.uplift.criteria import cross_fitted_outcomes
from upseg.models.uplift.cross_fitting import _default_nuisance, strata
from upseg.models.uplift.model import UpliftModel, encode_features
from upseg.models.uplift.pseudo_outcomes import dr_pseudo_outcome, ipw_pseudo_outcome

__all__ = [
    "EVIDENCE",
    "ORDER_SLOPE",
    "UpliftCalibration",
    "VariantCalibration",
    "fit_calibration",
    "group_evidence",
    "heldout_check",
]

#: The smallest slope applied: sizes stay within a thousandth of the raw spread of the
#: average effect, but the model's order survives. Whether that order is worth
#: following is the gate's question (held-out Qini), not the calibration's; where
#: the cross-fitted slope is not significant, a ranking the gate accepted still
#: beats ties (the family benchmark: 0.56 of the oracle against 0.49).
ORDER_SLOPE = 1e-3

#: Values of the ``evidence_of_uplift`` column, per customer.
EVIDENCE: tuple[str, ...] = ("positive", "uncertain", "negative")
Evidence = Literal["positive", "uncertain", "negative"]


@dataclass(frozen=True)
class VariantCalibration:
    """Size and group evidence of one variant's uplift against control.

    Attributes
    ----------
    variant : str
    blp : BLPResult
        Of the out-of-fold predictions on the training customers.
    slope : float
        The slope applied, after shrinkage, at least :data:`ORDER_SLOPE` so
        that the model's order survives (0 only for constant predictions).
    shrinkage : {"empirical_bayes", "test"}
    cuts : tuple of float
        ``n_groups - 1`` cut points, highest first: quantiles of the final
        model's predictions on the training customers. A prediction at or
        above ``cuts[0]`` is in group 1 (the top tenth).
    groups : pandas.DataFrame
        :func:`~upseg.models.uplift.calibration.decile_calibration` of the
        out-of-fold predictions (``bin`` 1 = top), plus ``low`` and ``high``:
        the one-sided bounds at ``alpha / n_groups``, and ``evidence``.
    alpha : float
    """

    variant: str
    blp: BLPResult
    slope: float
    shrinkage: str
    cuts: tuple[float, ...]
    groups: pd.DataFrame
    alpha: float

    def calibrate(self, predicted: np.ndarray) -> np.ndarray:
        """``ate + slope * (predicted - predicted_mean)``."""
        s = np.asarray(predicted, dtype=float)
        return self.blp.ate + self.slope * (s - self.blp.predicted_mean)

    def group_of(self, predicted: np.ndarray) -> np.ndarray:
        """Group of each prediction, 1 (top tenth by the model) to ``n_groups``."""
        s = np.asarray(predicted, dtype=float)
        cuts = np.asarray(self.cuts, dtype=float)
        return 1 + (s[:, None] < cuts[None, :]).sum(axis=1)

    def evidence(self, predicted: np.ndarray) -> np.ndarray:
        """``positive``, ``uncertain`` or ``negative``: the evidence of each one's group."""
        labels = self.groups["evidence"].to_numpy(dtype=object)
        return labels[self.group_of(predicted) - 1]

    @property
    def negative_groups(self) -> tuple[int, ...]:
        """Groups (1 = top) whose realised effect is credibly below zero."""
        return tuple(int(b) for b in self.groups.loc[self.groups["evidence"] == "negative", "bin"])


@dataclass(frozen=True)
class UpliftCalibration:
    """Per variant, how to size the model's uplift and how sure each group's sign is.

    Attributes
    ----------
    variants : dict of str to VariantCalibration
    n_folds : int
        Folds of the cross-fitting.
    n_customers : int
        Training customers it was measured on.
    """

    variants: dict[str, VariantCalibration]
    n_folds: int
    n_customers: int

    def apply(self, raw: pd.DataFrame) -> pd.DataFrame:
        """Calibrated ``uplift_<variant>``, ``uplift``, ``best_variant``, with raw and evidence.

        Parameters
        ----------
        raw : pandas.DataFrame
            :meth:`UpliftModel.predict_frame` with ``raw=True``.

        Returns
        -------
        pandas.DataFrame
            On ``raw``'s index: ``uplift_<variant>`` (calibrated), ``uplift``
            (the best variant's) and ``best_variant``, then ``raw_uplift`` (the
            best variant's raw prediction) and ``evidence_of_uplift``:
            ``negative`` when every variant's group is credibly below zero (a
            sleeping dog), ``positive`` when the best variant's group is
            credibly above zero, else ``uncertain``.
        """
        names = list(self.variants)
        calibrated = np.column_stack(
            [self.variants[v].calibrate(raw[f"uplift_{v}"].to_numpy()) for v in names]
        )
        evidence = np.column_stack(
            [self.variants[v].evidence(raw[f"uplift_{v}"].to_numpy()) for v in names]
        )
        best = np.argmax(calibrated, axis=1)
        rows = np.arange(len(raw))
        raw_values = np.column_stack([raw[f"uplift_{v}"].to_numpy(dtype=float) for v in names])
        label = np.where(evidence[rows, best] == "positive", "positive", "uncertain")
        label = np.where((evidence == "negative").all(axis=1), "negative", label)
        frame = pd.DataFrame(
            {f"uplift_{v}": calibrated[:, i] for i, v in enumerate(names)}, index=raw.index
        )
        frame["uplift"] = calibrated[rows, best]
        frame["best_variant"] = np.asarray(names, dtype=object)[best]
        frame["raw_uplift"] = raw_values[rows, best]
        frame["evidence_of_uplift"] = label.astype(object)
        return frame

    def summary(self) -> pd.DataFrame:
        """One row per variant: the BLP, the slope applied, and the groups by evidence."""
        rows = []
        for v, c in self.variants.items():
            counts = c.groups["evidence"].value_counts()
            rows.append(
                {
                    "variant": v,
                    "ate": c.blp.ate,
                    "ate_se": c.blp.ate_se,
                    "blp_slope": c.blp.slope,
                    "blp_slope_se": c.blp.slope_se,
                    "blp_intercept": c.blp.intercept,
                    "heterogeneity_p": c.blp.heterogeneity_p,
                    "calibration_r2": c.blp.calibration_r2,
                    "slope_applied": c.slope,
                    **{f"groups_{e}": int(counts.get(e, 0)) for e in EVIDENCE},
                }
            )
        return pd.DataFrame(rows).set_index("variant")


def group_evidence(psi: np.ndarray, oof: np.ndarray, n_groups: int, alpha: float) -> pd.DataFrame:
    """The realised effect of each group of customers by predicted uplift, and its evidence.

    Parameters
    ----------
    psi : numpy.ndarray
        Pseudo-outcomes of customers the predictions were not fitted on.
    oof : numpy.ndarray
        Their predicted uplift.
    n_groups : int
        Groups of equal size, highest predictions first.
    alpha : float
        Family-wise level over the groups: each group's one-sided bounds are
        at ``alpha / n_groups``.

    Returns
    -------
    pandas.DataFrame
        :func:`~upseg.models.uplift.calibration.decile_calibration` with
        ``low``, ``high`` and ``evidence`` (``negative`` when ``high < 0``,
        ``positive`` when ``low > 0``, else ``uncertain``).
    """
    table = decile_calibration(psi, oof, n_bins=n_groups, alpha=alpha)
    z = float(norm.ppf(1 - alpha / n_groups))  # one-sided, Bonferroni over the groups
    se = table["realised_se"].fillna(math.inf)
    table["low"] = table["realised_mean"] - z * se
    table["high"] = table["realised_mean"] + z * se
    table["evidence"] = np.select(
        [table["high"] < 0, table["low"] > 0], ["negative", "positive"], default="uncertain"
    ).astype(object)
    return table


def _constant_blp(psi: np.ndarray, s: np.ndarray, alpha: float) -> BLPResult:
    """The BLP of predictions that do not vary: the average effect, no slope."""
    ate, se = float(psi.mean()), float(psi.std(ddof=1) / math.sqrt(len(psi)))
    z = float(norm.ppf(1 - alpha / 2))
    return BLPResult(
        ate=ate,
        ate_se=se,
        ate_ci=(ate - z * se, ate + z * se),
        slope=0.0,
        slope_se=math.nan,
        slope_ci=(math.nan, math.nan),
        heterogeneity_p=1.0,
        intercept=ate,
        calibration_r2=math.nan,
        n=len(psi),
        predicted_mean=float(s.mean()),
        alpha=alpha,
    )


def fit_calibration(
    frame: pd.DataFrame,
    model: UpliftModel,
    *,
    features: Sequence[str],
    n_folds: int = 3,
    n_groups: int = 10,
    shrinkage: Shrinkage = "empirical_bayes",
    alpha: float = 0.05,
    random_state: int = 0,
    nuisance: Any = None,
    on_fit: Callable[[int], None] = lambda fold: None,
) -> UpliftCalibration:
    """Cross-fit ``model``'s settings on ``frame`` and measure sizes and group evidence.

    Parameters
    ----------
    frame : pandas.DataFrame
        The training customers ``model`` was fitted on: ``arm``, ``outcome`` and
        ``features``.
    model : UpliftModel
        Fitted on ``frame``; its parameters are refitted on each fold's other
        customers (:func:`sklearn.base.clone`), and its own predictions on
        ``frame`` set the group cut points.
    n_folds : int, default 3
    n_groups : int, default 10
        Groups of customers by predicted uplift, at most a tenth of the
        smallest variant's customers.
    shrinkage : {"empirical_bayes", "test"}, default "empirical_bayes"
        How the BLP slope is shrunk (:func:`~upseg.models.uplift.calibration.calibrated_uplift`).
    alpha : float, default 0.05
        Level of the heterogeneity test and, divided by ``n_groups``, of each
        group's one-sided bound.
    random_state : int, default 0
        Seed of the folds (offset from the run's, so they differ from the selection's).
    nuisance : estimator, optional
        Unfitted outcome model for the pseudo-outcomes; LightGBM by default.
    on_fit : callable, optional
        Called with each fold's index before it is fitted.

    Returns
    -------
    UpliftCalibration

    Raises
    ------
    ValueError
        When ``n_folds`` is below 2, or a variant has too few customers for
        ``n_groups`` groups of at least 10.
    """
    if n_folds < 2:
        raise ValueError(f"fit_calibration: 'n_folds' must be at least 2; got {n_folds!r}")
    variants = tuple(model.variants_)
    X = frame.loc[:, list(features)]
    y = frame["outcome"].to_numpy(dtype=float)
    arm = frame["arm"].astype("string").to_numpy()
    rows_of = {v: (arm == model.control) | (arm == v) for v in variants}
    smallest = min(int(r.sum()) for r in rows_of.values())
    if smallest < 10 * n_groups:
        raise ValueError(
            f"fit_calibration: {n_groups} groups need at least {10 * n_groups} customers per "
            f"variant and control; the smallest has {smallest}"
        )
    folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=random_state + 7919)
    fold = np.empty(len(frame), dtype=int)
    oof = {v: np.empty(len(frame)) for v in variants}
    for k, (fit_idx, held_idx) in enumerate(folds.split(X, strata(frame["arm"], frame["outcome"]))):
        on_fit(k)
        fold[held_idx] = k
        fitted = clone(model).fit(X.iloc[fit_idx], y[fit_idx], arm[fit_idx])
        for v in variants:
            oof[v][held_idx] = fitted.variant_uplift(X.iloc[held_idx], v)
    encoded = encode_features(X, list(features), model.categories_)
    learner = _default_nuisance(model.outcome, random_state) if nuisance is None else nuisance
    quantiles = np.linspace(1, 0, n_groups + 1)[1:-1]  # 0.9, 0.8, ... 0.1
    out = {}
    for v in variants:
        rows = rows_of[v]
        t = (arm[rows] == v).astype(int)
        mu0, mu1 = cross_fitted_outcomes(
            encoded[rows], y[rows], t, learner=learner, fold=fold[rows]
        )
        psi = dr_pseudo_outcome(y[rows], t, float(t.mean()), mu0, mu1)
        s = oof[v][rows]
        blp = blp_test(psi, s, alpha=alpha) if np.ptp(s) > 0 else _constant_blp(psi, s, alpha)
        final = model.variant_uplift(X[rows], v)
        out[v] = VariantCalibration(
            variant=v,
            blp=blp,
            slope=max(_used_slope(blp, alpha, shrinkage), ORDER_SLOPE) if np.ptp(s) > 0 else 0.0,
            shrinkage=shrinkage,
            cuts=tuple(float(c) for c in np.quantile(final, quantiles)),
            groups=group_evidence(psi, s, n_groups, alpha),
            alpha=alpha,
        )
    return UpliftCalibration(variants=out, n_folds=n_folds, n_customers=len(frame))


def _lift(y: np.ndarray, treated: np.ndarray) -> tuple[float, float]:
    """Treated minus control mean outcome and its Welch standard error (NaN if an arm is empty)."""
    a, b = y[treated], y[~treated]
    if len(a) < 2 or len(b) < 2:
        return math.nan, math.nan
    return float(a.mean() - b.mean()), math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))


def heldout_check(
    model: UpliftModel, test: pd.DataFrame, *, top: float = 0.2, alpha: float = 0.05
) -> pd.DataFrame:
    """Predicted against realised incremental outcomes on customers the model never saw.

    Per variant, over the test customers of that variant and control: the sum
    of the calibrated uplift (raw when the model has no calibration) beside the
    realised incremental outcomes, ``n * (mean treated - mean control)`` with
    its Welch standard error; the same for the top ``top`` share by the
    model's ranking; and the BLP slope of the IPW pseudo-outcome on the
    calibrated uplift (1 when the sizes are right; NaN when they do not vary).

    Parameters
    ----------
    model : UpliftModel
        Fitted, usually calibrated.
    test : pandas.DataFrame
        Held-out customers: ``arm``, ``outcome`` and the model's features.
    top : float, default 0.2
    alpha : float, default 0.05

    Returns
    -------
    pandas.DataFrame
        One row per variant (the index): ``n``, ``predicted``, ``realised``,
        ``realised_se``, ``ratio``, ``top_predicted``, ``top_realised``,
        ``top_realised_se``, ``top_ratio``, ``slope``, ``slope_se``.
    """
    features = list(model.feature_names_in_)
    arm = test["arm"].astype("string").to_numpy()
    y = test["outcome"].to_numpy(dtype=float)
    calibration = getattr(model, "calibration_", None)
    rows = []
    for v in model.variants_:
        keep = (arm == model.control) | (arm == v)
        raw = model.variant_uplift(test.loc[keep, features], v)
        sized = raw if calibration is None else calibration.variants[v].calibrate(raw)
        treated = arm[keep] == v
        n = int(keep.sum())
        lift, lift_se = _lift(y[keep], treated)
        best = np.argsort(-raw, kind="stable")[: max(1, int(top * n))]
        chosen = np.zeros(n, dtype=bool)
        chosen[best] = True
        top_lift, top_se = _lift(y[keep][chosen], treated[chosen])
        slope = slope_se = math.nan
        if np.ptp(sized) > 0 and 0 < treated.sum() < n:
            psi = ipw_pseudo_outcome(y[keep], treated.astype(int), float(treated.mean()))
            blp = blp_test(psi, sized, alpha=alpha)
            slope, slope_se = blp.slope, blp.slope_se
        realised, top_realised = n * lift, chosen.sum() * top_lift
        rows.append(
            {
                "variant": v,
                "n": n,
                "predicted": float(sized.sum()),
                "realised": realised,
                "realised_se": n * lift_se,
                "ratio": float(sized.sum()) / realised if realised else math.nan,
                "top_predicted": float(sized[chosen].sum()),
                "top_realised": top_realised,
                "top_realised_se": int(chosen.sum()) * top_se,
                "top_ratio": float(sized[chosen].sum()) / top_realised
                if top_realised
                else math.nan,
                "slope": slope,
                "slope_se": slope_se,
            }
        )
    return pd.DataFrame(rows).set_index("variant")
