"""The truth's expected revenue is what the world's customers go on to spend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad

from upseg.synthetic import (
    CAMPAIGN_ASSIGNED_AT,
    COMPLETED_SHARE,
    DEFAULT_END,
    clv_truth_metrics,
    expected_revenue,
    generate_world,
    write_world,
)
from upseg.synthetic.params import AMOUNT_SIGMA, YEAR
from upseg.synthetic.truth import read_truth

AS_OF, HORIZON = pd.Timestamp("2025-12-01", tz="UTC"), 180
WINDOW_END = AS_OF + pd.Timedelta(days=HORIZON)
SIGMAS = 4  # the total must fall within this many standard deviations of the order process


@pytest.fixture(scope="module")
def world():
    return generate_world(20_000, seed=4)


def realised(world, discount_rate: float = 0.0) -> pd.Series:
    """Completed revenue of each customer in the window, each order discounted from AS_OF."""
    orders = world.tables["orders"]
    rows = (
        (orders.status == "completed")
        & (orders.ordered_at >= AS_OF)
        & (orders.ordered_at < WINDOW_END)
    )
    days = (orders.ordered_at[rows] - AS_OF) / pd.Timedelta(days=1)
    amount = orders.amount[rows] * (1 + discount_rate) ** (-days / 365)
    ids = world.truth.customer_id
    return amount.groupby(orders.customer_id[rows]).sum().reindex(ids, fill_value=0.0)


def order_process_sd(truth: pd.DataFrame, expected: pd.Series) -> float:
    """Upper bound on the sd of total completed revenue given the latent traits.

    The orders are compound Poisson: Var = sum of mu * E[X^2] over customers, with
    mu their expected base orders and X an order's completed amount, whose second
    moment is at most COMPLETED_SHARE * aov^2 * exp(AMOUNT_SIGMA^2) (a discount only
    lowers it).
    """
    t = truth.set_index("customer_id")
    mu = expected / (COMPLETED_SHARE * t.expected_order_value)
    second = COMPLETED_SHARE * t.avg_order_value**2 * np.exp(AMOUNT_SIGMA**2)
    return float(np.sqrt((mu * second).sum()))


def test_the_window_avoids_the_campaign():
    # the campaign adds and removes orders from its assignment day on; the oracle leaves
    # them out, so the windows checked against realised revenue end before it
    assert pd.Timestamp(CAMPAIGN_ASSIGNED_AT, tz="UTC") >= WINDOW_END


@pytest.mark.parametrize("discount_rate", [0.0, 0.1])
def test_total_realised_revenue_is_the_expected_within_the_poisson_noise(world, discount_rate):
    expected = expected_revenue(world.truth, AS_OF, HORIZON, discount_rate=discount_rate)
    total = realised(world, discount_rate).sum()
    sd = order_process_sd(world.truth, expected_revenue(world.truth, AS_OF, HORIZON))
    assert abs(total - expected.sum()) < SIGMAS * sd
    assert sd < 0.015 * expected.sum()  # so that the check is tight: 4 sd < 6% of the total


def test_each_decile_of_expected_revenue_spends_what_it_is_expected_to(world):
    expected = expected_revenue(world.truth, AS_OF, HORIZON)
    spent = realised(world)
    # customers not active in the window have no base orders in it, hence no revenue
    assert (spent[expected == 0] == 0).all()
    active = expected > 0
    decile = pd.qcut(expected[active].rank(method="first"), 10, labels=False)
    for d in range(10):
        rows = active.index[active][decile == d]
        sd = order_process_sd(world.truth[world.truth.customer_id.isin(rows)], expected[rows])
        assert abs(spent[rows].sum() - expected[rows].sum()) < SIGMAS * sd, d
    top, bottom = spent[active][decile == 9].mean(), spent[active][decile == 0].mean()
    assert top > 50 * bottom


def test_discounting_lowers_the_value_of_active_customers_only(world):
    plain = expected_revenue(world.truth, AS_OF, HORIZON)
    discounted = expected_revenue(world.truth, AS_OF, HORIZON, discount_rate=0.1)
    active = plain > 0
    assert (discounted[active] < plain[active]).all()
    assert (discounted[~active] == 0).all()
    # a full window at 10% a year keeps between (1.1)^(-180/365) and 1 of the value
    assert discounted.sum() / plain.sum() == pytest.approx(0.977, abs=0.01)
    tiny = expected_revenue(world.truth, AS_OF, HORIZON, discount_rate=1e-12)
    np.testing.assert_allclose(tiny, plain, rtol=1e-9)


def test_discounted_revenue_equals_a_numeric_integral(world):
    truth = world.truth.set_index("customer_id")
    days = {
        c: ((truth[c] - AS_OF) / pd.Timedelta(days=1)).clip(0, HORIZON)
        for c in ("active_from", "active_until")
    }
    cases = {
        "whole window": (days["active_from"] == 0) & (days["active_until"] == HORIZON),
        "signs up in it": days["active_from"].between(1, HORIZON - 1),
        "drops out in it": (days["active_from"] == 0)
        & days["active_until"].between(1, HORIZON - 1),
    }
    ids = [mask[mask].index[0] for mask in cases.values()]
    got = expected_revenue(world.truth, AS_OF, HORIZON, discount_rate=0.25)
    for c in ids:
        per_day = truth.purchase_rate[c] / YEAR * COMPLETED_SHARE * truth.expected_order_value[c]
        area, _ = quad(
            lambda t: 1.25 ** (-t / 365), days["active_from"][c], days["active_until"][c]
        )
        assert got[c] == pytest.approx(per_day * area, rel=1e-9), c


def test_the_truth_holds_the_value_columns(world):
    truth = world.truth
    assert (truth.active_until >= truth.active_from).all()
    before_end = truth.churned_at.notna()
    assert truth.active_until[before_end].equals(truth.churned_at[before_end])
    assert (truth.active_until[~before_end] >= pd.Timestamp(DEFAULT_END, tz="UTC")).all()
    assert (truth.world_end == pd.Timestamp(DEFAULT_END, tz="UTC")).all()
    # a discount of 10-20% on at most 60% of orders: the mean order keeps 82-100% of aov
    share = truth.expected_order_value / truth.avg_order_value
    assert share.between(0.82, 1.0).all()


def test_a_world_with_its_own_end_keeps_it():
    end = "2026-08-15 06:30"
    truth = generate_world(300, seed=1, end=end).truth
    assert (truth.world_end == pd.Timestamp(end, tz="UTC")).all()
    expected_revenue(truth, "2026-08-01 06:30", 14)  # ends exactly at the world's end
    with pytest.raises(ValueError, match="must not pass the world's end 2026-08-15 06:30:00"):
        expected_revenue(truth, "2026-08-01 06:31", 14)


def test_the_written_truth_gives_the_same_values(world, tmp_path):
    write_world(world, tmp_path)
    from_file = expected_revenue(read_truth(tmp_path), "2025-12-01", HORIZON)
    pd.testing.assert_series_equal(from_file, expected_revenue(world.truth, AS_OF, HORIZON))
    assert from_file.index.name == "customer_id"


def test_the_oracle_scores_perfectly_and_a_reversed_ranking_poorly(world):
    expected = expected_revenue(world.truth, AS_OF, HORIZON)
    ids = expected.index
    oracle = clv_truth_metrics(world.truth, ids, expected.to_numpy(), AS_OF, HORIZON)
    assert oracle == pytest.approx({"truth_spearman": 1.0, "truth_top_decile_share": 1.0})
    reversed_ = clv_truth_metrics(world.truth, ids, -expected.to_numpy(), AS_OF, HORIZON)
    assert reversed_["truth_spearman"] == pytest.approx(-1.0)
    assert reversed_["truth_top_decile_share"] == 0.0
    observed = clv_truth_metrics(world.truth, ids, realised(world).to_numpy(), AS_OF, HORIZON)
    assert 0.6 < observed["truth_spearman"] < 1.0
    assert 0.7 < observed["truth_top_decile_share"] < 1.0


def test_top_decile_share_by_hand_and_ties_at_their_mean():
    truth = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(20)],
            "purchase_rate": np.arange(1.0, 21.0),
            "expected_order_value": 50.0,
            "active_from": pd.Timestamp("2024-01-01", tz="UTC"),
            "active_until": pd.Timestamp("2027-01-01", tz="UTC"),
            "world_end": pd.Timestamp("2026-07-01", tz="UTC"),
        }
    )
    ids = truth.customer_id[::-1]  # any order
    expected = expected_revenue(truth, "2025-01-01", 365)[ids].to_numpy()
    # the model's top two (of 20) are c18 and c0, the oracle's c19 and c18
    predicted = np.where(ids.isin(["c18", "c0"]), 2.0, 0.0)
    metrics = clv_truth_metrics(truth, ids, predicted, "2025-01-01", 365)
    assert metrics["truth_top_decile_share"] == pytest.approx((19 + 1) / (20 + 19))
    assert metrics["truth_spearman"] == pytest.approx(
        pd.Series(predicted).corr(pd.Series(expected), method="spearman")
    )
    # all tied: the two places go at the mean rate, 10.5
    tied = clv_truth_metrics(truth, ids, np.zeros(20), "2025-01-01", 365)
    assert tied["truth_top_decile_share"] == pytest.approx(2 * 10.5 / 39)
    assert np.isnan(tied["truth_spearman"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"as_of": "2026-01-15"},
            r"1 error\(s\) in expected_revenue arguments: as_of \+ horizon_days must not pass "
            r"the world's end 2026-07-01 00:00:00\+00:00 \(base orders stop there\); got "
            r"as_of=2026-01-15 00:00:00\+00:00, horizon_days=180, ending 2026-07-14",
        ),
        (
            {"discount_rate": -0.05},
            r"'discount_rate' must be a finite number >= 0; got -0.05",
        ),
        ({"discount_rate": float("inf")}, r"'discount_rate' must be a finite number >= 0; got inf"),
        ({"horizon_days": 0}, r"'horizon_days' must be a positive int; got 0"),
        ({"horizon_days": 180.0}, r"'horizon_days' must be a positive int; got 180.0"),
        ({"as_of": "soon"}, r"'as_of' must be a timestamp; got 'soon'"),
        ({"as_of": None}, r"'as_of' must be a timestamp; got None"),
        (
            {"horizon_days": -1, "discount_rate": -1.0},
            r"2 error\(s\) in expected_revenue arguments: 'horizon_days' .* 'discount_rate'",
        ),
        (
            {"horizon_days": 365, "discount_rate": -1.0},
            r"2 error\(s\) in expected_revenue arguments: 'discount_rate' .* the world's end",
        ),
    ],
)
def test_bad_arguments_are_named(world, kwargs, message):
    args = {"as_of": AS_OF, "horizon_days": HORIZON, "discount_rate": 0.0} | kwargs
    with pytest.raises(ValueError, match=message):
        expected_revenue(
            world.truth, args["as_of"], args["horizon_days"], discount_rate=args["discount_rate"]
        )


def test_an_old_truth_is_named_with_its_missing_columns(world):
    old = world.truth.drop(columns=["active_from", "world_end"])
    with pytest.raises(
        ValueError, match=r"'truth' lacks the columns \['active_from', 'world_end'\]"
    ):
        expected_revenue(old, AS_OF, HORIZON)


def test_customers_missing_from_the_truth_are_counted_with_examples(world):
    ids = [*world.truth.customer_id[:5], "X1", "X2", "X3", "X4"]
    with pytest.raises(
        ValueError,
        match=r"4 of 9 'customer_ids' are not in the truth \(e.g. \['X1', 'X2', 'X3'\]\)",
    ):
        clv_truth_metrics(world.truth, ids, np.ones(9), AS_OF, HORIZON)


@pytest.mark.parametrize(
    ("n_ids", "predicted", "message"),
    [
        (
            3,
            np.ones(2),
            r"'customer_ids' and 'predicted' must have the same positive length; "
            r"got 3 and 2",
        ),
        (2, [1.0, np.nan], r"'predicted' must be finite; got 1 NaN or infinite values"),
        (0, np.ones(0), r"same positive length; got 0 and 0"),
    ],
)
def test_bad_predictions_are_named(world, n_ids, predicted, message):
    customer_ids = list(world.truth.customer_id[:n_ids])
    with pytest.raises(ValueError, match=message):
        clv_truth_metrics(world.truth, customer_ids, predicted, AS_OF, HORIZON)


def test_metrics_report_every_problem_at_once(world):
    ids = [world.truth.customer_id[0], world.truth.customer_id[0], "X9"]
    with pytest.raises(ValueError, match=r"3 error\(s\) in clv_truth_metrics arguments") as err:
        clv_truth_metrics(world.truth, ids, np.ones(3), AS_OF, HORIZON, -0.1)
    assert "'discount_rate'" in str(err.value)
    assert "each customer once; 1 repeat (e.g. ['C0000001'])" in str(err.value)
    assert "1 of 3 'customer_ids' are not in the truth (e.g. ['X9'])" in str(err.value)
