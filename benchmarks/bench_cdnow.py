"""Benchmark the LightGBM propensity model against BG/NBD on the real CDNOW data, in one run.

    python -m benchmarks.bench_cdnow [--data PATH] [--seeds 0 1 2 3 4] [--trials 0]

The customary CDNOW split (Fader, Hardie & Lee 2005): a 39-week calibration
period up to 1997-09-30 and a 39-week holdout from 1997-10-01 to 1998-06-30.
Features are taken as of 1997-10-01 00:00 UTC (events strictly before it); the
label is a purchase in ``[1997-10-01, 1997-10-01 + 273 days)``, the holdout.
Customers are split by a stable hash of their id: 50% train, 25% valid (early
stopping, calibration, tuning, choices), 25% test. Every model is scored on
the same test customers:

- BG/NBD fitted on the calibration period of the train customers, the rows
  LightGBM learns from, and again on that of all customers (as legitimate: it
  holds no holdout information). Each gives two scores: P(at least one
  purchase in the 39-week holdout), which is what the label asks, and the
  expected number of purchases in it, which ranks differently;
- LightGBM (``models.classifier``), fitted on train, stopped and calibrated on
  valid, once per ``--seeds`` value (the split stays fixed);
- the same LightGBM with the BG/NBD's outputs as three more features (P(purchase),
  expected purchases, P(alive), from the fit on the train customers'
  calibration period, so no label and no holdout day is seen): stacking;
- recency alone, ranked by the raw days since the last order
  (``RecencyBaseline.ranking_score``), not by its isotonic steps, whose ties
  cost it AUC.

Prints stage timings with peak memory, the metrics, every AUC difference with
a paired stratified bootstrap 95% CI (all scores on the same resamples), and
Markdown tables for the README; writes ``benchmarks/output/cdnow.json``.
Top-decile lift averages over tied scores (BG/NBD ties every one-time buyer of
the same first day). Stages run in one process, so each peak is the process's
peak so far. On a shared, loaded machine LightGBM's OpenMP threads can be
slowed many times over; ``--threads 1`` gives steadier timings.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import rankdata
from sklearn.metrics import average_precision_score, brier_score_loss

from benchmarks._common import machine, machine_line, shared_data_dir, stage
from upseg.features.cdnow import cdnow_tables, read_cdnow, write_tables
from upseg.features.sources import connect
from upseg.models.baseline import RecencyBaseline
from upseg.models.bgnbd import BetaGeoModel, rfm_summary
from upseg.models.classifier import CalibratedLGBMClassifier
from upseg.models.dataset import TASKS, Task, TrainingData, training_data
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
#: The BG/NBD outputs LightGBM gets as features when stacked.
BGNBD_FEATURES = ("bgnbd_p_purchase", "bgnbd_expected_purchases", "bgnbd_p_alive")
#: Scores of the BG/NBD, by name: what each ranks customers by.
BGNBD_SCORES = {
    "p_purchase": "P(purchase in the 39-week holdout)",
    "expected_purchases": "expected purchases in the holdout",
}
#: The AUC of LightGBM over the best BG/NBD score (chosen on valid) that the issue asks for.
TARGET_MARGIN = 0.01
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


def _in_window(transactions: pd.DataFrame, first_day: pd.Timestamp, days: int) -> pd.Series:
    dates = transactions["date"]
    start = pd.Timestamp(first_day.date())
    return (dates >= start) & (dates < start + pd.Timedelta(days=days))


def holdout_buyers(transactions: pd.DataFrame, first_day: pd.Timestamp, days: int) -> set[str]:
    """Ids of customers with a purchase dated in ``[first_day, first_day + days)``.

    Read straight from the raw file's dates, to check the pipeline's labels.
    """
    return set(transactions.loc[_in_window(transactions, first_day, days), "customer_id"])


def holdout_revenue(transactions: pd.DataFrame, first_day: pd.Timestamp, days: int) -> pd.Series:
    """Dollars each customer spent on purchases dated in ``[first_day, first_day + days)``.

    Indexed by customer id (buyers only), read straight from the raw file.
    """
    inside = transactions[_in_window(transactions, first_day, days)]
    return inside.groupby("customer_id")["dollar_value"].sum()


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


def bootstrap_aucs(
    y_true: ArrayLike, scores: ArrayLike, *, n_resamples: int, seed: int = 0
) -> np.ndarray:
    """AUC of every score on the same stratified resamples of the customers.

    Each resample draws positives and negatives with replacement, separately,
    so both classes keep their counts (as pROC's ``ci.auc``); every row of
    ``scores`` is scored on the same draw, which makes any difference paired.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        0/1 labels with both classes present.
    scores : array-like of shape (n_scores, n_samples)
    n_resamples : int
    seed : int, default 0

    Returns
    -------
    ndarray of shape (n_resamples, n_scores)
    """
    y = np.asarray(y_true)
    scores = np.atleast_2d(np.asarray(scores, dtype=float))
    rng = np.random.default_rng(seed)
    positives, negatives = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    labels = np.r_[np.ones(positives.size, dtype=int), np.zeros(negatives.size, dtype=int)]
    out = np.empty((n_resamples, scores.shape[0]))
    for i in range(n_resamples):
        rows = np.r_[rng.choice(positives, positives.size), rng.choice(negatives, negatives.size)]
        out[i] = auc(labels, scores[:, rows])
    return out


def interval(observed: float, resampled: np.ndarray, level: float) -> dict[str, float]:
    """A percentile interval of resampled differences, with the observed difference."""
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(resampled, [tail, 100 - tail])
    return {
        "difference": float(observed),
        "ci_low": float(low),
        "ci_high": float(high),
        "level": float(level),
        "n_resamples": int(resampled.size),
        "share_at_or_below_zero": float((resampled <= 0).mean()),
    }


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
    resampled = bootstrap_aucs(y, scores, n_resamples=n_resamples, seed=seed)
    observed = auc(y, scores)
    return interval(
        observed[:-1].mean() - observed[-1],
        resampled[:, :-1].mean(axis=1) - resampled[:, -1],
        level,
    )


def tied_lift_at(y_true: ArrayLike, score: ArrayLike, fraction: float) -> float:
    """Positive rate of the top ``ceil(fraction * n)`` by score over the overall rate, ties shared.

    A block of tied scores that the cut goes through counts with its mean
    label, the expectation over every order of the block, so the lift does not
    depend on row order (``models.evaluation.lift_at`` breaks ties by it).
    """
    y = np.asarray(y_true, dtype=float)
    s = np.asarray(score, dtype=float)
    k = math.ceil(round(fraction * y.size, 9))
    threshold = np.sort(s)[::-1][k - 1]
    above, tied = s > threshold, s == threshold
    positives = y[above].sum() + (k - above.sum()) * y[tied].mean()
    return float(positives / k / y.mean())


def ranking_metrics(y_true: ArrayLike, score: ArrayLike) -> dict[str, float]:
    """ROC-AUC, PR-AUC and top-decile lift (ties averaged) of any score, not only probabilities."""
    return {
        "roc_auc": float(auc(y_true, score)),
        "pr_auc": float(average_precision_score(y_true, score)),
        "lift_10": tied_lift_at(y_true, score, 0.1),
    }


def probability_metrics(y_true: ArrayLike, probability: ArrayLike) -> dict[str, float]:
    """:func:`ranking_metrics` and the Brier score of a probability."""
    return ranking_metrics(y_true, probability) | {
        "brier": float(brier_score_loss(y_true, probability))
    }


def mean_and_sd(runs: Sequence[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and sample standard deviation (0 for a single run) of each metric over runs."""
    out = {}
    for name in runs[0]:
        values = np.array([run[name] for run in runs], dtype=float)
        sd = float(values.std(ddof=1)) if values.size > 1 else 0.0
        out[name] = {"mean": float(values.mean()), "sd": sd}
    return out


def bgnbd_summary(calibration: pd.DataFrame) -> pd.DataFrame:
    """Each customer's ``frequency``, ``recency`` and ``T`` in weeks, calibration period only."""
    summary = rfm_summary(
        calibration,
        customer_col="customer_id",
        date_col="ordered_at",
        calibration_end=CALIBRATION_END,
    )
    return summary[["frequency", "recency", "T"]]


def bgnbd_outputs(model: BetaGeoModel, summary: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    """The BG/NBD's P(purchase in the holdout), expected purchases in it and P(alive) of ``ids``.

    One row per id, in the order of ``ids``, named as :data:`BGNBD_FEATURES`.
    """
    history = [summary.loc[ids, c].to_numpy() for c in ("frequency", "recency", "T")]
    weeks = float(HOLDOUT_WEEKS)
    return pd.DataFrame(
        {
            "bgnbd_p_purchase": model.probability_of_purchase(weeks, *history),
            "bgnbd_expected_purchases": model.expected_purchases(weeks, *history),
            "bgnbd_p_alive": model.probability_alive(*history),
        }
    )


def with_features(data: TrainingData, extra: pd.DataFrame) -> TrainingData:
    """``data`` with the columns of ``extra`` (one row per row of ``data.frame``) as features."""
    frame = pd.concat([data.frame, extra.set_axis(data.frame.index)], axis=1)
    return dataclasses.replace(data, frame=frame, features=data.features + tuple(extra.columns))


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
    """Fit on train, stop early and calibrate on valid; the model and its test probabilities."""
    train, valid, test = data.part("train"), data.part("valid"), data.part("test")
    features = list(data.features)
    model = CalibratedLGBMClassifier(
        params=params, categorical=data.categorical, random_state=seed, n_jobs=threads
    ).fit(train[features], train["label"], X_valid=valid[features], y_valid=valid["label"])
    return model, model.predict_proba(test[features])[:, 1]


def build(
    path: Path,
    customers: int | None,
    threads: int | None,
    stages: dict,
    task: Task = TASKS["propensity"],
) -> tuple[pd.DataFrame, TrainingData, pd.DataFrame]:
    """Convert CDNOW into the contract, validate it, build the training data of ``task``.

    Returns the raw transactions, the training data (features as of
    :data:`AS_OF`, labels over the holdout, ``snapshots=0``) and the
    calibration-period orders. The labels are checked against the raw file:
    a purchase in the holdout for a binary task, its dollars for an amount.
    """
    with tempfile.TemporaryDirectory(prefix="cdnow-") as tmp:
        with stage("convert", stages):
            transactions = first_customers(read_cdnow(path), customers)
            write_tables(cdnow_tables(transactions), tmp)
        with stage("validate", stages):
            tables = load_source(Path(tmp), con=connect(threads=threads)).result.tables
        with stage("features + labels", stages):
            data = training_data(tables, task, AS_OF, snapshots=0, horizon_days=HORIZON_DAYS)
            orders = tables["orders"]
            calibration = orders.filter(orders.ordered_at < AS_OF).execute()
    ids, labels = data.frame["customer_id"], data.frame["label"].to_numpy(dtype=float)
    if task.kind == "binary":
        expected = ids.isin(holdout_buyers(transactions, AS_OF, HORIZON_DAYS)).to_numpy()
        wrong = expected.astype(float) != labels
        what = "purchases"
    else:
        revenue = holdout_revenue(transactions, AS_OF, HORIZON_DAYS)
        expected = ids.map(revenue).fillna(0.0).to_numpy(dtype=float)
        wrong = ~np.isclose(expected, labels, rtol=1e-9, atol=1e-6)
        what = "dollars of purchases"
    if wrong.any():
        raise RuntimeError(
            f"The pipeline's labels differ from the {what} dated 1997-10-01 to 1998-06-30 in the "
            f"raw file for {int(wrong.sum())} customers."
        )
    return transactions, data, calibration


def _comparisons(best_bgnbd: str) -> dict[str, tuple[str, str]]:
    """The AUC differences reported, ``name: (a, b)``, each a claim worth an interval."""
    return {
        "lightgbm_minus_best_bgnbd": ("lightgbm", best_bgnbd),
        "lightgbm_minus_bgnbd_train_p_purchase": ("lightgbm", "bgnbd_train_p_purchase"),
        "lightgbm_minus_bgnbd_train_expected_purchases": (
            "lightgbm",
            "bgnbd_train_expected_purchases",
        ),
        "lightgbm_minus_recency": ("lightgbm", "recency"),
        "stacked_minus_lightgbm": ("lightgbm_bgnbd_features", "lightgbm"),
        "stacked_minus_best_bgnbd": ("lightgbm_bgnbd_features", best_bgnbd),
        "bgnbd_expected_purchases_minus_p_purchase": (
            "bgnbd_train_expected_purchases",
            "bgnbd_train_p_purchase",
        ),
        "recency_minus_bgnbd_train_p_purchase": ("recency", "bgnbd_train_p_purchase"),
    }


#: How the tables name each score of :func:`_comparisons`.
LABELS = {
    "lightgbm": "LightGBM",
    "lightgbm_bgnbd_features": "LightGBM + BG/NBD features",
    "recency": "recency",
    **{
        f"bgnbd_{fit}_{score}": f"BG/NBD ({fit}) {wording}"
        for fit in ("train", "all")
        for score, wording in (
            ("p_purchase", "P(purchase)"),
            ("expected_purchases", "E[purchases]"),
        )
    },
}


def _auc_differences(
    y: np.ndarray, scores: dict[str, np.ndarray], best_bgnbd: str, n_resamples: int
) -> dict[str, dict[str, float]]:
    """Every comparison of :func:`_comparisons` on the same bootstrap resamples.

    ``scores`` maps a name to an array of shape (n_runs, n_samples); a name
    with several runs (seeds) counts with the mean of its runs' AUCs.
    """
    names = list(scores)
    matrix = np.vstack([scores[name] for name in names])
    rows, start = {}, 0
    for name in names:
        rows[name] = slice(start, start + scores[name].shape[0])
        start += scores[name].shape[0]
    observed = auc(y, matrix)
    resampled = bootstrap_aucs(y, matrix, n_resamples=n_resamples)
    out = {}
    for key, (a, b) in _comparisons(best_bgnbd).items():
        out[key] = {"a": a, "b": b} | interval(
            observed[rows[a]].mean() - observed[rows[b]].mean(),
            resampled[:, rows[a]].mean(axis=1) - resampled[:, rows[b]].mean(axis=1),
            0.95,
        )
    return out


def run(args: argparse.Namespace) -> dict:
    """Run every stage and return the results written to the JSON file."""
    stages: dict[str, dict[str, float]] = {}
    transactions, data, calibration = build(args.data, args.customers, args.threads, stages)
    train, valid, test = data.part("train"), data.part("valid"), data.part("test")
    y, y_valid = test["label"].to_numpy(), valid["label"].to_numpy()

    bgnbd, scores, valid_auc = {}, {}, {}
    with stage("BG/NBD fit + predict", stages):
        summary = bgnbd_summary(calibration)
        for fit, ids in (("train", train["customer_id"]), ("all", data.frame["customer_id"])):
            model = BetaGeoModel().fit(*(summary.loc[ids, c] for c in summary.columns))
            outputs = bgnbd_outputs(model, summary, test["customer_id"])
            on_valid = bgnbd_outputs(model, summary, valid["customer_id"])
            bgnbd[fit] = {"model": model, "test": outputs}
            for score in BGNBD_SCORES:
                scores[f"bgnbd_{fit}_{score}"] = outputs[f"bgnbd_{score}"].to_numpy()[None]
                valid_auc[f"bgnbd_{fit}_{score}"] = float(auc(y_valid, on_valid[f"bgnbd_{score}"]))
        stacked_columns = bgnbd_outputs(bgnbd["train"]["model"], summary, data.frame["customer_id"])
    best_bgnbd = max(valid_auc, key=valid_auc.get)
    with stage(f"LightGBM x{len(args.seeds)} seeds (trials {args.trials})", stages):
        params, tuning = _lightgbm_params(data, args.trials, args.seeds[0], args.threads)
        fits = [_lightgbm(data, params, seed, args.threads) for seed in args.seeds]
    stacked = with_features(data, stacked_columns)
    with stage(f"LightGBM + BG/NBD features x{len(args.seeds)}", stages):
        stacked_fits = [_lightgbm(stacked, params, seed, args.threads) for seed in args.seeds]
    with stage("recency baseline", stages):
        recency = RecencyBaseline(increasing=False).fit(valid, valid["label"])
        recency_score = recency.ranking_score(test)
        recency_brier = float(brier_score_loss(y, recency.predict_proba(test)[:, 1]))
    scores |= {
        "lightgbm": np.vstack([p for _, p in fits]),
        "lightgbm_bgnbd_features": np.vstack([p for _, p in stacked_fits]),
        "recency": recency_score[None],
    }
    with stage(f"bootstrap x{args.bootstrap}", stages):
        differences = _auc_differences(y, scores, best_bgnbd, args.bootstrap)

    def lightgbm_entry(runs) -> dict:
        per_seed = [probability_metrics(y, p) for _, p in runs]
        return {
            "seeds": list(args.seeds),
            "best_iterations": [model.best_iteration_ for model, _ in runs],
            "per_seed": per_seed,
            "metrics": mean_and_sd(per_seed),
        }

    def bgnbd_entry(fit: str, fitted_on: str) -> dict:
        outputs = bgnbd[fit]["test"]
        return {
            "fitted_on": fitted_on,
            "params": bgnbd[fit]["model"].params_,
            "p_purchase": probability_metrics(y, outputs["bgnbd_p_purchase"]),
            "expected_purchases": ranking_metrics(y, outputs["bgnbd_expected_purchases"]),
            # 1 for every customer without a repeat purchase: not a ranking of who buys
            "p_alive": ranking_metrics(y, outputs["bgnbd_p_alive"]),
        }

    best = differences["lightgbm_minus_best_bgnbd"]
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
            "bgnbd_train": bgnbd_entry("train", "calibration period of the train customers"),
            "bgnbd_all": bgnbd_entry("all", "calibration period of all customers"),
            "lightgbm": lightgbm_entry(fits)
            | {"trials": args.trials, "params": params, "tuning": tuning},
            "lightgbm_bgnbd_features": lightgbm_entry(stacked_fits)
            | {
                "added_features": list(BGNBD_FEATURES),
                "bgnbd_fitted_on": "calibration period of the train customers",
            },
            "recency": {
                "score": "raw days since the last order, negated (ranking_score)",
                "metrics": ranking_metrics(y, recency_score),
                "brier_of_isotonic_map": recency_brier,
            },
        },
        "best_bgnbd": {"score": best_bgnbd, "chosen_by": "valid AUC", "valid_auc": valid_auc},
        "auc_difference": differences,
        "target": {
            "margin": TARGET_MARGIN,
            "lightgbm_minus_best_bgnbd": best["difference"],
            "met": bool(best["difference"] >= TARGET_MARGIN),
        },
        "stages": stages,
        "machine": machine(),
        "threads": args.threads,
        "asymmetry": ASYMMETRY,
    }


