"""Our own meta-learners, :class:`XLearner` and :class:`DRLearner`, on scikit-learn estimators."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted, validate_data

from upseg.models.uplift.learners._checks import _check_fit_inputs
from upseg.models.uplift.learners._trees import trees_per_row

__all__ = ["DRLearner", "XLearner"]


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

    def __init__(
        self, *, outcome_learner: Any, effect_learner: Any, propensity: Any = "constant"
    ) -> None:
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

    def prediction_trees(self) -> float:
        """Trees :meth:`predict` evaluates per customer: both effect models and the propensity.

        The outcome models are only used in fitting. NaN when a model is not LightGBM.
        """
        check_is_fitted(self, "treated_effect_model_")
        models = (self.control_effect_model_, self.treated_effect_model_, self.propensity_model_)
        return sum(trees_per_row(m) for m in models)


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
    ) -> None:
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

    def prediction_trees(self) -> float:
        """Trees :meth:`predict` evaluates per customer: the effect model's.

        The nuisance models are discarded after fitting. NaN when it is not LightGBM.
        """
        check_is_fitted(self, "effect_model_")
        return trees_per_row(self.effect_model_)
