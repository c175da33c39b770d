"""The policy engine: segments and actions of scored customers, the value cuts, the digest.

Vectorised over customers; the only Python loop is over a policy's rules.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from upseg.serving.policy._checks import _Problems
from upseg.serving.policy.rules import _scalar_kind
from upseg.serving.policy.schema import (
    _ORDERING,
    ACTIONS,
    CHURN_RISKS,
    QUADRANTS,
    RULE_ACTIONS,
    SCORE_COLUMNS,
    VALUE_TIERS,
    Condition,
    Policy,
    PolicyError,
    ValueTier,
    _column_problems,
)

__all__ = ["assign_segments", "policy_digest", "share_cut", "value_cuts"]

_PANDAS_OP = {"eq": "eq", "ne": "ne", "lt": "lt", "lte": "le", "gt": "gt", "gte": "ge"}
# share × n is floored; without the nudge 0.29 × 100 floors to 28.
_SHARE_EPS = 1e-9


def assign_segments(
    frame: pd.DataFrame,
    policy: Policy,
    *,
    value_cuts: tuple[float, float, float] | None = None,
) -> pd.DataFrame:
    """The priority segment and action of every scored customer.

    Vectorised over rows; the only Python loop is over the policy's rules.

    Parameters
    ----------
    frame : DataFrame of shape (n_customers, n_columns)
        The scorer's output: :data:`SCORE_COLUMNS`, ``value_tier.column``
        and every column a rule tests.
    policy : Policy
    value_cuts : tuple of 3 floats, optional
        The values a customer must exceed to be VIP, high and medium. By
        default they are :func:`value_cuts` of this frame; a scorer that
        segments the customer base in chunks computes them over the whole
        base once and passes them to every chunk.

    Returns
    -------
    DataFrame of shape (n_customers, 7)
        :data:`OUTPUT_COLUMNS` on ``frame``'s index, all categorical:
        ``priority_segment`` (the matched rule's segment, else the built-in
        ``"<quadrant> · <risk> churn · <tier>"``), ``uplift_quadrant``,
        ``churn_risk``, ``value_tier``, ``policy_action`` (``send``/``skip``:
        the rule's, the quadrant's when no rule matched or the rule says
        ``uplift``; a sleeping dog is always ``skip``), ``policy_reason`` (why
        ``skip``: ``sleeping_dog``, the quadrant, or ``rule:<segment>`` for a
        rule that says ``skip``; ``""`` for ``send``) and ``matched_rule``
        (``""`` when no rule matched).

    Raises
    ------
    ValueError
        When a score column is missing, not numeric, or has missing values
        in ``uplift`` or ``purchase_probability``; when ``value_cuts`` is not
        three non-increasing numbers.
    PolicyError
        When the value column or a column a rule tests is absent, or a rule's
        value does not suit its column's type.
    """
    absent = [c for c in SCORE_COLUMNS if c not in frame.columns]
    if absent:
        raise ValueError(
            f"assign_segments needs the scorer's columns {', '.join(SCORE_COLUMNS)}; "
            f"missing {', '.join(absent)}"
        )
    problems = _column_problems(policy, list(map(str, frame.columns)))
    if problems:
        raise PolicyError(problems, policy.source)

    uplift = _scores(frame, "uplift", allow_missing=False)
    purchase = _scores(frame, "purchase_probability", allow_missing=False)
    churn = _scores(frame, "churn_probability", allow_missing=True)
    value = _scores(frame, policy.value_tier.column, allow_missing=True)

    t = policy.uplift
    sleeping = _sleeping_dogs(frame, uplift, t.sleeping_dog_max)
    quadrant = np.select(
        [sleeping, uplift >= t.persuadable_min, purchase >= t.sure_thing_min_purchase],
        [3, 0, 1],
        default=2,
    ).astype(np.int8)
    c = policy.churn_risk
    risk = np.select(
        [churn >= c.high_min, churn >= c.medium_min, churn < c.medium_min], [0, 1, 2], default=3
    ).astype(np.int8)  # NaN fails every comparison: "unknown"
    cuts = _value_cuts(value, policy.value_tier) if value_cuts is None else _checked(value_cuts)
    positive = value > 0  # NaN fails every comparison: "low"
    in_tier = [positive & (value > cut) for cut in cuts]
    tier = np.select(in_tier, [0, 1, 2], default=3).astype(np.int8)

    def categorical(codes: np.ndarray, names: Sequence[str]) -> pd.Series:
        return pd.Series(pd.Categorical.from_codes(codes, categories=names), index=frame.index)

    derived = {
        "uplift_quadrant": categorical(quadrant, QUADRANTS),
        "churn_risk": categorical(risk, CHURN_RISKS),
        "value_tier": categorical(tier, VALUE_TIERS),
    }
    matched = _first_matching_rule(frame, derived, policy)
    ruled = matched >= 0

    skip = ACTIONS.index("skip")
    by_quadrant = np.array([ACTIONS.index(getattr(policy.actions, q)) for q in QUADRANTS])
    action = by_quadrant[quadrant].astype(np.int8)
    # A rule that says "uplift" keeps the quadrant's action, and its reason.
    decides = ruled.copy()
    if policy.rules:
        # RULE_ACTIONS starts with ACTIONS, so a rule's send or skip keeps its code.
        by_rule = np.array([RULE_ACTIONS.index(r.action) for r in policy.rules], dtype=np.int8)
        rule_action = by_rule[np.maximum(matched, 0)]
        decides &= rule_action != RULE_ACTIONS.index("uplift")
        action[decides] = rule_action[decides]
    action[sleeping] = skip  # whatever a rule says

    # Reasons: "" (send), then the quadrants, then "rule:<segment>" per rule.
    reason = np.where(decides, 1 + len(QUADRANTS) + matched, 1 + quadrant)
    reason[sleeping] = 1 + QUADRANTS.index("sleeping_dog")
    reason[action != skip] = 0
    n_rules = len(policy.rules)
    grid = (quadrant * len(CHURN_RISKS) + risk) * len(VALUE_TIERS) + tier
    segment = np.where(ruled, matched, n_rules + grid)
    return pd.DataFrame(
        {
            "priority_segment": categorical(segment, policy.segment_names),
            **derived,
            "policy_action": categorical(action, ACTIONS),
            "policy_reason": categorical(
                reason, ["", *QUADRANTS, *(f"rule:{r.segment}" for r in policy.rules)]
            ),
            "matched_rule": categorical(matched + 1, ["", *(r.segment for r in policy.rules)]),
        },
        index=frame.index,
    )


def _sleeping_dogs(frame: pd.DataFrame, uplift: np.ndarray, sleeping_dog_max: float) -> np.ndarray:
    """Who is a sleeping dog: on evidence where the uplift carries it, else by the threshold.

    A calibrated uplift model says per customer whether the e-mail's effect on
    their group was credibly negative (``evidence_of_uplift == "negative"``);
    only those are sleeping dogs, whatever their uplift. Where the column is
    absent or ``""`` (a model trained without calibration), ``uplift <=
    sleeping_dog_max`` decides, as before.
    """
    by_threshold = uplift <= sleeping_dog_max
    if "evidence_of_uplift" not in frame:
        return by_threshold
    evidence = frame["evidence_of_uplift"].astype("string").fillna("").to_numpy(dtype=object)
    return np.where(evidence == "", by_threshold, evidence == "negative")


def _scores(frame: pd.DataFrame, column: str, *, allow_missing: bool) -> np.ndarray:
    """``frame[column]`` as float64; refuses non-numbers, and missing values unless allowed."""
    series = frame[column]
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        raise ValueError(
            f"assign_segments: column {column!r} must be numeric; got dtype {series.dtype}"
        )
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    if not allow_missing:
        n_missing = int(np.isnan(values).sum())
        if n_missing:
            raise ValueError(
                f"assign_segments: column {column!r} must be scored for every customer; "
                f"got {n_missing} missing of {len(values)}"
            )
    return values


def share_cut(values: ArrayLike, share: float) -> float:
    """The value a customer must exceed to be in the top ``share``, never more.

    With n customers (missing values included), k = floor(share × n) may be
    in. The cut is the (k+1)-th largest positive value, so a group tied at the
    cut is left out whole; 0 when at most k values are positive; +inf when k
    is 0. In SQL: ``SELECT v FROM t WHERE v > 0 ORDER BY v DESC LIMIT 1
    OFFSET k``, or 0 when that returns no row.

    Parameters
    ----------
    values : array-like of shape (n_customers,)
        Value per customer, e.g. ``clv``; NaN for unknown.
    share : float
        In (0, 1).
    """
    values = np.asarray(values, dtype=np.float64)
    k = math.floor(share * len(values) + _SHARE_EPS)
    positive = values[values > 0]
    if k == 0:
        return math.inf
    if positive.size <= k:
        return 0.0
    m = positive.size - k - 1  # ascending position of the (k+1)-th largest
    return float(np.partition(positive, m)[m])


def value_cuts(values: ArrayLike, tier: ValueTier) -> tuple[float, float, float]:
    """The values a customer must exceed to be VIP, high and medium; below all three: low.

    With ``tier.shares``, each cut is :func:`share_cut` of its cumulative
    share: the top share, never more, so customers tied at a cut fall whole
    into the lower tier, and only values above zero count (missing or at most
    0 is ``low``). With ``tier.amounts``, the amounts as given.

    Parameters
    ----------
    values : array-like of shape (n_customers,)
        ``tier.column`` of every scored customer; NaN for unknown. Not read
        for amounts.
    tier : ValueTier
    """
    if tier.amounts is not None:
        return tier.amounts
    assert tier.shares is not None
    vip, high, medium = (share_cut(values, share) for share in tier.shares)
    return vip, high, medium


# assign_segments' keyword of the same name hides the function inside it.
_value_cuts = value_cuts


def _checked(cuts: Sequence[float]) -> tuple[float, float, float]:
    """Cuts given to :func:`assign_segments`: three numbers, none below the next."""
    values = [float(c) for c in cuts]
    if len(values) != 3 or not values[0] >= values[1] >= values[2]:  # NaN fails too
        raise ValueError(
            "assign_segments: value_cuts must be the VIP, high and medium cuts, "
            f"non-increasing numbers; got {tuple(cuts)!r}"
        )
    return values[0], values[1], values[2]


def _first_matching_rule(
    frame: pd.DataFrame, derived: Mapping[str, pd.Series], policy: Policy
) -> np.ndarray:
    """Index of the first rule each row matches, -1 for none."""

    def column(name: str) -> pd.Series:
        return derived[name] if name in derived else frame[name]

    problems = _Problems(policy.source)
    for i, rule in enumerate(policy.rules):
        for cond in rule.conditions:
            _check_operand_type(
                column(cond.column), cond, f"rules[{i}].when.{cond.column}", problems
            )
    if problems.lines:
        raise PolicyError(problems.lines, policy.source)

    matched = np.full(len(frame), -1, dtype=np.int32)
    unmatched = np.ones(len(frame), dtype=bool)
    for i, rule in enumerate(policy.rules):
        mask = unmatched.copy()
        for cond in rule.conditions:
            mask &= _condition_mask(column(cond.column), cond)
        matched[mask] = i
        unmatched &= ~mask
    return matched


def _column_kind(series: pd.Series) -> str:
    """'number', 'string', 'category', 'datetime' or 'other' (object: not checked)."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.StringDtype):
        return "string"
    return "other"


