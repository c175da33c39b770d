"""Suppression, the holdout draw, actions, economics and segment changes: by hand and simulated."""

from __future__ import annotations

import math
import struct

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kstest

from upseg.serving.audience import (
    ACTIONS,
    SUPPRESSION_REASONS,
    AudienceFileError,
    campaign_economics,
    choose_actions,
    expected_value,
    holdout_draw,
    holdout_mask,
    incremental_profit,
    segment_change_counts,
    segment_changes,
    suppression_reason,
)

# --- an independent implementation of the holdout hash -------------------------------------------

MASK = 2**64 - 1


def _rotl(x: int, b: int) -> int:
    return ((x << b) | (x >> (64 - b))) & MASK


def siphash24(key: bytes, message: bytes) -> int:
    """SipHash-2-4 (Aumasson and Bernstein, 2012), straight from the paper."""
    k0, k1 = struct.unpack("<QQ", key)
    v = [
        k0 ^ 0x736F6D6570736575,
        k1 ^ 0x646F72616E646F6D,
        k0 ^ 0x6C7967656E657261,
        k1 ^ 0x7465646279746573,
    ]

    def rounds(count: int) -> None:
        for _ in range(count):
            v[0] = (v[0] + v[1]) & MASK
            v[1] = _rotl(v[1], 13) ^ v[0]
            v[0] = _rotl(v[0], 32)
            v[2] = (v[2] + v[3]) & MASK
            v[3] = _rotl(v[3], 16) ^ v[2]
            v[0] = (v[0] + v[3]) & MASK
            v[3] = _rotl(v[3], 21) ^ v[0]
            v[2] = (v[2] + v[1]) & MASK
            v[1] = _rotl(v[1], 17) ^ v[2]
            v[2] = _rotl(v[2], 32)

    tail = len(message) % 8
    blocks = [struct.unpack("<Q", message[i : i + 8])[0] for i in range(0, len(message) - tail, 8)]
    last = int.from_bytes(message[len(message) - tail :], "little") | ((len(message) & 0xFF) << 56)
    for m in [*blocks, last]:
        v[3] ^= m
        rounds(2)
        v[0] ^= m
    v[2] ^= 0xFF
    rounds(4)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def reference_draw(campaign: str, customer_id: str) -> float:
    """The documented draw: SipHash-2-4, splitmix64's finaliser, the top 53 bits."""
    h = siphash24(b"0123456789123456", f"{campaign}\x1f{customer_id}".encode())
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & MASK
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & MASK
    h ^= h >> 31
    return (h >> 11) * 2.0**-53


def test_siphash_reference_matches_the_papers_test_vectors():
    key = bytes(range(16))
    assert siphash24(key, b"") == 0x726FDB47DD0E0E31
    assert siphash24(key, bytes(range(15))) == 0xA129CA6149BE45E5


# --- suppression ---------------------------------------------------------------------------------


#: The shipped policy's settings: 3 soft bounces in a row, at most 3 e-mails, 24 h apart.
DEFAULTS = {"soft_bounce_streak": 3, "max_emails": 3, "min_gap_hours": 24.0}


def _log(**columns) -> pd.DataFrame:
    """Consent given and a clean e-mail history, with ``columns`` in their place."""
    n = len(next(iter(columns.values())))
    base = {
        "email_opt_in": [True] * n,
        "is_unsubscribed": [False] * n,
        "hard_bounces_lifetime": [0] * n,
        "untyped_bounces_since_delivery": [0] * n,
        "soft_bounces_since_delivery": [0] * n,
        "complaints_lifetime": [0] * n,
        "emails_in_cap_window": [0] * n,
        "hours_since_last_email": [np.nan] * n,
    }
    return pd.DataFrame({**base, **columns})


