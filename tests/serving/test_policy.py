"""The policy engine: loading and validation, segments worked out by hand, speed."""

from __future__ import annotations

import copy
import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from upseg.serving.policy import (
    CHURN_RISKS,
    DEFAULT_POLICY_PATH,
    OPERATORS,
    OUTPUT_COLUMNS,
    QUADRANTS,
    VALUE_TIERS,
    FrequencyCap,
    Policy,
    PolicyError,
    Suppression,
    ValueTier,
    assign_segments,
    load_policy,
    parse_policy,
    policy_digest,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "policy.md"
DELETE = object()


def default_dict() -> dict:
    return yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))


def patched(changes: dict) -> dict:
    """The default policy with ``{"dotted.path": value}`` applied (DELETE removes the key)."""
    data = copy.deepcopy(default_dict())
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = data
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    return data


def write(tmp_path: Path, content: str | dict) -> Path:
    path = tmp_path / "policy.yaml"
    text = content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False)
    path.write_text(text)
    return path


WIN_BACK = {
    "segment": "win_back",
    "when": {"recency_days": {"gt": 30}, "open_rate_90d": {"gte": 0.3}},
    "action": "send",
}


# --------------------------------------------------------------------------- the default


def test_default_policy_loads_and_validates():
    policy = load_policy(None)
    assert policy == load_policy(DEFAULT_POLICY_PATH)
    assert policy.uplift.persuadable_min == 0.01
    assert policy.uplift.sleeping_dog_max == -0.005
    assert policy.churn_risk.high_min == 0.6 and policy.churn_risk.medium_min == 0.3
    assert policy.value_tier == ValueTier("clv", shares=(0.05, 0.2, 0.5))
    assert policy.actions.sleeping_dog == "skip" and policy.actions.persuadable == "send"
    segments = ["protect", "nurture", "grow", "reactivate", "let_go"]
    assert [r.segment for r in policy.rules] == segments
    assert all(r.description for r in policy.rules)
    assert len(policy.segment_names) == 5 + len(QUADRANTS) * len(CHURN_RISKS) * len(VALUE_TIERS)
    assert policy.segment_names[5] == "persuadable · high churn · VIP"
    assert policy.segment_names[-1] == "sleeping_dog · unknown churn · low"
    assert policy.suppression == Suppression(3, FrequencyCap(3, 7, 24.0))


def test_the_frequency_cap_is_off_only_when_the_file_says_false(tmp_path):
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    cap = text[text.index("  frequency_cap:\n") : text.index("# A random share")]
    for spelling in ("false", "off"):  # YAML reads off as false
        off = load_policy(write(tmp_path, text.replace(cap, f"  frequency_cap: {spelling}\n\n")))
        assert off.suppression == Suppression(3, None)
        assert off.to_dict()["suppression"] == {"soft_bounce_streak": 3, "frequency_cap": False}
        # to_dict sorts a rule's conditions and in-lists; the policy it reads back is the same.
        assert parse_policy(off.to_dict()).to_dict() == off.to_dict()
        assert policy_digest(off) != policy_digest(load_policy())


def test_a_policy_of_the_hard_bounce_count_is_told_what_replaced_it(tmp_path):
    old = patched({"suppression": {"hard_bounce_min": 2}})
    with pytest.raises(PolicyError, match=r"^3 problems in policy") as info:
        load_policy(write(tmp_path, old))
    assert [p.split(": ")[1] for p in info.value.problems] == [
        "suppression.hard_bounce_min",
        "suppression.soft_bounce_streak",
        "suppression.frequency_cap",
    ]
    assert "missing; expected an integer >= 1; got nothing" in info.value.problems[1]


def test_the_commented_examples_of_the_default_file_are_valid():
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    block = text[text.index("#   - segment: win_back") :].splitlines()
    examples = yaml.safe_load("\n".join(line.removeprefix("#") for line in block))
    data = default_dict()
    policy = parse_policy({**data, "rules": examples + data["rules"]}, "default examples")
    assert [r.segment for r in policy.rules][:3] == ["win_back", "vip_at_risk", "protect"]
    # The other commented value tiers, amounts instead of shares, are valid too.
    line = next(line for line in text.splitlines() if "`amounts: {" in line)
    amounts = yaml.safe_load(line[line.index("{") : line.index("}") + 1])
    tiers = parse_policy(patched({"value_tier": {"column": "clv", "amounts": amounts}}))
    assert tiers.value_tier == ValueTier("clv", amounts=(1000.0, 300.0, 50.0))


# --------------------------------------------------------------------------- by hand

