"""A multi-variant uplift model: one meta-learner per treated arm against control.

With arms ``control``, ``A`` and ``B`` the model fits a learner on the
customers of ``{control, A}`` and another on ``{control, B}``; per customer it
predicts the uplift of each variant, the best variant and its uplift. With one
treated arm it is the usual two-arm model. Features are encoded once here, so
every learner sees the same numeric matrix: categories become ordinal codes
fixed at training (an unseen category is missing).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone

from upseg.models.encoding import encoded_matrix, feature_matrix
from upseg.models.uplift.learners import make_learner

if TYPE_CHECKING:
    from upseg.models.uplift.calibrator import UpliftCalibration

__all__ = ["UpliftModel", "encode_features", "lgbm_estimators"]


def encode_features(
    X: pd.DataFrame, feature_names: Sequence[str], categories: dict[str, list[str]]
) -> pd.DataFrame:
    """``X`` reduced to ``feature_names``, as float64; categories become their codes.

    Raises
    ------
    ValueError
        Naming the model's columns that ``X`` lacks.
    """
    missing = [c for c in feature_names if c not in X.columns]
    if missing:
        raise ValueError(
            f"The table lacks {len(missing)} feature column(s) the model was trained on: {missing}."
        )
    return pd.DataFrame(
        feature_matrix(X, feature_names, categories), columns=list(feature_names), index=X.index
    )


class UpliftModel(BaseEstimator):
    """Uplift of every variant against control, with LightGBM meta-learners.

    Parameters
    ----------
    approach : str
        A name from :data:`models.uplift.learners.APPROACHES`, e.g. ``"x_learner"``.
    outcome : {"binary", "continuous"}
        Conversion-like 0/1 outcome or an amount such as revenue.
    control : str
        Arm value of the control group.
    categorical : sequence of str, default ()
        Feature columns holding categories.
    params : dict, optional
        LightGBM parameters of the base learners.
    random_state : int, default 0

    Attributes
    ----------
    variants_ : tuple of str
        Treated arms, in the order of :meth:`predict_frame`'s columns.
    learners_ : dict of str to estimator
        One fitted learner per variant.
    feature_names_in_ : ndarray of str
    categories_ : dict of str to list of str
    calibration_ : UpliftCalibration or None
        Set by :meth:`calibrate`: sizes and group evidence measured by
        cross-fitting on the training customers. With it,
        :meth:`predict_frame` returns calibrated uplift and its evidence.
    """

    def __init__(
        self,
        *,
        approach: str,
        outcome: str,
        control: str,
        categorical: Sequence[str] = (),
        params: dict[str, Any] | None = None,
        random_state: int = 0,
    ):
        self.approach = approach
        self.outcome = outcome
        self.control = control
        self.categorical = categorical
        self.params = params
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: Sequence[float], arm: Sequence[str]) -> UpliftModel:
        """Fit one learner per treated arm on that arm's and control's customers.

        Parameters
        ----------
        X : pandas.DataFrame of shape (n_samples, n_features)
            Pre-treatment features.
        y : array-like of shape (n_samples,)
            Outcome.
        arm : array-like of shape (n_samples,)
            Each customer's arm; must contain ``control`` and at least one other value.
        """
        arms = pd.Series(np.asarray(arm, dtype=object), index=X.index).astype("string")
        outcome = np.asarray(y, dtype=float)
        if len(arms) != len(X) or len(outcome) != len(X):
            raise ValueError(
                "X, y and arm must have one row per customer; "
                f"got {len(X)}, {len(outcome)}, {len(arms)}."
            )
        if self.control not in set(arms):
            raise ValueError(f"control {self.control!r} is not among the arms {sorted(set(arms))}.")
        self.variants_ = tuple(sorted(set(arms) - {self.control}))
        if not self.variants_:
            raise ValueError("Every customer is in the control arm; there is nothing to compare.")
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        self.categories_ = {
            c: sorted(X[c].dropna().astype("string").unique().tolist()) for c in self.categorical
        }
        encoded = self._encode(X)
        template = make_learner(
            self.approach, outcome=self.outcome, params=self.params, random_state=self.random_state
        )
        self.calibration_: UpliftCalibration | None = None
        self.learners_ = {}
        for variant in self.variants_:
            rows = (arms == self.control) | (arms == variant)
            treatment = (arms[rows] == variant).astype(int).to_numpy()
            self.learners_[variant] = clone(template).fit(
                encoded[rows.to_numpy()], outcome[rows.to_numpy()], treatment
            )
        return self

    def encode(self, X: pd.DataFrame) -> np.ndarray:
        """The learners' float matrix of ``X`` (:func:`~upseg.models.encoding.feature_matrix`).

        :meth:`predict_frame` also takes this matrix, so a caller that scores
        several models on the same columns encodes a chunk once.
        """
        return feature_matrix(X, list(self.feature_names_in_), self.categories_)

    def _encode(self, X: pd.DataFrame | np.ndarray) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame):
            return encode_features(X, list(self.feature_names_in_), self.categories_)
        matrix = encoded_matrix(X, len(self.feature_names_in_))
        # The learners were fitted on named columns: keep the names (no copy of the data).
        return pd.DataFrame(matrix, columns=list(self.feature_names_in_), copy=False)

    def use_threads(self, n_jobs: int | None) -> UpliftModel:
        """Set the threads every LightGBM base learner predicts with; returns self.

        Training keeps one thread per learner (cross-fitting runs many at once);
        a scorer predicting one large chunk at a time gains from all cores (``-1``).
        """
        for learner in getattr(self, "learners_", {}).values():
            for estimator in lgbm_estimators(learner):
                estimator.set_params(n_jobs=n_jobs)
        return self

    def prediction_trees(self) -> dict[str, float]:
        """Trees evaluated per customer to predict each variant's uplift: the cost of scoring.

        Summed over the variants it is what :meth:`predict_frame` walks per
        customer. A variant's value is NaN when its learner cannot say (a learner
        without ``prediction_trees``, or base estimators other than LightGBM).
        """
        trees = {}
        for variant, learner in self.learners_.items():
            count = getattr(learner, "prediction_trees", None)
            trees[variant] = float(count()) if callable(count) else math.nan
        return trees

    def calibrate(self, calibration: UpliftCalibration) -> UpliftModel:
        """Attach ``calibration`` (:func:`~upseg.models.uplift.calibrator.fit_calibration`)."""
        if set(calibration.variants) != set(self.variants_):
            raise ValueError(
                f"The calibration covers variants {sorted(calibration.variants)}; "
                f"the model predicts {sorted(self.variants_)}."
            )
        self.calibration_ = calibration
        return self

    def predict_frame(self, X: pd.DataFrame | np.ndarray, *, raw: bool = False) -> pd.DataFrame:
        """``uplift_<variant>`` for each variant, then ``uplift`` and ``best_variant``.

        ``uplift`` is the largest variant uplift and ``best_variant`` the arm
        that gives it. With a calibration attached (and ``raw`` false) the
        uplifts are calibrated and two columns follow, ``raw_uplift`` and
        ``evidence_of_uplift`` (:meth:`UpliftCalibration.apply
        <upseg.models.uplift.calibrator.UpliftCalibration.apply>`); ``raw=True``
        gives the learners' own predictions, which rank customers the same
        way whenever the calibration keeps a slope. ``X`` is a feature frame or
        its :meth:`encode` matrix (then the result has a range index).
        """
        calibration = getattr(self, "calibration_", None)
        if not raw and calibration is not None:
            return calibration.apply(self.predict_frame(X, raw=True))
        encoded = self._encode(X)
        per_variant = pd.DataFrame(
            {f"uplift_{v}": self.learners_[v].predict(encoded) for v in self.variants_},
            index=encoded.index,
        )
        values = per_variant.to_numpy()
        best = np.argmax(values, axis=1)
        per_variant["uplift"] = values[np.arange(len(values)), best]
        per_variant["best_variant"] = np.asarray(self.variants_, dtype=object)[best]
        return per_variant

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Uplift of the best variant against control, shape (n_samples,); calibrated if set."""
        return self.predict_frame(X)["uplift"].to_numpy()

    def variant_uplift(self, X: pd.DataFrame, variant: str) -> np.ndarray:
        """Raw uplift of one variant against control, shape (n_samples,)."""
        if variant not in getattr(self, "learners_", {}):
            raise ValueError(f"variant {variant!r} is not one of {list(self.variants_)}.")
        return self.learners_[variant].predict(self._encode(X))


def lgbm_estimators(obj: Any, depth: int = 0) -> list[Any]:
    """The fitted LightGBM scikit-learn models inside a learner, each once."""
    import lightgbm as lgb

    if isinstance(obj, lgb.LGBMModel):
        return [obj] if obj.__sklearn_is_fitted__() else []
    if depth > 4 or isinstance(obj, np.ndarray | pd.DataFrame | pd.Series | str | type):
        return []
    if isinstance(obj, dict):
        children = list(obj.values())
    elif isinstance(obj, list | tuple):
        children = list(obj)
    elif hasattr(obj, "__dict__"):
        children = list(vars(obj).values())
    else:
        return []
    found: list[Any] = []
    for child in children:
        for estimator in lgbm_estimators(child, depth + 1):
            if all(estimator is not seen for seen in found):
                found.append(estimator)
    return found
