"""Uplift meta-learners on LightGBM behind one interface: ``fit(X, y, treatment)``, ``predict(X)``.

Every learner estimates the conditional average treatment effect (CATE)

    tau(x) = E[Y | T=1, X=x] - E[Y | T=0, X=x]

of one treatment against its control, for a binary outcome (conversion; the outcome
models are classifiers and ``predict_proba(X)[:, 1]`` is read) or a continuous one
(revenue; the outcome models are regressors). ``predict`` returns tau(x) in the
outcome's unit: a difference of conversion probabilities (0.05 is 5 percentage
points) or money per customer.

Two learners are written here, :class:`XLearner` and :class:`DRLearner`; the
S-learner, T-learner (with its dependent-data-representation variants) and the
class transformation come from scikit-uplift, wrapped in :class:`SkliftLearner` so
that all of them validate their inputs the same way, never fit the estimator they
were given, and work as the last step of a scikit-learn ``Pipeline``
(``pipe.fit(X, y, learner__treatment=t)``). :func:`make_learner` builds any of them
by name with LightGBM base learners.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, clone, is_classifier
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data
from sklift.models import ClassTransformation, SoloModel, TwoModels

__all__ = [
    "APPROACHES",
    "DEFAULT_PARAMS",
    "EFFECT_PARAMS",
    "OUTCOMES",
    "DRLearner",
    "SkliftLearner",
    "XLearner",
    "approaches_for",
    "make_learner",
]

#: Names accepted by :func:`make_learner`, from the simplest to the most elaborate.
APPROACHES: tuple[str, ...] = (
    "s_learner",
    "s_learner_interaction",
    "t_learner",
    "t_learner_ddr_control",
    "t_learner_ddr_treatment",
    "class_transformation",
    "x_learner",
    "dr_learner",
)

#: Kinds of outcome: conversion (0/1) or an amount such as revenue.
OUTCOMES: tuple[str, ...] = ("binary", "continuous")

#: LightGBM defaults of the base learners. Uplift is a small difference between two
#: noisy responses, so the trees are kept shallow (15 leaves), leaves large (100 rows)
#: and rows and columns subsampled: variance, not bias, is what hurts an uplift ranking.
DEFAULT_PARAMS: dict[str, Any] = {
    "n_estimators": 200,
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_child_samples": 100,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "verbose": -1,
    "n_jobs": 1,
}

#: Overrides of :data:`DEFAULT_PARAMS` for the effect models of the X- and DR-learners.
#: Their targets (imputed effects, pseudo-outcomes) carry the noise of y and of the
#: outcome models around a signal that is small and, in practice, simple; fewer and
#: smaller trees rank customers better (Spearman with the true effect 0.63 -> 0.84 for the
#: X-learner, 0.53 -> 0.77 for the DR-learner on the simulated conversion test).
EFFECT_PARAMS: dict[str, Any] = {"n_estimators": 100, "num_leaves": 7, "min_child_samples": 300}

# Columns scikit-uplift appends to X (SoloModel, TwoModels with ddr_*); a feature of the
# same name would be overwritten without a word.
_SKLIFT_COLUMNS = ("treatment", "ddr_control", "ddr_treatment")
_SKLIFT_SUFFIX = "_treatment_interaction"


# --------------------------------------------------------------------------- validation


def _values(values: np.ndarray, limit: int = 10) -> str:
    """The distinct values of ``values``, at most ``limit`` of them, for an error message."""
    try:
        distinct = np.unique(values)
    except TypeError:  # mixed types cannot be sorted
        distinct = pd.unique(pd.Series(values, copy=False))
    shown = ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in distinct[:limit])
    return f"[{shown}{', …' if len(distinct) > limit else ''}]"


def _check_fit_inputs(
    owner: str, X: Any, y: Any, treatment: Any, *, binary: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``y`` as float and ``treatment`` as int arrays, after checking them against ``X``.

    Every problem found is reported in one ``ValueError``.
    """
    where = f"{owner}.fit"
    if isinstance(X, pd.DataFrame):
        bad = [str(c) for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
        if bad:
            raise ValueError(
                f"{where}: X must be numeric (encode categories as ordinal codes first); "
                f"column(s) {bad} have dtype(s) {[str(X[c].dtype) for c in bad]}."
            )
    elif np.ndim(X) != 2:
        raise ValueError(f"{where}: X must be 2-dimensional; got {np.ndim(X)} dimension(s).")
    y_arr, t_arr = np.asarray(y), np.asarray(treatment)
    lengths = (len(X), len(y_arr) if y_arr.ndim else 0, len(t_arr) if t_arr.ndim else 0)
    if y_arr.ndim != 1 or t_arr.ndim != 1 or len(set(lengths)) > 1:
        raise ValueError(
            f"{where}: X, y and treatment must have one row per customer (y and treatment "
            f"1-dimensional); got {lengths[0]} rows in X, y of shape {y_arr.shape} and "
            f"treatment of shape {t_arr.shape}."
        )

    problems = []
    if not np.isin(t_arr, [0, 1]).all():
        problems.append(
            "treatment must be 0 (control) or 1 (treated) in every row; "
            f"got values {_values(t_arr)}"
        )
    else:
        t_arr = t_arr.astype(int)
        n_treated = int(t_arr.sum())
        if n_treated in (0, len(t_arr)):
            arm = "treated (1)" if n_treated else "control (0)"
            problems.append(
                "treatment must contain both arms, control (0) and treated (1); "
                f"got only {arm} rows ({len(t_arr)} of them)"
            )
    if not (pd.api.types.is_numeric_dtype(y_arr.dtype) or y_arr.dtype == bool):
        problems.append(f"y must be numeric; got dtype {y_arr.dtype}")
    else:
        y_arr = y_arr.astype(float)
        if not np.isfinite(y_arr).all():
            problems.append(f"y must be finite; got {int((~np.isfinite(y_arr)).sum())} NaN/inf")
        elif binary and not np.isin(y_arr, [0, 1]).all():
            problems.append(
                "y must be 0 or 1 for a binary outcome (the outcome model is a classifier); "
                f"got values {_values(y_arr)}"
            )
        elif binary and not problems:
            for arm, name in ((0, "control"), (1, "treated")):
                seen = np.unique(y_arr[t_arr == arm])
                if len(seen) < 2:
                    problems.append(
                        f"y must take both values 0 and 1 within each arm for a classifier "
                        f"to learn from; the {name} arm has only y={seen[0]:g}"
                    )
    if len(problems) == 1:
        raise ValueError(f"{where}: {problems[0]}.")
    if problems:
        listed = "; ".join(f"({i}) {p}" for i, p in enumerate(problems, start=1))
        raise ValueError(f"{where}: {len(problems)} problems with the data: {listed}.")
    return y_arr, t_arr


def _check_propensity(owner: str, propensity: Any) -> None:
    if isinstance(propensity, str) and propensity == "constant":
        return
    if not (hasattr(propensity, "predict_proba") and is_classifier(propensity)):
        raise ValueError(
            f"The 'propensity' parameter of {owner} must be 'constant' (the treated share, "
            "right for a randomized experiment) or a classifier with predict_proba fitted "
            f"on (X, treatment), e.g. LGBMClassifier(); got {propensity!r}."
        )


def _check_learners(owner: str, outcome_learner: Any, effect_learner: Any) -> None:
    problems = []
    for name, est in (("outcome_learner", outcome_learner), ("effect_learner", effect_learner)):
        if not (hasattr(est, "fit") and hasattr(est, "predict")):
            problems.append(f"'{name}' must be an estimator with fit and predict; got {est!r}")
    if not problems and is_classifier(effect_learner):
        problems.append(
            "'effect_learner' must be a regressor (it learns real-valued effects); "
            f"got the classifier {effect_learner!r}"
        )
    if problems:
        raise ValueError(f"The parameters of {owner} are invalid: " + "; ".join(problems) + ".")


# ----------------------------------------------------------------------------- helpers


def _rows(X: Any, mask: np.ndarray) -> Any:
    """Rows of a DataFrame or array selected by a boolean mask or positions."""
    return X.iloc[mask] if isinstance(X, pd.DataFrame) else np.asarray(X)[mask]


def _response(model: Any) -> Callable[[Any], np.ndarray]:
    """The expected outcome given X: P(y=1) from a classifier, the prediction of a regressor."""
    if is_classifier(model):
        return lambda X: model.predict_proba(X)[:, 1]
    return lambda X: np.asarray(model.predict(X), dtype=float)


def _propensity_scores(model: Any, share: float, X: Any) -> np.ndarray:
    """P(T=1 | X=x) from a fitted classifier, or the constant treated share."""
    if model is None:
        return np.full(len(X), share)
    return model.predict_proba(X)[:, 1]


# ---------------------------------------------------------------------------- X-learner


class XLearner(BaseEstimator):
    """X-learner: effects imputed across arms, regressed on X, blended by the propensity.

    1. Outcome models mu0 on the control rows and mu1 on the treated rows.
    2. Imputed effects ``D1 = y - mu0(x)`` on treated rows, ``D0 = mu1(x) - y`` on control rows.
    3. Effect models tau1 on (X1, D1) and tau0 on (X0, D0).
    4. ``tau(x) = e(x) tau0(x) + (1 - e(x)) tau1(x)`` with e the propensity: the effect
       model of the larger arm gets the larger weight.

    Parameters
    ----------
    outcome_learner : estimator
        Template of mu0 and mu1: a classifier for a binary outcome (its
        ``predict_proba(X)[:, 1]`` is read), a regressor for a continuous one.
    effect_learner : regressor
        Template of tau0 and tau1.
    propensity : "constant" or classifier, default "constant"
        e(x) = P(T=1 | X=x). "constant" uses the treated share, right for a randomized
        experiment; a classifier is fitted on (X, treatment) for observational data.

    Attributes
    ----------
    control_model_, treated_model_ : estimator
        mu0 and mu1, fitted clones of ``outcome_learner``.
    control_effect_model_, treated_effect_model_ : estimator
        tau0 and tau1, fitted clones of ``effect_learner``.
    propensity_model_ : classifier or None
        Fitted clone of ``propensity``; None when it is "constant".
    treated_share_ : float
        Share of treated rows in the training data.
    n_features_in_ : int
        Number of columns of X.
    feature_names_in_ : ndarray of str of shape (n_features_in_,)
        Column names of X, when X is a DataFrame with string column names.

    Notes
    -----
    The estimators given are cloned (:func:`sklearn.base.clone`), never fitted in place.

    References
    ----------
    Künzel, S. R., Sekhon, J. S., Bickel, P. J. & Yu, B. (2019). Metalearners for
    estimating heterogeneous treatment effects using machine learning. PNAS 116(10),
    4156-4165. https://doi.org/10.1073/pnas.1804597116
    """

    def __init__(self, *, outcome_learner: Any, effect_learner: Any, propensity: Any = "constant"):
        self.outcome_learner = outcome_learner
        self.effect_learner = effect_learner
        self.propensity = propensity

    def fit(self, X: Any, y: Any, treatment: Any) -> XLearner:
        """Fit the outcome, effect and propensity models.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Numeric features; NaN allowed if the base learners accept it (LightGBM does).
        y : array-like of shape (n_samples,)
            Outcome: 0/1 when ``outcome_learner`` is a classifier, else real.
        treatment : array-like of shape (n_samples,)
            1 for treated rows, 0 for control rows; both arms must be present.

        Returns
        -------
        self : XLearner
        """
        name = type(self).__name__
        _check_learners(name, self.outcome_learner, self.effect_learner)
        _check_propensity(name, self.propensity)
        y, t = _check_fit_inputs(name, X, y, treatment, binary=is_classifier(self.outcome_learner))
        validate_data(self, X, skip_check_array=True)
        treated, control = t == 1, t == 0
        X1, X0 = _rows(X, treated), _rows(X, control)

        self.control_model_ = clone(self.outcome_learner).fit(X0, y[control])
        self.treated_model_ = clone(self.outcome_learner).fit(X1, y[treated])
        d1 = y[treated] - _response(self.control_model_)(X1)
        d0 = _response(self.treated_model_)(X0) - y[control]
        self.treated_effect_model_ = clone(self.effect_learner).fit(X1, d1)
        self.control_effect_model_ = clone(self.effect_learner).fit(X0, d0)

        self.treated_share_ = float(t.mean())
        self.propensity_model_ = None
        if not isinstance(self.propensity, str):
            self.propensity_model_ = clone(self.propensity).fit(X, t)
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
        check_is_fitted(self, "treated_effect_model_")
        validate_data(self, X, reset=False, skip_check_array=True)
        e = _propensity_scores(self.propensity_model_, self.treated_share_, X)
        tau0 = np.asarray(self.control_effect_model_.predict(X), dtype=float)
        tau1 = np.asarray(self.treated_effect_model_.predict(X), dtype=float)
        return e * tau0 + (1 - e) * tau1


# --------------------------------------------------------------------------- DR-learner


class DRLearner(BaseEstimator):
    """Doubly robust learner: cross-fitted AIPW pseudo-outcomes regressed on X.

    For each of ``n_folds`` folds the nuisance models (mu0 on control rows, mu1 on
    treated rows, and e if estimated) are fitted on the other folds and predict the
    fold. With these out-of-fold predictions the pseudo-outcome

        phi = mu1 - mu0 + T (y - mu1) / e - (1 - T) (y - mu0) / (1 - e)

    has conditional mean tau(x) if either the outcome models or the propensity are
    right; ``effect_learner`` regresses phi on X over all rows.

    Parameters
    ----------
    outcome_learner : estimator
        Template of mu0 and mu1: a classifier for a binary outcome (its
        ``predict_proba(X)[:, 1]`` is read), a regressor for a continuous one.
    effect_learner : regressor
        Final regression of the pseudo-outcome on X.
    propensity : "constant" or classifier, default "constant"
        e(x) = P(T=1 | X=x). "constant" uses the treated share, right for a randomized
        experiment; a classifier is cross-fitted on (X, treatment) for observational data.
    n_folds : int, default 5
        Folds of the cross-fitting, stratified on (treatment, y > 0).
    clip : float, default 0.01
        Propensities are clipped to ``[clip, 1 - clip]`` so that no row's weight
        1/e or 1/(1-e) exceeds ``1 / clip``.
    random_state : int, default 0
        Seed of the fold assignment.

    Attributes
    ----------
    effect_model_ : estimator
        Fitted clone of ``effect_learner``: the CATE model used by ``predict``.
    ate_ : float
        Mean pseudo-outcome: the cross-fitted AIPW estimate of the average effect.
    ate_se_ : float
        Its standard error, ``std(phi) / sqrt(n)``.
    treated_share_ : float
        Share of treated rows in the training data.
    n_features_in_ : int
        Number of columns of X.
    feature_names_in_ : ndarray of str of shape (n_features_in_,)
        Column names of X, when X is a DataFrame with string column names.

    Notes
    -----
    The nuisance models of the folds are discarded after fitting; only the effect
    model is needed to predict. The estimators given are cloned, never fitted in place.

    References
    ----------
    Kennedy, E. H. (2023). Towards optimal doubly robust estimation of heterogeneous
    causal effects. Electronic Journal of Statistics 17(2), 3008-3049.
    https://doi.org/10.1214/23-EJS2157
    """

    def __init__(
        self,
        *,
        outcome_learner: Any,
        effect_learner: Any,
        propensity: Any = "constant",
        n_folds: int = 5,
        clip: float = 0.01,
        random_state: int | None = 0,
    ):
        self.outcome_learner = outcome_learner
        self.effect_learner = effect_learner
        self.propensity = propensity
        self.n_folds = n_folds
        self.clip = clip
        self.random_state = random_state

    def _check_params(self) -> None:
        name = type(self).__name__
        _check_learners(name, self.outcome_learner, self.effect_learner)
        _check_propensity(name, self.propensity)
        if isinstance(self.n_folds, bool) or not isinstance(self.n_folds, int | np.integer):
            raise ValueError(
                f"The 'n_folds' parameter of {name} must be an int >= 2; got {self.n_folds!r}."
            )
        if self.n_folds < 2:
            raise ValueError(
                f"The 'n_folds' parameter of {name} must be an int >= 2; got {self.n_folds}."
            )
        if not (isinstance(self.clip, float | int) and 0 <= self.clip < 0.5):
            raise ValueError(
                f"The 'clip' parameter of {name} must be a number in [0, 0.5); got {self.clip!r}."
            )

    def fit(self, X: Any, y: Any, treatment: Any) -> DRLearner:
        """Cross-fit the nuisance models, then regress the pseudo-outcome on X.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Numeric features; NaN allowed if the base learners accept it (LightGBM does).
        y : array-like of shape (n_samples,)
            Outcome: 0/1 when ``outcome_learner`` is a classifier, else real.
        treatment : array-like of shape (n_samples,)
            1 for treated rows, 0 for control rows; both arms must be present.

        Returns
        -------
        self : DRLearner
        """
        self._check_params()
        name = type(self).__name__
        y, t = _check_fit_inputs(name, X, y, treatment, binary=is_classifier(self.outcome_learner))
        validate_data(self, X, skip_check_array=True)
        strata = 2 * t + (y > 0)
        labels, counts = np.unique(strata, return_counts=True)
        if counts.min() < self.n_folds:
            described = {
                f"treatment={s // 2}, y{'>' if s % 2 else '<='}0": int(c)
                for s, c in zip(labels, counts, strict=True)
            }
            raise ValueError(
                f"{name}.fit: cross-fitting with n_folds={self.n_folds} needs at least "
                f"{self.n_folds} rows in each (treatment, y > 0) group; got {described}."
            )

        self.treated_share_ = float(t.mean())
        mu0, mu1 = np.empty(len(y)), np.empty(len(y))
        e = np.full(len(y), self.treated_share_)
        folds = StratifiedKFold(self.n_folds, shuffle=True, random_state=self.random_state)
        for train, test in folds.split(np.zeros(len(y)), strata):
            X_train, X_test = _rows(X, train), _rows(X, test)
            for arm, out in ((0, mu0), (1, mu1)):
                rows = train[t[train] == arm]
                model = clone(self.outcome_learner).fit(_rows(X, rows), y[rows])
                out[test] = _response(model)(X_test)
            if not isinstance(self.propensity, str):
                model = clone(self.propensity).fit(X_train, t[train])
                e[test] = model.predict_proba(X_test)[:, 1]
        e = np.clip(e, self.clip, 1 - self.clip)

        phi = mu1 - mu0 + t * (y - mu1) / e - (1 - t) * (y - mu0) / (1 - e)
        self.ate_ = float(phi.mean())
        self.ate_se_ = float(phi.std(ddof=1) / np.sqrt(len(phi)))
        self.effect_model_ = clone(self.effect_learner).fit(X, phi)
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
        check_is_fitted(self, "effect_model_")
        validate_data(self, X, reset=False, skip_check_array=True)
        return np.asarray(self.effect_model_.predict(X), dtype=float)


# ------------------------------------------------------------------ scikit-uplift models


class _RegressorWithProba(RegressorMixin, BaseEstimator):
    """A regressor whose ``predict_proba(X)[:, 1]`` is its prediction.

    scikit-uplift 0.5.1 reads ``predict_proba`` whenever ``type_of_target(y)`` is
    "binary", i.e. whenever y has at most two distinct integral values: revenue of a
    single-price product (0 or 49.0) makes its regressors raise AttributeError.
    """

    def __init__(self, *, regressor: Any):
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

    def __init__(self, *, model: Any):
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


# ------------------------------------------------------------------------------ factory


def approaches_for(outcome: str) -> tuple[str, ...]:
    """The names of :data:`APPROACHES` that apply to ``outcome`` ("binary" or "continuous")."""
    _check_outcome("approaches_for", outcome)
    if outcome == "binary":
        return APPROACHES
    return tuple(a for a in APPROACHES if a != "class_transformation")


def _check_outcome(where: str, outcome: str) -> None:
    if outcome not in OUTCOMES:
        raise ValueError(
            f"The 'outcome' argument of {where} must be one of {list(OUTCOMES)}; got {outcome!r}."
        )


def make_learner(
    approach: str,
    *,
    outcome: str,
    params: dict[str, Any] | None = None,
    random_state: int = 0,
) -> SkliftLearner | XLearner | DRLearner:
    """An unfitted uplift learner with LightGBM base learners.

    Parameters
    ----------
    approach : str
        One of :data:`APPROACHES`:

        - "s_learner": one model with the treatment as a feature (SoloModel "dummy");
        - "s_learner_interaction": the same plus every feature times the treatment
          (SoloModel "treatment_interaction");
        - "t_learner": one model per arm (TwoModels "vanilla");
        - "t_learner_ddr_control", "t_learner_ddr_treatment": the model of one arm is
          a feature of the other's (TwoModels "ddr_control" / "ddr_treatment");
        - "class_transformation": a classifier of ``Z = y T + (1 - y)(1 - T)``; binary
          outcome only;
        - "x_learner": :class:`XLearner`; "dr_learner": :class:`DRLearner`, both with a
          constant propensity (set ``propensity`` for observational data).
    outcome : {"binary", "continuous"}
        Conversion (classifiers, probabilities) or an amount (regressors).
    params : dict, optional
        LightGBM parameters overriding :data:`DEFAULT_PARAMS` (and, for the effect
        models of the X- and DR-learners, :data:`EFFECT_PARAMS`) in every base learner.
    random_state : int, default 0
        Seed of LightGBM's subsampling and of the DR-learner's folds.

    Returns
    -------
    learner : SkliftLearner, XLearner or DRLearner
        With ``fit(X, y, treatment)`` and ``predict(X) -> ndarray of shape (n_samples,)``.
    """
    if approach not in APPROACHES:
        raise ValueError(
            f"The 'approach' argument of make_learner must be one of {list(APPROACHES)}; "
            f"got {approach!r}."
        )
    _check_outcome("make_learner", outcome)
    if approach not in approaches_for(outcome):
        raise ValueError(
            f"The approach {approach!r} needs a binary outcome (it classifies "
            f"Z = y T + (1 - y)(1 - T)); got outcome={outcome!r}. Approaches for a "
            f"{outcome} outcome: {list(approaches_for(outcome))}."
        )
    lgb_params = {**DEFAULT_PARAMS, "random_state": random_state, **(params or {})}
    effect_params = {**DEFAULT_PARAMS, **EFFECT_PARAMS, "random_state": random_state}
    effect_params.update(params or {})

    def response() -> lgb.LGBMModel:
        if outcome == "binary":
            return lgb.LGBMClassifier(**lgb_params)
        return lgb.LGBMRegressor(**lgb_params)

    if approach == "x_learner":
        return XLearner(
            outcome_learner=response(), effect_learner=lgb.LGBMRegressor(**effect_params)
        )
    if approach == "dr_learner":
        return DRLearner(
            outcome_learner=response(),
            effect_learner=lgb.LGBMRegressor(**effect_params),
            random_state=random_state,
        )
    if approach == "class_transformation":
        return SkliftLearner(model=ClassTransformation(response()))
    if approach.startswith("s_learner"):
        method = "treatment_interaction" if approach.endswith("interaction") else "dummy"
        return SkliftLearner(model=SoloModel(response(), method=method))
    method = approach.removeprefix("t_learner_") if approach != "t_learner" else "vanilla"
    return SkliftLearner(model=TwoModels(response(), response(), method=method))
