"""Benchmark `upseg features` against a straightforward pandas group-by, in the same run.

    python -m benchmarks.bench_features --customers 1000000

Each measured stage runs in a fresh subprocess, so its wall time and peak
resident memory (ru_maxrss) are its own. Prints a table, writes
``<workdir>/results.json``, and checks that the engine's and pandas' features
agree. The machine is shared and noisy: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from benchmarks._common import machine, machine_line

STAGES = ("validate", "features", "pandas")


def _worker(stage: str, data: Path, as_of: str, out: Path, threads: int | None) -> dict:
    started = time.perf_counter()
    cutoff = pd.Timestamp(as_of, tz="UTC")
    if stage == "validate":
        from upseg.features.sources import connect
        from upseg.pipelines.jobs import load_source

        load_source(data, con=connect(threads=threads))
        rows = None
    elif stage == "features":
        from upseg.pipelines.jobs import run_features

        rows = run_features(data, cutoff, out, threads=threads).customers_scored
    else:
        from benchmarks.pandas_features import pandas_features, read_tables

        frame = pandas_features(read_tables(data), cutoff)
        frame.reset_index().to_parquet(out)
        rows = len(frame)
    return {
        "seconds": time.perf_counter() - started,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "customers": rows,
    }


def _run_stage(stage: str, args, out: Path) -> dict:
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
    if args.threads:
        cmd += ["--threads", str(args.threads)]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--as-of", default="2026-04-01")
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/output"))
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--worker", choices=STAGES, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        print(json.dumps(_worker(args.worker, args.data, args.as_of, args.out, args.threads)))
        return

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

    results = {}
    for stage in STAGES:
        results[stage] = _run_stage(stage, args, args.workdir / f"{stage}.parquet")
    agreement = _agreement(args.workdir / "features.parquet", args.workdir / "pandas.parquet")

    base = results["pandas"]["seconds"]
    print(f"\n{machine_line()}")
    print(f"world: {args.customers:,} customers, {rows_in:,} input rows, as of {args.as_of}\n")
    print(f"{'stage':<34}{'wall s':>9}{'peak MB':>10}{'input rows/s':>15}{'vs pandas':>11}")
    labels = {
        "validate": "upseg validate (DuckDB)",
        "features": "upseg features (validate+build)",
        "pandas": "pandas group-by baseline",
    }
    for stage, r in results.items():
        print(
            f"{labels[stage]:<34}{r['seconds']:>9.1f}{r['peak_rss_mb']:>10.0f}"
            f"{rows_in / r['seconds']:>15,.0f}{base / r['seconds']:>10.1f}x"
        )
    print(f"\nengine and pandas features agree to {agreement:.2e} (max abs difference)")
    payload = {
        "customers": args.customers,
        "input_rows": rows_in,
        "as_of": args.as_of,
        "machine": machine(),
        "stages": results,
        "max_abs_difference": agreement,
    }
    (args.workdir / "results.json").write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
