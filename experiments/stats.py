"""Statistics of campaign A/B tests: lifts, variance reduction, sample-ratio checks and power.

Pure functions on arrays or summary statistics; nothing here reads a file or a
frame. Every function compares one treated arm with one control arm, and "arm"
always means the treated one, so a positive lift means the campaign helped.

* :func:`proportion_lift` — conversion rates: unpooled Wald interval for the
  difference, pooled two-sided z-test, delta-method interval for the relative lift.
* :func:`mean_lift` — per-customer values such as revenue: Welch's t interval and
  test, delta-method interval for the relative lift.
* :func:`bootstrap_diff_ci` — percentile bootstrap of the difference in means,
  fast on zero-inflated revenue.
* :func:`cuped` — CUPED adjustment of an outcome by a pre-period covariate.
* :func:`srm_test` — chi-square test of the arm counts against the planned split.
* :func:`adjust_p_values` — Benjamini–Hochberg or Holm over a family of tests.
* :func:`sample_size_proportions`, :func:`mde_proportion`, :func:`mde_means` —
  planning with the two-sided normal approximation (as statsmodels'
  ``NormalIndPower``, far tail included); :func:`roi` of a campaign.

The relative lift :math:`r = m_1 / m_0 - 1` of two independent means gets its
standard error from the delta method,

.. math:: \\operatorname{Var}(m_1 / m_0) \\approx
   \\frac{\\operatorname{Var}(m_1)}{m_0^2} + \\frac{m_1^2 \\operatorname{Var}(m_0)}{m_0^4},

with :math:`\\operatorname{Var}(m) = p(1-p)/n` for a rate and :math:`s^2/n` for a mean.

References
----------
.. [1] Kohavi, R., Tang, D. and Xu, Y. (2020). *Trustworthy Online Controlled
   Experiments*, Cambridge University Press, ch. 3 (sample ratio mismatch) and 18
   (variance estimation, delta method).
.. [2] Deng, A., Xu, Y., Kohavi, R. and Walker, T. (2013). Improving the sensitivity
   of online controlled experiments by utilizing pre-experiment data. *WSDM '13*,
   123–132.
.. [3] Welch, B. L. (1947). The generalization of "Student's" problem when several
   different population variances are involved. *Biometrika* 34, 28–35.
.. [4] Efron, B. and Tibshirani, R. (1993). *An Introduction to the Bootstrap*,
   Chapman & Hall, ch. 13.
.. [5] Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate.
   *JRSS B* 57, 289–300; Holm, S. (1979). A simple sequentially rejective multiple
   test procedure. *Scand. J. Statist.* 6, 65–70.
.. [6] Cohen, J. (1988). *Statistical Power Analysis for the Behavioral Sciences*,
   2nd ed., ch. 6 (the arcsine effect size h).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from numbers import Integral, Real

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize
from scipy.stats import chi2, norm
from scipy.stats import t as student_t

__all__ = [
    "CORRECTIONS",
    "SRM_THRESHOLD",
    "Cuped",
    "Lift",
    "SampleSize",
    "Srm",
    "adjust_p_values",
    "bootstrap_diff_ci",
    "cuped",
    "mde_means",
    "mde_proportion",
    "mean_lift",
    "proportion_lift",
    "roi",
    "sample_size_proportions",
    "srm_test",
]

SRM_THRESHOLD = 0.001
"""p-value below which a sample ratio mismatch is flagged (strict, as in Kohavi et al. 2020)."""

CORRECTIONS = ("bh", "holm", "none")
"""Multiple-testing corrections of :func:`adjust_p_values`."""

# Above this share of non-zero values the binomial trick saves little; resample indices.
_DENSE_SHARE = 0.5
# Draws per bootstrap chunk: bounds memory to ~32 MB of int64 indices whatever the data size.
_CHUNK_DRAWS = 1 << 22


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Lift:
    """Lift of a treated arm over control, absolute and relative, with intervals.

    Attributes
    ----------
    mean_arm, mean_control : float
        Rate or mean of the outcome in each arm.
    abs_lift, abs_lift_ci_low, abs_lift_ci_high : float
        ``mean_arm - mean_control`` and its two-sided ``1 - alpha`` interval.
    rel_lift, rel_lift_ci_low, rel_lift_ci_high : float
        ``mean_arm / mean_control - 1`` and its delta-method interval; NaN when
        ``mean_control`` is 0.
    p_value : float
        Two-sided p-value of no difference.
    method : str
        ``"z_test"`` (:func:`proportion_lift`) or ``"welch"`` (:func:`mean_lift`).
    """

    mean_arm: float
    mean_control: float
    abs_lift: float
    abs_lift_ci_low: float
    abs_lift_ci_high: float
    rel_lift: float
    rel_lift_ci_low: float
    rel_lift_ci_high: float
    p_value: float
    method: str

    def as_dict(self) -> dict[str, float | str]:
        """The fields as plain floats and a str, keyed by field name."""
        return {
            key: value if isinstance(value, str) else float(value)
            for key, value in asdict(self).items()
        }


@dataclass(frozen=True)
class Cuped:
    """An outcome adjusted by a pre-period covariate (see :func:`cuped`).

    Attributes
    ----------
    adjusted : numpy.ndarray of shape (n_samples,)
        ``y - theta * (x - mean(x))``; same mean as ``y``.
    theta : float
        ``cov(x, y) / var(x)``, 0 when ``x`` is constant.
    variance_reduction : float
        ``1 - var(adjusted) / var(y)`` (equals ``corr(x, y) ** 2``); 0 when ``y`` is constant.
    """

    adjusted: np.ndarray
    theta: float
    variance_reduction: float


@dataclass(frozen=True)
class Srm:
    """Chi-square goodness-of-fit of the arm counts to the planned split (see :func:`srm_test`).

    Attributes
    ----------
    p_value : float
        Of the chi-square statistic with ``n_arms - 1`` degrees of freedom.
    flagged : bool
        ``p_value < threshold``: the assignment or the logging is probably broken.
    observed : dict of str to int
        Customers per arm.
    expected : dict of str to float
        ``total * planned share`` per arm.
    threshold : float
        The flagging threshold used.
    """

    p_value: float
    flagged: bool
    observed: dict[str, int]
    expected: dict[str, float]
    threshold: float

    def as_dict(self) -> dict[str, object]:
        """The fields as plain Python floats, ints, bools and dicts."""
        return {
            "p_value": float(self.p_value),
            "flagged": bool(self.flagged),
            "observed": {arm: int(count) for arm, count in self.observed.items()},
            "expected": {arm: float(count) for arm, count in self.expected.items()},
            "threshold": float(self.threshold),
        }


@dataclass(frozen=True)
class SampleSize:
    """Customers needed per arm (see :func:`sample_size_proportions`).

    Attributes
    ----------
    n_control, n_arm, total : int
        Ceilings of the required sizes; ``total = n_control + n_arm``.
    baseline, mde, alpha, power, ratio : float
        The inputs: control rate, absolute minimum detectable effect, two-sided
        significance level, power and ``n_arm / n_control``.
    """

    n_control: int
    n_arm: int
    total: int
    baseline: float
    mde: float
    alpha: float
    power: float
    ratio: float


# --------------------------------------------------------------------------- validation


def _raise_if(function: str, errors: list[str]) -> None:
    """Raise one ValueError listing every problem with ``function``'s arguments."""
    if errors:
        raise ValueError(f"{len(errors)} error(s) in {function} arguments: " + "; ".join(errors))


