"""LightGBM regressors of a customer's future revenue: zero-inflated lognormal or Tweedie.

Most customers spend nothing in the horizon and the rest spend amounts with a
long right tail, so squared error is a poor loss: a few big spenders decide
the fit. Two losses made for such targets are offered:

- ``"ziln"``, the zero-inflated lognormal of Wang, Liu & Miao (2019): three
  outputs per customer, the probability ``p`` of spending anything, and the
  mean ``mu`` and log-scale ``s`` of the log of the amount when they do. The
  loss is the negative log-likelihood ``BCE(p) + [y > 0] (log y + s +
  (log y - mu)^2 / (2 exp(2 s)))``; the prediction is its mean ``p exp(mu +
  exp(2 s) / 2)``. Boosted here as LightGBM's three-output (multiclass) model
  with a custom objective: one tree per output and round, Newton steps with the
  exact Hessians of ``p`` and ``mu`` and the Fisher information (2) of ``s``.
- ``"tweedie"``, LightGBM's own compound Poisson-gamma deviance (log link),
  with a point mass at zero and a continuous positive part.

References
----------
.. [1] Wang, X., Liu, T. and Miao, J. (2019). A deep probabilistic model for
   customer lifetime value prediction. arXiv:1912.07753.
.. [2] Zhou, H., Yang, Y. and Qian, W. (2022). Tweedie gradient boosting for
   extremely unbalanced zero-inflated data. *Communications in Statistics -
   Simulation and Computation*, 51(9).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.special import expit, log_expit
from sklearn.base import BaseEstimator, RegressorMixin

from upseg.models.classifier import DEFAULT_PARAMS, model_frame

__all__ = ["LOSSES", "LGBMRevenueRegressor", "ziln_loss"]

LOSSES = ("ziln", "tweedie")
#: Bounds of the log-scale ``s`` of the ZILN: sigma between 0.05 and 20 (log-dollars).
_LOG_SIGMA = (-3.0, 3.0)
#: Hessian floor where the ``mu`` output has no information (customers who spent nothing).
_MIN_HESSIAN = 1e-6

_FIXED_PARAMS: dict[str, Any] = {
    "deterministic": True,
    "force_row_wise": True,
    "verbosity": -1,
}


def _ziln_parts(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(logit p, mu, s)`` of raw scores of shape (n, 3), ``s`` clipped to its bounds."""
    return raw[:, 0], raw[:, 1], np.clip(raw[:, 2], *_LOG_SIGMA)


