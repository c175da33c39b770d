"""Evaluation of uplift models: does ranking on the predicted uplift find who the e-mail changes?

Pure functions on numpy arrays; no plotting and no I/O (figures live in
:mod:`models.uplift.plots`). Every function takes ``y_true`` (the outcome: 0/1
conversion, or a continuous amount such as revenue), ``uplift`` (the predicted
effect of treatment, higher means target first) and ``treatment`` (1 treated,
0 control), from a randomised experiment held out from training.

Two scales
----------
For a 0/1 outcome, :func:`qini_auc` and :func:`auuc` are scikit-uplift's
normalised coefficients: ``(model - random) / (perfect - random)``, where the
areas are under the curves of :func:`qini_curve` / :func:`uplift_curve`, 1 is
the best ranking possible on the observed outcomes and 0 is random targeting.
scikit-uplift defines "perfect" only for binary outcomes, so for any other
outcome (and for a binary one with ``normalize=False``) they return the area
between the model's curve and the random-targeting line divided by the number
of customers, in the outcome's units. The two scales cannot be compared;
:func:`uplift_metrics` says which one it used in ``qini_normalized``.

Ties in ``uplift`` follow scikit-uplift: customers are ranked by
``np.argsort(uplift, kind="mergesort")[::-1]``, so among equal scores the later
row comes first. The curves are only evaluated after a whole group of ties, so
their areas do not depend on the row order; :func:`uplift_at` and
:func:`uplift_by_decile` cut through ties and do.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import spearmanr
from sklift.metrics import qini_auc_score, uplift_auc_score

from upseg.models.evaluation import _as_float

__all__ = [
    "BootstrapInterval",
    "VariantMetrics",
    "auuc",
    "best_variant_metrics",
    "is_binary",
    "oracle_qini_share",
    "qini_auc",
    "qini_auc_ci",
    "qini_curve",
    "spearman",
    "uplift_at",
    "uplift_by_decile",
    "uplift_curve",
    "uplift_metrics",
]

# Bootstrap weights are built this many (resample x customer) cells at a time, ~16 MB per array.
_BOOTSTRAP_CELLS = 2_000_000


class BootstrapInterval(NamedTuple):
    """Percentile bootstrap interval of a statistic and the bootstrap standard deviation."""

    low: float
    high: float
    sd: float


class VariantMetrics(NamedTuple):
    """What :func:`best_variant_metrics` returns: one row per variant and the policy summary."""

    per_variant: pd.DataFrame
    overall: dict[str, float]


# -- validation --------------------------------------------------------------------------------


def _fail(function: str, errors: Sequence[str]) -> None:
    if errors:
        raise ValueError(f"{len(errors)} error(s) in {function} arguments: " + "; ".join(errors))


def _shown(values: np.ndarray) -> str:
    return ", ".join(f"{v:g}" for v in values[:5]) + (", ..." if len(values) > 5 else "")


def _treatment_problems(t: np.ndarray) -> list[str]:
    """What is wrong with float ``t`` as a 0/1 treatment indicator (empty if nothing)."""
    values = np.unique(t)
    if not set(values.tolist()) <= {0.0, 1.0}:
        return [
            "'treatment' must contain only 0 (control) and 1 (treated); "
            f"got values {_shown(values)}"
        ]
    if len(values) < 2:
        return [
            "'treatment' must contain both arms, 0 (control) and 1 (treated); "
            f"got only {int(values[0])} (n={len(t)})"
        ]
    return []


def _validated(
    function: str, arrays: dict[str, ArrayLike], extra: Sequence[str] = ()
) -> list[np.ndarray]:
    """Each array as finite float64 of one common length, or one ValueError listing every problem.

    An array named ``treatment`` must also be 0/1 with both arms present.
    """
    raw = {name: np.asarray(array) for name, array in arrays.items()}
    errors = list(extra) + [
        f"'{name}' must be 1-D of shape (n_samples,); got shape {array.shape}"
        for name, array in raw.items()
        if array.ndim != 1
    ]
    lengths = {name: len(array) for name, array in raw.items() if array.ndim == 1}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"'{name}' {n}" for name, n in lengths.items())
        errors.append(f"all arrays must have the same length; got {shown}")
    elif lengths and next(iter(lengths.values())) == 0:
        errors.append(f"{', '.join(repr(n) for n in lengths)} must not be empty; got 0 rows")
    if errors:
        _fail(function, errors)
    converted = []
    for name, array in raw.items():
        values, problems = _as_float(array, name)
        errors += problems
        if values is not None and name == "treatment":
            errors += _treatment_problems(values)
        converted.append(values)
    _fail(function, errors)
    return converted


def _normalize_problems(normalize: object, y: np.ndarray) -> tuple[bool, list[str]]:
    """Whether to normalise (``None`` means: if ``y`` is binary) and why it cannot be."""
    if normalize is not None and not isinstance(normalize, bool | np.bool_):
        return False, [f"'normalize' must be True, False or None; got {normalize!r}"]
    binary = is_binary(y)
    wanted = binary if normalize is None else bool(normalize)
    if not wanted:
        return False, []
    if not binary:
        return True, [
            "the normalised coefficient needs a 0/1 'y_true' (scikit-uplift's perfect curve is "
            f"defined for binary outcomes only); got values {_shown(np.unique(y))}; "
            "pass normalize=False for the area between curves"
        ]
    if len(np.unique(y)) < 2:
        return True, [
            "the normalised coefficient needs both outcomes 0 and 1 in 'y_true'; "
            f"got only {int(y[0])}; pass normalize=False for the area between curves"
        ]
    return True, []


def _fraction_problems(k: object) -> list[str]:
    ok = isinstance(k, Real) and not isinstance(k, bool) and 0 < float(k) <= 1
    return [] if ok else [f"'k' must be a number in (0, 1]; got {k!r}"]


def _count_problems(name: str, value: object, minimum: int) -> list[str]:
    ok = isinstance(value, Integral) and not isinstance(value, bool) and value >= minimum
    return [] if ok else [f"'{name}' must be an integer >= {minimum}; got {value!r}"]


def _quietly(metric: Callable[..., float], *args: np.ndarray) -> float:
    """A scikit-uplift metric without the FutureWarning of sklearn's deprecated stable_cumsum."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Function stable_cumsum is deprecated", FutureWarning)
        return float(metric(*args))


