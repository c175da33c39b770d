"""Benchmark ``upseg monitor`` on a year of weeks against a pandas group-by of the same KPIs.

    python -m benchmarks.bench_monitor [--customers 1000000] [--seed 7] [--weeks 52]
                                       [--workdir DIR] [--json FILE]

**World.** ``generate_world(--customers, seed=--seed)``, kept in
``<workdir>/world_<customers>_<seed>`` and shared with ``bench_triggers``
(:func:`benchmarks._common.ensure_world`). Its events run to 2026-06-30.

**Measured**, each in a fresh subprocess (its own wall time and peak resident
memory, ``VmHWM``), in this order:

- ``cold``: :func:`upseg.pipelines.monitor_job.run_monitor` over ``--weeks``
  weekly periods ending 2026-06-22, segmented by ``rfm_segment`` and
  ``lifecycle_stage``, into an empty output folder: validation, every period's
  segments built with the feature code (the ``--weeks`` starts and the one
  after, for churn), reading the e-mails and orders, the KPIs and their bands,
  the write of ``kpis.parquet``/``kpis.csv`` and the dashboard;
- ``next week``: the same a week later (periods ending 2026-06-29) into the
  same folder: the rolling dashboard's weekly run, which builds one period's
  segments and reads the rest from the cache;
- ``pandas``: the baseline, the same KPIs as an analyst would compute them
  from the same inputs with pandas group-bys: ``pd.read_parquet`` of the
  e-mail events and completed orders of the span and of the segment files the
  engine cached (membership is given to it, not built), one row per e-mail
  from a pivot of its events, last-touch orders with ``merge_asof``, then per
  segmentation and campaign type a ``groupby().sum()`` into numerators and
  denominators, and reactivation and churn from the membership of consecutive
  periods. No validation, intervals, bands, CSV or dashboard.

So ``next week`` against ``pandas`` is the weekly job against the group-by of
its KPIs, and ``cold`` what a first run (or ``--refresh``) costs on top, mostly
segments.

**Agreement.** Every numerator and denominator of the baseline equals the
engine's ``next week`` table, row for row (revenue to 1e-6 relative), and
neither has a row the other lacks.

Prints the tables and the machine line and writes ``<workdir>/monitor.json``
(or ``--json``). ``--in-process`` runs the tasks in this process (for the
smoke test; the peaks then mix). The machine is shared and noisy: compare
ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._common import (
    ensure_world,
    load_line,
    machine,
    machine_line,
    peak_rss_mb,
    progress,
    run_worker,
    world_benchmark_parser,
    write_results,
)

__all__ = ["TASKS", "agreement", "main", "pandas_kpis"]

#: The last period of the ``next week`` span starts here; the world's events end 2026-06-30.
LAST_WEEK = "2026-06-22"
TASKS = ("cold", "next week", "pandas")
ENGINE_STAGES = ("validate", "segments", "read", "kpis", "write")
PANDAS_STAGES = ("read", "kpis")
SEGMENT_BY = ("rfm_segment", "lifecycle_stage")
ATTRIBUTION_DAYS = 7.0
_ON_STAGE = {
    "Validating": "validate",
    "Segments": "segments",
    "Reading": "read",
    "Computing": "kpis",
    "Writing": "write",
}
_KEYS = ["period", "segment_by", "segment", "campaign_type", "metric"]


def span(task: str, weeks: int) -> tuple[Any, Any]:
    """``[start, end)`` of a task: ``weeks`` Mondays, the ``cold`` run a week before the others."""
    import pandas as pd

    week = pd.Timedelta(days=7)
    end = pd.Timestamp(LAST_WEEK, tz="UTC") + week - (week if task == "cold" else pd.Timedelta(0))
    return end - weeks * week, end


# ----------------------------------------------------------------------------- the engine


def engine_worker(world: Path, task: str, weeks: int, out: Path) -> dict[str, Any]:
    """``run_monitor`` over the task's span, timed by stage."""
    import upseg.experiments.monitoring.dashboard  # noqa: F401  (imported before the clock)
    from upseg.pipelines.monitor_job import MonitorSettings, run_monitor

    start, end = span(task, weeks)
    marks: list[tuple[str, float, float]] = []

    def on_stage(text: str) -> None:
        name = _ON_STAGE[text.split()[0]]
        if not marks or marks[-1][0] != name:
            marks.append((name, time.perf_counter(), peak_rss_mb()))

    settings = MonitorSettings(world, start, end, out, by=SEGMENT_BY)
    started = time.perf_counter()
    run = run_monitor(settings, on_stage=on_stage)
    ended, peak = time.perf_counter(), peak_rss_mb()
    bounds = [*marks, ("end", ended, peak)]
    stages = {
        name: {"seconds": later - at, "peak_rss_mb": later_peak}
        for (name, at, _), (_, later, later_peak) in zip(bounds, bounds[1:], strict=False)
    }
    return {
        "seconds": ended - started,
        "peak_rss_mb": peak,
        "periods": len(run.periods),
        "emails": run.emails,
        "kpi_rows": len(run.kpis),
        "flagged": int((run.kpis["flag"] != "").sum()),
        "segments_built": run.membership_built,
        "segments_cached": run.membership_cached,
        "stages": stages,
    }


