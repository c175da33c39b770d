"""Per-customer reasons from TreeSHAP contributions: the few features that moved a score most."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["top_drivers", "top_driver_indices"]


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
    # A stable sort of -|c| breaks ties by column order, so the result is deterministic.
    return np.argsort(-values, axis=1, kind="stable")[:, :k]


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
    names = np.asarray(feature_names, dtype=object)
    picked = np.take_along_axis(values, idx, axis=1)
    arrows = np.where(picked > 0, " ↑", np.where(picked < 0, " ↓", " ·"))
    labels = names[idx] + arrows
    return [", ".join(row) for row in labels.tolist()]
