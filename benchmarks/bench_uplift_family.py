"""Uplift over the family of synthetic worlds: ranking, sizing and sleeping dogs against the truth.

    python -m benchmarks.bench_uplift_family [--customers 20000] [--seeds 0 1]
        [--worlds default tiny-smooth ...] [--n-repeats 2] [--approaches ...]

For every world of :data:`upseg.synthetic.WORLD_FAMILY`, plus ``default``, and
every seed ``s``: a world of ``--customers`` customers is generated with seed
``s``, campaign ``C2026-06-SUMMER``'s conversion experiment is read from it as
``upseg train uplift`` reads it, and its customers are split 70/30 (stratified
by arm and outcome, seed ``s``). On the 70% three configurations are fitted:

- ``qini``: the choice before issue 13, :func:`select_approach` by the Qini over
  every approach with :data:`DEFAULT_PARAMS` (3 folds), the winner refitted;
- ``default``: what ``upseg train uplift`` does now, :func:`select_approach`
  with its default criterion (the doubly robust loss over ``--n-repeats`` x 3
  cross-fitted folds; the cheapest to predict within one standard error with a
  positive Qini);
- ``simplest``: the default before issue 19, the same loss table read with
  ``prefer="simplest"`` (the simplest within one standard error with a positive
  Qini);
- ``s_small``: one LightGBM S-learner with settings for small effects chosen
  before any world was looked at (:data:`SMALL_EFFECT_PARAMS`): no selection.

The three selections come from one call: the loss's first repeat uses the folds
and model seeds of the Qini's cross-validation, so its Qini scores are the Qini
choice's (checked by ``tests/benchmarks/test_bench_uplift_family.py``). Each
configuration's **trees** are what its refitted model walks per customer and
variant to predict (:meth:`UpliftModel.prediction_trees`), the cost of scoring.

Every configuration is then calibrated as ``upseg train uplift`` calibrates its
model (:func:`upseg.models.uplift.calibrator.fit_calibration` on the 70%, never
on the test customers): cross-fitted BLP with doubly robust pseudo-outcomes,
slope shrunk by empirical Bayes, and the evidence of each tenth of the model's
ranking. A **ceiling** shows what these features and this many customers allow:
a LightGBM regression of the *true* effect on the observed features of the 70%
(no outcome noise at all), ranked on the 30%.

Scored on the 30% against ``truth.parquet`` (read only here), per variant, over
*every* test customer (the truth knows each one's effect of each variant):

- **policy share**: true incremental conversions of the model's top 20% by
  predicted uplift ÷ those of the top 20% by true effect (``floor(0.2 n)``
  customers; ties at the cut count with their group's mean effect). 1 is the
  oracle; a random order's expected share is ``0.2 n mean(tau) / oracle``,
  printed beside it ("random"), which is 0.2 only when the top fifth holds all
  the effect;
- **served share**: the same for the *calibrated* uplift, which the scorer
  ranks by: identical while the slope applied is above 0; with a slope of 0
  everyone ties and the share is a random order's;
- **Spearman** of predicted and true effect;
- **predicted ÷ true** incremental conversions among that top 20%: the sum of
  the raw (and of the calibrated) predictions over them ÷ the sum of their true effects;
- **sleeping dogs** (per customer over variants): true dog = every variant's true
  effect below 0; raw rule = the best variant's raw prediction below 0 (what
  the scorer did before issue 13); evidence rule = the scorer's now:
  ``evidence_of_uplift == "negative"``, every variant's group of the model's
  ranking has a realised effect credibly below 0. Precision and recall.

Means over seeds per world and over the five family worlds (``default`` shown,
not averaged); the issue's goals are checked on those means. Prints the table
with the stage timings, writes ``benchmarks/output/uplift_family.json``.
LightGBM runs single-threaded.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from benchmarks._common import machine, progress, stage
from upseg.features.sources import connect
from upseg.models.uplift.calibrator import fit_calibration
from upseg.models.uplift.criteria import guarded_choice
from upseg.models.uplift.data import UpliftData, campaign_data
from upseg.models.uplift.learners import DEFAULT_PARAMS, approaches_for
from upseg.models.uplift.metrics import spearman
from upseg.models.uplift.model import UpliftModel, encode_features
from upseg.models.uplift.selection import Selection, holdout_split, select_approach
from upseg.pipelines.jobs import load_source
from upseg.synthetic import CAMPAIGN_ID, WORLD_FAMILY, generate_world, world_effects, write_world
from upseg.synthetic.truth import read_truth

REPO = Path(__file__).resolve().parents[1]
TEST_SIZE = 0.3
TOP_K = 0.2
N_FOLDS = 3
#: The small-effect S-learner's LightGBM settings, fixed before any world was run:
#: the effect-model settings the X- and DR-learners already use (7 leaves, at least
#: 300 customers per leaf) on the S-learner's single model, with the default 200
#: trees at 0.05. No early stopping: the learners take no validation set.
SMALL_EFFECT_PARAMS: dict[str, Any] = {
    "num_leaves": 7,
    "min_child_samples": 300,
    "n_estimators": 200,
    "learning_rate": 0.05,
}
CONFIGS: dict[str, str] = {
    "qini": "select_approach, criterion qini, 3 folds, DEFAULT_PARAMS (the default before #13)",
    "default": "select_approach's default: dr_loss, cheapest within one SE with a positive Qini",
    "simplest": "the same loss table, simplest within one SE with a positive Qini (before #19)",
    "s_small": f"s_learner with {SMALL_EFFECT_PARAMS} over DEFAULT_PARAMS, no selection",
}
GOALS = {"policy_share": 0.75, "ratio": (0.8, 1.25), "dog_precision": 0.5}
METRICS = (
    "policy_share",
    "policy_share_calibrated",
    "random_share",
    "spearman",
    "ratio_raw",
    "ratio_calibrated",
    "blp_slope",
    "slope_applied",
    "ceiling_share",
    "ceiling_spearman",
    "dogs_raw_precision",
    "dogs_raw_recall",
    "dogs_raw_flagged",
    "dogs_cal_precision",
    "dogs_cal_recall",
    "dogs_cal_flagged",
    "true_dogs",
    "trees",
)


# ----------------------------------------------------------------------------- metrics


def top_weights(score: np.ndarray, k: float = TOP_K) -> np.ndarray:
    """Weight of each customer in the top ``floor(k n)`` by ``score`` (at least one).

    1 above the cut, 0 below it; customers tied at the cut share the places left
    (each gets ``places / tied``), which is the expectation over their order.
    """
    s = np.asarray(score, dtype=float)
    n_top = max(1, math.floor(round(k * len(s), 9)))
    cut = np.sort(s)[::-1][n_top - 1]
    above, tied = s > cut, s == cut
    weights = above.astype(float)
    weights[tied] = (n_top - above.sum()) / tied.sum()
    return weights


def policy_share(score: np.ndarray, tau: np.ndarray, k: float = TOP_K) -> float:
    """True effect summed over the top ``k`` by ``score`` ÷ over the top ``k`` by ``tau``.

    NaN when the oracle's top ``k`` sums to 0 or less (no effect to target).
    """
    tau = np.asarray(tau, dtype=float)
    oracle = float(top_weights(tau, k) @ tau)
    return float(top_weights(score, k) @ tau) / oracle if oracle > 0 else math.nan


def random_share(tau: np.ndarray, k: float = TOP_K) -> float:
    """Expected :func:`policy_share` of a random order: ``floor(k n) mean(tau) / oracle``."""
    tau = np.asarray(tau, dtype=float)
    weights = top_weights(tau, k)
    oracle = float(weights @ tau)
    return float(weights.sum() * tau.mean()) / oracle if oracle > 0 else math.nan


def sizing_ratio(score: np.ndarray, predicted: np.ndarray, tau: np.ndarray, k: float = TOP_K):
    """Predicted ÷ true incremental conversions among the top ``k`` by ``score``."""
    weights = top_weights(score, k)
    true = float(weights @ np.asarray(tau, dtype=float))
    return float(weights @ np.asarray(predicted, dtype=float)) / true if true != 0 else math.nan


def precision_recall(flagged: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Share of the flagged who are true, and of the true who are flagged (NaN over none)."""
    flagged, truth = np.asarray(flagged, dtype=bool), np.asarray(truth, dtype=bool)
    hits = float((flagged & truth).sum())
    precision = hits / float(flagged.sum()) if flagged.any() else math.nan
    recall = hits / float(truth.sum()) if truth.any() else math.nan
    return precision, recall


