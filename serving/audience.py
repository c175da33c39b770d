"""Who gets the e-mail: suppression, the holdout, the budget, and the action of every customer.

Pure, vectorised functions on arrays and frames (5 million customers take
seconds); the scorer wires them together and writes the audience file.

Actions and their precedence
----------------------------
Every customer gets exactly one action, decided in this order:

1. ``suppress`` — no opt-in, unsubscribed, hard bounce or complaint
   (:func:`suppression_reason`). Absolute: whatever the models say.
2. ``skip`` with the policy's reason — the policy would not send (a sleeping
   dog, a segment the campaign does not target, …).
3. ``skip`` with reason ``"unprofitable"`` — with a cost per send, a customer
   whose expected incremental value does not exceed it.
4. ``skip`` with reason ``"budget"`` — ranked below the budget's cut.
5. ``holdout`` — would be sent (passed 1–4) but the hash draw puts them in the
   control group.
6. ``send``.

Why the holdout is drawn above the budget cut
---------------------------------------------
The holdout exists to measure, per segment, the lift of *sending* against *not
sending* to the customers the campaign actually targets. That comparison is
unbiased only if the ``holdout`` customers and the ``send`` customers are two
random parts of the same population. So the budget's cut is a threshold on the
ranking that is applied to both alike:

* every customer the policy would send is ranked by expected incremental
  value (ties: customer id ascending);
* the holdout draw (a hash of campaign and customer id, independent of the
  model) marks some of them; the others compete for the budget, and the cut
  falls at the ``budget``-th of them — so exactly ``budget`` customers are
  ``send`` and holdout customers never use up the budget;
* the marked customers ranked above the cut are ``holdout``, those below it
  are ``skip``/``"budget"`` exactly like their unmarked neighbours.

Within every segment, ``holdout`` and ``send`` are then the customers above
the same threshold, split by a draw that knows nothing about them, so the
difference in their outcomes estimates the effect of the e-mail on that
targeted group. The alternative — labelling every marked customer ``holdout``
whatever their rank — puts customers in the control group who would never have
been sent, and a naive ``holdout`` vs ``send`` comparison would mix the effect
of the e-mail with the difference between the top of the ranking and the
rest. The price: about ``budget · s / (1 - s)`` holdout customers for a
holdout share ``s``, rather than ``s`` of everyone eligible.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from pandas.api.types import infer_dtype, is_integer_dtype

__all__ = [
    "ACTIONS",
    "SUPPRESSION_REASONS",
    "campaign_economics",
    "choose_actions",
    "expected_value",
    "holdout_draw",
    "holdout_mask",
    "incremental_profit",
    "segment_change_counts",
    "segment_changes",
    "suppression_reason",
]

ACTIONS = ("send", "holdout", "suppress", "skip")
SUPPRESSION_REASONS = ("no_opt_in", "unsubscribed", "hard_bounce", "complaint")
POLICY_ACTIONS = ("send", "skip")

# Separates the campaign from the customer id in the hashed key; campaigns may not contain it,
# so the first one in a key ends the campaign and no two (campaign, id) pairs share a key.
_KEY_SEPARATOR = "\x1f"
# pandas' fixed SipHash key (the default of pd.util.hash_array), spelled out so a change of
# pandas' default cannot silently move every holdout.
_HASH_KEY = "0123456789123456"


# --- suppression -------------------------------------------------------------------------------


def _flag(frame: pd.DataFrame, column: str, *, missing: bool) -> np.ndarray:
    """``frame[column]`` as a numpy bool array, with missing values read as ``missing``."""
    try:
        values = frame[column].astype("boolean")
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"Column {column!r} must hold booleans (true/false, missing allowed); "
            f"got dtype {frame[column].dtype}: {error}"
        ) from None
    return values.fillna(missing).to_numpy(dtype=bool)


def _count(frame: pd.DataFrame, column: str) -> np.ndarray:
    """``frame[column]`` as floats, a missing column or value counting as 0."""
    if column not in frame.columns:
        return np.zeros(len(frame))
    try:
        values = pd.to_numeric(frame[column], errors="raise")
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"Column {column!r} must hold counts; got dtype {frame[column].dtype}: {error}"
        ) from None
    return values.astype("Float64").fillna(0.0).to_numpy(dtype=float)


def suppression_reason(frame: pd.DataFrame, *, hard_bounce_min: int) -> pd.Series:
    """Why each customer may not be e-mailed: the first reason that applies, or ``""``.

    Reasons, in precedence order:

    * ``no_opt_in`` — ``email_opt_in`` false or missing;
    * ``unsubscribed`` — ``is_unsubscribed`` true (unsubscribed strictly before
      as-of, see :func:`features.build.customer_attributes`); a missing value
      also suppresses, since consent must never be assumed;
    * ``hard_bounce`` — ``bounces_lifetime >= hard_bounce_min``;
    * ``complaint`` — ``complaints_lifetime > 0``.

    Parameters
    ----------
    frame : pandas.DataFrame of shape (n_customers, n_columns)
        Features with ``email_opt_in`` and ``is_unsubscribed``, and, when the
        source has e-mail events, ``bounces_lifetime`` and
        ``complaints_lifetime``. A source without e-mail events has neither
        column, and nobody is suppressed for bounces or complaints; a missing
        count counts as 0.
    hard_bounce_min : int
        Lifetime bounces from which an address counts as hard-bounced, 1 or more.

    Returns
    -------
    pandas.Series of str, shape (n_customers,)
        Indexed like ``frame``, named ``suppression_reason``.

    Raises
    ------
    ValueError
        Naming every required column ``frame`` lacks, or a bad ``hard_bounce_min``.
    """
    if (
        not isinstance(hard_bounce_min, Integral)
        or isinstance(hard_bounce_min, bool)
        or hard_bounce_min < 1
    ):
        raise ValueError(
            f"hard_bounce_min must be an integer of 1 or more; got {hard_bounce_min!r}."
        )
    missing = [c for c in ("email_opt_in", "is_unsubscribed") if c not in frame.columns]
    if missing:
        raise ValueError(
            f"Cannot decide suppression: the frame lacks {missing}; consent is never assumed. "
            f"Columns present: {list(frame.columns)}."
        )
    conditions = [
        ~_flag(frame, "email_opt_in", missing=False),
        _flag(frame, "is_unsubscribed", missing=True),
        _count(frame, "bounces_lifetime") >= hard_bounce_min,
        _count(frame, "complaints_lifetime") > 0,
    ]
    reasons = np.select(conditions, list(SUPPRESSION_REASONS), default="")
    return pd.Series(reasons, index=frame.index, name="suppression_reason", dtype=str)


# --- holdout -----------------------------------------------------------------------------------


def _id_text(customer_ids: pd.Series) -> pd.Series:
    """Customer ids as strings: integer ids as their decimal digits, like data validation does."""
    ids = pd.Series(customer_ids, copy=False)
    if ids.isna().any():
        raise ValueError(
            f"customer ids must not be missing; {int(ids.isna().sum())} of {len(ids)} are."
        )
    if is_integer_dtype(ids.dtype) or isinstance(ids.dtype, pd.StringDtype):
        return ids.astype(str)
    kind = infer_dtype(ids, skipna=False) if len(ids) else "empty"
    if ids.dtype == object and kind in ("string", "integer", "empty"):
        return ids.astype(str)
    raise ValueError(
        f"customer ids must be strings or integers; got dtype {ids.dtype} ({kind} values)."
    )


def holdout_draw(customer_ids: pd.Series, campaign: str) -> np.ndarray:
    """A uniform draw in [0, 1) per customer, fixed by the campaign and the customer id alone.

    The draw is SipHash-2-4 (key ``"0123456789123456"``, pandas' fixed key) of
    the UTF-8 bytes of ``campaign + "\\x1f" + customer_id``, mixed by pandas'
    splitmix64 finaliser (:func:`pandas.util.hash_array`), whose top 53 bits
    become the float. The algorithm is fixed and involves no process seed, so
    the draw is identical across runs, machines and Python versions, does not
    depend on the row order or on the other customers of the frame, and is
    independent between campaigns. ``tests/serving/test_audience.py`` checks it
    against a pure-Python implementation of the same algorithm, so a change
    in pandas would fail the tests rather than move every holdout.

    Parameters
    ----------
    customer_ids : pandas.Series of shape (n_customers,)
        Strings or integers (an integer id draws like its decimal string, as
        data validation turns integer ids into strings); none missing.
    campaign : str
        The campaign name; non-empty, without the character ``"\\x1f"``.

    Returns
    -------
    numpy.ndarray of float64, shape (n_customers,)
    """
    if not isinstance(campaign, str) or not campaign or _KEY_SEPARATOR in campaign:
        raise ValueError(
            f"campaign must be a non-empty string without the character '\\x1f'; got {campaign!r}."
        )
    keys = (campaign + _KEY_SEPARATOR) + _id_text(customer_ids)
    hashes = pd.util.hash_array(
        keys.to_numpy(dtype=object), encoding="utf8", hash_key=_HASH_KEY, categorize=False
    )
    return (hashes >> np.uint64(11)).astype(np.float64) * 2.0**-53


def holdout_mask(draw: ArrayLike, share: float | ArrayLike) -> np.ndarray:
    """Whether each customer is in the control group: ``draw < share``.

    Parameters
    ----------
    draw : array-like of shape (n_customers,)
        From :func:`holdout_draw`.
    share : float or array-like of shape (n_customers,)
        The control share in [0, 1]; an array gives each customer their
        segment's share (``segments.map(shares)``).

    Returns
    -------
    numpy.ndarray of bool, shape (n_customers,)
    """
    draw = np.asarray(draw, dtype=float)
    shares = np.asarray(share, dtype=float)
    if shares.ndim not in (0, 1) or (shares.ndim == 1 and shares.shape != draw.shape):
        raise ValueError(
            f"share must be a number or an array of shape {draw.shape}; got shape {shares.shape}."
        )
    bad = ~((shares >= 0.0) & (shares <= 1.0))  # also catches NaN
    if np.any(bad):
        raise ValueError(
            f"holdout share must be between 0 and 1; got {np.unique(shares[bad])[:5].tolist()}."
        )
    return draw < shares


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
        Indexed like ``customer_ids``: ``action`` (one of :data:`ACTIONS`) and
        ``reason`` — the suppression reason for ``suppress``; the policy's
        reason, ``"unprofitable"`` or ``"budget"`` for ``skip``; ``""`` for
        ``send`` and ``holdout``.
    """
    ids = _id_text(customer_ids)
    n = len(ids)
    suppression = pd.Series(suppression, copy=False).astype(str).to_numpy(dtype=object)
    policy_values = pd.Series(policy, copy=False).astype(str).to_numpy(dtype=object)
    holdout = np.asarray(holdout)
    value = np.asarray(incremental_value, dtype=float)
    reasons = (
        np.full(n, "policy", dtype=object)
        if policy_reason is None
        else pd.Series(policy_reason, copy=False)
        .astype("string")
        .fillna("policy")
        .to_numpy(dtype=object)
    )
    problems = [
        f"{name} has {len(array)} rows, customer_ids {n}"
        for name, array in (
            ("suppression", suppression),
            ("policy", policy_values),
            ("holdout", holdout),
            ("incremental_value", value),
            ("policy_reason", reasons),
        )
        if array.shape != (n,)
    ]
    if problems:
        raise ValueError(f"{len(problems)} length mismatch(es): " + "; ".join(problems) + ".")
    if holdout.dtype != bool:
        raise ValueError(f"holdout must be a boolean array; got dtype {holdout.dtype}.")
    unknown = sorted(set(pd.unique(policy_values)) - set(POLICY_ACTIONS))
    if unknown:
        raise ValueError(f"policy actions must be among {list(POLICY_ACTIONS)}; got {unknown}.")
    unknown = sorted(set(pd.unique(suppression)) - {"", *SUPPRESSION_REASONS})
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

    suppressed = suppression != ""
    targeted = ~suppressed & (policy_values == "send")
    action = np.where(suppressed, "suppress", "skip").astype(object)
    reason = np.where(suppressed, suppression, np.where(targeted, "", reasons)).astype(object)
    if budget is not None or cost_per_send is not None:
        unusable = targeted & ~np.isfinite(value)
        if unusable.any():
            raise ValueError(
                f"incremental_value must be finite for customers the policy would send; "
                f"{int(unusable.sum())} are not (first: {ids.iloc[np.flatnonzero(unusable)[0]]!r})."
            )
    if cost_per_send is not None:
        unprofitable = targeted & ~(value > cost_per_send)
        reason[unprofitable] = "unprofitable"
        targeted &= ~unprofitable
    if budget is not None:
        within = _within_budget(ids, value, targeted, holdout, int(budget))
        reason[targeted & ~within] = "budget"
        targeted = within
    action[targeted] = np.where(holdout[targeted], "holdout", "send")
    return pd.DataFrame(
        {"action": pd.Series(action, dtype=str), "reason": pd.Series(reason, dtype=str)}
    ).set_axis(pd.Series(customer_ids, copy=False).index)


# --- segment changes ---------------------------------------------------------------------------


def _segment_columns(frame: pd.DataFrame, which: str) -> tuple[pd.Series, pd.Series]:
    """Customer ids as strings and segments with ``""`` for none, checked."""
    missing = [c for c in ("customer_id", "priority_segment") if c not in frame.columns]
    if missing:
        raise ValueError(
            f"The {which} audience lacks column(s) {missing}; it needs customer_id and "
            f"priority_segment. Columns present: {list(frame.columns)}."
        )
    ids = _id_text(frame["customer_id"]).reset_index(drop=True)
    segments = frame["priority_segment"].astype("string").fillna("").astype(str)
    return ids, segments.reset_index(drop=True)


def _campaigns(frame: pd.DataFrame) -> list[str]:
    if "campaign" not in frame.columns:
        return []
    return sorted(frame["campaign"].dropna().astype(str).unique().tolist())


def segment_changes(
    previous: pd.DataFrame, current: pd.DataFrame, *, campaign: str | None = None
) -> pd.DataFrame:
    """Customers whose ``priority_segment`` changed since the previous run of the campaign.

    A missing or empty segment means "in no segment", exactly like a customer
    absent from the file: ``"" → X`` is ``entered``, ``X → ""`` is ``exited``,
    ``X → Y`` is ``moved``; customers with the same segment in both are left out.

    Parameters
    ----------
    previous, current : pandas.DataFrame
        Audience files with ``customer_id`` and ``priority_segment`` (each id
        once); an optional ``campaign`` column names the campaign.
    campaign : str, optional
        This run's campaign; defaults to ``current``'s ``campaign`` column.

    Returns
    -------
    pandas.DataFrame of shape (n_changes, 4)
        ``customer_id`` (str), ``previous_segment`` (``""`` for new
        customers), ``segment`` (``""`` for customers gone) and ``change`` in
        ``{"entered", "exited", "moved"}``, sorted by customer id.

    Raises
    ------
    ValueError
        If either file lacks a column, repeats an id, or ``previous`` is of
        another campaign.
    """
    if campaign is None:
        current_campaigns = _campaigns(current)
        campaign = current_campaigns[0] if len(current_campaigns) == 1 else None
    previous_campaigns = _campaigns(previous)
    if campaign is not None and previous_campaigns and previous_campaigns != [campaign]:
        raise ValueError(
            f"The previous audience file is of campaign(s) {previous_campaigns}, not of this "
            f"run's campaign {campaign!r}; segment entries and exits compare two runs of the "
            "same campaign."
        )
    before_ids, before_segments = _segment_columns(previous, "previous")
    after_ids, after_segments = _segment_columns(current, "current")
    # One integer per distinct customer and per segment ("" = none): the comparison is then
    # on integer arrays, which keeps 5 million customers to a few seconds.
    customer, customers = pd.factorize(pd.concat([before_ids, after_ids], ignore_index=True))
    in_before, in_after = customer[: len(before_ids)], customer[len(before_ids) :]
    for which, codes, ids in (
        ("previous", in_before, before_ids),
        ("current", in_after, after_ids),
    ):
        if np.bincount(codes, minlength=len(customers)).max(initial=0) > 1:
            repeated = ids[ids.duplicated()].unique()[:5].tolist()
            raise ValueError(f"The {which} audience repeats customer ids: {repeated}.")
    segments = (set(before_segments.unique()) | set(after_segments.unique())) - {""}
    names = pd.Index(["", *sorted(segments)])
    old = np.zeros(len(customers), dtype=np.int64)
    new = np.zeros(len(customers), dtype=np.int64)
    old[in_before] = names.get_indexer(before_segments)
    new[in_after] = names.get_indexer(after_segments)
    changed = np.flatnonzero(old != new)
    old, new = old[changed], new[changed]
    change = np.select([old == 0, new == 0], ["entered", "exited"], default="moved")
    labels = names.to_numpy(dtype=object)
    out = pd.DataFrame(
        {
            "customer_id": np.asarray(customers, dtype=object)[changed],
            "previous_segment": labels[old],
            "segment": labels[new],
            "change": change,
        }
    ).astype(str)
    return out.sort_values("customer_id", kind="stable", ignore_index=True)


def segment_change_counts(changes: pd.DataFrame) -> pd.DataFrame:
    """Per segment, how many customers entered it and how many left it.

    A ``moved`` customer counts as an entry into the new segment and an exit
    from the old one.

    Parameters
    ----------
    changes : pandas.DataFrame
        From :func:`segment_changes`.

    Returns
    -------
    pandas.DataFrame
        Index ``segment`` (sorted), columns ``entries`` and ``exits`` (int).
    """
    entries = changes.loc[changes["segment"] != "", "segment"].value_counts()
    exits = changes.loc[changes["previous_segment"] != "", "previous_segment"].value_counts()
    counts = pd.DataFrame({"entries": entries, "exits": exits}).fillna(0).astype(int)
    counts.index.name = "segment"
    return counts.sort_index()
