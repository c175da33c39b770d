"""Is the predicted uplift on the right scale? The best-linear-predictor test and a calibration.

A ranking can be good while its magnitudes are several times too large, and
budgets and profit rules multiply the predicted uplift by money. On held-out
customers of a randomised experiment, the individual effect is never seen, but
a *pseudo-outcome* ``psi`` is: a number whose expectation given the customer is
their effect (:func:`ipw_pseudo_outcome` with the known assignment probability,
:func:`dr_pseudo_outcome` with outcome models too). Regressing ``psi`` on the
predicted uplift (:func:`blp_test`) estimates how realised effects move with
predicted ones; :func:`decile_calibration` shows it per tenth of customers; and
:func:`calibrated_uplift` maps predictions onto the realised scale, or onto the
average effect when the regression finds no heterogeneity.

Pure functions on numpy arrays; argument problems raise one ``ValueError``
listing all of them, as :mod:`upseg.models.uplift.metrics` does. The
pseudo-outcomes live in :mod:`upseg.models.uplift.pseudo_outcomes` and are
importable from here too.

References
----------
Chernozhukov, V., Demirer, M., Duflo, E. and Fernández-Val, I. (2018). Generic
machine learning inference on heterogeneous treatment effects in randomized
experiments. NBER Working Paper 24678.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import norm

from upseg.models.uplift.metrics._checks import _count_problems, _fail, _validated
from upseg.models.uplift.metrics.curves import _ranking
from upseg.models.uplift.pseudo_outcomes import dr_pseudo_outcome, ipw_pseudo_outcome

__all__ = [
    "BLPResult",
    "blp_test",
    "calibrated_uplift",
    "decile_calibration",
    "dr_pseudo_outcome",
    "ipw_pseudo_outcome",
]

Shrinkage = Literal["test", "empirical_bayes"]
_SHRINKAGES = ("test", "empirical_bayes")


@dataclasses.dataclass(frozen=True)
class BLPResult:
    """The best linear predictor of the effect given the predicted uplift, on held-out customers.

    The regression is ``psi_i = ate + slope * (s_i - predicted_mean) + e_i``
    (``s`` the predicted uplift, ``psi`` a pseudo-outcome), fitted by OLS with
    HC3 standard errors; intervals and p-values use the normal approximation.

    Attributes
    ----------
    ate : float
        ``beta_1``: the average effect over these customers (the mean of ``psi``).
    ate_se : float
        Its HC3 standard error.
    ate_ci : tuple of float
        Two-sided ``1 - alpha`` interval of ``ate``.
    slope : float
        ``beta_2 = Cov(tau, s) / Var(s)``: how much the realised effect rises per
        unit of predicted uplift. 1 means the predictions are on the right scale,
        1/3 that they spread three times too wide, 0 that they carry no
        information about who is affected more.
    slope_se : float
        Its HC3 standard error.
    slope_ci : tuple of float
        Two-sided ``1 - alpha`` interval of ``slope``.
    heterogeneity_p : float
        One-sided p-value of ``slope = 0`` against ``slope > 0``: how surprising
        the slope would be if the predictions did not track the effect.
    intercept : float
        Intercept of the same line on the raw predictions, ``psi = intercept +
        slope * s``, that is ``ate - slope * predicted_mean``. Predictions on the
        right scale have intercept 0 and slope 1.
    calibration_r2 : float
        How well the predictions, taken at face value, explain the realised
        uplift across bins of :func:`decile_calibration` (``n_bins`` of them):
        ``1 - sum_k n_k (r_k - m_k)**2 / sum_k n_k (r_k - r)**2`` with ``n_k`` the
        bin's size, ``m_k`` its mean predicted uplift, ``r_k`` its mean
        pseudo-outcome and ``r = mean(psi)``. It is the R² of the identity line
        ``r = m``, not of a fitted line: 1 when every bin's predicted mean equals
        its realised mean, 0 when the predictions do no better than giving every
        bin the average effect, negative when worse (predictions three times too
        large are). Noise in ``r_k`` keeps it below 1 even for exact predictions;
        NaN when every ``r_k`` equals ``r``.
    n : int
        Customers in the regression.
    predicted_mean : float
        Mean predicted uplift of these customers, the centre of the regression;
        :func:`calibrated_uplift` reuses it for other customers.
    alpha : float
        Significance level of the intervals.
    """

    ate: float
    ate_se: float
    ate_ci: tuple[float, float]
    slope: float
    slope_se: float
    slope_ci: tuple[float, float]
    heterogeneity_p: float
    intercept: float
    calibration_r2: float
    n: int
    predicted_mean: float
    alpha: float

    def heterogeneous(self, alpha: float | None = None) -> bool:
        """Whether ``slope > 0`` at level ``alpha`` (default: the result's own), one-sided."""
        return bool(self.heterogeneity_p < (self.alpha if alpha is None else alpha))


def _alpha_problems(alpha: object) -> list[str]:
    ok = isinstance(alpha, int | float) and not isinstance(alpha, bool) and 0 < alpha < 1
    return [] if ok else [f"'alpha' must be a number in (0, 1); got {alpha!r}"]


def _regression_inputs(
    function: str, pseudo_outcome: ArrayLike, predicted_uplift: ArrayLike, extra: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """``psi`` and ``s`` as finite floats of one length with at least 3 rows and varying ``s``."""
    arrays = {"pseudo_outcome": pseudo_outcome, "predicted_uplift": predicted_uplift}
    psi, s = _validated(function, arrays, extra=extra)
    if len(s) < 3:
        _fail(function, [f"the regression needs at least 3 customers; got {len(s)}"])
    if np.ptp(s) == 0:
        _fail(
            function,
            [
                f"'predicted_uplift' is constant ({s[0]:g} for all {len(s)} customers), so the "
                "slope is undefined; with no ranking to calibrate, use the average effect, "
                "the mean of 'pseudo_outcome'"
            ],
        )
    return psi, s


def _bins(s: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin of each row (0 = highest predicted uplift), equal sizes as :func:`uplift_by_decile`."""
    sizes = np.full(n_bins, len(s) // n_bins) + (np.arange(n_bins) < len(s) % n_bins)
    bin_of = np.empty(len(s), dtype=np.int64)
    bin_of[_ranking(s)] = np.repeat(np.arange(n_bins), sizes)
    return bin_of


def _decile_table(psi: np.ndarray, s: np.ndarray, n_bins: int, alpha: float) -> pd.DataFrame:
    bin_of = _bins(s, n_bins)
    n = np.bincount(bin_of, minlength=n_bins)
    predicted = np.bincount(bin_of, weights=s, minlength=n_bins) / n
    realised = np.bincount(bin_of, weights=psi, minlength=n_bins) / n
    squares = np.bincount(bin_of, weights=(psi - realised[bin_of]) ** 2, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(squares / (n - 1) / n)
    z = float(norm.ppf(1 - alpha / 2))
    edges = [round(100 * i / n_bins) for i in range(n_bins + 1)]
    return pd.DataFrame(
        {
            "bin": np.arange(1, n_bins + 1),
            "percentile": [f"{lo}-{hi}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)],
            "n": n,
            "predicted_mean": predicted,
            "realised_mean": realised,
            "realised_se": se,
            "realised_low": realised - z * se,
            "realised_high": realised + z * se,
        }
    )


def decile_calibration(
    pseudo_outcome: ArrayLike,
    predicted_uplift: ArrayLike,
    *,
    n_bins: int = 10,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Predicted beside realised uplift in each tenth (or ``n_bins``-th) of customers.

    Customers are ranked by predicted uplift and cut into ``n_bins`` groups of
    equal size exactly as :func:`upseg.models.uplift.metrics.uplift_by_decile`
    does (the first ``n % n_bins`` groups hold one more; ties cut with the later
    row first). The realised uplift of a group is the mean of its
    pseudo-outcome, with the normal-approximation interval ``mean ± z *
    sd / sqrt(n)`` (``sd`` with ``n - 1`` in the denominator). With
    :func:`ipw_pseudo_outcome` and one propensity that mean is the
    Horvitz-Thompson estimate, close to but not the same number as the
    difference of the arms' means in ``uplift_by_decile``.

    Parameters
    ----------
    pseudo_outcome : array-like of shape (n_samples,)
        :func:`dr_pseudo_outcome` or :func:`ipw_pseudo_outcome` of held-out customers.
    predicted_uplift : array-like of shape (n_samples,)
        Their predicted uplift, from a model not fitted on them.
    n_bins : int, default=10
        Number of groups, at most ``n_samples``.
    alpha : float, default=0.05
        The intervals cover with probability ``1 - alpha``.

    Returns
    -------
    pandas.DataFrame
        ``n_bins`` rows, highest predicted uplift first: ``bin`` (1 = top),
        ``percentile`` (``"0-10"``: the top 10%), ``n``, ``predicted_mean``,
        ``realised_mean``, ``realised_se`` (NaN for a group of one) and the
        interval ``realised_low``, ``realised_high``.

    Raises
    ------
    ValueError
        Listing every problem with the arguments.
    """
    arrays = {"pseudo_outcome": pseudo_outcome, "predicted_uplift": predicted_uplift}
    extra = _count_problems("n_bins", n_bins, 1) + _alpha_problems(alpha)
    psi, s = _validated("decile_calibration", arrays, extra=extra)
    if n_bins > len(s):
        _fail(
            "decile_calibration",
            [f"'n_bins' must be at most the number of customers ({len(s)}); got {n_bins}"],
        )
    return _decile_table(psi, s, int(n_bins), float(alpha))


def _calibration_r2(table: pd.DataFrame, overall: float) -> float:
    """Size-weighted R² of the identity line realised = predicted across the bins."""
    n, m, r = (table[c].to_numpy() for c in ("n", "predicted_mean", "realised_mean"))
    total = float(np.sum(n * (r - overall) ** 2))
    return math.nan if total == 0 else 1 - float(np.sum(n * (r - m) ** 2)) / total


def blp_test(
    pseudo_outcome: ArrayLike,
    predicted_uplift: ArrayLike,
    *,
    alpha: float = 0.05,
    n_bins: int = 10,
) -> BLPResult:
    """Best linear predictor of the effect given the predicted uplift (Chernozhukov et al. 2018).

    Regresses the pseudo-outcome on a constant and the centred prediction,
    ``psi_i = beta_1 + beta_2 (s_i - mean(s)) + e_i``, by OLS. Because ``psi``
    has each customer's effect as its expectation, ``beta_1`` estimates the
    average effect and ``beta_2 = Cov(tau, s) / Var(s)`` how the effect moves
    with the prediction: the BLP of the paper in its pseudo-outcome
    (Horvitz-Thompson) form, where with ``psi`` from :func:`ipw_pseudo_outcome`
    it is exactly the paper's transformed-outcome regression. ``beta_2 > 0``
    means the predictions find heterogeneity; ``beta_2 = 1`` that they are on
    the right scale.

    Standard errors are HC3 (MacKinnon & White 1985): pseudo-outcomes are
    strongly heteroskedastic (a treated converter counts ``1 / p``, a
    non-converter 0), and the slope is identified by the customers with the
    most extreme predictions, the points of highest leverage, whose residuals
    HC1 understates; HC3 divides each residual by ``1 - h_i`` and is the better
    behaved in small and moderate samples (Long & Ervin 2000), while with
    thousands of customers it agrees with HC1. Intervals and p-values use the
    normal approximation.

    Parameters
    ----------
    pseudo_outcome : array-like of shape (n_samples,)
        :func:`dr_pseudo_outcome` or :func:`ipw_pseudo_outcome` of customers
        held out from fitting the uplift model (and the outcome models).
    predicted_uplift : array-like of shape (n_samples,)
        Their predicted uplift; it must vary. In-sample predictions overstate
        the slope.
    alpha : float, default=0.05
        Level of the intervals (two-sided) and of :meth:`BLPResult.heterogeneous`.
    n_bins : int, default=10
        Bins of :func:`decile_calibration` behind ``calibration_r2``
        (fewer when there are fewer customers).

    Returns
    -------
    BLPResult

    Raises
    ------
    ValueError
        Listing every problem with the arguments; also when the predictions are
        constant, or when all customers but one share one prediction (that one
        customer alone then fixes the slope, which has no standard error).

    References
    ----------
    Chernozhukov, V., Demirer, M., Duflo, E. and Fernández-Val, I. (2018).
    Generic machine learning inference on heterogeneous treatment effects in
    randomized experiments. NBER Working Paper 24678.
    MacKinnon, J. G. and White, H. (1985). Some heteroskedasticity-consistent
    covariance matrix estimators with improved finite sample properties.
    Journal of Econometrics 29(3).
    Long, J. S. and Ervin, L. H. (2000). Using heteroscedasticity consistent
    standard errors in the linear regression model. The American Statistician 54(3).
    """
    extra = _alpha_problems(alpha) + _count_problems("n_bins", n_bins, 1)
    psi, s = _regression_inputs("blp_test", pseudo_outcome, predicted_uplift, extra)
    n = len(s)
    centre = float(s.mean())
    sc = s - centre
    sxx = float(sc @ sc)
    ate = float(psi.mean())
    slope = float(sc @ psi) / sxx
    leverage = 1 / n + sc**2 / sxx
    if leverage.max() > 1 - 1e-10:
        row = int(leverage.argmax())
        _fail(
            "blp_test",
            [
                f"all customers but one (row {row}) share one 'predicted_uplift', so the slope "
                "rests on that customer alone and has no standard error"
            ],
        )
    u2 = ((psi - ate - slope * sc) / (1 - leverage)) ** 2
    # (X'X)^-1 is diag(1/n, 1/sxx) because the regressor is centred.
    ate_se = math.sqrt(float(u2.sum())) / n
    slope_se = math.sqrt(float(sc**2 @ u2)) / sxx
    z = float(norm.ppf(1 - alpha / 2))
    table = _decile_table(psi, s, min(int(n_bins), n), float(alpha))
    return BLPResult(
        ate=ate,
        ate_se=ate_se,
        ate_ci=(ate - z * ate_se, ate + z * ate_se),
        slope=slope,
        slope_se=slope_se,
        slope_ci=(slope - z * slope_se, slope + z * slope_se),
        heterogeneity_p=float(norm.sf(slope / slope_se)) if slope_se > 0 else float(slope <= 0),
        intercept=ate - slope * centre,
        calibration_r2=_calibration_r2(table, ate),
        n=n,
        predicted_mean=centre,
        alpha=float(alpha),
    )


def calibrated_uplift(
    predicted_uplift: ArrayLike,
    blp: BLPResult,
    *,
    alpha: float = 0.05,
    shrinkage: Shrinkage = "test",
) -> np.ndarray:
    """Predicted uplift put on the realised scale: ``ate + b * (s - predicted_mean)``.

    ``ate`` and ``predicted_mean`` come from ``blp``, fitted on held-out
    customers; ``s`` may be any customers' predictions from the same model
    (the held-out ones, or a whole audience at scoring time). The slope ``b``:

    - ``shrinkage="test"``: ``blp.slope`` when the one-sided test finds
      heterogeneity (``blp.heterogeneity_p < alpha``), else 0, so that every
      customer gets the average effect ``blp.ate``: without evidence that the
      predictions track the effect, only the average is known. A negative
      slope is never used (it would reverse the ranking).
    - ``shrinkage="empirical_bayes"``: partial shrinkage,
      ``b = b+ * max(0, 1 - (slope_se / b+)**2)`` with ``b+ = max(slope, 0)``:
      the posterior mean of the slope under a normal prior centred on 0 whose
      variance is estimated from the data, ``max(0, b+**2 - slope_se**2)``
      (positive-part James-Stein). It moves smoothly from the average effect
      (slope within one standard error of 0) towards the full BLP; ``alpha`` is
      not used.

    When ``b > 0`` the ranking is unchanged. On the customers ``blp`` was
    fitted on, test-mode calibrated predictions that keep the slope have BLP
    slope 1 and intercept 0 by construction; their sum is ``n * ate``.

    Parameters
    ----------
    predicted_uplift : array-like of shape (n_samples,)
        Raw predicted uplift.
    blp : BLPResult
        :func:`blp_test` of the same model's predictions on held-out customers.
    alpha : float, default=0.05
        Level of the heterogeneity test in ``shrinkage="test"``.
    shrinkage : {"test", "empirical_bayes"}, default="test"

    Returns
    -------
    numpy.ndarray of shape (n_samples,)

    Raises
    ------
    ValueError
        Listing every problem with the arguments.
    """
    errors = _alpha_problems(alpha)
    if not isinstance(blp, BLPResult):
        errors.append(f"'blp' must be a BLPResult from blp_test; got {type(blp).__name__}")
    if shrinkage not in _SHRINKAGES:
        errors.append(f"'shrinkage' must be one of {', '.join(_SHRINKAGES)}; got {shrinkage!r}")
    (s,) = _validated("calibrated_uplift", {"predicted_uplift": predicted_uplift}, extra=errors)
    return blp.ate + _used_slope(blp, alpha, shrinkage) * (s - blp.predicted_mean)


def _used_slope(blp: BLPResult, alpha: float, shrinkage: Shrinkage) -> float:
    """The slope :func:`calibrated_uplift` applies, after shrinkage towards 0."""
    positive = max(blp.slope, 0.0)
    if shrinkage == "test":
        return positive if blp.heterogeneous(alpha) else 0.0
    if positive == 0:
        return 0.0
    return positive * max(0.0, 1 - (blp.slope_se / positive) ** 2)