# Default thresholds, tiers by spend with shares 10%, 30%, 60% (1, 3 and 6 of 10) and
# the win-back rule instead of the default segments. Positive spends sorted: 500, 400,
# 300, 300, 300, 200, 100, 50 (and 0, NaN). VIP: above the 2nd largest, 400: only 500.
# VIP or high: above the 4th, 300: 500 and 400, so high is 400; the three tied at 300
# fall to medium. Up to medium: above the 7th, 100: 300, 300, 300 and 200 are medium;
# 100 (at the cut), 50, 0 and NaN are low.
NAN = np.nan
# fmt: off
INPUTS = pd.DataFrame.from_records(
    [
        # id   uplift  purchase churn  spend  recency open rate
        (101,  0.05,   0.2,     0.7,   500,   10,     0.5),
        (102,  0.0,    0.8,     0.3,   400,   5,      0.1),   # churn exactly medium_min
        (103,  0.002,  0.1,     0.1,   300,   60,     0.2),   # tied at the high cut: medium
        (104,  -0.02,  0.9,     0.65,  300,   45,     0.6),   # win-back, but a sleeping dog
        (105,  0.01,   0.4,     NAN,   200,   40,     0.3),   # uplift, open rate on the bound
        (106,  -0.005, 0.3,     0.59,  NAN,   NAN,    0.9),   # no recency: gt never matches
        (107,  0.004,  0.5,     0.6,   0,     100,    NAN),   # purchase on the bound
        (108,  0.03,   0.05,    0.2,   100,   31,     0.29),  # at the medium cut: low
        (109,  -0.004, 0.49,    0.45,  50,    200,    0.35),  # just above sleeping_dog_max
        (110,  -0.3,   0.2,     0.1,   300,   20,     0.8),
    ],
    columns=["customer_id", "uplift", "purchase_probability", "churn_probability",
             "monetary_365d", "recency_days", "open_rate_90d"],
)
EXPECTED = pd.DataFrame.from_records(
    [
        # quadrant       churn      tier        rule        action  reason
        ("persuadable",  "high",    "VIP",      "",         "send", ""),
        ("sure_thing",   "medium",  "high",     "",         "skip", "sure_thing"),
        ("lost_cause",   "low",     "medium",   "",         "skip", "lost_cause"),
        ("sleeping_dog", "high",    "medium",   "win_back", "skip", "sleeping_dog"),
        ("persuadable",  "unknown", "medium",   "win_back", "send", ""),
        ("sleeping_dog", "medium",  "low",      "",         "skip", "sleeping_dog"),
        ("sure_thing",   "high",    "low",      "",         "skip", "sure_thing"),
        ("persuadable",  "low",     "low",      "",         "send", ""),
        ("lost_cause",   "medium",  "low",      "win_back", "send", ""),
        ("sleeping_dog", "low",     "medium",   "",         "skip", "sleeping_dog"),
    ],
    columns=["uplift_quadrant", "churn_risk", "value_tier", "matched_rule", "policy_action",
             "policy_reason"],
    index=INPUTS["customer_id"],
)
# fmt: on


def test_ten_customers_get_the_segments_worked_out_by_hand():
    """Default thresholds, tiers by spend at 10%, 30%, 60% and the win-back rule (see above)."""
    tiers = {"column": "monetary_365d", "shares": {"VIP": 0.1, "high": 0.3, "medium": 0.6}}
    policy = parse_policy(patched({"value_tier": tiers, "rules": [WIN_BACK]}), "hand")
    frame = INPUTS.assign(expected_incremental_value=INPUTS["uplift"] * 40)
    # A shuffled, non-default index: the result must keep it.
    frame = frame.set_index(pd.Index([7, 3, 9, 1, 5, 0, 2, 8, 4, 6])).iloc[::-1]
    out = assign_segments(frame, policy)

    assert list(out.columns) == list(OUTPUT_COLUMNS)
    assert out.index.equals(frame.index)
    assert all(isinstance(out[c].dtype, pd.CategoricalDtype) for c in OUTPUT_COLUMNS)
    got = out.astype(str).set_index(frame["customer_id"]).sort_index()
    builtin = EXPECTED["uplift_quadrant"] + " · " + EXPECTED["churn_risk"] + " churn · "
    segment = EXPECTED["matched_rule"].where(
        EXPECTED["matched_rule"] != "", builtin + EXPECTED["value_tier"]
    )
    pd.testing.assert_frame_equal(
        got, EXPECTED.assign(priority_segment=segment)[list(OUTPUT_COLUMNS)], check_dtype=False
    )


def test_with_evidence_only_credibly_negative_customers_are_sleeping_dogs():
    """A calibrated model's evidence decides who is a sleeping dog; "" means the threshold."""
    policy = parse_policy(default_dict(), "default")
    frame = pd.DataFrame(
        {
            "uplift": [-0.02, 0.003, -0.02, 0.02, -0.02],
            "evidence_of_uplift": ["uncertain", "negative", "", "positive", "positive"],
            "purchase_probability": [0.2, 0.2, 0.2, 0.2, 0.7],
            "churn_probability": 0.1,
            "clv": 10.0,
        }
    )
    out = assign_segments(frame, policy)
    assert out["uplift_quadrant"].tolist() == [
        "lost_cause",  # negative uplift, but no evidence: not held back as a dog
        "sleeping_dog",  # its group's realised effect is credibly negative
        "sleeping_dog",  # a model without evidence: the threshold, as before
        "persuadable",
        "sure_thing",
    ]
    assert out["policy_reason"].tolist()[:3] == ["lost_cause", "sleeping_dog", "sleeping_dog"]


