"""The triggers benchmark end to end on a tiny world: its report, and the baseline agreeing."""

from __future__ import annotations

import contextlib
import io
import json
import math

import pytest

from benchmarks.bench_triggers import (
    ENGINE_STAGES,
    PANDAS_STAGES,
    TASKS,
    WINDOWS,
    agreement,
    main,
    world_dir,
)

CUSTOMERS = 2_000


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Every task on a 2,000-customer world, in this process so that it takes seconds."""
    work = tmp_path_factory.mktemp("bench-triggers")
    out = work / "triggers.json"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        results = main(
            [
                "--customers", str(CUSTOMERS), "--seed", "3", "--workdir", str(work),
                "--json", str(out), "--in-process",
            ]
        )  # fmt: skip
    return results, json.loads(out.read_text()), printed.getvalue(), work


def test_the_json_has_every_task_with_time_memory_firings_and_stages(run):
    results, written, _, _ = run
    assert written == json.loads(json.dumps(results, default=str))
    assert written["customers"] == CUSTOMERS and written["in_process"] is True
    assert set(written["tasks"]) == set(TASKS)
    for name, t in written["tasks"].items():
        assert math.isfinite(t["seconds"]) and t["seconds"] > 0, name
        assert t["peak_rss_mb"] > 0 and t["firings"] >= 0 and t["candidates"] >= t["firings"]
        stages = PANDAS_STAGES if name.startswith("pandas") else ENGINE_STAGES
        assert list(t["stages"]) == list(stages), name
        assert all(s["seconds"] >= 0 for s in t["stages"].values()), name
        assert sum(s["seconds"] for s in t["stages"].values()) == pytest.approx(
            t["seconds"], rel=0.05, abs=0.05
        )
    for window in WINDOWS:
        assert written["tasks"][f"pandas {window}"]["seconds_vs_pandas"] == 1.0
    engine = written["tasks"]["engine 30d"]
    assert engine["reconciles"] and engine["firings"] > 0
    assert sum(engine["actions"].values()) == engine["firings"]
    assert engine["per_rule"]["cart_abandonment"]["candidates"] == engine["cart_candidates"]
    # The engine with the cart rule alone finds the same cart firings as with all seven.
    cart = written["tasks"]["cart 30d"]
    assert list(cart["per_rule"]) == ["cart_abandonment"]
    assert cart["per_rule"]["cart_abandonment"]["candidates"] == engine["cart_candidates"]


def test_the_pandas_baseline_agrees_with_the_engines_cart_candidates(run):
    results, _, printed, _ = run
    assert results["agree"]
    assert set(results["agreement"]) == set(WINDOWS)
    thirty = results["agreement"]["30d"]
    assert thirty["engine"] == thirty["pandas"] > 0
    assert thirty["only_engine"] == thirty["only_pandas"] == 0
    assert "DISAGREE" not in printed
    for window in WINDOWS:
        assert f"{window}: pandas baseline and engine cart_abandonment" in printed


def test_the_report_prints_the_table_and_the_machine_line(run):
    _, _, printed, _ = run
    assert "x pandas s" in printed and "firings/s" in printed
    for task in TASKS:
        assert task in printed
    assert "machine: " in printed and " cores, " in printed


def test_the_world_is_kept_and_reused(run):
    _, _, _, work = run
    home = world_dir(work, CUSTOMERS, 3)
    assert (home / "web_events.parquet").exists()
    assert json.loads(home.with_name(home.name + ".json").read_text())["generation_seconds"] > 0


def test_agreement_compares_sets_of_customer_and_start(tmp_path):
    import pandas as pd

    at = pd.Timestamp("2026-06-01", tz="UTC")
    a = pd.DataFrame({"customer_id": ["C1", "C1", "C2"], "started_at": [at, at, at]})
    b = pd.DataFrame({"customer_id": ["C1", "C3"], "started_at": [at, at]})
    a.to_parquet(tmp_path / "a.parquet")
    b.to_parquet(tmp_path / "b.parquet")
    check = agreement(tmp_path / "a.parquet", tmp_path / "b.parquet")
    assert not check["agree"]
    assert (check["engine"], check["pandas"], check["engine_repeated"]) == (2, 2, 1)
    assert (check["only_engine"], check["only_pandas"]) == (1, 1)
    assert agreement(tmp_path / "a.parquet", tmp_path / "a.parquet")["agree"]