# ----------------------------------------------------------------------------- the baseline


def pandas_kpis(world: Path, segments: Path, start: Any, end: Any) -> tuple[Any, dict]:
    """The engine's numerators and denominators, computed with plain pandas group-bys.

    ``segments`` holds one Parquet file of ``customer_id, rfm_segment,
    lifecycle_stage`` per period start (the engine's cache), named by the start.
    Returns the tidy ``period, segment_by, segment, campaign_type, metric,
    numerator, denominator`` table and the stages' times.
    """
    import numpy as np
    import pandas as pd

    stages: dict[str, dict[str, float]] = {}
    t = time.perf_counter()
    attribution = pd.Timedelta(days=ATTRIBUTION_DAYS)
    ev = pd.read_parquet(
        world / "email_events.parquet",
        columns=["customer_id", "campaign_id", "event_type", "occurred_at"],
        filters=[("occurred_at", ">=", start), ("occurred_at", "<", end)],
    )
    orders = pd.read_parquet(
        world / "orders.parquet",
        columns=["customer_id", "ordered_at", "amount", "status"],
        filters=[("ordered_at", ">=", start), ("ordered_at", "<", end + attribution)],
    )
    orders = orders[orders["status"].isna() | (orders["status"] == "completed")]
    week = pd.Timedelta(days=7)
    starts = pd.date_range(start, end, freq=week, tz="UTC")  # the periods and the one after
    members = pd.concat(
        [
            pd.read_parquet(segments / f"{p:%Y-%m-%dT%H%M%S}.parquet").assign(period=p)
            for p in starts
            if (segments / f"{p:%Y-%m-%dT%H%M%S}.parquet").exists()
        ],
        ignore_index=True,
    )
    stages["read"] = {"seconds": time.perf_counter() - t, "peak_rss_mb": peak_rss_mb()}

    t = time.perf_counter()
    ev["event_type"] = ev["event_type"].astype(str)
    ev["customer_id"] = ev["customer_id"].astype(str)
    ev["campaign_id"] = ev["campaign_id"].astype(str)
    keys = ["customer_id", "campaign_id"]
    emails = ev[ev["event_type"] == "sent"].groupby(keys)["occurred_at"].min().rename("sent_at")
    flags = pd.crosstab([ev["customer_id"], ev["campaign_id"]], ev["event_type"]) > 0
    emails = emails.to_frame().join(flags, how="left").fillna(False).reset_index()
    for name in ("delivered", "opened", "clicked", "bounced", "unsubscribed", "complained"):
        emails[name] = emails[name].astype(bool) if name in emails else False
    emails["opened"] |= emails["clicked"]
    emails["delivered"] |= emails["opened"]
    emails["bounced"] &= ~emails["delivered"]
    emails["campaign_type"] = "(none)"
    emails["sent_at"] = emails["sent_at"].astype("datetime64[us, UTC]")
    emails["email"] = np.arange(len(emails))
    o = orders.assign(
        customer_id=orders["customer_id"].astype(str),
        ordered_at=orders["ordered_at"].astype("datetime64[us, UTC]"),
    ).sort_values("ordered_at")
    touch = pd.merge_asof(
        o,
        emails[["customer_id", "sent_at", "email"]].sort_values("sent_at"),
        left_on="ordered_at",
        right_on="sent_at",
        by="customer_id",
    )
    touch = touch[touch["ordered_at"] - touch["sent_at"] < attribution]
    revenue = touch.groupby("email")["amount"].sum()
    emails["revenue"] = emails["email"].map(revenue).fillna(0.0)
    emails["converted"] = emails["email"].isin(revenue.index)
    emails["sent"] = True
    emails["period"] = emails["sent_at"].dt.floor("D") - pd.to_timedelta(
        emails["sent_at"].dt.day_of_week, unit="D"
    )
    emails = emails.merge(members, on=["period", "customer_id"], how="left")
    for by in SEGMENT_BY:
        emails[by] = emails[by].fillna("(signed up in the period)")
    emails["all"] = "all"
    ratios = {
        "delivery_rate": ("delivered", "sent"),
        "bounce_rate": ("bounced", "sent"),
        "open_rate": ("opened", "delivered"),
        "click_rate": ("clicked", "delivered"),
        "click_to_open_rate": ("clicked", "opened"),
        "unsubscribe_rate": ("unsubscribed", "delivered"),
        "complaint_rate": ("complained", "delivered"),
        "conversion_rate": ("converted", "sent"),
        "revenue_per_email": ("revenue", "sent"),
    }
    counted = sorted({c for pair in ratios.values() for c in pair})
    parts = []
    for by in ("all", *SEGMENT_BY):
        for campaign in ("all", "campaign_type"):
            group = ["period", by] + ([campaign] if campaign != "all" else [])
            sums = emails.groupby(group)[counted].sum().reset_index()
            sums = sums.rename(columns={by: "segment"}).assign(segment_by=by)
            if campaign == "all":
                sums["campaign_type"] = "all"
            for metric, (num, den) in ratios.items():
                parts.append(
                    sums[["period", "segment_by", "segment", "campaign_type"]].assign(
                        metric=metric,
                        numerator=sums[num].astype(float),
                        denominator=sums[den].astype(float),
                    )
                )

    bought = orders.assign(
        customer_id=orders["customer_id"].astype(str),
        period=orders["ordered_at"].dt.floor("D")
        - pd.to_timedelta(orders["ordered_at"].dt.day_of_week, unit="D"),
    )[["customer_id", "period"]].drop_duplicates()
    m = members.merge(bought.assign(ordered=True), on=["customer_id", "period"], how="left")
    nxt = members[["customer_id", "period", "lifecycle_stage"]].assign(
        period=members["period"] - week
    )
    m = m.merge(nxt, on=["customer_id", "period"], how="left", suffixes=("", "_next"))
    m["all"] = "all"
    m["dormant"] = m["lifecycle_stage"] == "churned"
    m["reactivated"] = m["dormant"] & m["ordered"].eq(True)
    m["active"] = m["lifecycle_stage"].isin(["conversion", "retention"])
    m["lost"] = m["active"] & (m["lifecycle_stage_next"] == "churned")
    last = starts[-1]
    for by in ("all", *SEGMENT_BY):
        sums = m.groupby(["period", by])[["dormant", "reactivated", "active", "lost"]].sum()
        sums = sums.reset_index().rename(columns={by: "segment"})
        sums = sums.assign(segment_by=by, campaign_type="all")[sums["period"] < last]
        for metric, num, den, rows in (
            ("reactivation_rate", "reactivated", "dormant", sums),
            ("churn_rate", "lost", "active", sums),
        ):
            parts.append(
                rows[["period", "segment_by", "segment", "campaign_type"]].assign(
                    metric=metric,
                    numerator=rows[num].astype(float),
                    denominator=rows[den].astype(float),
                )
            )
    table = pd.concat(parts, ignore_index=True)
    stages["kpis"] = {"seconds": time.perf_counter() - t, "peak_rss_mb": peak_rss_mb()}
    return table, stages