def ziln_loss(y: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """Per-customer ZILN negative log-likelihood, shape (n,).

    Parameters
    ----------
    y : ndarray of shape (n,)
        Amounts, >= 0.
    raw : ndarray of shape (n, 3)
        ``logit p``, ``mu`` and ``s`` (log of sigma).
    """
    logit, mu, s = _ziln_parts(raw)
    positive = y > 0
    log_y = np.log(np.where(positive, y, 1.0))
    classification = -np.where(positive, log_expit(logit), log_expit(-logit))
    lognormal = log_y + s + 0.5 * np.log(2 * np.pi) + (log_y - mu) ** 2 / (2 * np.exp(2 * s))
    return classification + np.where(positive, lognormal, 0.0)


def _ziln_objective(preds: np.ndarray, data: lgb.Dataset) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(data.get_label(), dtype=float)
    logit, mu, s = _ziln_parts(preds)
    positive = y > 0
    log_y = np.log(np.where(positive, y, 1.0))
    p = expit(logit)
    inv_var = np.exp(-2 * s)
    residual = np.where(positive, log_y - mu, 0.0)
    grad = np.column_stack(
        [
            p - positive,
            -residual * inv_var,
            np.where(positive, 1.0 - residual**2 * inv_var, 0.0),
        ]
    )
    hess = np.column_stack(
        [
            np.maximum(p * (1 - p), _MIN_HESSIAN),
            np.where(positive, inv_var, _MIN_HESSIAN),
            np.where(positive, 2.0, _MIN_HESSIAN),
        ]
    )
    return grad, hess


def _ziln_metric(preds: np.ndarray, data: lgb.Dataset) -> tuple[str, float, bool]:
    y = np.asarray(data.get_label(), dtype=float)
    return "ziln_nll", float(ziln_loss(y, preds).mean()), False


def _ziln_start(y: np.ndarray) -> np.ndarray:
    """Starting raw scores: the constant ZILN that fits ``y`` best."""
    positive = y > 0
    share = np.clip(positive.mean(), 1e-6, 1 - 1e-6)
    logs = np.log(y[positive])
    sigma = max(float(logs.std()), 0.1) if logs.size > 1 else 1.0
    mean = float(logs.mean()) if logs.size else 0.0
    return np.array([np.log(share / (1 - share)), mean, np.log(sigma)])


class LGBMRevenueRegressor(RegressorMixin, BaseEstimator):
    """Gradient-boosted trees predicting the expected amount a customer spends.

    Parameters
    ----------
    loss : {"ziln", "tweedie"}, default "ziln"
        Zero-inflated lognormal likelihood, or Tweedie deviance (see the module).
    params : dict, optional
        LightGBM parameters (learning rate, leaves, …); the classifier's
        :data:`~upseg.models.classifier.DEFAULT_PARAMS` when omitted. The
        objective and determinism settings are fixed.
    categorical : sequence of str, default ()
        Columns holding categories; every other column must be numeric or boolean.
    tweedie_variance_power : float, default 1.5
        Tweedie's power, in (1, 2); used only by ``loss="tweedie"``.
    n_estimators : int, default 2000
        Most boosting rounds; early stopping usually ends sooner.
    early_stopping_rounds : int, default 100
        Rounds without improvement of the validation loss before stopping.
    random_state : int, default 0
        Seed of LightGBM's bagging and feature sampling.
    n_jobs : int, optional
        LightGBM threads; all cores when omitted.

    Attributes
    ----------
    booster_ : lightgbm.Booster
    best_iteration_ : int
        Rounds kept.
    best_score_ : float
        Validation loss at ``best_iteration_`` (ZILN negative log-likelihood
        or Tweedie deviance per customer).
    init_score_ : ndarray
        The constant the trees start from (ZILN only; Tweedie's is in the booster).
    feature_names_in_ : ndarray of str
    categories_ : dict of str to list of str
    """

    def __init__(
        self,
        *,
        loss: str = "ziln",
        params: dict[str, Any] | None = None,
        categorical: Sequence[str] = (),
        tweedie_variance_power: float = 1.5,
        n_estimators: int = 2000,
        early_stopping_rounds: int = 100,
        random_state: int = 0,
        n_jobs: int | None = None,
    ):
        self.loss = loss
        self.params = params
        self.categorical = categorical
        self.tweedie_variance_power = tweedie_variance_power
        self.n_estimators = n_estimators
        self.early_stopping_rounds = early_stopping_rounds
        self.random_state = random_state
        self.n_jobs = n_jobs

    def lgb_params(self) -> dict[str, Any]:
        """The full parameter dict handed to :func:`lightgbm.train`."""
        params = {
            **DEFAULT_PARAMS,
            **(self.params or {}),
            **_FIXED_PARAMS,
            "seed": self.random_state,
        }
        if self.loss == "ziln":
            params |= {"objective": _ziln_objective, "num_class": 3, "metric": "None"}
        else:
            params |= {
                "objective": "tweedie",
                "tweedie_variance_power": self.tweedie_variance_power,
                "metric": "tweedie",
            }
        if self.n_jobs is not None:
            params["num_threads"] = self.n_jobs
        return params

    def fit(
        self,
        X: pd.DataFrame,
        y: Sequence[float],
        *,
        X_valid: pd.DataFrame,
        y_valid: Sequence[float],
    ) -> LGBMRevenueRegressor:
        """Train on ``X`` and stop early on ``(X_valid, y_valid)``.

        Parameters
        ----------
        X : pandas.DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Amounts, finite and >= 0, some above zero.
        X_valid, y_valid
            Held-out rows, later in time than ``X``; they decide when to stop.

        Raises
        ------
        ValueError
            For an unknown ``loss``, a Tweedie power outside (1, 2), amounts that
            are negative, missing or all zero, or unknown categorical columns.
        """
        self._check_settings()
        amounts = _amounts(y, "y")
        amounts_valid = _amounts(y_valid, "y_valid")
        unknown = [c for c in self.categorical if c not in X.columns]
        if unknown:
            raise ValueError(f"categorical columns {unknown} are not columns of X.")
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        self.categories_ = {
            c: sorted(X[c].dropna().astype("string").unique().tolist()) for c in self.categorical
        }
        train = lgb.Dataset(self._frame(X), label=amounts, free_raw_data=True)
        valid = lgb.Dataset(self._frame(X_valid), label=amounts_valid, reference=train)
        feval = None
        if self.loss == "ziln":
            self.init_score_ = _ziln_start(amounts)
            train.set_init_score(np.tile(self.init_score_, (len(amounts), 1)))
            valid.set_init_score(np.tile(self.init_score_, (len(amounts_valid), 1)))
            feval = _ziln_metric
        self.booster_ = lgb.train(
            self.lgb_params(),
            train,
            num_boost_round=self.n_estimators,
            valid_sets=[valid],
            valid_names=["valid"],
            feval=feval,
            callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
        )
        self.best_iteration_ = int(
            self.booster_.best_iteration or self.booster_.current_iteration()
        )
        self.best_score_ = float(next(iter(self.booster_.best_score["valid"].values())))
        return self

    def _check_settings(self) -> None:
        errors = []
        if self.loss not in LOSSES:
            errors.append(f"'loss' must be one of {', '.join(LOSSES)}; got {self.loss!r}")
        power = self.tweedie_variance_power
        if not isinstance(power, int | float) or not 1 < power < 2:
            errors.append(f"'tweedie_variance_power' must be in (1, 2); got {power!r}")
        if errors:
            raise ValueError(
                f"{len(errors)} error(s) in LGBMRevenueRegressor parameters: " + "; ".join(errors)
            )

    def _frame(self, X: pd.DataFrame) -> pd.DataFrame:
        return model_frame(X, list(self.feature_names_in_), self.categories_)

    def raw_score(self, X: pd.DataFrame) -> np.ndarray:
        """The booster's raw outputs: shape (n, 3) for ZILN (start included), (n,) for Tweedie."""
        raw = np.asarray(
            self.booster_.predict(
                self._frame(X), num_iteration=self.best_iteration_, raw_score=True
            )
        )
        return raw + self.init_score_ if self.loss == "ziln" else raw

    def predict_parts(self, X: pd.DataFrame) -> pd.DataFrame:
        """ZILN's ``p_purchase``, ``mu`` and ``sigma`` per customer (ZILN only)."""
        if self.loss != "ziln":
            raise ValueError(f"predict_parts needs loss='ziln'; this model has {self.loss!r}")
        logit, mu, s = _ziln_parts(self.raw_score(X))
        return pd.DataFrame(
            {"p_purchase": expit(logit), "mu": mu, "sigma": np.exp(s)}, index=X.index
        )

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Expected amount per customer, shape (n_samples,), >= 0."""
        raw = self.raw_score(X)
        if self.loss == "tweedie":
            return np.exp(raw)
        logit, mu, s = _ziln_parts(raw)
        return expit(logit) * np.exp(mu + np.exp(2 * s) / 2)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """TreeSHAP contributions per feature plus ``bias``, in the booster's raw space.

        For Tweedie each row sums to the log of the prediction; for ZILN they
        are the contributions to ``logit p`` (who buys at all), the output that
        separates most customers.
        """
        values = np.asarray(
            self.booster_.predict(
                self._frame(X), num_iteration=self.best_iteration_, pred_contrib=True
            )
        )
        width = len(self.feature_names_in_) + 1
        first = values[:, :width]  # ZILN: the blocks of p, mu and s side by side
        return pd.DataFrame(first, columns=[*self.feature_names_in_, "bias"], index=X.index)


def _amounts(y: Sequence[float], name: str) -> np.ndarray:
    values = np.asarray(y, dtype=float)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        raise ValueError(
            f"{name} must hold finite amounts >= 0; {int(bad.sum())} do not, "
            f"e.g. {values[bad][:5].tolist()}"
        )
    if not (values > 0).any():
        raise ValueError(f"{name} holds no amount above zero; there is no spend to learn.")
    return values
