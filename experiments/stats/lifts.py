"""Lifts of a treated arm over control: conversion rates and per-customer means.

The absolute lift is ``mean_arm - mean_control``. The relative lift
:math:`r = m_1 / m_0 - 1` of two independent means gets its standard error from
the delta method,

.. math:: \\operatorname{Var}(m_1 / m_0) \\approx
   \\frac{\\operatorname{Var}(m_1)}{m_0^2} + \\frac{m_1^2 \\operatorname{Var}(m_0)}{m_0^4},

with :math:`\\operatorname{Var}(m) = p(1-p)/n` for a rate and :math:`s^2/n` for a mean.

References
----------
.. [1] Kohavi, R., Tang, D. and Xu, Y. (2020). *Trustworthy Online Controlled
   Experiments*, Cambridge University Press, ch. 18 (variance estimation, delta method).
.. [2] Welch, B. L. (1947). The generalization of "Student's" problem when several
   different population variances are involved. *Biometrika* 34, 28–35.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from numpy.typing import ArrayLike
from scipy.stats import norm
from scipy.stats import t as student_t

from upseg.experiments.stats._checks import _is_count, _open_unit_problems, _raise_if, _samples

__all__ = ["Lift", "mean_lift", "proportion_lift"]


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


def _count_problems(successes: object, n: object, which: str) -> list[str]:
    """Why ``successes`` out of ``n`` is not a binomial count for arm ``which``."""
    n_name, s_name = f"n_{which}", f"successes_{which}"
    if not (_is_count(n) and n >= 1):
        return [f"'{n_name}' must be an integer >= 1; got {n!r}"]
    if not (_is_count(successes) and 0 <= successes <= n):
        return [f"'{s_name}' must be an integer in [0, {n_name}={n}]; got {successes!r}"]
    return []


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
