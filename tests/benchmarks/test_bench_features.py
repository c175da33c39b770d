"""The features benchmark on a tiny world: thread counts, the one-thread runs and the profile."""

from __future__ import annotations

import contextlib
import io
import json
import math

import pytest

from benchmarks.bench_features import ENGINE_STAGES, STAGES, TOP_OPERATORS, main
from upseg.synthetic import generate_world, write_world

CUSTOMERS, SEED = 1_500, 3


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Every stage (each in its own process) and the profile on a 1,500-customer world."""
    work = tmp_path_factory.mktemp("bench-features")
    write_world(generate_world(CUSTOMERS, seed=SEED), work / f"world_{CUSTOMERS}_{SEED}")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        payload = main(
            [
                "--customers",
                str(CUSTOMERS),
                "--seed",
                str(SEED),
                "--workdir",
                str(work),
                "--profile",
            ]
        )
    return payload, json.loads((work / "results.json").read_text()), printed.getvalue()


def test_every_stage_runs_with_its_thread_count_and_the_engine_again_on_one(run):
    payload, written, _ = run
    assert written == json.loads(json.dumps(payload))
    expected = [*STAGES, *(f"{stage} 1-thread" for stage in ENGINE_STAGES)]
    assert list(written["stages"]) == expected
    for name, stage in written["stages"].items():
        assert math.isfinite(stage["seconds"]) and stage["seconds"] > 0, name
        assert stage["peak_rss_mb"] > 50, name  # a Python process with pandas loaded
    threads = {name: stage["threads"] for name, stage in written["stages"].items()}
    assert threads["validate 1-thread"] == threads["features 1-thread"] == threads["pandas"] == 1
    assert threads["features"] == threads["validate"] == written["threads"]["duckdb"] >= 1
    assert written["threads"]["pandas"] == 1
    assert written["stages"]["pandas"]["seconds_vs_pandas"] == 1.0
    assert written["stages"]["features"]["customers"] == written["stages"]["pandas"]["customers"]
    assert written["max_abs_difference"] < 1e-6


def test_the_profile_times_each_stage_of_upseg_features(run):
    _, written, printed = run
    profile = written["profile"]
    assert list(profile["stages"]) == ["import", "validate", "build + write", "customer counts"]
    assert sum(profile["stages"].values()) == pytest.approx(profile["seconds"], rel=0.05, abs=0.05)
    operators = profile["build_operators"]
    assert 0 < len(operators) <= TOP_OPERATORS
    assert [op["cpu_seconds"] for op in operators] == sorted(
        (op["cpu_seconds"] for op in operators), reverse=True
    )
    assert "where the time goes in upseg features" in printed
    assert "HASH_GROUP_BY" in {op["operator"] for op in operators} | {printed}


def test_the_report_names_the_threads_and_the_load(run):
    _, _, printed = run
    assert "load average" in printed and "threads" in printed
    assert "upseg features (validate+build), 1 thread" in printed
    assert "pandas computes on one thread" in printed
