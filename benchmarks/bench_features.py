"""Benchmark `upseg features` against a straightforward pandas group-by, in the same run.

    python -m benchmarks.bench_features --customers 1000000 [--profile]

Each measured stage runs in a fresh subprocess, so its wall time and peak
resident memory (:func:`benchmarks._common.peak_rss_mb`) are its own. DuckDB's
stages run twice: with its default threads (every core) and with one thread,
beside pandas, which uses one. ``--profile`` runs ``upseg features`` once more,
timing its stages and listing the DuckDB operators of the feature build that
took the most time. Prints a table, writes ``<workdir>/results.json``, and
checks that the engine's and pandas' features agree. The machine is shared and
noisy: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from benchmarks._common import load_line, machine, machine_line, peak_rss_mb

STAGES = ("validate", "features", "pandas")
#: The stages that run on DuckDB, measured again with one thread.
ENGINE_STAGES = ("validate", "features")
#: The build's operators listed by ``--profile``.
TOP_OPERATORS = 8


def _engine_threads(con) -> int:
    """How many threads the DuckDB connection runs with."""
    return int(con.raw_sql("SELECT current_setting('threads')").fetchone()[0])


def _worker(stage: str, data: Path, as_of: str, out: Path, threads: int | None) -> dict:
    if stage == "profile":
        return _profile(data, pd.Timestamp(as_of, tz="UTC"), out, threads)
    started = time.perf_counter()
    cutoff = pd.Timestamp(as_of, tz="UTC")
    rows: int | None = None
    if stage == "validate":
        from upseg.features.sources import connect
        from upseg.pipelines.jobs import load_source

        load_source(data, con=connect(threads=threads))
    elif stage == "features":
        from upseg.features.sources import connect
        from upseg.pipelines.jobs import run_features

        rows = run_features(data, cutoff, out, threads=threads).customers_scored
    else:
        from benchmarks.pandas_features import pandas_features, read_tables

        frame = pandas_features(read_tables(data), cutoff)
        frame.reset_index().to_parquet(out)
        rows = len(frame)
    seconds = time.perf_counter() - started
    # Asked after the clock stops, of a connection opened as the stage's was.
    used = 1 if stage == "pandas" else _engine_threads(connect(threads=threads))
    return {"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "customers": rows, "threads": used}


def _profile(data: Path, cutoff: pd.Timestamp, out: Path, threads: int | None) -> dict:
    """The stages of ``upseg features`` (as :func:`pipelines.jobs.run_features` runs them),
    timed one by one, and the feature build's costliest DuckDB operators."""
    stages: dict[str, float] = {}
    started = time.perf_counter()
    from upseg.features.build import build_features
    from upseg.features.pit import customer_spine
    from upseg.features.sources import connect
    from upseg.pipelines.jobs import load_source

    stages["import"] = time.perf_counter() - started
    mark = time.perf_counter()
    con = connect(threads=threads)
    source = load_source(data, con=con)
    stages["validate"] = time.perf_counter() - mark
    tables = source.result.tables
    trace = out.with_suffix(".profile.json")
    con.raw_sql("PRAGMA enable_profiling = 'json'")
    con.raw_sql(f"PRAGMA profiling_output = '{trace}'")
    mark = time.perf_counter()
    features = build_features(tables, customer_spine(tables["customers"], cutoff))
    con.to_parquet(features, out)
    stages["build + write"] = time.perf_counter() - mark
    con.raw_sql("PRAGMA disable_profiling")
    mark = time.perf_counter()
    customers = tables["customers"]
    customers.filter(customers.signup_at >= cutoff).count().execute()
    stages["customer counts"] = time.perf_counter() - mark
    return {
        "threads": _engine_threads(con),
        "stages": stages,
        "seconds": time.perf_counter() - started,
        "build_operators": _costliest_operators(json.loads(trace.read_text())),
    }


def _costliest_operators(profile: dict, top: int = TOP_OPERATORS) -> list[dict]:
    """The ``top`` operators of a DuckDB JSON profile by CPU seconds, with what they did."""
    found = []

    def visit(node: dict) -> None:
        info = node.get("extra_info") or {}
        what = info.get("Aggregates") or info.get("Projections") or info.get("Conditions") or ""
        if isinstance(what, list):
            what = ", ".join(str(w) for w in what)
        groups = info.get("Groups")
        found.append(
            {
                "operator": node.get("operator_name") or node.get("operator_type", "?"),
                "cpu_seconds": float(node.get("operator_timing", 0.0)),
                "rows": int(node.get("operator_cardinality", 0)),
                "groups": ", ".join(groups) if isinstance(groups, list) else groups,
                "detail": str(what)[:100],
            }
        )
        for child in node.get("children", []):
            visit(child)

    for child in profile.get("children", []):
        visit(child)
    return sorted(found, key=lambda f: -f["cpu_seconds"])[:top]


