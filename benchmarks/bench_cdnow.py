"""Benchmark the LightGBM propensity model against BG/NBD on the real CDNOW data, in one run.

    python -m benchmarks.bench_cdnow [--data PATH] [--seeds 0 1 2 3 4] [--trials 0]

The customary CDNOW split (Fader, Hardie & Lee 2005): a 39-week calibration
period up to 1997-09-30 and a 39-week holdout from 1997-10-01 to 1998-06-30.
Features are taken as of 1997-10-01 00:00 UTC (events strictly before it); the
label is a purchase in ``[1997-10-01, 1997-10-01 + 273 days)``, the holdout.
Customers are split by a stable hash of their id: 50% train, 25% valid (early
stopping, calibration, tuning), 25% test. Every model is scored on the same
test customers:

- BG/NBD, fitted on the calibration period of the train customers (the
  calibration period of all customers would be as legitimate, as it holds no
  holdout information; train customers keep the fitting rows the same as
  LightGBM's), giving P(at least one purchase in the 39-week holdout);
- LightGBM (``models.classifier``), fitted on train, stopped and calibrated on
  valid, once per ``--seeds`` value (the split stays fixed);
- the recency-only baseline, isotonic on the valid customers.

Prints stage timings with peak memory, the metrics, the AUC difference
LightGBM - BG/NBD with a paired bootstrap 95% CI, and a Markdown table for the
README; writes ``benchmarks/output/cdnow.json``. Stages run in one process, so
each peak is the process's peak so far. On a shared, loaded machine LightGBM's
OpenMP threads can be slowed many times over; ``--threads 1`` gives steadier
timings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import rankdata
from sklearn.metrics import average_precision_score

from benchmarks._common import machine, shared_data_dir, stage
from upseg.features.cdnow import cdnow_tables, read_cdnow, write_tables
from upseg.features.sources import connect
from upseg.models.baseline import RecencyBaseline
from upseg.models.bgnbd import BetaGeoModel, rfm_summary
from upseg.models.classifier import CalibratedLGBMClassifier
from upseg.models.dataset import TASKS, TrainingData, training_data
from upseg.models.evaluation import classification_metrics, lift_at
from upseg.models.tuning import tune
from upseg.pipelines.jobs import load_source

REPO = Path(__file__).resolve().parents[1]
CDNOW_FILE = "CDNOW_master.txt"
#: Features strictly before this instant: the calibration period ends on 1997-09-30.
AS_OF = pd.Timestamp("1997-10-01", tz="UTC")
CALIBRATION_END = pd.Timestamp("1997-09-30")
HOLDOUT_WEEKS = 39
#: 39 weeks: the label window [1997-10-01, 1998-07-01) is the holdout through 1998-06-30.
HORIZON_DAYS = 7 * HOLDOUT_WEEKS
METRICS = ("roc_auc", "pr_auc", "lift_10", "brier")
ASYMMETRY = (
    "LightGBM is supervised: it learns from the holdout labels of other (train and "
    "valid) customers; BG/NBD uses only the calibration period. Both see only the "
    "calibration-period behaviour of the customers they score."
)


def default_data_path() -> Path:
    """``$UPSEG_SHARED_DATA/CDNOW_master.txt``, by default in ``<repo>/../shared/data``."""
    return shared_data_dir() / CDNOW_FILE


def first_customers(transactions: pd.DataFrame, n: int | None) -> pd.DataFrame:
    """The transactions of the ``n`` lowest customer ids (all when ``n`` is None)."""
    if n is None:
        return transactions
    kept = np.sort(transactions["customer_id"].unique())[:n]
    return transactions[transactions["customer_id"].isin(kept)]


def holdout_buyers(transactions: pd.DataFrame, first_day: pd.Timestamp, days: int) -> set[str]:
    """Ids of customers with a purchase dated in ``[first_day, first_day + days)``.

    Read straight from the raw file's dates, to check the pipeline's labels.
    """
    dates = transactions["date"]
    start = pd.Timestamp(first_day.date())
    inside = (dates >= start) & (dates < start + pd.Timedelta(days=days))
    return set(transactions.loc[inside, "customer_id"])


def auc(y_true: ArrayLike, score: ArrayLike) -> np.ndarray | float:
    """ROC-AUC by the Mann-Whitney statistic with mid-ranks for ties.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        0/1 labels with both classes present.
    score : array-like of shape (n_samples,) or (n_models, n_samples)
        Higher means more likely positive; one row per model.

    Returns
    -------
    float or ndarray of shape (n_models,)
        Equal to :func:`sklearn.metrics.roc_auc_score` on each row.
    """
    y = np.asarray(y_true).astype(bool)
    ranks = rankdata(np.asarray(score, dtype=float), axis=-1)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    return (ranks[..., y].sum(axis=-1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def paired_bootstrap_auc_difference(
    y_true: ArrayLike,
    score_a: ArrayLike,
    score_b: ArrayLike,
    *,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    """AUC of ``a`` minus AUC of ``b`` on the same customers, with a paired bootstrap CI.

    Each resample draws customers with replacement, positives and negatives
    separately so that both classes keep their counts (stratified, as pROC's
    ``ci.auc``), and scores both models on the same draw; the interval is the
    percentile interval of the resampled differences.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        0/1 labels with both classes present.
    score_a : array-like of shape (n_samples,) or (n_runs, n_samples)
        Scores of model ``a``; with several runs (e.g. seeds) its AUC is the
        mean of the runs' AUCs.
    score_b : array-like of shape (n_samples,)
        Scores of model ``b``.
    n_resamples : int, default 1000
    level : float, default 0.95
        Coverage of the interval, in (0, 1).
    seed : int, default 0
        Seed of the resampling.

    Returns
    -------
    dict of str to float
        ``difference`` (on the sample itself), ``ci_low``, ``ci_high``,
        ``level``, ``n_resamples`` and ``share_at_or_below_zero`` (share of
        resampled differences <= 0).

    Raises
    ------
    ValueError
        Listing every problem with the arguments.

    References
    ----------
    .. [1] Efron, B. and Tibshirani, R. J. (1993). *An Introduction to the
       Bootstrap*, chapter 13 (percentile intervals).
    .. [2] Robin, X. et al. (2011). pROC: an open-source package for R and S+
       to analyze and compare ROC curves. *BMC Bioinformatics*, 12, 77.
    """
    y = np.asarray(y_true)
    a = np.atleast_2d(np.asarray(score_a, dtype=float))
    b = np.asarray(score_b, dtype=float)
    errors = []
    if y.ndim != 1 or set(np.unique(y).tolist()) != {0, 1}:
        errors.append(f"'y_true' must be 1-D with both labels 0 and 1; got {np.unique(y)[:5]}")
    if a.ndim != 2 or a.shape[1] != y.size or b.shape != y.shape:
        errors.append(
            f"scores must have shape (n_samples,) or (n_runs, n_samples) for 'score_a' and "
            f"(n_samples,) for 'score_b' with n_samples={y.size}; got {a.shape} and {b.shape}"
        )
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 1:
        errors.append(f"'n_resamples' must be an int >= 1; got {n_resamples!r}")
    if not 0 < level < 1:
        errors.append(f"'level' must be in (0, 1); got {level!r}")
    if errors:
        raise ValueError(
            f"{len(errors)} error(s) in paired_bootstrap_auc_difference arguments: "
            + "; ".join(errors)
        )
    scores = np.vstack([a, b])
    rng = np.random.default_rng(seed)
    positives, negatives = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    labels = np.r_[np.ones(positives.size, dtype=int), np.zeros(negatives.size, dtype=int)]
    differences = np.empty(n_resamples)
    for i in range(n_resamples):
        rows = np.r_[rng.choice(positives, positives.size), rng.choice(negatives, negatives.size)]
        aucs = auc(labels, scores[:, rows])
        differences[i] = aucs[:-1].mean() - aucs[-1]
    observed = auc(y, scores)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(differences, [tail, 100 - tail])
    return {
        "difference": float(observed[:-1].mean() - observed[-1]),
        "ci_low": float(low),
        "ci_high": float(high),
        "level": float(level),
        "n_resamples": n_resamples,
        "share_at_or_below_zero": float((differences <= 0).mean()),
    }


def ranking_metrics(y_true: ArrayLike, score: ArrayLike) -> dict[str, float]:
    """ROC-AUC, PR-AUC and top-decile lift of any score (not only probabilities)."""
    return {
        "roc_auc": float(auc(y_true, score)),
        "pr_auc": float(average_precision_score(y_true, score)),
        "lift_10": float(lift_at(y_true, score, 0.1)),
    }


def mean_and_sd(runs: Sequence[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and sample standard deviation (0 for a single run) of each metric over runs."""
    out = {}
    for name in runs[0]:
        values = np.array([run[name] for run in runs], dtype=float)
        sd = float(values.std(ddof=1)) if values.size > 1 else 0.0
        out[name] = {"mean": float(values.mean()), "sd": sd}
    return out


