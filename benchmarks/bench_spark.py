"""What Spark costs on one machine: `upseg features`, `score` and `retrain`, DuckDB beside Spark.

    python -m benchmarks.bench_spark [--customers 1000000] [--master local[2]]
                                     [--commands features,score,retrain] [--max-rows 200000]

Each command runs as its own process, once per engine, on the same synthetic
world and the same registry (bench_score's, trained on its 100,000-customer
world: run ``python -m benchmarks.bench_score --populations 100000`` once
first). The process tree is sampled every 0.2 s for resident memory: the
driver (the ``upseg`` process itself) and, on Spark, the rest of the tree (the
local JVM and its Python workers, which stand in for the executors). DuckDB in
the same run is the baseline. Afterwards the two audiences are compared row
for row, so the figures are of runs that agree. ``retrain`` trains propensity
alone (one training snapshot and the holdout, no tuning) on at most
``--max-rows`` rows sampled on the engine; the two registered models' sample
and test metrics are compared. Prints a table and writes
``<workdir>/spark.json``. The machine is shared and noisy: compare ratios
within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks._common import REPO, ensure_world, machine, machine_line, progress, write_results

ENGINES = ("duckdb", "spark")
COMMANDS = ("features", "score", "retrain")
FEATURES_AS_OF = "2026-04-01"
SCORE_AS_OF = "2026-05-01"
CAMPAIGN = "BENCH-SPARK"
#: bench_score's home of the registry this benchmark scores with.
REGISTRY_HOME = "score_world_100000_0"


def _tree_rss_mb(root) -> tuple[float, float]:
    """Resident MB of ``root`` and of all its descendants together (0 for the gone)."""
    import psutil

    def rss(process) -> float:
        try:
            return process.memory_info().rss / 2**20
        except psutil.Error:
            return 0.0

    try:
        children = root.children(recursive=True)
    except psutil.Error:
        children = []
    return rss(root), sum(rss(c) for c in children)


def measured(cmd: list[str], timeout: float, log: Path) -> dict[str, float]:
    """Run ``cmd``; its wall time and the peak memory of the driver and of the rest of its tree."""
    import psutil

    started = time.perf_counter()
    process = subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    root = psutil.Process(process.pid)
    driver = others = 0.0
    while process.poll() is None:
        if time.perf_counter() - started > timeout:
            process.kill()
            sys.exit(f"{' '.join(cmd[:3])} took more than {timeout:.0f} s")
        mine, theirs = _tree_rss_mb(root)
        driver, others = max(driver, mine), max(others, theirs)
        time.sleep(0.2)
    output = process.stdout.read() if process.stdout else ""
    log.write_text(output)
    if process.returncode != 0:
        causes = [line for line in output.splitlines() if "Error" in line or "Exception" in line]
        sys.exit(f"{' '.join(cmd)} failed (its output: {log}):\n" + "\n".join(causes[:20]))
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "driver_peak_mb": round(driver, 1),
        "executors_peak_mb": round(others, 1),
    }


def _retrain_config(engine: str, world: Path, scratch: Path, max_rows: int) -> Path:
    """A configuration training propensity alone, its registry in ``scratch/retrain_<engine>``."""
    import yaml

    home = scratch / f"retrain_{engine}"
    home.mkdir()
    off = {"enabled": False}
    config = {
        "version": 1,
        "data": {"path": str(world)},
        "tracking": {"workdir": str(home)},
        "models": {
            "churn": off,
            "propensity": {"trials": 0, "snapshots": 1},
            "uplift": {**off, "campaign": "none"},
            "clv": off,
            "clusters": off,
        },
        "training": {"max_rows": max_rows},
        "reports": {"out": str(home / "reports")},
    }
    path = home / "upseg.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _command(engine: str, command: str, world: Path, scratch: Path, args) -> list[str]:
    upseg = [sys.executable, "-m", "upseg", command, "--data", str(world)]
    out = scratch / f"{command}_{engine}.parquet"
    if command == "retrain":
        config = _retrain_config(engine, world, scratch, args.max_rows)
        upseg = [sys.executable, "-m", "upseg", command, "--config", str(config)]
        cmd = [*upseg, "--as-of", FEATURES_AS_OF]
    elif command == "features":
        cmd = [*upseg, "--as-of", FEATURES_AS_OF, "--out", str(out)]
    else:
        cmd = [*upseg, "--as-of", SCORE_AS_OF, "--campaign", CAMPAIGN, "--out", str(out),
               "--workdir", str(scratch / "registry")]  # fmt: skip
    cmd += ["--engine", engine]
    if engine == "spark":
        cmd += ["--spark-master", args.master]
        cmd += [arg for conf in args.spark_conf for arg in ("--spark-conf", conf)]
    return cmd


def agreement(duck: Path, spark: Path) -> dict[str, float]:
    """How far Spark's audience is from DuckDB's: rows, differing actions, the largest score gap."""
    a = pd.read_parquet(duck).sort_values("customer_id", ignore_index=True)
    b = pd.read_parquet(spark).sort_values("customer_id", ignore_index=True)
    if len(a) != len(b) or not (a["customer_id"].to_numpy() == b["customer_id"].to_numpy()).all():
        return {"rows": len(a), "spark_rows": len(b), "same_customers": False}
    gap = 0.0
    for column in ("churn_probability", "purchase_probability", "uplift",
                   "expected_incremental_value", "clv"):  # fmt: skip
        x, y = a[column].to_numpy(float), b[column].to_numpy(float)
        both = np.isfinite(x) & np.isfinite(y)
        gap = max(gap, float(np.abs(x[both] - y[both]).max(initial=0.0)))
    return {
        "rows": len(a),
        "same_customers": True,
        "different_actions": int((a["action"].astype(str) != b["action"].astype(str)).sum()),
        "different_segments": int(
            (a["priority_segment"].astype(str) != b["priority_segment"].astype(str)).sum()
        ),
        "largest_score_gap": gap,
    }


def trained_alike(scratch: Path) -> dict[str, object]:
    """The propensity models the two retrains registered: their samples and test metrics."""
    from mlflow.tracking import MlflowClient

    from upseg.models.tracking import local_tracking_uri

    runs = {}
    for engine in ENGINES:
        client = MlflowClient(local_tracking_uri(scratch / f"retrain_{engine}"))
        experiment = client.get_experiment_by_name("upseg-retrain")
        (run,) = client.search_runs(
            [experiment.experiment_id], filter_string="tags.task = 'propensity'"
        )
        runs[engine] = run.data
    duck, spark = runs["duckdb"], runs["spark"]
    return {
        "rows_before": int(duck.params["sample_rows_before"]),
        "rows_kept": int(duck.params["sample_rows_kept"]),
        "same_sample": {k: v for k, v in duck.params.items() if k.startswith("sample_")}
        == {k: v for k, v in spark.params.items() if k.startswith("sample_")},
        "test_roc_auc": [duck.metrics["test_roc_auc"], spark.metrics["test_roc_auc"]],
    }


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7, help="the world's seed")
    parser.add_argument("--workdir", type=Path, default=REPO / "benchmarks" / "output")
    parser.add_argument("--json", type=Path, default=None, help="<workdir>/spark.json")
    parser.add_argument("--master", default="local[2]", help="Spark master (default local[2])")
    parser.add_argument(
        "--spark-conf", action="append", default=[], metavar="KEY=VALUE",
        help="a Spark setting for every Spark run; repeat for more",
    )  # fmt: skip
    parser.add_argument("--timeout", type=float, default=7_200.0, help="seconds per command")
    parser.add_argument(
        "--commands", default="features,score", help=f"comma-separated among {', '.join(COMMANDS)}"
    )
    parser.add_argument(
        "--max-rows", type=int, default=200_000, help="retrain's bound on training rows"
    )
    args = parser.parse_args(argv)
    commands = [c.strip() for c in args.commands.split(",") if c.strip()]
    unknown = sorted(set(commands) - set(COMMANDS))
    if unknown or not commands:
        parser.error(f"--commands must be among {', '.join(COMMANDS)}; got {args.commands!r}")

    registry = args.workdir / REGISTRY_HOME
    if "score" in commands and not (registry / "mlflow.db").exists():
        sys.exit(
            f"no registry at {registry}; train it once with "
            "`python -m benchmarks.bench_score --populations 100000`"
        )
    world = ensure_world(args.workdir, args.customers, args.seed)
    scratch = args.workdir / f"spark_{args.customers}_{args.seed}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    if "score" in commands:
        # The scoring runs log to a copy: the benchmark's registry stays as bench_score left it.
        (scratch / "registry").mkdir()
        shutil.copy2(registry / "mlflow.db", scratch / "registry" / "mlflow.db")
        os.symlink(registry / "mlartifacts", scratch / "registry" / "mlartifacts")

    results: dict = {
        "machine": machine(),
        "machine_line": machine_line(),
        "customers": args.customers,
        "world": world,
        "master": args.master,
        "spark_conf": args.spark_conf,
        "commands": commands,
        "max_rows": args.max_rows,
        "load_average": {"start": os.getloadavg()},
        "runs": {},
    }
    for command in commands:
        for engine in ENGINES:
            progress(f"{command} on {engine}")
            cmd = _command(engine, command, Path(world["path"]), scratch, args)
            log = scratch / f"{command}_{engine}.log"
            results["runs"][f"{command}/{engine}"] = measured(cmd, args.timeout, log)
    results["load_average"]["end"] = os.getloadavg()
    if "score" in commands:
        results["agreement"] = agreement(
            scratch / "score_duckdb.parquet", scratch / "score_spark.parquet"
        )
    if "retrain" in commands:
        results["retrain"] = trained_alike(scratch)
    _print(results)
    write_results(results, args.json or args.workdir / "spark.json")
    return results


def _print(results: dict) -> None:
    runs = results["runs"]
    print(f"\n{results['machine_line']}; {results['customers']:,} customers; "
          f"Spark master {results['master']}")  # fmt: skip
    print(f"{'command':<10}{'engine':<8}{'wall s':>9}{'x DuckDB':>10}"
          f"{'driver MB':>11}{'JVM+workers MB':>16}")  # fmt: skip
    for command in results["commands"]:
        base = runs[f"{command}/duckdb"]["seconds"]
        for engine in ENGINES:
            run = runs[f"{command}/{engine}"]
            print(f"{command:<10}{engine:<8}{run['seconds']:>9.1f}{run['seconds'] / base:>10.1f}"
                  f"{run['driver_peak_mb']:>11,.0f}{run['executors_peak_mb']:>16,.0f}")  # fmt: skip
    if "agreement" in results:
        print(f"audiences: {json.dumps(results['agreement'])}")
    if "retrain" in results:
        print(f"retrained propensity: {json.dumps(results['retrain'])}")


if __name__ == "__main__":
    main()
