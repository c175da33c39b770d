"""Evaluation figures for uplift models: Qini curve, uplift curve and observed uplift by decile.

Like :mod:`models.plots`, each ``*_figure`` function returns a detached
:class:`matplotlib.figure.Figure` on an Agg canvas, 6 x 4.5 inches; write it
with :func:`models.plots.save_figure`. The curve functions take one mapping of
``{label: predicted uplift}`` so a model and its baseline share the axes. The
numbers in the legends are those of :mod:`models.uplift.metrics`: normalised
coefficients for a 0/1 outcome, the mean gain over random targeting otherwise.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from numpy.typing import ArrayLike
from sklift.metrics import perfect_qini_curve, perfect_uplift_curve

from upseg.models.plots import _REFERENCE, _figure, _LineStyle
from upseg.models.uplift.metrics import (
    auuc,
    is_binary,
    qini_auc,
    qini_curve,
    uplift_by_decile,
    uplift_curve,
)
from upseg.models.uplift.metrics._checks import _validated

__all__ = [
    "calibration_figure",
    "qini_figure",
    "uplift_by_decile_figure",
    "uplift_curve_figure",
]

# Points drawn per curve: enough to look smooth, few enough for a small PNG.
_CURVE_POINTS = 500
_PERFECT: _LineStyle = {"color": "0.75", "linewidth": 1}
# Two-sided 95% normal quantile for the error bars.
_Z95 = 1.959963984540054


def _curves(
    function: str, y_true: ArrayLike, uplifts: Mapping[str, ArrayLike], treatment: ArrayLike
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Validated outcome, treatment and one float array per label of ``uplifts``."""
    if not isinstance(uplifts, Mapping) or not uplifts:
        raise ValueError(
            f"The 'uplifts' argument of {function} must be a non-empty mapping of "
            f"{{label: predicted uplift array}}; got {uplifts!r:.80} instead."
        )
    validated = {}
    for label, uplift in uplifts.items():
        y, validated[label], t = _validated(
            f"{function} (curve {label!r})",
            {"y_true": y_true, "uplift": uplift, "treatment": treatment},
        )
    return y, t, validated


