"""Fitting the clusters of one month: choose k, fit, label as the champion did, name; pure.

:func:`fit_clusters` is everything ``upseg train clusters`` does between the
features and MLflow: the customers are put in a canonical order (by
``customer_id``, so the same customers in another order give the same model),
k is chosen (:mod:`~upseg.models.clusters.selection`) or taken as given, the
model is fitted on everyone, its clusters take the champion's labels and names
where they match (:mod:`~upseg.models.clusters.matching`), new clusters are
named from their profiles, and a names file renames any of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from upseg.models.clusters.matching import Matching, match_clusters, migration_matrix
from upseg.models.clusters.model import ClusterModel
from upseg.models.clusters.preprocessing import ClusteringError
from upseg.models.clusters.profiles import cluster_names, profile_table
from upseg.models.clusters.selection import (
    MIN_STABILITY,
    choose_k,
    k_diagnostics,
    samples,
    separation,
    stability,
)

__all__ = ["K_RANGE", "ClustersFit", "fit_clusters", "quality"]

#: The ks ``--k auto`` tries by default: two groups rarely make useful segments.
K_RANGE = (3, 10)


@dataclass(frozen=True)
class ClustersFit:
    """A fitted clusters model and everything said about it.

    Attributes
    ----------
    model : ClusterModel
        Labelled and named.
    diagnostics : pandas.DataFrame
        :func:`~upseg.models.clusters.selection.k_diagnostics` of every k tried.
    reason : str
        Why this k, in one sentence.
    profile : pandas.DataFrame
        :func:`~upseg.models.clusters.profiles.profile_table` on the fitted customers.
    matching : Matching or None
        How the clusters map onto the champion's; None without a champion.
    migration : pandas.DataFrame or None
        Customers by champion cluster (rows) and new cluster (columns).
    """

    model: ClusterModel
    diagnostics: pd.DataFrame
    reason: str
    profile: pd.DataFrame
    matching: Matching | None = None
    migration: pd.DataFrame | None = None


def _ks(k: int | str, k_range: Sequence[int], n_rows: int) -> list[int]:
    """The ks to try, or an error naming the option and what was given."""
    if k != "auto":
        if not isinstance(k, int) or isinstance(k, bool) or k < 2:
            raise ClusteringError(
                f"clusters: --k must be 'auto' or an integer of at least 2; got {k!r}"
            )
        if k > n_rows:
            raise ClusteringError(
                f"clusters: --k {k} is more clusters than the {n_rows:,} customers; expected "
                f"at most {n_rows:,}"
            )
        return [k]
    low, high = int(k_range[0]), int(k_range[1])
    if not 2 <= low <= high:
        raise ClusteringError(
            f"clusters: the k range must be two integers 2 <= min <= max; got {low}..{high}"
        )
    if n_rows <= low:
        raise ClusteringError(
            f"clusters: {n_rows:,} customers are too few to choose k in {low}..{high}; "
            f"expected more than {low}"
        )
    return list(range(low, min(high, n_rows - 1) + 1))


def quality(
    model: ClusterModel,
    frame: pd.DataFrame,
    *,
    fit_rows: int,
    eval_rows: int,
    resamples: int,
    seed: int,
) -> dict[str, float]:
    """The gate's measures of ``model`` on ``frame``'s samples: separation and stability."""
    picked = samples(len(frame), fit_rows=fit_rows, eval_rows=eval_rows, seed=seed)
    fit_frame, eval_frame = frame.iloc[picked.fit], frame.iloc[picked.evaluate]
    mean_ari, min_ari = stability(model, fit_frame, eval_frame, resamples=resamples, seed=seed)
    return {
        **separation(model, eval_frame),
        "stability_ari": mean_ari,
        "stability_ari_min": min_ari,
    }


def fit_clusters(
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    k: int | str = "auto",
    k_range: Sequence[int] = K_RANGE,
    algorithm: str = "auto",
    pca: int | float | None = None,
    champion: ClusterModel | None = None,
    names: Mapping[int, str] | None = None,
    feature_set: str = "",
    seed: int = 0,
    fit_rows: int = 20_000,
    eval_rows: int = 5_000,
    resamples: int = 5,
    min_stability: float = MIN_STABILITY,
    on_stage: Callable[[str], None] = lambda _: None,
) -> ClustersFit:
    """Choose k, fit the clusters on everyone, label, name and profile them.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per customer: ``customer_id`` and ``columns``.
    columns : sequence of str
        The behavioural columns.
    k : int or "auto"
        The number of clusters, or ``auto`` to choose it in ``k_range``.
    k_range : (int, int)
        Smallest and largest k ``auto`` tries.
    algorithm, pca : see :class:`ClusterModel`.
    champion : ClusterModel, optional
        The current champion: matching clusters keep its labels and names.
    names : mapping of int to str, optional
        A names file's names, applied last (labels must be the new model's).
    feature_set : str
        The clusters' feature set key, recorded on the model.
    seed : int
    fit_rows, eval_rows, resamples : int
        Samples and bootstrap refits of the diagnostics (:func:`k_diagnostics`).
    min_stability : float
        The stability a k needs to be chosen for its silhouette (:func:`choose_k`).
    on_stage : callable, optional
        Told each stage in words.

    Raises
    ------
    ClusteringError
        For a bad k or range, too few customers, columns that cannot be
        clustered, or a names file naming labels the model does not have.
    """
    if "customer_id" not in frame.columns:
        raise ClusteringError("clusters: the features lack column 'customer_id'")
    frame = frame.sort_values("customer_id", kind="stable").reset_index(drop=True)
    ks = _ks(k, k_range, len(frame))
    template = ClusterModel(
        tuple(columns),
        ks[0],
        algorithm=algorithm,
        pca=pca,
        random_state=seed,
        feature_set=feature_set,
    )
    diagnostics = k_diagnostics(
        template,
        frame,
        ks,
        fit_rows=fit_rows,
        eval_rows=eval_rows,
        resamples=resamples,
        seed=seed,
        on_k=lambda k_: on_stage(f"Trying k={k_} ({ks.index(k_) + 1} of {len(ks)})"),
    )
    if len(ks) > 1:
        chosen, reason = choose_k(diagnostics, min_stability=min_stability)
    else:
        chosen, reason = ks[0], f"k={ks[0]} was given (--k)"
    on_stage(f"Fitting {chosen} clusters on {len(frame):,} customers")
    model = template.set_params(n_clusters=chosen).fit(frame)
    auto = cluster_names(profile_table(model, frame))
    matching = None
    if champion is not None:
        on_stage("Matching the clusters to the champion's")
        by_internal = {i: auto[int(model.label_of_[i])] for i in range(chosen)}
        matching = match_clusters(champion, model, frame, by_internal)
        model.relabel(matching.label_of, matching.names, matching.next_label)
    else:
        model.relabel(model.label_of_, auto, model.next_label_)
    if names:
        model.rename(names)
    migration = None
    if champion is not None:
        migration = migration_matrix(
            champion.predict(frame), np.asarray(model.labels_), champion.names_, model.names_
        )
    return ClustersFit(
        model=model,
        diagnostics=diagnostics,
        reason=reason,
        profile=profile_table(model, frame),
        matching=matching,
        migration=migration,
    )