def _is_number(value: object) -> bool:
    """Whether ``value`` is a finite real number (bools are not numbers here)."""
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _is_count(value: object) -> bool:
    """Whether ``value`` is an integer (bools are not counts here)."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def _open_unit_problems(value: object, name: str) -> list[str]:
    """Why ``value`` is not a number in (0, 1) (empty if it is)."""
    ok = _is_number(value) and 0 < value < 1
    return [] if ok else [f"'{name}' must be a number in (0, 1); got {value!r}"]


def _sample(values: ArrayLike, name: str) -> tuple[np.ndarray | None, list[str]]:
    """``values`` as a 1-D finite float64 array of at least 2 values, or None and why not."""
    array = np.asarray(values)
    if array.ndim != 1:
        return None, [f"'{name}' must be 1-D of shape (n_samples,); got shape {array.shape}"]
    if array.dtype.kind not in "biuf":
        return None, [f"'{name}' must be numeric or bool; got dtype {array.dtype}"]
    array = array.astype(np.float64)
    n_missing = int(np.isnan(array).sum())
    if n_missing:
        return None, [
            f"'{name}' must not contain NaN; got {n_missing} of {array.size}: drop or count "
            "missing values (e.g. as 0 revenue) before the comparison"
        ]
    if not np.isfinite(array).all():
        return None, [f"'{name}' must be finite; got {int(np.isinf(array).sum())} infinite"]
    if array.size < 2:
        return None, [f"'{name}' must have at least 2 values; got {array.size}"]
    return array, []


def _samples(
    function: str, y_arm: ArrayLike, y_control: ArrayLike, extra: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Both arms as validated float arrays, or one ValueError listing every problem."""
    arm, arm_errors = _sample(y_arm, "y_arm")
    control, control_errors = _sample(y_control, "y_control")
    _raise_if(function, arm_errors + control_errors + extra)
    return arm, control


def _count_problems(successes: object, n: object, which: str) -> list[str]:
    """Why ``successes`` out of ``n`` is not a binomial count for arm ``which``."""
    n_name, s_name = f"n_{which}", f"successes_{which}"
    if not (_is_count(n) and n >= 1):
        return [f"'{n_name}' must be an integer >= 1; got {n!r}"]
    if not (_is_count(successes) and 0 <= successes <= n):
        return [f"'{s_name}' must be an integer in [0, {n_name}={n}]; got {successes!r}"]
    return []