def score_against_truth(
    raw: dict[str, np.ndarray],
    calibrated: dict[str, np.ndarray],
    evidence_dogs: np.ndarray,
    tau: dict[str, np.ndarray],
) -> dict[str, float]:
    """The ranking, sizing and sleeping-dog metrics of :data:`METRICS`, means over variants.

    ``raw`` and ``calibrated`` map a variant to one value per test customer, in
    the same order; ``evidence_dogs`` flags the customers the evidence rule holds back.
    """
    per_variant = [
        {
            "policy_share": policy_share(raw[v], tau[v]),
            "policy_share_calibrated": policy_share(calibrated[v], tau[v]),
            "random_share": random_share(tau[v]),
            "spearman": spearman(raw[v], tau[v]),
            "ratio_raw": sizing_ratio(raw[v], raw[v], tau[v]),
            "ratio_calibrated": sizing_ratio(raw[v], calibrated[v], tau[v]),
        }
        for v in tau
    ]
    out = {m: float(np.mean([row[m] for row in per_variant])) for m in per_variant[0]}
    true_dog = np.column_stack(list(tau.values())).max(axis=1) < 0
    raw_dog = np.column_stack(list(raw.values())).max(axis=1) < 0
    for name, flagged in (("raw", raw_dog), ("cal", np.asarray(evidence_dogs, dtype=bool))):
        out[f"dogs_{name}_precision"], out[f"dogs_{name}_recall"] = precision_recall(
            flagged, true_dog
        )
        out[f"dogs_{name}_flagged"] = float(flagged.mean())
    out["true_dogs"] = float(true_dog.mean())
    return out


