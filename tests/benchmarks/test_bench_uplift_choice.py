"""The choice benchmark: a small end-to-end run on a sample of Hillstrom."""

from __future__ import annotations

import json

from benchmarks.bench_uplift_choice import main


def test_a_small_run_compares_both_choices_and_checks_the_sizes(shared_data, tmp_path, capsys):
    shared_data("hillstrom.csv")  # skips without the data, fails under CI
    out = tmp_path / "choice.json"
    main(
        [
            "--seeds", "0", "--targets", "visit", "--cases", "womens", "--rows", "6000",
            "--out", str(out),
        ]
    )  # fmt: skip
    payload = json.loads(out.read_text())
    (run,) = payload["results"]["visit / womens"]
    for choice in ("qini", "simplest", "default"):
        assert run[choice]["approach"]
        assert -1 < run[choice]["qini_auc"] < 1
        assert run[choice]["trees"] in (100, 200, 400)  # DR; CT or X; S or T, per variant
    assert run["default"]["trees"] <= run["simplest"]["trees"]
    # the calibrated sizes sum to the realised incremental visits within sampling noise
    assert 0.3 < run["default"]["ratio"] < 3
    printed = capsys.readouterr().out
    assert "| visit / womens |" in printed and "mean held-out Qini" in printed