def _option(name: str) -> str:
    """The command-line option a planning argument comes from (``n_arm`` -> ``--n-arm``)."""
    return "--" + name.replace("_", "-")


def _planning_problems(alpha: object, power: object) -> list[str]:
    """Why ``alpha`` and ``power`` cannot plan a two-sided test (empty if they can)."""
    errors = []
    if not (_is_number(alpha) and 0 < alpha < 1):
        errors.append(f"--alpha must be a number in (0, 1); got {alpha!r}")
    if not (_is_number(power) and 0 < power < 1):
        errors.append(f"--power must be a number in (0, 1); got {power!r}")
    elif not errors and power <= alpha:
        errors.append(f"--power must be greater than --alpha={alpha!r}; got {power!r}")
    return errors


# --------------------------------------------------------------------------- lifts


def _z(alpha: float) -> float:
    """Two-sided normal critical value ``z_{1 - alpha/2}``."""
    return float(norm.isf(alpha / 2))


def _ratio_se(mean_arm: float, var_arm: float, mean_control: float, var_control: float) -> float:
    """Delta-method standard error of ``mean_arm / mean_control`` from the variances of the means.

    ``mean_control`` must be non-zero.
    """
    variance = var_arm / mean_control**2 + mean_arm**2 * var_control / mean_control**4
    return math.sqrt(variance)


def _relative(
    mean_arm: float, var_arm: float, mean_control: float, var_control: float, z: float
) -> tuple[float, float, float]:
    """Relative lift and its ``± z`` delta-method interval; NaNs when ``mean_control`` is 0."""
    if mean_control == 0:
        return math.nan, math.nan, math.nan
    rel = mean_arm / mean_control - 1
    half = z * _ratio_se(mean_arm, var_arm, mean_control, var_control)
    return rel, rel - half, rel + half


def _lift(
    mean_arm: float,
    mean_control: float,
    abs_half_width: float,
    relative: tuple[float, float, float],
    p_value: float,
    method: str,
) -> Lift:
    """Assemble a :class:`Lift` from its parts."""
    diff = mean_arm - mean_control
    return Lift(
        mean_arm=float(mean_arm),
        mean_control=float(mean_control),
        abs_lift=float(diff),
        abs_lift_ci_low=float(diff - abs_half_width),
        abs_lift_ci_high=float(diff + abs_half_width),
        rel_lift=float(relative[0]),
        rel_lift_ci_low=float(relative[1]),
        rel_lift_ci_high=float(relative[2]),
        p_value=float(p_value),
        method=method,
    )


def _pooled_z_p_value(
    successes_arm: int, n_arm: int, successes_control: int, n_control: int
) -> float:
    """Two-sided p-value of the pooled two-proportion z-test; 1 when both rates are 0 or 1."""
    diff = successes_arm / n_arm - successes_control / n_control
    pooled = (successes_arm + successes_control) / (n_arm + n_control)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_arm + 1 / n_control))
    if se == 0:  # pooled rate 0 or 1: both arms identical, nothing to test
        return 1.0
    return float(2 * norm.sf(abs(diff / se)))


def proportion_lift(
    successes_arm: int,
    n_arm: int,
    successes_control: int,
    n_control: int,
    *,
    alpha: float = 0.05,
) -> Lift:
    """Lift of a conversion rate: Wald interval, pooled z-test, delta-method relative interval.

    Parameters
    ----------
    successes_arm, n_arm : int
        Converted and exposed customers in the treated arm; ``0 <= successes_arm <= n_arm``,
        ``n_arm >= 1``.
    successes_control, n_control : int
        The same for the control arm.
    alpha : float in (0, 1), default 0.05
        Two-sided level of the intervals.

    Returns
    -------
    Lift
        ``abs_lift = p_arm - p_control`` with the unpooled Wald interval
        ``± z sqrt(p1(1-p1)/n1 + p0(1-p0)/n0)``; ``p_value`` of the pooled
        two-sided z-test (the chi-square test without continuity correction);
        ``rel_lift = p_arm / p_control - 1`` with the delta-method interval (NaN when
        ``p_control`` is 0); ``method = "z_test"``. When both rates are 0 or both 1
        the intervals collapse to the point and ``p_value`` is 1.

    Raises
    ------
    ValueError
        Listing every count that is negative, above its ``n`` or not an integer, an
        ``n`` below 1, or ``alpha`` outside (0, 1).

    References
    ----------
    Kohavi, Tang and Xu (2020), ch. 18; agrees with statsmodels'
    ``confint_proportions_2indep(method="wald")`` and ``proportions_ztest``.
    """
    errors = _count_problems(successes_arm, n_arm, "arm")
    errors += _count_problems(successes_control, n_control, "control")
    errors += _open_unit_problems(alpha, "alpha")
    _raise_if("proportion_lift", errors)
    p1, p0 = successes_arm / n_arm, successes_control / n_control
    var1, var0 = p1 * (1 - p1) / n_arm, p0 * (1 - p0) / n_control
    z = _z(alpha)
    return _lift(
        p1,
        p0,
        z * math.sqrt(var1 + var0),
        _relative(p1, var1, p0, var0, z),
        _pooled_z_p_value(successes_arm, n_arm, successes_control, n_control),
        "z_test",
    )


