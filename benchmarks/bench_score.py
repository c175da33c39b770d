"""Benchmark the batch scorer on 100,000 to 5,000,000 customers against bare LightGBM, in one run.

    python -m benchmarks.bench_score [--customers 100000 1000000 5000000] [--world 100000]

What is measured is everything ``upseg score`` does after it has built the
features: load the champions from MLflow, then, in the order of
:func:`serving.batch.score_features_file`, the VIP cut over the whole base, a
first streaming pass in chunks of ``--chunk-rows`` (churn and propensity
``predict_proba``, uplift ``predict_frame``, TreeSHAP reasons from the
propensity model's ``pred_contrib`` and expected value in
:func:`serving.scorer.score_chunk`; :func:`serving.policy.assign_segments`;
suppression and holdout draw; the drift sample; the pass-1 Parquet file), the
PSI check, :func:`serving.audience.choose_actions` over everyone, the second
pass that writes the audience file atomically, and the run's summary. Left
out: the data fingerprint (it hashes the raw source files) and the MLflow run
that logs the summary (a fixed cost).

Setup, not measured and kept in ``<workdir>/score_world_<world>_<seed>`` for
the next run: a synthetic world of ``--world`` customers, the churn and
propensity models (``snapshots=1``) and a T-learner uplift model trained into
an MLflow store there, and the features of the world built once as
``run_scoring`` builds them. Each population of ``--customers`` is made by
drawing feature rows of the world with replacement under new customer ids, so
that 5 million customers need no 5-million-customer world (about 4 GB per
million customers to generate).

Each population is scored in two fresh subprocesses, whose wall time and peak
resident memory (``VmHWM``, see :func:`benchmarks._common.peak_rss_mb`) are their own:

- ``scorer``: the scorer's stages above, on the population's features file;
- ``bare``: the same file in the same chunks, each chunk encoded outside the
  clock into the float matrix each booster reads; on the clock only the
  LightGBM calls the scorer makes, replayed with the same arguments on that
  matrix: ``predict`` of the churn and propensity boosters, ``pred_contrib``
  of the propensity booster and ``predict`` of every LightGBM model of the
  uplift learners.

Overhead = scorer seconds (without loading the models, which the baseline
does not time either) / bare seconds - 1. The issue's targets, on a 2-core
machine: 1,000,000 customers end to end in under 60 s, peak memory growing
less than 1.5x from 1,000,000 to 5,000,000 customers, overhead under 25%.
Prints a table for the README and writes ``benchmarks/output/score.json``.
LightGBM uses its default threads. The machine is shared and noisy: compare
ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from benchmarks._common import machine, peak_rss_mb, progress

REPO = Path(__file__).resolve().parents[1]
#: Training cut-off: the synthetic world runs to 2026-07-01 (as in the tests).
TRAIN_AS_OF = pd.Timestamp("2026-04-01", tz="UTC")
#: Features of the scored customers, as of this instant.
SCORE_AS_OF = pd.Timestamp("2026-05-01", tz="UTC")
CAMPAIGN = "BENCH-SCORE"
#: Rows per row group of the population files, as DuckDB writes the scorer's features.
ROW_GROUP_ROWS = 122_880
#: Rows per write when resampling a population, to keep the parent's memory small.
RESAMPLE_ROWS = 500_000
#: Rows of the first chunk on which the baseline records the scorer's LightGBM calls.
WARMUP_ROWS = 2_000
WORKERS = ("bare", "scorer")
TARGETS = {"seconds_at_1m": 60.0, "memory_growth_1m_to_5m": 1.5, "overhead": 0.25}
#: Stages of the scorer, in order; ``score_chunk`` is split by instrumenting its calls.
STAGES = ("load_models", "checks", "score_features_file")
SCORE_CHUNK_PARTS = ("lightgbm_predict", "lightgbm_pred_contrib", "top_drivers")


# ----------------------------------------------------------------------------- helpers


class _Clock:
    """Seconds per named stage, summed over every time the stage runs."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - started

    def wrap(self, fn: Callable, name: Callable[[dict], str]) -> Callable:
        """``fn``, timed under ``name(kwargs)`` at each call."""

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self(name(kwargs)):
                return fn(*args, **kwargs)

        return timed