def _cells(metrics: dict, per_seed: bool) -> list[str]:
    digits = {"roc_auc": 3, "pr_auc": 3, "lift_10": 2, "brier": 4}
    cells = []
    for m in METRICS:
        if m not in metrics:
            cells.append("—")
        elif per_seed:
            value = metrics[m]
            cells.append(f"{value['mean']:.{digits[m]}f} ± {value['sd']:.{digits[m]}f}")
        else:
            cells.append(f"{metrics[m]:.{digits[m]}f}")
    return cells


def markdown_table(results: dict) -> str:
    """The README tables: a row per model and score on the same test customers, the differences."""
    models = results["models"]
    n_seeds = len(models["lightgbm"]["seeds"])
    rows = []
    for fit, wording in (("train", "train customers"), ("all", "all customers")):
        for score, meaning in BGNBD_SCORES.items():
            rows.append(
                (
                    f"BG/NBD fitted on {wording}' calibration period",
                    meaning,
                    _cells(models[f"bgnbd_{fit}"][score], per_seed=False),
                )
            )
    rows += [
        (
            f"LightGBM propensity, mean ± sd of {n_seeds} seed(s)",
            "calibrated P(purchase)",
            _cells(models["lightgbm"]["metrics"], per_seed=True),
        ),
        (
            f"LightGBM + BG/NBD outputs as features, mean ± sd of {n_seeds} seed(s)",
            "calibrated P(purchase)",
            _cells(models["lightgbm_bgnbd_features"]["metrics"], per_seed=True),
        ),
        ("recency only", "days since the last order", _cells(models["recency"]["metrics"], False)),
    ]
    lines = [
        "| model | score | ROC-AUC | PR-AUC | top-decile lift | Brier |",
        "| --- | --- | --- | --- | --- | --- |",
        *(f"| {name} | {score} | {' | '.join(cells)} |" for name, score, cells in rows),
    ]
    split = results["split"]
    best = results["best_bgnbd"]["score"]
    lines += [
        "",
        f"Same {split['test']:,} test customers (a 25% hash split of {results['customers']:,}), "
        f"{split['test_positive_rate']:.1%} of whom buy in the 39-week holdout. Best BG/NBD "
        f"score on the valid customers: `{best}`.",
        "",
        "| AUC difference | estimate | 95% CI | resamples <= 0 |",
        "| --- | ---: | --- | ---: |",
    ]
    shown = set()
    for d in results["auc_difference"].values():
        if (d["a"], d["b"]) in shown:  # the best BG/NBD score is also listed by name
            continue
        shown.add((d["a"], d["b"]))
        lines.append(
            f"| {LABELS[d['a']]} − {LABELS[d['b']]} | {d['difference']:+.3f} | "
            f"[{d['ci_low']:+.3f}, {d['ci_high']:+.3f}] | {d['share_at_or_below_zero']:.1%} |"
        )
    n = next(iter(results["auc_difference"].values()))["n_resamples"]
    lines += [
        "",
        f"Paired bootstrap: {n:,} stratified resamples of the test customers, every score on "
        "the same resamples; a model with several seeds counts with the mean of its seeds' AUCs.",
    ]
    return "\n".join(lines)


