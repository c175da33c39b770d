"""The action of every customer, by the precedence of :mod:`upseg.serving.audience`, and the
expected economics of a campaign.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from upseg.serving.audience.suppression import SUPPRESSION_REASONS, _id_text

__all__ = [
    "ACTIONS",
    "POLICY_ACTIONS",
    "campaign_economics",
    "choose_actions",
    "expected_value",
    "incremental_profit",
]

ACTIONS = ("send", "holdout", "suppress", "skip")
POLICY_ACTIONS = ("send", "skip")


# --- economics ---------------------------------------------------------------------------------


def expected_value(uplift: ArrayLike, value_per_conversion: float) -> np.ndarray:
    """Expected incremental value of sending, ``uplift · value_per_conversion``, like ``uplift``."""
    return np.asarray(uplift, dtype=float) * float(value_per_conversion)


def incremental_profit(
    uplift: ArrayLike, value_per_conversion: float, cost_per_send: float
) -> np.ndarray:
    """Expected incremental profit of sending: ``uplift · value_per_conversion - cost_per_send``."""
    return expected_value(uplift, value_per_conversion) - float(cost_per_send)


def _economics(uplift: np.ndarray, value_per_conversion: float, cost_per_send: float) -> dict:
    """Customers, incremental conversions, revenue, cost and profit of sending to these."""
    conversions = float(uplift.sum())
    revenue = conversions * value_per_conversion
    cost = len(uplift) * cost_per_send
    return {
        "customers": len(uplift),
        "incremental_conversions": conversions,
        "incremental_revenue": revenue,
        "cost": cost,
        "incremental_profit": revenue - cost,
    }


def campaign_economics(
    frame: pd.DataFrame, value_per_conversion: float, cost_per_send: float
) -> dict[str, dict[str, float]]:
    """Expected incremental conversions, revenue, cost and profit of the audience and of everyone.

    These are the models' expectations (sums of predicted uplift), not measured
    lift: the holdout measures the lift after the campaign.

    Parameters
    ----------
    frame : pandas.DataFrame of shape (n_customers, n_columns)
        ``action`` (from :func:`choose_actions`) and ``uplift`` (predicted
        incremental conversion probability; for a continuous outcome such as
        revenue pass ``value_per_conversion=1``).
    value_per_conversion, cost_per_send : float
        Non-negative.

    Returns
    -------
    dict
        ``{"audience": {...}, "everyone": {...}}``, each with ``customers``,
        ``incremental_conversions``, ``incremental_revenue``, ``cost`` and
        ``incremental_profit``: ``audience`` is the customers whose action is
        ``send``; ``everyone`` is every customer not suppressed (what sending
        to all who may be e-mailed would give).
    """
    missing = [c for c in ("action", "uplift") if c not in frame.columns]
    if missing:
        raise ValueError(f"campaign_economics needs columns {missing}; got {list(frame.columns)}.")
    for name, number in (
        ("value_per_conversion", value_per_conversion),
        ("cost_per_send", cost_per_send),
    ):
        if not isinstance(number, Real) or not np.isfinite(number) or number < 0:
            raise ValueError(f"{name} must be a finite number of 0 or more; got {number!r}.")
    action = frame["action"].to_numpy()
    uplift = frame["uplift"].to_numpy(dtype=float)
    may_send = action != "suppress"
    if np.isnan(uplift[may_send]).any():
        raise ValueError(
            f"uplift is missing for {int(np.isnan(uplift[may_send]).sum())} customer(s) "
            "who are not suppressed."
        )
    value, cost = float(value_per_conversion), float(cost_per_send)
    return {
        "audience": _economics(uplift[action == "send"], value, cost),
        "everyone": _economics(uplift[may_send], value, cost),
    }


# --- actions -----------------------------------------------------------------------------------


def _within_budget(
    ids: pd.Series, value: np.ndarray, targeted: np.ndarray, holdout: np.ndarray, budget: int
) -> np.ndarray:
    """Targeted customers ranked at or above the ``budget``-th targeted non-holdout customer.

    Ranking is by ``value`` descending, then customer id (as a string)
    ascending; only the ties at the cut are sorted, so 5 million rows take
    a partition, not a sort.
    """
    contenders = np.flatnonzero(targeted & ~holdout)
    if budget >= len(contenders):
        return targeted.copy()
    if budget == 0:
        return np.zeros(len(value), dtype=bool)
    v = value[contenders]
    cut = np.partition(v, len(v) - budget)[len(v) - budget]
    above = value > cut
    needed = budget - int((v > cut).sum())
    tied_contenders = contenders[v == cut]
    last_id = np.sort(ids.iloc[tied_contenders].to_numpy(dtype=object))[needed - 1]
    tied = np.flatnonzero(targeted & (value == cut))
    at_cut = np.zeros(len(value), dtype=bool)
    at_cut[tied] = ids.iloc[tied].to_numpy(dtype=object) <= last_id
    return targeted & (above | at_cut)


def choose_actions(
    customer_ids: pd.Series,
    suppression: pd.Series,
    policy: pd.Series,
    holdout: ArrayLike,
    incremental_value: ArrayLike,
    *,
    policy_reason: pd.Series | None = None,
    budget: int | None = None,
    cost_per_send: float | None = None,
) -> pd.DataFrame:
    """The action of every customer and why, by the precedence in the module docstring.

    All inputs are aligned by position, not by index.

    Parameters
    ----------
    customer_ids : pandas.Series of shape (n_customers,)
        None missing; one row per customer is the caller's to guarantee (not
        checked: it would double the time of a 5-million-row run). The
        tie-break at the budget's cut: among equal values, ids in ascending
        string order come first.
    suppression : pandas.Series of str, shape (n_customers,)
        From :func:`suppression_reason`; ``""`` for customers who may be e-mailed.
    policy : pandas.Series of str, shape (n_customers,)
        ``"send"`` or ``"skip"``: what the targeting policy would do.
    holdout : array-like of bool, shape (n_customers,)
        From :func:`holdout_mask`; only matters for customers who would be sent.
    incremental_value : array-like of float, shape (n_customers,)
        Expected incremental value of sending (:func:`expected_value`, or the
        uplift itself without a value per conversion); ranks the budget and
        is compared with ``cost_per_send``. Must be finite wherever the policy
        would send to a customer who is not suppressed.
    policy_reason : pandas.Series of str, shape (n_customers,), optional
        Why the policy skips (e.g. ``"sleeping_dog"``); ``"policy"`` where not given.
    budget : int, optional
        At most this many ``send``; holdout customers do not count against it.
    cost_per_send : float, optional
        Only customers whose ``incremental_value`` exceeds it (positive expected
        incremental profit) are sent; in the currency of ``incremental_value``.

    Returns
    -------
    pandas.DataFrame of shape (n_customers, 2)
        Indexed like ``customer_ids``, both columns categorical (codes, so that
        millions of customers hold no string each): ``action`` (one of
        :data:`ACTIONS`) and ``reason`` — the suppression reason for
        ``suppress``; the policy's reason, ``"unprofitable"`` or ``"budget"``
        for ``skip``; ``""`` for ``send`` and ``holdout``.
    """
    ids = _id_text(customer_ids)
    n = len(ids)
    # Category codes, not a Python string per customer: 5 million rows stay a few MB each.
    suppression_labels = _labels(suppression)
    policy_labels = _labels(policy)
    holdout = np.asarray(holdout)
    value = np.asarray(incremental_value, dtype=float)
    reason_labels = (
        pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=["policy"])
        if policy_reason is None
        else _labels(policy_reason, missing="policy")
    )
    problems = [
        f"{name} has {shape[0] if shape else 0} rows, customer_ids {n}"
        for name, shape in (
            ("suppression", suppression_labels.shape),
            ("policy", policy_labels.shape),
            ("holdout", holdout.shape),
            ("incremental_value", value.shape),
            ("policy_reason", reason_labels.shape),
        )
        if shape != (n,)
    ]
    if problems:
        raise ValueError(f"{len(problems)} length mismatch(es): " + "; ".join(problems) + ".")
    if holdout.dtype != bool:
        raise ValueError(f"holdout must be a boolean array; got dtype {holdout.dtype}.")
    unknown = sorted(_present(policy_labels) - set(POLICY_ACTIONS))
    if unknown:
        raise ValueError(f"policy actions must be among {list(POLICY_ACTIONS)}; got {unknown}.")
    unknown = sorted(_present(suppression_labels) - {"", *SUPPRESSION_REASONS})
    if unknown:
        raise ValueError(
            f"suppression reasons must be '' or among {list(SUPPRESSION_REASONS)}; got {unknown}."
        )
    if budget is not None and (
        not isinstance(budget, Integral) or isinstance(budget, bool) or budget < 0
    ):
        raise ValueError(f"budget must be an integer of 0 or more; got {budget!r}.")
    if cost_per_send is not None and (
        not isinstance(cost_per_send, Real) or not np.isfinite(cost_per_send) or cost_per_send < 0
    ):
        raise ValueError(
            f"cost_per_send must be a finite number of 0 or more; got {cost_per_send!r}."
        )

    suppressed = _is(suppression_labels, SUPPRESSION_REASONS)
    targeted = ~suppressed & _is(policy_labels, ("send",))
    # Reasons as codes into one list of labels: "", the suppression reasons, the policy's,
    # then the two decided here.
    labels = list(
        dict.fromkeys(
            [
                "",
                *suppression_labels.categories,
                *reason_labels.categories,
                "unprofitable",
                "budget",
            ]
        )
    )
    position = {label: i for i, label in enumerate(labels)}
    reason = np.where(
        suppressed,
        _recoded(suppression_labels, position),
        np.where(targeted, 0, _recoded(reason_labels, position)),
    )
    if budget is not None or cost_per_send is not None:
        unusable = targeted & ~np.isfinite(value)
        if unusable.any():
            raise ValueError(
                f"incremental_value must be finite for customers the policy would send; "
                f"{int(unusable.sum())} are not (first: {ids.iloc[np.flatnonzero(unusable)[0]]!r})."
            )
    if cost_per_send is not None:
        unprofitable = targeted & ~(value > cost_per_send)
        reason[unprofitable] = position["unprofitable"]
        targeted &= ~unprofitable
    if budget is not None:
        within = _within_budget(ids, value, targeted, holdout, int(budget))
        reason[targeted & ~within] = position["budget"]
        targeted = within
    action = np.where(suppressed, ACTIONS.index("suppress"), ACTIONS.index("skip")).astype(np.int8)
    action[targeted] = np.where(holdout[targeted], ACTIONS.index("holdout"), ACTIONS.index("send"))
    return pd.DataFrame(
        {
            "action": pd.Categorical.from_codes(action, categories=list(ACTIONS)),
            "reason": pd.Categorical.from_codes(reason, categories=labels),
        },
        index=pd.Series(customer_ids, copy=False).index,
    )


def _labels(values: ArrayLike, missing: str | None = None) -> pd.Categorical:
    """``values`` as a categorical of strings; missing values become ``missing`` when given."""
    series = pd.Series(values, copy=False)
    if not isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype("category")
    codes = series.cat.codes.to_numpy()
    categories = [str(c) for c in series.cat.categories]
    if missing is not None and (codes < 0).any():
        if missing not in categories:
            categories.append(missing)
        codes = np.where(codes < 0, categories.index(missing), codes)
    return pd.Categorical.from_codes(codes, categories=categories)


def _present(labels: pd.Categorical) -> set[str]:
    """The labels that occur, with ``"<missing>"`` for a missing value."""
    codes = np.unique(labels.codes)
    return {"<missing>" if c < 0 else str(labels.categories[c]) for c in codes}


def _is(labels: pd.Categorical, accepted: tuple[str, ...]) -> np.ndarray:
    """Whether each label is one of ``accepted``."""
    wanted = [i for i, c in enumerate(labels.categories) if c in accepted]
    return np.isin(labels.codes, wanted)


def _recoded(labels: pd.Categorical, position: dict[str, int]) -> np.ndarray:
    """Each label's position in another list of labels (every label must be there)."""
    lookup = np.array([position[c] for c in labels.categories], dtype=np.int64)
    return lookup[labels.codes] if len(lookup) else np.zeros(len(labels), dtype=np.int64)
