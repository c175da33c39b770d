"""Metrics against the synthetic truth: an oracle recovers it, a missing truth gives none."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from upseg.models.uplift.data import UpliftData
from upseg.synthetic import generate_world, read_truth, truth_metrics, write_world
from upseg.synthetic.truth import truth_arrays


def _experiment(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, UpliftData, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = np.array([f"C{i:07d}" for i in range(n)])
    tau = rng.uniform(-0.1, 0.3, n)
    truth = pd.DataFrame(
        {"customer_id": ids, "tau_conversion_a": tau, "tau_revenue_a": 50 * tau}
    ).set_index("customer_id")
    arm = rng.choice(["control", "a"], n)
    p = 0.2 + np.where(arm == "a", tau, 0.0)
    test = pd.DataFrame({"id": ids, "arm": arm, "outcome": (rng.random(n) < p).astype(int)})
    data = UpliftData(
        frame=test,
        features=(),
        categorical=(),
        control="control",
        variants=("a",),
        outcome="conversion",
        kind="binary",
    )
    return truth, data, test


def test_scores_equal_to_the_truth_rank_as_the_oracle():
    truth, data, test = _experiment()
    scores = pd.DataFrame({"uplift_a": truth["tau_conversion_a"].to_numpy()})
    metrics = truth_metrics(truth, data, test, scores)
    assert metrics["truth_spearman_a"] == pytest.approx(1.0)
    assert metrics["truth_oracle_share_a"] == pytest.approx(1.0)


def test_arrays_hold_the_control_and_variant_customers_with_their_true_effect():
    truth, data, test = _experiment()
    scores = pd.DataFrame({"uplift_a": np.zeros(len(test))})
    arrays = truth_arrays(truth, data, test, scores, "a")
    assert arrays is not None
    assert set(arrays) == {"y", "uplift", "tau", "t"}
    np.testing.assert_array_equal(arrays["t"], (test["arm"] == "a").astype(int))
    np.testing.assert_array_equal(arrays["tau"], truth["tau_conversion_a"].to_numpy())
    assert truth_arrays(truth, data, test, scores, "b") is None


def test_no_truth_gives_no_metrics(tmp_path):
    truth, data, test = _experiment()
    scores = pd.DataFrame({"uplift_a": np.zeros(len(test))})
    assert read_truth(None) is None
    assert read_truth(tmp_path) is None
    assert truth_metrics(None, data, test, scores) == {}


def test_read_truth_reads_what_write_world_writes(tmp_path):
    world = generate_world(200, seed=1)
    write_world(world, tmp_path)
    pd.testing.assert_frame_equal(read_truth(tmp_path), world.truth.set_index("customer_id"))