def _print_report(results: dict) -> None:
    print(f"\n{machine_line()}, threads: {results['threads'] or 'all'}")
    split = results["split"]
    print(
        f"CDNOW: {results['customers']:,} customers, {results['transactions']:,} purchases; "
        f"features before {results['as_of']}, holdout {results['holdout']['first_day']} to "
        f"{results['holdout']['last_day']} ({results['holdout']['days']} days); "
        f"train {split['train']:,} / valid {split['valid']:,} / test {split['test']:,}\n"
    )
    print(f"{'stage':<38}{'wall s':>9}{'peak MB':>10}")
    for name, figures in results["stages"].items():
        print(f"{name:<38}{figures['seconds']:>9.2f}{figures['peak_rss_mb']:>10.0f}")
    models = results["models"]
    print()
    for fit in ("train", "all"):
        entry = models[f"bgnbd_{fit}"]
        print(
            f"BG/NBD ({entry['fitted_on']}): "
            + ", ".join(f"{k}={v:.3f}" for k, v in entry["params"].items())
        )
    print(
        "\nBG/NBD scores' valid AUC: "
        + ", ".join(f"{k} {v:.4f}" for k, v in results["best_bgnbd"]["valid_auc"].items())
    )
    for name in ("lightgbm", "lightgbm_bgnbd_features"):
        print(f"{name} best iterations by seed: {models[name]['best_iterations']}")
    target = results["target"]
    print(
        f"Target: LightGBM at least {target['margin']:+.3f} AUC above the best BG/NBD score; "
        f"measured {target['lightgbm_minus_best_bgnbd']:+.4f}: "
        + ("met" if target["met"] else "NOT met")
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
