"""An uplift model on held-out customers: its scores, metrics, and what the gate reads from them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from upseg.models.uplift.metrics import VariantMetrics, best_variant_metrics

__all__ = ["champion_mismatch", "evaluate_uplift", "unproven_reason"]


def evaluate_uplift(
    model: Any,
    test: pd.DataFrame,
    *,
    variants: Sequence[str],
    control: str,
    n_boot: int,
    seed: int,
) -> tuple[pd.DataFrame, VariantMetrics]:
    """The model's scores of ``test`` and their per-variant and policy metrics.

    Parameters
    ----------
    model : UpliftModel
        Fitted; scores every one of ``variants``.
    test : pandas.DataFrame
        Held-out customers: the model's features, ``arm`` and ``outcome``.
    variants : sequence of str
        Treated arms, in the order of the metrics' rows.
    control : str
        The control arm.
    n_boot : int
        Resamples of each variant's Qini interval.
    seed : int
        Seed of the bootstraps.

    Returns
    -------
    scores : pandas.DataFrame
        :meth:`UpliftModel.predict_frame` of ``test``.
    metrics : VariantMetrics
        :func:`models.uplift.metrics.best_variant_metrics` of these scores.
    """
    scores = model.predict_frame(test, raw=True)
    result = best_variant_metrics(
        test["outcome"].to_numpy(),
        test["arm"].astype(str).to_numpy(),
        scores[[f"uplift_{v}" for v in variants]].set_axis(list(variants), axis=1),
        control,
        n_boot=n_boot,
        random_state=seed,
    )
    return scores, result


def unproven_reason(per_variant: pd.DataFrame) -> str | None:
    """Why the model has not shown it targets better than random, or ``None`` if it has.

    It has if at least one variant's Qini interval lies above zero
    (``beats_random`` of :func:`models.uplift.metrics.uplift_metrics`).
    """
    if (per_variant["beats_random"] > 0).any():
        return None
    return (
        "no variant's Qini interval lies above zero, so the model has not shown it targets "
        "better than random"
    )


def champion_mismatch(
    model: Any, *, variants: Sequence[str], kind: str, outcome: str
) -> str | None:
    """Why a champion uplift model cannot be compared on these arms and outcome, or ``None``.

    Parameters
    ----------
    model : UpliftModel
        The loaded champion.
    variants : sequence of str
        The challenger's treated arms.
    kind : {"binary", "continuous"}
        The challenger's kind of outcome.
    outcome : str
        The challenger's outcome column.
    """
    trained_on = getattr(model, "columns_", {}).get("outcomes", [None])[0]
    if tuple(model.variants_) != tuple(variants) or model.outcome != kind or trained_on != outcome:
        return "was trained on other arms or outcome"
    return None
