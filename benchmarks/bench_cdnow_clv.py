"""Benchmark the CLV models on the real CDNOW data: LightGBM against BG/NBD + Gamma-Gamma.

    python -m benchmarks.bench_cdnow_clv [--data PATH] [--seeds 0 1 2 3 4] [--threads 1]

The split of :mod:`benchmarks.bench_cdnow`: features as of 1997-10-01 (the
39-week calibration period ends on 1997-09-30), and the label is each
customer's dollars in the 39-week holdout, ``[1997-10-01, 1998-07-01)``,
undiscounted (``horizon_days`` 273, ``discount_rate`` 0), checked against the
raw file. Customers are split by a hash of their id, 50% train / 25% valid /
25% test, and every predictor is scored on the same test customers:

- **BG/NBD + Gamma-Gamma in the papers' convention**
  (``summary_from_transactions`` on the calibration period: same-day purchases
  are one transaction, spend is the mean of the repeat transactions), fitted on
  the train customers, and again on all customers (their calibration period
  holds no holdout information);
- **what ``upseg train clv`` fits** (``fit_clv`` on ``training_data(...,
  snapshots=0)``): its probabilistic model (the same two models on the feature
  table's RFM columns, fitted on the valid customers), and LightGBM with the
  ZILN and the Tweedie loss, fitted on train and stopped on valid, once per
  ``--seeds`` value;
- two attempts to improve LightGBM, fair because nothing in them sees a test
  label or a holdout day: the BG/NBD + Gamma-Gamma's outputs (expected
  purchases, P(alive), expected spend, CLV; fitted on the train customers'
  calibration period) as four more features, and the Tweedie power chosen on
  valid from ``--powers``;
- the naive baseline, ``carried_forward_spend``: the 365 days before
  1997-10-01 hold every CDNOW customer's whole history (first purchases in
  January-March 1997), so it is all calibration-period spend, the first
  purchase included, times 273/365.

Metrics are ``revenue_metrics``; Gini and decile error get paired bootstrap
95% intervals (``metric_interval``: every predictor and seed on the same
resamples), for each predictor and for the differences. Prints stage timings
with peak memory and Markdown tables for the README, writes
``benchmarks/output/cdnow_clv.json`` and beside it the decile calibration
figure (``.png``). With ``CDNOW_sample.txt`` beside the data (or ``--sample``)
it also fits the Gamma-Gamma on the papers' 1/10 sample, to check it against
Fader & Hardie's published fit.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks._common import machine, machine_line, stage
from benchmarks.bench_cdnow import (
    AS_OF,
    CALIBRATION_END,
    CDNOW_FILE,
    HORIZON_DAYS,
    REPO,
    build,
    default_data_path,
    mean_and_sd,
    with_features,
)
from upseg.features.cdnow import read_cdnow_sample
from upseg.models.clv import (
    GammaGammaModel,
    ProbabilisticCLV,
    repeat_customers,
    summary_from_features,
    summary_from_transactions,
)
from upseg.models.clv.baseline import SPEND_COLUMN, carried_forward_spend
from upseg.models.clv.lgbm import LGBMRevenueRegressor
from upseg.models.clv.metrics import decile_calibration, metric_interval, revenue_metrics
from upseg.models.clv.plots import decile_calibration_figure
from upseg.models.clv.training import fit_clv
from upseg.models.dataset import TrainingData, clv_task
from upseg.models.plots import save_figure

SAMPLE_FILE = "CDNOW_sample.txt"
DISCOUNT_RATE = 0.0
#: Columns of the README table, in order, with their digits.
TABLE_METRICS = {
    "gini": 3,
    "spearman": 3,
    "top_decile_capture": 3,
    "decile_error": 3,
    "bias_pct": 1,
    "mae": 1,
    "rmse": 1,
}
#: Metrics given paired bootstrap intervals: their name in the tables, and whether greater
#: is better. Top-decile capture is where BG/NBD + Gamma-Gamma holds its own.
INTERVAL_METRICS = {
    "gini": ("Gini", True),
    "decile_error": ("decile error", False),
    "top_decile_capture": ("top-decile capture", True),
}
#: The BG/NBD + Gamma-Gamma outputs LightGBM gets as features when stacked.
STACKED_FEATURES = ("clv", "p_alive", "expected_purchases", "expected_spend")
#: Fader & Hardie (2013): the Gamma-Gamma on the 946 repeat customers of CDNOW_sample.txt.
PUBLISHED_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "v": 15.44, "log_likelihood": -4055.9}
#: Predictors fitted once per seed, in the order their differences are taken.
PER_SEED = (
    "lightgbm_ziln_stacked",
    "lightgbm_tweedie_stacked",
    "lightgbm_ziln",
    "lightgbm_tweedie",
    "lightgbm_tweedie_chosen_power",
)
#: Predictors without a seed.
SINGLE = ("bgnbd_gg_train", "bgnbd_gg_all", "product_probabilistic", "baseline")
#: Order of the rows of the tables.
ROW_ORDER = (
    "bgnbd_gg_train",
    "bgnbd_gg_all",
    "product_probabilistic",
    "lightgbm_ziln",
    "lightgbm_tweedie",
    "lightgbm_tweedie_chosen_power",
    "lightgbm_ziln_stacked",
    "lightgbm_tweedie_stacked",
    "baseline",
)
#: The differences reported, ``(a, b)``: a - b on the same resamples.
COMPARISONS = (
    ("lightgbm_ziln", "bgnbd_gg_train"),
    ("lightgbm_tweedie", "bgnbd_gg_train"),
    ("lightgbm_tweedie_chosen_power", "bgnbd_gg_train"),
    ("lightgbm_ziln", "bgnbd_gg_all"),
    ("lightgbm_ziln", "lightgbm_tweedie"),
    ("lightgbm_tweedie_chosen_power", "lightgbm_ziln"),
    ("lightgbm_ziln_stacked", "lightgbm_ziln"),
    ("lightgbm_tweedie_stacked", "lightgbm_tweedie"),
    ("lightgbm_ziln", "baseline"),
    ("bgnbd_gg_train", "product_probabilistic"),
    ("bgnbd_gg_train", "baseline"),
)
ASYMMETRY = (
    "LightGBM is supervised: it learns from the holdout revenue of other (train and "
    "valid) customers; BG/NBD + Gamma-Gamma uses only the calibration period. Both see "
    "only the calibration-period behaviour of the customers they score."
)


def label(name: str, results: dict | None = None) -> str:
    """How the tables name a predictor."""
    power = (results or {}).get("tweedie_power", {}).get("chosen")
    return {
        "bgnbd_gg_train": "BG/NBD + Gamma-Gamma, papers' convention, fitted on train customers",
        "bgnbd_gg_all": "BG/NBD + Gamma-Gamma, papers' convention, fitted on all customers",
        "product_probabilistic": "upseg train clv: BG/NBD + Gamma-Gamma on features",
        "lightgbm_ziln": "upseg train clv: LightGBM ZILN",
        "lightgbm_tweedie": "upseg train clv: LightGBM Tweedie (power by valid decile error)",
        "lightgbm_tweedie_chosen_power": f"LightGBM Tweedie, power {power} chosen on valid",
        "lightgbm_ziln_stacked": "LightGBM ZILN + BG/NBD/GG outputs as features",
        "lightgbm_tweedie_stacked": "LightGBM Tweedie + BG/NBD/GG outputs as features",
        "baseline": "baseline: calibration spend × 273/365",
    }[name]


def short(name: str) -> str:
    """A short name of a predictor, for the differences."""
    return {
        "bgnbd_gg_train": "BG/NBD+GG (train)",
        "bgnbd_gg_all": "BG/NBD+GG (all)",
        "product_probabilistic": "BG/NBD+GG on features",
        "lightgbm_ziln": "ZILN",
        "lightgbm_tweedie": "Tweedie, fit_clv's power",
        "lightgbm_tweedie_chosen_power": "Tweedie, chosen power",
        "lightgbm_ziln_stacked": "ZILN + BG/NBD/GG features",
        "lightgbm_tweedie_stacked": "Tweedie + BG/NBD/GG features",
        "baseline": "baseline",
    }[name]


def sample_gamma_gamma(path: Path) -> dict:
    """The Gamma-Gamma fitted on the repeat customers of the 1/10 sample's calibration period."""
    summary = summary_from_transactions(
        read_cdnow_sample(path),
        customer_col="customer_id",
        date_col="date",
        amount_col="dollars",
        calibration_end=CALIBRATION_END,
    )
    keep = repeat_customers(summary["frequency"], summary["monetary_value"])
    model = GammaGammaModel().fit(
        summary.loc[keep, "frequency"], summary.loc[keep, "monetary_value"]
    )
    return {
        "file": str(path),
        "customers": len(summary),
        "repeat_customers": model.n_customers_,
        "params": model.params_,
        "log_likelihood": model.log_likelihood_,
        "published": PUBLISHED_GAMMA_GAMMA,
        "spend_frequency_pearson_r": model.independence_.pearson_r,
    }