# -- curves ------------------------------------------------------------------------------------


def is_binary(y_true: ArrayLike) -> bool:
    """Whether every value of ``y_true`` is 0 or 1 (or False/True); an empty array is not binary.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)

    Returns
    -------
    bool
    """
    y = np.asarray(y_true)
    if y.size == 0 or y.dtype.kind not in "biufO":
        return False
    try:
        return bool(np.isin(y.astype(np.float64), (0.0, 1.0)).all())
    except (TypeError, ValueError):
        return False


def _ranking(uplift: np.ndarray) -> np.ndarray:
    """Row indices from highest to lowest uplift, ties later row first (scikit-uplift's order)."""
    return np.argsort(uplift, kind="mergesort")[::-1]


def _cumulative_arms(
    y: np.ndarray, uplift: np.ndarray, treatment: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Targeted, treated, control counts and treated, control outcome sums after each tie group.

    ``weights`` has shape (n_resamples, n_samples): how many times each customer
    is drawn (all ones for the sample itself). Every output has shape
    (n_resamples, n_groups + 1) and starts with a column of zeros (nobody targeted).
    """
    order = _ranking(uplift)
    ends = np.r_[np.flatnonzero(np.diff(uplift[order])), len(order) - 1]
    w, t, y = weights[:, order], treatment[order], y[order]

    def after_each_group(values: np.ndarray) -> np.ndarray:
        totals = np.cumsum(values, axis=1)[:, ends]
        return np.concatenate([np.zeros((len(totals), 1)), totals], axis=1)

    n_all, n_t = after_each_group(w), after_each_group(w * t)
    return n_all, n_t, n_all - n_t, after_each_group(w * (t * y)), after_each_group(w * (1 - t) * y)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator``, 0 where the denominator is 0 (as scikit-uplift does)."""
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator != 0)


