"""The monitor benchmark on a tiny world: its report, the cache, and the baseline agreeing."""

from __future__ import annotations

import contextlib
import io
import json
import math

import pandas as pd
import pytest

from benchmarks.bench_monitor import ENGINE_STAGES, PANDAS_STAGES, TASKS, agreement, main

CUSTOMERS, WEEKS = 2_000, 5


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Every task on a 2,000-customer world over 5 weeks, in this process (seconds)."""
    work = tmp_path_factory.mktemp("bench-monitor")
    out = work / "monitor.json"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        results = main(
            [
                "--customers", str(CUSTOMERS), "--seed", "3", "--weeks", str(WEEKS),
                "--workdir", str(work), "--json", str(out), "--in-process",
            ]
        )  # fmt: skip
    return results, json.loads(out.read_text()), printed.getvalue()


def test_the_json_has_every_task_with_time_memory_and_stages(run):
    results, written, _ = run
    assert written == json.loads(json.dumps(results, default=str))
    assert (written["customers"], written["weeks"], written["in_process"]) == (
        CUSTOMERS,
        WEEKS,
        True,
    )
    assert list(written["tasks"]) == list(TASKS)
    for name, t in written["tasks"].items():
        assert math.isfinite(t["seconds"]) and t["seconds"] > 0 and t["peak_rss_mb"] > 0, name
        stages = PANDAS_STAGES if name == "pandas" else ENGINE_STAGES
        assert list(t["stages"]) == list(stages), name
        assert sum(s["seconds"] for s in t["stages"].values()) == pytest.approx(
            t["seconds"], rel=0.05, abs=0.05
        )
    assert written["tasks"]["pandas"]["seconds_vs_pandas"] == 1.0


def test_the_weekly_run_builds_one_periods_segments_and_reads_the_rest(run):
    _, written, _ = run
    cold, weekly = written["tasks"]["cold"], written["tasks"]["next week"]
    # The cold run builds every period's start and the one after; a week later, one more.
    assert (cold["segments_built"], cold["segments_cached"]) == (WEEKS + 1, 0)
    assert (weekly["segments_built"], weekly["segments_cached"]) == (1, WEEKS)
    assert cold["periods"] == weekly["periods"] == WEEKS
    assert weekly["kpi_rows"] == written["tasks"]["pandas"]["kpi_rows"]


def test_the_pandas_baseline_agrees_with_the_engine(run):
    results, _, printed = run
    check = results["agreement"]
    assert results["agree"] and check["rows"] == results["tasks"]["pandas"]["kpi_rows"] > 0
    assert check["only_engine"] == check["only_pandas"] == 0
    assert "agree: " in printed and "DISAGREE" not in printed
    assert "x pandas s" in printed and "machine: " in printed


def test_agreement_sees_a_changed_count_and_a_missing_row(tmp_path):
    row = {
        "period": pd.Timestamp("2026-06-01", tz="UTC"), "segment_by": "all", "segment": "all",
        "campaign_type": "all", "metric": "open_rate", "numerator": 3.0, "denominator": 10.0,
    }  # fmt: skip
    engine = pd.DataFrame([row, {**row, "metric": "click_rate", "numerator": 1.0}])
    engine.to_parquet(tmp_path / "e.parquet")
    engine.to_parquet(tmp_path / "same.parquet")
    pd.DataFrame([{**row, "numerator": 4.0}]).to_parquet(tmp_path / "p.parquet")
    assert agreement(tmp_path / "e.parquet", tmp_path / "same.parquet")["agree"]
    check = agreement(tmp_path / "e.parquet", tmp_path / "p.parquet")
    assert not check["agree"] and not check["numerators_equal"] and check["denominators_equal"]
    assert (check["only_engine"], check["only_pandas"]) == (1, 0)
