"""Labels that keep their meaning from one model to the next, and where customers moved.

A retrained k-means numbers its clusters arbitrarily. :func:`match_clusters`
pairs the new clusters with the champion's in the **champion's space** (the
new clusters' members are transformed as the champion transforms customers,
and their mean is compared with the champion's centres), by the Hungarian
algorithm on Euclidean distances (``scipy.optimize.linear_sum_assignment``).

A pair counts only when the new centre is closer to the old one than
:data:`MATCH_SHARE` of the distance from that old centre to its nearest other
old centre: nearer than half-way, it cannot be mistaken for a neighbour. The
threshold thus follows the champion's own geometry, with no unit to tune. A
new cluster without a match is **new** and gets a label never used before; a
champion cluster without one has **vanished**.

:func:`migration_matrix` counts customers by their cluster under the champion
(rows) and under the new model (columns).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

__all__ = ["MATCH_SHARE", "Matching", "match_clusters", "migration_matrix"]

#: A new centre matches an old one when nearer than this share of the old centre's
#: distance to its nearest other old centre.
MATCH_SHARE = 0.5


@dataclass(frozen=True)
class Matching:
    """How a new model's clusters map onto the champion's.

    Attributes
    ----------
    label_of : numpy.ndarray
        The label of each of the new model's internal clusters.
    names : dict of int to str
        The name of each label: the champion's for matched clusters.
    next_label : int
        The label the next new cluster will get.
    pairs : pandas.DataFrame
        One row per new cluster: ``label``, ``champion_label`` (missing when
        new), ``distance`` to the nearest champion centre it was paired with,
        ``threshold`` and ``status`` (``kept`` or ``new``).
    vanished : tuple of int
        Champion labels no new cluster matched.
    """

    label_of: np.ndarray
    names: dict[int, str]
    next_label: int
    pairs: pd.DataFrame
    vanished: tuple[int, ...]

    @property
    def kept(self) -> int:
        """How many clusters kept their label."""
        return int((self.pairs["status"] == "kept").sum())


def _thresholds(centres: np.ndarray) -> np.ndarray:
    """:data:`MATCH_SHARE` of each centre's distance to its nearest other centre."""
    gaps = np.linalg.norm(centres[:, None, :] - centres[None, :, :], axis=2)
    np.fill_diagonal(gaps, np.inf)
    return MATCH_SHARE * gaps.min(axis=1)


def match_clusters(
    champion: object, challenger: object, frame: pd.DataFrame, new_names: dict[int, str]
) -> Matching:
    """Pair the challenger's clusters with the champion's on the customers of ``frame``.

    Parameters
    ----------
    champion, challenger : ClusterModel
        Fitted; the champion's columns must be in ``frame``.
    frame : pandas.DataFrame
        The customers the challenger was fitted on.
    new_names : dict of int to str
        Names for the challenger's unmatched clusters, by internal index.

    Returns
    -------
    Matching
    """
    old_space = champion.space(frame)  # type: ignore[attr-defined]
    internal = challenger.predict_internal(frame)  # type: ignore[attr-defined]
    k = challenger.n_clusters  # type: ignore[attr-defined]
    means = np.vstack([old_space[internal == i].mean(axis=0) for i in range(k)])
    old_centres = champion.centers_  # type: ignore[attr-defined]
    old_labels = champion.label_of_  # type: ignore[attr-defined]
    distance = np.linalg.norm(means[:, None, :] - old_centres[None, :, :], axis=2)
    threshold = _thresholds(old_centres)
    rows, cols = linear_sum_assignment(distance)
    partner = {int(r): int(c) for r, c in zip(rows, cols, strict=True)}
    next_label = int(champion.next_label_)  # type: ignore[attr-defined]
    label_of = np.empty(k, dtype=np.int64)
    names: dict[int, str] = {}
    records = []
    taken_names = set(champion.names_.values())  # type: ignore[attr-defined]
    for i in range(k):
        j = partner.get(i)
        close = j is not None and distance[i, j] <= threshold[j]
        if close:
            label = int(old_labels[j])
            names[label] = champion.names_[label]  # type: ignore[attr-defined]
        else:
            label, next_label = next_label, next_label + 1
            name = new_names[i]
            names[label] = name if name not in taken_names else f"{name} (new {label})"
        label_of[i] = label
        records.append(
            {
                "label": label,
                "champion_label": int(old_labels[j]) if close else pd.NA,
                "distance": float(distance[i, j]) if j is not None else np.nan,
                "threshold": float(threshold[j]) if j is not None else np.nan,
                "status": "kept" if close else "new",
            }
        )
    kept = {int(r["champion_label"]) for r in records if r["status"] == "kept"}
    vanished = tuple(sorted(int(x) for x in old_labels if int(x) not in kept))
    pairs = pd.DataFrame(records).sort_values("label", kind="stable").reset_index(drop=True)
    pairs["champion_label"] = pairs["champion_label"].astype("Int64")
    return Matching(label_of, names, next_label, pairs, vanished)


def migration_matrix(
    before: np.ndarray,
    after: np.ndarray,
    names_before: dict[int, str],
    names_after: dict[int, str],
) -> pd.DataFrame:
    """Customers by their cluster before (rows) and after (columns), labelled "3 · name".

    Every cluster of either model has its row or column, empty or not, plus
    a ``total`` row and column.
    """
    rows = [f"{k} · {v}" for k, v in sorted(names_before.items())]
    cols = [f"{k} · {v}" for k, v in sorted(names_after.items())]
    b = pd.Categorical([f"{k} · {names_before[int(k)]}" for k in before], categories=rows)
    a = pd.Categorical([f"{k} · {names_after[int(k)]}" for k in after], categories=cols)
    table = pd.crosstab(b, a, dropna=False, margins=True, margins_name="total")
    table.index.name, table.columns.name = "before", "after"
    return table