def _run_stage(stage: str, args, out: Path, threads: int | None) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.bench_features",
        "--worker",
        stage,
        "--data",
        str(args.data),
        "--as-of",
        args.as_of,
        "--out",
        str(out),
    ]
    if threads:
        cmd += ["--threads", str(threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"stage {stage} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _input_rows(data: Path) -> int:
    return sum(
        pq.ParquetFile(p).metadata.num_rows
        for p in data.glob("*.parquet")
        if p.name != "truth.parquet"
    )


def _agreement(engine: Path, baseline: Path) -> float:
    """Largest absolute difference over numeric features (after aligning customers)."""
    a = pd.read_parquet(engine).set_index("customer_id").sort_index()
    b = pd.read_parquet(baseline).set_index("customer_id").sort_index()
    assert a.index.equals(b.index), "engine and pandas score different customers"
    worst = 0.0
    for col in b.columns:
        if (
            col in a
            and pd.api.types.is_numeric_dtype(a[col])
            and not pd.api.types.is_bool_dtype(a[col])
        ):
            diff = (a[col].astype(float) - b[col].astype(float)).abs()
            both_null = a[col].isna() & b[col].isna()
            worst = max(worst, float(np.nan_to_num(diff[~both_null], nan=np.inf).max(initial=0)))
        elif col in a:
            left = a[col].astype(str).where(a[col].notna(), "<NA>")
            right = b[col].astype(str).where(b[col].notna(), "<NA>")
            worst = max(worst, float((left != right).sum()))
    return worst


LABELS = {
    "validate": "upseg validate (DuckDB)",
    "features": "upseg features (validate+build)",
    "pandas": "pandas group-by baseline",
}


def _print_table(results: dict, rows_in: int) -> None:
    base = results["pandas"]["seconds"]
    print(
        f"{'stage':<34}{'threads':>8}{'wall s':>9}{'peak MB':>10}{'input rows/s':>15}"
        f"{'vs pandas':>11}"
    )
    for key, r in results.items():
        stage, _, single = key.partition(" ")
        label = LABELS[stage] + (", 1 thread" if single else "")
        print(
            f"{label:<34}{r['threads']:>8}{r['seconds']:>9.1f}{r['peak_rss_mb']:>10.0f}"
            f"{rows_in / r['seconds']:>15,.0f}{base / r['seconds']:>10.1f}x"
        )


def _print_profile(profile: dict) -> None:
    print(f"\nwhere the time goes in upseg features ({profile['threads']} threads):")
    for name, seconds in profile["stages"].items():
        print(f"  {name:<20}{seconds:>7.1f} s")
    print("the feature build's costliest DuckDB operators (CPU seconds over all threads):")
    for op in profile["build_operators"]:
        groups = f" by {op['groups']}" if op["groups"] else ""
        print(
            f"  {op['cpu_seconds']:>6.1f}  {op['operator']}{groups}, {op['rows']:,} rows out: "
            f"{op['detail']}"
        )


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--as-of", default="2026-04-01")
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/output"))
    parser.add_argument("--threads", type=int, default=None, help="DuckDB's (all cores if omitted)")
    parser.add_argument(
        "--profile", action="store_true", help="time the stages of upseg features once more"
    )
    parser.add_argument("--worker", choices=(*STAGES, "profile"), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(_worker(args.worker, args.data, args.as_of, args.out, args.threads)))
        return None

    args.data = args.workdir / f"world_{args.customers}_{args.seed}"
    if not (args.data / "customers.parquet").exists():
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "upseg.pipelines.cli",
                "generate",
                "--out",
                str(args.data),
                "--customers",
                str(args.customers),
                "--seed",
                str(args.seed),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print(f"generated {args.customers:,} customers in {time.perf_counter() - started:.1f}s")
    rows_in = _input_rows(args.data)

    load_start = os.getloadavg()
    results = {}
    for stage in STAGES:
        results[stage] = _run_stage(stage, args, args.workdir / f"{stage}.parquet", args.threads)
    for stage in ENGINE_STAGES:
        out = args.workdir / f"{stage}_1thread.parquet"
        results[f"{stage} 1-thread"] = _run_stage(stage, args, out, 1)
    profile = None
    if args.profile:
        profile = _run_stage("profile", args, args.workdir / "profile.parquet", args.threads)
    load_end = os.getloadavg()
    agreement = _agreement(args.workdir / "features.parquet", args.workdir / "pandas.parquet")

    base = results["pandas"]["seconds"]
    payload = {
        "customers": args.customers,
        "input_rows": rows_in,
        "as_of": args.as_of,
        "machine": machine(),
        "machine_line": machine_line(),
        "load_average": {"start": load_start, "end": load_end},
        "threads": {"duckdb": results["features"]["threads"], "pandas": 1},
        "stages": {k: {**r, "seconds_vs_pandas": base / r["seconds"]} for k, r in results.items()},
        "max_abs_difference": agreement,
        "profile": profile,
    }
    print(f"\n{load_line(payload)}")
    print(f"world: {args.customers:,} customers, {rows_in:,} input rows, as of {args.as_of}\n")
    _print_table(results, rows_in)
    print(
        "\npandas computes on one thread (pyarrow reads its Parquet files with every core); "
        "DuckDB on the threads shown"
    )
    print(f"engine and pandas features agree to {agreement:.2e} (max abs difference)")
    if profile is not None:
        _print_profile(profile)
    (args.workdir / "results.json").write_text(json.dumps(payload, indent=2))
    return payload


if __name__ == "__main__":
    main()