def _lgbm_estimators(obj: Any, depth: int = 0) -> list:
    """The fitted LightGBM scikit-learn models inside ``obj`` (a learner), each once."""
    import lightgbm as lgb

    if isinstance(obj, lgb.LGBMModel):
        return [obj] if obj.__sklearn_is_fitted__() else []
    if depth > 4 or isinstance(obj, np.ndarray | pd.DataFrame | pd.Series | str | type):
        return []
    if isinstance(obj, dict):
        children = list(obj.values())
    elif isinstance(obj, list | tuple):
        children = list(obj)
    elif hasattr(obj, "__dict__"):
        children = list(vars(obj).values())
    else:
        return []
    found: list = []
    for child in children:
        for est in _lgbm_estimators(child, depth + 1):
            if all(est is not seen for seen in found):
                found.append(est)
    return found


def _boosters(model: Any) -> list:
    """Every LightGBM booster of one served model (classifier or uplift model)."""
    if not hasattr(model, "learners_"):
        return [model.booster_]
    return [
        est.booster_ for learner in model.learners_.values() for est in _lgbm_estimators(learner)
    ]


def _model_info(models: dict) -> dict[str, dict]:
    """Version, boosters, trees and features of each loaded model, for the report."""
    info = {}
    for role, loaded in models.items():
        boosters = _boosters(loaded.model)
        info[role] = {
            "version": loaded.label,
            "type": type(loaded.model).__name__,
            "boosters": len(boosters),
            "trees": int(sum(b.num_trees() for b in boosters)),
            "features": len(loaded.model.feature_names_in_),
        }
        if hasattr(loaded.model, "best_iteration_"):
            info[role]["best_iteration"] = int(loaded.model.best_iteration_)
        if hasattr(loaded.model, "approach"):
            info[role]["approach"] = loaded.model.approach
    return info


def _load(registry: str) -> dict:
    from mlflow.tracking import MlflowClient

    from upseg.models.tracking import set_tracking
    from upseg.serving.champions import load_models

    set_tracking(registry)
    return load_models(MlflowClient(registry))


def _matrix(model: Any, chunk: pd.DataFrame) -> np.ndarray:
    """The float matrix a served model's boosters read: what the scorer encodes, in C order.

    Categories become their training codes (missing for an unknown label), as
    LightGBM itself turns a pandas categorical into numbers.
    """
    from upseg.models.classifier import model_frame
    from upseg.models.uplift.model import UpliftModel, encode_features

    names = list(model.feature_names_in_)
    if isinstance(model, UpliftModel):
        frame = encode_features(chunk, names, model.categories_)
    else:
        frame = model_frame(chunk, names, model.categories_)
    columns = [
        np.where(col.cat.codes < 0, np.nan, col.cat.codes)
        if isinstance(col.dtype, pd.CategoricalDtype)
        else col.to_numpy(dtype=float)
        for _, col in frame.items()
    ]
    return np.ascontiguousarray(np.column_stack(columns), dtype=np.float64)


# ----------------------------------------------------------------------------- scorer worker


def _instrument(models: dict, clock: _Clock) -> None:
    """Time every LightGBM call and the reasons inside ``score_chunk``, without changing them.

    Each booster's ``predict`` is replaced on the instance (not the class) by a
    timed call of the original; ``top_drivers`` in :mod:`serving.scorer` likewise.
    """
    from upseg.serving import scorer

    def kind(kwargs: dict) -> str:
        return "lightgbm_pred_contrib" if kwargs.get("pred_contrib") else "lightgbm_predict"

    for loaded in models.values():
        for booster in _boosters(loaded.model):
            booster.predict = clock.wrap(booster.predict, kind)
    scorer.top_drivers = clock.wrap(scorer.top_drivers, lambda _: "top_drivers")