# ----------------------------------------------------------------------------- fitting


def world_data(name: str, customers: int, seed: int, directory: Path):
    """World ``name`` written to ``directory``: its conversion experiment and its truth."""
    write_world(generate_world(customers, seed=seed, effects=world_effects(name)), directory)
    tables = load_source(directory, con=connect()).result.tables
    return campaign_data(tables, CAMPAIGN_ID, outcome="conversion"), read_truth(directory)


def _model(data: UpliftData, approach: str, params: dict | None, seed: int) -> UpliftModel:
    return UpliftModel(
        approach=approach,
        outcome=data.kind,
        control=data.control,
        categorical=data.categorical,
        params=params,
        random_state=seed,
    )


def choose(
    data: UpliftData, train: pd.DataFrame, approaches: Sequence[str], seed: int, n_repeats: int
) -> dict[str, dict[str, Any]]:
    """Approach and parameters of every configuration of :data:`CONFIGS`."""
    by_loss = select_approach(
        train,
        features=data.features,
        categorical=data.categorical,
        control=data.control,
        outcome=data.kind,
        approaches=approaches,
        n_folds=N_FOLDS,
        random_state=seed,
        n_repeats=n_repeats,
    )
    first = by_loss.scores[by_loss.scores["repeat"] == 0].drop(columns=["repeat", "loss"])
    by_qini = Selection("", first).summary()["approach"].iloc[0]
    assert by_loss.losses is not None
    simplest, _ = guarded_choice(by_loss.losses, prefer="simplest")
    return {
        "qini": {"approach": by_qini, "params": None},
        "default": {"approach": by_loss.best, "params": None},
        "simplest": {"approach": simplest, "params": None},
        "s_small": {"approach": "s_learner", "params": dict(SMALL_EFFECT_PARAMS)},
    }