def _bgnbd(orders: pd.DataFrame, fit_ids: pd.Series, score_ids: pd.Series):
    """BG/NBD fitted on ``fit_ids``' calibration period; P(purchase in the holdout) of the rest."""
    summary = rfm_summary(
        orders, customer_col="customer_id", date_col="ordered_at", calibration_end=CALIBRATION_END
    )
    columns = ["frequency", "recency", "T"]
    fitted = summary.loc[fit_ids, columns]
    model = BetaGeoModel().fit(*(fitted[c] for c in columns))
    scored = summary.loc[score_ids, columns]
    return model, model.probability_of_purchase(float(HOLDOUT_WEEKS), *(scored[c] for c in columns))


def _lightgbm_params(
    data: TrainingData, trials: int, seed: int, threads: int | None
) -> tuple[dict, dict]:
    """LightGBM parameters: the defaults, or the best of ``trials`` Optuna trials on valid."""
    train, valid = data.part("train"), data.part("valid")
    features = list(data.features)
    result = tune(
        (train[features], train["label"]),
        (valid[features], valid["label"]),
        categorical=data.categorical,
        trials=trials,
        seed=seed,
        name=f"propensity-cdnow-{AS_OF:%Y%m%d}-seed{seed}",
        n_jobs=threads,
    )
    return result.params, result.summary()


