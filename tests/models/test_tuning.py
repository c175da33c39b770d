"""Optuna tuning: defaults at zero trials, reproducible with a seed, resumable after a crash."""

from __future__ import annotations

import optuna
import pytest

from tests.models.test_classifier import simulated
from upseg.models.classifier import DEFAULT_PARAMS
from upseg.models.tuning import study_name, tune


@pytest.fixture(scope="module")
def splits():
    X, y, _ = simulated(3_000, seed=20)
    Xv, yv, _ = simulated(1_500, seed=21)
    return (X, y), (Xv, yv)


def run(splits, trials, **kwargs):
    train, valid = splits
    kwargs.setdefault("name", "churn-test")
    return tune(train, valid, categorical=("channel",), trials=trials, seed=5, n_jobs=1, **kwargs)


def test_zero_trials_gives_the_defaults(splits):
    result = run(splits, 0)
    assert result.params == DEFAULT_PARAMS
    assert result.n_trials == 0 and result.storage is None


def test_the_same_seed_gives_the_same_search(splits):
    first, second = run(splits, 3), run(splits, 3)
    assert first.params == second.params
    assert first.best_value == second.best_value
    assert first.n_complete + first.n_pruned == 3


def test_an_interrupted_study_resumes_from_its_sqlite_file(splits, tmp_path):
    storage = tmp_path / "optuna.db"

    def crash_after_two(study, trial):
        if trial.number == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(splits, 5, storage=storage, callbacks=(crash_after_two,))
    resumed = run(splits, 5, storage=storage)
    assert resumed.n_resumed == 2
    assert resumed.n_trials == 5
    study = optuna.load_study(study_name="churn-test", storage=resumed.storage)
    assert [t.number for t in study.trials] == [0, 1, 2, 3, 4]
    again = run(splits, 5, storage=storage)
    assert again.n_resumed == 5 and again.params == resumed.params


def test_study_names_tie_a_study_to_model_cutoff_data_and_seed():
    import pandas as pd

    name = study_name("churn", pd.Timestamp("2026-04-01", tz="UTC"), "ab" * 32, 3)
    assert name == "churn-20260401-abababababab-seed3"


def test_negative_trials_are_refused(splits):
    with pytest.raises(ValueError, match="trials must be 0 or more; got -1"):
        run(splits, -1)