def score_features_file_timed(
    features_file: Path, models: dict, policy, s, limits, clock: _Clock
) -> dict:
    """:func:`serving.batch.score_features_file` on ``features_file``, timed.

    The very function ``upseg score`` runs after building its features, with
    the same drift check; the LightGBM calls inside it are timed by
    :func:`_instrument`.
    """
    from upseg.pipelines.score_job import _drift
    from upseg.serving.batch import score_features_file
    from upseg.serving.champions import check_inputs, feature_set_of

    with clock("checks"):
        columns = [c for c in pq.read_schema(features_file).names if c != "customer_id"]
        check_inputs(models, feature_set_of(models).key, columns)
        eligible = pq.ParquetFile(features_file).metadata.num_rows
    with (
        tempfile.TemporaryDirectory(prefix=f".{s.out.name}.", dir=s.out.parent) as tmp,
        clock("score_features_file"),
    ):
        decided, _, _ = score_features_file(
            features_file, models, policy, s, limits=limits, eligible=eligible,
            work_dir=Path(tmp), check_drift=lambda sample: _drift(models, sample, s),
            on_stage=progress,
        )  # fmt: skip
    counts = decided["action"].value_counts()
    return {
        "customers_scored": len(decided),
        "actions": {k: int(v) for k, v in counts.items()},
        "suppressed": int((decided["suppression"] != "").sum()),
        "segments": int(decided["segment"].nunique()),
    }


def _scorer_worker(population: Path, registry: str, out: Path, chunk_rows: int, budget) -> dict:
    from upseg.pipelines.score_job import ScoreSettings
    from upseg.serving.policy import campaign_limits, load_policy

    clock = _Clock()
    started = time.perf_counter()
    with clock("load_models"):
        models = _load(registry)
    rss_loaded = peak_rss_mb()
    _instrument(models, clock)
    policy = load_policy(None)
    settings = ScoreSettings(
        data_dir=population.parent,
        as_of=SCORE_AS_OF,
        campaign=CAMPAIGN,
        out=out,
        tracking_uri=registry,
        workdir=out.parent,
        chunk_rows=chunk_rows,
        # Drift is computed and timed, but a benchmark population must not abort on it.
        psi_fail=1e9,
    )
    # As run_scoring: the policy file's holdout, budget and cost unless given.
    limits = campaign_limits(policy, max_sends=budget, given_by={"max_sends": "--budget-share"})
    counts = score_features_file_timed(population, models, policy, settings, limits, clock)
    seconds = time.perf_counter() - started
    peak = peak_rss_mb()
    audience = pq.ParquetFile(out)
    ids = pq.read_table(out, columns=["customer_id"]).column(0)
    return {
        "seconds": seconds,
        "seconds_without_loading": seconds - clock.seconds["load_models"],
        "peak_rss_mb": peak,
        "rss_after_loading_mb": rss_loaded,
        "stages": {name: clock.seconds.get(name, 0.0) for name in STAGES},
        "score_chunk_parts": {name: clock.seconds.get(name, 0.0) for name in SCORE_CHUNK_PARTS},
        "audience_rows": audience.metadata.num_rows,
        "audience_unique_ids": int(pc.count_distinct(ids).as_py()),
        "audience_columns": audience.schema_arrow.names,
        "models": _model_info(models),
        **counts,
    }


# ----------------------------------------------------------------------------- bare worker


def _record_calls(models: dict, sample: pd.DataFrame) -> dict[str, list]:
    """The LightGBM calls ``score_chunk`` makes, per model: ``(booster, kwargs, output)``."""
    from upseg.serving.scorer import score_chunk

    calls: dict[str, list] = {role: [] for role in models}
    recorded = []
    for role, loaded in models.items():
        for booster in _boosters(loaded.model):
            original = booster.predict

            def recording(data, *args, _role=role, _booster=booster, _fn=original, **kwargs):
                if args:
                    raise TypeError("the baseline replays keyword arguments only")
                result = _fn(data, **kwargs)
                calls[_role].append((_booster, kwargs, np.asarray(result)))
                return result

            booster.predict = recording
            recorded.append(booster)
    try:
        score_chunk(sample, models)
    finally:
        for booster in recorded:
            del booster.predict  # back to the class's method
    return calls


