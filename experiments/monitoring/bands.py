"""The expected band of each KPI from its own recent history, and the periods that leave it.

Shewhart control charts, one per series (segmentation × segment × campaign type
× metric), each period judged against the ``history`` periods before it:

* a **rate** gets a p-chart with probability limits: the centre is the rate
  of those periods (their numerators over their denominators, smoothed by
  half an event) and the band holds the counts that Binomial(this period's
  denominator, centre) gives with the probability of ``z`` normal sigmas, so
  a small segment gets a wide band, a large one a narrow band, and a rare
  rate (complaints) is judged exactly, not by the normal approximation;
  unless the series' earlier rates vary more than sampling explains, when the
  band is widened to the prediction interval of their spread (Laney's p'
  factor, :func:`_overdispersion`);
* **revenue per e-mail** gets an individuals chart: the centre is the mean of
  those periods' values and the band a prediction interval from the larger
  of their average moving range (/1.128, as for an XmR chart) and their
  standard deviation.

Bands are cut at 0 (and a rate's at 1). A period is flagged only with
``min_history`` earlier periods and a denominator of ``min_denominator`` or
more. With ``z = 3`` a stable binomial rate leaves its band in about 4 periods
of 1,000 (the tests hold it under 0.6%); an overdispersed one at 500,000
e-mails a week in under 1%, where a plain p-chart flags most weeks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["BAND_COLUMNS", "RATE_METRICS", "kpi_bands"]

#: The columns :func:`kpi_bands` adds.
BAND_COLUMNS = ("expected", "band_low", "band_high", "history_periods", "flag")
#: Metrics read as rates (p-chart); any other metric gets an individuals chart.
RATE_METRICS = (
    "delivery_rate",
    "bounce_rate",
    "open_rate",
    "click_rate",
    "click_to_open_rate",
    "unsubscribe_rate",
    "complaint_rate",
    "conversion_rate",
    "reactivation_rate",
    "churn_rate",
)
_SERIES = ["segment_by", "segment", "campaign_type", "metric"]
_D2 = 1.128  # the mean moving range of two normal values, in sigmas


def _rate_band(num: np.ndarray, den: np.ndarray, history: int, z: float) -> tuple:
    """Per period: the rate of the ``history`` periods before it, and its binomial band.

    The centre is Jeffreys-smoothed, ``(x + 1/2) / (n + 1)`` over those periods,
    so that a history of zeros (no complaint in eight weeks) still allows a
    count; the band holds the counts of probability ``2 * norm.sf(z)`` or more
    under Binomial(this period's denominator, centre), exactly, not by the
    normal approximation, which fails for the rare rates (complaints,
    unsubscribes) that matter most.
    """
    n = len(num)
    cum_num = np.concatenate([[0.0], np.cumsum(np.nan_to_num(num))])
    cum_den = np.concatenate([[0.0], np.cumsum(np.nan_to_num(den))])
    seen = np.concatenate([[0], np.cumsum(den > 0)])
    idx = np.arange(n)
    start = np.maximum(idx - history, 0)
    prev_num = cum_num[idx] - cum_num[start]
    prev_den = cum_den[idx] - cum_den[start]
    periods = seen[idx] - seen[start]
    tail = stats.norm.sf(z)
    trials = np.nan_to_num(den).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = np.where(prev_den > 0, (prev_num + 0.5) / (prev_den + 1), np.nan)
        low = stats.binom.ppf(tail, trials, centre) / den
        high = stats.binom.isf(tail, trials, centre) / den
    spread = _overdispersion(num, den, centre, z)
    return centre, centre - spread * (centre - low), centre + spread * (high - centre), periods


def _overdispersion(num: np.ndarray, den: np.ndarray, centre: np.ndarray, z: float) -> np.ndarray:
    """Per period: by how much to widen the binomial band, 1 unless the history is overdispersed.

    A large segment's rate moves from week to week more than sampling explains
    (its customers change, so do the e-mails), and a band of sampling error
    alone would flag most of its weeks. So, as in Laney's p'-chart, every
    earlier rate of the series (not only the ``history`` periods of the
    centre: the spread needs more of them than the level does) is standardized,
    ``(p_j - centre) / sqrt(centre (1 - centre) / n_j)``; when their spread is
    significantly above 1 (a chi-squared test of homogeneity at 1%), the band
    is the prediction interval that spread gives for one more period: their
    standard deviation ``s`` times Student's t with ``k - 1`` degrees of
    freedom at the band's tail probability, times ``sqrt(1 + 1/k)``, over
    ``z``. Laney takes the moving range; the standard deviation also absorbs a
    slow drift, which the trend line shows without a flag every week.
    Otherwise (and with fewer than two earlier rates) the factor is 1:
    sampling is all the history shows.
    """
    n = len(num)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.where(den > 0, num / den, np.nan)
    earlier = np.tri(n, n, -1, dtype=bool)  # row i: the periods before i
    past = np.where(earlier, rates[None, :], np.nan)
    sizes = np.broadcast_to(den[None, :], (n, n))
    c = centre[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        zs = (past - c) / np.sqrt(c * (1 - c) / sizes)
    zs = np.where(np.isfinite(zs), zs, np.nan)
    k = np.isfinite(zs).sum(axis=1)
    mean = np.nansum(zs, axis=1) / np.maximum(k, 1)
    squares = np.nansum((zs - mean[:, None]) ** 2, axis=1)
    dof = np.maximum(k - 1, 1)
    over = (k >= 2) & (squares > stats.chi2.ppf(0.99, dof))
    factor = np.sqrt(squares / dof) * _prediction_multiplier(k, z) / z
    return np.where(over, np.maximum(factor, 1.0), 1.0)


def _prediction_multiplier(k: np.ndarray | int, z: float) -> np.ndarray:
    """Student's t with ``k - 1`` degrees of freedom at the tail of ``z``, times ``sqrt(1 + 1/k)``.

    The half-width, in estimated standard deviations, of a prediction interval
    for one more value from ``k`` earlier ones with the same coverage as ``z``
    normal sigmas.
    """
    k = np.maximum(np.asarray(k, dtype=float), 2.0)
    return stats.t.isf(stats.norm.sf(z), k - 1) * np.sqrt(1 + 1 / k)


def _individuals_band(values: np.ndarray, history: int, z: float) -> tuple:
    """Per period: the mean of the ``history`` values before it, and its XmR band."""
    n = len(values)
    centre = np.full(n, np.nan)
    low = np.full(n, np.nan)
    high = np.full(n, np.nan)
    periods = np.zeros(n, dtype=int)
    for i in range(n):
        prev = values[max(i - history, 0) : i]
        prev = prev[np.isfinite(prev)]
        periods[i] = len(prev)
        if len(prev) == 0:
            continue
        centre[i] = prev.mean()
        if len(prev) >= 2:
            # The larger of the short-term (moving range) and the overall spread, and a
            # prediction interval's width for a spread estimated from len(prev) values.
            sigma = max(np.abs(np.diff(prev)).mean() / _D2, prev.std(ddof=1))
            half = float(_prediction_multiplier(len(prev), z)) * sigma
            low[i], high[i] = centre[i] - half, centre[i] + half
    return centre, low, high, periods


def kpi_bands(
    kpis: pd.DataFrame,
    *,
    history: int = 8,
    min_history: int = 4,
    z: float = 3.0,
    min_denominator: float = 30,
) -> pd.DataFrame:
    """``kpis`` with each row's expected value, band and whether it leaves the band.

    Parameters
    ----------
    kpis : pandas.DataFrame
        The tidy KPI table (:data:`upseg.experiments.monitoring.KPI_COLUMNS`).
    history : int
        How many earlier periods of the same series make the band, 2 or more.
    min_history : int
        Earlier periods (with a denominator) a row needs to be judged, 1 to ``history``.
    z : float
        Half-width of the band in standard errors, > 0.
    min_denominator : float
        The smallest denominator judged: tiny segments are shown, not flagged.

    Returns
    -------
    pandas.DataFrame
        ``kpis``, in the same order, plus :data:`BAND_COLUMNS`; ``flag`` is
        ``"high"``, ``"low"`` or ``""``.
    """
    problems = []
    if not isinstance(history, int) or history < 2:
        problems.append(f"history must be an integer of 2 or more; got {history!r}")
    if not isinstance(min_history, int) or not 1 <= min_history <= max(int(history), 1):
        problems.append(f"min_history must be an integer in [1, history]; got {min_history!r}")
    if not z > 0:
        problems.append(f"z must be > 0; got {z!r}")
    if problems:
        raise ValueError("; ".join(problems) + ".")
    out = kpis.copy()
    for column in BAND_COLUMNS:
        out[column] = np.nan
    out["flag"] = ""
    out["history_periods"] = 0
    ordered = out.sort_values([*_SERIES, "period"], kind="mergesort")
    for (_, _, _, metric), rows in ordered.groupby(_SERIES, sort=False, observed=True):
        num = rows["numerator"].to_numpy(dtype=float)
        den = rows["denominator"].to_numpy(dtype=float)
        values = rows["value"].to_numpy(dtype=float)
        if metric in RATE_METRICS:
            centre, low, high, periods = _rate_band(num, den, history, z)
            high = np.minimum(high, 1.0)
        else:
            centre, low, high, periods = _individuals_band(values, history, z)
        # Rates and revenue per e-mail are never negative; nor is a band (a rate's is <= 1).
        low = np.maximum(low, 0.0)
        judged = (periods >= min_history) & (den >= min_denominator) & np.isfinite(values)
        flag = np.where(
            judged & (values > high), "high", np.where(judged & (values < low), "low", "")
        )
        out.loc[rows.index, "expected"] = centre
        out.loc[rows.index, "band_low"] = low
        out.loc[rows.index, "band_high"] = high
        out.loc[rows.index, "history_periods"] = periods
        out.loc[rows.index, "flag"] = flag
    return out
