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
propensity models (``snapshots=1``) and an uplift model trained into an MLflow
store there (as ``upseg train uplift`` chooses it by default, among every
approach; ``--uplift-approaches t_learner`` for the T-learner, the most
expensive to score, which the figures before issue 19's cost-aware choice
used; the model is retrained when the candidates change), and the features of
the world built once as ``run_scoring`` builds them. Each population of ``--customers`` is made by
drawing feature rows of the world with replacement under new customer ids, so
that 5 million customers need no 5-million-customer world (about 4 GB per
million customers to generate).

Each population is scored, once per ``--reasons`` mode (``targeted``: reasons
for the customers the policy would send, as ``upseg score`` does by default;
``all``: for everyone), in two fresh subprocesses whose wall time and peak
resident memory (``VmHWM``, see :func:`benchmarks._common.peak_rss_mb`) are
their own:

- ``scorer``: the scorer's stages above, on the population's features file;
  it records which customers it explained and which of them needed exact
  TreeSHAP (``--reasons-method hybrid``, the default);
- ``bare``: the same file in the same chunks, each chunk encoded outside the
  clock into the float matrix each booster reads; on the clock only the model
  work the scorer did, replayed on that matrix: ``predict`` of the churn and
  propensity boosters and of every LightGBM model of the uplift learners, with
  the scorer's arguments, and for exactly the customers the scorer explained,
  the propensity booster's ``pred_leaf`` and path-attribution lookup and
  ``pred_contrib`` for exactly the rows it computed exactly (with
  ``--reasons-method exact``: ``pred_contrib`` for every explained customer).
  A model whose boosters read columns its learner appends (an S-learner's
  treatment, a DDR T-learner's other model) cannot be replayed on the encoded
  matrix: its ``predict_frame`` runs with only its boosters' calls on the clock.

Overhead = scorer seconds (without loading the models, which the baseline
does not time either) / bare seconds - 1: what the scorer adds to the same
model work on the same rows. The issue's targets, on a 2-core machine:
1,000,000 customers end to end in under 60 s, peak memory growing less than
1.5x from 1,000,000 to 5,000,000 customers, overhead under 25%. The reasons
of the hybrid are compared with exact TreeSHAP on a sample of the explained
customers of the first population (top driver; sign of the driver named).
Prints a table for the README and writes ``benchmarks/output/score.json``.
LightGBM uses its default threads (all cores). The machine is shared and
noisy: run every size in one invocation on a quiet machine and compare ratios
within that run; the report prints the load average before and after. Sizes
above ``--full-up-to`` (1,000,000) run the scorer alone with targeted reasons:
they are there for memory growth and throughput.
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
WORKERS = ("scorer", "bare")
REASONS = ("targeted", "all")
#: Explained customers of the first population whose hybrid reasons are compared with
#: exact TreeSHAP.
AGREEMENT_SAMPLE = 20_000
TARGETS = {"seconds_at_1m": 60.0, "memory_growth_1m_to_5m": 1.5, "overhead": 0.25}
#: Stages of the scorer, in order; ``score_chunk`` is split by instrumenting its calls.
STAGES = ("load_models", "checks", "score_features_file")
SCORE_CHUNK_PARTS = (
    "lightgbm_predict",
    "lightgbm_pred_leaf",
    "lightgbm_pred_contrib",
    "path_lookup",
    "top_drivers",
)
#: The parts that are model work (the bare baseline times the same); the rest is the scorer's.
MODEL_PARTS = SCORE_CHUNK_PARTS[:4]


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


def _boosters(model: Any) -> list:
    """Every LightGBM booster of one served model (classifier or uplift model)."""
    from upseg.models.uplift.model import lgbm_estimators

    if not hasattr(model, "learners_"):
        return [model.booster_]
    return [
        est.booster_ for learner in model.learners_.values() for est in lgbm_estimators(learner)
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
            # What predicting walks per customer (the S-learner walks its trees twice).
            info[role]["trees_per_customer"] = float(sum(loaded.model.prediction_trees().values()))
    return info


def _load(registry: str) -> dict:
    from mlflow.tracking import MlflowClient

    from upseg.models.tracking import set_tracking
    from upseg.serving.champions import load_models

    set_tracking(registry)
    return load_models(MlflowClient(registry))


def _explained_file(audience: Path) -> Path:
    return audience.with_name(f"{audience.name}.explained.npz")


# ----------------------------------------------------------------------------- scorer worker


def _instrument(models: dict, clock: _Clock) -> dict[str, list]:
    """Time the model work inside the scorer and record which customers it explained.

    Each booster's ``predict`` is replaced on the instance (not the class) by a
    timed call of the original, named by its kind; the path-attribution lookup
    and ``top_drivers`` likewise. The returned lists fill as the scorer runs:
    ``explained`` the global row numbers each :func:`serving.scorer.reasons`
    call explained, ``exact`` which of them got exact TreeSHAP.
    """
    from upseg.models import classifier
    from upseg.models.attributions import PathAttributions
    from upseg.serving import batch, scorer

    def kind(kwargs: dict) -> str:
        if kwargs.get("pred_contrib"):
            return "lightgbm_pred_contrib"
        return "lightgbm_pred_leaf" if kwargs.get("pred_leaf") else "lightgbm_predict"

    for loaded in models.values():
        for booster in _boosters(loaded.model):
            booster.predict = clock.wrap(booster.predict, kind)
    scorer.top_drivers = clock.wrap(scorer.top_drivers, lambda _: "top_drivers")
    PathAttributions.contributions = clock.wrap(  # type: ignore[method-assign]
        PathAttributions.contributions, lambda _: "path_lookup"
    )
    record: dict[str, list] = {"explained": [], "exact": []}
    reasons, contributions = batch.reasons, classifier.tree_contributions

    def recorded_reasons(features, models, rows=None, **kwargs):
        chosen = np.ones(len(features), bool) if rows is None else np.asarray(rows, bool)
        record["explained"].append(features.index.to_numpy()[chosen])
        record["exact"].append(np.zeros(int(chosen.sum()), bool))
        return reasons(features, models, rows, **kwargs)

    def recorded_contributions(*args, **kwargs):
        values, exact = contributions(*args, **kwargs)
        record["exact"][-1] = exact
        return values, exact

    batch.reasons = recorded_reasons
    classifier.tree_contributions = recorded_contributions
    return record


def score_features_file_timed(
    features_file: Path, models: dict, policy, s, limits, clock: _Clock
) -> dict:
    """:func:`serving.batch.score_features_file` on ``features_file``, timed.

    The very function ``upseg score`` runs after building its features, with
    the same drift check; the model work inside it is timed by :func:`_instrument`.
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
        "actions": {str(k): int(v) for k, v in counts.items() if v},
        "suppressed": int((decided["suppression"] != "").sum()),
        "segments": int(decided["segment"].nunique()),
    }


def _scorer_worker(population: Path, registry: str, out: Path, args) -> dict:
    from upseg.pipelines.score_job import ScoreSettings
    from upseg.serving.policy import campaign_limits, load_policy

    n = pq.ParquetFile(population).metadata.num_rows
    budget = None if args.budget_share is None else int(args.budget_share * n)
    clock = _Clock()
    started = time.perf_counter()
    with clock("load_models"):
        models = _load(registry)
    rss_loaded = peak_rss_mb()
    record = _instrument(models, clock)
    policy = load_policy(None)
    settings = ScoreSettings(
        data_dir=population.parent,
        as_of=SCORE_AS_OF,
        campaign=CAMPAIGN,
        out=out,
        tracking_uri=registry,
        workdir=out.parent,
        chunk_rows=args.chunk_rows,
        reasons=args.reasons_mode,
        reasons_method=args.reasons_method,
        # Drift is computed and timed, but a benchmark population must not abort on it.
        psi_fail=1e9,
    )
    # As run_scoring: the policy file's holdout, budget and cost unless given.
    limits = campaign_limits(policy, max_sends=budget, given_by={"max_sends": "--budget-share"})
    counts = score_features_file_timed(population, models, policy, settings, limits, clock)
    seconds = time.perf_counter() - started
    peak = peak_rss_mb()
    explained = np.concatenate(record["explained"]) if record["explained"] else np.array([], int)
    exact = np.concatenate(record["exact"]) if record["exact"] else np.array([], bool)
    np.savez(_explained_file(out), explained=explained, exact=exact)
    audience = pq.ParquetFile(out)
    ids = pq.read_table(out, columns=["customer_id"]).column(0)
    return {
        "seconds": seconds,
        "seconds_without_loading": seconds - clock.seconds["load_models"],
        "peak_rss_mb": peak,
        "rss_after_loading_mb": rss_loaded,
        "stages": {name: clock.seconds.get(name, 0.0) for name in STAGES},
        "score_chunk_parts": {name: clock.seconds.get(name, 0.0) for name in SCORE_CHUNK_PARTS},
        "explained": len(explained),
        "explained_exactly": int(exact.sum()),
        "audience_rows": audience.metadata.num_rows,
        "audience_unique_ids": int(pc.count_distinct(ids).as_py()),
        "audience_columns": audience.schema_arrow.names,
        "models": _model_info(models),
        **counts,
    }


# ----------------------------------------------------------------------------- bare worker


def _record_calls(models: dict, sample: pd.DataFrame) -> dict[str, list]:
    """The prediction calls ``score_chunk`` makes per model: ``(booster, kwargs, output)``."""
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
        score_chunk(sample, models, with_reasons=False)
    finally:
        for booster in recorded:
            del booster.predict  # back to the class's method
    return calls


@contextmanager
def _timed_boosters(boosters: list, seconds: dict[str, float], key: str) -> Iterator[list]:
    """Time every ``predict`` of ``boosters`` into ``seconds[key]``; yields their outputs in order.

    For models whose boosters read columns the learner appends (an S-learner's
    treatment, a DDR T-learner's other model): the learner runs its own glue
    outside the clock, and only the boosters' work is counted.
    """
    outputs: list[np.ndarray] = []
    for booster in boosters:
        original = booster.predict

        def timed(data, *args, _fn=original, **kwargs):
            started = time.perf_counter()
            result = _fn(data, *args, **kwargs)
            seconds[key] += time.perf_counter() - started
            outputs.append(np.asarray(result))
            return result

        booster.predict = timed
    try:
        yield outputs
    finally:
        for booster in boosters:
            del booster.predict


def _explain_like_the_scorer(
    model: Any, X: np.ndarray, exact: np.ndarray, method: str, seconds: dict, paths: Any
) -> None:
    """The explanation work the scorer did on these rows, timed by call."""
    booster, trees = model.booster_, model.best_iteration_
    if method == "exact":
        started = time.perf_counter()
        booster.predict(X, num_iteration=trees, pred_contrib=True)
        seconds["propensity_pred_contrib"] += time.perf_counter() - started
        return
    started = time.perf_counter()
    leaves = booster.predict(X, num_iteration=trees, pred_leaf=True)
    seconds["propensity_pred_leaf"] += time.perf_counter() - started
    started = time.perf_counter()
    paths.contributions(leaves)
    seconds["propensity_path_lookup"] += time.perf_counter() - started
    if exact.any():
        started = time.perf_counter()
        booster.predict(X[exact], num_iteration=trees, pred_contrib=True)
        seconds["propensity_pred_contrib"] += time.perf_counter() - started


def _bare_worker(population: Path, registry: str, audience: Path, args) -> dict:
    from upseg.models.attributions import PathAttributions

    models = _load(registry)
    rss_loaded = peak_rss_mb()
    source = pq.ParquetFile(population)
    sample = next(source.iter_batches(batch_size=WARMUP_ROWS)).to_pandas()
    calls = _record_calls(models, sample)
    worst = 0.0
    # Models whose boosters read more columns than the encoded features are run
    # through their own predict_frame with only the boosters on the clock.
    through_learner: set[str] = set()
    for role, recorded in calls.items():
        X = models[role].model.encode(sample)
        if any(booster.num_feature() != X.shape[1] for booster, _, _ in recorded):
            through_learner.add(role)
            with _timed_boosters(_boosters(models[role].model), defaultdict(float), role) as out:
                models[role].model.predict_frame(X)
            pairs = zip((o for _, _, o in recorded), out, strict=True)
        else:
            pairs = ((o, booster.predict(X, **kwargs)) for booster, kwargs, o in recorded)
        for output, again in pairs:
            diff = np.abs(again - output)
            worst = max(worst, float(np.nanmax(diff, initial=0.0)))
    with np.load(_explained_file(audience)) as saved:
        explained, exact = saved["explained"], saved["exact"]
    explainer = models["propensity"].model
    paths = PathAttributions.from_booster(explainer.booster_, explainer.best_iteration_)

    seconds: dict[str, float] = defaultdict(float)
    encoding = 0.0
    rows = 0
    for batch in source.iter_batches(batch_size=args.chunk_rows):
        chunk = batch.to_pandas()
        n = len(chunk)
        for role, recorded in calls.items():
            started = time.perf_counter()
            X = models[role].model.encode(chunk)
            encoding += time.perf_counter() - started
            if role in through_learner:
                with _timed_boosters(_boosters(models[role].model), seconds, f"{role}_predict"):
                    models[role].model.predict_frame(X)
            else:
                for booster, kwargs, _ in recorded:
                    started = time.perf_counter()
                    booster.predict(X, **kwargs)
                    seconds[f"{role}_predict"] += time.perf_counter() - started
            if role == "propensity":
                here = (explained >= rows) & (explained < rows + n)
                if here.any():
                    started = time.perf_counter()
                    X_explained = X[explained[here] - rows]
                    encoding += time.perf_counter() - started
                    _explain_like_the_scorer(
                        explainer, X_explained, exact[here], args.reasons_method, seconds, paths
                    )
            del X
        rows += n
    return {
        "seconds": float(sum(seconds.values())),
        "by_call": dict(seconds),
        "encoding_seconds_not_counted": encoding,
        "calls_per_chunk": {role: len(recorded) for role, recorded in calls.items()},
        "through_learner": sorted(through_learner),
        "max_abs_difference_vs_scorer": worst,
        "customers": rows,
        "explained": len(explained),
        "explained_exactly": int(exact.sum()),
        "peak_rss_mb": peak_rss_mb(),
        "rss_after_loading_mb": rss_loaded,
    }


def _agreement_worker(population: Path, registry: str, audience: Path) -> dict:
    """Hybrid reasons against exact TreeSHAP on a sample of the customers the scorer explained."""
    from upseg.models.attributions import tree_contributions

    models = _load(registry)
    explainer = models["propensity"].model
    with np.load(_explained_file(audience)) as saved:
        explained = saved["explained"]
    rng = np.random.default_rng(0)
    take = np.sort(rng.choice(explained, min(AGREEMENT_SAMPLE, len(explained)), replace=False))
    rows = pq.read_table(population).take(pa.array(take)).to_pandas()
    X = explainer.encode(rows)
    trees = explainer.best_iteration_
    exact, _ = tree_contributions(explainer.booster_, X, num_iteration=trees, method="exact")
    hybrid, exact_rows = tree_contributions(
        explainer.booster_, X, num_iteration=trees, method="hybrid"
    )
    exact, hybrid = exact[:, :-1], hybrid[:, :-1]
    top = np.abs(hybrid).argmax(axis=1)
    picked = np.arange(len(X))
    top3 = np.sort(np.argsort(-np.abs(hybrid), axis=1)[:, :3], axis=1)
    top3_exact = np.sort(np.argsort(-np.abs(exact), axis=1)[:, :3], axis=1)
    return {
        "customers": len(X),
        "top_driver": float((top == np.abs(exact).argmax(axis=1)).mean()),
        "sign_of_driver": float(
            (np.sign(hybrid[picked, top]) == np.sign(exact[picked, top])).mean()
        ),
        "same_three_drivers": float((top3 == top3_exact).all(axis=1).mean()),
        "exact_share": float(exact_rows.mean()),
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
    from upseg.synthetic import generate_world, write_world

    home = args.workdir / f"score_world_{args.world}_{args.seed}"
    done = home / "setup.json"
    candidates = list(args.uplift_approaches or ["default"])
    if done.exists():
        setup = json.loads(done.read_text())
        # Setups from before the choice was an option trained a T-learner.
        if setup.get("uplift_approaches", ["t_learner"]) != candidates:
            started = time.perf_counter()
            _train_uplift(Path(setup["home"]) / "world", setup["registry"], args)
            setup["uplift_approaches"] = candidates
            setup["seconds"]["uplift"] = time.perf_counter() - started
            done.write_text(json.dumps(setup, indent=2))
        return setup
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
    _train_uplift(world, registry, args)
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
        "uplift_approaches": candidates,
        "seconds": timings,
    }
    done.write_text(json.dumps(setup, indent=2))
    return setup


def _train_uplift(world: Path, registry: str, args: argparse.Namespace) -> None:
    """The uplift model of the campaign, among ``--uplift-approaches``, promoted to champion."""
    from upseg.pipelines.uplift_job import UpliftSettings, run_uplift
    from upseg.synthetic import CAMPAIGN_ID

    approaches = tuple(args.uplift_approaches) if args.uplift_approaches else None
    progress(f"training uplift ({', '.join(approaches) if approaches else 'every approach'})")
    run_uplift(
        UpliftSettings(
            tracking_uri=registry,
            workdir=world.parent,
            data_dir=world,
            campaign=CAMPAIGN_ID,
            approaches=approaches,
            n_folds=2,
            n_boot=20,
            seed=args.seed,
            promote=True,
        )
    )


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


def _run_worker(worker: str, population: Path, setup: dict, args, out: Path, mode: str) -> dict:
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
        "--reasons",
        mode,
        "--reasons-method",
        args.reasons_method,
    ]
    if args.budget_share is not None:
        cmd += ["--budget-share", str(args.budget_share)]
    env = _worker_env()
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


def _worker_env() -> dict[str, str]:
    """The workers' environment: no progress bars, and bytecode as an installed package has it.

    With ``PYTHONDONTWRITEBYTECODE`` set and no ``.pyc`` files (as in this
    project's development image), every process compiles MLflow, pandas and
    the rest from source, about 12 s that no installed deployment pays;
    :func:`_compile_bytecode` writes them once before anything is timed.
    """
    env = {**os.environ, "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _compile_bytecode() -> None:
    """Compile the installed packages and the project to bytecode, as pip does on install."""
    import compileall
    import sysconfig

    for path in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], str(REPO)}:
        compileall.compile_dir(path, quiet=2, workers=0, legacy=False)


def _summarize(n: int, mode: str, scorer: dict, bare: dict | None) -> dict:
    """The figures of one population size and reasons mode: throughput, overhead, model time.

    Without a baseline (sizes above ``--full-up-to``) the overhead is None.
    """
    own = scorer["seconds_without_loading"]
    return {
        "customers": n,
        "reasons": mode,
        "scorer": scorer,
        "bare": bare,
        "customers_per_second": n / scorer["seconds"],
        "bare_customers_per_second": None if bare is None else n / bare["seconds"],
        "overhead": None if bare is None else own / bare["seconds"] - 1,
        "model_work_in_scorer_seconds": sum(scorer["score_chunk_parts"][p] for p in MODEL_PARTS),
    }


def _targets(sizes: dict[int, dict[str, dict]]) -> dict:
    """Whether each of the issue's targets is met by the sizes that ran (default reasons)."""
    out: dict[str, dict] = {}
    default = {n: modes["targeted"] for n, modes in sizes.items() if "targeted" in modes}
    if 1_000_000 in default:
        seconds = default[1_000_000]["scorer"]["seconds"]
        out["seconds_at_1m"] = {
            "value": seconds,
            "target": TARGETS["seconds_at_1m"],
            "met": seconds < TARGETS["seconds_at_1m"],
        }
    if 1_000_000 in default and 5_000_000 in default:
        growth = (
            default[5_000_000]["scorer"]["peak_rss_mb"]
            / default[1_000_000]["scorer"]["peak_rss_mb"]
        )
        out["memory_growth_1m_to_5m"] = {
            "value": growth,
            "target": TARGETS["memory_growth_1m_to_5m"],
            "met": growth < TARGETS["memory_growth_1m_to_5m"],
        }
    every = [r for modes in sizes.values() for r in modes.values() if r["bare"] is not None]
    worst = max(every, key=lambda r: r["overhead"])
    out["overhead"] = {
        "value": worst["overhead"],
        "at_customers": worst["customers"],
        "reasons": worst["reasons"],
        "target": TARGETS["overhead"],
        "met": all(r["overhead"] < TARGETS["overhead"] for r in every),
    }
    return out


def run(args: argparse.Namespace) -> dict:
    """Set up, score every size in each reasons mode in fresh subprocesses, return the results."""
    started = time.perf_counter()
    load_before = os.getloadavg()
    setup = _setup(args)
    home = Path(setup["home"])
    progress("compiling bytecode (once; an installed package has it)")
    _compile_bytecode()
    sizes: dict[int, dict[str, dict]] = {}
    agreement = None
    stopped = None
    for n in args.customers:
        population = home / f"population_{n}_{args.seed}.parquet"
        if not population.exists():
            progress(f"resampling {n:,} customers")
            resample_population(Path(setup["features"]), population, n, seed=args.seed)
        full = n <= args.full_up_to
        for mode in args.reasons if full else ["targeted"]:
            audience = args.workdir / f"score_audience_{n}_{mode}.parquet"
            results = {}
            for worker in WORKERS if full else ("scorer",):
                progress(f"{worker} on {n:,} customers, reasons for {mode}")
                results[worker] = _run_worker(worker, population, setup, args, audience, mode)
                if "error" in results[worker]:
                    break
            if any("error" in r for r in results.values()):
                stopped = {"customers": n, "reasons": mode}
                stopped.update(next(r for r in results.values() if "error" in r))
                break
            sizes.setdefault(n, {})[mode] = _summarize(
                n, mode, results["scorer"], results.get("bare")
            )
            if agreement is None and args.reasons_method == "hybrid":
                progress("hybrid reasons against exact TreeSHAP")
                agreement = _run_worker("agreement", population, setup, args, audience, mode)
            if not args.keep_audience:
                audience.unlink(missing_ok=True)
            _explained_file(audience).unlink(missing_ok=True)
        if stopped:
            progress(f"{n:,} customers: {stopped['error']}; larger sizes skipped")
            break
    if not sizes:
        sys.exit(f"no population size finished: {stopped}")
    first = next(iter(next(iter(sizes.values())).values()))
    return {
        "customers": list(sizes),
        "reasons": list(args.reasons),
        "reasons_method": args.reasons_method,
        "world_customers": setup["world_customers"],
        "feature_rows": setup["feature_rows"],
        "setup_seconds": setup["seconds"],
        "chunk_rows": args.chunk_rows,
        "budget_share": args.budget_share,
        "models": first["scorer"]["models"],
        "populations": {str(n): modes for n, modes in sizes.items()},
        "agreement": agreement,
        "targets": _targets(sizes),
        "stopped": stopped,
        "machine": machine(),
        "load_average": {"before": load_before[:3], "after": os.getloadavg()[:3]},
        "seconds": time.perf_counter() - started,
    }


def markdown_table(results: dict) -> str:
    """The README table: one row per size and reasons mode, then where the time goes."""
    rows = [r for modes in results["populations"].values() for r in modes.values()]
    lines = [
        "| customers | reasons for | scorer, end to end (s) | customers/s | peak memory (MB) "
        "| same model work, bare (s) | overhead over bare |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        s = r["scorer"]
        bare = "-" if r["bare"] is None else f"{r['bare']['seconds']:.1f}"
        overhead = "-" if r["overhead"] is None else f"{r['overhead']:+.0%}"
        lines.append(
            f"| {r['customers']:,} | {r['reasons']} | {s['seconds']:.1f} "
            f"| {r['customers_per_second']:,.0f} | {s['peak_rss_mb']:,.0f} "
            f"| {bare} | {overhead} |"
        )
    heads = [f"{r['customers']:,} {r['reasons']}" for r in rows]
    lines += [
        "",
        f"| stage (s) | {' | '.join(heads)} |",
        f"| --- | {' | '.join('---:' for _ in heads)} |",
    ]
    parts = {
        "lightgbm_predict": "score_chunk: LightGBM predict",
        "lightgbm_pred_leaf": "reasons: LightGBM pred_leaf",
        "path_lookup": "reasons: path-attribution lookup",
        "lightgbm_pred_contrib": "reasons: LightGBM pred_contrib (exact TreeSHAP)",
        "top_drivers": "reasons: top_drivers text",
    }
    for stage in STAGES:
        cells = [f"{r['scorer']['stages'][stage]:.1f}" for r in rows]
        lines.append(f"| {stage} | {' | '.join(cells)} |")
        if stage == "score_features_file":
            for part, label in parts.items():
                cells = [f"{r['scorer']['score_chunk_parts'][part]:.1f}" for r in rows]
                lines.append(f"| of which {label} | {' | '.join(cells)} |")
    cells = [f"{r['scorer']['explained']:,} / {r['scorer']['explained_exactly']:,}" for r in rows]
    lines.append(f"| customers explained / of them exactly | {' | '.join(cells)} |")
    models = results["models"]
    described = ", ".join(
        f"{role} {m['trees']} trees in {m['boosters']} booster(s)" for role, m in models.items()
    )
    lines += [
        "",
        f"Models trained on a {results['world_customers']:,}-customer synthetic world "
        f"({described}); populations resampled from its {results['feature_rows']:,} feature "
        f"rows; chunks of {results['chunk_rows']:,}; {results['machine']['cores']} cores; "
        f"reasons by the {results['reasons_method']} method. End to end = loading the "
        "champions through the audience file and summary, without building features. Bare = "
        "the scorer's model work replayed on the encoded float matrix: every prediction "
        "call, and for exactly the customers the scorer explained, the same explanation "
        "calls; overhead = scorer without model loading / bare - 1.",
    ]
    agreement = results.get("agreement")
    if agreement:
        lines.append(
            f"Hybrid reasons against exact TreeSHAP on {agreement['customers']:,} explained "
            f"customers: top driver {agreement['top_driver']:.2%}, sign of the driver named "
            f"{agreement['sign_of_driver']:.2%}, same three drivers "
            f"{agreement['same_three_drivers']:.2%}; {agreement['exact_share']:.0%} of them "
            "computed exactly."
        )
    return "\n".join(lines)


def _print_report(results: dict) -> None:
    m = results["machine"]
    load = results["load_average"]
    print(f"\nmachine: {m['arch']}, {m['cores']} cores, Python {m['python']}")
    print(f"load average before {load['before']}, after {load['after']}")
    for role, info in results["models"].items():
        walked = info.get("trees_per_customer")
        print(
            f"  {role}: {info['version']} {info['type']}"
            + (f" ({info['approach']})" if "approach" in info else "")
            + f", {info['trees']} trees"
            + (f", {walked:.0f} walked per customer" if walked is not None else "")
        )
    for n, modes in results["populations"].items():
        for mode, r in modes.items():
            b = r["bare"]
            if b is None:
                print(f"{int(n):>10,} reasons for {mode}: scorer {r['scorer']['seconds']:.1f} s")
                continue
            print(
                f"{int(n):>10,} reasons for {mode}: scorer {r['scorer']['seconds']:.1f} s "
                f"(model work inside {r['model_work_in_scorer_seconds']:.1f} s), bare "
                f"{b['seconds']:.1f} s (encoding outside the clock "
                f"{b['encoding_seconds_not_counted']:.1f} s), bare vs scorer predictions differ "
                f"by {b['max_abs_difference_vs_scorer']:.1e}"
            )
    print()
    labels = {
        "seconds_at_1m": ("1,000,000 customers end to end", "{:.1f} s", "< 60 s"),
        "memory_growth_1m_to_5m": ("peak memory 1M -> 5M", "x{:.2f}", "< x1.5"),
        "overhead": ("overhead over the same model work (worst run)", "{:+.0%}", "< +25%"),
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
        "--reasons",
        nargs="+",
        choices=REASONS,
        default=list(REASONS),
        help="whom the scorer explains: the customers the policy would send, everyone, or both",
    )
    parser.add_argument(
        "--reasons-method", choices=("hybrid", "exact"), default="hybrid", help="upseg's default"
    )
    parser.add_argument(
        "--full-up-to",
        type=int,
        default=1_000_000,
        help="larger sizes run the scorer alone, reasons targeted (memory and throughput)",
    )
    parser.add_argument(
        "--budget-share",
        type=float,
        default=None,
        help="a send budget of this share of the customers (default: the policy's, no cap)",
    )
    parser.add_argument(
        "--uplift-approaches",
        nargs="+",
        default=None,
        help="candidates of the uplift model (default: every approach, upseg's choice)",
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per worker")
    parser.add_argument("--workdir", type=Path, default=REPO / "benchmarks" / "output")
    parser.add_argument("--out", type=Path, default=None, help="<workdir>/score.json")
    parser.add_argument("--keep-audience", action="store_true")
    parser.add_argument("--worker", choices=(*WORKERS, "agreement"), help=argparse.SUPPRESS)
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
    if args.worker is not None:
        args.reasons_mode = args.reasons[0]
        workers = {
            "scorer": lambda: _scorer_worker(args.population, args.registry, args.audience, args),
            "bare": lambda: _bare_worker(args.population, args.registry, args.audience, args),
            "agreement": lambda: _agreement_worker(args.population, args.registry, args.audience),
        }
        print(json.dumps(workers[args.worker]()))
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