def test_suppression_reasons_follow_their_precedence():
    frame = _log(
        email_opt_in=pd.array([True, False, None, True, True, True, True, True, True], "boolean"),
        is_unsubscribed=[False, True, False, True, False, False, False, False, False],
        hard_bounces_lifetime=[0, 1, 0, 1, 1, 0, 0, 0, 0],
        untyped_bounces_since_delivery=[0, 1, 0, 0, 0, 1, 0, 0, 0],
        soft_bounces_since_delivery=[0, 3, 0, 3, 3, 3, 3, 0, 0],
        complaints_lifetime=[0, 1, 0, 1, 1, 1, 1, 1, 0],
        emails_in_cap_window=[0, 9, 0, 9, 9, 9, 9, 9, 9],
        hours_since_last_email=[np.nan, 1, 1, 1, 1, 1, 1, 1, 1],
    )
    frame.index = [10, 11, 12, 13, 14, 15, 16, 17, 18]
    reasons = suppression_reason(frame, **DEFAULTS)
    assert reasons.index.tolist() == frame.index.tolist()
    assert reasons.name == "suppression_reason"
    assert reasons.tolist() == [
        "",
        "no_opt_in",  # every reason applies; opt-in comes first
        "no_opt_in",  # consent unknown
        "unsubscribed",
        "hard_bounce",  # typed hard
        "hard_bounce",  # the last attempt bounced, untyped
        "soft_bounce",
        "complaint",
        "frequency_cap",  # before min_gap
    ]
    assert set(reasons) - {""} <= set(SUPPRESSION_REASONS)


@pytest.mark.parametrize(
    ("column", "values", "kwargs", "expected"),
    [
        ("soft_bounces_since_delivery", [2, 3], {}, ["", "soft_bounce"]),
        ("soft_bounces_since_delivery", [0, 1], {"soft_bounce_streak": 1}, ["", "soft_bounce"]),
        ("emails_in_cap_window", [2, 3], {}, ["", "frequency_cap"]),
        ("emails_in_cap_window", [3, 99], {"max_emails": None}, ["", ""]),
        ("hours_since_last_email", [23.99, 24.0], {}, ["min_gap", ""]),
        ("hours_since_last_email", [0.01, 24.0], {"min_gap_hours": 0}, ["", ""]),
        ("hours_since_last_email", [0.01, 24.0], {"min_gap_hours": None}, ["", ""]),
    ],
)
def test_each_rule_at_its_threshold(column, values, kwargs, expected):
    frame = _log(**{column: values})
    assert suppression_reason(frame, **{**DEFAULTS, **kwargs}).tolist() == expected


def test_a_source_without_email_events_suppresses_only_on_consent():
    frame = pd.DataFrame({"email_opt_in": [True, False], "is_unsubscribed": [False, False]})
    assert suppression_reason(frame, **DEFAULTS).tolist() == ["", "no_opt_in"]


def test_the_suppression_columns_are_the_ones_the_features_build():
    from upseg.features.deliverability import DELIVERABILITY_COLUMNS
    from upseg.serving.audience.suppression import _DELIVERABILITY

    assert {*_DELIVERABILITY, "complaints_lifetime"} == set(DELIVERABILITY_COLUMNS)


def test_missing_counts_do_not_suppress_but_missing_unsubscribe_status_does():
    frame = _log(
        is_unsubscribed=pd.array([None, False], "boolean"),
        untyped_bounces_since_delivery=pd.array([None, None], "Int64"),
        hours_since_last_email=pd.array([None, None], "Float64"),
    )
    assert suppression_reason(frame, **DEFAULTS).tolist() == ["unsubscribed", ""]