def pandas_worker(world: Path, weeks: int, out: Path) -> dict[str, Any]:
    start, end = span("pandas", weeks)
    started = time.perf_counter()
    table, stages = pandas_kpis(world, out / "segments", start, end)
    ended, peak = time.perf_counter(), peak_rss_mb()
    table.to_parquet(out / "pandas_kpis.parquet", index=False)
    return {
        "seconds": ended - started,
        "peak_rss_mb": peak,
        "kpi_rows": len(table),
        "stages": stages,
    }


# ----------------------------------------------------------------------------- the runs


def _worker(task: str, world: Path, weeks: int, out: Path) -> dict[str, Any]:
    if task == "pandas":
        return {"task": task, **pandas_worker(world, weeks, out)}
    return {"task": task, **engine_worker(world, task, weeks, out)}


def agreement(engine_file: Path, pandas_file: Path) -> dict[str, Any]:
    """Whether the baseline's numerators and denominators are the engine's, row for row."""
    import numpy as np
    import pandas as pd

    engine = pd.read_parquet(engine_file, columns=[*_KEYS, "numerator", "denominator"])
    base = pd.read_parquet(pandas_file)
    for frame in (engine, base):
        frame["period"] = pd.to_datetime(frame["period"], utc=True).astype("datetime64[us, UTC]")
        frame["segment"] = frame["segment"].astype(str)
    both = engine.merge(base, on=_KEYS, how="outer", suffixes=("_e", "_p"), indicator=True)
    matched = both[both["_merge"] == "both"]
    close = {
        part: bool(np.allclose(matched[f"{part}_e"], matched[f"{part}_p"], rtol=1e-6, atol=1e-9))
        for part in ("numerator", "denominator")
    }
    only_e = int((both["_merge"] == "left_only").sum())
    only_p = int((both["_merge"] == "right_only").sum())
    return {
        "agree": only_e == 0 and only_p == 0 and all(close.values()),
        "rows": len(matched),
        "only_engine": only_e,
        "only_pandas": only_p,
        **{f"{part}s_equal": ok for part, ok in close.items()},
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    world = ensure_world(args.workdir, args.customers, args.seed)
    load_start = os.getloadavg()
    tasks: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="bench_monitor_") as tmp:
        out = Path(tmp) / "monitor"
        for task in TASKS:
            progress(f"{task}: {args.weeks} weeks of {args.customers:,} customers")
            if args.in_process:
                tasks[task] = _worker(task, Path(world["path"]), args.weeks, out)
            else:
                options = [
                    "--world",
                    world["path"],
                    "--weeks",
                    str(args.weeks),
                    "--scratch",
                    str(out),
                ]
                tasks[task] = run_worker("benchmarks.bench_monitor", task, options, args.timeout)
            progress(f"{task}: {tasks[task]['seconds']:.1f} s, {tasks[task]['peak_rss_mb']:.0f} MB")
        check = agreement(out / "kpis.parquet", out / "pandas_kpis.parquet")
    base = tasks["pandas"]
    for t in tasks.values():
        t["seconds_vs_pandas"] = t["seconds"] / base["seconds"]
        t["peak_vs_pandas"] = t["peak_rss_mb"] / base["peak_rss_mb"]
    return {
        "customers": args.customers,
        "seed": args.seed,
        "weeks": args.weeks,
        "world": world,
        "spans": {task: [str(t) for t in span(task, args.weeks)] for task in TASKS},
        "tasks": tasks,
        "agreement": check,
        "agree": check["agree"],
        "machine": machine(),
        "machine_line": machine_line(),
        "load_average": {"start": load_start, "end": os.getloadavg()},
        "in_process": bool(args.in_process),
    }


