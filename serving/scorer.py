"""Scores of one chunk of customers: probabilities, uplift, value and reasons.

Pure: a frame of features in, a frame of scores out, so the job can feed it
chunks of any size and memory stays flat as the customer base grows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from upseg.models.clv.baseline import carried_forward_spend
from upseg.models.encoding import recoded_categories
from upseg.models.explain import top_drivers
from upseg.serving.champions import LoadedModel

if TYPE_CHECKING:
    from upseg.serving.uplift_source import UpliftFallback

__all__ = [
    "CLUSTER_COLUMNS",
    "ChunkMatrices",
    "CLV_FALLBACK",
    "LIFETIME_VALUE_COLUMNS",
    "SCORE_COLUMNS",
    "behavioural_cluster",
    "expected_incremental_value",
    "lifetime_value",
    "mean_order_value",
    "reasons",
    "score_chunk",
]

#: Columns :func:`score_chunk` adds, in order (plus ``uplift_<variant>`` per variant).
SCORE_COLUMNS = (
    "churn_probability",
    "purchase_probability",
    "uplift",
    "best_variant",
    "expected_incremental_value",
    "reasons",
    "source_of_uplift",
    "evidence_of_uplift",
    "clv",
    "p_alive",
    "source_of_clv",
    "cluster",
    "cluster_name",
)
#: What :func:`behavioural_cluster` gives each customer.
CLUSTER_COLUMNS = ("cluster", "cluster_name")
#: What :func:`lifetime_value` gives each customer.
LIFETIME_VALUE_COLUMNS = ("clv", "p_alive", "source_of_clv")
#: ``source_of_clv`` without a ``clv`` champion: last year's spend, discounted over a year at
#: ``train clv``'s default rate (the naive baseline every CLV model is gated against).
CLV_FALLBACK = "last_year_spend"


class ChunkMatrices:
    """The float matrices the models read for one chunk, each encoded once.

    Models that read the same columns with the same categories (churn,
    propensity and uplift usually do) share one matrix; calling with a model
    that has no ``encode`` method is an error.
    """

    def __init__(self, features: pd.DataFrame) -> None:
        self.features = features
        self._encoded: dict[tuple, np.ndarray] = {}

    def __call__(self, model: Any) -> np.ndarray:
        """``model.encode(features)``, computed at the first call for that encoding.

        A model reading the same columns with other categories (trained on
        other customers, it may not know every label) reuses the numbers and
        codes only its categorical columns again.
        """
        names = tuple(model.feature_names_in_)
        key = (names, tuple(sorted((c, tuple(v)) for c, v in model.categories_.items())))
        if key not in self._encoded:
            same_columns = next(
                (
                    matrix
                    for (other, cats), matrix in self._encoded.items()
                    if other == names and {c for c, _ in cats} == set(model.categories_)
                ),
                None,
            )
            self._encoded[key] = (
                model.encode(self.features)
                if same_columns is None
                else recoded_categories(same_columns, self.features, names, model.categories_)
            )
        return self._encoded[key]


def expected_incremental_value(
    uplift: np.ndarray,
    order_value: np.ndarray,
    value_per_conversion: float | None,
    fill: float | None = None,
) -> np.ndarray:
    """Uplift × the value of a conversion: ``value_per_conversion`` when given, else the
    customer's own average order value; customers who never ordered get ``fill``, by
    default :func:`mean_order_value` of these ``order_value``.

    The batch scorer gives the whole base's mean as ``fill``, so that a customer's value
    does not depend on which chunk (or Spark partition) they were scored in.
    """
    if value_per_conversion is not None:
        return uplift * float(value_per_conversion)
    values = np.asarray(order_value, dtype=float)
    if fill is None:
        fill = mean_order_value(values)
    return uplift * np.where(np.isfinite(values), values, fill)


def mean_order_value(order_value: np.ndarray) -> float:
    """The mean of the finite values, summed exactly (``math.fsum``); 0.0 when there is none.

    An exact sum does not depend on the order of the values, so every engine and
    chunking gets the same bits.
    """
    import math

    values = np.asarray(order_value, dtype=float)
    known = values[np.isfinite(values)]
    return math.fsum(known) / len(known) if len(known) else 0.0


def lifetime_value(features: pd.DataFrame, models: Mapping[str, LoadedModel]) -> pd.DataFrame:
    """``clv``, ``p_alive`` and ``source_of_clv`` of every customer, on ``features``' index.

    From the ``clv`` champion when ``models`` has one (``source_of_clv`` ``model``);
    otherwise :data:`CLV_FALLBACK`: ``monetary_365d`` carried forward a year and
    discounted at 10%, with ``p_alive`` missing (no BG/NBD was fitted).
    """
    if "clv" in models:
        value = models["clv"].model.predict_frame(features)
        source = "model"
    else:
        spend = carried_forward_spend(features, horizon_days=365, discount_rate=0.1)
        value = pd.DataFrame({"clv": spend, "p_alive": np.nan}, index=features.index)
        source = CLV_FALLBACK
    return value.assign(source_of_clv=np.full(len(features), source, dtype=object))


def behavioural_cluster(features: pd.DataFrame, models: Mapping[str, LoadedModel]) -> pd.DataFrame:
    """``cluster`` (label, nullable integer) and ``cluster_name`` of every customer.

    From the ``clusters`` champion when ``models`` has one; otherwise both are
    missing, so that a policy rule on them matches nobody but ``is_null``.
    """
    if "clusters" in models:
        out = models["clusters"].model.predict_frame(features)
        return out.astype({"cluster": "Int64", "cluster_name": object})
    return pd.DataFrame(
        {
            "cluster": pd.array([pd.NA] * len(features), dtype="Int64"),
            "cluster_name": np.full(len(features), None, dtype=object),
        },
        index=features.index,
    )


def reasons(
    features: pd.DataFrame,
    models: Mapping[str, LoadedModel],
    rows: np.ndarray | None = None,
    *,
    reasons_from: str = "propensity",
    method: str = "hybrid",
    matrices: ChunkMatrices | None = None,
) -> pd.Series:
    """Top three drivers of ``reasons_from``'s score, for ``rows`` (a mask) or all.

    Exact TreeSHAP costs about a hundred times a prediction, so the scorer asks
    only for the customers a campaign acts on; the others get ``""``. The
    default ``method="hybrid"`` takes path attributions and exact TreeSHAP
    where the two strongest drivers are close
    (:func:`upseg.models.attributions.tree_contributions`); ``"exact"`` is
    TreeSHAP for every row. ``matrices`` reuses the chunk's encoding.
    """
    out = pd.Series("", index=features.index, dtype=object)
    explainer = models[reasons_from].model
    matrix = (matrices or ChunkMatrices(features))(explainer)
    chosen = np.ones(len(features), dtype=bool) if rows is None else np.asarray(rows, dtype=bool)
    if chosen.any():
        contributions = explainer.contributions(matrix[chosen], method=method)
        values = contributions.drop(columns="bias")
        out.iloc[np.flatnonzero(chosen)] = top_drivers(values.to_numpy(), list(values.columns))
    return out


def score_chunk(
    features: pd.DataFrame,
    models: Mapping[str, LoadedModel],
    *,
    value_per_conversion: float | None = None,
    reasons_from: str = "propensity",
    with_reasons: bool = True,
    uplift_fallback: UpliftFallback | None = None,
    reasons_method: str = "hybrid",
    matrices: ChunkMatrices | None = None,
    order_value_fill: float | None = None,
) -> pd.DataFrame:
    """Score one chunk of customers with the churn, propensity, uplift, CLV and clusters models.

    Parameters
    ----------
    features : pandas.DataFrame
        One row per customer: ``customer_id`` and the feature columns.
    models : mapping of str to LoadedModel
        :func:`serving.champions.load_models` output.
    value_per_conversion : float, optional
        Value of one incremental conversion; the customer's average order value
        when omitted.
    order_value_fill : float, optional
        The order value of customers who never ordered (the base's
        :func:`mean_order_value`); the chunk's own mean when omitted.
    reasons_from : {"propensity", "churn"}
        Whose TreeSHAP contributions give the ``reasons``.
    with_reasons : bool, default True
        False leaves ``reasons`` empty, for :func:`reasons` to fill for chosen rows.
    uplift_fallback : UpliftFallback, optional
        The uplift of every customer when ``models`` has no ``uplift``
        (:func:`upseg.serving.uplift_source.fallback_uplift`); ignored when it has.
    reasons_method : {"hybrid", "exact"}, default "hybrid"
        How :func:`reasons` attributes the score.
    matrices : ChunkMatrices, optional
        The chunk's encodings, to share them with a later :func:`reasons` call.

    Returns
    -------
    pandas.DataFrame
        :data:`SCORE_COLUMNS` and ``uplift_<variant>``, on the index of ``features``;
        ``source_of_uplift`` is ``model``, or the fallback's source;
        ``evidence_of_uplift`` is the calibrated model's evidence of the sign
        (``positive``, ``uncertain``, ``negative``: a sleeping dog), the
        fallback's, or ``""`` for a model trained without calibration;
        ``clv``, ``p_alive`` and ``source_of_clv`` are :func:`lifetime_value`'s,
        ``cluster`` and ``cluster_name`` :func:`behavioural_cluster`'s.

    Raises
    ------
    ValueError
        When ``models`` has no ``uplift`` and no ``uplift_fallback`` is given.
    """
    matrices = matrices or ChunkMatrices(features)
    churn = models["churn"].model.predict_proba(matrices(models["churn"].model))[:, 1]
    purchase = models["propensity"].model.predict_proba(matrices(models["propensity"].model))[:, 1]
    if "uplift" in models:
        uplift_model = models["uplift"].model
        uplift = uplift_model.predict_frame(matrices(uplift_model)).set_axis(features.index)
        source = "model"
    elif uplift_fallback is not None:
        uplift, source = uplift_fallback.predict_frame(features), uplift_fallback.source
    else:
        raise ValueError("score_chunk: 'models' has no 'uplift' and no 'uplift_fallback' is given")
    order_value = (
        features["avg_order_value"].to_numpy(dtype=float, na_value=np.nan)
        if "avg_order_value" in features
        else np.full(len(features), np.nan)
    )
    scores = pd.DataFrame(
        {
            "churn_probability": churn,
            "purchase_probability": purchase,
            "uplift": uplift["uplift"].to_numpy(),
            "best_variant": uplift["best_variant"].to_numpy(),
            "expected_incremental_value": expected_incremental_value(
                uplift["uplift"].to_numpy(), order_value, value_per_conversion, order_value_fill
            ),
            "reasons": reasons(
                features,
                models,
                reasons_from=reasons_from,
                method=reasons_method,
                matrices=matrices,
            )
            if with_reasons
            else "",
            "source_of_uplift": np.full(len(features), source, dtype=object),
            "evidence_of_uplift": uplift["evidence_of_uplift"].to_numpy(dtype=object)
            if "evidence_of_uplift" in uplift
            else np.full(len(features), "", dtype=object),
        },
        index=features.index,
    )
    variants = [c for c in uplift.columns if c.startswith("uplift_")]
    return pd.concat(
        [
            scores,
            lifetime_value(features, models),
            behavioural_cluster(features, models),
            uplift[variants],
        ],
        axis=1,
    )
