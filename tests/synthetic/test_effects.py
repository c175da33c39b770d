"""The family of worlds: each world's true effects have the size, dogs and drivers it claims."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from upseg.synthetic import (
    CAMPAIGN_ASSIGNED_AT,
    CAMPAIGN_VARIANTS,
    DEFAULT_EFFECTS,
    WORLD_FAMILY,
    EffectSpec,
    EffectSpecError,
    effect_summary,
    generate_world,
    simulate_campaign,
    world_effects,
    world_names,
)
from upseg.synthetic._effects import calibrate_gain, index_effects, normal_scores

TREATMENTS = list(CAMPAIGN_VARIANTS[1:])
TAU = [f"tau_conversion_{v}" for v in TREATMENTS]
TABLES = ("customers", "orders", "email_events", "web_events", "campaign_assignments")
N, SEED = 3_000, 1


@pytest.fixture(scope="module")
def family():
    return {spec.name: generate_world(N, seed=SEED, effects=spec) for spec in WORLD_FAMILY}


def campaign(world) -> pd.DataFrame:
    """Assigned customers with their truth and the observed signup and assignment times."""
    return (
        world.tables["campaign_assignments"]
        .merge(world.truth, on="customer_id")
        .merge(world.tables["customers"], on="customer_id")
    )


def assert_same_world(a, b, tables=TABLES) -> None:
    for name in tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name], obj=name)
    pd.testing.assert_frame_equal(a.truth, b.truth, obj="truth")


# ------------------------------------------------------------------ the default world


def test_the_default_effects_are_the_default_world():
    assert_same_world(
        generate_world(1_500, seed=5), generate_world(1_500, seed=5, effects=DEFAULT_EFFECTS)
    )
    assert (
        world_effects("default") is DEFAULT_EFFECTS
        and EffectSpec(name="default") == DEFAULT_EFFECTS
    )


def test_the_default_world_keeps_the_truth_it_had():
    # computed once with the generator before effects were configurable (seed 7, 3,000 customers)
    truth = generate_world(3_000, seed=7).truth
    arms = truth[truth.baseline_conversion.notna()]
    assert len(arms) == 2287
    assert arms[TAU[0]].sum() == pytest.approx(72.18316727997222, rel=1e-12)
    assert arms[TAU[1]].sum() == pytest.approx(54.94020312114719, rel=1e-12)
    assert arms["tau_revenue_discount_10"].sum() == pytest.approx(3832.933431890141, rel=1e-12)
    assert arms.baseline_conversion.sum() == pytest.approx(160.54537981311626, rel=1e-12)
    assert arms.uplift_segment.value_counts().to_dict() == {
        "persuadable": 1106,
        "lost_cause": 938,
        "sleeping_dog": 178,
        "sure_thing": 65,
    }


# ------------------------------------------------------------------ the family


def test_specs_compare_and_hash_by_value():
    spec = WORLD_FAMILY[2]
    twin = dataclasses.replace(spec, description="another text", drivers=dict(spec.drivers))
    assert twin == spec and hash(twin) == hash(spec) and len({spec, twin, DEFAULT_EFFECTS}) == 2
    assert dataclasses.replace(spec, drivers={"tenure": 1.0}) != spec
    with pytest.raises(TypeError):
        spec.drivers["tenure"] = 1.0  # type: ignore[index]


def test_the_family_spans_small_to_large_effects_with_unique_names():
    sizes = sorted(spec.mean_effect for spec in WORLD_FAMILY)
    assert len(WORLD_FAMILY) >= 5 and sizes[0] <= 0.3 and sizes[-1] >= 5
    assert world_names() == ("default", *(spec.name for spec in WORLD_FAMILY))
    assert len(set(world_names())) == len(world_names())
    assert {spec.shape for spec in WORLD_FAMILY} == {"segments", "step", "smooth"}
    assert any(spec.irrelevant_columns for spec in WORLD_FAMILY)
    assert all(spec.description for spec in (DEFAULT_EFFECTS, *WORLD_FAMILY))
    for spec in WORLD_FAMILY:
        assert world_effects(spec.name) is spec


@pytest.mark.parametrize("spec", WORLD_FAMILY, ids=lambda s: s.name)
def test_the_mean_true_effect_is_the_target(family, spec):
    tau = campaign(family[spec.name])[TAU].to_numpy()
    assert 100 * tau.mean() == pytest.approx(spec.mean_effect, abs=1e-6)


@pytest.mark.parametrize("spec", WORLD_FAMILY, ids=lambda s: s.name)
def test_sleeping_dogs_are_the_share_asked_for_and_the_only_ones_hurt(family, spec):
    arms = campaign(family[spec.name])
    tau = arms[TAU].to_numpy()
    dogs = (arms.uplift_segment == "sleeping_dog").to_numpy()
    assert (tau[dogs] < 0).all() and (tau[~dogs] >= 0).all()
    assert (tau + arms.baseline_conversion.to_numpy()[:, None] >= 0).all()
    if spec.sleeping_dogs is not None:
        assert dogs.mean() == pytest.approx(spec.sleeping_dogs, abs=1 / len(arms))
        if dogs.any():
            loss = -100 * tau[dogs].mean()
            assert loss == pytest.approx(spec.dog_effect * spec.mean_effect, rel=0.05)


@pytest.mark.parametrize(
    "spec", [s for s in WORLD_FAMILY if s.shape != "segments"], ids=lambda s: s.name
)
def test_the_variants_differ_by_their_ratio(family, spec):
    means = campaign(family[spec.name])[TAU].mean()
    assert means.iloc[1] / means.iloc[0] == pytest.approx(spec.variant_ratio, rel=0.02)


def converted_in_window(world, arms: pd.DataFrame) -> np.ndarray:
    """Whether each assigned customer completed an order in the 14 days after assignment."""
    orders = world.tables["orders"].merge(arms[["customer_id", "assigned_at"]])
    window = pd.Timedelta(days=14)
    inside = (orders.status == "completed") & orders.ordered_at.between(
        orders.assigned_at, orders.assigned_at + window, inclusive="left"
    )
    return arms.customer_id.isin(orders.customer_id[inside]).to_numpy()


@pytest.mark.parametrize("spec", WORLD_FAMILY, ids=lambda s: s.name)
@pytest.mark.parametrize("variant", CAMPAIGN_VARIANTS)
def test_each_arm_buys_at_its_baseline_plus_its_true_effect(family, spec, variant):
    world = family[spec.name]
    arms = campaign(world)
    arms = arms[arms.variant == variant]
    converted = converted_in_window(world, arms)
    p = arms.baseline_conversion.to_numpy()
    if variant != "control":
        p = p + arms[f"tau_conversion_{variant}"].to_numpy()
    z = (converted - p).sum() / np.sqrt((p * (1 - p)).sum())
    assert abs(z) < 4


@pytest.mark.parametrize(
    "spec", [s for s in WORLD_FAMILY if s.irrelevant_columns], ids=lambda s: s.name
)
def test_irrelevant_columns_carry_no_signal(family, spec):
    world = family[spec.name]
    names = [f"attr_{j:02d}" for j in range(1, spec.irrelevant_columns + 1)]
    assert list(world.tables["customers"].columns[-len(names) :]) == names
    arms = campaign(world)
    for name in names:
        column = arms[name]
        values = column.cat.codes if isinstance(column.dtype, pd.CategoricalDtype) else column
        for tau in TAU:
            assert abs(np.corrcoef(values.astype(float), arms[tau])[0, 1]) < 4 / np.sqrt(len(arms))
    # and nothing else in the world depends on them
    without = generate_world(N, seed=SEED, effects=dataclasses.replace(spec, irrelevant_columns=0))
    pd.testing.assert_frame_equal(
        world.tables["customers"].drop(columns=names), without.tables["customers"]
    )
    assert_same_world(world, without, tables=TABLES[1:])


# ------------------------------------------------------------------ drivers and shapes


def observed_drivers(world) -> pd.DataFrame:
    """Tenure and recency at assignment in days, computed from the contract tables alone."""
    arms = campaign(world)
    orders = world.tables["orders"].merge(arms[["customer_id", "assigned_at"]])
    before = orders[(orders.status == "completed") & (orders.ordered_at < orders.assigned_at)]
    last = before.groupby("customer_id").ordered_at.max()
    last = arms.customer_id.map(last).fillna(arms.signup_at).clip(lower=arms.signup_at)
    day = pd.Timedelta(days=1)
    return arms.assign(
        tenure=(arms.assigned_at - arms.signup_at) / day,
        recency=(arms.assigned_at - last) / day,
    )


@pytest.mark.parametrize(("driver", "weight"), [("tenure", 1.0), ("recency", -1.0)])
def test_a_smooth_effect_follows_its_observed_driver(driver, weight):
    spec = EffectSpec(shape="smooth", mean_effect=2.0, drivers={driver: weight}, heterogeneity=0.5)
    arms = observed_drivers(generate_world(1_500, seed=2, effects=spec))
    for tau in TAU:
        rho = spearmanr(arms[driver], arms[tau]).statistic
        assert np.sign(weight) * rho > 0.99


def test_a_step_effect_takes_one_value_per_rule_cell():
    spec = EffectSpec(
        shape="step", mean_effect=1.0, drivers={"tenure": 1.0, "engagement": 2.0}, heterogeneity=0.5
    )
    arms = observed_drivers(generate_world(1_500, seed=2, effects=spec))
    cell = arms.tenure > arms.tenure.median()
    values = arms.groupby(cell)[TAU[0]].unique()
    assert len(arms[TAU[0]].round(12).unique()) == 4  # capped effects aside, 2 x 2 cells
    assert values[True].mean() > values[False].mean()


def test_no_heterogeneity_gives_every_customer_one_effect():
    spec = EffectSpec(
        shape="smooth", mean_effect=1.0, drivers={"engagement": 1.0}, heterogeneity=0.0
    )
    tau = campaign(generate_world(1_000, seed=3, effects=spec))[TAU]
    assert np.allclose(tau, 0.01)


def test_more_heterogeneity_spreads_the_effects_more():
    spreads = [
        campaign(
            generate_world(
                1_000,
                seed=3,
                effects=EffectSpec(
                    shape="smooth", mean_effect=1.0, drivers={"engagement": 1.0}, heterogeneity=h
                ),
            )
        )[TAU[0]].std()
        for h in (0.25, 1.0, 2.0)
    ]
    assert spreads[0] < spreads[1] < spreads[2]


def test_every_world_of_a_seed_shares_its_customers_and_history(family):
    first, *others = family.values()
    others = [others[0], others[-1]]  # with the first: smooth, step and segment rules
    day = pd.Timestamp(CAMPAIGN_ASSIGNED_AT, tz="UTC")
    for other in others:
        pd.testing.assert_frame_equal(
            first.tables["campaign_assignments"], other.tables["campaign_assignments"]
        )
        # unsubscribes after the campaign differ: sleeping dogs leave
        same = [c for c in first.tables["customers"].columns[:9] if c != "unsubscribed_at"]
        pd.testing.assert_frame_equal(
            first.tables["customers"][same], other.tables["customers"][same]
        )
        for name, at in (("orders", "ordered_at"), ("email_events", "occurred_at")):
            before, after = (w.tables[name] for w in (first, other))
            pd.testing.assert_frame_equal(
                before[before[at] < day].reset_index(drop=True),
                after[after[at] < day].reset_index(drop=True),
            )


def test_the_summary_agrees_with_scipy_and_the_tables(family):
    world = family["realistic"]
    arms = campaign(world)
    summary = effect_summary(world)
    assert summary["assigned"] == len(arms)
    assert summary["mean_effect"] == pytest.approx(1.0)
    rho = spearmanr(arms[TAU[0]], arms[TAU[1]]).statistic
    assert summary["variant_spearman"] == pytest.approx(rho)
    y, sent = converted_in_window(world, arms), (arms.variant != "control").to_numpy()
    a, b = y[sent], y[~sent]
    assert summary["observed_lift"] == pytest.approx(100 * (a.mean() - b.mean()))
    se = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    assert summary["observed_lift_se"] == pytest.approx(100 * se)


def test_normal_scores_match_scipy_and_share_ties():
    from scipy.stats import norm, rankdata

    x = np.array([3.0, 1.0, 2.0, 2.0, 5.0, 4.0])
    np.testing.assert_allclose(normal_scores(x), norm.ppf((rankdata(x) - 0.5) / x.size))


def test_calibrate_gain_reaches_the_target_through_caps():
    positive = np.array([1.0, 2.0, 4.0, 0.0])
    cap = np.array([0.5, 1.0, 1.0, 0.0])
    fixed = np.array([0.0, 0.0, 0.0, -0.2])
    gain = calibrate_gain(positive, fixed, cap, 0.3)
    assert np.mean(fixed + np.minimum(gain * positive, cap)) == pytest.approx(0.3)
    with pytest.raises(EffectSpecError, match="cannot be reached"):
        calibrate_gain(positive, fixed, cap, 0.7)


def test_simulating_a_campaign_reads_any_worlds_truth(family):
    truth = family["realistic"].truth
    arms = truth[truth.baseline_conversion.notna()].head(200)
    audience = pd.DataFrame(
        {"customer_id": arms.customer_id, "action": "send", "best_variant": "new_arrivals"}
    )
    out = simulate_campaign(truth, audience, assigned_at=pd.Timestamp("2026-07-01", tz="UTC"))
    p0 = out.baseline_probability.to_numpy()
    expected = np.clip(p0 + arms[TAU[1]].to_numpy(), 0, 1) - p0
    np.testing.assert_allclose(out.true_uplift, expected)
    assert (out.true_uplift != 0).any()


# ------------------------------------------------------------------ bad specs


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"shape": "smooth", "mean_effect": 7.0, "drivers": {"engagement": 1}},
            r"'mean_effect' must be a number in \[0.3, 5\] \(percentage points\); got 7.0",
        ),
        (
            {"shape": "smooth", "drivers": {"engagement": 1}},
            r"'mean_effect' must be set for shape 'smooth'.*got None",
        ),
        (
            {"shape": "step", "mean_effect": 1, "sleeping_dogs": 0.5, "drivers": {"tenure": 1}},
            r"'sleeping_dogs' must be a number in \[0, 0.3\].*got 0.5",
        ),
        (
            {"shape": "smooth", "mean_effect": 1, "drivers": {"shoe_size": 1}},
            r"'drivers' names unknown driver 'shoe_size'; known: \['engagement'",
        ),
        (
            {"shape": "smooth", "mean_effect": 1, "drivers": {"tenure": 0}},
            r"'drivers' weight of 'tenure' must be a nonzero number in \[-10, 10\]; got 0",
        ),
        ({"shape": "smooth", "mean_effect": 1}, r"'drivers' must weight at least one of"),
        (
            {
                "shape": "smooth",
                "mean_effect": 1,
                "drivers": {"tenure": 1},
                "variant_drivers": {"promo": {"tenure": 1}},
            },
            r"'variant_drivers' names unknown variant 'promo'; "
            r"known: \['discount_10', 'new_arrivals'\]",
        ),
        (
            {"shape": "smooth", "mean_effect": 1, "drivers": {"tenure": 1}, "heterogeneity": -1},
            r"'heterogeneity' must be a number in \[0, 3\].*got -1",
        ),
        (
            {"shape": "smooth", "mean_effect": 1, "drivers": {"tenure": 1}, "variant_ratio": 9},
            r"'variant_ratio' must be a number in \[0.25, 4\].*got 9",
        ),
        (
            {"irrelevant_columns": 2.5},
            r"'irrelevant_columns' must be an int in \[0, 100\] "
            r"\(extra customer columns\); got 2.5",
        ),
        ({"shape": "wavy"}, r"'shape' must be one of \('segments', 'step', 'smooth'\); got 'wavy'"),
        (
            {"drivers": {"tenure": 1}},
            r"'drivers' applies to shapes 'step' and 'smooth'; shape 'segments'",
        ),
        ({"sleeping_dogs": 0.1}, r"'sleeping_dogs' applies to shapes 'step' and 'smooth'"),
        (
            {"name": "My World"},
            r"'name' must be lower-case letters, digits and '-'; got 'My World'",
        ),
    ],
)
def test_a_bad_spec_names_the_field_the_range_and_the_value(kwargs, message):
    with pytest.raises(EffectSpecError, match=message):
        EffectSpec(**kwargs)


def test_every_problem_of_a_spec_is_listed_at_once():
    with pytest.raises(
        EffectSpecError, match=r"EffectSpec 'x': 2 problem\(s\): 'mean_effect'.*; 'heterogeneity'"
    ):
        EffectSpec(
            name="x", shape="smooth", mean_effect=0.1, drivers={"tenure": 1}, heterogeneity=4
        )


def test_an_unknown_world_lists_the_known_ones():
    with pytest.raises(
        EffectSpecError,
        match=r"No synthetic world is named 'huge'; choose one of \['default', 'tiny-smooth'",
    ):
        world_effects("huge")


def test_generate_world_refuses_what_is_not_a_spec():
    with pytest.raises(EffectSpecError, match="must be an EffectSpec; got 'realistic'"):
        generate_world(100, effects="realistic")  # type: ignore[arg-type]


def test_too_many_sleeping_dogs_for_the_buyers_is_a_clear_error():
    spec = EffectSpec(shape="smooth", mean_effect=1.0, sleeping_dogs=0.3, drivers={"tenure": 1.0})
    n = 20
    ctx = {"assigned": np.full(n, 100.0), "signup": np.arange(n, dtype=float), "lam": np.ones(n)}
    p0 = np.where(np.arange(n) < 5, 0.1, 0.0)  # 5 would buy; 6 dogs are asked for
    with pytest.raises(
        EffectSpecError, match=r"'sleeping_dogs' of 0.3 needs 6 customers who would buy .* 5 of 20"
    ):
        index_effects(spec, ctx, p0, np.ones(n, bool), np.random.default_rng(0))
