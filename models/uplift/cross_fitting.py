"""Cross-fitting for choosing an uplift approach: folds, fits and what each fold scores.

:func:`cross_validated_qini` scores one approach by the Qini AUC of every
variant on each held-out fold; :func:`cross_fitted_losses` scores several by
the doubly robust or R-loss (:mod:`models.uplift.criteria`) over repeated
folds, with the outcome models fitted once per repeat and shared by every
approach. :mod:`models.uplift.selection` picks the approach from these scores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from upseg.models.uplift.criteria import (
    LOSSES,
    cross_fitted_outcomes,
    dr_loss_terms,
    r_loss_terms,
)
from upseg.models.uplift.learners import DEFAULT_PARAMS
from upseg.models.uplift.metrics import qini_auc
from upseg.models.uplift.model import UpliftModel, encode_features

__all__ = ["cross_fitted_losses", "cross_validated_qini", "strata", "variant_qini"]


def strata(arm: pd.Series, outcome: pd.Series) -> np.ndarray:
    """Stratum of each customer: arm crossed with whether the outcome is positive."""
    return (arm.astype("string") + "|" + (outcome > 0).astype(int).astype("string")).to_numpy()


def variant_qini(
    model: UpliftModel, X: pd.DataFrame, y: np.ndarray, arm: pd.Series
) -> dict[str, float]:
    """Qini AUC of each variant's uplift on its own and control's customers."""
    scores = {}
    for variant in model.variants_:
        rows = ((arm == model.control) | (arm == variant)).to_numpy()
        treated = (arm[rows] == variant).astype(int).to_numpy()
        uplift = model.variant_uplift(X[rows], variant)
        scores[variant] = qini_auc(y[rows], uplift, treated)
    return scores


def cross_validated_qini(
    frame: pd.DataFrame,
    *,
    features: Sequence[str],
    categorical: Sequence[str],
    control: str,
    outcome: str,
    approach: str,
    n_folds: int = 3,
    params: dict[str, Any] | None = None,
    random_state: int = 0,
    on_fit: Callable[[str, int], None] = lambda approach, fold: None,
) -> pd.DataFrame:
    """Qini AUC of one approach on each held-out fold and variant.

    Returns
    -------
    pandas.DataFrame
        ``approach``, ``fold``, ``variant``, ``qini_auc``; the folds are the
        same for every approach and parameter set with the same ``random_state``.
    """
    X, y, arm = _arrays(frame, features)
    fit = partial(_fit_on, X, y, arm, outcome, control, categorical, params, random_state)
    rows = []
    for fold, (fit_idx, score_idx) in enumerate(_splits(frame, X, arm, n_folds, random_state)):
        on_fit(approach, fold)
        model = fit(approach, fit_idx)
        scored = variant_qini(model, X.iloc[score_idx], y[score_idx], arm.iloc[score_idx])
        rows += [
            {"approach": approach, "fold": fold, "variant": v, "qini_auc": q}
            for v, q in scored.items()
        ]
    return pd.DataFrame(rows)


def _arrays(
    frame: pd.DataFrame, features: Sequence[str]
) -> tuple[pd.DataFrame, np.ndarray, pd.Series]:
    """The features, the outcome as floats and the arm as strings of ``frame``."""
    return (
        frame.loc[:, list(features)],
        frame["outcome"].to_numpy(dtype=float),
        frame["arm"].astype("string"),
    )


def _splits(
    frame: pd.DataFrame, X: pd.DataFrame, arm: pd.Series, n_folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(fit, score) positions of each fold, stratified by arm and outcome."""
    folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return list(folds.split(X, strata(arm, frame["outcome"])))


def _fit_on(
    X: pd.DataFrame,
    y: np.ndarray,
    arm: pd.Series,
    outcome: str,
    control: str,
    categorical: Sequence[str],
    params: dict[str, Any] | None,
    seed: int,
    approach: str,
    rows: np.ndarray,
) -> UpliftModel:
    """``approach`` fitted on the customers at positions ``rows``."""
    return UpliftModel(
        approach=approach,
        outcome=outcome,
        control=control,
        categorical=categorical,
        params=params,
        random_state=seed,
    ).fit(X.iloc[rows], y[rows], arm.iloc[rows])


def _default_nuisance(outcome: str, random_state: int) -> lgb.LGBMModel:
    """LightGBM with :data:`DEFAULT_PARAMS`: a classifier for a 0/1 outcome, else a regressor."""
    params = {**DEFAULT_PARAMS, "random_state": random_state}
    return lgb.LGBMClassifier(**params) if outcome == "binary" else lgb.LGBMRegressor(**params)


