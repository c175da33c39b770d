"""The multi-variant uplift model and the choice of approach by cross-validated Qini."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator

from upseg.models.uplift.model import UpliftModel, encode_features
from upseg.models.uplift.selection import holdout_split, select_approach, strata


def three_arms(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, pd.DataFrame]:
    """Variant A helps customers with x0 > 0, B helps those with x0 <= 0; truth returned."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "x0": rng.normal(size=n),
            "x1": rng.normal(size=n),
            "region": rng.choice(["north", "south"], n),
        }
    )
    arm = rng.choice(["control", "A", "B"], n)
    tau = pd.DataFrame(
        {"A": np.where(X["x0"] > 0, 0.15, 0.0), "B": np.where(X["x0"] <= 0, 0.10, 0.0)}
    )
    base = 0.1 + 0.05 * (X["region"] == "south")
    p = base + np.select([arm == "A", arm == "B"], [tau["A"], tau["B"]], 0.0)
    return X, rng.binomial(1, p), arm, tau


@pytest.fixture(scope="module")
def fitted():
    X, y, arm, _ = three_arms(24_000, seed=1)
    return UpliftModel(
        approach="t_learner", outcome="binary", control="control", categorical=["region"]
    ).fit(X, y, arm)


def test_each_variant_is_learned_against_control_and_the_best_one_picked(fitted):
    X, _, _, tau = three_arms(6_000, seed=2)
    scores = fitted.predict_frame(X)
    assert list(scores.columns) == ["uplift_A", "uplift_B", "uplift", "best_variant"]
    truth_best = np.where(tau["A"] > tau["B"], "A", "B")
    assert (scores["best_variant"].to_numpy() == truth_best).mean() > 0.8
    np.testing.assert_allclose(scores["uplift"], scores[["uplift_A", "uplift_B"]].max(axis=1))
    np.testing.assert_allclose(fitted.predict(X), scores["uplift"])
    assert abs(scores["uplift_A"].mean() - tau["A"].mean()) < 0.03


def test_an_unseen_category_is_missing_and_a_missing_column_is_named(fitted):
    X, _, _, _ = three_arms(10, seed=3)
    encoded = encode_features(X.assign(region="west"), fitted.feature_names_in_, fitted.categories_)
    assert encoded["region"].isna().all()
    with pytest.raises(ValueError, match=r"lacks 1 feature column\(s\).*\['x1'\]"):
        fitted.predict_frame(X.drop(columns="x1"))


def test_bad_arms_are_refused():
    X, y, arm, _ = three_arms(500, seed=4)
    model = UpliftModel(approach="t_learner", outcome="binary", control="none")
    with pytest.raises(ValueError, match=r"control 'none' is not among the arms \['A', 'B', "):
        model.fit(X, y, arm)
    model = UpliftModel(approach="t_learner", outcome="binary", control="control")
    with pytest.raises(ValueError, match="Every customer is in the control arm"):
        model.fit(X, y, np.full(len(y), "control"))


def test_the_holdout_is_stratified_by_arm_and_outcome():
    X, y, arm, _ = three_arms(9_000, seed=5)
    frame = pd.DataFrame({"arm": arm, "outcome": y})
    train, test = holdout_split(frame, test_size=0.3, random_state=0)
    assert len(set(train) & set(test)) == 0 and len(train) + len(test) == len(frame)
    keys = pd.Series(strata(frame["arm"], frame["outcome"]))
    shares = keys.iloc[test].value_counts() / keys.value_counts()
    assert ((shares - 0.3).abs() < 0.01).all()


class _Planted(BaseEstimator):
    """A learner that ignores its training data: uplift = sign * x0, or noise.

    In :func:`three_arms` variant A's true effect rises with x0 and B's falls,
    so for A ranking by x0 is right, by -x0 wrong, and by noise random.
    """

    def __init__(self, *, sign: float) -> None:
        self.sign = sign

    def fit(self, X: pd.DataFrame, y: np.ndarray, treatment: np.ndarray) -> _Planted:
        self.fitted_ = True
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        if self.sign == 0:
            return np.random.default_rng(len(X)).normal(size=len(X))
        return self.sign * X["x0"].to_numpy()


def test_the_approach_with_the_best_cross_validated_qini_is_chosen(monkeypatch):
    planted = {"noise": 0.0, "backwards": -1.0, "right_for_A": 1.0}
    monkeypatch.setattr(
        "upseg.models.uplift.model.make_learner",
        lambda approach, **_: _Planted(sign=planted[approach]),
    )
    X, y, arm, _ = three_arms(9_000, seed=6)
    frame = pd.concat([X, pd.DataFrame({"arm": arm, "outcome": y})], axis=1).query("arm != 'B'")
    options = {
        "features": list(X.columns),
        "categorical": ["region"],
        "control": "control",
        "outcome": "binary",
        "n_folds": 2,
        "criterion": "qini",
    }
    for order in (list(planted), list(reversed(planted))):
        selection = select_approach(frame, approaches=order, **options)
        assert selection.best == "right_for_A"
        assert len(selection.scores) == 3 * 2  # approaches x folds, one variant
        mean = selection.summary().set_index("approach")["mean"]
        assert mean["right_for_A"] > 0.05 > abs(mean["noise"]) and mean["backwards"] < -0.05


def test_uplift_tuning_resumes_and_zero_trials_keeps_defaults(tmp_path):
    from upseg.models.uplift.tuning import tune_uplift

    X, y, arm, _ = three_arms(3_000, seed=7)
    frame = pd.concat([X, pd.DataFrame({"arm": arm, "outcome": y})], axis=1)
    options = {
        "features": list(X.columns),
        "categorical": ["region"],
        "control": "control",
        "outcome": "binary",
        "approach": "t_learner",
        "n_folds": 2,
        "seed": 0,
        "name": "uplift-test",
        "storage": tmp_path / "optuna.db",
    }
    assert tune_uplift(frame, trials=0, **options).params == {}
    first = tune_uplift(frame, trials=2, **options)
    assert first.n_trials == 2 and first.n_resumed == 0
    resumed = tune_uplift(frame, trials=3, **options)
    assert resumed.n_trials == 3 and resumed.n_resumed == 2
    assert set(resumed.params) == {
        "n_estimators", "learning_rate", "num_leaves", "min_child_samples", "colsample_bytree",
    }  # fmt: skip
