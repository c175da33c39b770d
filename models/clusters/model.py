"""What ``upseg train clusters`` registers: k-means over behavioural features, with stable labels.

:class:`ClusterModel` is a scikit-learn clusterer over the feature table the
scorer already builds: it reads its own columns, transforms them
(:class:`~upseg.models.clusters.preprocessing.BehaviourTransformer`, then an
optional PCA) and assigns each customer to the nearest centre. What users see
is not k-means' internal index, which changes with every fit, but a **label**
(an integer from 1) and a **name**:

- a first model labels its clusters 1, 2, … from the largest to the smallest;
- a retrained model takes the labels and names of the champion's clusters it
  matches (:func:`upseg.models.clusters.matching.match_clusters`) through
  :meth:`ClusterModel.relabel`, so "cluster 3" keeps its meaning from month to month;
- a names file renames clusters once (:meth:`ClusterModel.rename`); the names
  then travel with the labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.decomposition import PCA
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from upseg.models.clusters.preprocessing import BehaviourTransformer, ClusteringError

__all__ = ["ALGORITHMS", "MINIBATCH_ABOVE", "ONE_THREAD_UP_TO", "ClusterModel"]

#: ``algorithm`` values: ``auto`` is ``kmeans`` up to :data:`MINIBATCH_ABOVE` customers.
ALGORITHMS = ("auto", "kmeans", "minibatch")
#: Above this many customers ``auto`` uses ``MiniBatchKMeans``. ``benchmarks/bench_clusters.py``
#: found it no lighter in memory at any size and, up to 1,000,000 customers, only seconds
#: faster for a partition up to 12% worse in inertia that changes with the seed; at 5,000,000
#: it saved a quarter of the time.
MINIBATCH_ABOVE = 5_000_000
#: Up to this many customers k-means runs on one thread: the samples that choose k and
#: measure stability are fitted dozens of times, and OpenMP threads that wait for a busy
#: core made such fits ten times slower on a shared two-core machine.
ONE_THREAD_UP_TO = 50_000


class ClusterModel(ClusterMixin, BaseEstimator):
    """k-means segments of customers over behavioural feature columns.

    Parameters
    ----------
    columns : sequence of str
        Feature columns read, in order (a clusters' feature set's columns).
    n_clusters : int, default 8
        Number of clusters, at least 2.
    algorithm : {"auto", "kmeans", "minibatch"}, default "auto"
        ``KMeans`` (Lloyd), ``MiniBatchKMeans``, or the first up to
        :data:`MINIBATCH_ABOVE` customers and the second beyond.
    pca : int or float, optional
        Components kept after scaling: a count, or the share of variance to
        keep (between 0 and 1); None keeps every scaled column.
    n_init : int, default 10
        k-means restarts; the fit with the lowest inertia is kept.
    random_state : int, default 0
    feature_set : str, default ""
        Key of the clusters' feature set the columns come from, for the record.

    Attributes
    ----------
    feature_names_in_ : ndarray of str
        ``columns``.
    transformer_ : BehaviourTransformer
    pca_ : sklearn.decomposition.PCA or None
    kmeans_ : KMeans or MiniBatchKMeans
    label_of_ : ndarray of int
        The label of each internal cluster (``kmeans_``'s index).
    names_ : dict of int to str
        Each label's name.
    next_label_ : int
        The label a new cluster gets: one above every label this model or its
        predecessors used, so a vanished cluster's label is never reused.
    """

    def __init__(
        self,
        columns: Sequence[str] = (),
        n_clusters: int = 8,
        *,
        algorithm: str = "auto",
        pca: int | float | None = None,
        n_init: int = 10,
        random_state: int = 0,
        feature_set: str = "",
    ) -> None:
        self.columns = columns
        self.n_clusters = n_clusters
        self.algorithm = algorithm
        self.pca = pca
        self.n_init = n_init
        self.random_state = random_state
        self.feature_set = feature_set

    def _check_params(self, n_rows: int) -> None:
        problems = []
        if not isinstance(self.n_clusters, int | np.integer) or self.n_clusters < 2:
            problems.append(f"n_clusters must be an integer of at least 2; got {self.n_clusters!r}")
        elif n_rows < self.n_clusters:
            problems.append(
                f"{n_rows:,} customers cannot make {self.n_clusters} clusters; "
                "expected at least one customer per cluster"
            )
        if self.algorithm not in ALGORITHMS:
            problems.append(
                f"algorithm must be one of {', '.join(ALGORITHMS)}; got {self.algorithm!r}"
            )
        if self.pca is not None and not (
            (isinstance(self.pca, int) and 1 <= self.pca <= len(self.columns))
            or (isinstance(self.pca, float) and 0 < self.pca < 1)
        ):
            problems.append(
                f"pca must be a number of components from 1 to {len(self.columns)} or a share "
                f"of variance between 0 and 1; got {self.pca!r}"
            )
        if problems:
            raise ClusteringError("clusters: " + "; ".join(problems))

    def _kmeans(self, n_rows: int) -> KMeans | MiniBatchKMeans:
        minibatch = self.algorithm == "minibatch" or (
            self.algorithm == "auto" and n_rows > MINIBATCH_ABOVE
        )
        if minibatch:
            return MiniBatchKMeans(
                self.n_clusters,
                n_init=self.n_init,
                batch_size=4096,
                random_state=self.random_state,
            )
        return KMeans(self.n_clusters, n_init=self.n_init, random_state=self.random_state)

    def fit(self, X: pd.DataFrame, y: object = None) -> ClusterModel:
        """Fit the transformer, the PCA and k-means; label the clusters 1.. by size.

        Raises
        ------
        ClusteringError
            For bad parameters, fewer customers than clusters, or columns that
            cannot be clustered (see :class:`BehaviourTransformer`).
        """
        self._check_params(len(X))
        self.transformer_ = BehaviourTransformer(tuple(self.columns)).fit(X)
        space = self.transformer_.transform(X)
        self.pca_ = None
        if self.pca is not None:
            self.pca_ = PCA(self.pca, random_state=self.random_state).fit(space)
            space = self.pca_.transform(space)
        with threadpool_limits(limits=1 if len(X) <= ONE_THREAD_UP_TO else None):
            self.kmeans_ = self._kmeans(len(X)).fit(space)
        internal = self.kmeans_.labels_
        sizes = np.bincount(internal, minlength=self.n_clusters)
        if (sizes == 0).any():
            raise ClusteringError(
                f"clusters: k-means left {int((sizes == 0).sum())} of {self.n_clusters} clusters "
                f"empty on {len(X):,} customers (too many identical customers for k); use a "
                "smaller k"
            )
        order = np.argsort(-sizes, kind="stable")
        self.label_of_ = np.empty(self.n_clusters, dtype=np.int64)
        self.label_of_[order] = np.arange(1, self.n_clusters + 1)
        self.names_ = {int(label): f"cluster {label}" for label in self.label_of_}
        self.next_label_ = self.n_clusters + 1
        self.feature_names_in_ = np.asarray(self.columns, dtype=object)
        self.labels_ = self.label_of_[internal]
        return self

    def space(self, X: pd.DataFrame) -> np.ndarray:
        """Customers in the space k-means measures distances in (scaled, PCA if any)."""
        check_is_fitted(self, "kmeans_")
        space = self.transformer_.transform(X)
        return self.pca_.transform(space) if self.pca_ is not None else space

    def predict_internal(self, X: pd.DataFrame) -> np.ndarray:
        """k-means' own index of each customer's cluster (not the label)."""
        return self.kmeans_.predict(self.space(X))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Each customer's cluster label."""
        return self.label_of_[self.predict_internal(X)]

    def predict_frame(self, X: pd.DataFrame) -> pd.DataFrame:
        """``cluster`` (label) and ``cluster_name`` of each customer, on ``X``'s index."""
        labels = self.predict(X)
        names = pd.Series(self.names_).reindex(labels).to_numpy(dtype=object)
        return pd.DataFrame({"cluster": labels, "cluster_name": names}, index=X.index)

    @property
    def centers_(self) -> np.ndarray:
        """The centres in :meth:`space`, by internal index."""
        check_is_fitted(self, "kmeans_")
        return self.kmeans_.cluster_centers_

    @property
    def labels(self) -> list[int]:
        """The labels, in increasing order."""
        check_is_fitted(self, "label_of_")
        return sorted(int(x) for x in self.label_of_)

    def relabel(
        self, label_of: Sequence[int], names: Mapping[int, str], next_label: int
    ) -> ClusterModel:
        """Give the internal clusters other labels and names (the matching's); returns self.

        Raises
        ------
        ClusteringError
            When ``label_of`` does not give every internal cluster a distinct
            label, or ``names`` does not name exactly those labels.
        """
        check_is_fitted(self, "kmeans_")
        labels = np.asarray(label_of, dtype=np.int64)
        if labels.shape != (self.n_clusters,) or len(set(labels.tolist())) != self.n_clusters:
            raise ClusteringError(
                f"clusters: relabelling needs {self.n_clusters} distinct labels; got {list(labels)}"
            )
        if set(names) != set(labels.tolist()):
            raise ClusteringError(
                f"clusters: names must name labels {sorted(labels.tolist())}; got {sorted(names)}"
            )
        self.label_of_ = labels
        self.names_ = {int(k): str(v) for k, v in names.items()}
        self.next_label_ = max(int(next_label), int(labels.max()) + 1)
        self.labels_ = self.label_of_[self.kmeans_.labels_]
        return self

    def rename(self, names: Mapping[int, str]) -> ClusterModel:
        """Set the names of some labels (a names file's); returns self.

        Raises
        ------
        ClusteringError
            Naming every label that is not one of the model's, and every name
            that would then belong to two clusters.
        """
        check_is_fitted(self, "names_")
        unknown = sorted(set(names) - set(self.names_))
        if unknown:
            raise ClusteringError(
                f"cluster names: label(s) {unknown} are not clusters of this model; its labels "
                f"are {self.labels}"
            )
        merged = {**self.names_, **{int(k): str(v).strip() for k, v in names.items()}}
        seen: dict[str, list[int]] = {}
        for label, name in merged.items():
            seen.setdefault(name, []).append(label)
        twice = {name: labels for name, labels in seen.items() if len(labels) > 1}
        if twice:
            shown = "; ".join(f"{name!r} for clusters {labels}" for name, labels in twice.items())
            raise ClusteringError(f"cluster names must be distinct; got {shown}")
        self.names_ = merged
        return self
