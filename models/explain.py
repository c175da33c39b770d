"""Per-customer reasons from TreeSHAP contributions: the few features that moved a score most."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["top_drivers", "top_driver_indices"]

#: Up to this many drivers, :func:`top_driver_indices` takes one argmax per place
#: instead of sorting every column of every row.
_ARGMAX_UP_TO = 8


def top_driver_indices(contributions: np.ndarray, k: int = 3) -> np.ndarray:
    """Column indices of the ``k`` largest absolute contributions per row, largest first.

    Parameters
    ----------
    contributions : ndarray of shape (n_samples, n_features)
        Per-feature contributions, without the bias column.
    k : int, default 3
        How many drivers per row.

    Returns
    -------
    ndarray of shape (n_samples, min(k, n_features))
        Ties keep the lower column index first.
    """
    values = np.abs(np.asarray(contributions, dtype=float))
    if values.ndim != 2:
        raise ValueError(f"contributions must be 2-D (n_samples, n_features); got {values.shape}.")
    k = min(k, values.shape[1])
    if k > _ARGMAX_UP_TO:
        # A stable sort of -|c| breaks ties by column order, so the result is deterministic.
        return np.argsort(-values, axis=1, kind="stable")[:, :k]
    # The same answer for a few drivers, far cheaper than sorting every column: argmax
    # takes the first of equal values, i.e. the lower column, as the stable sort does.
    indices = np.empty((len(values), k), dtype=np.intp)
    rows = np.arange(len(values))
    for place in range(k):
        indices[:, place] = values.argmax(axis=1)
        values[rows, indices[:, place]] = -1.0  # below every |c|: never taken again
    return indices


def top_drivers(contributions: np.ndarray, feature_names: Sequence[str], k: int = 3) -> list[str]:
    """The ``k`` strongest drivers of each row as text, e.g. ``"recency_days ↑, tenure_days ↓"``.

    ``↑`` means the feature pushed the score up for that customer, ``↓`` down.

    Parameters
    ----------
    contributions : ndarray of shape (n_samples, n_features)
        TreeSHAP values from :meth:`CalibratedLGBMClassifier.contributions`,
        without the bias column.
    feature_names : sequence of str of length n_features
        Column names of ``contributions``.
    k : int, default 3
        How many drivers per row.
    """
    values = np.asarray(contributions, dtype=float)
    if values.ndim != 2 or values.shape[1] != len(feature_names):
        raise ValueError(
            f"contributions must have one column per feature name ({len(feature_names)}); "
            f"got shape {values.shape}."
        )
    idx = top_driver_indices(values, k)
    if idx.shape[1] == 0:
        return [""] * len(values)
    # Each row is a feature and a sign (0 ↓, 1 ·, 2 ↑) per place: text is built once per
    # distinct combination, not once per customer (a million customers share a few
    # thousand combinations).
    signs = np.sign(np.take_along_axis(values, idx, axis=1)).astype(np.int64) + 1
    places = idx.astype(np.int64) * 3 + signs
    base = 3 * values.shape[1]
    if base ** places.shape[1] < 2**62:  # one integer per row: a fast 1-d unique
        keys = places @ (base ** np.arange(places.shape[1] - 1, -1, -1, dtype=np.int64))
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        combos = places[first]
    else:
        combos, inverse = np.unique(places, axis=0, return_inverse=True)
    names = np.asarray(feature_names, dtype=object)
    arrows = np.array([" ↓", " ·", " ↑"], dtype=object)
    labels = names[combos // 3] + arrows[combos % 3]
    texts = np.array([", ".join(row) for row in labels.tolist()], dtype=object)
    return texts[inverse.reshape(-1)].tolist()
