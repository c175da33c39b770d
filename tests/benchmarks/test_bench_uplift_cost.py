"""The uplift cost benchmark: its pair count, and a small run on Hillstrom."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.bench_uplift_cost import _rank_agreement, main, scoring_rows

REPO = Path(__file__).resolve().parents[2]


def test_only_pairs_whose_trees_differ_twofold_are_judged():
    counts = {"a": 100.0, "b": 200.0, "c": 300.0, "d": 800.0}
    times = {"a": 1.0, "b": 3.0, "c": 2.0, "d": 4.0}
    # a-b, a-c, a-d, b-d, c-d differ 2x or more (b-c does not); all five agree on order.
    assert _rank_agreement(times, counts) == {"pairs": 5, "agree": 5}
    assert _rank_agreement({**times, "a": 5.0}, counts) == {"pairs": 5, "agree": 2}


def test_scoring_rows_repeat_the_customers_in_order():
    frame = pd.DataFrame({"x": [1, 2, 3]}, index=[10, 11, 12])
    rows = scoring_rows(frame, 7)
    assert rows["x"].tolist() == [1, 2, 3, 1, 2, 3, 1]
    assert rows.index.tolist() == list(range(7))


def test_a_small_run_counts_and_times_every_approach(tmp_path, capsys):
    shared = Path(os.environ.get("UPSEG_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not (shared / "hillstrom.csv").exists():
        pytest.skip(f"{shared / 'hillstrom.csv'} not found; set UPSEG_SHARED_DATA")
    out = tmp_path / "cost.json"
    main(
        ["--rows", "5000", "--repeats", "1", "--approaches", "s_learner", "dr_learner",
         "--out", str(out)]
    )  # fmt: skip
    results = json.loads(out.read_text())
    printed = capsys.readouterr().out
    assert "| baseline: one LightGBM classifier, 200 trees | 200 |" in printed
    assert results["variants"] == ["Mens E-Mail", "Womens E-Mail"]
    assert results["fit_customers"] == 64_000 and results["rows"] == 5_000
    approaches = results["approaches"]
    # Two variants: the S-learner predicts its 200-tree model twice for each, the
    # DR-learner its 100-tree effect model once.
    assert {a: r["trees"] for a, r in approaches.items()} == {"s_learner": 800, "dr_learner": 200}
    for r in approaches.values():
        assert r["seconds"] > 0 and r["trees_vs_baseline"] == r["trees"] / 200
        assert r["us_per_customer"] == pytest.approx(r["seconds"] / 5_000 * 1e6)
    assert results["same_order"]["pairs"] == 1