def ceiling(
    data: UpliftData, train: pd.DataFrame, test: pd.DataFrame, truth: pd.DataFrame, seed: int
) -> dict[str, float]:
    """Policy share and Spearman of a regression of the true effect on the observed features."""
    categories = {
        c: sorted(train[c].dropna().astype("string").unique().tolist()) for c in data.categorical
    }
    X_train = encode_features(train, list(data.features), categories)
    X_test = encode_features(test, list(data.features), categories)
    shares, correlations = [], []
    for v in data.variants:
        column = f"tau_conversion_{v}"
        target = truth.loc[train["id"].astype(str), column].to_numpy(dtype=float)
        tau = truth.loc[test["id"].astype(str), column].to_numpy(dtype=float)
        model = lgb.LGBMRegressor(**{**DEFAULT_PARAMS, "random_state": seed}).fit(X_train, target)
        predicted = model.predict(X_test)
        shares.append(policy_share(predicted, tau))
        correlations.append(spearman(predicted, tau))
    return {
        "ceiling_share": float(np.mean(shares)),
        "ceiling_spearman": float(np.mean(correlations)),
    }


def run_world(
    name: str, customers: int, seed: int, approaches: Sequence[str] | None, n_repeats: int
) -> dict[str, Any]:
    """One world and seed: every configuration fitted, calibrated and scored on the test split."""
    with tempfile.TemporaryDirectory(prefix=f"uplift-family-{name}-") as tmp:
        data, truth = world_data(name, customers, seed, Path(tmp))
    candidates = list(approaches or approaches_for(data.kind))
    train_pos, test_pos = holdout_split(data.frame, test_size=TEST_SIZE, random_state=seed)
    train, test = data.frame.iloc[train_pos], data.frame.iloc[test_pos]
    ids = test["id"].astype(str)
    tau = {v: truth.loc[ids, f"tau_conversion_{v}"].to_numpy(dtype=float) for v in data.variants}
    progress(f"{name} seed {seed}: choosing ({len(candidates)} approaches)")
    chosen = choose(data, train, candidates, seed, n_repeats)
    bound = ceiling(data, train, test, truth, seed)
    out: dict[str, Any] = {
        "campaign_customers": len(data.frame),
        "train": len(train),
        "test": len(test),
        "true_mean_effect": float(np.mean([t.mean() for t in tau.values()])),
        "configs": {},
    }
    X_test = test.loc[:, list(data.features)]
    for config, choice in chosen.items():
        progress(f"{name} seed {seed}: {config} = {choice['approach']}")
        approach, params = choice["approach"], choice["params"]
        model = _model(data, approach, params, seed).fit(
            train.loc[:, list(data.features)], train["outcome"], train["arm"]
        )
        calibration = fit_calibration(train, model, features=data.features, random_state=seed)
        raw_frame = model.predict_frame(X_test, raw=True)
        sized = calibration.apply(raw_frame)
        raw = {v: raw_frame[f"uplift_{v}"].to_numpy() for v in data.variants}
        calibrated = {v: sized[f"uplift_{v}"].to_numpy() for v in data.variants}
        dogs = (sized["evidence_of_uplift"] == "negative").to_numpy()
        metrics = {**score_against_truth(raw, calibrated, dogs, tau), **bound}
        summary = calibration.summary()
        metrics["blp_slope"] = float(summary["blp_slope"].mean())
        metrics["slope_applied"] = float(summary["slope_applied"].mean())
        metrics["trees"] = float(np.mean(list(model.prediction_trees().values())))
        out["configs"][config] = {
            "approach": approach,
            "calibration": summary.reset_index().to_dict(orient="records"),
            "metrics": metrics,
        }
    return out


# ------------------------------------------------------------------------------ summary


