"""Behavioural clusters: k-means segments found in the data, profiled, named and kept stable.

- :mod:`~upseg.models.clusters.preprocessing`: fill, log and robustly scale the columns;
- :mod:`~upseg.models.clusters.model`: :class:`ClusterModel`, k-means with labels and names;
- :mod:`~upseg.models.clusters.selection`: separation, bootstrap stability, the choice of k;
- :mod:`~upseg.models.clusters.profiles`: profiles, z-scores, names and the names file;
- :mod:`~upseg.models.clusters.matching`: labels carried from the champion, migration;
- :mod:`~upseg.models.clusters.training`: :func:`fit_clusters`, all of it for one month.
"""

from upseg.models.clusters.matching import Matching, match_clusters, migration_matrix
from upseg.models.clusters.model import ClusterModel
from upseg.models.clusters.preprocessing import BehaviourTransformer, ClusteringError
from upseg.models.clusters.profiles import cluster_names, profile_table, read_names, z_matrix
from upseg.models.clusters.selection import choose_k, k_diagnostics, separation, stability
from upseg.models.clusters.training import ClustersFit, fit_clusters, quality

__all__ = [
    "BehaviourTransformer",
    "ClusterModel",
    "ClusteringError",
    "ClustersFit",
    "Matching",
    "choose_k",
    "cluster_names",
    "fit_clusters",
    "k_diagnostics",
    "match_clusters",
    "migration_matrix",
    "profile_table",
    "quality",
    "read_names",
    "separation",
    "stability",
    "z_matrix",
]
