"""The CDNOW benchmark: its paired bootstrap of AUC differences, its tie-aware lift, the raw
file's labels, and a small end-to-end run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from benchmarks.bench_cdnow import (
    AS_OF,
    CDNOW_FILE,
    HORIZON_DAYS,
    auc,
    bootstrap_aucs,
    holdout_buyers,
    holdout_revenue,
    interval,
    main,
    paired_bootstrap_auc_difference,
    tied_lift_at,
    with_features,
)
from upseg.features.sets import CUSTOMER_V1
from upseg.models.dataset import TrainingData
from upseg.models.evaluation import lift_at

REPO = Path(__file__).resolve().parents[2]


def shared_data(name: str) -> Path:
    """A file of the shared data folder (``$UPSEG_SHARED_DATA``, default ``../shared/data``)."""
    path = Path(os.environ.get("UPSEG_SHARED_DATA", REPO.parent / "shared" / "data")) / name
    if not path.exists():
        pytest.skip(f"{path} not found; set UPSEG_SHARED_DATA to the shared data folder")
    return path


def delong_difference_se(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Standard error of AUC(a) - AUC(b) on the same customers by DeLong et al. (1988)."""
    pos, neg = y == 1, y == 0
    placements = []
    for s in (a, b):
        psi = (s[pos][:, None] > s[neg][None, :]) + 0.5 * (s[pos][:, None] == s[neg][None, :])
        placements.append((psi.mean(axis=1), psi.mean(axis=0)))
    s10 = np.cov(placements[0][0], placements[1][0])
    s01 = np.cov(placements[0][1], placements[1][1])
    c = np.array([1.0, -1.0])
    return float(np.sqrt(c @ (s10 / pos.sum() + s01 / neg.sum()) @ c))


def test_horizon_is_the_39_week_holdout_through_june_1998():
    assert HORIZON_DAYS == 39 * 7 == 273
    assert str(AS_OF) == "1997-10-01 00:00:00+00:00"
    assert AS_OF + pd.Timedelta(days=HORIZON_DAYS) == pd.Timestamp("1998-07-01", tz="UTC")


def test_auc_matches_sklearn_with_ties_and_several_models():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    scores = rng.integers(0, 8, (3, 300)).astype(float)  # many ties
    expected = [roc_auc_score(y, s) for s in scores]
    np.testing.assert_allclose(auc(y, scores), expected, rtol=1e-12)
    assert auc(y, scores[0]) == pytest.approx(expected[0], rel=1e-12)


def test_identical_scores_differ_by_exactly_zero():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 200)
    score = rng.normal(size=200) + y
    result = paired_bootstrap_auc_difference(y, score, score, n_resamples=200)
    assert result["difference"] == 0.0
    assert (result["ci_low"], result["ci_high"]) == (0.0, 0.0)
    assert result["share_at_or_below_zero"] == 1.0


def test_clearly_better_score_has_interval_above_zero():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    better, worse = y + rng.normal(0, 0.5, 400), y + rng.normal(0, 2.0, 400)
    result = paired_bootstrap_auc_difference(y, better, worse, n_resamples=500)
    truth = roc_auc_score(y, better) - roc_auc_score(y, worse)
    assert result["difference"] == pytest.approx(truth, rel=1e-12)
    assert 0 < result["ci_low"] < result["difference"] < result["ci_high"]
    assert result["share_at_or_below_zero"] == 0.0


def test_interval_width_agrees_with_delong():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 1500)
    a, b = y + rng.normal(0, 1.0, 1500), y + rng.normal(0, 1.3, 1500)
    result = paired_bootstrap_auc_difference(y, a, b, n_resamples=1000, seed=5)
    half_width = (result["ci_high"] - result["ci_low"]) / 2
    assert half_width == pytest.approx(1.96 * delong_difference_se(y, a, b), rel=0.15)


def test_several_runs_of_a_compare_by_their_mean_auc():
    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, 300)
    runs = y + rng.normal(0, 1.0, (3, 300))
    b = rng.normal(size=300)
    result = paired_bootstrap_auc_difference(y, runs, b, n_resamples=50)
    expected = np.mean([roc_auc_score(y, r) for r in runs]) - roc_auc_score(y, b)
    assert result["difference"] == pytest.approx(expected, rel=1e-12)
    once = paired_bootstrap_auc_difference(y, runs[0], b, n_resamples=50)
    twice = paired_bootstrap_auc_difference(y, runs[[0, 0]], b, n_resamples=50)
    assert once == twice


@pytest.mark.parametrize(
    ("y", "a", "b", "kwargs", "message"),
    [
        ([1, 1, 1], [0.1, 0.2, 0.3], [0.3, 0.2, 0.1], {}, "'y_true' must be 1-D with both labels"),
        ([0, 1, 1], [0.1, 0.2], [0.3, 0.2, 0.1], {}, r"got \(1, 2\) and \(3,\)"),
        ([0, 1, 1], [0.1, 0.2, 0.3], [0.3, 0.2, 0.1], {"n_resamples": 0}, "'n_resamples' must"),
        ([0, 1], [0.1, 0.2], [0.2, 0.1], {"level": 1.0, "n_resamples": 0}, "2 error"),
    ],
)
def test_bad_arguments_are_reported(y, a, b, kwargs, message):
    with pytest.raises(ValueError, match=message):
        paired_bootstrap_auc_difference(y, a, b, **kwargs)


def test_bootstrap_of_all_scores_gives_the_pairwise_interval():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 400)
    a, b, c = (y + rng.normal(0, sd, 400) for sd in (1.0, 1.5, 2.0))
    resampled = bootstrap_aucs(y, np.vstack([a, b, c]), n_resamples=200, seed=0)
    assert resampled.shape == (200, 3)
    observed = auc(y, np.vstack([a, c]))
    together = interval(observed[0] - observed[1], resampled[:, 0] - resampled[:, 2], 0.95)
    # the same resamples whatever else is scored beside the pair
    assert together == paired_bootstrap_auc_difference(y, a, c, n_resamples=200, seed=0)


