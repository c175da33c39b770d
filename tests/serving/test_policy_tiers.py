"""Value tiers, the ``uplift`` rule action and the default segments, worked out by hand."""

from __future__ import annotations

import math
import re
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from tests.serving.test_policy import patched
from upseg.serving.policy import (
    CHURN_RISKS,
    QUADRANTS,
    RULE_ACTIONS,
    VALUE_TIERS,
    PolicyError,
    ValueTier,
    assign_segments,
    builtin_segment_name,
    load_policy,
    parse_policy,
    share_cut,
    value_cuts,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "policy.md"
NAN = np.nan


def scored(value, **columns) -> pd.DataFrame:
    """Lost causes at low churn risk with the given ``clv``: only the value tier varies."""
    frame = pd.DataFrame({"uplift": 0.0, "purchase_probability": 0.1, "clv": value})
    return frame.assign(churn_probability=0.1, **columns)


def tiers_of(value, tier: ValueTier) -> list[str]:
    policy = parse_policy(patched({"value_tier": tier.to_dict(), "rules": []}), "tiers")
    return assign_segments(scored(value), policy)["value_tier"].astype(str).tolist()


# --------------------------------------------------------------------------- shares

# 20 customers, shares 5%, 20%, 50%: at most 1 VIP, 4 VIP or high, 10 VIP to medium.
# Positive values, largest first: 900, 900, 500, 400, 400, 400, 300, 200, 200, 100, 50,
# 50, 10, 10 (then 0, 0, 0, -5 and two missing, which count in the 20).
#   VIP: above the 2nd largest, 900: nobody, the two tied at 900 fall to high;
#   VIP or high: above the 5th, 400: 900, 900, 500;
#   VIP to medium: above the 11th, 50: 900 down to 100, so medium is 400 x 3, 300, 200 x 2, 100;
#   low: 50, 50, 10, 10, the zeros, -5 and the missing.
# fmt: off
VALUES = [900, 900, 500, 400, 400, 400, 300, 200, 200, 100,
          50,  50,  0,   0,   -5,  NAN, NAN, 10,  10,  0]
TIERS = ["high", "high", "high", "medium", "medium", "medium", "medium", "medium", "medium",
         "medium", "low", "low", "low", "low", "low", "low", "low", "low", "low", "low"]
# fmt: on
DEFAULT_SHARES = ValueTier("clv", shares=(0.05, 0.2, 0.5))


def test_shares_never_exceeded_ties_fall_whole_into_the_lower_tier():
    assert value_cuts(VALUES, DEFAULT_SHARES) == (900.0, 400.0, 50.0)
    assert tiers_of(VALUES, DEFAULT_SHARES) == TIERS


@pytest.mark.parametrize(
    ("values", "shares", "cuts", "tiers"),
    [
        # Fewer positive values than a share allows: each is in, zero and missing are not.
        # k = 1, 3, 6 of 10; two positive values: VIP above 20, then everything above 0.
        (
            [30, 20, 0, 0, NAN, NAN, NAN, NAN, NAN, -1],
            (0.1, 0.3, 0.6),
            (20.0, 0.0, 0.0),
            ["VIP", "high"] + ["low"] * 8,
        ),
        # k = floor(0.05 x 3) = 0 VIP, 0 VIP or high, 1 up to medium: above the 2nd largest.
        ([1.0, 2.0, 3.0], (0.05, 0.2, 0.5), (math.inf, math.inf, 2.0), ["low", "low", "medium"]),
        # Everyone tied: nobody can be in a tier without the whole group.
        ([5.0] * 10, (0.1, 0.5, 0.9), (5.0, 5.0, 5.0), ["low"] * 10),
    ],
    ids=["few-positive", "too-few-customers", "all-tied"],
)
def test_shares_at_the_edges(values, shares, cuts, tiers):
    tier = ValueTier("clv", shares=shares)
    assert value_cuts(values, tier) == cuts
    assert tiers_of(values, tier) == tiers


def test_a_share_of_100_customers_is_not_lost_to_rounding():
    # 0.29 x 100 is 28.999999999999996 in floating point: still 29 customers.
    assert share_cut(np.arange(1.0, 101.0), 0.29) == 71.0


def test_share_cuts_agree_with_the_sql_the_docs_give_and_keep_the_promise():
    """The cut is ``SELECT v ... WHERE v > 0 ORDER BY v DESC LIMIT 1 OFFSET k``, or 0."""
    rng = np.random.default_rng(7)
    n = 1000
    values = rng.integers(-20, 60, n).astype(float)  # many ties, zeros and negatives
    values[rng.uniform(size=n) < 0.1] = np.nan
    con = duckdb.connect()
    con.register("t", pd.DataFrame({"v": pd.Series(values).astype("Float64")}))  # NaN: NULL
    for share in (0.01, 0.05, 0.2, 0.37, 0.5, 0.9):
        k = math.floor(share * n)
        row = con.execute(
            f"SELECT v FROM t WHERE v > 0 ORDER BY v DESC LIMIT 1 OFFSET {k}"
        ).fetchone()
        assert share_cut(values, share) == (row[0] if row else 0.0), share

    tier = ValueTier("clv", shares=(0.05, 0.2, 0.5))
    got = pd.Series(tiers_of(values, tier))
    for i, share in enumerate(tier.shares):
        assert got.isin(VALUE_TIERS[: i + 1]).sum() <= math.floor(share * n)
    # Customers with the same value share a tier; missing and non-positive are low.
    by_value = pd.DataFrame({"v": values, "tier": got}).dropna()
    assert (by_value.groupby("v")["tier"].nunique() == 1).all()
    assert got[~(values > 0)].eq("low").all()


# --------------------------------------------------------------------------- amounts


def test_amounts_are_cuts_a_value_must_exceed():
    tier = ValueTier("clv", amounts=(1000.0, 300.0, 50.0))
    values = [1000.01, 1000, 300.5, 300, 50.5, 50, 0, NAN, -1, 5000]
    assert value_cuts(values, tier) == (1000.0, 300.0, 50.0)
    assert tiers_of(values, tier) == [
        "VIP", "high", "high", "medium", "medium", "low", "low", "low", "low", "VIP",
    ]  # fmt: skip


# --------------------------------------------------------------------------- cuts given


def test_cuts_from_the_whole_base_apply_to_every_chunk():
    policy = load_policy()
    frame = scored(np.arange(1.0, 101.0))  # 5, 20, 50 of 100: above 95, 80 and 50
    whole = assign_segments(frame, policy)["value_tier"].astype(str)
    cuts = value_cuts(frame["clv"], policy.value_tier)
    chunks = [frame.iloc[i : i + 15] for i in range(0, 100, 15)]
    shared = pd.concat(
        assign_segments(chunk, policy, value_cuts=cuts)["value_tier"] for chunk in chunks
    ).astype(str)
    alone = pd.concat(assign_segments(chunk, policy)["value_tier"] for chunk in chunks)
    assert cuts == (95.0, 80.0, 50.0)
    assert whole.value_counts().to_dict() == {"low": 50, "medium": 30, "high": 15, "VIP": 5}
    assert shared.equals(whole)
    assert not alone.astype(str).equals(whole)  # why the scorer passes the cuts


@pytest.mark.parametrize("cuts", [(1.0, 2.0, 3.0), (3.0, 2.0), (3.0, NAN, 1.0)])
def test_cuts_given_must_be_three_non_increasing_numbers(cuts):
    with pytest.raises(ValueError, match=r"value_cuts must be the VIP, high and medium cuts"):
        assign_segments(scored([1.0, 2.0]), load_policy(), value_cuts=cuts)


def test_a_frame_without_the_value_column_is_refused_naming_it():
    policy = load_policy()
    frame = scored([1.0]).drop(columns="clv")
    with pytest.raises(PolicyError) as info:
        assign_segments(frame, policy)
    assert info.value.problems == (
        f"{policy.source}: value_tier.column: no column 'clv' in the scored frame; expected "
        "one of the frame's 3 columns (uplift, purchase_probability, churn_probability); "
        "got 'clv'",
    )


# --------------------------------------------------------------------------- the uplift action


def test_a_rule_that_says_uplift_gives_each_customer_their_quadrants_action():
    rule = {"segment": "big", "when": {"clv": {"gt": 100}}, "action": "uplift"}
    frame = pd.DataFrame(
        {
            "uplift": [0.02, 0.0, 0.0, -0.02, 0.0],
            "purchase_probability": [0.1, 0.9, 0.1, 0.9, 0.9],
            "churn_probability": 0.1,
            "clv": [500.0, 500.0, 500.0, 500.0, 50.0],
        }
    )
    out = assign_segments(frame, parse_policy(patched({"rules": [rule]}), "u")).astype(str)
    assert out["uplift_quadrant"].tolist()[:4] == list(QUADRANTS)
    assert out["priority_segment"].tolist()[:4] == ["big"] * 4
    assert out["matched_rule"].tolist() == ["big"] * 4 + [""]
    assert out["policy_action"].tolist() == ["send", "skip", "skip", "skip", "skip"]
    # skipped for their quadrant, as in the grid; not rule:big
    assert out["policy_reason"].tolist() == ["", *QUADRANTS[1:], "sure_thing"]

    # The quadrant's action, whatever it is: here sure things are sent, in the rule too.
    policy = parse_policy(patched({"rules": [rule], "actions.sure_thing": "send"}), "u2")
    out = assign_segments(frame, policy).astype(str)
    assert out["policy_action"].tolist() == ["send", "send", "skip", "skip", "send"]
    assert out["policy_reason"].tolist() == ["", "", "lost_cause", "sleeping_dog", ""]

    # A rule that says skip names itself as the reason; one that says send spares no dog.
    for action, reasons in (
        ("skip", ["rule:big"] * 3 + ["sleeping_dog", "sure_thing"]),
        ("send", ["", "", "", "sleeping_dog", "sure_thing"]),
    ):
        policy = parse_policy(patched({"rules": [{**rule, "action": action}]}), action)
        assert assign_segments(frame, policy)["policy_reason"].astype(str).tolist() == reasons
    assert RULE_ACTIONS == ("send", "skip", "uplift")


# --------------------------------------------------------------------------- the default segments

# Every value tier and churn risk of the default policy: the segment and the action of a
# persuadable, a sure thing, a lost cause and a sleeping dog. "grid" is the built-in
# "<quadrant> · <risk> churn · <tier>". docs/policy.md has the same table.
# fmt: off
DEFAULT_SEGMENTS = {
    # tier     churn        persuadable         sure_thing       lost_cause       sleeping_dog
    ("VIP",    "high"):    ("protect/send",    "protect/skip",  "protect/skip",  "protect/skip"),
    ("VIP",    "medium"):  ("protect/send",    "protect/skip",  "protect/skip",  "protect/skip"),
    ("VIP",    "low"):     ("nurture/send",    "nurture/skip",  "nurture/skip",  "nurture/skip"),
    ("VIP",    "unknown"): ("nurture/send",    "nurture/skip",  "nurture/skip",  "nurture/skip"),
    ("high",   "high"):    ("protect/send",    "protect/skip",  "protect/skip",  "protect/skip"),
    ("high",   "medium"):  ("protect/send",    "protect/skip",  "protect/skip",  "protect/skip"),
    ("high",   "low"):     ("grow/send",       "grow/skip",     "grow/skip",     "grow/skip"),
    ("high",   "unknown"): ("grid/send",       "grid/skip",     "grid/skip",     "grid/skip"),
    ("medium", "high"):    ("reactivate/send", "grid/skip",     "grid/skip",     "grid/skip"),
    ("medium", "medium"):  ("grow/send",       "grow/skip",     "grow/skip",     "grow/skip"),
    ("medium", "low"):     ("grow/send",       "grow/skip",     "grow/skip",     "grow/skip"),
    ("medium", "unknown"): ("grid/send",       "grid/skip",     "grid/skip",     "grid/skip"),
    ("low",    "high"):    ("reactivate/send", "let_go/skip",   "let_go/skip",   "let_go/skip"),
    ("low",    "medium"):  ("grid/send",       "grid/skip",     "grid/skip",     "grid/skip"),
    ("low",    "low"):     ("grid/send",       "grid/skip",     "grid/skip",     "grid/skip"),
    ("low",    "unknown"): ("grid/send",       "grid/skip",     "grid/skip",     "grid/skip"),
}
# fmt: on
# How each quadrant, churn risk and value tier is made (value cuts given: 1000, 300, 50).
QUADRANT_SCORES = {
    "persuadable": (0.02, 0.2),  # uplift, purchase_probability
    "sure_thing": (0.0, 0.9),
    "lost_cause": (0.0, 0.1),
    "sleeping_dog": (-0.02, 0.5),
}
CHURN = {"high": 0.8, "medium": 0.4, "low": 0.1, "unknown": NAN}
VALUE = {"VIP": 2000.0, "high": 500.0, "medium": 100.0, "low": 10.0}


def test_every_combination_lands_in_the_default_segment_the_table_says():
    combos = [
        (q, c, t)
        for t in VALUE_TIERS
        for c in CHURN_RISKS
        for q in QUADRANTS
    ]  # fmt: skip
    assert len(combos) == 64 and set(DEFAULT_SEGMENTS) == {(t, c) for _, c, t in combos}
    frame = pd.DataFrame(
        {
            "uplift": [QUADRANT_SCORES[q][0] for q, _, _ in combos],
            "purchase_probability": [QUADRANT_SCORES[q][1] for q, _, _ in combos],
            "churn_probability": [CHURN[c] for _, c, _ in combos],
            "clv": [VALUE[t] for _, _, t in combos],
        }
    )
    out = assign_segments(frame, load_policy(), value_cuts=(1000.0, 300.0, 50.0)).astype(str)
    given = out[["uplift_quadrant", "churn_risk", "value_tier"]].itertuples(index=False)
    assert [tuple(row) for row in given] == combos

    for i, (q, c, t) in enumerate(combos):
        segment, action = DEFAULT_SEGMENTS[(t, c)][QUADRANTS.index(q)].split("/")
        rule = "" if segment == "grid" else segment
        segment = builtin_segment_name(q, c, t) if segment == "grid" else segment
        if action == "send":
            reason = ""
        elif q == "sleeping_dog":
            reason = "sleeping_dog"
        elif rule == "let_go":  # the one default rule that says skip
            reason = "rule:let_go"
        else:  # the grid, or a rule that leaves it to the uplift
            reason = q
        got = out.iloc[i]
        assert (got["priority_segment"], got["matched_rule"]) == (segment, rule), (q, c, t)
        assert (got["policy_action"], got["policy_reason"]) == (action, reason), (q, c, t)


def test_the_docs_table_of_the_default_segments_is_the_one_tested():
    section = DOCS.read_text(encoding="utf-8").split("## The default segments", 1)[1]
    section = section.split("\n## ", 1)[0]
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("| `") and line.count("|") == len(CHURN_RISKS) + 2
    ]
    header = next(line for line in section.splitlines() if line.startswith("| value tier"))
    assert [c.strip().strip("`") for c in header.strip("|").split("|")][1:] == list(CHURN_RISKS)
    assert [row[0].strip("`") for row in rows] == list(VALUE_TIERS)
    for row in rows:
        for risk, cell in zip(CHURN_RISKS, row[1:], strict=True):
            expected = [s.split("/")[0] for s in DEFAULT_SEGMENTS[(row[0].strip("`"), risk)]]
            either = re.fullmatch(r"`(\w+)` if persuadable, else (\S+)", cell)
            if either:
                documented = [either[1]] + [either[2].strip("`")] * 3
            else:
                documented = [cell.strip("`")] * 4
            assert documented == expected, (row[0], risk)
    for rule in load_policy().rules:
        assert f"| `{rule.segment}` | " in section, rule.segment
