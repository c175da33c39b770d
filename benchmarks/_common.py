"""What the benchmark scripts share: real data, synthetic worlds, stage timing, progress."""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "REPO",
    "ensure_world",
    "load_line",
    "machine",
    "peak_rss_mb",
    "progress",
    "run_worker",
    "shared_data_dir",
    "stage",
    "world_benchmark_parser",
    "world_dir",
    "write_results",
]

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``$UPSEG_SHARED_DATA``, by default ``<repo>/../shared/data``."""
    return Path(os.environ.get("UPSEG_SHARED_DATA", REPO.parent / "shared" / "data"))


def machine() -> dict[str, object]:
    """What a benchmark's results were measured on, for its JSON output."""
    return {
        "arch": platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
    }


def machine_line() -> str:
    """``machine: x86_64, 2 cores, CPython 3.11.7``: the machine, as a report prints it."""
    return (
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB.

    On Linux, ``VmHWM`` of ``/proc/self/status``: ``ru_maxrss`` starts a
    subprocess at its parent's resident size at the fork (Linux keeps it across
    ``execve``), so a parent holding a large table would lend each stage run in
    a fresh process its own peak. Elsewhere ``ru_maxrss`` (bytes on macOS).
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024


@contextmanager
def stage(name: str, stages: dict[str, dict[str, float]]) -> Iterator[None]:
    """Record the wall time of the block and the process's peak memory at its end."""
    started = time.perf_counter()
    yield
    stages[name] = {"seconds": time.perf_counter() - started, "peak_rss_mb": peak_rss_mb()}


def progress(message: str) -> None:
    """A time-stamped progress line on stderr, so stdout stays the report."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


#: The tables a synthetic world must have to be reused.
_WORLD_TABLES = ("customers", "orders", "web_events", "email_events")


def world_dir(workdir: Path, customers: int, seed: int) -> Path:
    """Where the synthetic world of ``customers`` and ``seed`` is kept under ``workdir``."""
    return workdir / f"world_{customers}_{seed}"


def ensure_world(workdir: Path, customers: int, seed: int) -> dict[str, Any]:
    """The world's folder, generated unless a complete one is there; and how long it took.

    ``generate_world(customers, seed=seed)`` (about 4 GB of memory per million
    customers) is written to :func:`world_dir`; the seconds it took are kept
    beside it in ``world_<customers>_<seed>.json``, so that benchmarks sharing a
    world report its generation once.
    """
    home = world_dir(workdir, customers, seed)
    marker = home.with_name(home.name + ".json")
    if all((home / f"{t}.parquet").exists() for t in _WORLD_TABLES):
        info = json.loads(marker.read_text()) if marker.exists() else {}
        return {"path": str(home), "reused": True, **info}
    from upseg.synthetic import generate_world, write_world

    progress(f"generating a world of {customers:,} customers (seed {seed}) in {home}")
    partial = home.with_name(home.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    started = time.perf_counter()
    write_world(generate_world(customers, seed=seed), partial)
    seconds = time.perf_counter() - started
    shutil.rmtree(home, ignore_errors=True)
    partial.rename(home)
    info = {"generation_seconds": round(seconds, 2)}
    marker.write_text(json.dumps(info))
    progress(f"world generated in {seconds:.1f} s")
    return {"path": str(home), "reused": False, **info}


def run_worker(module: str, task: str, options: list[str], timeout: float) -> dict[str, Any]:
    """Run ``python -m <module> --worker <task> <options>`` in a fresh process; its JSON line.

    Each measured task runs in its own process so that its wall time and peak
    memory are its own; the worker prints its result as the last line of
    stdout. A failure or a timeout stops the benchmark, naming the task.
    """
    cmd = [sys.executable, "-m", module, "--worker", task, *options]
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, check=False, timeout=timeout, cwd=REPO
        )
    except subprocess.TimeoutExpired:
        sys.exit(f"worker {task!r} took more than {timeout:.0f} s")
    if done.returncode != 0:
        sys.exit(f"worker {task!r} failed:\n{done.stderr[-5000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def world_benchmark_parser(
    description: str, tasks: Sequence[str], json_name: str, timeout: float
) -> argparse.ArgumentParser:
    """The options every benchmark on a synthetic world shares, and its hidden worker options.

    ``--customers``, ``--seed``, ``--workdir`` (where worlds are kept),
    ``--json`` (``<workdir>/<json_name>`` by default), ``--timeout`` (seconds per
    worker), ``--in-process``; ``--worker`` (one of ``tasks``), ``--world`` and
    ``--scratch`` are for :func:`run_worker`'s subprocesses.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7, help="the world's seed")
    parser.add_argument(
        "--workdir", type=Path, default=REPO / "benchmarks" / "output", help="worlds are kept here"
    )
    parser.add_argument("--json", type=Path, default=None, help=f"<workdir>/{json_name}")
    parser.add_argument("--timeout", type=float, default=timeout, help="seconds per worker")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run the tasks in this process (for the smoke test: the peaks then mix)",
    )
    parser.add_argument("--worker", choices=tasks, help=argparse.SUPPRESS)
    parser.add_argument("--world", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--scratch", type=Path, help=argparse.SUPPRESS)
    return parser


def load_line(results: dict[str, Any]) -> str:
    """The machine line with the load average at the run's start and end."""
    load = results["load_average"]
    return (
        f"{results['machine_line']}; load average {load['start'][0]:.2f} at the start, "
        f"{load['end'][0]:.2f} at the end"
    )


def write_results(results: dict[str, Any], path: Path) -> None:
    """Write a benchmark's results as JSON to ``path`` and say where."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nwrote {path}")