def _bare_worker(population: Path, registry: str, chunk_rows: int) -> dict:
    models = _load(registry)
    rss_loaded = peak_rss_mb()
    source = pq.ParquetFile(population)
    sample = next(source.iter_batches(batch_size=WARMUP_ROWS)).to_pandas()
    calls = _record_calls(models, sample)
    worst = 0.0
    for role, recorded in calls.items():
        X = _matrix(models[role].model, sample)
        for booster, kwargs, output in recorded:
            if booster.num_feature() != X.shape[1]:
                raise ValueError(
                    f"the {role} model's booster reads {booster.num_feature()} columns, not the "
                    f"{X.shape[1]} encoded features: this baseline cannot replay its calls "
                    "(an S-learner or DDR T-learner appends columns)."
                )
            diff = np.abs(booster.predict(X, **kwargs) - output)
            worst = max(worst, float(np.nanmax(diff, initial=0.0)))

    seconds: dict[str, float] = defaultdict(float)
    encoding = 0.0
    rows = 0
    for batch in source.iter_batches(batch_size=chunk_rows):
        chunk = batch.to_pandas()
        for role, recorded in calls.items():
            started = time.perf_counter()
            X = _matrix(models[role].model, chunk)
            encoding += time.perf_counter() - started
            for booster, kwargs, _ in recorded:
                kind = "pred_contrib" if kwargs.get("pred_contrib") else "predict"
                started = time.perf_counter()
                booster.predict(X, **kwargs)
                seconds[f"{role}_{kind}"] += time.perf_counter() - started
            del X
        rows += len(chunk)
    return {
        "seconds": float(sum(seconds.values())),
        "by_call": dict(seconds),
        "encoding_seconds_not_counted": encoding,
        "calls_per_chunk": {role: len(recorded) for role, recorded in calls.items()},
        "max_abs_difference_vs_scorer": worst,
        "customers": rows,
        "peak_rss_mb": peak_rss_mb(),
        "rss_after_loading_mb": rss_loaded,
    }


# ----------------------------------------------------------------------------- setup


def _setup(args: argparse.Namespace) -> dict:
    """The world, its three models in an MLflow store and its features; reused when present."""
    from upseg.features.build import build_features
    from upseg.features.pit import customer_spine
    from upseg.features.sets import CUSTOMER_V1
    from upseg.features.sources import connect
    from upseg.models.tracking import local_tracking_uri
    from upseg.pipelines.jobs import load_source
    from upseg.pipelines.train_job import TrainSettings, run_training
    from upseg.pipelines.uplift_job import UpliftSettings, run_uplift
    from upseg.synthetic import CAMPAIGN_ID, generate_world, write_world

    home = args.workdir / f"score_world_{args.world}_{args.seed}"
    done = home / "setup.json"
    if done.exists():
        return json.loads(done.read_text())
    if home.exists():  # a setup that did not finish
        shutil.rmtree(home)
    home.mkdir(parents=True)
    world = home / "world"
    registry = local_tracking_uri(home)
    timings = {}

    started = time.perf_counter()
    progress(f"generating a world of {args.world:,} customers")
    write_world(generate_world(args.world, seed=args.seed), world)
    timings["world"] = time.perf_counter() - started

    for task in ("churn", "propensity"):
        started = time.perf_counter()
        progress(f"training {task}")
        run_training(
            TrainSettings(
                task=task,
                data_dir=world,
                as_of=TRAIN_AS_OF,
                tracking_uri=registry,
                workdir=home,
                snapshots=1,
                seed=args.seed,
            )
        )
        timings[task] = time.perf_counter() - started
    started = time.perf_counter()
    progress("training uplift (T-learner)")
    run_uplift(
        UpliftSettings(
            tracking_uri=registry,
            workdir=home,
            data_dir=world,
            campaign=CAMPAIGN_ID,
            approaches=("t_learner",),
            n_folds=2,
            n_boot=20,
            seed=args.seed,
            promote=True,
        )
    )
    timings["uplift"] = time.perf_counter() - started

    # The features step of run_scoring, as it is written there.
    started = time.perf_counter()
    progress("building the features")
    con = connect()
    tables = load_source(world, con=con).result.tables
    columns = CUSTOMER_V1.columns(set(tables))
    spine = customer_spine(tables["customers"], SCORE_AS_OF)
    features = build_features(tables, spine, feature_set=CUSTOMER_V1).select(
        "customer_id", *columns
    )
    con.to_parquet(features, home / "features.parquet")
    timings["features"] = time.perf_counter() - started

    setup = {
        "home": str(home),
        "registry": registry,
        "features": str(home / "features.parquet"),
        "world_customers": args.world,
        "feature_rows": pq.ParquetFile(home / "features.parquet").metadata.num_rows,
        "seconds": timings,
    }
    done.write_text(json.dumps(setup, indent=2))
    return setup


