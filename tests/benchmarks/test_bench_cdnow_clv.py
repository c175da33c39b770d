"""The CDNOW CLV benchmark: how it reads its intervals, and a small end-to-end run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.bench_cdnow_clv import (
    COMPARISONS,
    PER_SEED,
    ROW_ORDER,
    SINGLE,
    _difference,
    label,
    main,
    short,
)
from tests.benchmarks.test_bench_cdnow import shared_data
from upseg.models.clv.metrics import metric_interval


def test_a_difference_listed_the_other_way_round_is_negated():
    rng = np.random.default_rng(0)
    y = rng.gamma(0.3, 40, 300)
    a, b = y + rng.gamma(1, 5, 300), rng.gamma(1, 5, 300)
    table = metric_interval(y, {"a": a, "b": b}, "gini", n_boot=50)
    forward, backward = _difference(table, "a", "b"), _difference(table, "b", "a")
    assert forward["estimate"] > 0
    assert backward == {
        "estimate": -forward["estimate"],
        "ci_low": -forward["ci_high"],
        "ci_high": -forward["ci_low"],
    }


def test_every_predictor_has_a_name_and_every_comparison_known_predictors():
    assert set(ROW_ORDER) == set(PER_SEED) | set(SINGLE)
    for name in ROW_ORDER:
        assert label(name, {"tweedie_power": {"chosen": 1.3}}) and short(name)
    assert "power 1.3" in label("lightgbm_tweedie_chosen_power", {"tweedie_power": {"chosen": 1.3}})
    assert {name for pair in COMPARISONS for name in pair} <= set(ROW_ORDER)


def test_small_run_on_cdnow_writes_every_result(tmp_path, capsys):
    out = tmp_path / "cdnow_clv.json"
    data = shared_data("CDNOW_master.txt")
    main(
        ["--data", str(data), "--customers", "3000", "--seeds", "0", "1", "--powers", "1.2"]
        + ["1.8", "--bootstrap", "100", "--threads", "1", "--out", str(out)]
    )
    results = json.loads(out.read_text())
    expected = {"split", "models", "fit_clv", "tweedie_power", "intervals", "deciles", "stages"}
    assert expected | {"ziln_mean_correction", "machine", "asymmetry"} <= set(results)
    assert results["customers"] == 3000 and results["discount_rate"] == 0.0
    assert results["holdout"] == {"first_day": "1997-10-01", "last_day": "1998-06-30", "days": 273}
    split = results["split"]
    assert split["train"] + split["valid"] + split["test"] == 3000
    assert 0 < split["test_buyers"] < split["test"]

    models = results["models"]
    assert set(models) == set(ROW_ORDER)
    runs = [models[n]["metrics"] for n in SINGLE] + [
        run for n in PER_SEED for run in models[n]["per_seed"]
    ]
    realised = {round(run["realised_total"], 6) for run in runs}
    assert realised == {round(split["test_revenue"], 6)}  # every predictor on the same customers
    for name in SINGLE:
        assert 0 < models[name]["metrics"]["gini"] < 1
    for name in PER_SEED:
        assert len(models[name]["per_seed"]) == 2
        assert 0 < models[name]["metrics"]["gini"]["mean"] < 1
    # Every CDNOW customer first bought in 1997's first quarter: 365 days hold their history.
    assert models["baseline"]["window_holds_whole_history"] == 1.0
    assert (
        models["bgnbd_gg_train"]["metrics"]["decile_error"]
        < models["baseline"]["metrics"]["decile_error"]
    )
    assert [run["seed"] for run in results["fit_clv"]] == [0, 1]
    assert all(run["served"] in ("probabilistic", "lightgbm") for run in results["fit_clv"])

    powers = results["tweedie_power"]
    assert [g["power"] for g in powers["grid"]] == [1.2, 1.8]
    chosen = min(powers["grid"], key=lambda g: g["valid"]["decile_error"]["mean"])
    assert powers["chosen"] == chosen["power"]

    correction = results["ziln_mean_correction"]
    assert correction["factor_mean"] > 1  # exp(sigma^2 / 2): the lognormal mean over its median
    assert (
        correction["without_correction"]["bias_pct"]
        < models["lightgbm_ziln"]["per_seed"][0]["bias_pct"]
    )

    for metric, block in results["intervals"].items():
        assert set(block["predictors"]) == set(ROW_ORDER), metric
        for diff in block["differences"].values():
            assert diff["seeds"] == 2
            assert all(run["ci_low"] <= run["ci_high"] for run in diff["per_seed"])
            assert not any(run["favours_a"] and run["favours_b"] for run in diff["per_seed"])
    assert len(results["deciles"]["bgnbd_gg_train"]["decile"]) == 10
    top = results["top_customer"]
    assert top["revenue"] / split["test_revenue"] == pytest.approx(split["test_top_customer_share"])
    assert set(top["predicted"]) == set(top["rmse_without"]) == set(results["deciles"])
    assert (tmp_path / "cdnow_clv.png").stat().st_size > 0

    sample = results["sample_gamma_gamma"]
    if sample is not None:  # the published fit on CDNOW_sample.txt, when the file is there
        assert sample["repeat_customers"] == 946
        assert sample["params"] == pytest.approx({"p": 6.25, "q": 3.74, "v": 15.44}, abs=0.01)
        assert sample["log_likelihood"] == pytest.approx(-4055.9, abs=0.1)

    printed = capsys.readouterr().out
    assert "| predictor | Gini | Spearman | top-decile capture | decile error |" in printed
    assert "| Tweedie power | valid decile error |" in printed
    assert "ZILN − BG/NBD+GG (train)" in printed
    assert "BG/NBD + Gamma-Gamma uses only the calibration period" in printed
