"""The BG/NBD model of repeat buying: who is still a customer, and how much will they buy.

Each customer buys at a Poisson rate ``lambda`` while active, and after every
repeat purchase becomes inactive for good with probability ``p``; across
customers ``lambda ~ Gamma(r, alpha)`` (shape, rate) and ``p ~ Beta(a, b)``.
Only three numbers per customer enter the model: the number of repeat
transactions ``x`` (frequency), the time of the last one ``t_x`` (recency) and
the length of observation ``T``, all measured from the first purchase.

References
----------
.. [1] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting your
   customers" the easy way: an alternative to the Pareto/NBD model.
   *Marketing Science*, 24(2), 275-284.
.. [2] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2007). Computing
   P(alive) using the BG/NBD model. http://brucehardie.com/notes/021/
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from upseg.models.bgnbd._checks import _rfm_arrays, _window

__all__ = ["PARAM_NAMES", "BetaGeoModel"]

PARAM_NAMES = ("r", "alpha", "a", "b")


class BetaGeoModel:
    """BG/NBD model of repeat purchasing, fitted by maximum likelihood.

    Parameters
    ----------
    max_iter : int, default 1000
        Maximum iterations of the optimizer (L-BFGS-B on the log-parameters).
    tol : float, default 1e-10
        Convergence tolerance on the projected gradient of the mean log-likelihood.

    Attributes
    ----------
    params_ : dict of str to float
        Fitted ``r``, ``alpha`` (purchase rate ~ Gamma(r, alpha), alpha a rate
        in the time unit of the data), ``a`` and ``b`` (dropout probability ~
        Beta(a, b)).
    log_likelihood_ : float
        Log-likelihood of the training data at ``params_``.
    n_customers_ : int
        Number of customers fitted on.
    n_iter_ : int
        Optimizer iterations used.

    References
    ----------
    Fader, Hardie & Lee (2005), equation (6) for the likelihood, (10) for the
    conditional expectation; Fader, Hardie & Lee (2007) for P(alive).

    Examples
    --------
    >>> from upseg.models.bgnbd import rfm_summary
    >>> summary = rfm_summary(
    ...     orders, customer_col="customer_id", date_col="ordered_at", calibration_end="1997-09-30"
    ... )
    >>> history = summary["frequency"], summary["recency"], summary["T"]
    >>> model = BetaGeoModel().fit(*history)
    >>> model.params_  # r=0.243, alpha=4.414, a=0.793, b=2.426 on the CDNOW sample
    >>> p_buy_4_weeks = model.probability_of_purchase(4.0, *history)
    """

    def __init__(self, *, max_iter: int = 1000, tol: float = 1e-10):
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> BetaGeoModel:
        """Estimate r, alpha, a and b by maximum likelihood.

        Parameters
        ----------
        frequency : array-like of shape (n_customers,)
            Repeat transactions ``x`` (non-negative integers).
        recency : array-like of shape (n_customers,)
            Time of the last repeat transaction since the first, ``t_x``; 0 when ``x`` is 0.
        T : array-like of shape (n_customers,)
            Time since the first transaction, ``T >= t_x``.

        Returns
        -------
        BetaGeoModel
            The fitted model.

        Raises
        ------
        ValueError
            If an argument is invalid (see :meth:`probability_alive`), or no
            customer has a repeat transaction, which leaves ``a`` and ``b``
            unidentified.
        """
        self._check_settings()
        x, t_x, age = _rfm_arrays(frequency, recency, T, where="BetaGeoModel.fit")
        if not (x > 0).any():
            raise ValueError(
                "BetaGeoModel.fit needs at least one customer with 'frequency' > 0: without "
                f"a repeat transaction the dropout parameters a and b are not identified; "
                f"got {x.size} customers, all with frequency 0"
            )
        n = x.size

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            ll, grad = _log_likelihood_and_gradient(np.exp(theta), x, t_x, age)
            return -ll.sum() / n, -grad.sum(axis=0) / n

        # alpha is a time scale: start where the mean rate r / alpha matches the data
        alpha0 = max(age.mean(), 1e-3) / max(x.mean(), 0.1)
        result = minimize(
            objective,
            np.log([1.0, alpha0, 1.0, 1.0]),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": self.max_iter, "gtol": self.tol, "ftol": 1e-15},
        )
        theta = result.x
        if not np.all(np.isfinite(theta)):
            raise RuntimeError(
                f"BetaGeoModel.fit diverged (parameters {np.exp(theta)}); the data may not "
                "follow a BG/NBD pattern, e.g. everyone buys at the same regular interval"
            )
        if not result.success:
            warnings.warn(
                f"BetaGeoModel.fit stopped before converging after {result.nit} iterations "
                f"({result.message}); raise 'max_iter' or check the data",
                RuntimeWarning,
                stacklevel=2,
            )
        params = np.exp(theta)
        self.params_ = dict(zip(PARAM_NAMES, (float(v) for v in params), strict=True))
        self.log_likelihood_ = float(_log_likelihood_and_gradient(params, x, t_x, age)[0].sum())
        self.n_customers_ = n
        self.n_iter_ = int(result.nit)
        return self

    def probability_alive(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> np.ndarray:
        """Probability that each customer is still active at ``T``.

        ``1 / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x)) ** (r + x))``;
        a customer without a repeat purchase has had no chance to drop out, so it is 1.

        Parameters
        ----------
        frequency : array-like of shape (n_customers,)
            Repeat transactions ``x`` (non-negative integers).
        recency : array-like of shape (n_customers,)
            Time of the last repeat transaction since the first; 0 when ``x`` is 0.
        T : array-like of shape (n_customers,)
            Time since the first transaction, at least ``recency``.

        Returns
        -------
        ndarray of shape (n_customers,)

        Raises
        ------
        ValueError
            If the model is not fitted, the arrays differ in length, a value is
            missing, negative or not finite, a frequency is not an integer,
            ``recency > T``, or ``recency > 0`` where ``frequency`` is 0.
        """
        r, alpha, a, b = self._fitted_params()
        x, t_x, age = _rfm_arrays(frequency, recency, T, where="probability_alive")
        return np.exp(_log_probability_alive(r, alpha, a, b, x, t_x, age))

    def expected_purchases(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> np.ndarray:
        """Expected number of transactions in ``(T, T + t]`` given each customer's history.

        Equation (10) of Fader, Hardie & Lee (2005), with the Gauss
        hypergeometric function rewritten by Euler's transformation,
        ``(1-z)^(r+x) 2F1(r+x, b+x; c; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; c; z)``
        with ``c = a+b+x-1`` and ``z = t / (alpha+T+t)``, so that it does not
        overflow for large ``x``. It is undefined at ``a == 1`` exactly.

        Parameters
        ----------
        t : float or array-like of shape (n_customers,)
            Length of the future window, in the time unit of the data; >= 0.
        frequency, recency, T : array-like of shape (n_customers,)
            As in :meth:`probability_alive`.

        Returns
        -------
        ndarray of shape (n_customers,)

        Raises
        ------
        ValueError
            If ``t`` is negative or not finite, or as in :meth:`probability_alive`.
        """
        r, alpha, a, b = self._fitted_params()
        x, t_x, age = _rfm_arrays(frequency, recency, T, where="expected_purchases")
        window = _window(t, x.size, where="expected_purchases")
        z = window / (alpha + age + window)
        c = a + b + x - 1
        tail = np.exp((a - 1) * np.log1p(-z)) * hyp2f1(a + b - 1 - r, a - 1, c, z)
        if_alive = c / (a - 1) * (1 - tail)
        return if_alive * np.exp(_log_probability_alive(r, alpha, a, b, x, t_x, age))

    def probability_of_purchase(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> np.ndarray:
        """Probability of at least one transaction in ``(T, T + t]`` given the history.

        ``P(alive at T) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x))``.

        Why: a customer inactive at ``T`` never buys again. In BG/NBD dropout
        happens only right after a purchase, so an active customer who buys
        nothing in the window had no chance to drop out in it; "at least one
        purchase" is therefore "the first waiting time after ``T`` is at most
        ``t``", which for a Poisson process is ``1 - exp(-lambda t)`` whatever
        ``p`` is. Given the history and being active, the likelihood in
        ``lambda`` is ``lambda^x exp(-lambda T)``, so its posterior is
        ``Gamma(r + x, alpha + T)``, whose Laplace transform at ``t`` gives the
        bracket.

        Parameters
        ----------
        t : float or array-like of shape (n_customers,)
            Length of the future window, in the time unit of the data; >= 0.
        frequency, recency, T : array-like of shape (n_customers,)
            As in :meth:`probability_alive`.

        Returns
        -------
        ndarray of shape (n_customers,)

        Raises
        ------
        ValueError
            If ``t`` is negative or not finite, or as in :meth:`probability_alive`.
        """
        r, alpha, a, b = self._fitted_params()
        x, t_x, age = _rfm_arrays(frequency, recency, T, where="probability_of_purchase")
        window = _window(t, x.size, where="probability_of_purchase")
        log_none = (r + x) * (np.log(alpha + age) - np.log(alpha + age + window))
        return -np.expm1(log_none) * np.exp(_log_probability_alive(r, alpha, a, b, x, t_x, age))

    def _check_settings(self) -> None:
        """Raise one ValueError naming every bad constructor parameter."""
        errors = []
        integral = isinstance(self.max_iter, int | np.integer) and not isinstance(
            self.max_iter, bool
        )
        if not integral or self.max_iter < 1:
            errors.append(f"'max_iter' must be a positive int; got {self.max_iter!r}")
        if not isinstance(self.tol, int | float | np.number) or not self.tol > 0:
            errors.append(f"'tol' must be a positive number; got {self.tol!r}")
        if errors:
            raise ValueError(
                f"{len(errors)} error(s) in BetaGeoModel parameters: " + "; ".join(errors)
            )

    def _fitted_params(self) -> tuple[float, float, float, float]:
        """``(r, alpha, a, b)``, or a ValueError before ``fit``."""
        if not hasattr(self, "params_"):
            raise ValueError(
                "This BetaGeoModel is not fitted yet; call 'fit' with frequency, recency and "
                "T before predicting."
            )
        r, alpha, a, b = (self.params_[k] for k in PARAM_NAMES)
        return r, alpha, a, b

    def __repr__(self) -> str:
        fitted = ""
        if hasattr(self, "params_"):
            fitted = ", fitted: " + ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"BetaGeoModel(max_iter={self.max_iter}, tol={self.tol}{fitted})"


def _log_likelihood_and_gradient(
    params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-customer log-likelihood (equation 6) and its gradient in the log-parameters.

    ``L = B(a, b+x)/B(a, b) G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
    + [x > 0] B(a+1, b+x-1)/B(a, b) G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))``,
    added in log space. Returns arrays of shape (n,) and (n, 4).
    """
    r, alpha, a, b = params
    repeat = x > 0
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - betaln(a, b)
    still_active = betaln(a, b + x) - (r + x) * np.log(alpha + T)
    dropped = np.full(x.shape, -np.inf)
    dropped[repeat] = betaln(a + 1, b + x[repeat] - 1) - (r + x[repeat]) * np.log(
        alpha + t_x[repeat]
    )
    mix = np.logaddexp(still_active, dropped)
    w_active = np.exp(still_active - mix)  # share of the likelihood: active at T
    w_dropped = 1.0 - w_active

    psi_ab, psi_abx = digamma(a + b), digamma(a + b + x)
    b_last = np.where(repeat, b + x - 1, b)  # unused where x == 0 (weight 0)
    d_r = (
        digamma(r + x)
        - digamma(r)
        + np.log(alpha)
        - w_active * np.log(alpha + T)
        - w_dropped * np.log(alpha + t_x)
    )
    d_alpha = r / alpha - (r + x) * (w_active / (alpha + T) + w_dropped / (alpha + t_x))
    d_a = psi_ab - psi_abx + w_dropped / a  # digamma(a + 1) - digamma(a) = 1 / a
    d_b = psi_ab - psi_abx - digamma(b) + w_active * digamma(b + x) + w_dropped * digamma(b_last)
    grad = np.column_stack([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
    return common + mix, grad


def _log_probability_alive(
    r: float, alpha: float, a: float, b: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """log P(active at T | x, t_x, T), computed as a log-sigmoid to stay finite."""
    repeat = x > 0
    log_odds_dropped = np.full(x.shape, -np.inf)
    xr = x[repeat]
    log_odds_dropped[repeat] = (
        np.log(a)
        - np.log(b + xr - 1)
        + (r + xr) * (np.log(alpha + T[repeat]) - np.log(alpha + t_x[repeat]))
    )
    return np.log(expit(-log_odds_dropped))
