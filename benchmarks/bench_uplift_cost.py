"""What each uplift approach costs to score, and whether counting trees measures it.

    python -m benchmarks.bench_uplift_cost [--rows 200000] [--repeats 3] [--approaches ...]

``upseg train uplift`` takes, among the approaches within one standard error of
the lowest cross-validated loss, the one that evaluates the fewest trees per
customer to predict (:meth:`UpliftModel.prediction_trees`). This benchmark
checks that trees are the cost: every approach is fitted with its default
parameters on Hillstrom's real e-mail test (64,000 customers, two e-mails and
no e-mail, target ``conversion``, the eight pre-treatment features), then
predicts both variants' uplift for ``--rows`` customers (Hillstrom's rows
repeated) on every core, as the scorer does. The **baseline**, measured in the
same run on the same rows, is one LightGBM classifier of 200 trees with the
learners' default parameters (``DEFAULT_PARAMS``), the unit the counts are in.

Printed per approach: trees per customer over both variants, the median wall
time of ``--repeats`` predictions, microseconds per customer, nanoseconds per
tree, time ÷ the baseline's and trees ÷ the baseline's (their agreement is what
the benchmark is for), and peak memory. Writes
``benchmarks/output/uplift_cost.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import lightgbm as lgb
import pandas as pd

from benchmarks._common import machine, machine_line, peak_rss_mb, progress, shared_data_dir
from benchmarks.bench_uplift import HILLSTROM_FILE, hillstrom_data
from upseg.models.uplift.learners import DEFAULT_PARAMS, approaches_for
from upseg.models.uplift.model import UpliftModel

REPO = Path(__file__).resolve().parents[1]
TARGET = "conversion"
BASELINE = "one LightGBM classifier, 200 trees"


def median_seconds(call: Callable[[], Any], repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``call``."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def scoring_rows(frame: pd.DataFrame, rows: int) -> pd.DataFrame:
    """``rows`` customers: the frame's rows repeated in order, with a fresh index."""
    repeats = -(-rows // len(frame))
    return pd.concat([frame] * repeats, ignore_index=True).iloc[:rows]


def run(
    *, rows: int, repeats: int, approaches: Sequence[str] | None, seed: int = 0
) -> dict[str, Any]:
    """Fit each approach on Hillstrom, time its prediction of ``rows`` customers."""
    data = hillstrom_data(shared_data_dir() / HILLSTROM_FILE, TARGET)
    frame = data.frame
    X_fit = frame.loc[:, list(data.features)]
    candidates = [a for a in approaches_for(data.kind) if approaches is None or a in approaches]
    if not candidates:
        raise SystemExit(
            f"--approaches must name approaches for a {data.kind} outcome, among "
            f"{list(approaches_for(data.kind))}; got {list(approaches or [])}"
        )
    fitted = {}
    for approach in candidates:
        progress(f"{approach}: fitting on {len(frame):,} customers")
        fitted[approach] = UpliftModel(
            approach=approach, outcome=data.kind, control=data.control,
            categorical=data.categorical, random_state=seed,
        ).fit(X_fit, frame["outcome"], frame["arm"]).use_threads(-1)  # fmt: skip
    # Every model encodes the same columns with the same categories: encode once.
    encoder = next(iter(fitted.values()))
    matrix = encoder.encode(scoring_rows(X_fit, rows))
    encoded_fit = encoder.encode(X_fit)
    progress(f"baseline: {BASELINE}")
    single = lgb.LGBMClassifier(**{**DEFAULT_PARAMS, "n_jobs": -1, "random_state": seed})
    single.fit(encoded_fit, frame["outcome"].to_numpy())
    base_seconds = median_seconds(lambda: single.predict_proba(matrix), repeats)
    base_trees = float(single.booster_.num_trees())
    results: dict[str, Any] = {
        "baseline": {
            "name": BASELINE,
            "trees": base_trees,
            "seconds": base_seconds,
            "us_per_customer": base_seconds / rows * 1e6,
        },
        "approaches": {},
    }
    for approach, model in fitted.items():
        progress(f"{approach}: predicting {rows:,} customers")
        trees = float(sum(model.prediction_trees().values()))
        seconds = median_seconds(lambda m=model: m.predict_frame(matrix, raw=True), repeats)
        results["approaches"][approach] = {
            "trees": trees,
            "seconds": seconds,
            "us_per_customer": seconds / rows * 1e6,
            "ns_per_tree": seconds / rows / trees * 1e9,
            "time_vs_baseline": seconds / base_seconds,
            "trees_vs_baseline": trees / base_trees,
            "peak_rss_mb": peak_rss_mb(),
        }
    times = {a: r["seconds"] for a, r in results["approaches"].items()}
    counts = {a: r["trees"] for a, r in results["approaches"].items()}
    results["same_order"] = _rank_agreement(times, counts)
    return {
        "rows": rows,
        "repeats": repeats,
        "target": TARGET,
        "variants": list(data.variants),
        "fit_customers": len(frame),
        **results,
        "machine": machine(),
    }


def _rank_agreement(times: dict[str, float], counts: dict[str, float]) -> dict[str, Any]:
    """Pairs of approaches whose trees differ by 2x or more: does the one with fewer run faster?"""
    names = sorted(times)
    pairs = [
        (a, b)
        for i, a in enumerate(names)
        for b in names[i + 1 :]
        if max(counts[a], counts[b]) >= 2 * min(counts[a], counts[b])
    ]
    agree = [(a, b) for a, b in pairs if (counts[a] < counts[b]) == (times[a] < times[b])]
    return {"pairs": len(pairs), "agree": len(agree)}


def table(results: dict[str, Any]) -> str:
    """The Markdown table, the baseline first."""
    base = results["baseline"]
    base_ns = base["seconds"] / results["rows"] / base["trees"] * 1e9
    lines = [
        f"| model | trees/customer | predict {results['rows']:,} (s) | µs/customer | "
        "ns/tree | time ÷ baseline | trees ÷ baseline | peak MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| baseline: {base['name']} | {base['trees']:.0f} | {base['seconds']:.2f} | "
        f"{base['us_per_customer']:.1f} | {base_ns:.0f} | 1.00 | 1.00 | |",
    ]
    for approach, r in sorted(results["approaches"].items(), key=lambda item: item[1]["trees"]):
        lines.append(
            f"| {approach} | {r['trees']:.0f} | {r['seconds']:.2f} | {r['us_per_customer']:.1f} | "
            f"{r['ns_per_tree']:.0f} | {r['time_vs_baseline']:.2f} | "
            f"{r['trees_vs_baseline']:.2f} | {r['peak_rss_mb']:,.0f} |"
        )
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="customers predicted")
    parser.add_argument("--repeats", type=int, default=3, help="timed predictions, median kept")
    parser.add_argument("--approaches", nargs="+", default=None, help="candidates (default all)")
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "output" / "uplift_cost.json"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print the table, write the JSON file and return its content."""
    args = _parser().parse_args(argv)
    if args.rows < 1 or args.repeats < 1:
        raise SystemExit(
            f"--rows and --repeats must be at least 1; got {args.rows}, {args.repeats}"
        )
    results = run(rows=args.rows, repeats=args.repeats, approaches=args.approaches)
    agreement = results["same_order"]
    print(f"\n{machine_line()}; {args.rows:,} customers, median of {args.repeats}\n")
    print(table(results))
    print(
        f"\nOf {agreement['pairs']} pairs of approaches whose trees differ 2x or more, the one "
        f"with fewer trees predicted faster in {agreement['agree']}."
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=float))
    print(f"wrote {args.out}")
    return results


if __name__ == "__main__":
    main()
