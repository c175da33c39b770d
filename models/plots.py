"""Evaluation figures for binary classifiers: ROC, precision-recall, calibration, gains, SHAP.

Each ``*_figure`` function returns a :class:`matplotlib.figure.Figure` drawn on
an Agg (PNG) canvas and detached from :mod:`matplotlib.pyplot`, so building
figures in a pipeline neither needs a display nor accumulates open figures;
only :func:`save_figure` writes a file. The curve functions take one mapping of
``{label: score}`` so the model and its baseline are drawn on the same axes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TypedDict

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import shap
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import ArrayLike
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from upseg.models.evaluation import capture_rate_at, reliability_table
from upseg.models.evaluation._checks import _validated

__all__ = [
    "DPI",
    "FIGSIZE",
    "calibration_figure",
    "lift_figure",
    "pr_figure",
    "roc_figure",
    "save_figure",
    "shap_summary_figure",
]

FIGSIZE = (6.0, 4.5)
"""Width and height of every figure, in inches."""
DPI = 110


class _LineStyle(TypedDict, total=False):
    """Keyword arguments of a reference line, typed so mypy checks them against matplotlib."""

    color: str
    linestyle: str
    linewidth: float


_REFERENCE: _LineStyle = {"color": "0.55", "linestyle": "--", "linewidth": 1}
# Points drawn per gains curve: enough to look smooth, few enough for a small PNG.
_GAINS_POINTS = 500


def _detached_figure() -> Figure:
    """A new figure on an Agg canvas, detached from pyplot, without axes."""
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _figure() -> tuple[Figure, Axes]:
    """A new detached figure on an Agg canvas and its one axes."""
    fig = _detached_figure()
    return fig, fig.subplots()


def _curves(
    function: str, y_true: ArrayLike, scores: Mapping[str, ArrayLike], *, probability: bool = False
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Validated labels and one float array per label of ``scores``."""
    if not isinstance(scores, Mapping) or not scores:
        raise ValueError(
            f"The 'scores' argument of {function} must be a non-empty mapping of "
            f"{{label: score array}}; got {scores!r:.80} instead."
        )
    validated = {}
    for label, score in scores.items():
        y, validated[label] = _validated(
            f"{function} (curve {label!r})",
            y_true,
            score,
            score_name="probability" if probability else "score",
            probability=probability,
        )
    return y, validated


def roc_figure(
    y_true: ArrayLike, scores: Mapping[str, ArrayLike], *, title: str = "ROC curve"
) -> Figure:
    """ROC curves of one or more scores on the same customers, with AUC in the legend.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome (0/1 or bool); both classes must be present.
    scores : mapping of str to array-like of shape (n_samples,)
        ``{label: score}``, e.g. ``{"LightGBM": p, "Recency baseline": -recency}``.
    title : str, default="ROC curve"

    Returns
    -------
    matplotlib.figure.Figure
    """
    y, curves = _curves("roc_figure", y_true, scores)
    fig, ax = _figure()
    for label, score in curves.items():
        fpr, tpr, _ = roc_curve(y, score)
        ax.plot(fpr, tpr, label=f"{label} (AUC = {roc_auc_score(y, score):.3f})")
    ax.plot([0, 1], [0, 1], label="Random (AUC = 0.500)", **_REFERENCE)
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1.01),
        xlabel="False positive rate (share of negatives flagged)",
        ylabel="True positive rate (share of positives flagged)",
        title=title,
    )
    ax.legend(loc="lower right", fontsize="small")
    return fig


def pr_figure(
    y_true: ArrayLike, scores: Mapping[str, ArrayLike], *, title: str = "Precision-recall curve"
) -> Figure:
    """Precision-recall curves of one or more scores, with average precision in the legend.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome (0/1 or bool); both classes must be present.
    scores : mapping of str to array-like of shape (n_samples,)
        ``{label: score}`` for the model and its baseline.
    title : str, default="Precision-recall curve"

    Returns
    -------
    matplotlib.figure.Figure
    """
    y, curves = _curves("pr_figure", y_true, scores)
    fig, ax = _figure()
    for label, score in curves.items():
        precision, recall, _ = precision_recall_curve(y, score)
        ap = average_precision_score(y, score)
        ax.step(recall, precision, where="post", label=f"{label} (AP = {ap:.3f})")
    rate = y.mean()
    ax.axhline(rate, label=f"Random (AP = positive rate = {rate:.3f})", **_REFERENCE)
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1.01),
        xlabel="Recall (share of positives found)",
        ylabel="Precision (share of flagged that are positive)",
        title=title,
    )
    ax.legend(loc="best", fontsize="small")
    return fig


