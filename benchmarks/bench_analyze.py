"""Benchmark ``upseg analyze`` on Hillstrom's e-mail experiment, 64,000 to 5,000,000 customers.

    python -m benchmarks.bench_analyze [--rows 64000,1000000,5000000] [--quick]

The data is Hillstrom's real experiment (``hillstrom.csv``: 64,000 customers
randomised to a men's e-mail, a women's e-mail or none). A size equal to the
file's row count is the file itself; any other size is the file's rows drawn
with replacement (seed ``--seed``) and written as CSV, once, under
``<workdir>/analyze_data`` for the next run.

For each size, three stages, each in a fresh subprocess whose wall time and
peak resident memory (``VmHWM``, see :func:`benchmarks._common.peak_rss_mb`) are its own; the
clock starts after the imports:

- ``analyze``: the whole :func:`pipelines.analyze_job.run_analysis`, as
  ``upseg analyze --table FILE --treatment segment --control "No E-Mail"
  --outcome visit,conversion,spend --by zip_code,channel,history_segment
  --cuped spend=history --bootstrap 2000`` runs it: reading the table and its
  fingerprint, lifts, intervals, tests, SRM, power, CUPED and ROI overall and
  in every segment, then ``results.csv``, ``results.json`` and ``report.html``.
  Its stages (the job's ``on_stage`` messages) and the calls of
  :func:`experiments.stats.bootstrap_diff_ci` inside it are timed too.
- ``bootstrap``: :func:`experiments.stats.bootstrap_diff_ci` on ``spend`` of
  Mens E-Mail against No E-Mail, ``--resamples`` resamples, seed ``--seed``.
- ``scipy``: the baseline, ``scipy.stats.bootstrap`` of the difference in means
  on the same two arrays, ``method="percentile"``, ``vectorized=True``, the
  same number of resamples. scipy draws ``batch x n`` indices at a time; its
  default (all resamples at once) would hold 2000 x n x 16 bytes (5 GB for each
  arm of 1,000,000 rows) and is slower, so ``batch`` is chosen so that one batch
  of both arms' indices and values takes at most ``--baseline-batch-mb``. It is
  not run at a size where the previous size's rate predicts more than
  ``--baseline-max-seconds`` for one call; the report says so.

Both bootstraps read the two arrays from a ``.npz`` file, extracted from the
size's table as ``upseg analyze`` reads it; each call runs once untimed on a
small slice, then up to ``--repeats`` times while under ``--repeat-seconds``,
and the median counts. Their 95% intervals are printed side by side with the
``bootstrap`` row of ``results.json`` for the same comparison (equal to
``bootstrap_diff_ci``'s: same arrays, same seed); they "agree" when neither end
differs by more than :data:`AGREE_SHARE` of the interval's width (about five
Monte-Carlo standard errors at 2000 resamples).

Prints a Markdown table for the README (customers/s counts every row of the
table for ``analyze``, the two compared arms for the bootstraps) and writes
``<workdir>/analyze.json``. The machine is shared and noisy: compare ratios
within one run.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import REPO, machine, peak_rss_mb, progress, shared_data_dir

HILLSTROM_FILE = "hillstrom.csv"
TREATMENT, CONTROL, ARM = "segment", "No E-Mail", "Mens E-Mail"
OUTCOMES = ("visit", "conversion", "spend")
BY = ("zip_code", "channel", "history_segment")
CUPED = {"spend": "history"}
#: The outcome both bootstraps compare.
METRIC = "spend"
ALPHA = 0.05
WORKERS = ("analyze", "bootstrap", "scipy")
#: Two intervals agree when neither end moves by more than this share of the width.
AGREE_SHARE = 0.1
#: Rows of the untimed warm-up call of each bootstrap.
WARMUP_VALUES = 200
DEFAULT_ROWS = (64_000, 1_000_000)
QUICK_ROWS = (5_000,)


# ----------------------------------------------------------------------------- helpers


def _sizes(text: str) -> list[int]:
    """``"64000,1000000"`` (or one size) as a list of positive ints."""
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected row counts like 64000,1000000; got {text!r}"
        ) from None
    if not sizes or min(sizes) < 2:
        raise argparse.ArgumentTypeError(f"row counts must be >= 2; got {text!r}")
    return sizes


def _timed_median(call: Callable[[], Any], repeats: int, budget: float) -> tuple[float, int, Any]:
    """Median seconds of ``call`` over up to ``repeats`` runs, stopping once ``budget`` is spent."""
    times, result = [], None
    while len(times) < repeats and sum(times) < budget:
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return float(np.median(times)), len(times), result


def _difference_in_means(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """The statistic of the scipy baseline, vectorised along ``axis``."""
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def scipy_batch(n_values: int, n_resamples: int, batch_mb: float) -> int:
    """Resamples per scipy batch so that ``batch x n_values`` int64 indices and float64 values
    take at most ``batch_mb`` (at least 1, at most ``n_resamples``)."""
    fits = int(batch_mb * 2**20 // (16 * n_values))
    return max(1, min(n_resamples, fits))


def interval_gap(a: Sequence[float], b: Sequence[float]) -> float:
    """The larger move of either end from interval ``b`` to ``a``, as a share of ``b``'s width."""
    width = b[1] - b[0]
    gap = max(abs(a[0] - b[0]), abs(a[1] - b[1]))
    return gap / width if width > 0 else (0.0 if gap == 0 else math.inf)