@pytest.mark.parametrize(
    ("frame", "kwargs", "message"),
    [
        (
            pd.DataFrame({"is_unsubscribed": [False]}),
            {},
            r"lacks \['email_opt_in'\]; consent is never assumed",
        ),
        (
            pd.DataFrame({"x": [1]}),
            {},
            r"lacks \['email_opt_in', 'is_unsubscribed'\]",
        ),
        (
            _log(email_opt_in=[True]).drop(columns="emails_in_cap_window"),
            {},
            r"has the deliverability columns .* but lacks \['emails_in_cap_window'\]; "
            "build them together",
        ),
        (
            pd.DataFrame({"email_opt_in": [True], "is_unsubscribed": [False]}),
            {"soft_bounce_streak": 0, "max_emails": 1.5, "min_gap_hours": -1},
            r"soft_bounce_streak must be an integer of 1 or more; got 0; "
            r"max_emails must be an integer of 1 or more, or None; got 1.5; "
            r"min_gap_hours must be a number >= 0, or None; got -1\.",
        ),
        (
            pd.DataFrame({"email_opt_in": ["yes"], "is_unsubscribed": [False]}),
            {},
            "Column 'email_opt_in' must hold booleans",
        ),
        (
            _log(soft_bounces_since_delivery=["x"]),
            {},
            "Column 'soft_bounces_since_delivery' must hold counts",
        ),
        (
            _log(hours_since_last_email=["x"]),
            {},
            "Column 'hours_since_last_email' must hold hours",
        ),
    ],
)
def test_suppression_refuses(frame, kwargs, message):
    with pytest.raises(ValueError, match=message):
        suppression_reason(frame, **{**DEFAULTS, **kwargs})


# --- holdout -------------------------------------------------------------------------------------


def test_holdout_draw_is_the_documented_hash():
    ids = ["c-1", "c-2", "0042", "émilie", "x" * 40]
    draws = holdout_draw(pd.Series(ids), "spring-sale")
    assert draws.tolist() == [reference_draw("spring-sale", i) for i in ids]


def test_holdout_draw_is_uniform_and_reproducible():
    ids = pd.Series([f"cust-{i}" for i in range(100_000)])
    first = holdout_draw(ids, "welcome")
    assert np.array_equal(first, holdout_draw(ids.copy(), "welcome"))
    assert first.min() >= 0.0 and first.max() < 1.0
    assert kstest(first, "uniform").pvalue > 0.001


def test_holdout_draw_depends_on_neither_row_order_nor_the_other_customers():
    ids = pd.Series([f"cust-{i}" for i in range(1_000)])
    draws = pd.Series(holdout_draw(ids, "welcome"), index=ids)
    shuffled = ids.sample(frac=1.0, random_state=3)
    assert np.array_equal(holdout_draw(shuffled, "welcome"), draws[shuffled].to_numpy())
    subset = ids.iloc[[5, 500, 999]]
    assert np.array_equal(holdout_draw(subset, "welcome"), draws[subset].to_numpy())


def test_integer_ids_draw_like_their_decimal_strings():
    as_int = holdout_draw(pd.Series([1, 20, 300]), "c")
    assert np.array_equal(as_int, holdout_draw(pd.Series(["1", "20", "300"]), "c"))
    assert np.array_equal(as_int, holdout_draw(pd.Series([1, 20, 300], dtype="Int64"), "c"))
    objects = pd.Series(["1", "20", "300"], dtype=object)
    assert np.array_equal(as_int, holdout_draw(objects, "c"))


def test_draws_of_two_campaigns_are_independent():
    n, share = 200_000, 0.2
    ids = pd.Series(np.arange(n))
    a, b = holdout_draw(ids, "campaign-a"), holdout_draw(ids, "campaign-b")
    assert abs(np.corrcoef(a, b)[0, 1]) < 4 / math.sqrt(n)
    both = np.mean(holdout_mask(a, share) & holdout_mask(b, share))
    assert both == pytest.approx(share**2, abs=4 * math.sqrt(share**2 * (1 - share**2) / n))


def test_holdout_share_holds_overall_and_in_every_segment():
    rng = np.random.default_rng(5)
    n = 300_000
    # Ids that carry their segment in a prefix, so a hash that leaked structure would show.
    segment = rng.choice(["Champions", "At Risk", "Lost", "New"], size=n, p=[0.1, 0.2, 0.6, 0.1])
    ids = pd.Series([f"{s[:2]}{i:07d}" for s, i in zip(segment, range(n), strict=True)])
    shares = {"Champions": 0.05, "At Risk": 0.1, "Lost": 0.2, "New": 0.1}
    mask = holdout_mask(holdout_draw(ids, "q3"), pd.Series(segment).map(shares).to_numpy())
    for name, share in shares.items():
        members = segment == name
        tolerance = 4 * math.sqrt(share * (1 - share) / members.sum())
        assert mask[members].mean() == pytest.approx(share, abs=tolerance), name
    overall = holdout_mask(holdout_draw(ids, "q3"), 0.1).mean()
    assert overall == pytest.approx(0.1, abs=4 * math.sqrt(0.09 / n))