def calibration_summary(transactions: pd.DataFrame) -> pd.DataFrame:
    """The papers' RFM + spend summary of the calibration period (days), indexed by customer."""
    return summary_from_transactions(
        transactions,
        customer_col="customer_id",
        date_col="date",
        amount_col="dollar_value",
        calibration_end=CALIBRATION_END,
    )


def probabilistic(summary: pd.DataFrame, ids: pd.Series) -> tuple[ProbabilisticCLV, list[str]]:
    """BG/NBD + Gamma-Gamma over the holdout, fitted on ``ids``; and the warnings of the fit."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = ProbabilisticCLV(horizon_days=HORIZON_DAYS, discount_rate=DISCOUNT_RATE).fit(
            summary.loc[ids]
        )
    return model, [str(w.message) for w in caught]


def _params(threads: int | None) -> dict | None:
    """LightGBM parameters that only set the thread count (the product's defaults otherwise)."""
    return None if threads is None else {"num_threads": threads}


def _regressor(
    data: TrainingData, loss: str, seed: int, threads: int | None, power: float = 1.5
) -> LGBMRevenueRegressor:
    """A LightGBM revenue regressor fitted as ``fit_clv`` fits it: on train, stopped on valid."""
    train, valid = data.part("train"), data.part("valid")
    features = list(data.features)
    return LGBMRevenueRegressor(
        loss=loss,
        params=_params(threads),
        categorical=data.categorical,
        tweedie_variance_power=power,
        random_state=seed,
    ).fit(train[features], train["label"], X_valid=valid[features], y_valid=valid["label"])


def _difference(table: pd.DataFrame, a: str, b: str) -> dict[str, float]:
    """The row ``a - b`` of a :func:`metric_interval` table, from ``b - a`` if that is listed."""
    rows = table.set_index("predictor")
    if f"{a} - {b}" in rows.index:
        row = rows.loc[f"{a} - {b}"]
        return {"estimate": row.estimate, "ci_low": row.ci_low, "ci_high": row.ci_high}
    row = rows.loc[f"{b} - {a}"]
    return {"estimate": -row.estimate, "ci_low": -row.ci_high, "ci_high": -row.ci_low}


def _intervals(
    y: np.ndarray, preds: dict[str, np.ndarray], seeds: Sequence[int], n_boot: int
) -> dict:
    """Paired bootstrap intervals of each predictor and each comparison, every seed.

    One :func:`metric_interval` call per metric holds every predictor of every
    seed, so all are scored on the same resamples.
    """
    out = {}
    for metric, (_, greater_is_better) in INTERVAL_METRICS.items():
        table = metric_interval(y, preds, metric, n_boot=n_boot, seed=0)
        rows = table.set_index("predictor")
        predictors = {}
        for name in SINGLE:
            predictors[name] = rows.loc[name, ["estimate", "ci_low", "ci_high"]].to_dict()
        for name in PER_SEED:
            per_seed = [
                rows.loc[f"{name}@{s}", ["estimate", "ci_low", "ci_high"]].to_dict() for s in seeds
            ]
            predictors[name] = {"per_seed": per_seed}
        comparisons = {}
        for a, b in COMPARISONS:
            runs = []
            for s in seeds:
                names = [f"{n}@{s}" if n in PER_SEED else n for n in (a, b)]
                d = _difference(table, *names)
                favours_a = d["ci_low"] > 0 if greater_is_better else d["ci_high"] < 0
                favours_b = d["ci_high"] < 0 if greater_is_better else d["ci_low"] > 0
                runs.append(d | {"favours_a": bool(favours_a), "favours_b": bool(favours_b)})
            comparisons[f"{a} - {b}"] = {
                "a": a,
                "b": b,
                "per_seed": runs,
                "mean_estimate": float(np.mean([r["estimate"] for r in runs])),
                "seeds_favouring_a": sum(r["favours_a"] for r in runs),
                "seeds_favouring_b": sum(r["favours_b"] for r in runs),
                "seeds": len(runs),
            }
        out[metric] = {
            "greater_is_better": greater_is_better,
            "predictors": predictors,
            "differences": comparisons,
        }
    return out


def run(args: argparse.Namespace) -> dict:
    """Run every stage and return the results written to the JSON file."""
    stages: dict[str, dict[str, float]] = {}
    task = clv_task(DISCOUNT_RATE)
    transactions, data, _ = build(args.data, args.customers, args.threads, stages, task=task)
    train, valid, test = data.part("train"), data.part("valid"), data.part("test")
    y, y_valid = test["label"].to_numpy(dtype=float), valid["label"].to_numpy(dtype=float)
    seeds = list(args.seeds)

    with stage("BG/NBD + Gamma-Gamma (papers' convention)", stages):
        summary = calibration_summary(transactions)
        paper = {
            fit: probabilistic(summary, ids)
            for fit, ids in (("train", train["customer_id"]), ("all", data.frame["customer_id"]))
        }
        outputs = paper["train"][0].predict_frame(summary.loc[data.frame["customer_id"]])
    single = {
        f"bgnbd_gg_{fit}": model.predict(summary.loc[test["customer_id"]])
        for fit, (model, _) in paper.items()
    }
    with stage(f"upseg train clv (fit_clv) x{len(seeds)} seeds", stages):
        fits = [
            fit_clv(
                data,
                horizon_days=HORIZON_DAYS,
                discount_rate=DISCOUNT_RATE,
                seed=seed,
                params=_params(args.threads),
            )
            for seed in seeds
        ]
    single["product_probabilistic"] = fits[0].model.probabilistic.predict(
        summary_from_features(test)
    )
    single["baseline"] = carried_forward_spend(
        test, horizon_days=HORIZON_DAYS, discount_rate=DISCOUNT_RATE
    )
    per_seed: dict[str, list[np.ndarray]] = {
        "lightgbm_ziln": [f.regressors["ziln"].predict(test) for f in fits],
        "lightgbm_tweedie": [f.regressors["tweedie"].predict(test) for f in fits],
    }
    stacked = with_features(
        data, outputs[list(STACKED_FEATURES)].add_prefix("bgnbd_gg_").reset_index(drop=True)
    )
    with stage(f"LightGBM + BG/NBD/GG features x{len(seeds)}", stages):
        for loss in ("ziln", "tweedie"):
            models = [_regressor(stacked, loss, seed, args.threads) for seed in seeds]
            per_seed[f"lightgbm_{loss}_stacked"] = [m.predict(stacked.part("test")) for m in models]
    with stage(f"Tweedie powers {args.powers} x{len(seeds)}", stages):
        grid, by_power = [], {}
        for power in args.powers:
            models = [_regressor(data, "tweedie", seed, args.threads, power) for seed in seeds]
            by_power[power] = [m.predict(test) for m in models]
            valid_runs = [revenue_metrics(y_valid, m.predict(valid)) for m in models]
            test_runs = [revenue_metrics(y, p) for p in by_power[power]]
            grid.append(
                {
                    "power": power,
                    "valid": mean_and_sd(valid_runs),
                    "test": mean_and_sd(test_runs),
                    "best_iterations": [m.best_iteration_ for m in models],
                }
            )
        chosen = min(grid, key=lambda g: g["valid"]["decile_error"]["mean"])["power"]
        per_seed["lightgbm_tweedie_chosen_power"] = by_power[chosen]

    preds = {f"{name}@{s}": per_seed[name][i] for name in PER_SEED for i, s in enumerate(seeds)}
    preds |= {name: single[name] for name in SINGLE}
    with stage(f"bootstrap x{args.bootstrap}, {len(INTERVAL_METRICS)} metrics", stages):
        intervals = _intervals(y, preds, seeds, args.bootstrap)

    ziln = fits[0].regressors["ziln"]
    parts = ziln.predict_parts(test)
    uncorrected = parts["p_purchase"].to_numpy() * np.exp(parts["mu"].to_numpy())
    deciles = {
        name: decile_calibration(y, preds[name]).to_dict(orient="list")
        for name in ("bgnbd_gg_train", f"lightgbm_ziln@{seeds[0]}", f"lightgbm_tweedie@{seeds[0]}")
        + ("baseline",)
    }
    figure = {
        "BG/NBD + Gamma-Gamma": single["bgnbd_gg_train"],
        "LightGBM ZILN": per_seed["lightgbm_ziln"][0],
        "LightGBM Tweedie": per_seed["lightgbm_tweedie"][0],
        f"LightGBM Tweedie, power {chosen}": per_seed["lightgbm_tweedie_chosen_power"][0],
        "calibration spend carried forward": single["baseline"],
    }
    figure_path = args.out.with_suffix(".png")
    save_figure(
        decile_calibration_figure(y, figure, title="CDNOW holdout revenue by predicted decile"),
        figure_path,
    )

    def bias_by_part(model: LGBMRevenueRegressor) -> dict[str, float]:
        return {
            role: revenue_metrics(part["label"].to_numpy(dtype=float), model.predict(part))[
                "bias_pct"
            ]
            for role, part in (("train", train), ("valid", valid), ("test", test))
        }

    top = int(np.argmax(y))
    others = np.arange(y.size) != top
    top_customer = {
        "customer_id": str(test["customer_id"].iloc[top]),
        "revenue": float(y[top]),
        "predicted": {name: float(preds[name][top]) for name in deciles},
        "rmse_without": {
            name: float(np.sqrt(np.mean((preds[name][others] - y[others]) ** 2)))
            for name in deciles
        },
    }
    sample = args.sample if args.sample is not None else args.data.parent / SAMPLE_FILE
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
        "discount_rate": DISCOUNT_RATE,
        "warnings": list(data.warnings),
        "split": {role: int((data.frame["role"] == role).sum()) for role in ("train", "valid")}
        | {
            "test": len(test),
            "test_buyers": int((y > 0).sum()),
            "test_revenue": float(y.sum()),
            "test_top_customer_share": float(y.max() / y.sum()),
        },
        "models": {
            **{
                f"bgnbd_gg_{fit}": {
                    "fitted_on": f"calibration period of {fit} customers",
                    "bgnbd": model.bgnbd_.params_,
                    "gamma_gamma": model.gamma_gamma_.params_,
                    "fit_warnings": caught,
                    "metrics": revenue_metrics(y, single[f"bgnbd_gg_{fit}"]),
                }
                for fit, (model, caught) in paper.items()
            },
            "product_probabilistic": {
                "fitted_on": "feature table of the valid customers (fit_clv)",
                "bgnbd": fits[0].model.probabilistic.bgnbd_.params_,
                "gamma_gamma": fits[0].model.probabilistic.gamma_gamma_.params_,
                "metrics": revenue_metrics(y, single["product_probabilistic"]),
            },
            **{
                name: {
                    "seeds": seeds,
                    "per_seed": [revenue_metrics(y, p) for p in per_seed[name]],
                    "metrics": mean_and_sd([revenue_metrics(y, p) for p in per_seed[name]]),
                }
                for name in PER_SEED
            },
            "baseline": {
                "what": f"{SPEND_COLUMN} x {HORIZON_DAYS}/365",
                "window_holds_whole_history": float(
                    (test[SPEND_COLUMN] == test["monetary_lifetime"]).mean()
                ),
                "metrics": revenue_metrics(y, single["baseline"]),
            },
        },
        "fit_clv": [
            {
                "seed": seed,
                "served": fit.model.served,
                "loss_kept": fit.loss,
                "reason": fit.reason,
                "best_iterations": {k: r.best_iteration_ for k, r in fit.regressors.items()},
                "tweedie_power": fit.regressors["tweedie"].tweedie_variance_power
                if "tweedie" in fit.regressors
                else None,
                "valid": fit.valid,
            }
            for seed, fit in zip(seeds, fits, strict=True)
        ],
        "stacked_features": [f"bgnbd_gg_{c}" for c in STACKED_FEATURES],
        "tweedie_power": {"chosen": chosen, "chosen_by": "valid decile_error", "grid": grid},
        "ziln_mean_correction": {
            "seed": seeds[0],
            "sigma_mean": float(parts["sigma"].mean()),
            "factor_mean": float(np.exp(parts["sigma"] ** 2 / 2).mean()),
            "without_correction": revenue_metrics(y, uncorrected),
        },
        "bias_pct_by_part": {
            loss: bias_by_part(fits[0].regressors[loss]) for loss in ("ziln", "tweedie")
        },
        "top_customer": top_customer,
        "intervals": intervals,
        "deciles": deciles,
        "figure": str(figure_path),
        "sample_gamma_gamma": sample_gamma_gamma(sample) if sample.exists() else None,
        "stages": stages,
        "machine": machine(),
        "threads": args.threads,
        "asymmetry": ASYMMETRY,
    }