def calibration_figure(
    y_true: ArrayLike,
    probabilities: Mapping[str, ArrayLike],
    *,
    n_bins: int = 10,
    strategy: str = "quantile",
    title: str = "Calibration",
) -> Figure:
    """Reliability diagram (observed rate vs mean predicted) above a histogram of predictions.

    Points come from :func:`models.evaluation.reliability_table`; a calibrated
    model lies on the diagonal.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome (0/1 or bool); both classes must be present.
    probabilities : mapping of str to array-like of shape (n_samples,)
        ``{label: predicted probability in [0, 1]}``.
    n_bins : int, default=10
    strategy : {"quantile", "uniform"}, default="quantile"
        Binning of :func:`~models.evaluation.reliability_table`.
    title : str, default="Calibration"

    Returns
    -------
    matplotlib.figure.Figure
    """
    y, curves = _curves("calibration_figure", y_true, probabilities, probability=True)
    fig = _detached_figure()
    top: Axes
    bottom: Axes
    top, bottom = fig.subplots(nrows=2, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.plot([0, 1], [0, 1], label="Perfectly calibrated", **_REFERENCE)
    for label, probability in curves.items():
        table = reliability_table(y, probability, n_bins=n_bins, strategy=strategy)
        (line,) = top.plot(table["mean_predicted"], table["observed_rate"], "o-", label=label)
        bottom.hist(probability, bins=50, range=(0, 1), histtype="step", color=line.get_color())
    top.set(ylim=(0, 1), ylabel="Observed positive rate", title=title)
    top.legend(loc="upper left", fontsize="small")
    bottom.set(xlim=(0, 1), xlabel="Predicted probability", ylabel="Customers")
    return fig


def _gains_curve(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Share targeted and share of positives captured, from the top score down."""
    ranked = y[np.argsort(-score, kind="stable")]
    n = len(ranked)
    captured = np.concatenate([[0], np.cumsum(ranked)]) / ranked.sum()
    k = np.unique(np.linspace(0, n, min(n, _GAINS_POINTS) + 1).round().astype(int))
    return k / n, captured[k]


def lift_figure(
    y_true: ArrayLike, scores: Mapping[str, ArrayLike], *, title: str = "Cumulative gains"
) -> Figure:
    """Cumulative gains: share of positives captured against share of customers targeted.

    Customers are targeted from the highest score down (ties in row order, as
    in :func:`models.evaluation.capture_rate_at`); the legend gives the capture
    at 10% targeted. The diagonal is random targeting.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome (0/1 or bool); both classes must be present.
    scores : mapping of str to array-like of shape (n_samples,)
        ``{label: score}`` for the model and its baseline.
    title : str, default="Cumulative gains"

    Returns
    -------
    matplotlib.figure.Figure
    """
    y, curves = _curves("lift_figure", y_true, scores)
    fig, ax = _figure()
    for label, score in curves.items():
        targeted, captured = _gains_curve(y, score)
        top10 = capture_rate_at(y, score, 0.1)
        ax.plot(targeted, captured, label=f"{label} ({top10:.0%} captured in top 10%)")
    rate = y.mean()
    ax.plot([0, rate, 1], [0, 1, 1], color="0.8", linewidth=1, label="Perfect ranking")
    ax.plot([0, 1], [0, 1], label="Random targeting", **_REFERENCE)
    ax.xaxis.set_major_formatter("{x:.0%}")
    ax.yaxis.set_major_formatter("{x:.0%}")
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1.01),
        xlabel="Share of customers targeted (highest score first)",
        ylabel="Share of positives captured",
        title=title,
    )
    ax.legend(loc="lower right", fontsize="small")
    return fig


def _colour_values(features: pd.DataFrame) -> pd.DataFrame:
    """``features`` as floats for shap's colour scale: categories become their codes.

    Missing values stay NaN (drawn grey). Colour is meaningful for an ordered
    category; for an unordered one it only tells the categories apart.
    """
    columns = {}
    for name, column in features.items():
        if isinstance(column.dtype, pd.CategoricalDtype):
            codes = column.cat.codes.to_numpy(dtype=float)
            columns[name] = np.where(codes < 0, np.nan, codes)
        elif pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            columns[name] = column.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        else:
            codes = pd.Categorical(column).codes.astype(float)
            columns[name] = np.where(codes < 0, np.nan, codes)
    return pd.DataFrame(columns, index=features.index)


def _is_positive_int(value: object) -> bool:
    """Whether ``value`` is a Python or NumPy integer (not a bool) of at least 1."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool) and bool(value >= 1)


def shap_summary_figure(
    contributions: ArrayLike,
    features: pd.DataFrame,
    max_display: int = 20,
    *,
    max_points: int | None = 10_000,
    title: str = "What drives the score",
) -> Figure:
    """SHAP beeswarm: each feature's contribution per customer, coloured by the feature's value.

    Drawn by ``shap.summary_plot`` with features sorted by mean absolute SHAP
    value (see :func:`models.evaluation.shap_importance`). The figure is 6 inches
    wide and grows taller than 4.5 inches beyond 12 features so labels stay legible.

    Parameters
    ----------
    contributions : array-like of shape (n_samples, n_features)
        SHAP values (e.g. LightGBM ``pred_contrib`` without its last column,
        in log-odds for a binary model).
    features : pandas.DataFrame of shape (n_samples, n_features)
        The feature values explained, same rows and column order. Categorical,
        string and boolean columns are coloured by their codes.
    max_display : int, default=20
        Number of features shown, most important first.
    max_points : int or None, default=10_000
        Customers drawn, sampled at random with a fixed seed when there are
        more (shap's layout is slow for large samples); None draws all.
    title : str, default="What drives the score"

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If the shapes do not match or ``max_display`` / ``max_points`` are not positive.
    """
    values = np.asarray(contributions, dtype=float)
    errors = []
    if not isinstance(features, pd.DataFrame):
        errors.append(f"'features' must be a pandas DataFrame; got {type(features).__name__}")
    elif values.ndim != 2 or values.shape != features.shape:
        errors.append(
            f"'contributions' must be 2-D with the shape of 'features' {features.shape}; "
            f"got {values.shape}"
            + (
                " (LightGBM's pred_contrib ends with an expected-value column; "
                "pass contributions[:, :-1])"
                if values.ndim == 2 and values.shape[1] == features.shape[1] + 1
                else ""
            )
        )
    if not _is_positive_int(max_display):
        errors.append(f"'max_display' must be an integer >= 1; got {max_display!r}")
    if max_points is not None and not _is_positive_int(max_points):
        errors.append(f"'max_points' must be an integer >= 1 or None; got {max_points!r}")
    if errors:
        raise ValueError(
            f"{len(errors)} error(s) in shap_summary_figure arguments: " + "; ".join(errors)
        )
    rng = np.random.default_rng(0)
    colours = _colour_values(features)
    if max_points is not None and len(values) > max_points:
        rows = np.sort(rng.choice(len(values), size=max_points, replace=False))
        values, colours = values[rows], colours.iloc[rows]
    n_rows = min(max_display, values.shape[1])
    size = (FIGSIZE[0], max(FIGSIZE[1], 0.25 * n_rows + 1.5))
    fig = plt.figure(figsize=size)
    try:
        shap.summary_plot(
            values, colours, max_display=max_display, show=False, plot_size=size, rng=rng
        )
        fig.axes[0].set_title(title)
    finally:
        plt.close(fig)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as a PNG at 110 dpi, creating parent directories, then close it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or pathlib.Path
        Destination; should end in ``.png``.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(path, format="png", dpi=DPI, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path