def _check_operand_type(series: pd.Series, cond: Condition, path: str, p: _Problems) -> None:
    """Add a problem when a rule's value cannot be compared with its column's values."""
    if cond.op in ("is_null", "not_null"):
        return
    kind = _column_kind(series)
    holds = f"column holds {kind} values (dtype {series.dtype})"
    if kind == "datetime":
        p.add(f"{path}.{cond.op}", f"the {holds}", "is_null or not_null", cond.op)
    elif cond.op in _ORDERING and kind != "number":
        p.add(
            f"{path}.{cond.op}",
            f"the operator compares numbers but the {holds}",
            "a numeric column, or one of eq, ne, in, not_in, is_null, not_null",
            cond.op,
        )
    elif kind == "category":
        categories = series.cat.categories
        inner = "number" if pd.api.types.is_numeric_dtype(categories.dtype) else "string"
        _check_values(cond, inner, f"{path}.{cond.op}", f"the column holds {inner} categories", p)
    elif kind in ("number", "string"):
        _check_values(cond, kind, f"{path}.{cond.op}", f"the {holds}", p)


def _check_values(cond: Condition, kind: str, path: str, what: str, p: _Problems) -> None:
    """Add a problem when a condition's values are not all of the column's ``kind``."""
    values = cond.value if isinstance(cond.value, tuple) else (cond.value,)
    if any(_scalar_kind(v) != kind for v in values):
        expected = "a number or boolean" if kind == "number" else "a string (quote it in YAML)"
        p.add(path, what, expected, list(values) if isinstance(cond.value, tuple) else cond.value)


def _condition_mask(series: pd.Series, cond: Condition) -> np.ndarray:
    """Rows where the condition holds; a missing value never matches except is_null."""
    if cond.op == "is_null":
        return series.isna().to_numpy()
    present = series.notna().to_numpy()
    if cond.op == "not_null":
        return present
    if cond.op == "in":
        hit = series.isin(list(cond.value))
    elif cond.op == "not_in":
        hit = ~series.isin(list(cond.value))
    else:
        hit = getattr(series, _PANDAS_OP[cond.op])(cond.value)
    return hit.to_numpy(dtype=bool, na_value=False) & present


def policy_digest(policy: Policy) -> str:
    """SHA-256 of the normalised policy: comments, key order and file name do not change it."""
    text = json.dumps(policy.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