def _lightgbm(data: TrainingData, params: dict, seed: int, threads: int | None):
    """Fit on train, stop early and calibrate on valid; calibrated and raw test scores."""
    train, valid, test = data.part("train"), data.part("valid"), data.part("test")
    features = list(data.features)
    model = CalibratedLGBMClassifier(
        params=params, categorical=data.categorical, random_state=seed, n_jobs=threads
    ).fit(train[features], train["label"], X_valid=valid[features], y_valid=valid["label"])
    return model, model.predict_proba(test[features])[:, 1], model.raw_score(test[features])


def _build(path: Path, customers: int | None, threads: int | None, stages: dict) -> tuple:
    """Convert CDNOW into the contract, validate it, build the training data and orders."""
    with tempfile.TemporaryDirectory(prefix="cdnow-") as tmp:
        with stage("convert", stages):
            transactions = first_customers(read_cdnow(path), customers)
            write_tables(cdnow_tables(transactions), tmp)
        with stage("validate", stages):
            tables = load_source(Path(tmp), con=connect(threads=threads)).result.tables
        with stage("features + labels", stages):
            data = training_data(
                tables, TASKS["propensity"], AS_OF, snapshots=0, horizon_days=HORIZON_DAYS
            )
            orders = tables["orders"]
            calibration = orders.filter(orders.ordered_at < AS_OF).execute()
    buyers = holdout_buyers(transactions, AS_OF, HORIZON_DAYS)
    expected = data.frame["customer_id"].isin(buyers).astype(int).to_numpy()
    if not np.array_equal(expected, data.frame["label"].to_numpy()):
        raise RuntimeError(
            "The pipeline's labels differ from purchases dated 1997-10-01 to 1998-06-30 in the "
            f"raw file for {int((expected != data.frame['label']).sum())} customers."
        )
    return transactions, data, calibration


