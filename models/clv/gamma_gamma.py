"""The Gamma-Gamma model of spend per transaction: what a customer's next purchase is worth.

Each transaction of a customer is worth ``z ~ Gamma(p, nu)`` (shape, rate),
so the customer's mean spend is ``p / nu``; across customers
``nu ~ Gamma(q, v)``. A customer with ``x`` repeat transactions of mean value
``m`` is summarised by ``(x, m)``: the sum ``x m`` is ``Gamma(p x, nu)``, which
gives the likelihood and a Gamma posterior for ``nu``. The model assumes spend
per transaction is independent of how often a customer buys;
:func:`independence_check` looks for evidence against that.

References
----------
.. [1] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). RFM and CLV:
   using iso-value curves for customer base analysis. *Journal of Marketing
   Research*, 42(4), 415-430.
.. [2] Fader, P. S. and Hardie, B. G. S. (2013). The Gamma-Gamma model of
   monetary value. http://brucehardie.com/notes/025/
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats
from scipy.optimize import minimize
from scipy.special import digamma, gammaln

from upseg.models.bgnbd._checks import _preview, _where_bad

__all__ = [
    "MATERIAL_CORRELATION",
    "PARAM_NAMES",
    "SIGNIFICANCE",
    "GammaGammaModel",
    "SpendFrequencyCheck",
    "SpendFrequencyWarning",
    "independence_check",
    "repeat_customers",
]

PARAM_NAMES = ("p", "q", "v")
#: |Pearson r| from which a correlation of spend and frequency is material.
MATERIAL_CORRELATION = 0.3
#: p-value below which that correlation is taken as real rather than noise.
SIGNIFICANCE = 0.01


class SpendFrequencyWarning(UserWarning):
    """Spend per transaction and frequency are correlated, against the Gamma-Gamma's assumption."""


@dataclass(frozen=True)
class SpendFrequencyCheck:
    """Correlation of frequency and mean spend across repeat customers.

    Attributes
    ----------
    pearson_r, pearson_p : float
        Pearson correlation and its two-sided p-value (NaN when it cannot be computed).
    spearman_rho, spearman_p : float
        Spearman rank correlation and its two-sided p-value.
    n : int
        Customers compared.
    correlated : bool
        ``|pearson_r| >= MATERIAL_CORRELATION`` and ``pearson_p < SIGNIFICANCE``.
    """

    pearson_r: float
    pearson_p: float
    spearman_rho: float
    spearman_p: float
    n: int
    correlated: bool

    @property
    def message(self) -> str:
        """One sentence with the numbers and what they mean for the Gamma-Gamma."""
        numbers = (
            f"Pearson r = {self.pearson_r:.3f} (p = {self.pearson_p:.2g}), Spearman rho = "
            f"{self.spearman_rho:.3f} (p = {self.spearman_p:.2g}), n = {self.n}"
        )
        if np.isnan(self.pearson_r):
            return f"Spend and frequency cannot be compared ({numbers}): too few or constant values"
        if self.correlated:
            return (
                f"Spend per transaction and frequency are correlated ({numbers}): the "
                "Gamma-Gamma model assumes they are independent, so its expected spend is "
                "biased for the most and the least frequent buyers"
            )
        return (
            f"No material correlation of spend per transaction and frequency ({numbers}; "
            f"material means |r| >= {MATERIAL_CORRELATION} with p < {SIGNIFICANCE})"
        )


def repeat_customers(frequency: ArrayLike, monetary_value: ArrayLike) -> np.ndarray:
    """Mask of the customers the Gamma-Gamma is fitted on: ``frequency >= 1`` and spend > 0.

    Parameters
    ----------
    frequency : array-like of shape (n_customers,)
        Repeat transactions.
    monetary_value : array-like of shape (n_customers,)
        Mean value of the repeat transactions.

    Returns
    -------
    ndarray of bool, shape (n_customers,)
        False also where a value is missing.
    """
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(monetary_value, dtype=float)
    with np.errstate(invalid="ignore"):
        return (x >= 1) & (m > 0) & np.isfinite(m)


def independence_check(frequency: ArrayLike, monetary_value: ArrayLike) -> SpendFrequencyCheck:
    """Test the Gamma-Gamma's assumption that spend per transaction does not depend on frequency.

    Fader & Hardie (2013) and the ``lifetimes`` documentation recommend looking
    at this correlation before using the model; ``correlated`` flags one that is
    both material and significant (see :data:`MATERIAL_CORRELATION`).

    Parameters
    ----------
    frequency : array-like of shape (n_customers,)
        Repeat transactions, whole numbers >= 1.
    monetary_value : array-like of shape (n_customers,)
        Mean value of the repeat transactions, > 0.

    Returns
    -------
    SpendFrequencyCheck

    Raises
    ------
    ValueError
        As :meth:`GammaGammaModel.fit`.
    """
    x, m = _spend_arrays(frequency, monetary_value, where="independence_check", repeat_only=True)
    n = x.size
    if n < 3 or np.ptp(x) == 0 or np.ptp(m) == 0:
        nan = float("nan")
        return SpendFrequencyCheck(nan, nan, nan, nan, n, False)
    pearson = stats.pearsonr(x, m)
    spearman = stats.spearmanr(x, m)
    r, p_value = float(pearson.statistic), float(pearson.pvalue)
    return SpendFrequencyCheck(
        pearson_r=r,
        pearson_p=p_value,
        spearman_rho=float(spearman.statistic),
        spearman_p=float(spearman.pvalue),
        n=n,
        correlated=bool(abs(r) >= MATERIAL_CORRELATION and p_value < SIGNIFICANCE),
    )