# ----------------------------------------------------------------------------- the report


def _print_report(results: dict[str, Any]) -> None:
    w = results["world"]
    made = (
        f"generated in {w['generation_seconds']:.1f} s"
        if "generation_seconds" in w
        else "generation time not recorded"
    )
    print(
        f"\nupseg monitor, {results['weeks']} weekly periods of {results['customers']:,} synthetic "
        f"customers (seed {results['seed']}, {'reused' if w['reused'] else 'new'} world, {made})"
    )
    if results["in_process"]:
        print("(--in-process: every task ran in one process, so the peaks mix)")
    head = (
        f"\n{'task':<10} {'wall s':>8} {'peak MB':>8} {'KPI rows':>9} {'segments built':>15} "
        f"{'x pandas s':>10} {'x pandas MB':>11}"
    )
    print(head + "\n" + "-" * (len(head) - 1))
    for name, t in results["tasks"].items():
        built = f"{t['segments_built']} (+{t['segments_cached']} cached)" if "emails" in t else ""
        print(
            f"{name:<10} {t['seconds']:>8.1f} {t['peak_rss_mb']:>8.0f} {t['kpi_rows']:>9,} "
            f"{built:>15} {t['seconds_vs_pandas']:>10.2f} {t['peak_vs_pandas']:>11.2f}"
        )
    print(f"\n{'task':<10} {'stage':<9} {'seconds':>8} {'share':>6} {'peak MB at end':>15}")
    for name, t in results["tasks"].items():
        for stage, s in t["stages"].items():
            print(
                f"{name:<10} {stage:<9} {s['seconds']:>8.1f} {s['seconds'] / t['seconds']:>6.0%} "
                f"{s['peak_rss_mb']:>15.0f}"
            )
    c = results["agreement"]
    print(
        f"\nthe baseline's numerators and denominators and the engine's "
        f"{'agree' if c['agree'] else 'DISAGREE'}: {c['rows']:,} rows matched, "
        f"{c['only_engine']:,} only in the engine, {c['only_pandas']:,} only in the baseline"
    )
    print(load_line(results))


def _parser() -> argparse.ArgumentParser:
    parser = world_benchmark_parser(__doc__.splitlines()[0], TASKS, "monitor.json", 7200.0)
    parser.add_argument("--weeks", type=int, default=52, help="weekly periods per run")
    return parser


def main(argv: Sequence[str] | None = None) -> dict[str, Any] | None:
    """Run the benchmark, print the report, write the JSON file and return its content."""
    args = _parser().parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args.worker, args.world, args.weeks, args.scratch)))
        return None
    if args.customers < 1 or args.weeks < 1:
        sys.exit(f"--customers and --weeks must be at least 1; got {args.customers}, {args.weeks}")
    args.workdir.mkdir(parents=True, exist_ok=True)
    args.workdir = args.workdir.resolve()
    results = run(args)
    _print_report(results)
    write_results(results, args.json or args.workdir / "monitor.json")
    return results


if __name__ == "__main__":
    main()