def run(args: argparse.Namespace) -> dict:
    """Run every stage and return the results written to the JSON file."""
    stages: dict[str, dict[str, float]] = {}
    transactions, data, calibration = _build(args.data, args.customers, args.threads, stages)
    train, valid, test = data.part("train"), data.part("valid"), data.part("test")
    y = test["label"].to_numpy()

    with stage("BG/NBD fit + predict", stages):
        bgnbd, p_bgnbd = _bgnbd(calibration, train["customer_id"], test["customer_id"])
    with stage(f"LightGBM x{len(args.seeds)} seeds (trials {args.trials})", stages):
        params, tuning = _lightgbm_params(data, args.trials, args.seeds[0], args.threads)
        fits = [_lightgbm(data, params, seed, args.threads) for seed in args.seeds]
    with stage("recency baseline", stages):
        p_recency = RecencyBaseline(increasing=False).fit(valid, valid["label"]).predict_proba(test)
    p_lgbm = np.vstack([p for _, p, _ in fits])
    with stage(f"bootstrap x{args.bootstrap}", stages):
        versus_bgnbd = paired_bootstrap_auc_difference(
            y, p_lgbm, p_bgnbd, n_resamples=args.bootstrap
        )
        versus_recency = paired_bootstrap_auc_difference(
            y, p_lgbm, p_recency[:, 1], n_resamples=args.bootstrap
        )

    per_seed = [classification_metrics(y, p) for p in p_lgbm]
    return {
        "data": str(args.data),
        "customers": int(transactions["customer_id"].nunique()),
        "transactions": len(transactions),
        "as_of": AS_OF.isoformat(),
        "calibration_end": f"{CALIBRATION_END:%Y-%m-%d}",
        "holdout": {
            "first_day": f"{AS_OF:%Y-%m-%d}",
            "last_day": f"{AS_OF + pd.Timedelta(days=HORIZON_DAYS - 1):%Y-%m-%d}",
            "days": HORIZON_DAYS,
        },
        "warnings": list(data.warnings),
        "split": {role: int((data.frame["role"] == role).sum()) for role in ("train", "valid")}
        | {"test": len(test), "test_positive_rate": float(y.mean())},
        "models": {
            "bgnbd": {
                "fitted_on": "calibration period of the train customers",
                "params": bgnbd.params_,
                "metrics": classification_metrics(y, p_bgnbd),
            },
            "lightgbm": {
                "seeds": list(args.seeds),
                "trials": args.trials,
                "params": params,
                "tuning": tuning,
                "best_iterations": [model.best_iteration_ for model, _, _ in fits],
                "per_seed": per_seed,
                "metrics": mean_and_sd(per_seed),
                "raw_score": mean_and_sd([ranking_metrics(y, raw) for _, _, raw in fits]),
            },
            "recency": {"metrics": classification_metrics(y, p_recency[:, 1])},
        },
        "auc_difference": {
            "lightgbm_minus_bgnbd": versus_bgnbd,
            "lightgbm_minus_recency": versus_recency,
        },
        "stages": stages,
        "machine": machine(),
        "threads": args.threads,
        "asymmetry": ASYMMETRY,
    }


