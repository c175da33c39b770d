"""Without an uplift champion: the measured average effect of the best proven arm, or none."""

from __future__ import annotations

import math

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from upseg.models.tracking import local_tracking_uri
from upseg.serving.policy import DEFAULT_POLICY_PATH, assign_segments, load_policy
from upseg.serving.uplift_source import UpliftFallback, fallback_uplift


def effects(**by_variant: tuple[float, float, float]) -> dict[str, float]:
    """Metrics as ``upseg train uplift`` logs them: ``variant=(effect, ci_low, ci_high)``."""
    out = {}
    for v, (effect, low, high) in by_variant.items():
        out |= {f"ate_{v}": effect, f"ate_{v}_ci_low": low, f"ate_{v}_ci_high": high}
        out |= {f"ate_{v}_n_treatment": 1000.0, f"ate_{v}_n_control": 1000.0}
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One store for the module (creating one takes seconds); each test registers its own name."""
    client = MlflowClient(local_tracking_uri(tmp_path_factory.mktemp("fallback")))
    return client, client.create_experiment("upseg-uplift")


@pytest.fixture
def registry(store, request):
    """The store, and a model name of the test's own."""
    return store[0], store[1], request.node.name.split("[")[0][-40:]


def register(store: tuple, metrics: dict[str, float], *, gate: str = "held") -> str:
    """An uplift training run with ``metrics`` and a registered version of it, held by the gate."""
    client, experiment, name = store
    run = client.create_run(experiment)
    client.log_batch(
        run.info.run_id,
        metrics=[mlflow.entities.Metric(k, v, 0, 0) for k, v in metrics.items()],
        params=[
            mlflow.entities.Param("variants", "a,b"),
            mlflow.entities.Param("outcome_kind", "binary"),
        ],
        tags=[mlflow.entities.RunTag("gate", gate)],
    )
    if not client.search_registered_models(f"name='{name}'"):
        client.create_registered_model(name)
    mv = client.create_model_version(name, f"runs:/{run.info.run_id}/model", run.info.run_id)
    return str(mv.version)


def fallback(store: tuple, mode: str) -> UpliftFallback:
    client, _, name = store
    return fallback_uplift(client, mode, name=name)


def test_without_any_uplift_model_the_source_is_none(registry):
    got = fallback(registry, "average")
    assert got.source == "none" and got.uplift == 0.0 and got.variants == ()
    assert f"no {registry[2]!r} model was ever trained" in got.reason


def test_the_best_arm_whose_interval_lies_above_zero_is_everyones_uplift(registry):
    # a has the larger estimate but an interval reaching below zero; b is proven.
    register(registry, effects(a=(0.01, -0.02, 0.04), b=(0.03, -0.01, 0.07)))
    version = register(registry, effects(a=(0.03, -0.01, 0.07), b=(0.02, 0.01, 0.03)))
    got = fallback(registry, "average")
    assert got.source == "average_effect"
    assert got.measured_by == f"{registry[2]}:{version} (held by the gate)"  # the newest version
    assert (got.best_variant, got.uplift, got.uplifts) == ("b", 0.02, (0.0, 0.02))
    assert got.effect_text() == "+2.0 points [1.0, 3.0]"
    frame = got.predict_frame(pd.DataFrame(index=[4, 7]))
    assert list(frame.columns) == [
        "uplift_a",
        "uplift_b",
        "uplift",
        "best_variant",
        "evidence_of_uplift",
    ]
    # the measured effect's interval lies above zero: credibly positive, for everyone
    assert frame["evidence_of_uplift"].tolist() == ["positive", "positive"]
    assert frame.index.tolist() == [4, 7]
    assert frame["uplift"].eq(0.02).all() and frame["best_variant"].eq("b").all()
    message = got.describe(holdout=123)
    assert message.startswith(
        "no trusted uplift model: uplift = the best arm's measured average effect "
        f"(b +2.0 points [1.0, 3.0], measured by {got.measured_by}) for everyone"
    )
    assert message.endswith(
        "this run's randomized holdout (123 customers) is the training data for the next uplift "
        "model."
    )


def test_no_proven_arm_means_none_with_the_best_measured_one_named(registry):
    register(registry, effects(a=(0.004, -0.002, 0.01), b=(-0.001, -0.006, 0.004)))
    got = fallback(registry, "average")
    assert got.source == "none" and got.uplift == 0.0 and got.uplifts == (0.0, 0.0)
    assert got.best_variant == "a"
    assert "no variant's measured average effect has an interval above zero" in got.reason
    assert "a: +0.4 points [-0.2, 1.0]" in got.reason
    assert "uplift = 0 for everyone" in got.describe(holdout=0)
    assert "draws no randomized holdout" in got.describe(holdout=0)


def test_a_run_that_logged_no_average_effect_says_retrain(registry):
    version = register(registry, {"test_qini_auc_weighted": 0.01})
    got = fallback(registry, "average")
    assert got.source == "none"
    assert f"the training run of {registry[2]}:{version} logged no average effect" in got.reason


def test_none_ignores_a_proven_effect_but_names_its_arm(registry):
    register(registry, effects(a=(0.03, 0.01, 0.05), b=(0.02, 0.01, 0.03)))
    got = fallback(registry, "none")
    assert (got.source, got.uplift, got.best_variant) == ("none", 0.0, "a")
    assert got.reason == "--uplift-fallback none"
    assert math.isclose(got.to_dict()["effect"], 0.03)


def test_refuse_is_the_callers_business(registry):
    with pytest.raises(ValueError, match="'mode' must be 'average' or 'none'; got 'refuse'"):
        fallback(registry, "refuse")


SCORED = pd.DataFrame(
    {
        "customer_id": ["1", "2", "3", "4"],
        "purchase_probability": [0.9, 0.2, 0.6, 0.1],
        "churn_probability": [0.1, 0.7, 0.4, 0.2],
        "monetary_365d": [100.0, 0.0, 50.0, 10.0],
        "clv": [120.0, 0.0, 40.0, 12.0],
    }
)


@pytest.mark.parametrize(
    ("fallback", "quadrants"),
    [
        # The average effect reaches persuadable_min (0.01): everyone is a persuadable.
        (UpliftFallback("average_effect", ("a",), (0.02,), "a"), {"persuadable"}),
        # Below it, the purchase probability splits sure things from lost causes.
        (UpliftFallback("average_effect", ("a",), (0.005,), "a"), {"sure_thing", "lost_cause"}),
        (UpliftFallback("none", ("a",), (0.0,), "a"), {"sure_thing", "lost_cause"}),
    ],
)
def test_without_a_model_nobody_is_a_sleeping_dog(fallback, quadrants):
    # A policy that calls uplift <= 0 a sleeping dog and >= 0 a persuadable would, on a
    # model's uplift of 0, skip everyone or send everyone; without a model it does neither.
    policy = load_policy(DEFAULT_POLICY_PATH)
    edge = fallback.segmenting_policy(policy)
    assert edge.uplift.sure_thing_min_purchase == policy.uplift.sure_thing_min_purchase
    frame = pd.concat([SCORED, fallback.predict_frame(SCORED)], axis=1)
    out = assign_segments(frame, edge)
    assert set(out["uplift_quadrant"].astype(str)) == quadrants
    assert not out["policy_reason"].eq("sleeping_dog").any()
    expected = np.where(SCORED["purchase_probability"] >= 0.5, "sure_thing", "lost_cause")
    if quadrants != {"persuadable"}:
        assert out["uplift_quadrant"].astype(str).tolist() == expected.tolist()
