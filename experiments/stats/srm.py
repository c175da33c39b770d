"""Sample ratio mismatch: do the arm counts match the planned split?

References
----------
.. [1] Kohavi, R., Tang, D. and Xu, Y. (2020). *Trustworthy Online Controlled
   Experiments*, Cambridge University Press, ch. 3 and 21 (sample ratio mismatch).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2

from upseg.experiments.stats._checks import _is_count, _is_number, _open_unit_problems, _raise_if

__all__ = ["SRM_THRESHOLD", "Srm", "srm_test"]

SRM_THRESHOLD = 0.001
"""p-value below which a sample ratio mismatch is flagged (strict, as in Kohavi et al. 2020)."""


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
