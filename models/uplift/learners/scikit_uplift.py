"""scikit-uplift's S-learner, T-learner and class transformation behind our learners' contract."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, clone, is_classifier
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data
from sklift.models import ClassTransformation, SoloModel, TwoModels

from upseg.models.uplift.learners._checks import _check_fit_inputs
from upseg.models.uplift.learners._trees import trees_per_row

__all__ = ["SkliftLearner"]

# Columns scikit-uplift appends to X (SoloModel, TwoModels with ddr_*); a feature of the
# same name would be overwritten without a word.
_SKLIFT_COLUMNS = ("treatment", "ddr_control", "ddr_treatment")
_SKLIFT_SUFFIX = "_treatment_interaction"


class _RegressorWithProba(RegressorMixin, BaseEstimator):
    """A regressor whose ``predict_proba(X)[:, 1]`` is its prediction.

    scikit-uplift 0.5.1 reads ``predict_proba`` whenever ``type_of_target(y)`` is
    "binary", i.e. whenever y has at most two distinct integral values: revenue of a
    single-price product (0 or 49.0) makes its regressors raise AttributeError.
    """

    def __init__(self, *, regressor: Any) -> None:
        self.regressor = regressor

    def fit(self, X: Any, y: Any, **fit_params: Any) -> _RegressorWithProba:
        self.regressor_ = clone(self.regressor).fit(X, y, **fit_params)
        return self

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(self.regressor_.predict(X), dtype=float)

    def predict_proba(self, X: Any) -> np.ndarray:
        p = self.predict(X)
        return np.column_stack([1 - p, p])


def _estimators_of(model: Any) -> dict[str, Any]:
    """The base estimators among the parameters of a scikit-uplift model."""
    return {k: v for k, v in model.get_params(deep=False).items() if k.startswith("estimator")}


class SkliftLearner(BaseEstimator):
    """A scikit-uplift model behind the same checks and contract as the other learners.

    Wraps :class:`sklift.models.SoloModel`, :class:`sklift.models.TwoModels` or
    :class:`sklift.models.ClassTransformation` (scikit-uplift 0.5.1) and works around
    what goes wrong with them as they are:

    - they fit the estimators they were given in place; here ``model`` is cloned at
      every ``fit`` and the fitted copy is ``model_``;
    - ``ClassTransformation`` keeps no attribute ending in ``_``, so scikit-learn
      (1.9 here) takes it for unfitted and ``Pipeline.predict``, which checks its last
      step, raises NotFittedError; ``model_`` marks this wrapper as fitted.
      (``SoloModel`` and ``TwoModels`` set ``trmnt_preds_`` in ``__init__`` and so look
      fitted from birth; ``check_is_fitted`` is meaningless on all three.)
    - ``SoloModel`` aligns a pandas ``treatment`` on the index of X, so a Series with
      another index silently yields a NaN treatment column (method "dummy") or a
      LightGBM length error ("treatment_interaction"); y and treatment are passed on
      as NumPy arrays, by position;
    - with regressors, y with two distinct integral values (revenue of one price) is
      "binary" to scikit-uplift, which then calls ``predict_proba`` on the regressor;
      such regressors are wrapped so that ``predict_proba(X)[:, 1]`` is their
      prediction;
    - ``ClassTransformation`` estimates ``2 P(Z=1 | x) - 1`` with
      ``Z = y T + (1 - y)(1 - T)``, which equals the uplift only when half the rows are
      treated. Rows are weighted ``0.5 / share`` (treated) and ``0.5 / (1 - share)``
      (control) so that the arms weigh the same, as Jaskowski & Jaroszewicz (2012)
      suggest; this needs an estimator whose ``fit`` takes ``sample_weight``
      (LightGBM's does) whenever the arms are unequal;
    - features named like the columns scikit-uplift appends (``treatment``,
      ``ddr_control``, ``ddr_treatment``, ``*_treatment_interaction``) would be
      overwritten; they are refused.

    Parameters
    ----------
    model : SoloModel, TwoModels or ClassTransformation
        Unfitted template; its estimators are classifiers for a binary outcome,
        regressors for a continuous one.

    Attributes
    ----------
    model_ : SoloModel, TwoModels or ClassTransformation
        Fitted clone of ``model``.
    n_features_in_ : int
        Number of columns of X.
    feature_names_in_ : ndarray of str of shape (n_features_in_,)
        Column names of X, when X is a DataFrame with string column names.

    References
    ----------
    Jaskowski, M. & Jaroszewicz, S. (2012). Uplift modeling for clinical trial data.
    ICML 2012 Workshop on Clinical Data Analysis.
    """

    def __init__(self, *, model: Any) -> None:
        self.model = model

    def fit(self, X: Any, y: Any, treatment: Any) -> SkliftLearner:
        """Fit a clone of ``model``.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Numeric features; NaN allowed if the estimators accept it (LightGBM does).
        y : array-like of shape (n_samples,)
            Outcome: 0/1 when the estimators are classifiers, else real.
        treatment : array-like of shape (n_samples,)
            1 for treated rows, 0 for control rows; both arms must be present.

        Returns
        -------
        self : SkliftLearner
        """
        name = type(self).__name__
        allowed = (SoloModel, TwoModels, ClassTransformation)
        if not isinstance(self.model, allowed):
            raise ValueError(
                f"The 'model' parameter of {name} must be a scikit-uplift SoloModel, "
                f"TwoModels or ClassTransformation; got {self.model!r}."
            )
        estimators = _estimators_of(self.model)
        binary = any(hasattr(est, "fit") and is_classifier(est) for est in estimators.values())
        if isinstance(self.model, ClassTransformation) and not binary:
            raise ValueError(
                f"{name}: ClassTransformation needs a classifier and a binary outcome; "
                f"got the estimator {self.model.estimator!r}."
            )
        y, t = _check_fit_inputs(name, X, y, treatment, binary=binary)
        if isinstance(X, pd.DataFrame):
            clashes = [
                c for c in map(str, X.columns) if c in _SKLIFT_COLUMNS or c.endswith(_SKLIFT_SUFFIX)
            ]
            if clashes:
                raise ValueError(
                    f"{name}.fit: X has column(s) {clashes} whose names scikit-uplift uses "
                    f"for the columns it appends ({list(_SKLIFT_COLUMNS)} and "
                    f"'*{_SKLIFT_SUFFIX}'); rename them."
                )
        validate_data(self, X, skip_check_array=True)

        model = clone(self.model)
        if not binary and type_of_target(y) == "binary":
            model.set_params(
                **{k: _RegressorWithProba(regressor=v) for k, v in _estimators_of(model).items()}
            )
        if isinstance(model, ClassTransformation):
            share = t.mean()
            weights = np.where(t == 1, 0.5 / share, 0.5 / (1 - share))
            params = {} if np.allclose(weights, 1) else {"sample_weight": weights}
            model.fit(X, y.astype(int), t, estimator_fit_params=params)
        else:
            model.fit(X, y, t)
        self.model_ = model
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Estimated uplift tau(x).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Same columns as in ``fit``.

        Returns
        -------
        uplift : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "model_")
        validate_data(self, X, reset=False, skip_check_array=True)
        return np.asarray(self.model_.predict(X), dtype=float)

    def prediction_trees(self) -> float:
        """Trees :meth:`predict` evaluates per customer: the cost of predicting.

        The S-learners predict their one model twice (treated and not), the
        T-learners each arm's model once, the class transformation its one
        model. NaN when a base estimator is not LightGBM.
        """
        check_is_fitted(self, "model_")
        trees = sum(trees_per_row(e) for e in _estimators_of(self.model_).values())
        return 2 * trees if isinstance(self.model_, SoloModel) else trees