def test_first_matching_rule_wins():
    engaged = {"segment": "engaged", "when": {"open_rate_90d": {"gte": 0.5}}, "action": "send"}
    at_risk = {"segment": "at_risk", "when": {"churn_risk": {"eq": "high"}}, "action": "skip"}
    frame = pd.DataFrame(
        {
            "uplift": [0.02, 0.02, 0.02, 0.02],
            "purchase_probability": 0.1,
            "churn_probability": [0.9, 0.9, 0.1, 0.1],
            "clv": 1.0,
            "open_rate_90d": [0.8, 0.1, 0.8, 0.1],
        }
    )
    first = assign_segments(frame, parse_policy(patched({"rules": [engaged, at_risk]}), "a"))
    assert first["matched_rule"].tolist() == ["engaged", "at_risk", "engaged", ""]
    assert first["policy_action"].tolist() == ["send", "skip", "send", "send"]

    swapped = assign_segments(frame, parse_policy(patched({"rules": [at_risk, engaged]}), "b"))
    assert swapped["matched_rule"].tolist() == ["at_risk", "at_risk", "engaged", ""]
    assert swapped["policy_action"].tolist() == ["skip", "skip", "send", "send"]
    assert swapped["policy_reason"].tolist() == ["rule:at_risk", "rule:at_risk", "", ""]
    assert swapped["priority_segment"].tolist()[3] == "persuadable · low churn · low"


@pytest.mark.parametrize(
    ("test", "expected"),
    [
        ({"eq": "Champions"}, [True, False, False, False]),
        ({"ne": "Champions"}, [False, True, True, False]),
        ({"in": ["Champions", "Lost"]}, [True, True, False, False]),
        ({"not_in": ["Champions"]}, [False, True, True, False]),
        ({"is_null": True}, [False, False, False, True]),
        ({"not_null": True}, [True, True, True, False]),
    ],
)
def test_string_operators_and_missing_values(test, expected):
    rule = {"segment": "r", "when": {"rfm_segment": test}, "action": "send"}
    frame = pd.DataFrame(
        {
            "uplift": 0.0,
            "purchase_probability": 0.1,
            "churn_probability": 0.1,
            "clv": 1.0,
            "rfm_segment": pd.array(["Champions", "Lost", "At Risk", None], dtype="str"),
        }
    )
    out = assign_segments(frame, parse_policy(patched({"rules": [rule]}), "ops"))
    assert (out["matched_rule"] == "r").tolist() == expected


@pytest.mark.parametrize(
    ("test", "expected"),
    [
        ({"eq": 0}, [True, False, False, False]),
        ({"ne": 0}, [False, True, True, False]),
        ({"lt": 2}, [True, True, False, False]),
        ({"lte": 2}, [True, True, True, False]),
        ({"gt": 1}, [False, False, True, False]),
        ({"gte": 1, "lt": 2}, [False, True, False, False]),
        ({"in": [0, 2]}, [True, False, True, False]),
        ({"not_in": [0]}, [False, True, True, False]),
    ],
)
def test_numeric_operators_never_match_missing(test, expected):
    rule = {"segment": "r", "when": {"recency_days": test}, "action": "send"}
    frame = pd.DataFrame(
        {
            "uplift": 0.0,
            "purchase_probability": 0.1,
            "churn_probability": 0.1,
            "clv": 1.0,
            "recency_days": pd.array([0, 1, 2, None], dtype="Float64"),
        }
    )
    out = assign_segments(frame, parse_policy(patched({"rules": [rule]}), "ops"))
    assert (out["matched_rule"] == "r").tolist() == expected


# --------------------------------------------------------------------------- refusals