def _thinned(x: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most about ``_CURVE_POINTS`` evenly spaced points of a curve, keeping both ends."""
    keep = np.unique(np.linspace(0, len(x) - 1, min(len(x), _CURVE_POINTS)).round().astype(int))
    return x[keep], values[keep]


def _perfect(
    curve: Callable[..., tuple[np.ndarray, np.ndarray]], y: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Function stable_cumsum is deprecated", FutureWarning)
        return curve(y, t)


def _outcome_label(y: np.ndarray, outcome: str | None) -> str:
    return outcome if outcome is not None else ("conversions" if is_binary(y) else "outcome")


def _score_label(value: float, binary: bool, name: str) -> str:
    if binary:
        return f"{name} = {value:.3f}"
    shown = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return f"mean gain over random = {shown}"


def _curve_figure(
    function: str,
    y_true: ArrayLike,
    uplifts: Mapping[str, ArrayLike],
    treatment: ArrayLike,
    *,
    points: Callable[..., tuple[np.ndarray, np.ndarray]],
    perfect: Callable[..., tuple[np.ndarray, np.ndarray]],
    area: Callable[..., float],
    area_name: str,
    ylabel: str,
    title: str,
) -> Figure:
    y, t, curves = _curves(function, y_true, uplifts, treatment)
    # With both outcomes present scikit-uplift's normalisation and perfect curve are defined.
    binary = is_binary(y) and len(np.unique(y)) == 2
    n = len(y)
    fig, ax = _figure()
    for label, uplift in curves.items():
        x, values = _thinned(*points(y, uplift, t))
        end = values[-1]  # the same for every ranking: everybody targeted
        score = area(y, uplift, t, normalize=binary)
        ax.plot(x / n, values, label=f"{label} ({_score_label(score, binary, area_name)})")
    low, high = ax.get_ylim()
    if binary:
        x, values = _perfect(perfect, y, t)
        # The perfect ranking of observed outcomes usually dwarfs real models: keep it off scale.
        high = min(max(values.max(), high), high + 0.25 * (high - low))
        clipped = values.max() > high
        peak = f" (off scale, peaks at {values.max():,.0f})" if clipped else ""
        ax.plot(x / n, values, label=f"Perfect ranking{peak}", **_PERFECT)
    ax.plot([0, 1], [0, end], label="Random targeting", **_REFERENCE)
    ax.set_ylim(low, high)
    ax.axhline(0, color="0.3", linewidth=0.6)
    ax.xaxis.set_major_formatter("{x:.0%}")
    ax.set(
        xlim=(0, 1),
        xlabel="Share of customers targeted (highest predicted uplift first)",
        ylabel=ylabel,
        title=title,
    )
    ax.legend(loc="best", fontsize="small")
    return fig


def qini_figure(
    y_true: ArrayLike,
    uplifts: Mapping[str, ArrayLike],
    treatment: ArrayLike,
    *,
    outcome: str | None = None,
    title: str = "Qini curve",
) -> Figure:
    """Qini curves of one or more models, with random targeting (and the perfect curve if 0/1).

    The height at a share targeted is the incremental outcome among those
    customers (:func:`models.uplift.metrics.qini_curve`, on the scale of the
    treated group); a model that finds the persuadables rises steeply, then
    falls as it reaches customers the e-mail puts off. The legend gives
    :func:`~models.uplift.metrics.qini_auc`: the normalised coefficient for a 0/1
    outcome, the mean gain over random targeting (in the outcome's units) otherwise.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Outcome: 0/1 conversion or a continuous amount.
    uplifts : mapping of str to array-like of shape (n_samples,)
        ``{label: predicted uplift}``, e.g. ``{"T-learner": u, "Propensity baseline": p}``.
    treatment : array-like of shape (n_samples,)
        1 treated, 0 control; both arms must be present.
    outcome : str, optional
        What ``y_true`` counts, for the axis label; "conversions" for a 0/1
        outcome and "outcome" otherwise by default (e.g. pass "revenue (EUR)").
    title : str, default="Qini curve"

    Returns
    -------
    matplotlib.figure.Figure
    """
    y = np.asarray(y_true)
    return _curve_figure(
        "qini_figure",
        y_true,
        uplifts,
        treatment,
        points=qini_curve,
        perfect=perfect_qini_curve,
        area=qini_auc,
        area_name="Qini",
        ylabel=f"Incremental {_outcome_label(y, outcome)} in the treated group",
        title=title,
    )


def uplift_curve_figure(
    y_true: ArrayLike,
    uplifts: Mapping[str, ArrayLike],
    treatment: ArrayLike,
    *,
    outcome: str | None = None,
    title: str = "Uplift curve",
) -> Figure:
    """Uplift curves of one or more models, with random targeting (and the perfect curve if 0/1).

    The height at a share targeted is the observed uplift among those customers
    times their number (:func:`models.uplift.metrics.uplift_curve`): the
    incremental outcome if all of them were sent the e-mail. The legend gives
    :func:`~models.uplift.metrics.auuc` on the same scales as :func:`qini_figure`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Outcome: 0/1 conversion or a continuous amount.
    uplifts : mapping of str to array-like of shape (n_samples,)
        ``{label: predicted uplift}``.
    treatment : array-like of shape (n_samples,)
        1 treated, 0 control; both arms must be present.
    outcome : str, optional
        What ``y_true`` counts, for the axis label (see :func:`qini_figure`).
    title : str, default="Uplift curve"

    Returns
    -------
    matplotlib.figure.Figure
    """
    y = np.asarray(y_true)
    return _curve_figure(
        "uplift_curve_figure",
        y_true,
        uplifts,
        treatment,
        points=uplift_curve,
        perfect=perfect_uplift_curve,
        area=auuc,
        area_name="AUUC",
        ylabel=f"Incremental {_outcome_label(y, outcome)} if all targeted were sent",
        title=title,
    )


def uplift_by_decile_figure(
    y_true: ArrayLike,
    uplift: ArrayLike,
    treatment: ArrayLike,
    *,
    bins: int = 10,
    outcome: str | None = None,
    title: str = "Observed uplift by predicted-uplift decile",
) -> Figure:
    """Bars of observed uplift (treated minus control) per decile, top predicted uplift first.

    Bars come from :func:`models.uplift.metrics.uplift_by_decile`; error bars
    are +/- 1.96 standard errors of the difference in means (normal
    approximation), so a bar whose error bar crosses zero is not distinguishable
    from no effect. The dashed line is the average uplift over everyone. A good
    model's bars fall from left to right; negative bars on the right are the
    customers the e-mail puts off. For a 0/1 outcome, uplift is in percentage points.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Outcome: 0/1 conversion or a continuous amount.
    uplift : array-like of shape (n_samples,)
        Predicted uplift.
    treatment : array-like of shape (n_samples,)
        1 treated, 0 control; both arms must be present.
    bins : int, default=10
        Number of equal-size groups.
    outcome : str, optional
        What ``y_true`` measures, for the axis label (default "conversion rate"
        for a 0/1 outcome, "outcome" otherwise, shown as "mean outcome").
    title : str, default="Observed uplift by predicted-uplift decile"

    Returns
    -------
    matplotlib.figure.Figure
    """
    table = uplift_by_decile(y_true, uplift, treatment, bins=bins)
    y, t = np.asarray(y_true, dtype=float), np.asarray(treatment, dtype=float)
    binary = is_binary(y)
    scale = 100.0 if binary else 1.0
    average = (y[t == 1].mean() - y[t == 0].mean()) * scale
    values = table["uplift"].to_numpy() * scale
    errors = _Z95 * table["se_uplift"].to_numpy() * scale
    fig, ax = _figure()
    colours = np.where(values >= 0, "C0", "C3")
    ax.bar(
        table["bin"],
        values,
        yerr=errors,
        color=colours,
        capsize=3,
        error_kw={"elinewidth": 1, "ecolor": "0.25"},
        label="Observed uplift (95% interval)",
    )
    ax.axhline(0, color="0.3", linewidth=0.6)
    ax.axhline(average, label=f"Average uplift, everyone ({average:.3g})", **_REFERENCE)
    ax.set_xticks(
        table["bin"],
        [f"{p}%" for p in table["percentile"]],
        fontsize="small",
        rotation=0 if bins <= 5 else 35 if bins <= 12 else 90,
        ha="center" if bins <= 5 else "right",
        rotation_mode="anchor",
    )
    name = (outcome or "conversion rate") if binary else f"mean {outcome or 'outcome'}"
    unit = " (percentage points)" if binary else ""
    ax.set(
        xlabel="Customers ranked by predicted uplift (highest first)",
        ylabel=f"Treated minus control {name}{unit}",
        title=title,
    )
    ax.legend(loc="best", fontsize="small")
    return fig


def calibration_figure(
    groups: pd.DataFrame,
    *,
    ate: float,
    slope: float,
    predicted_mean: float,
    binary: bool = True,
    title: str = "Predicted vs realised uplift, out of fold",
) -> Figure:
    """Each group's realised uplift (with its 95% interval) against its mean prediction.

    ``groups`` is :func:`models.uplift.calibration.decile_calibration` (or the
    ``groups`` of a :class:`~upseg.models.uplift.calibrator.VariantCalibration`):
    one point per group at (``predicted_mean``, ``realised_mean``) with the
    interval ``realised_low`` to ``realised_high``. The dotted diagonal is a
    perfectly sized model; the solid line is the calibration applied,
    ``ate + slope * (s - predicted_mean)``. Points far from the diagonal but on
    the line are what the calibration corrects. For a 0/1 outcome, in
    percentage points.
    """
    scale = 100.0 if binary else 1.0
    x = groups["predicted_mean"].to_numpy(dtype=float) * scale
    y = groups["realised_mean"].to_numpy(dtype=float) * scale
    low = groups["realised_low"].to_numpy(dtype=float) * scale
    high = groups["realised_high"].to_numpy(dtype=float) * scale
    fig, ax = _figure()
    ax.errorbar(
        x,
        y,
        yerr=np.vstack([y - low, high - y]),
        fmt="o",
        color="C0",
        capsize=3,
        elinewidth=1,
        label="Realised, per tenth of the ranking (95% interval)",
    )
    span = np.array([min(x.min(), y.min(), 0.0), max(x.max(), y.max(), 0.0)])
    ax.plot(span, span, label="Predicted = realised", **_REFERENCE)
    grid = np.linspace(x.min(), x.max(), 50)
    line = ate * scale + slope * (grid - predicted_mean * scale)
    ax.plot(grid, line, color="C1", label=f"Calibration applied (slope {slope:.2f})")
    ax.axhline(0, color="0.3", linewidth=0.6)
    unit = " (percentage points)" if binary else ""
    ax.set(xlabel=f"Mean predicted uplift{unit}", ylabel=f"Realised uplift{unit}", title=title)
    ax.legend(loc="best", fontsize="small")
    return fig