def test_holdout_mask_is_draw_below_share():
    draw = np.array([0.0, 0.099, 0.1, 0.5, 0.999])
    assert holdout_mask(draw, 0.1).tolist() == [True, True, False, False, False]
    assert holdout_mask(draw, 0.0).tolist() == [False] * 5
    assert holdout_mask(draw, 1.0).tolist() == [True] * 5
    per_row = holdout_mask(draw, [0.0, 0.0, 0.2, 0.6, 1.0])
    assert per_row.tolist() == [False, False, True, True, True]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: holdout_draw(pd.Series(["a"]), ""), "campaign must be a non-empty string"),
        (lambda: holdout_draw(pd.Series(["a"]), "a\x1fb"), "without the character"),
        (lambda: holdout_draw(pd.Series(["a", None]), "c"), "must not be missing; 1 of 2"),
        (lambda: holdout_draw(pd.Series([1.5]), "c"), "strings or integers; got dtype float64"),
        (lambda: holdout_draw(pd.Series(["a", 1]), "c"), r"\(mixed-integer values\)"),
        (lambda: holdout_mask([0.5], 1.5), r"between 0 and 1; got \[1.5\]"),
        (lambda: holdout_mask([0.5], float("nan")), "between 0 and 1"),
        (lambda: holdout_mask([0.5, 0.2], [0.1]), r"array of shape \(2,\); got shape \(1,\)"),
    ],
)
def test_holdout_refuses(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- actions -------------------------------------------------------------------------------------


def actions_of(rows, **kwargs) -> pd.DataFrame:
    """choose_actions on rows of (id, suppression, policy, holdout, value)."""
    ids, suppression, policy, holdout, value = map(list, zip(*rows, strict=True))
    return choose_actions(
        pd.Series(ids),
        pd.Series(suppression),
        pd.Series(policy),
        np.array(holdout),
        np.array(value, dtype=float),
        **kwargs,
    )


def test_suppression_beats_policy_beats_holdout():
    rows = [
        ("a", "complaint", "send", True, 9.0),  # suppressed whatever the rest says
        ("b", "", "skip", True, 9.0),  # the policy skips: not held out
        ("c", "", "send", True, 9.0),
        ("d", "", "send", False, 9.0),
        ("e", "no_opt_in", "skip", False, 9.0),
    ]
    reasons = pd.Series(["", "sleeping_dog", "", "", "not_targeted"])
    out = actions_of(rows, policy_reason=reasons)
    assert out["action"].tolist() == ["suppress", "skip", "holdout", "send", "suppress"]
    assert out["reason"].tolist() == ["complaint", "sleeping_dog", "", "", "no_opt_in"]
    assert set(out["action"]) <= set(ACTIONS)


def test_policy_reason_defaults_to_policy_and_the_index_is_kept():
    out = choose_actions(
        pd.Series(["a", "b"], index=[7, 3]),
        pd.Series(["", ""], index=[7, 3]),
        pd.Series(["skip", "send"], index=[7, 3]),
        np.array([False, False]),
        np.array([0.1, 0.2]),
    )
    assert out.index.tolist() == [7, 3]
    assert out.to_dict("list") == {"action": ["skip", "send"], "reason": ["policy", ""]}


def test_budget_sends_the_highest_values_and_breaks_ties_by_id():
    rows = [
        ("c", "", "send", False, 5.0),
        ("b", "", "send", False, 5.0),
        ("a", "", "send", False, 5.0),
        ("z", "", "send", False, 9.0),
        ("y", "", "send", False, 1.0),
        ("x", "", "skip", False, 99.0),  # the policy's skip never enters the ranking
    ]
    out = actions_of(rows, budget=3)
    # z (9) then the tie at 5 in id order: a, b; c and y fall outside.
    assert out["action"].tolist() == ["skip", "send", "send", "send", "skip", "skip"]
    assert out["reason"].tolist() == ["budget", "", "", "", "budget", "policy"]
    reordered = actions_of(rows[::-1], budget=3)
    assert reordered["action"].tolist() == out["action"].tolist()[::-1]


def test_budget_cut_applies_alike_to_holdout_and_to_send():
    rows = [
        ("a", "", "send", False, 10.0),
        ("b", "", "send", True, 9.0),  # above the cut: holdout
        ("c", "", "send", False, 8.0),
        ("d", "", "send", True, 7.0),  # above the cut: holdout, uses no budget
        ("e", "", "send", False, 6.0),  # the 3rd non-holdout customer: the cut
        ("f", "", "send", True, 5.0),  # below the cut: skipped like g
        ("g", "", "send", False, 4.0),
    ]
    out = actions_of(rows, budget=3)
    assert out["action"].tolist() == ["send", "holdout", "send", "holdout", "send", "skip", "skip"]
    assert out["reason"].tolist()[5:] == ["budget", "budget"]


def test_a_tie_at_the_cut_treats_holdout_and_send_by_the_same_id_order():
    rows = [
        ("a", "", "send", True, 5.0),  # ties with the cut and its id comes first: holdout
        ("b", "", "send", False, 5.0),  # the cut
        ("c", "", "send", True, 5.0),  # ties, id after the cut: budget
        ("d", "", "send", False, 5.0),
    ]
    out = actions_of(rows, budget=1)
    assert out["action"].tolist() == ["holdout", "send", "skip", "skip"]


def test_budget_of_zero_and_budget_beyond_the_eligible():
    rows = [("a", "", "send", True, 1.0), ("b", "", "send", False, 2.0)]
    assert actions_of(rows, budget=0)["action"].tolist() == ["skip", "skip"]
    assert actions_of(rows, budget=10)["action"].tolist() == ["holdout", "send"]


def test_cost_per_send_keeps_only_positive_expected_profit_then_the_budget_ranks():
    rows = [
        ("a", "", "send", False, 0.50),
        ("b", "", "send", False, 0.20),  # value equal to the cost: no profit
        ("c", "", "send", True, 0.10),
        ("d", "", "send", False, 0.90),
        ("e", "", "send", False, 0.30),
    ]
    out = actions_of(rows, cost_per_send=0.2)
    assert out["action"].tolist() == ["send", "skip", "skip", "send", "send"]
    assert out["reason"].tolist() == ["", "unprofitable", "unprofitable", "", ""]
    both = actions_of(rows, cost_per_send=0.2, budget=2)
    assert both["reason"].tolist() == ["", "unprofitable", "unprofitable", "", "budget"]


def test_holdout_below_the_budget_is_comparable_to_send_in_every_segment():
    """Simulated campaign: holdout vs send recovers each segment's true lift among the sent."""
    rng = np.random.default_rng(21)
    n, share, budget = 400_000, 0.15, 100_000
    segment = rng.choice(["Champions", "At Risk", "Lost"], size=n, p=[0.2, 0.3, 0.5])
    base = {"Champions": 0.10, "At Risk": 0.05, "Lost": 0.02}
    # True uplift rises with a customer trait; the model sees it with noise.
    trait = rng.uniform(size=n)
    true_uplift = 0.08 * trait
    predicted = true_uplift + rng.normal(scale=0.01, size=n)
    ids = pd.Series(np.arange(n).astype(str))
    holdout = holdout_mask(holdout_draw(ids, "sim"), share)
    out = choose_actions(
        ids,
        pd.Series([""] * n),
        pd.Series(["send"] * n),
        holdout,
        predicted,
        budget=budget,
    )
    action = out["action"].to_numpy()
    assert (action == "send").sum() == budget
    sent, held = action == "send", action == "holdout"
    # The cut leaves holdout customers in proportion: share / (1 - share) per send.
    assert held.sum() == pytest.approx(budget * share / (1 - share), rel=0.03)
    p = np.vectorize(base.get)(segment) + np.where(sent, true_uplift, 0.0)
    converted = rng.uniform(size=n) < p
    for name in base:
        in_segment = segment == name
        s, h = sent & in_segment, held & in_segment
        # The groups are alike in what the e-mail would do to them …
        assert true_uplift[h].mean() == pytest.approx(true_uplift[s].mean(), abs=0.002), name
        # … so the observed difference estimates the true lift of the sent within noise.
        lift = converted[s].mean() - converted[h].mean()
        se = math.sqrt(
            converted[s].mean() * (1 - converted[s].mean()) / s.sum()
            + converted[h].mean() * (1 - converted[h].mean()) / h.sum()
        )
        assert lift == pytest.approx(true_uplift[s].mean(), abs=4 * se), name
    # Labelling every drawn customer "holdout" whatever their rank would not be comparable.
    everyone_drawn = holdout
    assert true_uplift[everyone_drawn].mean() < true_uplift[sent].mean() - 0.01


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"policy": pd.Series(["send", "maybe"])}, r"policy actions must be among .*\['maybe'\]"),
        ({"suppression": pd.Series(["", "spam"])}, r"suppression reasons must be .*\['spam'\]"),
        ({"holdout": np.array([0, 1])}, "holdout must be a boolean array; got dtype int64"),
        (
            {"holdout": np.array([True]), "incremental_value": np.array([1.0])},
            r"2 length mismatch\(es\): holdout has 1 rows, customer_ids 2; incremental_value",
        ),
        ({"budget": -1}, "budget must be an integer of 0 or more; got -1"),
        ({"budget": 2.5}, "budget must be an integer of 0 or more; got 2.5"),
        ({"cost_per_send": -0.1}, "cost_per_send must be a finite number of 0 or more"),
        (
            {"incremental_value": np.array([np.nan, 1.0]), "budget": 1},
            r"finite for customers the policy would send; 1 are not \(first: 'a'\)",
        ),
    ],
)
def test_choose_actions_refuses(kwargs, message):
    arguments = {
        "customer_ids": pd.Series(["a", "b"]),
        "suppression": pd.Series(["", ""]),
        "policy": pd.Series(["send", "send"]),
        "holdout": np.array([False, False]),
        "incremental_value": np.array([1.0, 2.0]),
    }
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        choose_actions(**arguments)