BAD_POLICIES = [
    pytest.param(
        "version: 1\nuplift:\n  persuadable_min: 0.01: 2\n",
        "policy.yaml: line 3, column 24: invalid YAML: mapping values are not allowed here; "
        "expected valid YAML; got 'persuadable_min: 0.01: 2'",
        id="yaml-syntax",
    ),
    pytest.param(
        "version: 1\nversion: 1\n",
        "policy.yaml: line 2, column 1: invalid YAML: found duplicate key 'version'",
        id="duplicate-yaml-key",
    ),
    pytest.param(
        "",
        "policy.yaml: top level: empty policy; expected a mapping with keys version, uplift",
        id="empty-file",
    ),
    pytest.param(
        "- 1\n",
        "policy.yaml: top level: wrong type for a policy; expected a mapping with keys version",
        id="not-a-mapping",
    ),
    pytest.param(
        {"rule": []},
        "policy.yaml: top level: unknown key 'rule' (did you mean 'rules'?); "
        "expected one of version, uplift, churn_risk, value_tier, suppression, holdout, budget, "
        "actions, rules; got 'rule'",
        id="unknown-top-level-key",
    ),
    pytest.param(
        {"version": 2},
        "policy.yaml: version: unsupported version; expected one of 1; got 2",
        id="version",
    ),
    pytest.param(
        {"uplift.persuadable_mn": 0.02, "uplift.persuadable_min": DELETE},
        "policy.yaml: uplift: unknown key 'persuadable_mn' (did you mean 'persuadable_min'?); "
        "expected one of persuadable_min, sleeping_dog_max, sure_thing_min_purchase; "
        "got 'persuadable_mn'",
        id="unknown-nested-key",
    ),
    pytest.param(
        {"uplift.persuadable_min": DELETE},
        "policy.yaml: uplift.persuadable_min: missing; expected a number in [0, 1]; got nothing",
        id="missing-key",
    ),
    pytest.param(
        {"churn_risk": [0.6, 0.3]},
        "policy.yaml: churn_risk: wrong type for the churn-risk bands; "
        "expected a mapping with keys high_min, medium_min; got a list [0.6, 0.3]",
        id="section-wrong-type",
    ),
    pytest.param(
        {"churn_risk.high_min": "high"},
        "policy.yaml: churn_risk.high_min: wrong type; expected a number in [0, 1]; got 'high'",
        id="threshold-wrong-type",
    ),
    pytest.param(
        {"churn_risk.high_min": 0.2},
        "policy.yaml: churn_risk.high_min: must be above churn_risk.medium_min; "
        "expected a number > 0.3; got 0.2",
        id="churn-out-of-order",
    ),
    pytest.param(
        {"churn_risk.medium_min": 1.3},
        "policy.yaml: churn_risk.medium_min: out of range; expected a number in [0, 1]; got 1.3",
        id="probability-out-of-range",
    ),
    pytest.param(
        {"uplift.sleeping_dog_max": 0.02},
        "policy.yaml: uplift.sleeping_dog_max: out of range; expected a number in [-1, 0]; "
        "got 0.02",
        id="sleeping-dog-positive",
    ),
    pytest.param(
        {"uplift.persuadable_min": 0.0, "uplift.sleeping_dog_max": 0.0},
        "policy.yaml: uplift.persuadable_min: must be above uplift.sleeping_dog_max, "
        "or a customer would be both; expected a number > 0; got 0.0",
        id="uplift-out-of-order",
    ),
    pytest.param(
        {"value_tier.shares.VIP": 1},
        "policy.yaml: value_tier.shares.VIP: out of range; expected a number in (0, 1); got 1",
        id="share-out-of-range",
    ),
    pytest.param(
        {"value_tier.vip_share": 0.15},
        "policy.yaml: value_tier.vip_share: replaced by value_tier.shares.VIP (tiers VIP, high, "
        "medium, low; see docs/policy.md#value-tiers); remove it and set value_tier.shares or "
        "value_tier.amounts; expected the keys column, shares, amounts; got 'vip_share'",
        id="retired-vip-share",
    ),
    pytest.param(
        {"value_tier.spend_column": "monetary_365d"},
        "policy.yaml: value_tier.spend_column: replaced by value_tier.column, the numeric column "
        "the tiers rank by (default clv; see docs/policy.md#value-tiers); expected the keys "
        "column, shares, amounts; got 'spend_column'",
        id="retired-spend-column",
    ),
    pytest.param(
        {"value_tier.amounts": {"VIP": 1000, "high": 300, "medium": 50}},
        "policy.yaml: value_tier: both shares and amounts given; expected exactly one of shares "
        "(cumulative top shares of customers) or amounts (values above which a customer is in "
        "the tier); got a list ['shares', 'amounts']",
        id="shares-and-amounts",
    ),
    pytest.param(
        {"value_tier.shares": DELETE},
        "policy.yaml: value_tier: missing shares or amounts; expected exactly one of shares",
        id="neither-shares-nor-amounts",
    ),
    pytest.param(
        {"value_tier.shares.high": 0.05},
        "policy.yaml: value_tier.shares.high: must be above value_tier.shares.VIP: shares are "
        "cumulative; expected a number in (0.05, 1); got 0.05",
        id="shares-not-increasing",
    ),
    pytest.param(
        {"value_tier.shares.medium": 0.1},
        "policy.yaml: value_tier.shares.medium: must be above value_tier.shares.high: shares are "
        "cumulative; expected a number in (0.2, 1); got 0.1",
        id="shares-decreasing",
    ),
    pytest.param(
        {"value_tier": {"amounts": {"VIP": 1000, "high": 1000, "medium": 50}}},
        "policy.yaml: value_tier.amounts.high: must be below value_tier.amounts.VIP: a higher "
        "tier starts higher; expected a number in (0, 1000); got 1000",
        id="amounts-not-decreasing",
    ),
    pytest.param(
        {"value_tier": {"amounts": {"VIP": 1000, "high": 300, "medium": 0}}},
        "policy.yaml: value_tier.amounts.medium: out of range; expected a number > 0; got 0",
        id="amount-not-above-zero",
    ),
    pytest.param(
        {"value_tier.shares.medium": DELETE},
        "policy.yaml: value_tier.shares.medium: missing; expected a number in (0, 1); got nothing",
        id="tier-missing",
    ),
    pytest.param(
        {"value_tier.shares.hihg": 0.2, "value_tier.shares.high": DELETE},
        "policy.yaml: value_tier.shares: unknown key 'hihg' (did you mean 'high'?); expected one "
        "of VIP, high, medium; got 'hihg'",
        id="tier-unknown",
    ),
    pytest.param(
        {"value_tier.shares.low": 1.0},
        "policy.yaml: value_tier.shares.low: low takes no cut: it is everyone below the medium "
        "cut; expected one of VIP, high, medium; got 'low'",
        id="tier-low-has-no-cut",
    ),
    pytest.param(
        {"value_tier.shares": [0.05, 0.2, 0.5]},
        "policy.yaml: value_tier.shares: wrong type for the tier shares; expected a mapping with "
        "keys VIP, high, medium; got a list [0.05, 0.2, 0.5]",
        id="shares-not-a-mapping",
    ),
    pytest.param(
        {"value_tier.column": 3},
        "policy.yaml: value_tier.column: wrong type; expected a column name of the scored frame; "
        "got 3",
        id="value-column",
    ),
    pytest.param(
        {"holdout.share": 1},
        "policy.yaml: holdout.share: out of range; expected a number in [0, 1); got 1",
        id="holdout-share",
    ),
    pytest.param(
        {"suppression.soft_bounce_streak": 1.5},
        "policy.yaml: suppression.soft_bounce_streak: wrong type; expected an integer >= 1; "
        "got 1.5",
        id="integer",
    ),
    pytest.param(
        {"suppression.frequency_cap.max_emails": 0},
        "policy.yaml: suppression.frequency_cap.max_emails: out of range; "
        "expected an integer >= 1; got 0",
        id="cap-max-emails",
    ),
    pytest.param(
        {"suppression.frequency_cap.window_days": 7.5},
        "policy.yaml: suppression.frequency_cap.window_days: wrong type; "
        "expected an integer >= 1; got 7.5",
        id="cap-window-days",
    ),
    pytest.param(
        {"suppression.frequency_cap.min_gap_hours": -1},
        "policy.yaml: suppression.frequency_cap.min_gap_hours: out of range; "
        "expected a number >= 0; got -1",
        id="cap-min-gap",
    ),
    pytest.param(
        {"suppression.frequency_cap.max_mails": 3, "suppression.frequency_cap.max_emails": DELETE},
        "policy.yaml: suppression.frequency_cap: unknown key 'max_mails' "
        "(did you mean 'max_emails'?); expected one of max_emails, window_days, min_gap_hours; "
        "got 'max_mails'",
        id="cap-unknown-key",
    ),
    pytest.param(
        {"suppression.frequency_cap": None},
        "policy.yaml: suppression.frequency_cap: null is not a setting here; expected a mapping "
        "with keys max_emails, window_days, min_gap_hours, or false for no cap; got null",
        id="cap-null",
    ),
    pytest.param(
        {"suppression.frequency_cap": "off"},
        "policy.yaml: suppression.frequency_cap: wrong type for the frequency cap; expected a "
        "mapping with keys max_emails, window_days, min_gap_hours, or false for no cap; got 'off'",
        id="cap-quoted-off",
    ),
    pytest.param(
        {"suppression.frequency_cap": DELETE},
        "policy.yaml: suppression.frequency_cap: missing; expected a mapping with keys "
        "max_emails, window_days, min_gap_hours, or false for no cap; got nothing",
        id="cap-missing",
    ),
    pytest.param(
        {"suppression": {"hard_bounce_min": 2}},
        "policy.yaml: suppression.hard_bounce_min: no longer a setting: an address whose last "
        "delivery attempt bounced is suppressed (hard_bounce) from its first bounce, a bounce "
        "typed hard is final, and soft bounces count in a row (see docs/policy.md#suppression); "
        "remove it and set suppression.soft_bounce_streak and suppression.frequency_cap; "
        "expected the keys soft_bounce_streak, frequency_cap; got 'hard_bounce_min'",
        id="retired-hard-bounce-min",
    ),
    pytest.param(
        {"budget.max_sends": 0},
        "policy.yaml: budget.max_sends: out of range; "
        "expected an integer >= 1, or null for no limit; got 0",
        id="budget",
    ),
    pytest.param(
        {"budget.max_sends": DELETE},
        "policy.yaml: budget.max_sends: missing; "
        "expected an integer >= 1, or null for no limit; got nothing",
        id="budget-missing",
    ),
    pytest.param(
        {"budget.cost_per_send": -0.1},
        "policy.yaml: budget.cost_per_send: out of range; "
        "expected a number >= 0, or null for no limit; got -0.1",
        id="cost-per-send",
    ),
    pytest.param(
        {"actions.persuadable": "sned"},
        "policy.yaml: actions.persuadable: unknown action (did you mean 'send'?); "
        "expected one of send, skip; got 'sned'",
        id="unknown-action",
    ),
    pytest.param(
        {"actions.persuadable": "uplift"},
        "policy.yaml: actions.persuadable: unknown action; expected one of send, skip; "
        "got 'uplift'",
        id="uplift-is-a-rule-action",
    ),
    pytest.param(
        {"rules": [{**WIN_BACK, "action": "upflit"}]},
        "policy.yaml: rules[0].action: unknown action (did you mean 'uplift'?); "
        "expected one of send, skip, uplift; got 'upflit'",
        id="unknown-rule-action",
    ),
    pytest.param(
        {"actions.sleeping_dog": "send"},
        "policy.yaml: actions.sleeping_dog: sleeping dogs are never sent "
        "(the e-mail lowers their chance to buy); expected skip; got 'send'",
        id="sleeping-dog-send",
    ),
    pytest.param(
        {"rules": [WIN_BACK, {**WIN_BACK, "when": {"open_rate_90d": {"gte_": 0.3}}}]},
        "policy.yaml: rules[1].when.open_rate_90d: unknown operator 'gte_' "
        "(did you mean 'gte'?); expected one of eq, ne, lt, lte, gt, gte, in, not_in, is_null, "
        "not_null; got 'gte_'",
        id="unknown-operator",
    ),
    pytest.param(
        {"rules": [WIN_BACK, WIN_BACK]},
        "policy.yaml: rules[1].segment: duplicate segment name (also rules[0]); "
        "expected a name no other rule uses; got 'win_back'",
        id="duplicate-segment",
    ),
    pytest.param(
        {"rules": [{**WIN_BACK, "when": {}}]},
        "policy.yaml: rules[0].when: empty: a rule without conditions would match everyone; "
        "expected a mapping of column to tests",
        id="empty-when",
    ),
    pytest.param(
        {"rules": [{**WIN_BACK, "when": {"frequency_30d": 0}}]},
        "policy.yaml: rules[0].when.frequency_30d: wrong type; "
        "expected a mapping of operator to value, e.g. {gte: 0.3}; got 0",
        id="condition-not-a-mapping",
    ),
    pytest.param(
        {"rules": [{**WIN_BACK, "when": {"recency_days": {"gt": "30"}}}]},
        "policy.yaml: rules[0].when.recency_days.gt: wrong type; expected a number; got '30'",
        id="ordering-needs-a-number",
    ),
    pytest.param(
        {"rules": [{**WIN_BACK, "when": {"rfm_segment": {"in": ["Lost", 3]}}}]},
        "policy.yaml: rules[0].when.rfm_segment.in: mixed or unsupported values; "
        "expected a non-empty list of numbers or of strings",
        id="mixed-in-list",
    ),
    pytest.param(
        {"rules": [{**WIN_BACK, "when": {"recency_days": {"eq": None}}}]},
        "policy.yaml: rules[0].when.recency_days.eq: null never equals anything",
        id="eq-null",
    ),
    pytest.param(
        {"rules": [{**WIN_BACK, "when": {"recency_days": {"is_null": False}}}]},
        "policy.yaml: rules[0].when.recency_days.is_null: wrong value; expected true; got false",
        id="is-null-false",
    ),
    pytest.param(
        {"rules": [{**WIN_BACK, "segment": "a · b"}]},
        "policy.yaml: rules[0].segment: '·' is reserved for built-in segment names",
        id="reserved-separator",
    ),
    pytest.param(
        {"rules": [{**WIN_BACK, "actoin": "send"}]},
        "policy.yaml: rules[0]: unknown key 'actoin' (did you mean 'action'?)",
        id="unknown-rule-key",
    ),
    pytest.param(
        {"rules": {"win_back": WIN_BACK}},
        "policy.yaml: rules: wrong type; expected a list of rules",
        id="rules-not-a-list",
    ),
]