def _welch(var1: float, n1: int, var0: float, n0: int) -> tuple[float, float]:
    """Standard error of the difference in means and its Welch–Satterthwaite degrees of freedom."""
    v1, v0 = var1 / n1, var0 / n0
    df = (v1 + v0) ** 2 / (v1**2 / (n1 - 1) + v0**2 / (n0 - 1))
    return math.sqrt(v1 + v0), df


def mean_lift(y_arm: ArrayLike, y_control: ArrayLike, *, alpha: float = 0.05) -> Lift:
    """Lift of a per-customer mean (e.g. revenue): Welch's t-test and interval.

    Parameters
    ----------
    y_arm : array-like of shape (n_arm,)
        Outcome of each treated customer; finite, at least 2 values.
    y_control : array-like of shape (n_control,)
        Outcome of each control customer; finite, at least 2 values.
    alpha : float in (0, 1), default 0.05
        Two-sided level of the intervals.

    Returns
    -------
    Lift
        ``abs_lift`` with Welch's t interval (Welch–Satterthwaite degrees of
        freedom) and two-sided p-value; ``rel_lift`` with a normal delta-method
        interval using ``Var(mean) = s^2 / n`` (NaN when the control mean is 0);
        ``method = "welch"``. When both arms are constant the intervals collapse to
        the point and ``p_value`` is 1 if the means are equal, 0 otherwise.

    Raises
    ------
    ValueError
        Listing every problem: not 1-D, not numeric, NaN (with how many: missing
        values must be dropped or counted before), infinite, fewer than 2 values,
        ``alpha`` outside (0, 1).

    References
    ----------
    Welch (1947); agrees with statsmodels' ``ttest_ind(usevar="unequal")`` and
    ``CompareMeans.tconfint_diff(usevar="unequal")`` and scipy's
    ``ttest_ind(equal_var=False)``.
    """
    arm, control = _samples("mean_lift", y_arm, y_control, _open_unit_problems(alpha, "alpha"))
    m1, m0 = float(arm.mean()), float(control.mean())
    var1, var0 = float(arm.var(ddof=1)), float(control.var(ddof=1))
    relative = _relative(m1, var1 / arm.size, m0, var0 / control.size, _z(alpha))
    se, df = (0.0, math.nan) if var1 == var0 == 0 else _welch(var1, arm.size, var0, control.size)
    if se == 0:  # both arms constant: the difference is known exactly
        return _lift(m1, m0, 0.0, relative, 1.0 if m1 == m0 else 0.0, "welch")
    half = float(student_t.isf(alpha / 2, df)) * se
    p_value = float(2 * student_t.sf(abs((m1 - m0) / se), df))
    return _lift(m1, m0, half, relative, p_value, "welch")


# --------------------------------------------------------------------------- bootstrap


