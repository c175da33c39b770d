"""Evaluation figure for revenue (CLV) predictions: predicted against realised revenue by decile.

Like :mod:`models.plots`, the ``*_figure`` function returns a detached
:class:`matplotlib.figure.Figure` on an Agg canvas, 6 x 4.5 inches; write it
with :func:`models.plots.save_figure`. It takes one mapping of
``{predictor: predicted revenue}`` so every predictor shares the axes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from upseg.models.clv.metrics import (
    _fail,
    _revenue_problems,
    _validated,
    decile_calibration,
    decile_calibration_error,
)
from upseg.models.plots import _REFERENCE, _figure

__all__ = ["decile_calibration_figure"]

# Axes switch to a (symmetric) log scale when the plotted means span more than this factor.
_LOG_SPAN = 100.0


def decile_calibration_figure(
    y_true: ArrayLike,
    preds: Mapping[str, ArrayLike],
    *,
    n_bins: int = 10,
    title: str = "Revenue calibration by predicted decile",
) -> Figure:
    """Mean realised against mean predicted revenue per predicted decile, one series per predictor.

    Points come from :func:`models.clv.metrics.decile_calibration`; a calibrated
    predictor lies on the dashed ``y = x`` line, and the legend gives each
    predictor's :func:`~models.clv.metrics.decile_calibration_error`. When the
    means span more than two orders of magnitude both axes are symmetric-log
    (linear below the smallest positive mean, so deciles with a mean of 0 are
    still drawn, at 0).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Realised revenue, >= 0, not all zero.
    preds : mapping of str to array-like of shape (n_samples,)
        ``{predictor: predicted revenue >= 0}``, e.g. BG/NBD + Gamma-Gamma, LightGBM, baseline.
    n_bins : int, default=10
        Number of groups, from 1 to ``n_samples``.
    title : str, default="Revenue calibration by predicted decile"

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        Listing every problem with the arguments, naming the predictor.
    """
    function = "decile_calibration_figure"
    if not isinstance(preds, Mapping) or not preds:
        _fail(
            function,
            [f"'preds' must be a non-empty mapping of {{predictor: array}}; got {preds!r:.80}"],
        )
    validated = {
        label: _validated(f"{function} (predictor {label!r})", y_true, pred)
        for label, pred in preds.items()
    }
    y = next(iter(validated.values()))[0]
    _fail(function, _revenue_problems(y, ranked=False))
    tables = {label: decile_calibration(y, p, n_bins) for label, (_, p) in validated.items()}
    fig, ax = _figure()
    means = np.concatenate(
        [t[["predicted_mean", "realised_mean"]].to_numpy() for t in tables.values()]
    )
    high = float(means.max())
    positive = means[means > 0]
    low = float(positive.min()) if positive.size else high
    ax.plot([0, high], [0, high], label="Perfectly calibrated (y = x)", **_REFERENCE)
    for label, table in tables.items():
        error = decile_calibration_error(table)
        ax.plot(
            table["predicted_mean"],
            table["realised_mean"],
            "o-",
            linewidth=0.8,
            label=f"{label} (decile error {error:.2f})",
        )
    scale, top = "", high * 1.05
    if high > _LOG_SPAN * low:
        linthresh = 10 ** math.floor(math.log10(low))
        ax.set_xscale("symlog", linthresh=linthresh)
        ax.set_yscale("symlog", linthresh=linthresh)
        scale, top = f" (symlog, linear below {linthresh:g})", high * 1.6
    ax.set(
        xlim=(0, top),
        ylim=(0, top),
        xlabel=f"Mean predicted revenue per customer{scale}",
        ylabel=f"Mean realised revenue per customer{scale}",
        title=title,
    )
    ax.legend(loc="upper left", fontsize="small")
    return fig