@pytest.mark.parametrize(("content", "message"), BAD_POLICIES)
def test_bad_policy_files_are_refused_with_a_clear_message(tmp_path, content, message):
    path = write(tmp_path, content if isinstance(content, str) else patched(content))
    with pytest.raises(PolicyError, match=re.escape(message)):
        load_policy(path)


def test_every_problem_is_reported_at_once(tmp_path):
    path = write(
        tmp_path,
        patched(
            {
                "churn_risk.high_min": 0.1,
                "value_tier.shares.VIP": 1.5,
                "actions.sleeping_dog": "send",
                "rules": [WIN_BACK, {**WIN_BACK, "when": {}}],
            }
        ),
    )
    with pytest.raises(PolicyError, match=r"^5 problems in policy .*policy\.yaml:\n") as info:
        load_policy(path)
    problems = info.value.problems
    assert all(p.startswith(f"{path}: ") for p in problems)
    assert [p.removeprefix(f"{path}: ").split(": ")[0] for p in problems] == [
        "churn_risk.high_min",
        "value_tier.shares.VIP",
        "actions.sleeping_dog",
        "rules[1].segment",
        "rules[1].when",
    ]
    # A PolicyError is a ValueError and survives pickling (e.g. from a worker process).
    again = pickle.loads(pickle.dumps(info.value))
    assert isinstance(again, ValueError) and again.problems == problems


