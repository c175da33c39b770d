"""The family benchmark: its metrics on planted scores, and a tiny end-to-end run."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from benchmarks.bench_uplift_family import (
    CONFIGS,
    METRICS,
    ceiling,
    choose,
    main,
    policy_share,
    precision_recall,
    random_share,
    score_against_truth,
    sizing_ratio,
    top_weights,
    world_data,
)
from upseg.models.uplift.selection import holdout_split, select_approach


@pytest.fixture
def tau() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.normal(0.01, 0.02, 1003)


def test_top_weights_take_floor_k_n_and_share_the_places_of_ties():
    weights = top_weights(np.array([5.0, 1.0, 3.0, 3.0, 3.0, 0.0, 2.0, 4.0, 1.0, 0.5]), 0.3)
    # floor(0.3 * 10) = 3: 5 and 4 are in, one place left for the three 3s.
    np.testing.assert_allclose(weights, [1, 0, 1 / 3, 1 / 3, 1 / 3, 0, 0, 1, 0, 0])
    assert top_weights(np.arange(1003.0)).sum() == 200


def test_the_oracle_scores_one_and_the_reverse_order_the_bottom(tau):
    assert policy_share(tau, tau) == pytest.approx(1.0)
    assert policy_share(3 * tau + 7, tau) == pytest.approx(1.0)  # only the order counts
    bottom = np.sort(tau)[:200].sum() / np.sort(tau)[::-1][:200].sum()
    assert policy_share(-tau, tau) == pytest.approx(bottom)


def test_random_order_has_the_stated_expectation(tau):
    expected = 200 * tau.mean() / np.sort(tau)[::-1][:200].sum()
    assert random_share(tau) == pytest.approx(expected)
    # A constant score ties everyone: exactly the expectation over random orders.
    assert policy_share(np.zeros_like(tau), tau) == pytest.approx(expected)
    rng = np.random.default_rng(1)
    shares = [policy_share(rng.permutation(tau.size).astype(float), tau) for _ in range(2000)]
    se = np.std(shares, ddof=1) / math.sqrt(len(shares))
    assert abs(np.mean(shares) - expected) < 4 * se
    # It is 0.2 only when the top fifth holds all the effect.
    planted = np.r_[np.ones(200), np.zeros(800)]
    assert random_share(planted) == pytest.approx(0.2)


def test_sizing_ratio_is_predicted_over_true_among_the_top(tau):
    assert sizing_ratio(tau, tau, tau) == pytest.approx(1.0)
    assert sizing_ratio(tau, 3 * tau, tau) == pytest.approx(3.0)
    top = np.argsort(-tau)[:200]
    flat = np.full_like(tau, 0.01)
    assert sizing_ratio(tau, flat, tau) == pytest.approx(2.0 / tau[top].sum())


def test_precision_and_recall_by_hand():
    flagged = np.array([1, 1, 1, 0, 0, 0], dtype=bool)
    truth = np.array([1, 0, 0, 1, 0, 0], dtype=bool)
    assert precision_recall(flagged, truth) == (pytest.approx(1 / 3), pytest.approx(1 / 2))
    precision, recall = precision_recall(np.zeros(6, bool), truth)
    assert math.isnan(precision) and recall == 0.0


def test_dogs_are_scored_by_the_raw_sign_and_by_the_evidence_given():
    tau = {"a": np.array([-0.02, -0.01, 0.03, 0.01]), "b": np.array([-0.01, 0.02, 0.01, -0.03])}
    raw = {"a": np.array([-1.0, -1.0, 1.0, -1.0]), "b": np.array([-1.0, -1.0, -1.0, -1.0])}
    evidence = np.array([True, False, False, False])
    m = score_against_truth(raw, raw, evidence, tau)
    # true dog: both variants below 0, only the first customer; the raw sign flags 3
    assert m["true_dogs"] == 0.25
    assert (m["dogs_raw_precision"], m["dogs_raw_recall"], m["dogs_raw_flagged"]) == (
        pytest.approx(1 / 3),
        1.0,
        0.75,
    )
    assert (m["dogs_cal_precision"], m["dogs_cal_recall"], m["dogs_cal_flagged"]) == (
        1.0,
        1.0,
        0.25,
    )


def test_the_ceiling_ranks_by_a_regression_on_the_true_effect(tmp_path):
    data, truth = world_data("large-segments", 3000, 0, tmp_path)
    train_pos, test_pos = holdout_split(data.frame, test_size=0.3, random_state=0)
    bound = ceiling(data, data.frame.iloc[train_pos], data.frame.iloc[test_pos], truth, 0)
    # noise-free targets: far better than random, short of perfect
    assert 0.5 < bound["ceiling_share"] <= 1 and 0.3 < bound["ceiling_spearman"] < 1


def test_qini_choice_is_what_select_approach_picks_by_the_qini(tmp_path):
    data, _ = world_data("realistic", 1500, 0, tmp_path)
    train_pos, _ = holdout_split(data.frame, test_size=0.3, random_state=0)
    train = data.frame.iloc[train_pos]
    approaches = ["s_learner", "t_learner", "x_learner"]
    chosen = choose(data, train, approaches, 0, 1)
    today = select_approach(
        train,
        features=data.features,
        categorical=data.categorical,
        control=data.control,
        outcome=data.kind,
        approaches=approaches,
        random_state=0,
        criterion="qini",
    )
    assert chosen["qini"]["approach"] == today.best
    options = {
        "features": data.features,
        "categorical": data.categorical,
        "control": data.control,
        "outcome": data.kind,
        "approaches": approaches,
        "random_state": 0,
        "n_repeats": 1,
    }
    for config, prefer in (("default", "cheapest"), ("simplest", "simplest")):
        picked = select_approach(train, prefer=prefer, **options)
        assert chosen[config]["approach"] == picked.best, config
    assert chosen["s_small"] == {
        "approach": "s_learner",
        "params": {
            "num_leaves": 7,
            "min_child_samples": 300,
            "n_estimators": 200,
            "learning_rate": 0.05,
        },
    }


def test_a_tiny_run_writes_every_world_config_and_goal(tmp_path, capsys):
    out = tmp_path / "family.json"
    main(
        [
            "--worlds", "medium-dogs", "--customers", "1500", "--seeds", "0",
            "--n-repeats", "1", "--approaches", "s_learner", "t_learner", "--out", str(out),
        ]
    )  # fmt: skip
    results = json.loads(out.read_text())
    printed = capsys.readouterr().out
    assert "| medium-dogs | default |" in printed and "**family mean**" in printed
    assert set(results["worlds"]) == {"medium-dogs"}
    (run,) = results["worlds"]["medium-dogs"]
    assert set(run["configs"]) == set(CONFIGS)
    assert run["train"] + run["test"] == run["campaign_customers"]
    for config in run["configs"].values():
        m = config["metrics"]
        assert set(m) == set(METRICS)
        assert config["approach"] in ("s_learner", "t_learner")
        assert 0 < m["random_share"] < 1
        assert -1 <= m["policy_share"] <= 1
        assert 0 <= m["dogs_raw_flagged"] <= 1 and 0 <= m["dogs_cal_flagged"] <= 1
        assert 0.1 < m["true_dogs"] < 0.2  # medium-dogs: 15% sleeping dogs
    # The candidates walk 2 x 200 trees per variant; s_small's 300-customer leaves
    # cannot split this tiny world, and LightGBM stops after its first tree.
    trees = {name: config["metrics"]["trees"] for name, config in run["configs"].items()}
    assert trees == {"qini": 400, "default": 400, "simplest": 400, "s_small": 2}
    summary = results["summary"]
    assert summary["family_worlds"] == ["medium-dogs"]
    assert summary["family_mean"]["s_small"] == summary["per_world"]["medium-dogs"]["s_small"]
    for goals in summary["goals"].values():
        assert set(goals) == {
            "policy_share",
            "ratio_raw",
            "ratio_calibrated",
            "dogs_raw_precision",
            "dogs_cal_precision",
        }
        assert goals["policy_share"]["met"] == (goals["policy_share"]["value"] >= 0.75)
    assert results["machine"]["cores"] and results["seconds"] > 0
