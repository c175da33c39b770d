"""Figures of a clusters model: the profile heat map (snake plot) and the choice of k.

Like :mod:`upseg.models.plots`, each function returns a detached
:class:`matplotlib.figure.Figure` on an Agg canvas; write it with
:func:`upseg.models.plots.save_figure`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from upseg.models.clusters.selection import MIN_STABILITY
from upseg.models.plots import _detached_figure

__all__ = ["k_choice_figure", "profile_heatmap_figure"]

#: z-scores beyond this are drawn at the colour scale's end.
_Z_LIMIT = 2.0


def profile_heatmap_figure(
    z: pd.DataFrame, *, title: str = "Cluster profiles (z-scores)"
) -> Figure:
    """Clusters (rows) × features (columns), coloured by z-score, each cell written out.

    Parameters
    ----------
    z : pandas.DataFrame
        :func:`upseg.models.clusters.profiles.z_matrix`.
    """
    fig = _detached_figure()
    fig.set_size_inches(max(6.0, 0.55 * z.shape[1] + 3.5), max(3.0, 0.5 * z.shape[0] + 2.2))
    ax = fig.subplots()
    values = z.to_numpy(dtype=float)
    image = ax.imshow(values, cmap="RdBu_r", vmin=-_Z_LIMIT, vmax=_Z_LIMIT, aspect="auto")
    ax.set_xticks(range(z.shape[1]), list(z.columns), rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(z.shape[0]), [str(i) for i in z.index], fontsize=8)
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            ax.text(j, i, f"{v:+.1f}", ha="center", va="center", fontsize=7)
    fig.colorbar(image, ax=ax, label="z-score against all customers")
    ax.set_title(title)
    return fig


def k_choice_figure(diagnostics: pd.DataFrame, chosen: int) -> Figure:
    """Silhouette and bootstrap stability against k, the chosen k marked."""
    fig = _detached_figure()
    ax = fig.subplots()
    ks = diagnostics["k"].to_numpy()
    ax.plot(ks, diagnostics["silhouette"], marker="o", label="silhouette (sample)")
    ax.plot(ks, diagnostics["stability_ari"], marker="s", label="stability (mean bootstrap ARI)")
    ax.axhline(MIN_STABILITY, color="grey", linestyle=":", label=f"stable from {MIN_STABILITY:g}")
    ax.axvline(chosen, color="black", linestyle="--", label=f"chosen k = {chosen}")
    ax.set_xlabel("k (clusters)")
    ax.set_ylabel("score")
    ax.set_xticks(ks)
    ax.legend(fontsize=8)
    ax.set_title("Choice of k")
    return fig