def test_check_columns_names_missing_columns_and_lists_the_available():
    rules = [
        WIN_BACK,
        {"segment": "vip", "when": {"value_tier": {"eq": "VIP"}}, "action": "send"},
    ]
    policy = parse_policy(
        patched({"rules": rules, "value_tier.column": "monetary_365"}), "mine.yaml"
    )
    columns = ["customer_id", "uplift", "open_rate_90d", "monetary_365d", "recency_day"]
    with pytest.raises(PolicyError) as info:
        policy.check_columns(columns)
    assert info.value.problems == (
        "mine.yaml: rules[0].when.recency_days: no column 'recency_days' in the scored frame "
        "(did you mean 'recency_day'?); expected one of the frame's 5 columns (customer_id, "
        "uplift, open_rate_90d, monetary_365d, recency_day) or of the engine's (uplift_quadrant, "
        "churn_risk, value_tier); got 'recency_days'",
        "mine.yaml: value_tier.column: no column 'monetary_365' in the scored frame "
        "(did you mean 'monetary_365d'?); expected one of the frame's 5 columns (customer_id, "
        "uplift, open_rate_90d, monetary_365d, recency_day); got 'monetary_365'",
    )
    fixed = [*columns[:-1], "recency_days", "monetary_365"]
    policy.check_columns(fixed)  # value_tier is the engine's: not needed in the frame