# --- economics -----------------------------------------------------------------------------------


def test_expected_value_and_incremental_profit():
    uplift = np.array([0.02, 0.0, -0.01])
    assert expected_value(uplift, 50.0).tolist() == pytest.approx([1.0, 0.0, -0.5])
    assert incremental_profit(uplift, 50.0, 0.25).tolist() == pytest.approx([0.75, -0.25, -0.75])


def test_campaign_economics_of_the_audience_and_of_everyone_who_may_be_emailed():
    frame = pd.DataFrame(
        {
            "action": ["send", "send", "holdout", "skip", "suppress"],
            "uplift": [0.04, 0.02, 0.03, -0.01, np.nan],  # the suppressed need no score
        }
    )
    economics = campaign_economics(frame, value_per_conversion=100.0, cost_per_send=0.5)
    assert economics["audience"] == pytest.approx(
        {
            "customers": 2,
            "incremental_conversions": 0.06,
            "incremental_revenue": 6.0,
            "cost": 1.0,
            "incremental_profit": 5.0,
        }
    )
    assert economics["everyone"] == pytest.approx(
        {
            "customers": 4,
            "incremental_conversions": 0.08,
            "incremental_revenue": 8.0,
            "cost": 2.0,
            "incremental_profit": 6.0,
        }
    )


