"""How many clusters, and how good they are: separation and stability on samples.

Every quality measure here is computed on samples, so that choosing k costs the
same for ten thousand customers as for ten million:

- **separation** (:func:`separation`) on an evaluation sample, in the model's
  own space: the mean silhouette (-1 to 1, higher is better), the
  Calinski–Harabasz index (higher is better) and the Davies–Bouldin index
  (lower is better), all from scikit-learn;
- **stability** (:func:`stability`): the model is refitted on bootstrap
  resamples of the fitting sample, and each refit's partition of the
  evaluation sample is compared with the model's by the adjusted Rand index
  (1: the same partition, 0: as alike as chance). A partition that changes
  when a few customers do is no segment to send e-mails by.

:func:`k_diagnostics` measures both for every k of a range and :func:`choose_k`
picks the **most separated k among the stable ones** (mean ARI at least
:data:`MIN_STABILITY`, the level above which Hennig (2007) calls a cluster
stable), or the most stable k when none is.

References
----------
.. [1] Hennig, C. (2007). Cluster-wise assessment of cluster stability.
   *Computational Statistics & Data Analysis*, 52(1), 258–271.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)

from upseg.models.clusters.preprocessing import ClusteringError

__all__ = [
    "DIAGNOSTIC_COLUMNS",
    "MIN_STABILITY",
    "Samples",
    "choose_k",
    "k_diagnostics",
    "samples",
    "separation",
    "stability",
]

#: Mean bootstrap ARI from which a k counts as stable.
MIN_STABILITY = 0.75
#: The columns of :func:`k_diagnostics`, in order.
DIAGNOSTIC_COLUMNS = (
    "k",
    "silhouette",
    "calinski_harabasz",
    "davies_bouldin",
    "stability_ari",
    "stability_ari_min",
    "smallest_share",
)


@dataclass(frozen=True)
class Samples:
    """Row positions of the fitting and evaluation samples (evaluation ⊆ fitting)."""

    fit: np.ndarray
    evaluate: np.ndarray


def samples(n_rows: int, *, fit_rows: int, eval_rows: int, seed: int) -> Samples:
    """Random positions: ``fit_rows`` (or all) to fit on, ``eval_rows`` of them to score on."""
    rng = np.random.default_rng(seed)
    fit = np.sort(rng.permutation(n_rows)[: min(fit_rows, n_rows)])
    evaluate = np.sort(rng.choice(fit, size=min(eval_rows, len(fit)), replace=False))
    return Samples(fit, evaluate)


def separation(model: object, frame: pd.DataFrame) -> dict[str, float]:
    """Silhouette, Calinski–Harabasz and Davies–Bouldin of ``model``'s partition of ``frame``.

    In the model's own space; NaN when ``frame``'s customers fall in a single cluster.
    """
    space = model.space(frame)  # type: ignore[attr-defined]
    labels = model.predict_internal(frame)  # type: ignore[attr-defined]
    if len(np.unique(labels)) < 2 or len(frame) <= len(np.unique(labels)):
        return {"silhouette": np.nan, "calinski_harabasz": np.nan, "davies_bouldin": np.nan}
    return {
        "silhouette": float(silhouette_score(space, labels)),
        "calinski_harabasz": float(calinski_harabasz_score(space, labels)),
        "davies_bouldin": float(davies_bouldin_score(space, labels)),
    }


def stability(
    model: object,
    fit_frame: pd.DataFrame,
    eval_frame: pd.DataFrame,
    *,
    resamples: int = 5,
    seed: int = 0,
) -> tuple[float, float]:
    """Mean and smallest ARI between ``model``'s partition and refits on bootstrap resamples.

    Each refit is a clone of ``model`` (same columns, k and settings) fitted on
    a bootstrap resample of ``fit_frame``; both partition ``eval_frame``.
    """
    if resamples < 1:
        raise ClusteringError(f"clusters: resamples must be at least 1; got {resamples}")
    reference = model.predict_internal(eval_frame)  # type: ignore[attr-defined]
    rng = np.random.default_rng(seed)
    scores = []
    for b in range(resamples):
        rows = rng.integers(0, len(fit_frame), len(fit_frame))
        refit = clone(model).set_params(random_state=seed + 1 + b)
        refit.fit(fit_frame.iloc[rows])
        scores.append(adjusted_rand_score(reference, refit.predict_internal(eval_frame)))
    return float(np.mean(scores)), float(np.min(scores))


def k_diagnostics(
    template: object,
    frame: pd.DataFrame,
    ks: Sequence[int],
    *,
    fit_rows: int = 20_000,
    eval_rows: int = 5_000,
    resamples: int = 5,
    seed: int = 0,
    on_k: object = None,
) -> pd.DataFrame:
    """Separation and stability of ``template`` refitted at every k of ``ks``, on samples.

    Parameters
    ----------
    template : ClusterModel
        Unfitted; cloned with each ``n_clusters``.
    frame : pandas.DataFrame
        The customers.
    ks : sequence of int
    fit_rows, eval_rows : int
        Sizes of the fitting and evaluation samples (:func:`samples`).
    resamples : int
        Bootstrap refits per k for the stability.
    seed : int
    on_k : callable, optional
        Told each k as it starts, for a progress display.

    Returns
    -------
    pandas.DataFrame
        :data:`DIAGNOSTIC_COLUMNS`, one row per k; ``smallest_share`` is the
        smallest cluster's share of the evaluation sample.
    """
    picked = samples(len(frame), fit_rows=fit_rows, eval_rows=eval_rows, seed=seed)
    fit_frame = frame.iloc[picked.fit]
    eval_frame = frame.iloc[picked.evaluate]
    rows = []
    for k in ks:
        if callable(on_k):
            on_k(k)
        model = clone(template).set_params(n_clusters=int(k)).fit(fit_frame)
        mean_ari, min_ari = stability(model, fit_frame, eval_frame, resamples=resamples, seed=seed)
        sizes = np.bincount(model.predict_internal(eval_frame), minlength=int(k))
        rows.append(
            {
                "k": int(k),
                **separation(model, eval_frame),
                "stability_ari": mean_ari,
                "stability_ari_min": min_ari,
                "smallest_share": float(sizes.min() / max(sizes.sum(), 1)),
            }
        )
    return pd.DataFrame(rows, columns=list(DIAGNOSTIC_COLUMNS))


def choose_k(diagnostics: pd.DataFrame, *, min_stability: float = MIN_STABILITY) -> tuple[int, str]:
    """The chosen k and why, in one sentence: the best silhouette among the stable ks.

    Raises
    ------
    ClusteringError
        When ``diagnostics`` has no k with a silhouette.
    """
    scored = diagnostics.dropna(subset=["silhouette"])
    if scored.empty:
        raise ClusteringError(
            "clusters: no k could be scored (every fit put the sample in one cluster)"
        )
    stable = scored[scored["stability_ari"] >= min_stability]
    if len(stable):
        best = stable.loc[stable["silhouette"].idxmax()]
        others = ", ".join(f"k={int(k)}" for k in scored["k"] if k not in set(stable["k"]))
        reason = (
            f"k={int(best['k'])} has the highest silhouette ({best['silhouette']:.3f}) among "
            f"the ks whose bootstrap ARI is at least {min_stability:g}"
            + (f" (less stable: {others})" if others else "")
        )
        return int(best["k"]), reason
    best = scored.loc[scored["stability_ari"].idxmax()]
    return int(best["k"]), (
        f"no k reached a bootstrap ARI of {min_stability:g}; k={int(best['k'])} is the most "
        f"stable ({best['stability_ari']:.3f}), silhouette {best['silhouette']:.3f}: the data "
        "may hold no clear groups"
    )
