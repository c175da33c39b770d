"""Benchmark ``upseg triggers`` on a synthetic world against a plain pandas cart-abandonment rule.

    python -m benchmarks.bench_triggers [--customers 1000000] [--seed 7]
                                        [--workdir DIR] [--json FILE]

**World.** ``generate_world(--customers, seed=--seed)`` written once to
``<workdir>/world_<customers>_<seed>`` and reused by later runs, this
benchmark's and ``bench_monitor``'s (:func:`benchmarks._common.ensure_world`).
The world's events run to 2026-06-30.

**Measured**, each in a fresh subprocess (so that its wall time and peak
resident memory, ``VmHWM``, see :func:`benchmarks._common.peak_rss_mb`, are its
own; the modules are imported before the clock starts):

- ``engine day``: :func:`upseg.pipelines.triggers_job.run_triggers` with the
  shipped rules (``serving/default_triggers.yaml``, seven rules) over the window
  [2026-06-29, 2026-06-30), no earlier firings files, writing its Parquet
  file: everything the command does after parsing its options. Its stages, from
  ``on_stage`` and two timing wrappers: ``setup`` (rules, policy, history),
  ``validate`` (loading and validating the source), ``read`` (the events the
  rules need, :func:`~upseg.pipelines.triggers_job.trigger_data`), ``find``
  (:func:`~upseg.serving.triggers.find_firings` without consent), ``consent``
  (:func:`~upseg.serving.triggers.consent_reasons`, on the engine) and
  ``write``;
- ``engine 30d``: the same over the 30-day backfill [2026-05-31, 2026-06-30)
  in one run;
- ``cart day`` / ``cart 30d``: the same engine with the cart-abandonment rule
  alone (the shipped rules file cut to that rule): the like-for-like
  comparison with the baseline, validation, cooldown, consent and the write
  included (its ``find`` stage is the rule itself);
- ``pandas day`` / ``pandas 30d``: the baseline, the cart-abandonment rule
  alone written the way an analyst would: ``pd.read_parquet`` of web_events
  and orders (the columns it needs), the add_to_cart events whose 48 h closes
  in the window, completed orders, a plain merge on customer_id and a filter
  for an order strictly after the cart and strictly before cart + 48 h; the
  carts with none fire. No cooldown, priority or consent.

The engine runs seven rules, cooldown, priority and consent, and the baseline
one rule: the ratio (engine / pandas, same window) is what the whole engine
costs against the simplest version of its commonest rule, not a like-for-like
speed-up.

**Agreement.** After its timed run (outside the clock and the peak), the
engine worker computes the cart_abandonment candidates before cooldown
(:func:`~upseg.serving.triggers.candidate_firings` on the same
:class:`~upseg.serving.triggers.TriggerData` the run read); they must be the
same set of ``(customer_id, started_at)`` as the baseline's firings (a set: the
engine counts two carts at the same instant as one firing, the baseline does not).

``--in-process`` runs the tasks in the benchmark's own process instead (the
smoke test does, to take seconds): the peaks then mix and only the structure
and the agreement mean anything.

Prints the tables and the machine line and writes ``<workdir>/triggers.json``
(or ``--json``). The machine is shared and noisy: compare ratios within one
run.
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
    world_dir,
    write_results,
)

#: The measured windows, [since, until), UTC; the world's events run to 2026-06-30.
WINDOWS = {
    "day": ("2026-06-29", "2026-06-30"),
    "30d": ("2026-05-31", "2026-06-30"),
}
#: engine: the seven shipped rules; cart: the engine with the cart-abandonment rule alone
#: (validation, cooldown, consent and the write included); pandas: that rule, merge + filter.
IMPLEMENTATIONS = ("engine", "cart", "pandas")
TASKS = tuple(f"{impl} {window}" for window in WINDOWS for impl in IMPLEMENTATIONS)
ENGINE_STAGES = ("setup", "validate", "read", "find", "consent", "write")
PANDAS_STAGES = ("read", "find")
CART_RULE = "cart_abandonment"
CART_WAIT_HOURS = 48
_ON_STAGE = {
    "Validating the data": "validate",
    "Reading the events the rules need": "read",
    "Finding the firings": "find",
}
_WORLD_TABLES = ("customers", "orders", "web_events", "email_events")
__all__ = ["agreement", "ensure_world", "main", "world_dir"]


# ----------------------------------------------------------------------------- the world


# ----------------------------------------------------------------------------- the workers


def _utc(day: str) -> Any:
    import pandas as pd

    return pd.Timestamp(day, tz="UTC")


def cart_rules_file(scratch: Path) -> Path:
    """The shipped rules file with only the cart-abandonment rule."""
    import yaml

    from upseg.serving.triggers import DEFAULT_RULES_PATH

    shipped = yaml.safe_load(DEFAULT_RULES_PATH.read_text())
    shipped["triggers"] = [r for r in shipped["triggers"] if r["name"] == CART_RULE]
    path = scratch / "cart_rules.yaml"
    path.write_text(yaml.safe_dump(shipped))
    return path


def engine_worker(
    world: Path, since: str, until: str, scratch: Path, *, cart_only: bool = False
) -> dict[str, Any]:
    """``run_triggers`` over one window, timed by stage; then the cart candidates, untimed."""
    # Everything is imported before the clock: with PYTHONDONTWRITEBYTECODE set, each
    # import compiles its source, seconds that no run of the command pays twice.
    import upseg.pipelines.triggers_job as tj
    import upseg.serving.triggers.consent  # noqa: F401
    from upseg.serving.triggers import candidate_firings, load_rules

    marks: list[tuple[str, float, float]] = []  # (stage that starts, at, peak so far)
    extra = {"consent": 0.0, "write": 0.0}
    captured: dict[str, Any] = {}

    def on_stage(name: str) -> None:
        marks.append((_ON_STAGE.get(name, name), time.perf_counter(), peak_rss_mb()))

    def timed(fn: Any, key: str) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                extra[key] += time.perf_counter() - t

        return wrapper

    find_firings = tj.find_firings

    def capturing_find(data: Any, *args: Any, **kwargs: Any) -> Any:
        captured["data"] = data
        return find_firings(data, *args, **kwargs)

    originals = (tj.consent_reasons, tj._write, tj.find_firings)
    tj.consent_reasons = timed(tj.consent_reasons, "consent")
    tj._write = timed(tj._write, "write")
    tj.find_firings = capturing_find
    out = scratch / "firings" / "firings.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    rules_path = cart_rules_file(scratch) if cart_only else None
    settings = tj.TriggersSettings(
        world, _utc(since), _utc(until), out, rules_path=rules_path, previous=()
    )
    try:
        started = time.perf_counter()
        marks.append(("setup", started, peak_rss_mb()))
        run = tj.run_triggers(settings, on_stage=on_stage)
        ended = time.perf_counter()
        peak = peak_rss_mb()
    finally:
        tj.consent_reasons, tj._write, tj.find_firings = originals
    stages: dict[str, dict[str, float]] = {}
    bounds = [*marks, ("end", ended, peak)]
    for (name, at, _), (_, next_at, next_peak) in zip(bounds, bounds[1:], strict=False):
        stages[name] = {"seconds": next_at - at, "peak_rss_mb": next_peak}
    # The last on_stage mark ("find") ran to the end: take consent and the write out of it.
    stages["find"]["seconds"] -= extra["consent"] + extra["write"]
    stages["consent"] = {"seconds": extra["consent"], "peak_rss_mb": peak}
    stages["write"] = {"seconds": extra["write"], "peak_rss_mb": peak}
    counts = run.result.counts

    # Untimed: the cart-abandonment candidates before cooldown, for the agreement check.
    rules = load_rules(None)
    rule = next(r for r in rules.rules if r.name == CART_RULE)
    cands = candidate_firings(rule, captured["data"], fired_from=_utc(since), until=_utc(until))
    cart = scratch / "engine_cart.parquet"
    cands[["customer_id", "started_at"]].to_parquet(cart, index=False)
    firings = run.firings
    return {
        "seconds": ended - started,
        "run_seconds": run.seconds,
        "peak_rss_mb": peak,
        "firings": len(firings),
        "actions": {k: int(v) for k, v in firings["action"].value_counts().items()},
        "candidates": int(counts["candidates"].sum()),
        "reconciles": run.result.reconciles,
        "per_rule": {
            str(rule_name): {k: int(v) for k, v in row.items()}
            for rule_name, row in counts.drop(columns=["priority"], errors="ignore").iterrows()
        },
        "cart_candidates": len(cands),
        "cart_file": str(cart),
        "event_rows": {name: len(captured["data"].table(name)) for name in _WORLD_TABLES},
        "stages": {k: stages[k] for k in ENGINE_STAGES if k in stages},
    }


def pandas_worker(world: Path, since: str, until: str, scratch: Path) -> dict[str, Any]:
    """The cart-abandonment rule alone, as an analyst would write it in pandas."""
    import pandas as pd

    stages: dict[str, dict[str, float]] = {}
    started = time.perf_counter()
    t = started
    web = pd.read_parquet(
        world / "web_events.parquet", columns=["customer_id", "event_type", "occurred_at"]
    )
    orders = pd.read_parquet(
        world / "orders.parquet", columns=["customer_id", "ordered_at", "status"]
    )
    stages["read"] = {"seconds": time.perf_counter() - t, "peak_rss_mb": peak_rss_mb()}
    t = time.perf_counter()
    wait = pd.Timedelta(hours=CART_WAIT_HOURS)
    lo, hi = _utc(since) - wait, _utc(until) - wait
    carts = web[
        (web["event_type"] == "add_to_cart")
        & (web["occurred_at"] >= lo)
        & (web["occurred_at"] < hi)
    ][["customer_id", "occurred_at"]].reset_index(drop=True)
    carts["cart"] = range(len(carts))
    done = orders[orders["status"].isna() | (orders["status"] == "completed")]
    pairs = carts.merge(done[["customer_id", "ordered_at"]], on="customer_id")
    cancelled = pairs.loc[
        (pairs["ordered_at"] > pairs["occurred_at"])
        & (pairs["ordered_at"] < pairs["occurred_at"] + wait),
        "cart",
    ].unique()
    fired = carts[~carts["cart"].isin(cancelled)]
    fired = pd.DataFrame(
        {
            "customer_id": fired["customer_id"].astype(str),
            "started_at": fired["occurred_at"],
            "fired_at": fired["occurred_at"] + wait,
        }
    )
    ended = time.perf_counter()
    peak = peak_rss_mb()
    stages["find"] = {"seconds": ended - t, "peak_rss_mb": peak}
    cart = scratch / "pandas_cart.parquet"
    fired[["customer_id", "started_at"]].to_parquet(cart, index=False)
    return {
        "seconds": ended - started,
        "peak_rss_mb": peak,
        "firings": len(fired),
        "candidates": len(carts),
        "event_rows": {"web_events": len(web), "orders": len(orders)},
        "cart_file": str(cart),
        "stages": stages,
    }


def _worker(task: str, world: Path, scratch: Path) -> dict[str, Any]:
    impl, window = task.split()
    since, until = WINDOWS[window]
    scratch.mkdir(parents=True, exist_ok=True)
    if impl == "pandas":
        measured = pandas_worker(world, since, until, scratch)
    else:
        measured = engine_worker(world, since, until, scratch, cart_only=impl == "cart")
    return {"task": task, "since": since, "until": until, **measured}


# ----------------------------------------------------------------------------- comparison


def agreement(engine_file: str | Path, pandas_file: str | Path) -> dict[str, Any]:
    """Whether two files of ``(customer_id, started_at)`` rows hold the same set of pairs.

    A set, not a multiset: the engine counts two starts at the same instant as one
    firing, the baseline keeps both rows. ``*_rows`` and ``*_repeated`` say how many
    rows each side had and how many repeated a pair.
    """
    import pandas as pd

    def keys(path: str | Path) -> pd.DataFrame:
        frame = pd.read_parquet(path)
        return pd.DataFrame(
            {
                "customer_id": frame["customer_id"].astype(str),
                "started_at": pd.to_datetime(frame["started_at"], utc=True).astype(
                    "datetime64[us, UTC]"
                ),
            }
        )

    e, p = keys(engine_file), keys(pandas_file)
    both = e.drop_duplicates().merge(p.drop_duplicates(), how="outer", indicator=True)
    only_e, only_p = both[both["_merge"] == "left_only"], both[both["_merge"] == "right_only"]
    return {
        "agree": only_e.empty and only_p.empty,
        "engine": int(len(e) - e.duplicated().sum()),
        "pandas": int(len(p) - p.duplicated().sum()),
        "engine_rows": len(e),
        "pandas_rows": len(p),
        "engine_repeated": int(e.duplicated().sum()),
        "pandas_repeated": int(p.duplicated().sum()),
        "only_engine": len(only_e),
        "only_pandas": len(only_p),
        "examples": [
            {"customer_id": c, "started_at": str(t), "side": str(side)}
            for c, t, side in pd.concat([only_e.head(3), only_p.head(3)]).itertuples(index=False)
        ],
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    world = ensure_world(args.workdir, args.customers, args.seed)
    load_start = os.getloadavg()
    tasks: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="bench_triggers_") as tmp:
        for task in TASKS:
            progress(f"{task}: on {args.customers:,} customers")
            scratch = Path(tmp) / task.replace(" ", "_")
            if args.in_process:
                tasks[task] = _worker(task, Path(world["path"]), scratch)
            else:
                options = ["--world", world["path"], "--scratch", str(scratch)]
                tasks[task] = run_worker("benchmarks.bench_triggers", task, options, args.timeout)
            progress(f"{task}: {tasks[task]['seconds']:.1f} s, {tasks[task]['peak_rss_mb']:.0f} MB")
        checks = {
            window: agreement(
                tasks[f"engine {window}"]["cart_file"], tasks[f"pandas {window}"]["cart_file"]
            )
            for window in WINDOWS
        }
    for measured in tasks.values():
        measured.pop("cart_file")
        seconds = measured["seconds"]
        measured["firings_per_second"] = measured["firings"] / seconds if seconds else None
    for window in WINDOWS:
        base = tasks[f"pandas {window}"]
        for impl in IMPLEMENTATIONS:
            t = tasks[f"{impl} {window}"]
            t["seconds_vs_pandas"] = t["seconds"] / base["seconds"]
            t["peak_vs_pandas"] = t["peak_rss_mb"] / base["peak_rss_mb"]
    return {
        "customers": args.customers,
        "seed": args.seed,
        "world": world,
        "windows": {k: {"since": s, "until": u} for k, (s, u) in WINDOWS.items()},
        "tasks": tasks,
        "agreement": checks,
        "agree": all(c["agree"] for c in checks.values()),
        "machine": machine(),
        "machine_line": machine_line(),
        "load_average": {"start": load_start, "end": os.getloadavg()},
        "in_process": bool(args.in_process),
    }


# ----------------------------------------------------------------------------- the report


def main_table(results: dict[str, Any]) -> str:
    head = (
        f"{'task':<12} {'wall s':>8} {'peak MB':>8} {'firings':>9} {'firings/s':>10} "
        f"{'candidates':>10} {'x pandas s':>10} {'x pandas MB':>11}"
    )
    lines = [head, "-" * len(head)]
    for name, t in results["tasks"].items():
        rate = t["firings_per_second"]
        lines.append(
            f"{name:<12} {t['seconds']:>8.2f} {t['peak_rss_mb']:>8.0f} {t['firings']:>9,} "
            f"{(rate or 0):>10,.0f} {t['candidates']:>10,} {t['seconds_vs_pandas']:>10.2f} "
            f"{t['peak_vs_pandas']:>11.2f}"
        )
    return "\n".join(lines)


def stage_table(results: dict[str, Any]) -> str:
    head = f"{'task':<12} {'stage':<9} {'seconds':>8} {'share':>6} {'peak MB at end':>15}"
    lines = [head, "-" * len(head)]
    for name, t in results["tasks"].items():
        for stage, s in t["stages"].items():
            lines.append(
                f"{name:<12} {stage:<9} {s['seconds']:>8.2f} {s['seconds'] / t['seconds']:>6.0%} "
                f"{s['peak_rss_mb']:>15.0f}"
            )
    return "\n".join(lines)


def agreement_lines(results: dict[str, Any]) -> str:
    lines = []
    for window, c in results["agreement"].items():
        verdict = "agree" if c["agree"] else "DISAGREE"
        lines.append(
            f"{window}: pandas baseline and engine {CART_RULE} candidates before cooldown {verdict}"
            f" (engine {c['engine']:,}, pandas {c['pandas']:,}, only engine {c['only_engine']:,},"
            f" only pandas {c['only_pandas']:,}; pairs; rows repeating a pair: engine"
            f" {c['engine_repeated']:,}, pandas {c['pandas_repeated']:,})"
        )
    return "\n".join(lines)


def _print_report(results: dict[str, Any]) -> None:
    w = results["world"]
    made = (
        f"generated in {w['generation_seconds']:.1f} s"
        if "generation_seconds" in w
        else "generation time not recorded"
    )
    print(
        f"\nupseg triggers on {results['customers']:,} synthetic customers "
        f"(seed {results['seed']}, "
        f"{'reused' if w['reused'] else 'new'} world, {made}); windows "
        + ", ".join(f"{k} [{v['since']}, {v['until']})" for k, v in results["windows"].items())
    )
    print(
        "engine = run_triggers, seven shipped rules, cooldown, priority, consent, write; "
        f"cart = run_triggers with {CART_RULE} alone; "
        f"pandas = {CART_RULE} alone (merge + filter)\n"
    )
    if results["in_process"]:
        print("(--in-process: every task ran in one process, so the peaks mix)\n")
    print(main_table(results))
    print()
    print(stage_table(results))
    print()
    print(agreement_lines(results))
    print(f"\n{load_line(results)}")


def _parser() -> argparse.ArgumentParser:
    return world_benchmark_parser(__doc__.splitlines()[0], TASKS, "triggers.json", 3600.0)


def main(argv: Sequence[str] | None = None) -> dict[str, Any] | None:
    """Run the benchmark, print the report, write the JSON file and return its content."""
    args = _parser().parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args.worker, args.world, args.scratch)))
        return None
    if args.customers < 1:
        sys.exit(f"--customers must be at least 1; got {args.customers}")
    args.workdir.mkdir(parents=True, exist_ok=True)
    args.workdir = args.workdir.resolve()
    results = run(args)
    _print_report(results)
    write_results(results, args.json or args.workdir / "triggers.json")
    return results


if __name__ == "__main__":
    main()