def test_rule_values_must_suit_the_column_type():
    rules = [
        {
            "segment": "r",
            "when": {
                "rfm_segment": {"gte": 3},
                "rfm_score": {"eq": 545},
                "frequency_30d": {"in": ["0"]},
                "churn_risk": {"eq": 1},
            },
            "action": "send",
        }
    ]
    policy = parse_policy(patched({"rules": rules}), "types.yaml")
    frame = pd.DataFrame(
        {
            "uplift": [0.0],
            "purchase_probability": 0.1,
            "churn_probability": 0.1,
            "clv": 1.0,
            "rfm_segment": pd.array(["Lost"], dtype="str"),
            "rfm_score": pd.array(["111"], dtype="str"),
            "frequency_30d": [0],
        }
    )
    with pytest.raises(PolicyError, match=r"^4 problems in policy types\.yaml") as info:
        assign_segments(frame, policy)
    assert info.value.problems == (
        "types.yaml: rules[0].when.rfm_segment.gte: the operator compares numbers but the column "
        "holds string values (dtype str); expected a numeric column, or one of eq, ne, in, "
        "not_in, is_null, not_null; got 'gte'",
        "types.yaml: rules[0].when.rfm_score.eq: the column holds string values (dtype str); "
        "expected a string (quote it in YAML); got 545",
        "types.yaml: rules[0].when.frequency_30d.in: the column holds number values "
        "(dtype int64); expected a number or boolean; got a list ['0']",
        "types.yaml: rules[0].when.churn_risk.eq: the column holds string categories; "
        "expected a string (quote it in YAML); got 1",
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda f: f.drop(columns=["uplift", "churn_probability"]),
            "assign_segments needs the scorer's columns uplift, purchase_probability, "
            "churn_probability; missing uplift, churn_probability",
        ),
        (
            lambda f: f.assign(uplift=[0.1, np.nan]),
            "assign_segments: column 'uplift' must be scored for every customer; "
            "got 1 missing of 2",
        ),
        (
            lambda f: f.assign(purchase_probability=["a", "b"]),
            "assign_segments: column 'purchase_probability' must be numeric; got dtype str",
        ),
    ],
)
def test_score_columns_are_required(change, message):
    frame = pd.DataFrame(
        {
            "uplift": [0.1, 0.2],
            "purchase_probability": 0.1,
            "churn_probability": 0.1,
            "clv": 1.0,
        }
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        assign_segments(change(frame), load_policy())


# --------------------------------------------------------------------------- digest, docs, speed


def test_digest_ignores_comments_key_order_and_file_name(tmp_path):
    default = load_policy()
    data = default_dict()
    reordered = {key: data[key] for key in reversed(list(data))}
    reordered["churn_risk"] = {"medium_min": 0.3, "high_min": 0.6}
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(reordered))
    assert policy_digest(load_policy(tmp_path / "other.yaml")) == policy_digest(default)
    assert re.fullmatch("[0-9a-f]{64}", policy_digest(default))

    one = {"segment": "r", "when": {"a": {"eq": 0}, "b": {"in": [2, 1]}}, "action": "send"}
    two = {"segment": "r", "when": {"b": {"in": [1, 2]}, "a": {"eq": 0.0}}, "action": "send"}
    assert policy_digest(parse_policy(patched({"rules": [one]}))) == policy_digest(
        parse_policy(patched({"rules": [two]}))
    )
    assert policy_digest(parse_policy(patched({"holdout.share": 0.2}))) != policy_digest(default)
    assert policy_digest(parse_policy(patched({"budget.max_sends": 10}))) != policy_digest(default)