def resample_population(features: Path, out: Path, customers: int, *, seed: int = 0) -> Path:
    """``customers`` rows drawn with replacement from ``features``, with new unique ids.

    Ids are ``P000000000`` upwards; rows are written in row groups of
    :data:`ROW_GROUP_ROWS`, as DuckDB writes the scorer's features file.
    """
    source = pq.read_table(features)
    rng = np.random.default_rng(seed)
    position = source.schema.get_field_index("customer_id")
    tmp = out.with_name(f".{out.name}.tmp")
    with pq.ParquetWriter(tmp, source.schema) as writer:
        for start in range(0, customers, RESAMPLE_ROWS):
            stop = min(start + RESAMPLE_ROWS, customers)
            rows = source.take(pa.array(rng.integers(0, source.num_rows, stop - start)))
            ids = pa.array([f"P{i:09d}" for i in range(start, stop)], type=pa.string())
            rows = rows.set_column(position, source.schema.field(position), ids)
            writer.write_table(rows, row_group_size=ROW_GROUP_ROWS)
    tmp.replace(out)
    return out


# ----------------------------------------------------------------------------- parent


def _run_worker(worker: str, population: Path, setup: dict, args, out: Path) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.bench_score",
        "--worker",
        worker,
        "--population",
        str(population),
        "--registry",
        setup["registry"],
        "--audience",
        str(out),
        "--chunk-rows",
        str(args.chunk_rows),
    ]
    if args.budget_share is not None:
        cmd += ["--budget-share", str(args.budget_share)]
    env = {**os.environ, "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, check=False, timeout=args.timeout, env=env
        )
    except subprocess.TimeoutExpired as stopped:
        err = stopped.stderr.decode() if isinstance(stopped.stderr, bytes) else stopped.stderr
        progress = [line for line in (err or "").splitlines() if line.startswith("[")]
        return {
            "error": f"{worker} stopped after {args.timeout:.0f} s",
            "last_progress": progress[-1] if progress else None,
        }
    if done.returncode != 0:
        sys.exit(f"worker {worker} on {population.name} failed:\n{done.stderr[-5000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _summarize(n: int, scorer: dict, bare: dict) -> dict:
    """The figures of one population size: throughput, overhead, where the time went."""
    own = scorer["seconds_without_loading"]
    lightgbm = scorer["score_chunk_parts"]["lightgbm_predict"]
    lightgbm += scorer["score_chunk_parts"]["lightgbm_pred_contrib"]
    return {
        "customers": n,
        "scorer": scorer,
        "bare": bare,
        "customers_per_second": n / scorer["seconds"],
        "bare_customers_per_second": n / bare["seconds"],
        "overhead": own / bare["seconds"] - 1,
        "lightgbm_in_scorer_seconds": lightgbm,
    }


def _targets(sizes: dict[int, dict]) -> dict:
    """Whether each of the issue's targets is met by the sizes that ran."""
    out: dict[str, dict] = {}
    if 1_000_000 in sizes:
        seconds = sizes[1_000_000]["scorer"]["seconds"]
        out["seconds_at_1m"] = {
            "value": seconds,
            "target": TARGETS["seconds_at_1m"],
            "met": seconds < TARGETS["seconds_at_1m"],
        }
    if 1_000_000 in sizes and 5_000_000 in sizes:
        growth = (
            sizes[5_000_000]["scorer"]["peak_rss_mb"] / sizes[1_000_000]["scorer"]["peak_rss_mb"]
        )
        out["memory_growth_1m_to_5m"] = {
            "value": growth,
            "target": TARGETS["memory_growth_1m_to_5m"],
            "met": growth < TARGETS["memory_growth_1m_to_5m"],
        }
    worst = max(sizes.values(), key=lambda r: r["overhead"])
    out["overhead"] = {
        "value": worst["overhead"],
        "at_customers": worst["customers"],
        "target": TARGETS["overhead"],
        "met": all(r["overhead"] < TARGETS["overhead"] for r in sizes.values()),
    }
    return out


def run(args: argparse.Namespace) -> dict:
    """Set up, score every population size in fresh subprocesses, and return the results."""
    started = time.perf_counter()
    setup = _setup(args)
    home = Path(setup["home"])
    sizes: dict[int, dict] = {}
    stopped = None
    for n in args.customers:
        population = home / f"population_{n}_{args.seed}.parquet"
        if not population.exists():
            progress(f"resampling {n:,} customers")
            resample_population(Path(setup["features"]), population, n, seed=args.seed)
        audience = args.workdir / f"score_audience_{n}.parquet"
        results = {}
        for worker in WORKERS:
            progress(f"{worker} on {n:,} customers")
            results[worker] = _run_worker(worker, population, setup, args, audience)
            if "error" in results[worker]:
                break
        if any("error" in r for r in results.values()):
            stopped = {"customers": n, **next(r for r in results.values() if "error" in r)}
            progress(f"{n:,} customers: {stopped['error']}; larger sizes skipped")
            break
        sizes[n] = _summarize(n, results["scorer"], results["bare"])
        if not args.keep_audience:
            audience.unlink(missing_ok=True)
    if not sizes:
        sys.exit(f"no population size finished: {stopped}")
    first = next(iter(sizes.values()))
    return {
        "customers": list(sizes),
        "world_customers": setup["world_customers"],
        "feature_rows": setup["feature_rows"],
        "setup_seconds": setup["seconds"],
        "chunk_rows": args.chunk_rows,
        "budget_share": args.budget_share,
        "models": first["scorer"]["models"],
        "populations": {str(n): r for n, r in sizes.items()},
        "targets": _targets(sizes),
        "stopped": stopped,
        "machine": machine(),
        "seconds": time.perf_counter() - started,
    }


def markdown_table(results: dict) -> str:
    """The README table: one row per population size, then where the time goes."""
    rows = results["populations"].values()
    lines = [
        "| customers | scorer, end to end (s) | customers/s | peak memory (MB) "
        "| bare LightGBM (s) | overhead over bare |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        s = r["scorer"]
        lines.append(
            f"| {r['customers']:,} | {s['seconds']:.1f} | {r['customers_per_second']:,.0f} "
            f"| {s['peak_rss_mb']:,.0f} | {r['bare']['seconds']:.1f} | {r['overhead']:+.0%} |"
        )
    sizes = [f"{r['customers']:,}" for r in rows]
    lines += [
        "",
        f"| stage (s) | {' | '.join(sizes)} |",
        f"| --- | {' | '.join('---:' for _ in sizes)} |",
    ]
    parts = {
        "lightgbm_predict": "score_chunk: LightGBM predict",
        "lightgbm_pred_contrib": "of which LightGBM pred_contrib",
        "top_drivers": "of which reasons (top_drivers)",
    }
    for stage in STAGES:
        cells = [f"{r['scorer']['stages'][stage]:.1f}" for r in rows]
        lines.append(f"| {stage} | {' | '.join(cells)} |")
        if stage == "score_features_file":
            for part, label in parts.items():
                cells = [f"{r['scorer']['score_chunk_parts'][part]:.1f}" for r in rows]
                lines.append(f"| {label} | {' | '.join(cells)} |")
    models = results["models"]
    described = ", ".join(
        f"{role} {m['trees']} trees in {m['boosters']} booster(s)" for role, m in models.items()
    )
    lines += [
        "",
        f"Models trained on a {results['world_customers']:,}-customer synthetic world "
        f"({described}); populations resampled from its {results['feature_rows']:,} feature "
        f"rows; chunks of {results['chunk_rows']:,}; {results['machine']['cores']} cores. "
        "End to end = loading the champions through the audience file and summary, without "
        "building features. Bare = the scorer's LightGBM calls (churn and propensity predict, "
        "propensity pred_contrib, uplift predict) replayed on the encoded float matrix, "
        "pred_contrib for every customer, while the scorer explains only the customers the "
        "policy would send; overhead = scorer without model loading / bare - 1.",
    ]
    return "\n".join(lines)


def _print_report(results: dict) -> None:
    m = results["machine"]
    print(f"\nmachine: {m['arch']}, {m['cores']} cores, Python {m['python']}")
    for role, info in results["models"].items():
        print(f"  {role}: {info['version']} {info['type']}, {info['trees']} trees")
    for n, r in results["populations"].items():
        b = r["bare"]
        print(
            f"{int(n):>10,}: scorer {r['scorer']['seconds']:.1f} s "
            f"(LightGBM inside {r['lightgbm_in_scorer_seconds']:.1f} s), bare {b['seconds']:.1f} s "
            f"(encoding outside the clock {b['encoding_seconds_not_counted']:.1f} s), "
            f"bare vs scorer predictions differ by {b['max_abs_difference_vs_scorer']:.1e}"
        )
    print()
    labels = {
        "seconds_at_1m": ("1,000,000 customers end to end", "{:.1f} s", "< 60 s"),
        "memory_growth_1m_to_5m": ("peak memory 1M -> 5M", "x{:.2f}", "< x1.5"),
        "overhead": ("overhead over bare LightGBM (worst size)", "{:+.0%}", "< +25%"),
    }
    for key, (label, fmt, target) in labels.items():
        t = results["targets"].get(key)
        if t is None:
            print(f"{label}: not measured")
        else:
            verdict = "met" if t["met"] else "NOT met"
            print(f"{label}: {fmt.format(t['value'])} (target {target}): {verdict}")
    if results["stopped"]:
        print(f"stopped: {results['stopped']}")
    print()
    print(markdown_table(results))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000, 1_000_000, 5_000_000])
    parser.add_argument("--world", type=int, default=100_000, help="customers of the world")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk-rows", type=int, default=None, help="the scorer's by default")
    parser.add_argument(
        "--budget-share",
        type=float,
        default=None,
        help="a send budget of this share of the customers (default: the policy's, no cap)",
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per worker")
    parser.add_argument("--workdir", type=Path, default=REPO / "benchmarks" / "output")
    parser.add_argument("--out", type=Path, default=None, help="<workdir>/score.json")
    parser.add_argument("--keep-audience", action="store_true")
    parser.add_argument("--worker", choices=WORKERS, help=argparse.SUPPRESS)
    parser.add_argument("--population", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--registry", help=argparse.SUPPRESS)
    parser.add_argument("--audience", type=Path, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> dict | None:
    """Run the benchmark, print the report, write the JSON file and return its content."""
    args = _parser().parse_args(argv)
    if args.chunk_rows is None:
        from upseg.serving.batch import CHUNK_ROWS

        args.chunk_rows = CHUNK_ROWS
    if args.worker == "scorer":
        n = pq.ParquetFile(args.population).metadata.num_rows
        budget = None if args.budget_share is None else int(args.budget_share * n)
        result = _scorer_worker(
            args.population, args.registry, args.audience, args.chunk_rows, budget
        )
        print(json.dumps(result))
        return None
    if args.worker == "bare":
        print(json.dumps(_bare_worker(args.population, args.registry, args.chunk_rows)))
        return None
    args.workdir.mkdir(parents=True, exist_ok=True)
    args.workdir = args.workdir.resolve()
    results = run(args)
    _print_report(results)
    out = args.out or args.workdir / "score.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out}")
    return results


if __name__ == "__main__":
    main()
