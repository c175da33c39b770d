"""Optuna search over the base learners of the chosen uplift approach, by the choice's criterion.

Each trial is scored as the approach was chosen, over one set of folds of the
training customers (:func:`cross_validated_score`): with a loss
(``"dr_loss"``, ``"r_loss"``; :mod:`models.uplift.criteria`) the mean loss over
:func:`models.uplift.cross_fitting.cross_fitted_losses`, minimized; with
``"qini"`` the mean Qini AUC, maximized. The study is stored in SQLite and
resumes like the predictive models' (:mod:`models.tuning`); it records its
criterion, and a study scored by another criterion is refused rather than mixed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import optuna
import pandas as pd

from upseg.models.tuning import TuningResult, open_study
from upseg.models.uplift.criteria import LOSSES, loss_table
from upseg.models.uplift.cross_fitting import cross_fitted_losses, cross_validated_qini

__all__ = ["DIRECTIONS", "cross_validated_score", "improves", "tune_uplift", "uplift_search_space"]

#: Whether a criterion's better score is higher (the Qini AUC) or lower (a loss).
DIRECTIONS: dict[str, Literal["minimize", "maximize"]] = {
    "qini": "maximize",
    **dict.fromkeys(LOSSES, "minimize"),
}


def uplift_search_space(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """LightGBM parameters of every base learner, drawn for one trial."""
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 400, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 63, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 20, 500, log=True),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
    }


def improves(criterion: str, score: float, reference: float) -> bool:
    """Whether ``score`` is strictly better than ``reference`` by ``criterion``."""
    return score < reference if DIRECTIONS[criterion] == "minimize" else score > reference


def cross_validated_score(
    frame: pd.DataFrame,
    *,
    features: Sequence[str],
    categorical: Sequence[str],
    control: str,
    outcome: str,
    approach: str,
    params: dict[str, Any] | None,
    criterion: str = "dr_loss",
    n_folds: int = 3,
    seed: int = 0,
) -> float:
    """Score of ``approach`` with base-learner ``params`` over one ``n_folds`` cross-fitting.

    With a loss, the mean loss of :func:`models.uplift.criteria.loss_table`
    (the mean over variants of the mean over their customers); with ``"qini"``,
    the mean over folds of the variants' mean Qini AUC. The folds, and for a
    loss the outcome models, depend only on ``seed``: with ``params=None`` (the
    defaults) this is the score of repeat 0 of the choice by the same criterion.
    """
    if criterion not in DIRECTIONS:
        raise ValueError(
            f"The 'criterion' argument must be one of {list(DIRECTIONS)}; got {criterion!r}."
        )
    options: dict[str, Any] = {
        "features": features,
        "categorical": categorical,
        "control": control,
        "outcome": outcome,
        "n_folds": n_folds,
        "params": params,
        "random_state": seed,
    }
    if criterion == "qini":
        scores = cross_validated_qini(frame, approach=approach, **options)
        return float(scores.groupby("fold")["qini_auc"].mean().mean())
    _, losses = cross_fitted_losses(
        frame, approaches=[approach], criterion=criterion, n_repeats=1, **options
    )
    return float(loss_table(losses, order=[approach])["loss"].iloc[0])


def _open_study(
    name: str, storage: str | Path | None, seed: int, criterion: str
) -> tuple[optuna.Study, str | None]:
    """The study ``name`` in the SQLite file ``storage``, in the direction of ``criterion``.

    A study created before studies recorded their criterion was scored by the Qini.
    """
    study, url = open_study(name, storage, seed, direction=DIRECTIONS[criterion])
    direction = optuna.study.StudyDirection[DIRECTIONS[criterion].upper()]
    if not study.user_attrs and not study.trials and study.direction == direction:
        study.set_user_attr("criterion", criterion)
    found = study.user_attrs.get("criterion", "qini")
    if found != criterion:
        raise ValueError(
            f"The Optuna study {name!r} in {url or 'memory'} was scored by {found!r}; "
            f"tuning by {criterion!r} needs a study of its own: give another name."
        )
    return study, url


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
    criterion: str = "dr_loss",
    storage: str | Path | None = None,
    callbacks: tuple[Any, ...] = (),
) -> TuningResult:
    """Search base-learner parameters of ``approach``; ``trials=0`` keeps its defaults.

    Each trial is scored by :func:`cross_validated_score` with the trial's
    parameters; ``best_value`` of the result is the best trial's score, in the
    criterion's units (lowest loss, or highest Qini).

    Parameters
    ----------
    frame : pandas.DataFrame
        Training customers: ``arm``, ``outcome`` and ``features``.
    trials : int
        Total trials the study should hold, counting finished trials of an
        interrupted run of the same study.
    name : str
        Study name; the same name and storage resume the same study. Name it
        after the criterion: a study scored by another criterion is refused.
    criterion : {"dr_loss", "r_loss", "qini"}, default "dr_loss"
        As the approach was chosen (:func:`models.uplift.selection.select_approach`).
    storage : str or Path, optional
        SQLite file of the study; in memory when omitted.
    """
    if trials < 0:
        raise ValueError(f"trials must be 0 or more; got {trials}.")
    if criterion not in DIRECTIONS:
        raise ValueError(
            f"The 'criterion' argument must be one of {list(DIRECTIONS)}; got {criterion!r}."
        )
    if trials == 0:
        return TuningResult({}, name, None, 0, 0, 0, 0, None, pd.DataFrame())
    study, url = _open_study(name, storage, seed, criterion)
    done = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))

    def objective(trial: optuna.Trial) -> float:
        return cross_validated_score(
            frame,
            features=features,
            categorical=categorical,
            control=control,
            outcome=outcome,
            approach=approach,
            params=uplift_search_space(trial),
            criterion=criterion,
            n_folds=n_folds,
            seed=seed,
        )

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