def test_tied_lift_shares_a_tied_block_that_the_cut_goes_through():
    # top 2 of 4: three tie at 1 holding 2 positives, so 2 * 2/3 positives, over a rate of 0.5
    assert tied_lift_at([1, 0, 1, 0], [1, 1, 1, 0], 0.5) == pytest.approx(4 / 3)
    assert tied_lift_at([0, 1, 1, 0], [1, 1, 1, 0], 0.5) == pytest.approx(4 / 3)  # any row order
    assert tied_lift_at([1, 1, 0, 0], [3, 2, 1, 0], 0.5) == pytest.approx(2.0)


def test_tied_lift_is_lift_without_ties_and_its_mean_over_row_orders_with_them():
    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, 500)
    distinct = y + rng.normal(0, 1, 500)
    assert tied_lift_at(y, distinct, 0.1) == pytest.approx(lift_at(y, distinct, 0.1), rel=1e-12)
    tied = np.round(distinct)  # a handful of values, so the cut goes through a block
    orders = [rng.permutation(500) for _ in range(2000)]
    mean = np.mean([lift_at(y[o], tied[o], 0.1) for o in orders])
    assert tied_lift_at(y, tied, 0.1) == pytest.approx(mean, rel=0.01)


def test_holdout_buyers_and_revenue_read_the_window_of_the_raw_file():
    transactions = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c", "c"],
            "date": pd.to_datetime(
                ["1997-09-30", "1997-10-01", "1998-06-30", "1998-07-01", "1997-12-24"]
            ),
            "dollar_value": [5.0, 10.0, 2.5, 7.0, 1.0],
        }
    )
    assert holdout_buyers(transactions, AS_OF, HORIZON_DAYS) == {"a", "b", "c"}
    revenue = holdout_revenue(transactions, AS_OF, HORIZON_DAYS)
    assert revenue.to_dict() == {"a": 10.0, "b": 2.5, "c": 1.0}


def test_with_features_appends_columns_row_by_row():
    frame = pd.DataFrame(
        {"customer_id": ["x", "y"], "role": ["train", "test"], "label": [0, 1], "f": [1.0, 2.0]},
        index=[10, 20],
    )
    data = TrainingData(frame, ("f",), (), CUSTOMER_V1, AS_OF, (), HORIZON_DAYS, False)
    stacked = with_features(data, pd.DataFrame({"g": [3.0, 4.0]}))
    assert stacked.features == ("f", "g")
    assert stacked.frame.loc[20, "g"] == 4.0
    assert data.features == ("f",) and "g" not in data.frame


def test_small_run_on_cdnow_writes_every_result(tmp_path, capsys):
    out = tmp_path / "cdnow.json"
    data = shared_data(CDNOW_FILE)
    main(
        ["--data", str(data), "--customers", "3000", "--seeds", "0", "1"]
        + ["--bootstrap", "100", "--threads", "1", "--out", str(out)]
    )
    results = json.loads(out.read_text())
    expected = {"holdout", "split", "models", "auc_difference", "best_bgnbd", "target", "stages"}
    assert expected | {"machine", "asymmetry"} <= set(results)
    assert results["customers"] == 3000
    assert results["holdout"] == {"first_day": "1997-10-01", "last_day": "1998-06-30", "days": 273}
    split = results["split"]
    assert split["train"] + split["valid"] + split["test"] == 3000
    models = results["models"]
    aucs = [
        *(
            models[f"bgnbd_{fit}"][score]["roc_auc"]
            for fit in ("train", "all")
            for score in ("p_purchase", "expected_purchases")
        ),
        models["recency"]["metrics"]["roc_auc"],
        *(run["roc_auc"] for run in models["lightgbm"]["per_seed"]),
        models["lightgbm"]["metrics"]["roc_auc"]["mean"],
        models["lightgbm_bgnbd_features"]["metrics"]["roc_auc"]["mean"],
    ]
    assert all(0.5 < v <= 1 for v in aucs)
    assert set(models["bgnbd_train"]["p_purchase"]) == {"roc_auc", "pr_auc", "lift_10", "brier"}
    assert set(models["bgnbd_train"]["expected_purchases"]) == {"roc_auc", "pr_auc", "lift_10"}
    assert set(models["recency"]["metrics"]) == {"roc_auc", "pr_auc", "lift_10"}
    assert len(models["lightgbm"]["per_seed"]) == len(models["lightgbm_bgnbd_features"]["per_seed"])
    assert models["lightgbm_bgnbd_features"]["added_features"] == [
        "bgnbd_p_purchase",
        "bgnbd_expected_purchases",
        "bgnbd_p_alive",
    ]
    best = results["best_bgnbd"]
    assert best["score"] == max(best["valid_auc"], key=best["valid_auc"].get)
    for diff in results["auc_difference"].values():
        assert diff["ci_low"] <= diff["difference"] <= diff["ci_high"]
        assert diff["n_resamples"] == 100
    to_best = results["auc_difference"]["lightgbm_minus_best_bgnbd"]
    assert to_best["b"] == best["score"]
    assert results["target"]["met"] == (to_best["difference"] >= 0.01)
    printed = capsys.readouterr().out
    assert "| model | score | ROC-AUC | PR-AUC | top-decile lift | Brier |" in printed
    assert "| AUC difference | estimate | 95% CI | resamples <= 0 |" in printed
    assert "BG/NBD uses only the calibration period" in printed
