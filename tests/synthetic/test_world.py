"""The synthetic world keeps the data contract and holds the truths it claims to hold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from upseg.features.contract import EMAIL_EVENT_TYPES, ORDER_STATUSES, WEB_EVENT_TYPES
from upseg.synthetic import (
    CAMPAIGN_ASSIGNED_AT,
    CAMPAIGN_ID,
    CAMPAIGN_VARIANTS,
    DEFAULT_END,
    DEFAULT_START,
    OUTCOME_WINDOW_DAYS,
    generate_world,
    write_world,
)

END = pd.Timestamp(DEFAULT_END, tz="UTC")
CAMPAIGN_DAY = pd.Timestamp(CAMPAIGN_ASSIGNED_AT, tz="UTC")
WINDOW = pd.Timedelta(days=OUTCOME_WINDOW_DAYS)
MAILED = ["sent", "delivered", "opened", "clicked"]
TREATMENTS = list(CAMPAIGN_VARIANTS[1:])

# kind of every contract column: id (str), ts (UTC, us), cat (closed set of strings), ...
SCHEMA = {
    "customers": {
        "customer_id": "id",
        "signup_at": "ts",
        "email_opt_in": "bool",
        "unsubscribed_at": "ts",
        "country": "cat",
        "gender": "cat",
        "birth_year": "int",
        "acquisition_channel": "cat",
        "loyalty_tier": "cat",
    },
    "orders": {
        "order_id": "id",
        "customer_id": "id",
        "ordered_at": "ts",
        "amount": "float",
        "category": "cat",
        "status": "cat",
        "discount": "float",
    },
    "email_events": {
        "customer_id": "id",
        "campaign_id": "cat",
        "event_type": "cat",
        "occurred_at": "ts",
    },
    "web_events": {
        "customer_id": "id",
        "session_id": "id",
        "event_type": "cat",
        "occurred_at": "ts",
        "category": "cat",
    },
    "campaign_assignments": {
        "customer_id": "id",
        "campaign_id": "cat",
        "variant": "cat",
        "assigned_at": "ts",
    },
}
ALLOWED = {
    ("customers", "country"): {"US", "GB", "DE", "FR", "ES"},
    ("customers", "gender"): {"F", "M", "U"},
    ("customers", "acquisition_channel"): {"organic", "paid_search", "social", "referral", "email"},
    ("customers", "loyalty_tier"): {"bronze", "silver", "gold"},
    ("orders", "status"): set(ORDER_STATUSES),
    ("orders", "category"): {"apparel", "shoes", "beauty", "home", "electronics", "sports"},
    ("email_events", "event_type"): set(EMAIL_EVENT_TYPES),
    ("web_events", "event_type"): set(WEB_EVENT_TYPES),
    ("campaign_assignments", "variant"): set(CAMPAIGN_VARIANTS),
}


@pytest.fixture(scope="module")
def world():
    return generate_world(3_000, seed=11)


@pytest.fixture(scope="module")
def big():
    """Large enough to recover effects of a few points within a few standard errors."""
    return generate_world(20_000, seed=7)


def campaign_outcomes(world) -> pd.DataFrame:
    """Assignments with truth, observed conversion and revenue in the outcome window."""
    arms = world.tables["campaign_assignments"].merge(world.truth, on="customer_id")
    orders = world.tables["orders"]
    done = orders[orders.status == "completed"].merge(arms[["customer_id", "assigned_at"]])
    inside = (done.ordered_at >= done.assigned_at) & (done.ordered_at < done.assigned_at + WINDOW)
    revenue = done[inside].groupby("customer_id").amount.sum()
    arms["revenue"] = arms.customer_id.map(revenue).fillna(0.0)
    arms["converted"] = (arms.revenue > 0).astype(float)
    arms["variant"] = arms.variant.astype(str)
    return arms


def lift(arms: pd.DataFrame, column: str, treated: pd.Series) -> tuple[float, float]:
    """Difference in means treated - control and its standard error."""
    t, c = arms.loc[treated, column], arms.loc[arms.variant == "control", column]
    return t.mean() - c.mean(), float(np.sqrt(t.var() / len(t) + c.var() / len(c)))


def test_same_seed_gives_the_same_world():
    a, b = generate_world(800, seed=5), generate_world(800, seed=5)
    for name in SCHEMA:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name])
    pd.testing.assert_frame_equal(a.truth, b.truth)


def test_another_seed_gives_another_world():
    a, b = generate_world(800, seed=5), generate_world(800, seed=6)
    assert not a.tables["orders"].equals(b.tables["orders"])
    assert not a.truth.purchase_rate.equals(b.truth.purchase_rate)


@pytest.mark.parametrize(
    ("table", "column", "kind"), [(t, c, k) for t, cols in SCHEMA.items() for c, k in cols.items()]
)
def test_contract_column_has_its_dtype(world, table, column, kind):
    dtype = world.tables[table][column].dtype
    if kind == "id":
        assert pd.api.types.is_string_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype)
    elif kind == "ts":
        assert dtype == pd.DatetimeTZDtype("us", "UTC")
    elif kind == "cat":
        assert isinstance(dtype, pd.CategoricalDtype)
        assert pd.api.types.is_string_dtype(dtype.categories.dtype)
    else:
        assert {
            "bool": pd.api.types.is_bool_dtype,
            "int": pd.api.types.is_integer_dtype,
            "float": pd.api.types.is_float_dtype,
        }[kind](dtype)


def test_tables_hold_exactly_the_contract_columns(world):
    assert {name: list(frame.columns) for name, frame in world.tables.items()} == {
        name: list(cols) for name, cols in SCHEMA.items()
    }


@pytest.mark.parametrize(("table", "column"), sorted(ALLOWED))
def test_closed_columns_take_only_allowed_values(world, table, column):
    assert set(world.tables[table][column].dropna().astype(str)) <= ALLOWED[(table, column)]


def test_ids_are_unique_and_refer_to_customers(world):
    t = world.tables
    assert t["customers"].customer_id.is_unique
    assert t["customers"].customer_id.str.fullmatch(r"C\d{7}").all()
    assert t["orders"].order_id.is_unique
    assert (t["web_events"].groupby("session_id").customer_id.nunique() == 1).all()
    assert t["campaign_assignments"].customer_id.is_unique
    known = set(t["customers"].customer_id)
    for name in ("orders", "email_events", "web_events", "campaign_assignments"):
        assert set(t[name].customer_id) <= known, name


def test_no_timestamp_at_or_after_end_nor_before_signup(world):
    signup = world.tables["customers"].set_index("customer_id").signup_at
    assert signup.min() >= pd.Timestamp(DEFAULT_START, tz="UTC")
    for name, cols in SCHEMA.items():
        frame = world.tables[name]
        for column in (c for c, kind in cols.items() if kind == "ts"):
            at = frame[column].dropna()
            assert (at < END).all(), (name, column)
            owner = frame.loc[at.index, "customer_id"].map(signup).to_numpy()
            assert (at.to_numpy() >= owner).all(), (name, column)


def test_no_mail_after_unsubscribing(world):
    events = world.tables["email_events"].merge(
        world.tables["customers"][["customer_id", "unsubscribed_at"]]
    )
    assert events.unsubscribed_at.notna().sum() > 0
    late = events.event_type.isin(MAILED) & (events.occurred_at > events.unsubscribed_at)
    assert not late.any()


def test_unsubscribed_at_is_the_first_unsubscribe_event(world):
    events = world.tables["email_events"]
    unsubs = events[events.event_type == "unsubscribed"]
    assert unsubs.customer_id.is_unique
    recorded = world.tables["customers"].set_index("customer_id").unsubscribed_at
    pd.testing.assert_series_equal(
        recorded.dropna().sort_index(),
        unsubs.groupby("customer_id").occurred_at.min().rename("unsubscribed_at").sort_index(),
        check_names=False,
    )


def test_complaints_stop_further_sends(world):
    events = world.tables["email_events"]
    complained = events[events.event_type == "complained"].groupby("customer_id").occurred_at.min()
    sent = events[events.event_type == "sent"]
    assert len(complained) > 0
    assert not (sent.occurred_at > sent.customer_id.map(complained)).any()


def test_orders_look_like_orders(world):
    orders = world.tables["orders"]
    assert (orders.amount >= 0).all() and (orders.discount >= 0).all()
    assert 0.6 < (orders.discount == 0).mean() < 0.95
    assert orders.status.value_counts(normalize=True)["completed"] == pytest.approx(0.92, abs=0.02)
    assert orders.category.nunique() == 6
    assert orders.amount.mean() == pytest.approx(60 * 0.97, rel=0.1)


def test_every_order_follows_a_checkout_within_the_hour(world):
    web = world.tables["web_events"]
    checkouts = web[web.event_type == "checkout_started"].sort_values("occurred_at")
    orders = world.tables["orders"].sort_values("ordered_at")
    matched = pd.merge_asof(
        orders,
        checkouts[["customer_id", "occurred_at"]],
        by="customer_id",
        left_on="ordered_at",
        right_on="occurred_at",
    )
    gap = matched.ordered_at - matched.occurred_at
    assert gap.notna().all() and (gap <= pd.Timedelta(hours=1)).all()


def test_volumes_and_rates_are_plausible(world):
    t, n = world.tables, len(world.tables["customers"])
    assert 30 <= len(t["email_events"]) / n <= 55
    assert 12 <= len(t["web_events"]) / n <= 28
    assert 2 <= len(t["orders"]) / n <= 5
    assert t["customers"].email_opt_in.mean() == pytest.approx(0.85, abs=0.03)
    kinds = t["email_events"].event_type.value_counts()
    assert 0.01 < kinds["bounced"] / kinds["sent"] < 0.04
    assert 0.1 < kinds["opened"] / kinds["delivered"] < 0.3
    newsletters = t["email_events"][t["email_events"].campaign_id.str.startswith("NL-")]
    sent = newsletters[newsletters.event_type == "sent"]
    assert (sent.occurred_at.dt.day_of_week == 0).all() and (sent.occurred_at.dt.hour == 9).all()


def test_only_eligible_customers_are_assigned_and_all_of_them(world):
    customers = world.tables["customers"]
    arms = world.tables["campaign_assignments"].merge(customers)
    assert (arms.signup_at < CAMPAIGN_DAY).all() and arms.email_opt_in.all()
    assert (arms.unsubscribed_at.isna() | (arms.unsubscribed_at > arms.assigned_at)).all()
    assert arms.assigned_at.between(
        CAMPAIGN_DAY + pd.Timedelta(hours=10), CAMPAIGN_DAY + pd.Timedelta(hours=12)
    ).all()
    assert (arms.campaign_id == CAMPAIGN_ID).all()
    events = world.tables["email_events"]
    bad_address = set(events.customer_id[events.event_type.isin(["bounced", "complained"])])
    clearly_eligible = customers[
        (customers.signup_at < CAMPAIGN_DAY)
        & customers.email_opt_in
        & ~(customers.unsubscribed_at < CAMPAIGN_DAY + pd.Timedelta(days=1))
        & ~customers.customer_id.isin(bad_address)
    ]
    assert set(clearly_eligible.customer_id) <= set(arms.customer_id)


def test_assignment_is_balanced(big):
    counts = big.tables["campaign_assignments"].variant.value_counts().to_numpy()
    expected = counts.sum() / len(CAMPAIGN_VARIANTS)
    statistic = float(((counts - expected) ** 2 / expected).sum())
    try:
        from scipy.stats import chisquare
    except ImportError:
        p_value = np.exp(-statistic / 2)  # chi-square survival function with 2 dof
    else:
        p_value = chisquare(counts).pvalue
    assert p_value > 0.001


def test_treated_customers_get_the_campaign_mail_and_control_does_not(world):
    arms = world.tables["campaign_assignments"]
    events = world.tables["email_events"]
    sent = events[(events.campaign_id == CAMPAIGN_ID) & (events.event_type == "sent")]
    treated = arms[arms.variant != "control"].set_index("customer_id").assigned_at
    assert set(sent.customer_id) == set(treated.index)
    assert (sent.set_index("customer_id").occurred_at == treated.loc[sent.customer_id]).all()


@pytest.mark.parametrize("variant", TREATMENTS)
def test_observed_lift_recovers_the_true_effect(big, variant):
    arms = campaign_outcomes(big)
    treated = arms.variant == variant
    observed, se = lift(arms, "converted", treated)
    true = arms.loc[treated, f"tau_conversion_{variant}"].mean()
    assert true > 0.01
    assert abs(observed - true) < 4 * se
    observed, se = lift(arms, "revenue", treated)
    assert abs(observed - arms.loc[treated, f"tau_revenue_{variant}"].mean()) < 4 * se


@pytest.mark.parametrize("variant", CAMPAIGN_VARIANTS)
def test_each_arm_converts_at_p0_plus_tau(big, variant):
    arms = campaign_outcomes(big)
    arm = arms[arms.variant == variant]
    tau = arm[f"tau_conversion_{variant}"] if variant != "control" else 0.0
    p = arm.baseline_conversion + tau
    z = (arm.converted - p).sum() / np.sqrt((p * (1 - p)).sum())
    assert abs(z) < 4


def test_segments_respond_as_their_names_say(big):
    arms = campaign_outcomes(big)
    treated = arms.variant != "control"

    def segment_lift(segment):
        return lift(
            arms[arms.uplift_segment == segment],
            "converted",
            treated[arms.uplift_segment == segment],
        )

    dog, dog_se = segment_lift("sleeping_dog")
    assert dog + 2 * dog_se < 0
    persuaded, persuaded_se = segment_lift("persuadable")
    assert persuaded - 2 * persuaded_se > 0
    assert arms.converted[arms.uplift_segment == "lost_cause"].sum() == 0
    sure = arms[arms.uplift_segment == "sure_thing"]
    assert sure.baseline_conversion.mean() > 2 * arms.baseline_conversion.mean()
    assert (sure[[f"tau_conversion_{v}" for v in TREATMENTS]] == 0).all().all()


def test_the_campaign_makes_sleeping_dogs_unsubscribe(big):
    arms = campaign_outcomes(big).merge(big.tables["customers"][["customer_id", "unsubscribed_at"]])
    dogs = arms[arms.uplift_segment == "sleeping_dog"].copy()
    dogs["left"] = (dogs.unsubscribed_at < dogs.assigned_at + WINDOW).astype(float)
    observed, se = lift(dogs, "left", dogs.variant != "control")
    assert observed > 0.02 and observed - 2 * se > 0


def test_truth_is_consistent_with_the_tables(world):
    truth = world.truth
    assigned = truth.customer_id.isin(world.tables["campaign_assignments"].customer_id)
    assert truth.baseline_conversion.notna().equals(assigned)
    assert truth.uplift_segment.notna().equals(assigned)
    for v in TREATMENTS:
        p = truth.baseline_conversion[assigned] + truth[f"tau_conversion_{v}"][assigned]
        assert p.between(0, 1).all()
    stage = truth.set_index("customer_id").lifecycle_stage_at_end.astype(str)
    churned_at = truth.set_index("customer_id").churned_at
    assert churned_at[stage.isin(["lapsing", "churned"])].notna().all()
    assert churned_at[stage.isin(["new", "active"])].isna().all()
    # after dropout the only completed orders are campaign win-backs of treated customers
    orders = world.tables["orders"].merge(world.tables["campaign_assignments"], how="left")
    late = orders[
        (orders.status == "completed") & (orders.ordered_at > orders.customer_id.map(churned_at))
    ]
    assert (
        late.variant.isin(TREATMENTS)
        & (late.ordered_at >= late.assigned_at)
        & (late.ordered_at < late.assigned_at + WINDOW)
    ).all()


def test_web_activity_rises_with_orders(world):
    web = world.tables["web_events"]
    checkouts = web.session_id[web.event_type == "checkout_started"]
    browsing = web[~web.session_id.isin(checkouts)].groupby("customer_id").session_id.nunique()
    ids = world.tables["customers"].customer_id
    n_orders = world.tables["orders"].customer_id.value_counts().reindex(ids, fill_value=0)
    sessions = browsing.reindex(ids, fill_value=0)
    assert np.corrcoef(sessions.rank(), n_orders.rank())[0, 1] > 0.2


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_write_world_round_trips(world, tmp_path, fmt):
    paths = write_world(world, tmp_path, fmt=fmt)
    assert set(paths) == {*SCHEMA, "truth"}
    assert paths["truth"] == tmp_path / "truth.parquet"
    pd.testing.assert_frame_equal(pd.read_parquet(paths["truth"]), world.truth)
    for name, cols in SCHEMA.items():
        assert paths[name] == tmp_path / f"{name}.{fmt}"
        if fmt == "parquet":
            pd.testing.assert_frame_equal(pd.read_parquet(paths[name]), world.tables[name])
            continue
        back = pd.read_csv(paths[name])
        for column, kind in cols.items():
            want = world.tables[name][column]
            if kind == "ts":
                got = pd.to_datetime(back[column], utc=True, format="ISO8601").dt.as_unit("us")
            else:
                got, want = back[column].astype(object), want.astype(object)
            pd.testing.assert_series_equal(got, want, check_dtype=False, obj=f"{name}.{column}")


def test_the_contract_validator_accepts_the_world(world, tmp_path):
    from upseg.features.sources import connect, find_table_files
    from upseg.features.validation import format_problems, validate_source

    write_world(world, tmp_path)
    result = validate_source(connect(threads=1), find_table_files(tmp_path), not_after=END)
    assert not result.problems, format_problems(result.problems)


def test_write_world_rejects_an_unknown_format(world, tmp_path):
    with pytest.raises(
        ValueError,
        match=r"'fmt' parameter of write_world must be one of "
        r"\('parquet', 'csv'\); got 'json' instead",
    ):
        write_world(world, tmp_path, fmt="json")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_customers": 0}, r"1 error\(s\).*'n_customers' must be a positive int; got 0"),
        ({"n_customers": 2.5}, r"'n_customers' must be a positive int; got 2.5"),
        (
            {"end": "2026-06-10"},
            r"must contain the campaign day 2026-06-01 and the 14 days after "
            r"it; got start='2023-07-01', end='2026-06-10'",
        ),
        ({"start": "2026-06-02"}, r"must contain the campaign day"),
        ({"start": "not a date"}, r"'start' and 'end' must be timestamps; got 'not a date'"),
        ({"n_customers": -1, "end": "2026-01-01"}, r"2 error\(s\)"),
    ],
)
def test_generate_world_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate_world(**{"n_customers": 10, **kwargs})


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 300),
    seed=st.integers(0, 2**32 - 1),
    start=st.dates(pd.Timestamp("2022-01-01").date(), pd.Timestamp("2026-05-30").date()),
    extra_days=st.integers(15, 400),
)
def test_any_world_keeps_time_and_unsubscribe_rules(n, seed, start, extra_days):
    end = CAMPAIGN_DAY + pd.Timedelta(days=extra_days)
    w = generate_world(n, seed=seed, start=str(start), end=end)
    signup = w.tables["customers"].set_index("customer_id").signup_at
    unsub = w.tables["customers"].set_index("customer_id").unsubscribed_at
    for name, cols in SCHEMA.items():
        frame = w.tables[name]
        for column in (c for c, kind in cols.items() if kind == "ts"):
            at = frame[column].dropna()
            assert (at < end).all() and (at >= pd.Timestamp(start, tz="UTC")).all()
            assert (at.to_numpy() >= frame.loc[at.index, "customer_id"].map(signup)).all()
    events = w.tables["email_events"]
    mailed = events[events.event_type.isin(MAILED)]
    assert not (mailed.occurred_at > mailed.customer_id.map(unsub)).any()