@pytest.mark.parametrize(
    ("frame", "kwargs", "message"),
    [
        (pd.DataFrame({"action": ["send"]}), {}, r"needs columns \['uplift'\]"),
        (
            pd.DataFrame({"action": ["send"], "uplift": [0.1]}),
            {"cost_per_send": -1.0},
            "cost_per_send must be a finite number of 0 or more; got -1.0",
        ),
        (
            pd.DataFrame({"action": ["skip"], "uplift": [np.nan]}),
            {},
            r"uplift is missing for 1 customer\(s\) who are not suppressed",
        ),
    ],
)
def test_campaign_economics_refuses(frame, kwargs, message):
    arguments = {"value_per_conversion": 10.0, "cost_per_send": 0.1} | kwargs
    with pytest.raises(ValueError, match=message):
        campaign_economics(frame, **arguments)


# --- segment changes -----------------------------------------------------------------------------


def test_segment_changes_name_entries_exits_and_moves():
    previous = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e"],
            "priority_segment": ["At Risk", "Champions", "Lost", None, "Lost"],
            "campaign": "winback",
        }
    )
    current = pd.DataFrame(
        {
            "customer_id": ["f", "e", "d", "b", "a"],
            "priority_segment": ["New", "", "Lost", "Champions", "Lost"],
            "campaign": "winback",
        }
    )
    changes = segment_changes(previous, current)
    assert changes.to_dict("list") == {
        "customer_id": ["a", "c", "d", "e", "f"],
        "previous_segment": ["At Risk", "Lost", "", "Lost", ""],
        "segment": ["Lost", "", "Lost", "", "New"],
        "change": ["moved", "exited", "entered", "exited", "entered"],
    }
    counts = segment_change_counts(changes)
    assert counts.to_dict("index") == {
        "At Risk": {"entries": 0, "exits": 1},
        "Lost": {"entries": 2, "exits": 2},
        "New": {"entries": 1, "exits": 0},
    }


