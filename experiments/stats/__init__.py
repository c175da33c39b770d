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

from typing import TYPE_CHECKING

from upseg._lazy import lazy_exports

if TYPE_CHECKING:
    from upseg.experiments.stats.bootstrap import bootstrap_diff_ci
    from upseg.experiments.stats.cuped import Cuped, cuped
    from upseg.experiments.stats.lifts import Lift, mean_lift, proportion_lift
    from upseg.experiments.stats.multiplicity import CORRECTIONS, adjust_p_values
    from upseg.experiments.stats.power import (
        SampleSize,
        mde_means,
        mde_proportion,
        roi,
        sample_size_proportions,
    )
    from upseg.experiments.stats.srm import SRM_THRESHOLD, Srm, srm_test

# Each name imports its submodule on first access (PEP 562), so importing one
# submodule of this package does not import the others.
_EXPORTS = {
    "bootstrap_diff_ci": "bootstrap",
    "Cuped": "cuped",
    "cuped": "cuped",
    "Lift": "lifts",
    "mean_lift": "lifts",
    "proportion_lift": "lifts",
    "CORRECTIONS": "multiplicity",
    "adjust_p_values": "multiplicity",
    "SampleSize": "power",
    "mde_means": "power",
    "mde_proportion": "power",
    "roi": "power",
    "sample_size_proportions": "power",
    "SRM_THRESHOLD": "srm",
    "Srm": "srm",
    "srm_test": "srm",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

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
