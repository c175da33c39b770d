"""Optuna search over the base learners of the chosen uplift approach, by cross-validated Qini.

Uplift has no per-row loss to early-stop on, so each trial is scored as the
approach was chosen: the mean Qini AUC over the same folds of the training
customers. The study is stored in SQLite and resumes like the predictive
models' (:mod:`models.tuning`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from upseg.models.tuning import TuningResult, open_study
from upseg.models.uplift.selection import cross_validated_qini

__all__ = ["uplift_search_space", "tune_uplift"]


def uplift_search_space(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """LightGBM parameters of every base learner, drawn for one trial."""
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 400, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 63, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 20, 500, log=True),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
    }


def tune_uplift(
    frame: pd.DataFrame,
    *,
    features: Sequence[str],
    categorical: Sequence[str],
    control: str,
    outcome: str,
    approach: str,
    trials: int,
    n_folds: int,
    seed: int,
    name: str,
    storage: str | Path | None = None,
    callbacks: tuple[Any, ...] = (),
) -> TuningResult:
    """Search base-learner parameters of ``approach``; ``trials=0`` keeps its defaults.

    Parameters
    ----------
    frame : pandas.DataFrame
        Training customers: ``arm``, ``outcome`` and ``features``.
    trials : int
        Total trials the study should hold, counting finished trials of an
        interrupted run of the same study.
    name : str
        Study name; the same name and storage resume the same study.
    storage : str or Path, optional
        SQLite file of the study; in memory when omitted.
    """
    if trials < 0:
        raise ValueError(f"trials must be 0 or more; got {trials}.")
    if trials == 0:
        return TuningResult({}, name, None, 0, 0, 0, 0, None, pd.DataFrame())
    study, url = open_study(name, storage, seed)
    done = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))

    def objective(trial: optuna.Trial) -> float:
        scores = cross_validated_qini(
            frame,
            features=features,
            categorical=categorical,
            control=control,
            outcome=outcome,
            approach=approach,
            n_folds=n_folds,
            params=uplift_search_space(trial),
            random_state=seed,
        )
        return float(scores.groupby("fold")["qini_auc"].mean().mean())

    if trials > done:
        study.optimize(objective, n_trials=trials - done, callbacks=list(callbacks))
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    best = study.best_trial
    # The best trial is a complete one, and a complete single-objective trial has a value.
    assert best.value is not None
    return TuningResult(
        params=uplift_search_space(optuna.trial.FixedTrial(best.params)),
        study_name=name,
        storage=url,
        n_trials=len(complete),
        n_complete=len(complete),
        n_pruned=0,
        n_resumed=done,
        best_value=float(best.value),
        trials=study.trials_dataframe(attrs=("number", "value", "params", "state")),
    )
