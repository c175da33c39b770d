"""Which meta-learner for this campaign: chosen by cross-validated Qini, never hard-coded.

The training customers are split into folds stratified by arm and outcome; each
approach is fitted on the other folds and scored on the held-out fold by the
Qini AUC of every variant against control; the approach with the highest mean
wins. The held-out test customers of the run are never used here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from upseg.models.uplift.metrics import qini_auc
from upseg.models.uplift.model import UpliftModel

__all__ = [
    "Selection",
    "cross_validated_qini",
    "holdout_split",
    "select_approach",
    "strata",
    "variant_qini",
]


def strata(arm: pd.Series, outcome: pd.Series) -> np.ndarray:
    """Stratum of each customer: arm crossed with whether the outcome is positive."""
    return (arm.astype("string") + "|" + (outcome > 0).astype(int).astype("string")).to_numpy()


def holdout_split(
    frame: pd.DataFrame, *, test_size: float = 0.3, random_state: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Row positions of training and held-out customers, stratified by arm and outcome."""
    positions = np.arange(len(frame))
    return train_test_split(
        positions,
        test_size=test_size,
        stratify=strata(frame["arm"], frame["outcome"]),
        random_state=random_state,
    )


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


@dataclass(frozen=True)
class Selection:
    """Cross-validated Qini of every approach and the winner."""

    best: str
    scores: pd.DataFrame  # approach, fold, variant, qini_auc

    def summary(self) -> pd.DataFrame:
        """Mean and standard deviation of each approach's Qini over folds, best first."""
        per_fold = self.scores.groupby(["approach", "fold"])["qini_auc"].mean().reset_index()
        table = per_fold.groupby("approach")["qini_auc"].agg(["mean", "std"]).reset_index()
        return table.sort_values("mean", ascending=False, ignore_index=True)


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
    folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=random_state)
    X = frame.loc[:, list(features)]
    y = frame["outcome"].to_numpy(dtype=float)
    arm = frame["arm"].astype("string")
    rows = []
    for fold, (fit_idx, score_idx) in enumerate(folds.split(X, strata(arm, frame["outcome"]))):
        on_fit(approach, fold)
        model = UpliftModel(
            approach=approach,
            outcome=outcome,
            control=control,
            categorical=categorical,
            params=params,
            random_state=random_state,
        ).fit(X.iloc[fit_idx], y[fit_idx], arm.iloc[fit_idx])
        scored = variant_qini(model, X.iloc[score_idx], y[score_idx], arm.iloc[score_idx])
        rows += [
            {"approach": approach, "fold": fold, "variant": v, "qini_auc": q}
            for v, q in scored.items()
        ]
    return pd.DataFrame(rows)


def select_approach(
    frame: pd.DataFrame,
    *,
    features: Sequence[str],
    categorical: Sequence[str],
    control: str,
    outcome: str,
    approaches: Sequence[str],
    n_folds: int = 3,
    params: dict[str, Any] | None = None,
    random_state: int = 0,
    on_fit: Callable[[str, int], None] = lambda approach, fold: None,
) -> Selection:
    """Score every approach by ``n_folds``-fold cross-validated Qini and pick the best.

    Parameters
    ----------
    frame : pandas.DataFrame
        Training customers: ``arm``, ``outcome`` and ``features``.
    approaches : sequence of str
        Candidates from :func:`models.uplift.learners.approaches_for`.
    on_fit : callable, optional
        Called before each fit with the approach and fold, for progress.
    """
    scores = pd.concat(
        [
            cross_validated_qini(
                frame,
                features=features,
                categorical=categorical,
                control=control,
                outcome=outcome,
                approach=approach,
                n_folds=n_folds,
                params=params,
                random_state=random_state,
                on_fit=on_fit,
            )
            for approach in approaches
        ],
        ignore_index=True,
    )
    best = Selection("", scores).summary()["approach"].iloc[0]
    return Selection(best, scores)
