"""Tuning the chosen approach by the criterion that chose it: a loss is minimized."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from upseg.models.uplift.selection import select_approach
from upseg.models.uplift.tuning import DIRECTIONS, cross_validated_score, improves, tune_uplift


def _campaign(n: int, seed: int) -> pd.DataFrame:
    """Two arms, effects of a few points that grow with x0."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(3)})
    t = rng.integers(0, 2, n)
    p = np.clip(0.1 + 0.05 * np.tanh(X["x1"]) + t * 0.03 * (1 + X["x0"]), 0, 1)
    return X.assign(arm=np.where(t == 1, "A", "control"), outcome=rng.binomial(1, p))


DATA = {
    "features": ["x0", "x1", "x2"],
    "categorical": [],
    "control": "control",
    "outcome": "binary",
    "approach": "s_learner",
}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return _campaign(1_500, seed=0)


@pytest.mark.parametrize(("criterion", "best"), [("dr_loss", min), ("r_loss", min), ("qini", max)])
def test_trials_are_scored_by_the_criterion_in_its_direction(frame, criterion, best):
    result = tune_uplift(
        frame, trials=3, n_folds=2, seed=0, name=f"t-{criterion}", criterion=criterion, **DATA
    )
    values = result.trials["value"].tolist()
    assert len(values) == 3 and result.best_value == best(values)
    assert DIRECTIONS[criterion] == ("minimize" if best is min else "maximize")
    rescored = cross_validated_score(
        frame, params=result.params, criterion=criterion, n_folds=2, seed=0, **DATA
    )
    assert rescored == pytest.approx(result.best_value)


def test_the_defaults_score_as_repeat_zero_of_the_choice(frame):
    # What run_uplift compares the tuned parameters with: the same folds and outcome models.
    selection = select_approach(
        frame,
        **{k: v for k, v in DATA.items() if k != "approach"},
        approaches=[DATA["approach"]],
        n_folds=2,
        n_repeats=1,
        random_state=3,
    )
    assert selection.losses is not None
    default = cross_validated_score(frame, params=None, n_folds=2, seed=3, **DATA)
    assert default == pytest.approx(selection.losses["loss"].iloc[0])


@pytest.mark.parametrize(
    ("criterion", "score", "reference", "better"),
    [
        ("dr_loss", 0.28, 0.29, True),
        ("r_loss", 0.29, 0.28, False),
        ("dr_loss", 0.28, 0.28, False),
        ("qini", 0.05, 0.04, True),
        ("qini", 0.04, 0.05, False),
    ],
)
def test_a_score_improves_in_the_criterions_direction(criterion, score, reference, better):
    assert improves(criterion, score, reference) is better


def test_a_study_scored_by_another_criterion_is_refused(frame, tmp_path):
    options = {**DATA, "n_folds": 2, "seed": 0, "name": "shared", "storage": tmp_path / "o.db"}
    tune_uplift(frame, trials=1, criterion="qini", **options)
    with pytest.raises(
        ValueError,
        match=r"The Optuna study 'shared' in sqlite:///.*o\.db was scored by 'qini'; "
        r"tuning by 'dr_loss' needs a study of its own",
    ):
        tune_uplift(frame, trials=2, criterion="dr_loss", **options)
    resumed = tune_uplift(frame, trials=2, criterion="qini", **options)
    assert resumed.n_resumed == 1


@pytest.mark.parametrize(
    "call",
    [
        lambda f: tune_uplift(f, trials=1, n_folds=2, seed=0, name="x", criterion="auuc", **DATA),
        lambda f: cross_validated_score(f, params=None, criterion="auuc", **DATA),
    ],
)
def test_an_unknown_criterion_is_refused(frame, call):
    with pytest.raises(
        ValueError, match=r"'criterion' argument must be one of \['qini', 'dr_loss', 'r_loss'\]"
    ):
        call(frame)
