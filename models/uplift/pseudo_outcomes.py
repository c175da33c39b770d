"""Pseudo-outcomes: one number per customer whose expectation is that customer's effect.

In a randomised experiment the individual effect of the e-mail is never
observed, but these are, and their expectation given a customer's features is
the effect. :mod:`upseg.models.uplift.calibration` regresses them on the
predicted uplift; their mean over a group is that group's realised uplift.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from upseg.models.uplift.metrics._checks import _fail, _shown, _validated

__all__ = ["dr_pseudo_outcome", "ipw_pseudo_outcome"]


def _propensity(
    function: str, propensity: ArrayLike | float, arrays: dict[str, ArrayLike]
) -> list[np.ndarray]:
    """The validated arrays, then ``propensity`` as one value per row in (0, 1)."""
    scalar = np.ndim(propensity) == 0
    if scalar:
        value = np.asarray(propensity)
        finite = value.dtype.kind in "iuf" and math.isfinite(float(value))
        if not finite or not 0 < float(value) < 1:
            _fail(function, [f"'propensity' must lie strictly between 0 and 1; got {propensity!r}"])
    validated = _validated(function, arrays if scalar else {**arrays, "propensity": propensity})
    if scalar:
        return [*validated, np.full(len(validated[0]), float(np.asarray(propensity)))]
    p = validated[-1]
    outside = (p <= 0) | (p >= 1)
    if outside.any():
        _fail(
            function,
            [
                "'propensity' must lie strictly between 0 and 1 for every customer; "
                f"got {int(outside.sum())} outside, e.g. {_shown(p[outside])}"
            ],
        )
    return validated


def ipw_pseudo_outcome(
    y: ArrayLike, treatment: ArrayLike, propensity: ArrayLike | float
) -> np.ndarray:
    """Inverse-propensity-weighted pseudo-outcome ``y * (t / p - (1 - t) / (1 - p))``.

    Its expectation given a customer's features is their effect, when ``p`` is
    the probability with which a randomised assignment sent them the treatment.
    Treated customers count ``y / p``, control customers ``-y / (1 - p)``; the
    mean over everyone is the Horvitz-Thompson estimate of the average effect.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Outcome: 0/1 conversion or a continuous amount.
    treatment : array-like of shape (n_samples,)
        1 treated, 0 control; both arms must be present.
    propensity : float or array-like of shape (n_samples,)
        Known assignment probability ``P(T = 1)``, strictly between 0 and 1;
        one value for everyone or one per customer.

    Returns
    -------
    numpy.ndarray of shape (n_samples,)

    Raises
    ------
    ValueError
        Listing every problem with the arguments.
    """
    arrays = {"y": y, "treatment": treatment}
    y_, t, p = _propensity("ipw_pseudo_outcome", propensity, arrays)
    return y_ * (t / p - (1 - t) / (1 - p))


def dr_pseudo_outcome(
    y: ArrayLike,
    treatment: ArrayLike,
    propensity: ArrayLike | float,
    mu0: ArrayLike,
    mu1: ArrayLike,
) -> np.ndarray:
    """Doubly robust (AIPW) pseudo-outcome of each customer.

    ``mu1 - mu0 + t (y - mu1) / p - (1 - t) (y - mu0) / (1 - p)``.

    Unbiased for each customer's effect when either the propensity or the
    outcome models are right; in a randomised experiment ``p`` is known, so it
    is unbiased whatever ``mu0`` and ``mu1`` are, and good outcome models only
    make it less noisy than :func:`ipw_pseudo_outcome` (which it equals with
    ``mu0 = mu1 = 0``). ``mu0`` and ``mu1`` must not have been fitted on these
    customers' outcomes (fit them on other customers, or cross-fit), or the
    noise they absorbed leaks into the pseudo-outcome.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Outcome: 0/1 conversion or a continuous amount.
    treatment : array-like of shape (n_samples,)
        1 treated, 0 control; both arms must be present.
    propensity : float or array-like of shape (n_samples,)
        Known assignment probability ``P(T = 1)``, strictly between 0 and 1.
    mu0, mu1 : array-like of shape (n_samples,)
        Predicted outcome of each customer without and with the treatment.

    Returns
    -------
    numpy.ndarray of shape (n_samples,)

    Raises
    ------
    ValueError
        Listing every problem with the arguments.

    References
    ----------
    Robins, J. M., Rotnitzky, A. and Zhao, L. P. (1994). Estimation of regression
    coefficients when some regressors are not always observed. JASA 89(427).
    """
    arrays = {"y": y, "treatment": treatment, "mu0": mu0, "mu1": mu1}
    y_, t, m0, m1, p = _propensity("dr_pseudo_outcome", propensity, arrays)
    return m1 - m0 + t * (y_ - m1) / p - (1 - t) * (y_ - m0) / (1 - p)