class GammaGammaModel:
    """Gamma-Gamma model of the mean spend per transaction, fitted by maximum likelihood.

    Parameters
    ----------
    max_iter : int, default 1000
        Maximum iterations of the optimizer (L-BFGS-B on the log-parameters).
    tol : float, default 1e-10
        Convergence tolerance on the projected gradient of the mean log-likelihood.

    Attributes
    ----------
    params_ : dict of str to float
        Fitted ``p`` (shape of the spend of one transaction), ``q`` and ``v``
        (its rate ``nu ~ Gamma(q, v)`` across customers); ``v`` is the paper's
        ``gamma``, named as in ``lifetimes``, in the currency of the data.
    log_likelihood_ : float
        Log-likelihood of the training data at ``params_``.
    n_customers_ : int
        Number of (repeat) customers fitted on.
    n_iter_ : int
        Optimizer iterations used.
    independence_ : SpendFrequencyCheck
        :func:`independence_check` of the training data; a
        :class:`SpendFrequencyWarning` is emitted when it finds a correlation.

    References
    ----------
    Fader & Hardie (2013), equation (3) for the likelihood and (5) for the
    conditional expectation; Fader, Hardie & Lee (2005), section "Spend".

    Examples
    --------
    >>> history = summary["frequency"], summary["monetary_value"]
    >>> keep = repeat_customers(*history)
    >>> model = GammaGammaModel().fit(*(column[keep] for column in history))
    >>> model.params_  # p=6.25, q=3.74, v=15.44 on the CDNOW sample's 946 repeat customers
    >>> spend = model.conditional_expected_average_profit(*history)
    """

    def __init__(self, *, max_iter: int = 1000, tol: float = 1e-10):
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, frequency: ArrayLike, monetary_value: ArrayLike) -> GammaGammaModel:
        """Estimate p, q and v by maximum likelihood.

        Parameters
        ----------
        frequency : array-like of shape (n_customers,)
            Repeat transactions ``x``, whole numbers >= 1.
        monetary_value : array-like of shape (n_customers,)
            Mean value ``m`` of the ``x`` repeat transactions, > 0 and finite;
            the first transaction is left out, as in the paper.

        Returns
        -------
        GammaGammaModel
            The fitted model.

        Raises
        ------
        ValueError
            If a parameter or value is invalid (customers without a repeat
            transaction or with spend <= 0 must be filtered with
            :func:`repeat_customers` first), or there is no customer.
        """
        self._check_settings()
        where = "GammaGammaModel.fit"
        x, m = _spend_arrays(frequency, monetary_value, where=where, repeat_only=True)
        if x.size == 0:
            raise ValueError("GammaGammaModel.fit needs at least one repeat customer; got 0")
        n = x.size

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            ll, grad = _log_likelihood_and_gradient(np.exp(theta), x, m)
            return -ll.sum() / n, -grad.sum(axis=0) / n

        # q = 2 keeps the population mean p v / (q - 1) finite; v makes it the observed mean
        result = minimize(
            objective,
            np.log([1.0, 2.0, m.mean()]),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": self.max_iter, "gtol": self.tol, "ftol": 1e-15},
        )
        if not np.all(np.isfinite(result.x)) or not np.all(np.isfinite(np.exp(result.x))):
            raise RuntimeError(
                f"GammaGammaModel.fit diverged (parameters {np.exp(result.x)}); spend may not "
                "vary between customers more than within them"
            )
        # a line search that fails with a gradient this small has met rounding, not trouble
        if not (result.success or np.abs(result.jac).max() < 1e-6):
            warnings.warn(
                f"GammaGammaModel.fit stopped before converging after {result.nit} iterations "
                f"({result.message}); raise 'max_iter' or check the data",
                RuntimeWarning,
                stacklevel=2,
            )
        params = np.exp(result.x)
        self.params_ = dict(zip(PARAM_NAMES, (float(v) for v in params), strict=True))
        self.log_likelihood_ = float(_log_likelihood_and_gradient(params, x, m)[0].sum())
        self.n_customers_ = n
        self.n_iter_ = int(result.nit)
        self.independence_ = independence_check(x, m)
        if self.independence_.correlated:
            warnings.warn(self.independence_.message, SpendFrequencyWarning, stacklevel=2)
        return self

    def conditional_expected_average_profit(
        self, frequency: ArrayLike, monetary_value: ArrayLike
    ) -> np.ndarray:
        """Expected spend of each customer's next transaction given their history.

        ``E[Z | x, m] = (v + m x) p / (p x + q - 1)``, the posterior mean of
        ``p / nu`` with ``nu | x, m ~ Gamma(p x + q, v + m x)``: a weighted
        average of the population mean ``p v / (q - 1)`` (what a customer with
        ``x = 0`` gets, whatever ``monetary_value`` says) and the customer's own ``m``.

        Parameters
        ----------
        frequency : array-like of shape (n_customers,)
            Repeat transactions, whole numbers >= 0.
        monetary_value : array-like of shape (n_customers,)
            Mean value of the repeat transactions: >= 0 and finite where
            ``frequency >= 1``, ignored (may be NaN) where it is 0.

        Returns
        -------
        ndarray of shape (n_customers,)

        Raises
        ------
        ValueError
            If the model is not fitted, a value is invalid, or the expectation
            is infinite: ``p x + q <= 1``, which for ``x = 0`` means ``q <= 1``.
        """
        if not hasattr(self, "params_"):
            raise ValueError(
                "This GammaGammaModel is not fitted yet; call 'fit' with frequency and "
                "monetary_value before predicting."
            )
        p, q, v = (self.params_[k] for k in PARAM_NAMES)
        x, m = _spend_arrays(
            frequency,
            monetary_value,
            where="conditional_expected_average_profit",
            repeat_only=False,
        )
        shape = p * x + q - 1
        if (shape <= 0).any():
            frequencies = np.unique(x[shape <= 0]).astype(int)[:5].tolist()
            raise ValueError(
                f"The expected spend is infinite for {int((shape <= 0).sum())} customer(s) with "
                f"frequency {frequencies}: it needs p * frequency + q > 1, and the fitted "
                f"p = {p:.4g}, q = {q:.4g} (q <= 1 means the population mean spend "
                "p v / (q - 1) is infinite)"
            )
        observed = np.where(x > 0, m * x, 0.0)
        return (v + observed) * p / shape

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
                f"{len(errors)} error(s) in GammaGammaModel parameters: " + "; ".join(errors)
            )

    def __repr__(self) -> str:
        fitted = ""
        if hasattr(self, "params_"):
            fitted = ", fitted: " + ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"GammaGammaModel(max_iter={self.max_iter}, tol={self.tol}{fitted})"


