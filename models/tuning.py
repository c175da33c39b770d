"""Optuna search over LightGBM parameters, resumable from a SQLite study.

The objective is validation ROC-AUC of a model trained with early stopping;
trials that fall behind are pruned through LightGBM's callback. The study lives
in a SQLite file and is named after the model, cutoff, data and seed, so an
interrupted run picks up where it stopped: finished trials are kept and only
the missing ones run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import optuna
import pandas as pd
from optuna_integration.lightgbm import LightGBMPruningCallback

from upseg.models.classifier import DEFAULT_PARAMS, CalibratedLGBMClassifier

__all__ = ["TuningResult", "open_study", "search_space", "study_name", "tune"]


@dataclass(frozen=True)
class TuningResult:
    """The chosen parameters and a summary of the study that chose them."""

    params: dict[str, Any]
    study_name: str
    storage: str | None
    n_trials: int
    n_complete: int
    n_pruned: int
    n_resumed: int
    best_value: float | None
    trials: pd.DataFrame

    def summary(self) -> dict[str, Any]:
        """Flat numbers for MLflow."""
        return {
            "tuning_trials": self.n_trials,
            "tuning_complete": self.n_complete,
            "tuning_pruned": self.n_pruned,
            "tuning_resumed": self.n_resumed,
            "tuning_best_valid_auc": self.best_value if self.best_value is not None else -1.0,
        }


def search_space(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """LightGBM parameters drawn for one trial."""
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 8, 128, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 10, 200, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
        "bagging_freq": 1,
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 10.0, log=True),
    }


def study_name(model: str, as_of: pd.Timestamp, fingerprint: str, seed: int) -> str:
    """The study's name: the same model, cutoff, data and seed resume the same study."""
    return f"{model}-{as_of:%Y%m%d}-{fingerprint[:12]}-seed{seed}"


def open_study(
    name: str,
    storage: str | Path | None,
    seed: int,
    *,
    pruner: optuna.pruners.BasePruner | None = None,
    direction: Literal["maximize", "minimize"] = "maximize",
) -> tuple[optuna.Study, str | None]:
    """The study ``name`` in the SQLite file ``storage`` (created or resumed).

    In memory, and so not resumable, when ``storage`` is None. ``direction`` is
    ``"maximize"`` (AUC, Qini) or ``"minimize"`` (a loss). Returns the study and
    its storage URL.
    """
    url = None
    if storage is not None:
        Path(storage).parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{Path(storage).resolve()}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=name,
        storage=url,
        load_if_exists=True,
        direction=direction,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=pruner,
    )
    return study, url


def tune(
    train: tuple[pd.DataFrame, pd.Series],
    valid: tuple[pd.DataFrame, pd.Series],
    *,
    categorical: tuple[str, ...],
    trials: int,
    seed: int,
    name: str,
    storage: str | Path | None = None,
    n_jobs: int | None = None,
    callbacks: tuple[Any, ...] = (),
) -> TuningResult:
    """Search for LightGBM parameters; ``trials=0`` returns :data:`DEFAULT_PARAMS`.

    Parameters
    ----------
    train, valid : tuple of (DataFrame, Series)
        Features and labels; ``valid`` is later in time than ``train``.
    categorical : tuple of str
        Categorical feature columns.
    trials : int
        Total trials the study should hold; finished trials of an earlier,
        interrupted run of the same study count towards it.
    seed : int
        Seed of the TPE sampler and of LightGBM.
    name : str
        Study name, see :func:`study_name`.
    storage : str or Path, optional
        SQLite file of the study; in memory (not resumable) when omitted.
    callbacks : tuple, optional
        Optuna study callbacks, e.g. a progress reporter.
    """
    if trials < 0:
        raise ValueError(f"trials must be 0 or more; got {trials}.")
    if trials == 0:
        return TuningResult(dict(DEFAULT_PARAMS), name, None, 0, 0, 0, 0, None, pd.DataFrame())
    study, url = open_study(
        name,
        storage,
        seed,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=20),
    )
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    done = len(study.get_trials(deepcopy=False, states=finished))
    (X, y), (X_valid, y_valid) = train, valid

    def objective(trial: optuna.Trial) -> float:
        model = CalibratedLGBMClassifier(
            params=search_space(trial),
            categorical=categorical,
            random_state=seed,
            n_jobs=n_jobs,
        )
        pruning = LightGBMPruningCallback(trial, "auc", valid_name="valid")
        model.fit(X, y, X_valid=X_valid, y_valid=y_valid, callbacks=[pruning])
        trial.set_user_attr("best_iteration", model.best_iteration_)
        return model.best_score_["auc"]

    if trials > done:
        study.optimize(objective, n_trials=trials - done, callbacks=list(callbacks))
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        raise RuntimeError(f"Optuna study {name!r} finished no trial; every trial was pruned.")
    pruned = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.PRUNED,))
    best = study.best_trial
    # The best trial is a complete one, and a complete single-objective trial has a value.
    assert best.value is not None
    params = {**search_space(optuna.trial.FixedTrial(best.params))}
    return TuningResult(
        params=params,
        study_name=name,
        storage=url,
        n_trials=len(complete) + len(pruned),
        n_complete=len(complete),
        n_pruned=len(pruned),
        n_resumed=done,
        best_value=float(best.value),
        trials=study.trials_dataframe(attrs=("number", "value", "params", "state")),
    )