def _qini_points(
    y: np.ndarray, uplift: np.ndarray, treatment: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    n_all, n_t, n_c, y_t, y_c = _cumulative_arms(y, uplift, treatment, weights)
    return n_all, y_t - y_c * _ratio(n_t, n_c)


def _uplift_points(
    y: np.ndarray, uplift: np.ndarray, treatment: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    n_all, n_t, n_c, y_t, y_c = _cumulative_arms(y, uplift, treatment, weights)
    return n_all, (_ratio(y_t, n_t) - _ratio(y_c, n_c)) * n_all


def qini_curve(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Qini curve: incremental outcome among the top-ranked customers, for any outcome.

    After targeting the ``k`` customers with the highest uplift, the curve is
    ``Y_t(k) - Y_c(k) * N_t(k) / N_c(k)``: the treated customers' total outcome
    minus the control customers' total rescaled to as many customers, i.e. the
    incremental conversions (or revenue) on the scale of the treated group
    (``Y_t(k)`` while ``N_c(k) = 0``). The same points as
    :func:`sklift.metrics.qini_curve`, which accepts only a 0/1 outcome.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Outcome: 0/1 conversion or a continuous amount.
    uplift : array-like of shape (n_samples,)
        Predicted uplift; higher is targeted first.
    treatment : array-like of shape (n_samples,)
        1 treated, 0 control; both arms must be present.

    Returns
    -------
    n_targeted : ndarray of shape (n_points,)
        0, then the number of customers targeted after each group of tied scores.
    qini : ndarray of shape (n_points,)
        The curve at those points; ``qini[-1]`` does not depend on the ranking.

    References
    ----------
    .. [1] Radcliffe, N. J. "Using control groups to target on predicted lift: building
       and assessing uplift models", Direct Marketing Analytics Journal (2007), 14-21.
    """
    y, s, t = _validated("qini_curve", {"y_true": y_true, "uplift": uplift, "treatment": treatment})
    x, q = _qini_points(y, s, t, np.ones((1, len(y))))
    return x[0].astype(np.int64), q[0]


def uplift_curve(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Uplift curve: observed uplift among the top-ranked customers times their number.

    After targeting the ``k`` customers with the highest uplift, the curve is
    ``(Y_t(k) / N_t(k) - Y_c(k) / N_c(k)) * k`` (a mean is 0 while its arm is
    empty): the incremental outcome if all ``k`` were treated. The same points
    as :func:`sklift.metrics.uplift_curve`, which accepts only a 0/1 outcome.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Outcome: 0/1 conversion or a continuous amount.
    uplift : array-like of shape (n_samples,)
        Predicted uplift; higher is targeted first.
    treatment : array-like of shape (n_samples,)
        1 treated, 0 control; both arms must be present.

    Returns
    -------
    n_targeted : ndarray of shape (n_points,)
        0, then the number of customers targeted after each group of tied scores.
    uplift : ndarray of shape (n_points,)

    References
    ----------
    .. [1] Devriendt, F., Guns, T. and Verbeke, W. "Learning to rank for uplift
       modeling", arXiv:2002.05897 (2020).
    """
    y, s, t = _validated(
        "uplift_curve", {"y_true": y_true, "uplift": uplift, "treatment": treatment}
    )
    x, u = _uplift_points(y, s, t, np.ones((1, len(y))))
    return x[0].astype(np.int64), u[0]


def _area_over_random(x: np.ndarray, curve: np.ndarray) -> np.ndarray:
    """Area between each row's curve and the line from (0, 0) to its last point."""
    return np.trapezoid(curve, x, axis=1) - x[:, -1] * curve[:, -1] / 2


# -- summary metrics ---------------------------------------------------------------------------


def qini_auc(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, *, normalize: bool | None = None
) -> float:
    """Area between the Qini curve and random targeting: normalised (0/1 outcome) or in units.

    Normalised (the default for a 0/1 outcome): :func:`sklift.metrics.qini_auc_score`,
    ``(A_model - A_random) / (A_perfect - A_random)`` with the perfect curve that
    may include negative effects (treated converters first, control converters
    last). 1 is the best ranking of these customers, 0 is random, < 0 is worse
    than random.

    Not normalised (the default for any other outcome): ``(A_model - A_random) / n``,
    the area between the model's :func:`qini_curve` and the straight line of
    random targeting, with the number targeted measured as a share of the ``n``
    customers. It is the incremental outcome gained over random targeting of the
    same number of customers, averaged over every campaign size from nobody to
    everybody, in the outcome's units (conversions, or currency) on the scale of
    the treated group. It grows with ``n`` for a fixed population, so compare it
    only between models on the same customers, and never with the normalised value.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Outcome: 0/1 conversion or a continuous amount.
    uplift : array-like of shape (n_samples,)
        Predicted uplift; higher is targeted first.
    treatment : array-like of shape (n_samples,)
        1 treated, 0 control; both arms must be present.
    normalize : bool or None, default=None
        None normalises if and only if ``y_true`` is 0/1 (:func:`is_binary`).
        True requires a 0/1 outcome with both values present; False works for any outcome.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Listing every problem with the arguments.

    References
    ----------
    .. [1] Radcliffe, N. J. "Using control groups to target on predicted lift: building
       and assessing uplift models", Direct Marketing Analytics Journal (2007), 14-21.
    """
    arrays = {"y_true": y_true, "uplift": uplift, "treatment": treatment}
    y, s, t = _validated("qini_auc", arrays)
    normalized, errors = _normalize_problems(normalize, y)
    _fail("qini_auc", errors)
    if normalized:
        return _quietly(qini_auc_score, y, s, t)
    x, q = _qini_points(y, s, t, np.ones((1, len(y))))
    return float(_area_over_random(x, q)[0] / len(y))


def auuc(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, *, normalize: bool | None = None
) -> float:
    """Area between the uplift curve and random targeting: normalised (0/1 outcome) or in units.

    Normalised: :func:`sklift.metrics.uplift_auc_score`, ``(A_model - A_random) /
    (A_perfect - A_random)`` under :func:`uplift_curve`. Not normalised: the area
    between the model's uplift curve and the random line, divided by ``n``, in
    the outcome's units (see :func:`qini_auc` for how to read it); the two scales
    cannot be compared.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Outcome: 0/1 conversion or a continuous amount.
    uplift : array-like of shape (n_samples,)
        Predicted uplift; higher is targeted first.
    treatment : array-like of shape (n_samples,)
        1 treated, 0 control; both arms must be present.
    normalize : bool or None, default=None
        None normalises if and only if ``y_true`` is 0/1.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Listing every problem with the arguments.

    References
    ----------
    .. [1] Devriendt, F., Guns, T. and Verbeke, W. "Learning to rank for uplift
       modeling", arXiv:2002.05897 (2020).
    """
    y, s, t = _validated("auuc", {"y_true": y_true, "uplift": uplift, "treatment": treatment})
    normalized, errors = _normalize_problems(normalize, y)
    _fail("auuc", errors)
    if normalized:
        return _quietly(uplift_auc_score, y, s, t)
    x, u = _uplift_points(y, s, t, np.ones((1, len(y))))
    return float(_area_over_random(x, u)[0] / len(y))


def _n_top(k: float, n: int) -> int:
    """``floor(k * n)`` as scikit-uplift, rounded first so 0.29 * 100 gives 29; at least 1."""
    return max(1, math.floor(round(k * n, 9)))


def uplift_at(y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, k: float) -> float:
    """Observed uplift among the top ``k`` share of all customers by predicted uplift.

    scikit-uplift's ``uplift_at_k(strategy="overall")``: take the top
    ``floor(k * n)`` customers of both arms together (at least one), then
    subtract the control customers' mean outcome from the treated customers'
    among them. For a 0/1 outcome this is the difference in conversion rates,
    for revenue the difference in mean revenue; ``k = 1`` gives the average
    effect over everyone. scikit-uplift accepts only a 0/1 outcome and ``k < 1``
    and truncates ``k * n`` without rounding (0.29 * 100 gives 28).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Outcome: 0/1 conversion or a continuous amount.
    uplift : array-like of shape (n_samples,)
        Predicted uplift; higher is targeted first (ties: later row first).
    treatment : array-like of shape (n_samples,)
        1 treated, 0 control; both arms must be present.
    k : float in (0, 1]
        Share of all customers targeted.

    Returns
    -------
    float
        NaN if the top ``k`` holds no treated or no control customer.

    Raises
    ------
    ValueError
        Listing every problem with the arguments.
    """
    arrays = {"y_true": y_true, "uplift": uplift, "treatment": treatment}
    y, s, t = _validated("uplift_at", arrays, extra=_fraction_problems(k))
    top = _ranking(s)[: _n_top(float(k), len(y))]
    treated = t[top] == 1
    if treated.all() or not treated.any():
        return math.nan
    return float(y[top][treated].mean() - y[top][~treated].mean())


def uplift_by_decile(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, bins: int = 10
) -> pd.DataFrame:
    """Observed uplift in each tenth (or ``bins``-th) of customers ranked by predicted uplift.

    scikit-uplift's ``uplift_by_percentile(strategy="overall", std=True)`` for any
    outcome: all customers, both arms together, are sorted by predicted uplift
    and cut into ``bins`` groups of equal size (``np.array_split``: the first
    ``n % bins`` groups hold one more); within each, the control mean outcome is
    subtracted from the treated mean outcome. A well-ranked model shows uplift
    falling from the first bin to the last.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Outcome: 0/1 conversion or a continuous amount.
    uplift : array-like of shape (n_samples,)
        Predicted uplift; higher is targeted first (ties: later row first).
    treatment : array-like of shape (n_samples,)
        1 treated, 0 control; both arms must be present.
    bins : int, default=10
        Number of groups, at most ``n_samples``.

    Returns
    -------
    pandas.DataFrame
        ``bins`` rows, highest predicted uplift first: ``bin`` (1 = top),
        ``percentile`` (e.g. ``"0-10"``: the top 10%), ``n_treatment``,
        ``n_control``, ``mean_treatment`` and ``mean_control`` (conversion
        rates for a 0/1 outcome; NaN for an empty arm), ``uplift`` (their
        difference) and ``se_uplift``, ``sqrt(v_t / n_t + v_c / n_c)`` with the
        plug-in variances ``v`` (``p (1 - p)`` for a 0/1 outcome, as scikit-uplift's
        ``std_uplift``).

    Raises
    ------
    ValueError
        Listing every problem with the arguments.
    """
    arrays = {"y_true": y_true, "uplift": uplift, "treatment": treatment}
    y, s, t = _validated("uplift_by_decile", arrays, extra=_count_problems("bins", bins, 1))
    if bins > len(y):
        _fail(
            "uplift_by_decile",
            [f"'bins' must be at most the number of customers ({len(y)}); got {bins}"],
        )
    order = _ranking(s)
    sizes = np.full(bins, len(y) // bins) + (np.arange(bins) < len(y) % bins)
    bin_of = np.empty(len(y), dtype=np.int64)
    bin_of[order] = np.repeat(np.arange(bins), sizes)
    columns = {}
    for arm, flag in (("treatment", 1.0), ("control", 0.0)):
        rows = t == flag
        n = np.bincount(bin_of[rows], minlength=bins)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.bincount(bin_of[rows], weights=y[rows], minlength=bins) / n
            deviation = y[rows] - mean[bin_of[rows]]
            variance = np.bincount(bin_of[rows], weights=deviation**2, minlength=bins) / n
        columns[arm] = (n, mean, variance / n)
    (n_t, mean_t, var_t), (n_c, mean_c, var_c) = columns["treatment"], columns["control"]
    edges = [round(100 * i / bins) for i in range(bins + 1)]
    return pd.DataFrame(
        {
            "bin": np.arange(1, bins + 1),
            "percentile": [f"{lo}-{hi}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)],
            "n_treatment": n_t,
            "n_control": n_c,
            "mean_treatment": mean_t,
            "mean_control": mean_c,
            "uplift": mean_t - mean_c,
            "se_uplift": np.sqrt(var_t + var_c),
        }
    )


# -- bootstrap ---------------------------------------------------------------------------------


def _resample_counts(strata: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Times each customer is drawn in ``size`` resamples, each stratum resampled to its size."""
    counts = np.zeros((size, len(strata)))
    for stratum in np.unique(strata):
        members = np.flatnonzero(strata == stratum)
        m = len(members)
        draws = rng.integers(0, m, size=(size, m)) + m * np.arange(size)[:, None]
        counts[:, members] = np.bincount(draws.ravel(), minlength=size * m).reshape(size, m)
    return counts


def _weighted_qini_auc(
    y: np.ndarray, s: np.ndarray, t: np.ndarray, weights: np.ndarray, normalized: bool
) -> np.ndarray:
    """:func:`qini_auc` of each resample given as a row of ``weights``, shape (n_resamples,)."""
    area = _area_over_random(*_qini_points(y, s, t, weights))
    if not normalized:
        return area / weights.sum(axis=1)
    # scikit-uplift's perfect ranking: treated converters, then non-converters, then control ones.
    perfect = _area_over_random(*_qini_points(y, y * t - y * (1 - t), t, weights))
    return area / perfect


def qini_auc_ci(
    y_true: ArrayLike,
    uplift: ArrayLike,
    treatment: ArrayLike,
    *,
    normalize: bool | None = None,
    n_boot: int = 200,
    level: float = 0.95,
    random_state: int | np.random.Generator | None = 0,
) -> BootstrapInterval:
    """Percentile bootstrap interval of :func:`qini_auc`, resampling customers within strata.

    Each resample draws, with replacement, as many customers as there are in
    each stratum: the two arms, and for a 0/1 outcome also converters and
    non-converters within each arm, so every resample keeps the experiment's
    arm sizes and, for a 0/1 outcome, a defined normalisation. The scores are
    held fixed (the model is not refitted), so the interval reflects the
    evaluation sample only. A resample is evaluated as how many times each
    customer was drawn, on the ranking of the whole sample, in blocks of
    resamples that bound the memory used.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Outcome: 0/1 conversion or a continuous amount.
    uplift : array-like of shape (n_samples,)
        Predicted uplift; higher is targeted first.
    treatment : array-like of shape (n_samples,)
        1 treated, 0 control; both arms must be present.
    normalize : bool or None, default=None
        As in :func:`qini_auc`.
    n_boot : int, default=200
        Number of resamples, at least 2.
    level : float in (0, 1), default=0.95
        Coverage of the interval.
    random_state : int, numpy.random.Generator or None, default=0
        Seed; the same seed gives the same interval.

    Returns
    -------
    BootstrapInterval
        ``low`` and ``high``, the ``(1 - level) / 2`` and ``(1 + level) / 2``
        quantiles of the resampled values, and ``sd``, their standard deviation.

    Raises
    ------
    ValueError
        Listing every problem with the arguments.

    References
    ----------
    .. [1] Efron, B. and Tibshirani, R. J. "An Introduction to the Bootstrap",
       Chapman & Hall (1993), ch. 13 (percentile intervals) and 8.
    """
    extra = _count_problems("n_boot", n_boot, 2)
    if not (isinstance(level, Real) and not isinstance(level, bool) and 0 < level < 1):
        extra.append(f"'level' must be a number in (0, 1); got {level!r}")
    arrays = {"y_true": y_true, "uplift": uplift, "treatment": treatment}
    y, s, t = _validated("qini_auc_ci", arrays, extra=extra)
    normalized, errors = _normalize_problems(normalize, y)
    _fail("qini_auc_ci", errors)
    strata = 2 * t + (y > 0) if is_binary(y) else t
    rng = np.random.default_rng(random_state)
    block = max(1, _BOOTSTRAP_CELLS // len(y))
    values = np.concatenate(
        [
            _weighted_qini_auc(y, s, t, _resample_counts(strata, size, rng), normalized)
            for size in np.diff(np.r_[np.arange(0, n_boot, block), n_boot])
        ]
    )
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return BootstrapInterval(float(low), float(high), float(values.std(ddof=1)))


def uplift_metrics(
    y_true: ArrayLike,
    uplift: ArrayLike,
    treatment: ArrayLike,
    *,
    normalize: bool | None = None,
    n_boot: int = 200,
    random_state: int | np.random.Generator | None = 0,
) -> dict[str, float]:
    """The metrics logged for an uplift model on held-out experiment data.

    A model whose bootstrap interval does not lie above zero has not shown, on
    these customers, that it targets better than picking customers at random,
    and ``beats_random`` says so.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Outcome: 0/1 conversion or a continuous amount.
    uplift : array-like of shape (n_samples,)
        Predicted uplift; higher is targeted first.
    treatment : array-like of shape (n_samples,)
        1 treated, 0 control; both arms must be present.
    normalize : bool or None, default=None
        Scale of ``qini_auc`` and ``auuc``, as in :func:`qini_auc` (None: normalised
        if and only if ``y_true`` is 0/1).
    n_boot : int, default=200
        Resamples of :func:`qini_auc_ci`.
    random_state : int, numpy.random.Generator or None, default=0
        Seed of the bootstrap.

    Returns
    -------
    dict of str to float
        ``qini_auc`` (:func:`qini_auc`), ``qini_normalized``
        (1.0 if that is scikit-uplift's normalised coefficient, 0.0 if the
        area over random in the outcome's units), ``qini_auc_ci_low``, ``qini_auc_ci_high`` and
        ``qini_auc_sd`` (95% :func:`qini_auc_ci`), ``beats_random`` (1.0 if
        ``qini_auc_ci_low > 0`` else 0.0), ``auuc`` (same scale as ``qini_auc``),
        ``uplift_at_10``, ``uplift_at_20``, ``uplift_at_30`` (:func:`uplift_at`),
        ``n``, ``n_treatment`` and ``n_control``.

    Raises
    ------
    ValueError
        Listing every problem with the arguments.
    """
    arrays = {"y_true": y_true, "uplift": uplift, "treatment": treatment}
    y, s, t = _validated("uplift_metrics", arrays)
    normalized, errors = _normalize_problems(normalize, y)
    _fail("uplift_metrics", errors)
    interval = qini_auc_ci(y, s, t, normalize=normalized, n_boot=n_boot, random_state=random_state)
    metrics = {
        "qini_auc": qini_auc(y, s, t, normalize=normalized),
        "qini_normalized": float(normalized),
        "qini_auc_ci_low": interval.low,
        "qini_auc_ci_high": interval.high,
        "qini_auc_sd": interval.sd,
        "beats_random": float(interval.low > 0),
        "auuc": auuc(y, s, t, normalize=normalized),
    }
    for percent in (10, 20, 30):
        metrics[f"uplift_at_{percent}"] = uplift_at(y, s, t, percent / 100)
    metrics |= {"n": len(y), "n_treatment": int(t.sum()), "n_control": int(len(t) - t.sum())}
    return {name: float(value) for name, value in metrics.items()}


# -- synthetic world: scores against the true effect -------------------------------------------


def oracle_qini_share(
    y_true: ArrayLike, uplift: ArrayLike, true_uplift: ArrayLike, treatment: ArrayLike
) -> float:
    """Share of the oracle's Qini area the model achieves, on the same customers and outcomes.

    ``qini_auc(normalize=False)`` of ``uplift`` divided by that of
    ``true_uplift``: the oracle ranks by the true effect, which only a synthetic
    world knows. 1 means ranking as well as the truth, 0 as well as random.
    The model can exceed 1 by chance, because both are measured on noisy outcomes.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Outcome: 0/1 conversion or a continuous amount.
    uplift : array-like of shape (n_samples,)
        Predicted uplift.
    true_uplift : array-like of shape (n_samples,)
        The true effect of treatment on each customer.
    treatment : array-like of shape (n_samples,)
        1 treated, 0 control; both arms must be present.

    Returns
    -------
    float
        NaN if the oracle's area is not positive (no effect to rank on).

    Raises
    ------
    ValueError
        Listing every problem with the arguments.
    """
    arrays = {
        "y_true": y_true,
        "uplift": uplift,
        "true_uplift": true_uplift,
        "treatment": treatment,
    }
    y, s, truth, t = _validated("oracle_qini_share", arrays)
    oracle = qini_auc(y, truth, t, normalize=False)
    return qini_auc(y, s, t, normalize=False) / oracle if oracle > 0 else math.nan


def spearman(uplift: ArrayLike, true_uplift: ArrayLike) -> float:
    """Spearman rank correlation of predicted and true uplift (:func:`scipy.stats.spearmanr`).

    Parameters
    ----------
    uplift, true_uplift : array-like of shape (n_samples,)

    Returns
    -------
    float
        In [-1, 1]; NaN if either is constant.

    Raises
    ------
    ValueError
        Listing every problem with the arguments.
    """
    s, truth = _validated("spearman", {"uplift": uplift, "true_uplift": true_uplift})
    if np.ptp(s) == 0 or np.ptp(truth) == 0:
        return math.nan
    return float(spearmanr(s, truth).statistic)


# -- several variants against one control ------------------------------------------------------


def _variant_problems(
    arm: np.ndarray, scores: object, control: object, n: int
) -> tuple[pd.DataFrame | None, list[str]]:
    if not isinstance(scores, pd.DataFrame):
        return None, [
            "'uplift_by_variant' must be a pandas DataFrame with one column of predicted "
            f"uplift per variant; got {type(scores).__name__}"
        ]
    errors = []
    if scores.shape[1] == 0:
        errors.append("'uplift_by_variant' must have at least one column; got none")
    if len(scores) != n:
        errors.append(
            f"'uplift_by_variant' must have one row per customer ({n}); got {len(scores)}"
        )
    if control in scores.columns:
        errors.append(f"'uplift_by_variant' must not have a column for the control {control!r}")
    if pd.isna(arm).any():
        errors.append(f"'arm' must not contain missing values; got {int(pd.isna(arm).sum())}")
    present = set(pd.unique(arm).tolist())
    if control not in present:
        errors.append(
            f"'control' must be one of the arms in 'arm' {sorted(present, key=str)}; "
            f"got {control!r}"
        )
    absent = [v for v in scores.columns if v != control and v not in present]
    if absent:
        errors.append(
            f"every column of 'uplift_by_variant' must be an arm in 'arm'; {absent} never occur"
        )
    for name, column in scores.items():
        errors += _as_float(column.to_numpy(), f"uplift_by_variant[{name!r}]")[1]
    return scores, errors


def _recommended(scores: pd.DataFrame, control: object) -> np.ndarray:
    """The variant with the highest predicted uplift, or ``control`` if none is above 0."""
    predicted = scores.to_numpy(dtype=float)
    best = np.asarray(scores.columns, dtype=object)[predicted.argmax(axis=1)]
    return np.where(predicted.max(axis=1) > 0, best, np.asarray(control, dtype=object))


def _policy_values(
    y: np.ndarray, arms: np.ndarray, recommended: np.ndarray, control: object
) -> dict[str, float]:
    """Hajek inverse-propensity estimate of the policy's mean outcome, and single-arm values."""
    arm = pd.Series(arms)
    propensity = arm.map(arm.value_counts(normalize=True)).to_numpy(dtype=float)
    matched = arms == recommended
    weight = matched / propensity
    policy = float((weight * y).sum() / weight.sum()) if matched.any() else math.nan
    control_value = float(y[arms == control].mean())
    best_arm_value = float(pd.Series(y).groupby(arm).mean().max())
    return {
        "policy_value": policy,
        "control_value": control_value,
        "policy_gain": policy - control_value,
        "best_arm_value": best_arm_value,
        "policy_gain_over_best_arm": policy - best_arm_value,
        "share_control_recommended": float(np.mean(recommended == control)),
        "n_matched": float(matched.sum()),
        "n": float(len(y)),
    }


def best_variant_metrics(
    y_true: ArrayLike,
    arm: ArrayLike,
    uplift_by_variant: pd.DataFrame,
    control: object,
    *,
    n_boot: int = 200,
    random_state: int | np.random.Generator | None = 0,
) -> VariantMetrics:
    """Each variant's uplift metrics against control, and the value of sending the best one.

    Per variant ``v``: :func:`uplift_metrics` on the customers randomised to
    ``control`` or ``v``, scored with column ``v`` (treatment = arm is ``v``).

    Policy: the model recommends to each customer the variant with the highest
    predicted uplift, or the control (send nothing) if no variant's is above 0;
    ties go to the first column. In a randomised experiment its expected
    outcome is estimated from the customers whose assigned arm happens to be
    the recommended one, each weighted by one over the probability of that arm
    (its share of the customers, assuming constant assignment probabilities);
    the weights are normalised to sum to one (Hajek), so the estimate is a
    weighted mean outcome. Arms without a column never match.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Outcome: 0/1 conversion or a continuous amount.
    arm : array-like of shape (n_samples,)
        The arm each customer was randomised to (e.g. ``"control"``, ``"A"``, ``"B"``).
    uplift_by_variant : pandas.DataFrame of shape (n_samples, n_variants)
        Predicted uplift of each variant over control, one column per variant
        named as in ``arm``; rows in the order of ``y_true`` (the index is ignored).
    control : object
        The value of ``arm`` for the control group.
    n_boot : int, default=200
        Resamples of each :func:`qini_auc_ci`.
    random_state : int, numpy.random.Generator or None, default=0
        Seed of the bootstraps.

    Returns
    -------
    VariantMetrics
        ``per_variant``: a DataFrame indexed by variant with the keys of
        :func:`uplift_metrics` as columns and ``share_recommended`` (share of all
        customers the policy sends that variant). ``overall``: ``qini_auc_weighted``
        (mean of the variants' ``qini_auc`` weighted by their ``n``),
        ``policy_value`` (estimated mean outcome under the policy),
        ``control_value`` (mean outcome in the control arm), ``policy_gain``
        (``policy_value - control_value``), ``best_arm_value`` (highest mean
        outcome of any single arm; chosen on these data, so optimistic),
        ``policy_gain_over_best_arm``, ``share_control_recommended``,
        ``n_matched`` (customers whose arm is their recommendation) and ``n``.

    Raises
    ------
    ValueError
        Listing every problem with the arguments.

    References
    ----------
    .. [1] Zhao, Y., Fang, X. and Simchi-Levi, D. "Uplift modeling with multiple
       treatments and general response types", SIAM International Conference on
       Data Mining (2017), 588-596.
    """
    function = "best_variant_metrics"
    raw, arms = np.asarray(y_true), np.asarray(arm, dtype=object)
    errors = [
        f"'{name}' must be 1-D of shape (n_samples,); got shape {array.shape}"
        for name, array in (("y_true", raw), ("arm", arms))
        if array.ndim != 1
    ]
    if not errors and len(raw) != len(arms):
        errors.append(
            f"'y_true' and 'arm' must have the same length; got {len(raw)} and {len(arms)}"
        )
    y, problems = _as_float(raw, "y_true")
    errors += problems
    if arms.ndim == 1:
        scores, problems = _variant_problems(arms, uplift_by_variant, control, len(raw))
        errors += problems
    _fail(function, errors)
    variants = list(scores.columns)
    rows = []
    for variant in variants:
        pair = (arms == control) | (arms == variant)
        rows.append(
            uplift_metrics(
                y[pair],
                scores[variant].to_numpy(dtype=float)[pair],
                (arms[pair] == variant).astype(float),
                n_boot=n_boot,
                random_state=random_state,
            )
        )
    per_variant = pd.DataFrame(rows, index=pd.Index(variants, name="variant"))

    recommended = _recommended(scores, control)
    per_variant["share_recommended"] = [float(np.mean(recommended == v)) for v in variants]
    overall = {
        "qini_auc_weighted": float(np.average(per_variant["qini_auc"], weights=per_variant["n"])),
        **_policy_values(y, arms, recommended, control),
    }
    return VariantMetrics(per_variant, overall)