def _log_likelihood_and_gradient(
    params: np.ndarray, x: np.ndarray, m: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-customer log-likelihood and its gradient in the log-parameters.

    ``f(m | p, q, v, x) = G(px+q) / (G(px) G(q)) v^q m^(px-1) x^(px) / (v + m x)^(px+q)``;
    returns arrays of shape (n,) and (n, 3).
    """
    p, q, v = params
    px = p * x
    log_total = np.log(v + m * x)
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * log_total
    )
    psi_all = digamma(px + q)
    d_p = x * (psi_all - digamma(px) + np.log(m) + np.log(x) - log_total)
    d_q = psi_all - digamma(q) + np.log(v) - log_total
    d_v = q / v - (px + q) / (v + m * x)
    return ll, np.column_stack([d_p * p, d_q * q, d_v * v])


def _spend_arrays(
    frequency: ArrayLike, monetary_value: ArrayLike, *, where: str, repeat_only: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Validated float arrays (x, m), every problem at once: for fitting (``repeat_only``)
    ``x >= 1`` and ``m > 0``; for predicting ``x >= 0``, and ``m >= 0`` where ``x >= 1``."""
    arrays, errors = {}, []
    for name, value in (("frequency", frequency), ("monetary_value", monetary_value)):
        try:
            arrays[name] = arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            errors.append(f"'{name}' must be numbers; got {_preview(value)}")
            continue
        if arr.ndim != 1:
            errors.append(f"'{name}' must be 1-dimensional; got shape {arr.shape}")
    if not errors:
        x, m = arrays["frequency"], arrays["monetary_value"]
        lowest = 1 if repeat_only else 0
        bad = ~(np.isfinite(x) & (x >= lowest) & (x == np.round(x)))
        if bad.any():
            errors.append(
                f"'frequency' must be whole numbers of repeat transactions >= {lowest}; "
                f"{_where_bad(bad, x)}"
            )
        if x.size != m.size:
            errors.append(
                "'frequency' and 'monetary_value' must have the same length; "
                f"got {x.size} and {m.size}"
            )
        elif repeat_only and not (good := np.isfinite(m) & (m > 0)).all():
            errors.append(f"'monetary_value' must be > 0 and finite; {_where_bad(~good, m)}")
        elif not repeat_only and (bad := (x >= 1) & ~(np.isfinite(m) & (m >= 0))).any():
            errors.append(
                "'monetary_value' must be >= 0 and finite where 'frequency' >= 1; "
                f"{_where_bad(bad, m)}"
            )
    if errors:
        hint = "; fit on repeat customers: filter with repeat_customers(frequency, monetary_value)"
        raise ValueError(
            f"{len(errors)} error(s) in the arguments of {where}: "
            + "; ".join(errors)
            + (hint if repeat_only else "")
        )
    return arrays["frequency"], arrays["monetary_value"]