def cross_fitted_losses(
    frame: pd.DataFrame,
    *,
    features: Sequence[str],
    categorical: Sequence[str],
    control: str,
    outcome: str,
    approaches: Sequence[str],
    criterion: str = "dr_loss",
    n_folds: int = 3,
    n_repeats: int = 1,
    params: dict[str, Any] | None = None,
    random_state: int = 0,
    nuisance: Any = None,
    on_fit: Callable[[str, int], None] = lambda approach, fold: None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Loss and Qini of every approach over ``n_repeats`` x ``n_folds`` cross-fitting.

    Repeat ``r`` splits the customers into folds stratified by arm and outcome
    with seed ``random_state + r`` (repeat 0 has the folds of
    :func:`cross_validated_qini`). Per variant against control, the outcome
    models ``mu0`` and ``mu1`` are fitted on the other folds
    (:func:`models.uplift.criteria.cross_fitted_outcomes`), once per repeat and
    shared by every approach; the propensity is the variant's share among its
    and control's customers. Each approach is fitted on the other folds and its
    uplift on the held-out fold is scored by the loss, customer by customer, and
    by the Qini AUC.

    Parameters
    ----------
    frame : pandas.DataFrame
        Training customers: ``arm``, ``outcome`` and ``features``.
    criterion : {"dr_loss", "r_loss"}
        The loss; the R-loss takes ``m = e mu1 + (1 - e) mu0``.
    nuisance : estimator, optional
        Unfitted classifier (0/1 outcome) or regressor for ``mu0`` and ``mu1``;
        LightGBM with :data:`models.uplift.learners.DEFAULT_PARAMS` when omitted.

    Returns
    -------
    scores : pandas.DataFrame
        ``approach``, ``repeat``, ``fold``, ``variant``, ``qini_auc``, ``loss``,
        ``trees`` (trees the fold's model evaluates per customer to predict the
        variant, :meth:`UpliftModel.prediction_trees`).
    losses : pandas.DataFrame
        One row per approach, repeat, variant and customer: ``approach``,
        ``repeat``, ``variant``, ``row`` (position in ``frame``), ``loss``.
    """
    if criterion not in LOSSES:
        raise ValueError(
            f"The 'criterion' argument of cross_fitted_losses must be one of {list(LOSSES)}; "
            f"got {criterion!r}."
        )
    X, y, arm = _arrays(frame, features)
    categories = {c: sorted(X[c].dropna().astype("string").unique().tolist()) for c in categorical}
    encoded = encode_features(X, list(features), categories)
    learner = _default_nuisance(outcome, random_state) if nuisance is None else nuisance
    variants = sorted(set(arm) - {control})
    scores, losses = [], []
    for repeat in range(n_repeats):
        seed = random_state + repeat
        fit = partial(_fit_on, X, y, arm, outcome, control, categorical, params, seed)
        splits = _splits(frame, X, arm, n_folds, seed)
        fold = np.empty(len(frame), dtype=int)
        for k, (_, score_idx) in enumerate(splits):
            fold[score_idx] = k
        nuisances = {}
        for variant in variants:
            rows = ((arm == control) | (arm == variant)).to_numpy()
            treated = (arm[rows] == variant).to_numpy().astype(int)
            mu0, mu1 = cross_fitted_outcomes(
                encoded[rows], y[rows], treated, learner=learner, fold=fold[rows]
            )
            nuisances[variant] = rows, treated, float(treated.mean()), mu0, mu1
        for k, (fit_idx, _) in enumerate(splits):
            for approach in approaches:
                on_fit(approach, k)
                model = fit(approach, fit_idx)
                trees = model.prediction_trees()
                for variant, (rows, treated, e, mu0, mu1) in nuisances.items():
                    held, sub = rows & (fold == k), fold[rows] == k
                    uplift = model.variant_uplift(X[held], variant)
                    t, m0, m1 = treated[sub], mu0[sub], mu1[sub]
                    terms = (
                        dr_loss_terms(y[held], uplift, t, propensity=e, mu0=m0, mu1=m1)
                        if criterion == "dr_loss"
                        else r_loss_terms(y[held], uplift, t, propensity=e, m=e * m1 + (1 - e) * m0)
                    )
                    key = {"approach": approach, "repeat": repeat}
                    qini = qini_auc(y[held], uplift, t)
                    scores.append(
                        {
                            **key,
                            "fold": k,
                            "variant": variant,
                            "qini_auc": qini,
                            "loss": terms.mean(),
                            "trees": trees[variant],
                        }
                    )
                    rows_held = np.flatnonzero(held)
                    losses.append(
                        pd.DataFrame({**key, "variant": variant, "row": rows_held, "loss": terms})
                    )
    return pd.DataFrame(scores), pd.concat(losses, ignore_index=True)