def _nanmean(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def summarize(worlds: dict[str, list[dict]], family: Sequence[str]) -> dict[str, Any]:
    """Means over seeds per world and config, means over ``family``, and the goals."""
    means: dict[str, dict[str, dict[str, float]]] = {}
    for world, runs in worlds.items():
        means[world] = {
            config: {
                m: _nanmean([r["configs"][config]["metrics"][m] for r in runs]) for m in METRICS
            }
            for config in CONFIGS
        }
    members = [w for w in family if w in means]
    family_mean = {
        config: {m: _nanmean([means[w][config][m] for w in members]) for m in METRICS}
        for config in CONFIGS
    }
    goals = {config: goals_for(config, worlds, means, members) for config in CONFIGS}
    return {
        "per_world": means,
        "family_worlds": members,
        "family_mean": family_mean,
        "goals": goals,
    }


def goals_for(config: str, worlds: dict, means: dict, members: Sequence[str]) -> dict[str, Any]:
    """The issue's three goals for one configuration, on the family's worlds."""
    low, high = GOALS["ratio"]
    share = _nanmean([means[w][config]["policy_share_calibrated"] for w in members])
    out: dict[str, Any] = {
        "policy_share": {"value": share, "goal": GOALS["policy_share"], "met": share >= 0.75}
    }
    for kind in ("raw", "calibrated"):
        ratios = {w: means[w][config][f"ratio_{kind}"] for w in members}
        inside = [w for w, r in ratios.items() if low <= r <= high]
        out[f"ratio_{kind}"] = {
            "per_world": ratios,
            "worlds_in_range": len(inside),
            "goal": [low, high],
            "met": len(inside) == len(members),
        }
    for kind in ("raw", "cal"):
        flagged = hits = 0.0
        for w in members:
            for run in worlds[w]:
                m, n = run["configs"][config]["metrics"], run["test"]
                flagged += m[f"dogs_{kind}_flagged"] * n
                if m[f"dogs_{kind}_flagged"] > 0:
                    hits += m[f"dogs_{kind}_precision"] * m[f"dogs_{kind}_flagged"] * n
        precision = hits / flagged if flagged else math.nan
        out[f"dogs_{kind}_precision"] = {
            "pooled": precision,
            "flagged_customers": round(flagged),
            "goal": GOALS["dog_precision"],
            "met": None if not flagged else precision >= GOALS["dog_precision"],
        }
    return out


def _f(value: float, digits: int = 2) -> str:
    return "—" if not math.isfinite(value) else f"{value:.{digits}f}"


def table(results: dict) -> str:
    """The Markdown table: one row per world and configuration, then the family's means."""
    lines = [
        "| world | config | approach (per seed) | policy share @20% (random; ceiling) | "
        "served share | "
        "Spearman (ceiling) | pred ÷ true, raw | pred ÷ true, calibrated | BLP slope (applied) | "
        "dogs raw: precision / recall (flagged) | dogs on evidence: precision / recall "
        "(flagged) | true dogs | trees/variant |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]

    def row(world: str, config: str, approach: str, m: dict) -> str:
        return (
            f"| {world} | {config} | {approach} | {_f(m['policy_share'])} "
            f"({_f(m['random_share'])}; {_f(m['ceiling_share'])}) | "
            f"{_f(m['policy_share_calibrated'])} | {_f(m['spearman'])} "
            f"({_f(m['ceiling_spearman'])}) | {_f(m['ratio_raw'])} | "
            f"{_f(m['ratio_calibrated'])} | {_f(m['blp_slope'])} ({_f(m['slope_applied'])}) | "
            f"{_f(m['dogs_raw_precision'])} / {_f(m['dogs_raw_recall'])} "
            f"({m['dogs_raw_flagged']:.1%}) | {_f(m['dogs_cal_precision'])} / "
            f"{_f(m['dogs_cal_recall'])} ({m['dogs_cal_flagged']:.1%}) | {m['true_dogs']:.1%} | "
            f"{_f(m['trees'], 0)} |"
        )

    summary = results["summary"]
    for world, runs in results["worlds"].items():
        for config in CONFIGS:
            approach = ", ".join(r["configs"][config]["approach"] for r in runs)
            lines.append(row(world, config, approach, summary["per_world"][world][config]))
    for config in CONFIGS:
        lines.append(row("**family mean**", config, "", summary["family_mean"][config]))
    return "\n".join(lines)


def goal_lines(results: dict) -> str:
    """One line per configuration: each goal met or not."""
    lines = []
    for config, g in results["summary"]["goals"].items():
        n = len(results["summary"]["family_worlds"])

        def word(met: bool | None) -> str:
            return "n/a (nobody flagged)" if met is None else ("met" if met else "**not met**")

        lines.append(
            f"- `{config}`: served policy share {_f(g['policy_share']['value'])} vs ≥ 0.75: "
            f"{word(g['policy_share']['met'])}; pred ÷ true in [0.8, 1.25] raw in "
            f"{g['ratio_raw']['worlds_in_range']}/{n} worlds ({word(g['ratio_raw']['met'])}), "
            f"calibrated in {g['ratio_calibrated']['worlds_in_range']}/{n} "
            f"({word(g['ratio_calibrated']['met'])}); sleeping-dog precision ≥ 0.5 pooled over "
            f"the family, raw {_f(g['dogs_raw_precision']['pooled'])} of "
            f"{g['dogs_raw_precision']['flagged_customers']:,} flagged "
            f"({word(g['dogs_raw_precision']['met'])}), on evidence "
            f"{_f(g['dogs_cal_precision']['pooled'])} of "
            f"{g['dogs_cal_precision']['flagged_customers']:,} flagged "
            f"({word(g['dogs_cal_precision']['met'])})."
        )
    return "\n".join(lines)


# ------------------------------------------------------------------------------- main


def run(
    *,
    worlds: Sequence[str],
    customers: int,
    seeds: Sequence[int],
    n_repeats: int = 2,
    approaches: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Every world x seed (:func:`run_world`), their summary, timings and the machine."""
    started = time.perf_counter()
    stages: dict[str, dict[str, float]] = {}
    per_world: dict[str, list[dict]] = {}
    for name in worlds:
        with stage(f"{name} x{len(seeds)} seed(s)", stages):
            per_world[name] = [run_world(name, customers, s, approaches, n_repeats) for s in seeds]
    return {
        "customers": customers,
        "seeds": list(seeds),
        "n_repeats": n_repeats,
        "n_folds": N_FOLDS,
        "test_size": TEST_SIZE,
        "top_k": TOP_K,
        "configs": CONFIGS,
        "small_effect_params": {**DEFAULT_PARAMS, **SMALL_EFFECT_PARAMS},
        "approaches": list(approaches) if approaches else "approaches_for('binary')",
        "worlds": per_world,
        "summary": summarize(per_world, [spec.name for spec in WORLD_FAMILY]),
        "stages": stages,
        "seconds": time.perf_counter() - started,
        "machine": machine(),
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = ["default", *(spec.name for spec in WORLD_FAMILY)]
    parser.add_argument("--worlds", nargs="+", choices=names, default=names)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--n-repeats", type=int, default=2, help="repeats of the DR-loss folds")
    parser.add_argument("--approaches", nargs="+", default=None, help="candidates (default all)")
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "output" / "uplift_family.json"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print the report, write the JSON file and return its content."""
    args = _parser().parse_args(argv)
    results = run(
        worlds=args.worlds,
        customers=args.customers,
        seeds=args.seeds,
        n_repeats=args.n_repeats,
        approaches=args.approaches,
    )
    m = results["machine"]
    print(
        f"\nmachine: {m['arch']}, {m['cores']} cores, Python {m['python']}; "
        f"total {results['seconds']:.0f} s; {args.customers:,} customers, seeds {args.seeds}\n"
    )
    for name, figures in results["stages"].items():
        print(f"{name:<40}{figures['seconds']:>9.1f} s{figures['peak_rss_mb']:>9.0f} MB")
    print("\n" + table(results) + "\n\n" + goal_lines(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {args.out}")
    return results


if __name__ == "__main__":
    main()