def test_segment_changes_match_integer_ids_to_their_strings_and_can_be_empty():
    previous = pd.DataFrame({"customer_id": [1, 2], "priority_segment": ["A", "B"]})
    current = pd.DataFrame({"customer_id": ["2", "1"], "priority_segment": ["B", "A"]})
    changes = segment_changes(previous, current)
    assert changes.empty
    assert list(changes.columns) == ["customer_id", "previous_segment", "segment", "change"]
    assert segment_change_counts(changes).empty


@pytest.mark.parametrize(
    ("previous", "current", "kwargs", "message"),
    [
        (
            pd.DataFrame({"customer_id": ["a"], "segment": ["A"]}),
            pd.DataFrame({"customer_id": ["a"], "priority_segment": ["A"]}),
            {},
            r"previous audience lacks column\(s\) \['priority_segment'\]",
        ),
        (
            pd.DataFrame({"customer_id": ["a"], "priority_segment": ["A"]}),
            pd.DataFrame({"id": ["a"], "priority_segment": ["A"]}),
            {},
            r"current audience lacks column\(s\) \['customer_id'\]",
        ),
        (
            pd.DataFrame({"customer_id": ["a"], "priority_segment": ["A"], "campaign": "spring"}),
            pd.DataFrame({"customer_id": ["a"], "priority_segment": ["A"]}),
            {"campaign": "winback"},
            r"previous audience file is of campaign\(s\) \['spring'\], not of this run's "
            r"campaign 'winback'",
        ),
        (
            pd.DataFrame({"customer_id": ["a"], "priority_segment": ["A"], "campaign": "spring"}),
            pd.DataFrame({"customer_id": ["a"], "priority_segment": ["A"], "campaign": "winter"}),
            {},
            r"campaign\(s\) \['spring'\], not of this run's campaign 'winter'",
        ),
        (
            pd.DataFrame({"customer_id": ["a", "a"], "priority_segment": ["A", "B"]}),
            pd.DataFrame({"customer_id": ["a"], "priority_segment": ["A"]}),
            {},
            r"previous audience repeats customer ids: \['a'\]",
        ),
    ],
)
def test_segment_changes_refuses(previous, current, kwargs, message):
    # An UpsegError: `upseg score --previous FILE` reports it as one line, exit 1.
    with pytest.raises(AudienceFileError, match=message):
        segment_changes(previous, current, **kwargs)
