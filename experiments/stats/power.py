"""Planning: sample size and minimum detectable effect of a two-sided test; ROI of a campaign.

Power uses the two-sided normal approximation with the far rejection tail
included, as statsmodels' ``NormalIndPower``. Errors name the command-line option
each argument comes from (``--baseline``, ``--n-arm``), as ``upseg analyze power``
passes them through.

References
----------
.. [1] Cohen, J. (1988). *Statistical Power Analysis for the Behavioral Sciences*,
   2nd ed., ch. 2 and 6 (the arcsine effect size h).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import optimize
from scipy.stats import norm

from upseg.experiments.stats._checks import _is_count, _is_number, _raise_if

__all__ = ["SampleSize", "mde_means", "mde_proportion", "roi", "sample_size_proportions"]


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
    elif not errors and _is_number(alpha) and power <= alpha:
        errors.append(f"--power must be greater than --alpha={alpha!r}; got {power!r}")
    return errors


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