def _sparse_resampled_sums(
    nonzero: np.ndarray, n: int, n_resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """Sums of ``n_resamples`` resamples of size ``n`` from data whose non-zero part is ``nonzero``.

    A resample of ``n`` draws holds ``K ~ Binomial(n, m/n)`` non-zero values, each a
    uniform pick among the ``m`` non-zero ones; the zeros add nothing to the sum.
    """
    m = nonzero.size
    sums = np.zeros(n_resamples)
    if m == 0:
        return sums
    counts = rng.binomial(n, m / n, size=n_resamples)
    per_chunk = max(1, _CHUNK_DRAWS // m)
    for start in range(0, n_resamples, per_chunk):
        k = counts[start : start + per_chunk]
        picks = nonzero[rng.integers(0, m, size=int(k.sum()))]
        owner = np.repeat(np.arange(k.size), k)
        sums[start : start + k.size] = np.bincount(owner, weights=picks, minlength=k.size)
    return sums


def _dense_resampled_sums(
    values: np.ndarray, n_resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """Sums of ``n_resamples`` plain resamples of ``values``, in chunks to bound memory."""
    n = values.size
    per_chunk = max(1, _CHUNK_DRAWS // n)
    sums = np.empty(n_resamples)
    for start in range(0, n_resamples, per_chunk):
        size = min(per_chunk, n_resamples - start)
        sums[start : start + size] = values[rng.integers(0, n, size=(size, n))].sum(axis=1)
    return sums


def _resampled_means(values: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Means of ``n_resamples`` bootstrap resamples of ``values``, shape (n_resamples,)."""
    nonzero = values[values != 0]
    if nonzero.size <= _DENSE_SHARE * values.size:
        sums = _sparse_resampled_sums(nonzero, values.size, n_resamples, rng)
    else:
        sums = _dense_resampled_sums(values, n_resamples, rng)
    return sums / values.size


def bootstrap_diff_ci(
    y_arm: ArrayLike,
    y_control: ArrayLike,
    *,
    alpha: float = 0.05,
    n_resamples: int = 2000,
    seed: int | None = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``mean(y_arm) - mean(y_control)``.

    Each arm is resampled independently with replacement. On zero-inflated data
    (most customers spend nothing) a resample is drawn exactly but cheaply: its
    number of non-zero values is ``Binomial(n, m/n)`` and those values are uniform
    picks among the ``m`` non-zero ones, so the cost grows with ``m``, not ``n``.

    Parameters
    ----------
    y_arm : array-like of shape (n_arm,)
        Outcome of each treated customer; finite, at least 2 values.
    y_control : array-like of shape (n_control,)
        Outcome of each control customer; finite, at least 2 values.
    alpha : float in (0, 1), default 0.05
        Two-sided level: the ``alpha/2`` and ``1 - alpha/2`` percentiles are returned.
    n_resamples : int >= 1, default 2000
        Bootstrap resamples per arm.
    seed : int >= 0 or None, default 0
        Seed of ``numpy.random.default_rng``; a fixed seed gives identical output.

    Returns
    -------
    tuple of (float, float)
        Lower and upper bounds.

    Raises
    ------
    ValueError
        Listing every problem with the arrays (as :func:`mean_lift`), ``alpha``,
        ``n_resamples`` or ``seed``.

    References
    ----------
    Efron and Tibshirani (1993), ch. 13; agrees with ``scipy.stats.bootstrap(...,
    method="percentile")`` within Monte-Carlo error.
    """
    errors = _open_unit_problems(alpha, "alpha")
    if not (_is_count(n_resamples) and n_resamples >= 1):
        errors.append(f"'n_resamples' must be an integer >= 1; got {n_resamples!r}")
    if not (seed is None or (_is_count(seed) and seed >= 0)):
        errors.append(f"'seed' must be an integer >= 0 or None; got {seed!r}")
    arm, control = _samples("bootstrap_diff_ci", y_arm, y_control, errors)
    rng = np.random.default_rng(seed)
    diffs = _resampled_means(arm, n_resamples, rng) - _resampled_means(control, n_resamples, rng)
    low, high = np.quantile(diffs, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


# --------------------------------------------------------------------------- CUPED


def cuped(y: ArrayLike, x: ArrayLike) -> Cuped:
    """CUPED: remove from ``y`` the part explained linearly by a pre-period covariate ``x``.

    Pass ``y`` and ``x`` of *all* customers of the comparison (every arm pooled) so
    that one ``theta`` serves all arms, then split ``adjusted`` by arm and compare it
    with :func:`mean_lift`. Under randomisation ``x`` is balanced across arms, so the
    difference in adjusted means is unbiased for the same effect, with variance
    reduced by ``corr(x, y)^2``.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Outcome in the experiment period (e.g. revenue after the send).
    x : array-like of shape (n_samples,)
        The same metric before assignment (e.g. revenue in the 90 days before).

    Returns
    -------
    Cuped
        ``adjusted = y - theta (x - mean(x))`` with ``theta = cov(x, y) / var(x)``
        (0 when ``x`` is constant) and ``variance_reduction = 1 - var(adjusted) / var(y)``
        (0 when ``y`` is constant).

    Raises
    ------
    ValueError
        Listing every problem: not 1-D, not numeric, NaN, infinite, fewer than 2
        values, different lengths.

    References
    ----------
    Deng, Xu, Kohavi and Walker (2013). Improving the sensitivity of online controlled
    experiments by utilizing pre-experiment data. *WSDM '13*, 123–132.
    """
    y_values, y_errors = _sample(y, "y")
    x_values, x_errors = _sample(x, "x")
    errors = y_errors + x_errors
    if not errors and y_values.size != x_values.size:
        errors.append(
            f"'y' and 'x' must have the same length; got {y_values.size} and {x_values.size}"
        )
    _raise_if("cuped", errors)
    x_centred = x_values - x_values.mean()
    theta = 0.0
    if np.ptp(x_values) > 0:  # ptp, not var == 0: a constant's mean may be off by an ulp
        theta = float(x_centred @ (y_values - y_values.mean()) / (x_centred @ x_centred))
    adjusted = y_values - theta * x_centred
    reduction = 0.0 if np.ptp(y_values) == 0 else float(1 - adjusted.var() / y_values.var())
    return Cuped(adjusted=adjusted, theta=theta, variance_reduction=reduction)


# --------------------------------------------------------------------------- SRM


def _srm_problems(
    observed: Mapping[str, int], planned: Mapping[str, float] | None, threshold: object
) -> list[str]:
    """Why the arm counts, planned shares or threshold cannot be tested (empty if they can)."""
    errors = []
    if len(observed) < 2:
        errors.append(f"'observed' must have at least 2 arms; got {sorted(observed)}")
    bad = {arm: n for arm, n in observed.items() if not (_is_count(n) and n >= 0)}
    if bad:
        errors.append(f"'observed' counts must be integers >= 0; got {bad}")
    elif observed and sum(observed.values()) == 0:
        errors.append("'observed' must count at least one customer; got 0 in every arm")
    if planned is not None:
        missing = sorted(set(observed) - set(planned))
        extra = sorted(set(planned) - set(observed))
        if missing or extra:
            errors.append(
                f"'planned' must name exactly the observed arms; missing: {missing}, extra: {extra}"
            )
        bad_shares = {arm: s for arm, s in planned.items() if not (_is_number(s) and s > 0)}
        if bad_shares:
            errors.append(f"'planned' shares must be finite numbers > 0; got {bad_shares}")
    return errors + _open_unit_problems(threshold, "threshold")


def srm_test(
    observed: Mapping[str, int],
    planned: Mapping[str, float] | None = None,
    *,
    threshold: float = SRM_THRESHOLD,
) -> Srm:
    """Sample ratio mismatch: chi-square goodness of fit of arm counts to the planned split.

    Parameters
    ----------
    observed : mapping of str to int
        Customers per arm, at least 2 arms.
    planned : mapping of str to float, optional
        Planned share (or weight) per arm, normalised to sum to 1; must name exactly
        the arms of ``observed``, all > 0. Equal shares when omitted.
    threshold : float in (0, 1), default :data:`SRM_THRESHOLD`
        Flag when the p-value is below it.

    Returns
    -------
    Srm
        p-value of ``sum((observed - expected)^2 / expected)`` on ``n_arms - 1``
        degrees of freedom, with ``expected = total * share``.

    Raises
    ------
    ValueError
        Listing every problem: fewer than 2 arms, negative or non-integer counts, no
        customers, planned arms missing or extra, shares not > 0, ``threshold``
        outside (0, 1).

    References
    ----------
    Kohavi, Tang and Xu (2020), ch. 3 and 21; agrees with ``scipy.stats.chisquare``.
    """
    _raise_if("srm_test", _srm_problems(observed, planned, threshold))
    arms = list(observed)
    weights = np.ones(len(arms)) if planned is None else np.array([planned[a] for a in arms])
    counts = np.array([observed[a] for a in arms], dtype=np.float64)
    expected = counts.sum() * weights / weights.sum()
    statistic = float(((counts - expected) ** 2 / expected).sum())
    p_value = float(chi2.sf(statistic, len(arms) - 1))
    return Srm(
        p_value=p_value,
        flagged=p_value < threshold,
        observed={a: int(observed[a]) for a in arms},
        expected={a: float(e) for a, e in zip(arms, expected, strict=True)},
        threshold=float(threshold),
    )


# --------------------------------------------------------------------------- multiplicity


def _benjamini_hochberg(sorted_p: np.ndarray) -> np.ndarray:
    """BH adjusted p-values of ascending ``sorted_p``: ``min_{j >= i} m p_(j) / j``, capped at 1."""
    m = sorted_p.size
    raw = sorted_p * m / np.arange(1, m + 1)
    return np.minimum(np.minimum.accumulate(raw[::-1])[::-1], 1.0)


def _holm(sorted_p: np.ndarray) -> np.ndarray:
    """Holm adjusted p-values of ascending ``sorted_p``: ``max_{j <= i} (m - j + 1) p_(j)``."""
    m = sorted_p.size
    raw = sorted_p * np.arange(m, 0, -1)
    return np.minimum(np.maximum.accumulate(raw), 1.0)


def adjust_p_values(p_values: ArrayLike, method: str = "bh") -> np.ndarray:
    """Adjust a family of p-values for multiple testing.

    Parameters
    ----------
    p_values : array-like of shape (n_tests,)
        p-values in [0, 1]; NaN entries (tests that could not be run) stay NaN and
        do not count in the family size.
    method : {"bh", "holm", "none"}, default "bh"
        Benjamini–Hochberg (false discovery rate), Holm (family-wise error rate) or
        no adjustment.

    Returns
    -------
    numpy.ndarray of shape (n_tests,)
        Adjusted p-values in the input order.

    Raises
    ------
    ValueError
        If ``method`` is not one of :data:`CORRECTIONS`, ``p_values`` is not 1-D or
        has values outside [0, 1].

    References
    ----------
    Benjamini and Hochberg (1995); Holm (1979); agrees with statsmodels'
    ``multipletests(method="fdr_bh" | "holm")``.
    """
    errors = []
    if method not in CORRECTIONS:
        errors.append(f"'method' must be one of {CORRECTIONS}; got {method!r}")
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        errors.append(f"'p_values' must be 1-D of shape (n_tests,); got shape {p.shape}")
    elif ((p < 0) | (p > 1)).any():
        outside = p[(p < 0) | (p > 1)]
        errors.append(f"'p_values' must be in [0, 1] or NaN; got {outside[:5].tolist()}")
    _raise_if("adjust_p_values", errors)
    adjusted = p.copy()
    present = np.flatnonzero(~np.isnan(p))
    if method == "none" or present.size == 0:
        return adjusted
    order = present[np.argsort(p[present], kind="stable")]
    correct = _benjamini_hochberg if method == "bh" else _holm
    adjusted[order] = correct(p[order])
    return adjusted


# --------------------------------------------------------------------------- power


def _two_sided_power(standardized_effect: float, alpha: float) -> float:
    """Power of a two-sided z-test whose statistic has mean ``standardized_effect``.

    Both rejection tails count, as in statsmodels' ``normal_power``.
    """
    crit = norm.isf(alpha / 2)
    return float(norm.sf(crit - standardized_effect) + norm.cdf(-crit - standardized_effect))


def _required_standardized_effect(alpha: float, power: float) -> float:
    """Mean of the z statistic at which a two-sided level-``alpha`` test has ``power``.

    About ``z_{1-alpha/2} + z_{power}``; exactly, the root including the far tail.
    Requires ``alpha < power < 1``.
    """
    upper = norm.isf(alpha / 2) + norm.ppf(power) + 1  # the near tail alone exceeds power here
    return float(
        optimize.brentq(
            lambda d: _two_sided_power(d, alpha) - power, 0.0, upper, xtol=1e-14, rtol=1e-15
        )
    )


def _cohen_h(p1: float, p0: float) -> float:
    """Cohen's arcsine effect size ``2 asin(sqrt(p1)) - 2 asin(sqrt(p0))``."""
    return 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p0))


def sample_size_proportions(
    baseline: float,
    mde: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
) -> SampleSize:
    """Customers per arm to detect an absolute change ``mde`` of a conversion rate.

    Two-sided z-test on Cohen's arcsine effect size
    ``h = 2 asin(sqrt(baseline + mde)) - 2 asin(sqrt(baseline))``: the effective size
    ``n_control * n_arm / (n_control + n_arm)`` must be ``(d / h)^2``, where ``d`` is
    the standardized effect at which the test has ``power`` (both tails counted).

    Parameters
    ----------
    baseline : float in (0, 1)
        Control conversion rate.
    mde : float, non-zero
        Minimum detectable effect, *absolute* (0.01 is one percentage point);
        ``baseline + mde`` must be in (0, 1).
    alpha : float in (0, 1), default 0.05
        Two-sided significance level.
    power : float in (alpha, 1), default 0.8
        Probability of detecting an effect of size ``mde``.
    ratio : float > 0, default 1.0
        ``n_arm / n_control``.

    Returns
    -------
    SampleSize
        ``n_control``, ``n_arm = ratio * n_control`` and their total, each rounded up,
        and the inputs.

    Raises
    ------
    ValueError
        Naming every option out of range (``--baseline``, ``--mde``, ``--alpha``,
        ``--power``, ``--ratio``) and the value given.

    References
    ----------
    Cohen (1988), ch. 6; agrees with statsmodels' ``NormalIndPower().solve_power``
    on ``proportion_effectsize(baseline + mde, baseline)``.
    """
    errors = []
    if not (_is_number(baseline) and 0 < baseline < 1):
        errors.append(f"--baseline must be a rate in (0, 1); got {baseline!r}")
    if not (_is_number(mde) and mde != 0):
        errors.append(f"--mde must be a non-zero absolute change of the rate; got {mde!r}")
    elif not errors and not 0 < baseline + mde < 1:
        errors.append(
            f"--mde must keep --baseline + --mde in (0, 1); got {mde!r} "
            f"(--baseline + --mde = {baseline + mde!r})"
        )
    errors += _planning_problems(alpha, power)
    if not (_is_number(ratio) and ratio > 0):
        errors.append(f"--ratio (n_arm / n_control) must be a number > 0; got {ratio!r}")
    _raise_if("sample_size_proportions", errors)
    effective = _required_standardized_effect(alpha, power) / _cohen_h(baseline + mde, baseline)
    n_control = effective**2 * (1 + ratio) / ratio
    control, arm = math.ceil(n_control), math.ceil(ratio * n_control)
    return SampleSize(
        n_control=control,
        n_arm=arm,
        total=control + arm,
        baseline=float(baseline),
        mde=float(mde),
        alpha=float(alpha),
        power=float(power),
        ratio=float(ratio),
    )


def _arm_size_problems(n_control: object, n_arm: object) -> list[str]:
    """Why the arm sizes are not integers >= 1 (empty if they are)."""
    return [
        f"{_option(name)} must be an integer >= 1; got {value!r}"
        for name, value in (("n_control", n_control), ("n_arm", n_arm))
        if not (_is_count(value) and value >= 1)
    ]


def mde_proportion(
    baseline: float,
    n_control: int,
    n_arm: int,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
) -> float:
    """Smallest absolute increase of a conversion rate the arms can detect.

    The inverse of :func:`sample_size_proportions`: the ``mde > 0`` whose arcsine
    effect size gives the two-sided z-test ``power`` with these arm sizes.

    Parameters
    ----------
    baseline : float in [0, 1]
        Control conversion rate.
    n_control, n_arm : int >= 1
        Customers per arm.
    alpha : float in (0, 1), default 0.05
        Two-sided significance level.
    power : float in (alpha, 1), default 0.8
        Required power.

    Returns
    -------
    float
        The absolute lift; NaN when no rate up to 1 is detectable (the arms are too
        small, or ``baseline`` is 1).

    Raises
    ------
    ValueError
        Naming every option out of range (``--baseline``, ``--n-control``,
        ``--n-arm``, ``--alpha``, ``--power``) and the value given.

    References
    ----------
    Cohen (1988), ch. 6; statsmodels' ``NormalIndPower().power`` at the result equals
    ``power``.
    """
    errors = []
    if not (_is_number(baseline) and 0 <= baseline <= 1):
        errors.append(f"--baseline must be a rate in [0, 1]; got {baseline!r}")
    errors += _arm_size_problems(n_control, n_arm) + _planning_problems(alpha, power)
    _raise_if("mde_proportion", errors)
    effective_n = 1 / (1 / n_control + 1 / n_arm)
    h = _required_standardized_effect(alpha, power) / math.sqrt(effective_n)
    angle = math.asin(math.sqrt(baseline)) + h / 2
    if angle > math.pi / 2:  # would need a rate above 1
        return math.nan
    return math.sin(angle) ** 2 - baseline


def mde_means(
    sd_control: float,
    sd_arm: float,
    n_control: int,
    n_arm: int,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
) -> float:
    """Smallest absolute difference in means the arms can detect (two-sided z-test).

    ``d * sqrt(sd_control^2 / n_control + sd_arm^2 / n_arm)`` with
    ``d ≈ z_{1-alpha/2} + z_{power}``; ``d`` also counts the far rejection tail, as
    :func:`mde_proportion` and statsmodels do, which makes the result about 1e-6
    (relative) smaller than the closed form at alpha 0.05 and power 0.8.

    Parameters
    ----------
    sd_control, sd_arm : float >= 0
        Standard deviation of the per-customer outcome in each arm.
    n_control, n_arm : int >= 1
        Customers per arm.
    alpha : float in (0, 1), default 0.05
        Two-sided significance level.
    power : float in (alpha, 1), default 0.8
        Required power.

    Returns
    -------
    float
        The minimum detectable difference, in the outcome's unit.

    Raises
    ------
    ValueError
        Naming every option out of range (``--sd-control``, ``--sd-arm``,
        ``--n-control``, ``--n-arm``, ``--alpha``, ``--power``) and the value given.

    References
    ----------
    Cohen (1988), ch. 2; agrees with statsmodels' ``NormalIndPower`` at effect size
    ``mde / sd`` when the arms share ``sd``.
    """
    errors = [
        f"{_option(name)} must be a finite number >= 0; got {value!r}"
        for name, value in (("sd_control", sd_control), ("sd_arm", sd_arm))
        if not (_is_number(value) and value >= 0)
    ]
    errors += _arm_size_problems(n_control, n_arm) + _planning_problems(alpha, power)
    _raise_if("mde_means", errors)
    se = math.sqrt(sd_control**2 / n_control + sd_arm**2 / n_arm)
    return _required_standardized_effect(alpha, power) * se


def roi(incremental_revenue: float, cost: float) -> float:
    """Return on investment of a campaign, in percent.

    Parameters
    ----------
    incremental_revenue : float
        Revenue caused by the campaign (lift per customer times customers treated).
    cost : float >= 0
        What the campaign cost.

    Returns
    -------
    float
        ``(incremental_revenue - cost) / cost * 100``; NaN when ``cost`` is 0.

    Raises
    ------
    ValueError
        If either value is not a finite number, or ``cost`` is negative.
    """
    errors = []
    if not _is_number(incremental_revenue):
        errors.append(f"'incremental_revenue' must be a finite number; got {incremental_revenue!r}")
    if not (_is_number(cost) and cost >= 0):
        errors.append(f"'cost' must be a finite number >= 0; got {cost!r}")
    _raise_if("roi", errors)
    if cost == 0:
        return math.nan
    return (incremental_revenue - cost) / cost * 100