def test_digest_changes_with_the_value_tiers():
    default = load_policy()
    # Leaving out the column is saying the default: one policy, one digest.
    implicit = parse_policy(patched({"value_tier.column": DELETE}))
    assert implicit == default and policy_digest(implicit) == policy_digest(default)
    amounts = {"column": "clv", "amounts": {"VIP": 1000, "high": 300, "medium": 50}}
    changes = [
        {"value_tier.shares.VIP": 0.06},
        {"value_tier.shares.high": 0.25},
        {"value_tier.shares.medium": 0.6},
        {"value_tier.column": "monetary_365d"},
        {"value_tier": amounts},
        {"value_tier": amounts, "value_tier.amounts.medium": 40},
    ]
    policies = [parse_policy(patched(change)) for change in changes]
    digests = {policy_digest(policy) for policy in [default, *policies]}
    assert len(digests) == 1 + len(changes)
    # to_dict is a policy again, with its digest: shares and amounts alike.
    for policy in [default, *policies]:
        again = parse_policy(policy.to_dict())
        assert again.value_tier == policy.value_tier
        assert policy_digest(again) == policy_digest(policy)


def test_docs_describe_every_key_operator_and_segment_part():
    text = DOCS.read_text(encoding="utf-8")
    policy: Policy = load_policy()

    def paths(prefix: str, value) -> list[str]:
        if not isinstance(value, dict):
            return [f"`{prefix}`"]
        nested = [p for key, v in value.items() for p in paths(f"{prefix}.{key}", v)]
        return [f"`{prefix}`", *nested] if "." in prefix else nested

    keys = [
        p
        for section, v in policy.to_dict().items()
        if section != "rules"
        for p in paths(section, v)
    ]
    names = [*keys, "`rules`", "`segment`", "`when`", "`action`", "`description`"]
    names += [f"`{name}`" for name in (*OPERATORS, *QUADRANTS, *CHURN_RISKS, *VALUE_TIERS)]
    names += [f"`{name}`" for name in OUTPUT_COLUMNS]
    missing = [n for n in names if n not in text]
    assert not missing, f"undocumented in docs/policy.md: {missing}"


def test_a_million_rows():
    n = 1_000_000
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "uplift": rng.normal(0.0, 0.02, n),
            "purchase_probability": rng.uniform(size=n),
            "churn_probability": rng.uniform(size=n),
            "clv": rng.exponential(100.0, n).round(2),
            "recency_days": rng.exponential(60.0, n),
            "open_rate_90d": rng.uniform(size=n),
        }
    )
    policy = parse_policy(patched({"rules": [WIN_BACK]}), "big")
    out = assign_segments(frame, policy)
    assert len(out) == n
    shares = out["value_tier"].value_counts(normalize=True)
    assert shares["VIP"] <= 0.05 and shares["VIP"] + shares["high"] <= 0.2
    assert shares["low"] >= 0.5
    sleeping = out["uplift_quadrant"] == "sleeping_dog"
    assert sleeping.any() and (out.loc[sleeping, "policy_action"] == "skip").all()


def test_the_annotated_example_in_the_docs_is_a_valid_policy():
    text = DOCS.read_text(encoding="utf-8")
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    policy = parse_policy(yaml.safe_load(example), "docs/policy.md")
    assert [r.segment for r in policy.rules] == ["win_back", "vip_at_risk"]
    assert [r.action for r in policy.rules] == ["send", "uplift"]
    assert policy.value_tier == load_policy().value_tier
    assert policy.budget.max_sends == 50000


# --------------------------------------------------------------------------- holdout and budget


def test_the_policy_owns_the_holdout_and_budget_and_overrides_keep_its_range():
    from upseg.serving.policy import HOLDOUT_SHARE, MAX_SENDS_MIN, campaign_limits

    policy = load_policy(None)
    limits = campaign_limits(policy)
    assert (limits.holdout, limits.max_sends, limits.cost_per_send) == (0.1, None, None)
    assert set(limits.sources.values()) == {f"policy {DEFAULT_POLICY_PATH}"}
    given = campaign_limits(policy, holdout=0, max_sends=5, given_by={"holdout": "--holdout"})
    assert (given.holdout, given.max_sends) == (0.0, 5)
    assert given.sources["holdout"] == "--holdout"
    assert given.sources["max_sends"] == "max_sends (override)"
    # the same range as the policy file's holdout.share and budget.max_sends
    assert 0.95 in HOLDOUT_SHARE and 1 not in HOLDOUT_SHARE and MAX_SENDS_MIN == 1
    with pytest.raises(PolicyError) as raised:
        campaign_limits(policy, holdout=1, max_sends=0, given_by={"holdout": "--holdout"})
    assert raised.value.exit_code == 2
    assert raised.value.problems == (
        "--holdout: out of range; expected a number in [0, 1), or nothing for the policy's; got 1",
        "max_sends (override): out of range; expected an integer >= 1, or nothing for the "
        "policy's; got 0",
    )
    with pytest.raises(PolicyError, match=r"holdout\.share: out of range; expected a number in"):
        parse_policy(patched({"holdout.share": 1}))
