"""The uplift benchmark: its small helpers, the tutorial's split, and a small end-to-end run."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from benchmarks.bench_uplift import (
    HILLSTROM_FILE,
    main,
    mean_sd,
    noise_free_oracle_share,
    oracle_share_spread,
    ordered_target_encoding,
    summarize,
    tutorial_split,
)
from upseg.models.uplift.metrics import oracle_qini_share

REPO = Path(__file__).resolve().parents[2]


def shared_data(name: str) -> Path:
    """A file of the shared data folder (``$UPSEG_SHARED_DATA``, default ``../shared/data``)."""
    path = Path(os.environ.get("UPSEG_SHARED_DATA", REPO.parent / "shared" / "data")) / name
    if not path.exists():
        pytest.skip(f"{path} not found; set UPSEG_SHARED_DATA to the shared data folder")
    return path


def numbers(tree: object) -> list[float]:
    """Every int and float in a JSON tree (booleans excluded)."""
    if isinstance(tree, dict):
        return [x for value in tree.values() for x in numbers(value)]
    if isinstance(tree, list):
        return [x for value in tree for x in numbers(value)]
    if isinstance(tree, int | float) and not isinstance(tree, bool):
        return [float(tree)]
    return []


@pytest.mark.parametrize(
    ("summary", "digits", "expected"),
    [
        ({"mean": 0.12345, "sd": 0.01}, 3, "0.123 ± 0.010"),
        ({"mean": -0.0421, "sd": 0.00449}, 4, "-0.0421 ± 0.0045"),
        ({"mean": math.nan, "sd": math.nan}, 3, "n/a"),
    ],
)
def test_mean_sd_formats_the_summary(summary, digits, expected):
    assert mean_sd(summary, digits) == expected


def test_summarize_gives_sample_sd_and_keeps_nan():
    out = summarize([{"a": 1.0, "b": 2.0}, {"a": 3.0, "b": math.nan}])
    assert out["a"] == {"mean": 2.0, "sd": pytest.approx(math.sqrt(2))}
    assert math.isnan(out["b"]["mean"])
    assert summarize([{"a": 5.0}]) == {"a": {"mean": 5.0, "sd": 0.0}}


def test_tutorial_split_is_train_test_split_of_the_rows_themselves():
    frame = pd.DataFrame({"x": np.arange(1001) * 3}, index=np.arange(1001) + 7)
    train, val = train_test_split(frame, test_size=0.5, random_state=42)
    train_pos, val_pos = tutorial_split(len(frame))
    pd.testing.assert_frame_equal(frame.iloc[train_pos], train)
    pd.testing.assert_frame_equal(frame.iloc[val_pos], val)


def test_tutorial_split_has_the_documented_row_counts():
    raw = pd.read_csv(shared_data(HILLSTROM_FILE))
    dataset = raw[raw["segment"] != "Mens E-Mail"]
    assert dataset.shape == (42_693, 12)  # "Shape of the dataset after processing: (42693, 10)"
    train_pos, val_pos = tutorial_split(len(dataset))
    assert (len(train_pos), len(val_pos)) == (21_346, 21_347)
    expected_train, _ = train_test_split(dataset, test_size=0.5, random_state=42)
    assert dataset.index[train_pos].equals(expected_train.index)


def test_ordered_target_encoding_by_hand():
    train = ["a", "b", "a", "a", "b"]
    y = [1, 0, 0, 1, 1]  # prior 0.6
    train_codes, test_codes = ordered_target_encoding(train, y, ["a", "b", "c"])
    np.testing.assert_allclose(train_codes, [0.6, 0.6, 1.6 / 2, 1.6 / 3, 0.6 / 2])
    np.testing.assert_allclose(test_codes, [2.6 / 4, 1.6 / 3, 0.6])


def test_noise_free_share_of_perfect_reversed_and_constant_rankings():
    tau = np.random.default_rng(0).normal(0.03, 0.05, 500)
    assert noise_free_oracle_share(tau, tau) == pytest.approx(1.0)
    assert noise_free_oracle_share(2 * tau + 1, tau) == pytest.approx(1.0)
    assert noise_free_oracle_share(-tau, tau) == pytest.approx(-1.0)
    assert noise_free_oracle_share(np.zeros(500), tau) == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(noise_free_oracle_share(tau, np.full(500, 0.02)))


def test_noise_free_share_counts_ties_at_their_mean_effect():
    tau = np.array([0.3, 0.1, 0.2, 0.0])
    tied = np.array([1.0, 1.0, 0.0, 0.0])  # {0.3, 0.1} first, then {0.2, 0.0}
    # Cumulative effects 0.2, 0.4, 0.5, 0.6 against 0.3, 0.5, 0.6, 0.6 for the oracle; mean 0.15.
    expected = (0.05 + 0.1 + 0.05) / (0.15 + 0.2 + 0.15)
    assert noise_free_oracle_share(tied, tau) == pytest.approx(expected)


def test_noise_free_share_is_the_limit_of_the_observed_oracle_share():
    rng = np.random.default_rng(1)
    n = 400_000
    tau = rng.uniform(-0.05, 0.15, n)
    t = rng.integers(0, 2, n)
    y = (rng.random(n) < 0.2 + t * tau).astype(float)
    score = tau + rng.normal(0, 0.05, n)
    observed = oracle_qini_share(y, score, tau, t)
    # The observed share still varies by about 0.015 between samples of this size.
    assert noise_free_oracle_share(score, tau) == pytest.approx(observed, abs=0.05)


def test_oracle_share_spread_brackets_the_observed_share():
    rng = np.random.default_rng(2)
    n = 4000
    tau = rng.uniform(0.0, 0.2, n)
    t = rng.integers(0, 2, n)
    y = (rng.random(n) < 0.1 + t * tau).astype(float)
    score = tau + rng.normal(0, 0.05, n)
    spread = oracle_share_spread(y, score, tau, t, n_boot=100, random_state=0)
    assert spread["sd"] > 0
    assert spread["low"] < oracle_qini_share(y, score, tau, t) < spread["high"]


@pytest.fixture(scope="module")
def hillstrom_6000(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hillstrom") / HILLSTROM_FILE
    pd.read_csv(shared_data(HILLSTROM_FILE)).head(6000).to_csv(path, index=False)
    return path


def test_small_run_writes_every_result(hillstrom_6000, tmp_path, capsys):
    out = tmp_path / "uplift.json"
    main(
        ["--data", str(hillstrom_6000), "--approaches", "t_learner", "x_learner"]
        + ["--seeds", "0", "--n-boot", "20", "--customers", "6000", "--synthetic-seeds", "0"]
        + ["--large-customers", "12000", "--out", str(out)]
    )
    results = json.loads(out.read_text())
    assert {"hillstrom", "synthetic", "stages", "seconds", "machine"} <= set(results)
    assert all(math.isfinite(x) for x in numbers(results))

    hill = results["hillstrom"]
    assert hill["rows"] == 6000 and len(hill["features"]) == 8
    assert {(r["target"], r["case"], r["variant"]) for r in hill["results"]} == {
        (target, case, variant)
        for target in ("visit", "conversion")
        for case, variant in [
            ("womens", "Womens E-Mail"),
            ("mens", "Mens E-Mail"),
            ("three_arm", "Womens E-Mail"),
            ("three_arm", "Mens E-Mail"),
        ]
    }
    row = hill["results"][0]
    assert set(row["metrics"]) >= {"qini_auc", "auuc", "uplift_at_30", "beats_random"}
    assert {p["approach"] for p in hill["policy"]} == {"t_learner", "x_learner"}
    tutorial = hill["tutorial"]
    assert tutorial["n_train"] + tutorial["n_val"] == tutorial["n_rows"]
    assert set(tutorial["approaches"]) == {"t_learner", "x_learner"}
    assert tutorial["best"]["approach"] in tutorial["approaches"]

    synthetic = results["synthetic"]
    for outcome in ("conversion", "revenue"):
        res = synthetic["outcomes"][outcome]
        assert set(res["approaches"]) == {"t_learner", "x_learner"}
        averaged = res["approaches"]["x_learner"]["mean_of_variants"]
        assert set(averaged) == {"spearman", "oracle_share", "noise_free_share", "qini_auc"}
        best = res["best"]
        assert best["reaches_aim"] == (best["oracle_share"]["mean"] >= 0.8)
        if not best["reaches_aim"]:
            assert synthetic["large_world"][outcome]["customers"] == 12_000

    printed = capsys.readouterr().out
    assert "| case | variant | approach | Qini AUC | AUUC | uplift@30% | beats random |" in printed
    assert "scikit-uplift pipeline tutorial's setting" in printed
    assert "| approach | Spearman discount_10 |" in printed


def test_only_one_part_runs(hillstrom_6000, tmp_path):
    out = tmp_path / "uplift.json"
    results = main(
        ["--data", str(hillstrom_6000), "--only", "hillstrom", "--approaches", "s_learner"]
        + ["--targets", "conversion", "--seeds", "1", "--n-boot", "10", "--out", str(out)]
    )
    assert "synthetic" not in results and "tutorial" not in results["hillstrom"]
    assert {r["target"] for r in results["hillstrom"]["results"]} == {"conversion"}


def test_missing_data_is_reported(tmp_path):
    with pytest.raises(SystemExit, match="not found; pass --data or set UPSEG_SHARED_DATA"):
        main(["--data", str(tmp_path / "nowhere.csv"), "--only", "hillstrom"])