# ----------------------------------------------------------------------------- data


def _arms(frame, metric: str = METRIC) -> tuple[np.ndarray, np.ndarray]:
    """``metric`` of the Mens E-Mail and No E-Mail customers, as the analysis takes them."""
    arm = frame[TREATMENT].astype("string")
    values = frame[metric]
    return (
        values[arm == ARM].dropna().to_numpy("float64"),
        values[arm == CONTROL].dropna().to_numpy("float64"),
    )


def prepare_size(source: Path, rows: int, home: Path, *, seed: int = 0) -> tuple[Path, Path, int]:
    """The table of ``rows`` customers, the ``.npz`` of its two compared arms (both kept for
    reuse) and the source's row count.

    ``rows`` equal to the source's row count is the source itself; otherwise
    the source's rows are drawn with replacement. The arrays are read back from
    the written table with :func:`experiments.data.read_table`, as
    ``upseg analyze`` reads it, so both bootstraps see the analysis's values.
    """
    import pandas as pd

    from upseg.experiments.data import read_table

    raw = pd.read_csv(source)
    source_rows = len(raw)
    home.mkdir(parents=True, exist_ok=True)
    if rows == source_rows:
        table = source
        arrays = home / f"{source.stem}_{rows}_{METRIC}.npz"
    else:
        table = home / f"{source.stem}_{rows}_{seed}.csv"
        arrays = home / f"{source.stem}_{rows}_{seed}_{METRIC}.npz"
        if not table.exists():
            progress(f"resampling {rows:,} rows of {source.name}")
            drawn = raw.iloc[np.random.default_rng(seed).integers(0, len(raw), rows)]
            tmp = table.with_name(f".{table.name}.tmp")
            drawn.to_csv(tmp, index=False)
            tmp.replace(table)
            arrays.unlink(missing_ok=True)
    del raw
    if not arrays.exists():
        arm, control = _arms(read_table(table))
        tmp = arrays.with_name(f".{arrays.stem}.tmp.npz")
        np.savez(tmp, arm=arm, control=control)
        tmp.replace(arrays)
    return table, arrays, source_rows


# ----------------------------------------------------------------------------- workers


def _analyze_worker(table: Path, out: Path, by: tuple[str, ...], resamples: int, seed: int) -> dict:
    from upseg.experiments import stats
    from upseg.experiments.analysis import AnalysisSettings
    from upseg.pipelines.analyze_job import AnalyzeSettings, run_analysis

    boot = {"calls": 0, "seconds": 0.0}
    original = stats.bootstrap_diff_ci

    def timed_bootstrap(*args: Any, **kwargs: Any) -> tuple[float, float]:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            boot["calls"] += 1
            boot["seconds"] += time.perf_counter() - started

    # experiments.analysis calls it as stats.bootstrap_diff_ci: replaced for this process only.
    stats.bootstrap_diff_ci = timed_bootstrap
    settings = AnalyzeSettings(
        out=out,
        analysis=AnalysisSettings(by=by, bootstrap_resamples=resamples, seed=seed, alpha=ALPHA),
        table=table,
        treatment=TREATMENT,
        control=CONTROL,
        outcomes=OUTCOMES,
        cuped=dict(CUPED),
    )
    marks: list[tuple[str, float]] = []

    def on_stage(message: str) -> None:
        marks.append((message, time.perf_counter()))
        progress(f"  {message}")

    rss_start = peak_rss_mb()
    started = time.perf_counter()
    run = run_analysis(settings, on_stage=on_stage)
    ended = time.perf_counter()
    stops = [t for _, t in marks[1:]] + [ended]
    stages = {message: stop - t for (message, t), stop in zip(marks, stops, strict=True)}
    payload = run.payload
    row = next(
        r
        for r in payload["results"]
        if (r["metric"], r["segment_by"], r["arm"], r["method"])
        == (METRIC, "overall", ARM, "bootstrap")
    )
    return {
        "seconds": ended - started,
        "peak_rss_mb": peak_rss_mb(),
        "rss_after_imports_mb": rss_start,
        "stages": stages,
        "bootstrap_calls": boot["calls"],
        "bootstrap_seconds": boot["seconds"],
        "customers": payload["counts"]["customers"],
        "result_rows": len(payload["results"]),
        "skipped": len(payload["skipped"]),
        "interval": [row["abs_lift_ci_low"], row["abs_lift_ci_high"]],
        "difference": row["abs_lift"],
        "files": [str(p) for p in (run.results_csv, run.results_json, run.report)],
    }


