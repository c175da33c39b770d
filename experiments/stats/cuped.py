"""CUPED: variance reduction of an outcome by a pre-period covariate.

References
----------
.. [1] Deng, A., Xu, Y., Kohavi, R. and Walker, T. (2013). Improving the sensitivity
   of online controlled experiments by utilizing pre-experiment data. *WSDM '13*,
   123–132.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from upseg.experiments.stats._checks import _raise_if, _sample

__all__ = ["Cuped", "cuped"]


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
    if y_values is not None and x_values is not None and y_values.size != x_values.size:
        errors.append(
            f"'y' and 'x' must have the same length; got {y_values.size} and {x_values.size}"
        )
    _raise_if("cuped", errors)
    # _sample gives None only together with a problem, and _raise_if raised every problem.
    assert y_values is not None and x_values is not None
    x_centred = x_values - x_values.mean()
    theta = 0.0
    if np.ptp(x_values) > 0:  # ptp, not var == 0: a constant's mean may be off by an ulp
        theta = float(x_centred @ (y_values - y_values.mean()) / (x_centred @ x_centred))
    adjusted = y_values - theta * x_centred
    reduction = 0.0 if np.ptp(y_values) == 0 else float(1 - adjusted.var() / y_values.var())
    return Cuped(adjusted=adjusted, theta=theta, variance_reduction=reduction)
