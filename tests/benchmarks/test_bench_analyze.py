"""The ``upseg analyze`` benchmark: its helpers, and a quick end-to-end run on Hillstrom."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.bench_analyze import (
    AGREE_SHARE,
    ARM,
    CONTROL,
    HILLSTROM_FILE,
    QUICK_ROWS,
    _scipy_prediction,
    _sizes,
    interval_gap,
    intervals_text,
    main,
    markdown_table,
    prepare_size,
    scipy_batch,
)

REPO = Path(__file__).resolve().parents[2]
ROWS = QUICK_ROWS[0]


def shared_data(name: str) -> Path:
    """A file of the shared data folder (``$UPSEG_SHARED_DATA``, default ``../shared/data``)."""
    path = Path(os.environ.get("UPSEG_SHARED_DATA", REPO.parent / "shared" / "data")) / name
    if not path.exists():
        pytest.skip(f"{path} not found; set UPSEG_SHARED_DATA to the shared data folder")
    return path


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """``--quick``: 5,000 resampled rows, each stage in its own subprocess."""
    work = tmp_path_factory.mktemp("bench-analyze")
    out = work / "analyze.json"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        results = main(
            ["--quick", "--data", str(shared_data(HILLSTROM_FILE)), "--workdir", str(work)]
            + ["--out", str(out)]
        )
    return results, json.loads(out.read_text()), printed.getvalue(), work


def test_quick_run_prints_the_table_and_the_intervals_agree(quick):
    results, written, printed, _ = quick
    assert written == json.loads(json.dumps(results))
    assert written["rows"] == [ROWS]
    r = written["sizes"][str(ROWS)]
    header = "| rows | stage | wall (s) | peak memory (MB) | customers/s | ratio vs baseline |"
    assert header in printed
    for stage in ("`upseg analyze` (run_analysis)", "bootstrap_diff_ci (spend)"):
        assert f"| {ROWS:,} | {stage} |" in printed
    assert f"| {ROWS:,} | scipy.stats.bootstrap (spend, batch " in printed
    assert "| run_analysis stage (s) |" in printed
    assert "(agree, limit 10%)" in printed
    # the two bootstraps agree within Monte-Carlo error; the analysis's row is ours exactly
    ours, scipy = r["bootstrap"]["interval"], r["scipy"]["interval"]
    assert ours[0] < ours[1] and scipy[0] < scipy[1]
    assert r["intervals_agree"] and r["gap_share_of_width"] <= AGREE_SHARE
    assert r["analysis_equals_bootstrap"] and r["analyze"]["interval"] == ours
    assert ours[0] <= r["analyze"]["difference"] <= ours[1]


def test_quick_run_times_every_stage(quick):
    _, written, _, work = quick
    r = written["sizes"][str(ROWS)]
    analyze, ours, scipy = r["analyze"], r["bootstrap"], r["scipy"]
    for figures in (analyze, ours, scipy):
        assert figures["seconds"] > 0 and figures["peak_rss_mb"] > 0
    assert analyze["customers"] == ROWS and analyze["result_rows"] > 0
    # spend of both arms in the four segmentations (overall, zip code, channel, history segment)
    assert 0 < analyze["bootstrap_calls"] <= 2 * (1 + 3 + 3 + 7)
    assert 0 < analyze["bootstrap_seconds"] < analyze["seconds"]
    # the stages run from the job's first message to its end, nearly all of its time
    assert sum(analyze["stages"].values()) == pytest.approx(analyze["seconds"], abs=0.01)
    assert all(Path(f).exists() for f in analyze["files"])
    assert ours["n_arm"] + ours["n_control"] < ROWS
    assert 1 <= ours["runs"] <= 3 and 1 <= scipy["runs"] <= 3
    assert scipy["batch"] == scipy_batch(ours["n_arm"] + ours["n_control"], 2000, 128.0)
    assert r["speedup"] == pytest.approx(scipy["seconds"] / ours["seconds"])
    assert math.isfinite(r["analyze_customers_per_second"])
    assert (work / "analyze_data" / f"hillstrom_{ROWS}_0.csv").exists()


def test_a_baseline_predicted_over_the_cap_is_skipped_and_said_so(quick):
    results = json.loads(json.dumps(quick[0]))
    measured = results["sizes"][str(ROWS)]
    values = measured["scipy"]["n_arm"] + measured["scipy"]["n_control"]
    predicted = _scipy_prediction({ROWS: measured}, 10 * values, 2000)
    assert predicted == {
        "seconds": pytest.approx(10 * measured["scipy"]["seconds"]),
        "from_values": values,
    }
    assert _scipy_prediction({}, values, 2000) is None
    skipped = {**measured, "rows": 10 * ROWS, "scipy": {"skipped": "predicted 99 s > 60 s"}}
    for key in ("speedup", "gap_share_of_width", "intervals_agree"):
        skipped.pop(key)
    results["sizes"][str(10 * ROWS)] = skipped
    table = markdown_table(results)
    assert f"| {10 * ROWS:,} | scipy.stats.bootstrap (spend): not run, predicted 99 s" in table
    assert f"| {10 * ROWS:,} | bootstrap_diff_ci (spend) |" in table
    assert "scipy not run" in intervals_text(results)


def test_a_size_is_the_file_itself_or_its_rows_drawn_with_replacement(tmp_path):
    source = tmp_path / "hillstrom.csv"
    frame = pd.DataFrame(
        {
            "segment": [ARM, CONTROL, "Womens E-Mail"] * 4,
            "spend": [0.0, 10.5, 0.0, 3.0, 0.0, 0.0, 0.0, 2.25, 1.0, 0.0, 0.0, 7.0],
            "row": range(12),
        }
    )
    frame.to_csv(source, index=False)
    table, arrays, n = prepare_size(source, 12, tmp_path / "data")
    assert table == source and n == 12
    with np.load(arrays) as z:
        np.testing.assert_array_equal(z["arm"], [0.0, 3.0, 0.0, 0.0])
        np.testing.assert_array_equal(z["control"], [10.5, 0.0, 2.25, 0.0])
    table, arrays, _ = prepare_size(source, 50, tmp_path / "data", seed=3)
    drawn = pd.read_csv(table)
    assert len(drawn) == 50 and list(drawn.columns) == list(frame.columns)
    pd.testing.assert_frame_equal(drawn, frame.iloc[drawn["row"]].reset_index(drop=True))
    with np.load(arrays) as z:
        assert z["arm"].size == (drawn["segment"] == ARM).sum()
    again, _, _ = prepare_size(source, 50, tmp_path / "data", seed=3)
    assert again == table and pd.read_csv(again).equals(drawn)


def test_helpers():
    assert _sizes("64000,1_000_000") == [64_000, 1_000_000]
    with pytest.raises(Exception, match="row counts"):
        _sizes("64k")
    assert scipy_batch(42_613, 2000, 128.0) == 196
    assert scipy_batch(10, 2000, 128.0) == 2000
    assert scipy_batch(10**9, 2000, 128.0) == 1
    assert interval_gap([0.0, 1.0], [0.0, 1.0]) == 0.0
    assert interval_gap([0.1, 1.05], [0.0, 1.0]) == pytest.approx(0.1)
