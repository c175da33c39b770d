"""Tables of a score: reliability (calibration) bins, gains per score bin, SHAP importance."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from upseg.models.evaluation._checks import _bins_problems, _n_targeted, _ranking, _validated

__all__ = ["gains_table", "reliability_table", "shap_importance"]

_STRATEGIES = ("quantile", "uniform")


def reliability_table(
    y_true: ArrayLike,
    probability: ArrayLike,
    n_bins: int = 10,
    strategy: str = "quantile",
) -> pd.DataFrame:
    """Observed positive rate against mean predicted probability, per probability bin.

    Bins are those of :func:`sklearn.calibration.calibration_curve`, whose two
    arrays are the ``observed_rate`` and ``mean_predicted`` columns here.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome (0/1 or bool); one class alone is allowed.
    probability : array-like of shape (n_samples,)
        Predicted probability of the positive class, in [0, 1].
    n_bins : int, default=10
        Number of bins.
    strategy : {"quantile", "uniform"}, default="quantile"
        ``"quantile"``: bins hold about the same number of customers;
        ``"uniform"``: bins have equal width on [0, 1].

    Returns
    -------
    pandas.DataFrame
        One row per non-empty bin, lowest probabilities first: ``bin`` (0-based
        index among the ``n_bins``; empty bins are left out, so it may skip),
        ``n``, ``mean_predicted`` and ``observed_rate``.

    Raises
    ------
    ValueError
        Listing every problem with the arguments.

    References
    ----------
    .. [1] Niculescu-Mizil, A. and Caruana, R. "Predicting good probabilities with
       supervised learning", ICML 2005.
    """
    extra = _bins_problems(n_bins)
    if strategy not in _STRATEGIES:
        extra.append(f"'strategy' must be one of {_STRATEGIES}; got {strategy!r}")
    y, p = _validated(
        "reliability_table",
        y_true,
        probability,
        score_name="probability",
        probability=True,
        both_classes=False,
        extra=extra,
    )
    if strategy == "quantile":
        edges = np.percentile(p, np.linspace(0, 100, n_bins + 1))
    else:
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Same assignment as calibration_curve: the inner edges, searched from the left.
    bin_of = np.searchsorted(edges[1:-1], p)
    n = np.bincount(bin_of, minlength=n_bins)
    predicted = np.bincount(bin_of, weights=p, minlength=n_bins)
    positives = np.bincount(bin_of, weights=y, minlength=n_bins)
    kept = n > 0
    return pd.DataFrame(
        {
            "bin": np.flatnonzero(kept),
            "n": n[kept],
            "mean_predicted": predicted[kept] / n[kept],
            "observed_rate": positives[kept] / n[kept],
        }
    )


def gains_table(y_true: ArrayLike, score: ArrayLike, n_bins: int = 10) -> pd.DataFrame:
    """Positives, rate, lift and cumulative capture per score bin, highest scores first.

    Bin ``i`` (1-based) holds ranks ``ceil((i - 1) * n / n_bins)`` up to
    ``ceil(i * n / n_bins)``, so ``cumulative_capture`` of bin ``i`` equals
    ``capture_rate_at(y_true, score, i / n_bins)``. Ties are broken by row order.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome (0/1 or bool); both classes must be present.
    score : array-like of shape (n_samples,)
        Higher means more likely positive.
    n_bins : int, default=10
        Number of bins (10 gives deciles); at most ``n_samples``.

    Returns
    -------
    pandas.DataFrame
        ``n_bins`` rows: ``bin`` (1 = top scores), ``n``, ``positives``, ``rate``
        (positive rate in the bin), ``lift`` (rate over the overall positive
        rate) and ``cumulative_capture`` (share of all positives in this and
        higher bins).

    Raises
    ------
    ValueError
        Listing every problem with the arguments.
    """
    y, s = _validated("gains_table", y_true, score, extra=_bins_problems(n_bins))
    if n_bins > len(y):
        raise ValueError(
            f"The 'n_bins' argument of gains_table must be at most the number of samples "
            f"({len(y)}) so that no bin is empty; got {n_bins}."
        )
    ranked = y[_ranking(s)]
    bounds = [_n_targeted(i / n_bins, len(y)) for i in range(1, n_bins + 1)]
    groups = np.split(ranked, bounds[:-1])
    n = np.array([len(g) for g in groups])
    positives = np.array([int(g.sum()) for g in groups])
    rate = positives / n
    return pd.DataFrame(
        {
            "bin": np.arange(1, n_bins + 1),
            "n": n,
            "positives": positives,
            "rate": rate,
            "lift": rate / y.mean(),
            "cumulative_capture": np.cumsum(positives) / y.sum(),
        }
    )


def shap_importance(contributions: ArrayLike, feature_names: Sequence[str]) -> pd.DataFrame:
    """Global feature importance: the mean absolute SHAP value of each feature.

    Parameters
    ----------
    contributions : array-like of shape (n_samples, n_features)
        SHAP values, one column per feature (without LightGBM's trailing
        expected-value column).
    feature_names : sequence of str of length n_features
        Column names of ``contributions``.

    Returns
    -------
    pandas.DataFrame
        ``feature`` and ``mean_abs_shap``, most important first (ties keep the
        order of ``feature_names``).

    Raises
    ------
    ValueError
        If ``contributions`` is not 2-D or its columns do not match ``feature_names``.
    """
    values = np.asarray(contributions, dtype=float)
    names = list(feature_names)
    if values.ndim != 2:
        raise ValueError(
            "The 'contributions' argument of shap_importance must be 2-D of shape "
            f"(n_samples, n_features); got shape {values.shape}."
        )
    if values.shape[1] != len(names):
        hint = (
            " LightGBM's pred_contrib output ends with an expected-value column; "
            "pass contributions[:, :-1]."
            if values.shape[1] == len(names) + 1
            else ""
        )
        raise ValueError(
            f"'contributions' has {values.shape[1]} columns but 'feature_names' has "
            f"{len(names)} names; they must match.{hint}"
        )
    importance = pd.DataFrame({"feature": names, "mean_abs_shap": np.abs(values).mean(axis=0)})
    return importance.sort_values("mean_abs_shap", ascending=False, kind="stable").reset_index(
        drop=True
    )