def _load_arrays(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as arrays:
        return arrays["arm"], arrays["control"]


def _bootstrap_worker(arrays: Path, args: argparse.Namespace) -> dict:
    from upseg.experiments.stats import bootstrap_diff_ci

    arm, control = _load_arrays(arrays)
    rss_loaded = peak_rss_mb()
    bootstrap_diff_ci(arm[:WARMUP_VALUES], control[:WARMUP_VALUES], n_resamples=10)
    seconds, runs, interval = _timed_median(
        lambda: bootstrap_diff_ci(
            arm, control, alpha=ALPHA, n_resamples=args.resamples, seed=args.seed
        ),
        args.repeats,
        args.repeat_seconds,
    )
    nonzero = int(np.count_nonzero(arm) + np.count_nonzero(control))
    return {
        "seconds": seconds,
        "runs": runs,
        "peak_rss_mb": peak_rss_mb(),
        "rss_after_loading_mb": rss_loaded,
        "interval": list(interval),
        "n_arm": int(arm.size),
        "n_control": int(control.size),
        "nonzero_share": nonzero / (arm.size + control.size),
    }


def _scipy_worker(arrays: Path, args: argparse.Namespace) -> dict:
    from scipy import stats

    arm, control = _load_arrays(arrays)
    rss_loaded = peak_rss_mb()
    batch = scipy_batch(arm.size + control.size, args.resamples, args.baseline_batch_mb)

    def call(x: np.ndarray, y: np.ndarray, resamples: int) -> list[float]:
        result = stats.bootstrap(
            (x, y),
            _difference_in_means,
            n_resamples=resamples,
            batch=min(batch, resamples),
            vectorized=True,
            method="percentile",
            confidence_level=1 - ALPHA,
            rng=np.random.default_rng(args.seed),
        )
        return [float(result.confidence_interval.low), float(result.confidence_interval.high)]

    call(arm[:WARMUP_VALUES], control[:WARMUP_VALUES], 10)
    seconds, runs, interval = _timed_median(
        lambda: call(arm, control, args.resamples), args.repeats, args.repeat_seconds
    )
    return {
        "seconds": seconds,
        "runs": runs,
        "peak_rss_mb": peak_rss_mb(),
        "rss_after_loading_mb": rss_loaded,
        "interval": interval,
        "batch": batch,
        "n_arm": int(arm.size),
        "n_control": int(control.size),
    }


# ----------------------------------------------------------------------------- parent


def _run_worker(worker: str, args: argparse.Namespace, timeout: float, **paths: Path) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.bench_analyze", "--worker", worker]
    for name, path in paths.items():
        cmd += [f"--{name.replace('_', '-')}", str(path)]
    cmd += ["--by", ",".join(args.by), "--resamples", str(args.resamples), "--seed", str(args.seed)]
    cmd += ["--repeats", str(args.repeats), "--repeat-seconds", str(args.repeat_seconds)]
    cmd += ["--baseline-batch-mb", str(args.baseline_batch_mb)]
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, check=False, timeout=timeout, cwd=REPO
        )
    except subprocess.TimeoutExpired:
        return {"error": f"stopped after {timeout:.0f} s", "timeout": timeout}
    if done.returncode != 0:
        sys.exit(f"worker {worker} failed:\n{done.stderr[-5000:]}")
    for line in done.stderr.splitlines():
        print(line, file=sys.stderr, flush=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _scipy_prediction(done: dict[int, dict], n_values: int, resamples: int) -> dict | None:
    """Seconds of one scipy call on ``n_values`` values, from the largest size measured so far."""
    measured = [r["scipy"] for r in done.values() if "seconds" in r.get("scipy", {})]
    if not measured:
        return None
    last = max(measured, key=lambda r: r["n_arm"] + r["n_control"])
    rate = last["seconds"] / (last["n_arm"] + last["n_control"])
    return {"seconds": rate * n_values, "from_values": last["n_arm"] + last["n_control"]}


def _summarize(rows: int, analyze: dict, ours: dict, scipy: dict) -> dict:
    values = ours["n_arm"] + ours["n_control"]
    out = {
        "rows": rows,
        "analyze": analyze,
        "bootstrap": ours,
        "scipy": scipy,
        "analyze_customers_per_second": rows / analyze["seconds"],
        "bootstrap_customers_per_second": values / ours["seconds"],
        "analysis_equals_bootstrap": analyze["interval"] == ours["interval"],
    }
    if "seconds" in scipy:
        out["scipy_customers_per_second"] = values / scipy["seconds"]
        out["speedup"] = scipy["seconds"] / ours["seconds"]
        out["gap_share_of_width"] = interval_gap(ours["interval"], scipy["interval"])
        out["intervals_agree"] = out["gap_share_of_width"] <= AGREE_SHARE
    return out


def run(args: argparse.Namespace) -> dict:
    """Prepare every size, run its three workers in fresh subprocesses, return the results."""
    started = time.perf_counter()
    home = args.workdir / "analyze_data"
    sizes: dict[int, dict] = {}
    source_rows = None
    for n in args.rows:
        table, arrays, source_rows = prepare_size(args.data, n, home, seed=args.seed)
        out = args.workdir / f"analyze_out_{n}"
        progress(f"run_analysis on {n:,} rows")
        analyze = _run_worker("analyze", args, args.timeout, table=table, analysis_out=out)
        if "error" in analyze:
            progress(f"{n:,} rows: run_analysis {analyze['error']}; larger sizes skipped")
            break
        progress(f"bootstrap_diff_ci on {n:,} rows")
        ours = _run_worker("bootstrap", args, args.timeout, arrays=arrays)
        values = ours["n_arm"] + ours["n_control"]
        predicted = _scipy_prediction(sizes, values, args.resamples)
        if predicted and predicted["seconds"] > args.baseline_max_seconds:
            scipy = {
                "skipped": (
                    f"predicted {predicted['seconds']:.0f} s for one call (from "
                    f"{predicted['from_values']:,} values, linear in values) > "
                    f"{args.baseline_max_seconds:.0f} s"
                ),
                "predicted_seconds": predicted["seconds"],
            }
            progress(f"scipy.stats.bootstrap on {n:,} rows not run: {scipy['skipped']}")
        else:
            progress(f"scipy.stats.bootstrap on {n:,} rows")
            timeout = 2 * args.baseline_max_seconds + 60
            scipy = _run_worker("scipy", args, timeout, arrays=arrays)
            if "error" in scipy:
                scipy["skipped"] = f"one call {scipy['error']}"
            elif scipy["seconds"] > args.baseline_max_seconds:
                scipy["over_cap"] = (
                    f"scipy.stats.bootstrap at {n:,} rows took {scipy['seconds']:.0f} s, over the "
                    f"{args.baseline_max_seconds:.0f} s cap"
                    + (
                        f": its prediction from {predicted['from_values']:,} values, linear in "
                        f"values, was {predicted['seconds']:.0f} s"
                        if predicted
                        else " (no smaller size to predict it from)"
                    )
                )
        sizes[n] = _summarize(n, analyze, ours, scipy)
    if not sizes:
        sys.exit("no size finished")
    return {
        "rows": list(sizes),
        "source": str(args.data),
        "source_rows": source_rows,
        "settings": {
            "treatment": TREATMENT,
            "control": CONTROL,
            "outcomes": list(OUTCOMES),
            "by": list(args.by),
            "cuped": CUPED,
            "bootstrap_resamples": args.resamples,
            "seed": args.seed,
            "compared": {"metric": METRIC, "arm": ARM, "control": CONTROL},
            "repeats": args.repeats,
            "repeat_seconds": args.repeat_seconds,
            "baseline_batch_mb": args.baseline_batch_mb,
            "baseline_max_seconds": args.baseline_max_seconds,
            "agree_share": AGREE_SHARE,
        },
        "sizes": {str(n): r for n, r in sizes.items()},
        "machine": machine(),
        "seconds": time.perf_counter() - started,
    }


# ----------------------------------------------------------------------------- report


def _s(seconds: float) -> str:
    if seconds >= 10:
        return f"{seconds:.1f}"
    return f"{seconds:.2f}" if seconds >= 0.1 else f"{seconds:.4f}"


def _interval(interval: Sequence[float]) -> str:
    return f"[{interval[0]:.4f}, {interval[1]:.4f}]"


def markdown_table(results: dict) -> str:
    """The README tables: three stages per size, then where ``run_analysis`` spends its time."""
    sizes = list(results["sizes"].values())
    lines = [
        "| rows | stage | wall (s) | peak memory (MB) | customers/s | ratio vs baseline |",
        "| ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in sizes:
        rows, a, b, s = f"{r['rows']:,}", r["analyze"], r["bootstrap"], r["scipy"]
        lines.append(
            f"| {rows} | `upseg analyze` (run_analysis) | {_s(a['seconds'])} "
            f"| {a['peak_rss_mb']:,.0f} | {r['analyze_customers_per_second']:,.0f} | — |"
        )
        ratio = f"{r['speedup']:,.0f}x faster" if "speedup" in r else "n/a"
        lines.append(
            f"| {rows} | bootstrap_diff_ci ({METRIC}) | {_s(b['seconds'])} "
            f"| {b['peak_rss_mb']:,.0f} | {r['bootstrap_customers_per_second']:,.0f} | {ratio} |"
        )
        if "seconds" in s:
            lines.append(
                f"| {rows} | scipy.stats.bootstrap ({METRIC}, batch {s['batch']}) "
                f"| {_s(s['seconds'])} | {s['peak_rss_mb']:,.0f} "
                f"| {r['scipy_customers_per_second']:,.0f} | 1 (baseline) |"
            )
        else:
            lines.append(
                f"| {rows} | scipy.stats.bootstrap ({METRIC}): not run, {s['skipped']} "
                "| — | — | — | — |"
            )
    labels = [f"{r['rows']:,}" for r in sizes]
    lines += [
        "",
        f"| run_analysis stage (s) | {' | '.join(labels)} |",
        f"| --- | {' | '.join('---:' for _ in labels)} |",
    ]
    for message in sizes[0]["analyze"]["stages"]:
        cells = [_s(r["analyze"]["stages"].get(message, math.nan)) for r in sizes]
        lines.append(f"| {message} | {' | '.join(cells)} |")
    cells = [
        f"{_s(r['analyze']['bootstrap_seconds'])} ({r['analyze']['bootstrap_calls']} calls)"
        for r in sizes
    ]
    lines.append(f"| of which bootstrap_diff_ci, while computing | {' | '.join(cells)} |")
    settings = results["settings"]
    first = sizes[0]["bootstrap"]
    source_rows = results["source_rows"]
    lines += [
        "",
        f"Hillstrom's e-mail experiment ({HILLSTROM_FILE}: the file itself at {source_rows:,} "
        f"rows, its rows drawn with replacement, seed {settings['seed']}, for the other sizes); "
        f"treatment `{TREATMENT}`, control `{CONTROL}`, outcomes "
        f"{', '.join(OUTCOMES)}, `--by {','.join(settings['by'])}`, CUPED spend=history, "
        f"{settings['bootstrap_resamples']:,} bootstrap resamples; "
        f"{results['machine']['cores']} cores. Each stage in a fresh process, timed after its "
        "imports; peak memory is the process's VmHWM. The two bootstraps compare "
        f"{METRIC} of {ARM} and {CONTROL} (customers/s counts those two arms; "
        f"{first['nonzero_share']:.1%} of them spent anything); ratio = scipy seconds / "
        "bootstrap_diff_ci seconds, median of up to "
        f"{settings['repeats']} calls each within {settings['repeat_seconds']:g} s.",
    ]
    lines += [f"{r['scipy']['over_cap']}." for r in sizes if "over_cap" in r["scipy"]]
    return "\n".join(lines)


def intervals_text(results: dict) -> str:
    """Both 95% intervals, and the analysis's, per size: do they agree?"""
    s = results["settings"]
    lines = [
        f"{METRIC}, {ARM} - {CONTROL}: {1 - ALPHA:.0%} percentile interval of the difference "
        f"in means, {s['bootstrap_resamples']:,} resamples (seed {s['seed']})",
        f"{'rows':>10}  {'bootstrap_diff_ci':<24}{'scipy.stats.bootstrap':<24}"
        f"{'run_analysis row':<24}largest end gap / width",
    ]
    for r in results["sizes"].values():
        scipy = r["scipy"]
        if "interval" in scipy:
            verdict = "agree" if r["intervals_agree"] else "DO NOT agree"
            gap = f"{r['gap_share_of_width']:.1%} ({verdict}, limit {AGREE_SHARE:.0%})"
            baseline = _interval(scipy["interval"])
        else:
            gap, baseline = "scipy not run", "—"
        same = "" if r["analysis_equals_bootstrap"] else " (differs from bootstrap_diff_ci!)"
        lines.append(
            f"{r['rows']:>10,}  {_interval(r['bootstrap']['interval']):<24}{baseline:<24}"
            f"{_interval(r['analyze']['interval']):<24}{gap}{same}"
        )
    return "\n".join(lines)


def _print_report(results: dict) -> None:
    m = results["machine"]
    print(f"\nmachine: {m['arch']}, {m['cores']} cores, Python {m['python']}")
    for r in results["sizes"].values():
        b, s = r["bootstrap"], r["scipy"]
        extra = f", scipy batch {s['batch']} ({s['runs']} run(s))" if "batch" in s else ""
        print(
            f"{r['rows']:>10,} rows: {r['analyze']['result_rows']} result rows, "
            f"{r['analyze']['skipped']} skipped comparisons; {b['n_arm']:,} {ARM} vs "
            f"{b['n_control']:,} {CONTROL}; bootstrap_diff_ci {b['runs']} run(s){extra}"
        )
    print()
    print(intervals_text(results))
    print()
    print(markdown_table(results))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=shared_data_dir() / HILLSTROM_FILE,
        help="hillstrom.csv, or the folder holding it",
    )
    parser.add_argument(
        "--rows",
        type=_sizes,
        nargs="+",
        default=None,
        help=f"sizes, e.g. 64000,1000000,5000000 (default {','.join(map(str, DEFAULT_ROWS))})",
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_ROWS[0]:,} rows only, for a smoke test"
    )
    parser.add_argument("--by", type=lambda t: tuple(t.split(",")), default=BY)
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0, help="resampling and bootstrap seed")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per bootstrap")
    parser.add_argument(
        "--repeat-seconds", type=float, default=10.0, help="no further timed call after this"
    )
    parser.add_argument(
        "--baseline-batch-mb",
        type=float,
        default=128.0,
        help="memory of one scipy batch of indices and values",
    )
    parser.add_argument(
        "--baseline-max-seconds",
        type=float,
        default=60.0,
        help="skip scipy at a size predicted to take longer",
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per worker")
    parser.add_argument("--workdir", type=Path, default=REPO / "benchmarks" / "output")
    parser.add_argument("--out", type=Path, default=None, help="<workdir>/analyze.json")
    parser.add_argument("--worker", choices=WORKERS, help=argparse.SUPPRESS)
    parser.add_argument("--table", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--arrays", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--analysis-out", type=Path, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> dict | None:
    """Run the benchmark, print the report, write the JSON file and return its content."""
    args = _parser().parse_args(argv)
    if args.worker == "analyze":
        result = _analyze_worker(args.table, args.analysis_out, args.by, args.resamples, args.seed)
        print(json.dumps(result))
        return None
    if args.worker in ("bootstrap", "scipy"):
        worker = _bootstrap_worker if args.worker == "bootstrap" else _scipy_worker
        print(json.dumps(worker(args.arrays, args)))
        return None
    if args.rows is None:
        args.rows = list(QUICK_ROWS if args.quick else DEFAULT_ROWS)
    else:
        args.rows = [n for group in args.rows for n in group]
    if args.data.is_dir():
        args.data = args.data / HILLSTROM_FILE
    if not args.data.exists():
        sys.exit(f"{args.data} not found; pass --data or set UPSEG_SHARED_DATA")
    args.data = args.data.resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    args.workdir = args.workdir.resolve()
    results = run(args)
    _print_report(results)
    out = args.out or args.workdir / "analyze.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out}")
    return results


if __name__ == "__main__":
    main()