def _cells(metrics: dict, per_seed: bool) -> list[str]:
    if per_seed:
        return [
            f"{metrics[m]['mean']:.{d}f} ± {metrics[m]['sd']:.{d}f}"
            for m, d in TABLE_METRICS.items()
        ]
    return [f"{metrics[m]:.{d}f}" for m, d in TABLE_METRICS.items()]


def markdown_table(results: dict) -> str:
    """The README table: one row per predictor on the same test customers."""
    models = results["models"]
    n_seeds = len(models["lightgbm_ziln"]["seeds"])
    lines = [
        "| predictor | Gini | Spearman | top-decile capture | decile error | bias % | MAE | RMSE |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in ROW_ORDER:
        seeded = name in PER_SEED
        suffix = f", mean ± sd of {n_seeds} seed(s)" if seeded else ""
        cells = _cells(models[name]["metrics"], per_seed=seeded)
        lines.append(f"| {label(name, results)}{suffix} | {' | '.join(cells)} |")
    split = results["split"]
    lines += [
        "",
        f"Same {split['test']:,} test customers (a 25% hash split of {results['customers']:,}); "
        f"{split['test_buyers']:,} of them spend ${split['test_revenue']:,.0f} in the 39-week "
        f"holdout, the largest {split['test_top_customer_share']:.1%} of it.",
    ]
    return "\n".join(lines)


def interval_table(results: dict) -> str:
    """Gini and decile error with paired bootstrap 95% intervals, and the differences."""
    intervals = results["intervals"]
    seeds = results["models"]["lightgbm_ziln"]["seeds"]

    def cell(row: dict) -> str:
        return f"{row['estimate']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"

    names = [name for name, _ in INTERVAL_METRICS.values()]
    lines = [
        f"| predictor (LightGBM: seed {seeds[0]}) | "
        + " | ".join(f"{n}, 95% CI" for n in names)
        + " |",
        "| --- |" + " --- |" * len(names),
    ]
    for name in ROW_ORDER:
        if name not in intervals["gini"]["predictors"]:
            continue
        cells = []
        for metric in INTERVAL_METRICS:
            row = intervals[metric]["predictors"][name]
            cells.append(cell(row["per_seed"][0] if "per_seed" in row else row))
        lines.append(f"| {label(name, results)} | {' | '.join(cells)} |")
    lines += [
        "",
        f"| difference (seed {seeds[0]}; seeds whose CI favours the first, the second) | "
        + " | ".join(names)
        + " |",
        "| --- |" + " --- |" * len(names),
    ]
    for key in intervals["gini"]["differences"]:
        cells = []
        for metric in INTERVAL_METRICS:
            d = intervals[metric]["differences"][key]
            first = d["per_seed"][0]
            cells.append(
                f"{first['estimate']:+.3f} [{first['ci_low']:+.3f}, {first['ci_high']:+.3f}]"
                f" ({d['seeds_favouring_a']}/{d['seeds']}, {d['seeds_favouring_b']}/{d['seeds']})"
            )
        d = intervals["gini"]["differences"][key]
        lines.append(f"| {short(d['a'])} − {short(d['b'])} | {' | '.join(cells)} |")
    n_boot = results["bootstrap"]
    lines += [
        "",
        f"Paired bootstrap: {n_boot:,} resamples of the test customers, every predictor and "
        "seed on the same resamples. Decile error is better lower, so a difference in it "
        "favours the first predictor when its CI lies below 0; Gini and top-decile capture "
        "are better higher.",
    ]
    return "\n".join(lines)


def power_table(results: dict) -> str:
    """The Tweedie power grid: chosen on valid, measured on test."""
    lines = [
        "| Tweedie power | valid decile error | valid Gini | test decile error | test Gini "
        "| test bias % |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for g in results["tweedie_power"]["grid"]:
        v, t = g["valid"], g["test"]
        lines.append(
            f"| {g['power']} | {v['decile_error']['mean']:.3f} | {v['gini']['mean']:.3f} | "
            f"{t['decile_error']['mean']:.3f} | {t['gini']['mean']:.3f} | "
            f"{t['bias_pct']['mean']:+.1f} |"
        )
    return "\n".join(lines)


def decile_table(results: dict) -> str:
    """Mean predicted and realised revenue per decile of each predictor's ranking."""
    names = list(results["deciles"])
    header = " | ".join(f"{short(n.split('@')[0])}: predicted / realised" for n in names)
    lines = [f"| decile | {header} |", "| --- |" + " --- |" * len(names)]
    for i in range(10):
        cells = [
            f"{results['deciles'][n]['predicted_mean'][i]:.1f} / "
            f"{results['deciles'][n]['realised_mean'][i]:.1f}"
            for n in names
        ]
        lines.append(f"| {i + 1} | {' | '.join(cells)} |")
    return "\n".join(lines)


def _print_report(results: dict) -> None:
    print(f"\n{machine_line()}, threads: {results['threads'] or 'all'}")
    split = results["split"]
    print(
        f"CDNOW: {results['customers']:,} customers, {results['transactions']:,} purchases; "
        f"features before {results['as_of']}, revenue {results['holdout']['first_day']} to "
        f"{results['holdout']['last_day']} ({results['holdout']['days']} days, undiscounted); "
        f"train {split['train']:,} / valid {split['valid']:,} / test {split['test']:,}\n"
    )
    print(f"{'stage':<46}{'wall s':>9}{'peak MB':>10}")
    for name, figures in results["stages"].items():
        print(f"{name:<46}{figures['seconds']:>9.2f}{figures['peak_rss_mb']:>10.0f}")
    print()
    for name in ("bgnbd_gg_train", "bgnbd_gg_all", "product_probabilistic"):
        entry = results["models"][name]
        print(
            f"{name} ({entry['fitted_on']}): BG/NBD "
            + ", ".join(f"{k}={v:.3f}" for k, v in entry["bgnbd"].items())
            + "; Gamma-Gamma "
            + ", ".join(f"{k}={v:.3f}" for k, v in entry["gamma_gamma"].items())
        )
    for run in results["fit_clv"]:
        print(f"fit_clv seed {run['seed']}: serves {run['served']}; {run['reason']}")
    z = results["ziln_mean_correction"]
    print(
        f"ZILN (seed {z['seed']}): mean sigma {z['sigma_mean']:.3f}, mean exp(sigma^2/2) "
        f"{z['factor_mean']:.3f}; without it bias {z['without_correction']['bias_pct']:+.1f}%, "
        f"decile error {z['without_correction']['decile_error']:.3f}"
    )
    for loss, parts in results["bias_pct_by_part"].items():
        print(f"{loss} bias % by part: " + ", ".join(f"{k} {v:+.1f}" for k, v in parts.items()))
    top = results["top_customer"]
    print(
        f"Largest test customer: ${top['revenue']:,.0f}; predicted "
        + ", ".join(f"{short(k.split('@')[0])} ${v:,.0f}" for k, v in top["predicted"].items())
        + "; RMSE without them "
        + ", ".join(f"{short(k.split('@')[0])} {v:.1f}" for k, v in top["rmse_without"].items())
    )
    sample = results["sample_gamma_gamma"]
    if sample:
        print(
            f"Gamma-Gamma on {SAMPLE_FILE} ({sample['repeat_customers']} repeat customers): "
            + ", ".join(f"{k}={v:.3f}" for k, v in sample["params"].items())
            + f", LL {sample['log_likelihood']:.1f} (published p 6.25, q 3.74, v 15.44, "
            "LL -4055.9)"
        )
    print(f"\nAsymmetry: {results['asymmetry']}\n")
    print(markdown_table(results))
    print()
    print(interval_table(results))
    print()
    print(power_table(results))
    print()
    print(decile_table(results))
    print(f"\nfigure: {results['figure']}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data_path(), help="CDNOW_master.txt")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument(
        "--powers",
        type=float,
        nargs="+",
        default=[1.1, 1.3, 1.5, 1.7, 1.9],
        help="Tweedie powers to choose from on valid",
    )
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument("--threads", type=int, default=None, help="DuckDB and LightGBM threads")
    parser.add_argument("--customers", type=int, default=None, help="only the first N customers")
    parser.add_argument(
        "--sample", type=Path, default=None, help=f"{SAMPLE_FILE} (default: beside --data)"
    )
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "output" / "cdnow_clv.json"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the benchmark, print the report, write the JSON file and return its content."""
    args = _parser().parse_args(argv)
    if args.data.is_dir():
        args.data = args.data / CDNOW_FILE
    if not args.data.exists():
        sys.exit(f"{args.data} not found; pass --data or set UPSEG_SHARED_DATA")
    results = run(args) | {"bootstrap": args.bootstrap}
    _print_report(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {args.out}")
    return results


if __name__ == "__main__":
    main()