def markdown_table(results: dict) -> str:
    """The README table: one row per model on the same test customers, and the AUC difference."""
    models = results["models"]
    lgbm = models["lightgbm"]["metrics"]
    n_seeds = len(models["lightgbm"]["seeds"])
    digits = {"roc_auc": 3, "pr_auc": 3, "lift_10": 2, "brier": 4}

    def single(metrics: dict) -> list[str]:
        return [f"{metrics[m]:.{digits[m]}f}" for m in METRICS]

    rows = [
        ("BG/NBD, P(purchase in the 39-week holdout)", single(models["bgnbd"]["metrics"])),
        (
            f"LightGBM propensity, mean ± sd of {n_seeds} seed(s)",
            [f"{lgbm[m]['mean']:.{digits[m]}f} ± {lgbm[m]['sd']:.{digits[m]}f}" for m in METRICS],
        ),
        ("recency only (isotonic)", single(models["recency"]["metrics"])),
    ]
    lines = [
        "| model | ROC-AUC | PR-AUC | top-decile lift | Brier |",
        "| --- | --- | --- | --- | --- |",
        *(f"| {name} | {' | '.join(cells)} |" for name, cells in rows),
    ]
    diff = results["auc_difference"]["lightgbm_minus_bgnbd"]
    split = results["split"]
    lines += [
        "",
        f"Same {split['test']:,} test customers (a 25% hash split of {results['customers']:,}), "
        f"{split['test_positive_rate']:.1%} of whom buy in the 39-week holdout. "
        f"AUC LightGBM − BG/NBD: {diff['difference']:+.3f}, {diff['level']:.0%} CI "
        f"[{diff['ci_low']:+.3f}, {diff['ci_high']:+.3f}] (paired bootstrap, "
        f"{diff['n_resamples']:,} stratified resamples of the test customers).",
    ]
    return "\n".join(lines)


def _print_report(results: dict) -> None:
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"threads: {results['threads'] or 'all'}"
    )
    split = results["split"]
    print(
        f"CDNOW: {results['customers']:,} customers, {results['transactions']:,} purchases; "
        f"features before {results['as_of']}, holdout {results['holdout']['first_day']} to "
        f"{results['holdout']['last_day']} ({results['holdout']['days']} days); "
        f"train {split['train']:,} / valid {split['valid']:,} / test {split['test']:,}\n"
    )
    print(f"{'stage':<34}{'wall s':>9}{'peak MB':>10}")
    for name, figures in results["stages"].items():
        print(f"{name:<34}{figures['seconds']:>9.2f}{figures['peak_rss_mb']:>10.0f}")
    bgnbd = results["models"]["bgnbd"]["params"]
    lgbm = results["models"]["lightgbm"]
    print(
        "\nBG/NBD (train customers' calibration period): "
        + ", ".join(f"{k}={v:.3f}" for k, v in bgnbd.items())
    )
    print(
        f"LightGBM best iterations by seed: {lgbm['best_iterations']}; its raw booster score "
        "(before calibration), mean of seeds: "
        + ", ".join(f"{k} {v['mean']:.4f}" for k, v in lgbm["raw_score"].items())
    )
    for name, key in (("BG/NBD", "lightgbm_minus_bgnbd"), ("recency", "lightgbm_minus_recency")):
        d = results["auc_difference"][key]
        print(
            f"AUC LightGBM - {name}: {d['difference']:+.4f}, {d['level']:.0%} CI "
            f"[{d['ci_low']:+.4f}, {d['ci_high']:+.4f}], "
            f"{d['share_at_or_below_zero']:.1%} of resamples <= 0"
        )
    print(f"\nAsymmetry: {results['asymmetry']}\n")
    print(markdown_table(results))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data_path(), help="CDNOW_master.txt")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--trials", type=int, default=0, help="Optuna trials (0 = defaults)")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument("--threads", type=int, default=None, help="DuckDB and LightGBM threads")
    parser.add_argument("--customers", type=int, default=None, help="only the first N customers")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "output" / "cdnow.json")
    return parser


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the benchmark, print the report, write the JSON file and return its content."""
    args = _parser().parse_args(argv)
    if args.data.is_dir():
        args.data = args.data / CDNOW_FILE
    if not args.data.exists():
        sys.exit(f"{args.data} not found; pass --data or set UPSEG_SHARED_DATA")
    results = run(args)
    _print_report(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {args.out}")
    return results


if __name__ == "__main__":
    main()
