"""Benchmark the behavioural clusters' two k-means: KMeans against MiniBatchKMeans, k = 8.

    python -m benchmarks.bench_clusters --customers 1000000
    python -m benchmarks.bench_clusters --customers 50000 200000 1000000 [--repeats 2]

Why: :data:`upseg.models.clusters.model.MINIBATCH_ABOVE` is the number of
customers above which ``ClusterModel(algorithm="auto")`` stops fitting
scikit-learn's ``KMeans`` (Lloyd, ``n_init=10``) and fits ``MiniBatchKMeans``
(batches of 4,096, ``n_init=10``) instead. This benchmark measures what that
switch buys in time and memory and what it costs in quality, at each size.

**Data.** ``--customers`` synthetic customers' behavioural columns
(:data:`upseg.features.sets.BEHAVIOUR_V1`), drawn directly with numpy by
:func:`behaviour_data` from a mixture of the eight latent types of
:data:`GROUPS` (the synthetic world and the DuckDB features would take far
longer at a million customers): counts Poisson with gamma-distributed rates
(negative binomial), order values lognormal, propensities beta and shares
binomial over the customer's orders or e-mails, days as the time since the
last of several events; missing where the features are missing (order values,
recency, discount and return shares of customers who never bought, rates of
customers sent no e-mail, days since an open or a visit that never happened).
The SHA-256 of the arrays is in the JSON (``data.sha256``).

**Measured**, for each size and each algorithm in a fresh subprocess (so the
peak resident memory, ``VmHWM``, is the algorithm's own; see
:func:`benchmarks._common.peak_rss_mb`), with the data loaded outside the clock:

- ``fit``: ``ClusterModel(BEHAVIOUR_V1 columns, 8, algorithm=...).fit`` on every
  customer, and of it the k-means estimator's own ``fit`` (with the labels and
  inertia of every customer, which both estimators compute at the end), the
  rest being the transformer's filling, logs and scaling, the same for both;
- ``predict``: ``ClusterModel.predict`` of every customer (and of it the
  estimator's ``predict``);
- peak memory of the worker, and its memory once the data is loaded;
- quality on one random evaluation sample of ``--eval-rows`` customers, the same
  for both algorithms (:func:`evaluation_rows`): silhouette, Calinski-Harabasz
  and Davies-Bouldin in the model's space
  (:func:`upseg.models.clusters.selection.separation`); the adjusted Rand
  index of each model's partition with the latent types and, for MiniBatchKMeans,
  with KMeans' partition (on the sample, and on every customer); the inertia
  (sum of squared distances to the centres, over every customer) relative to
  KMeans'.

KMeans is the baseline measured in the same run: the table gives
MiniBatchKMeans' fit time, predict time and peak memory as ratios to it. With
``--repeats`` each worker runs that many times (alternating algorithms) and
the times shown are the fastest; quality figures are the first run's (a
seeded fit gives the same partition each time). scikit-learn's k-means use
every core unless ``--threads`` sets the workers' ``OMP_NUM_THREADS``: on a
busy machine, OpenMP threads waiting for a core slow the many small steps of
MiniBatchKMeans far more than Lloyd's long passes, so run both settings.
Library versions are recorded: in scikit-learn 1.9 (since pull request 30751)
each MiniBatchKMeans step draws its batch with ``RandomState.choice(n, p=weights)``,
which costs time in proportion to the number of customers. The
machine is shared and noisy: the load average at the start and the end is
printed and saved; compare ratios within one run. Prints the tables and writes
``benchmarks/output/clusters.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import REPO, machine, machine_line, peak_rss_mb, progress
from upseg.features.sets import BEHAVIOUR_V1

ALGORITHMS = ("kmeans", "minibatch")
#: The algorithm every ratio is relative to.
BASELINE = "kmeans"
K = 8
#: Times of a worker, each the fastest over ``--repeats``.
TIMES = ("fit_seconds", "kmeans_fit_seconds", "predict_seconds", "kmeans_predict_seconds")
COLUMNS = BEHAVIOUR_V1.columns()
#: Share of customers sent no e-mail in the year (opted out or unsubscribed).
NO_EMAIL_SHARE = 0.05
#: Chance that a customer with no open (visit) in the year had one before it.
OPENED_BEFORE, VISITED_BEFORE = 0.4, 0.5


@dataclass(frozen=True)
class Group:
    """One latent customer type of the synthetic data: its share and its habits.

    Pairs are the parameters of beta distributions of a customer's propensity;
    means are of a gamma-Poisson (negative binomial) count over a full year.
    """

    name: str
    share: float
    tenure_days: float  # median days since sign-up (lognormal)
    buyer: float  # probability of at least one completed order ever
    orders_365d: float  # mean completed orders a year, of a buyer
    order_value: float  # median order value (lognormal)
    discount: tuple[float, float]  # propensity of an order to carry a discount
    returns: tuple[float, float]  # propensity of an order to be returned
    categories: float  # mean categories beyond the first, of a buyer
    emails: float  # mean e-mails sent a year
    opens: tuple[float, float]  # propensity to open an e-mail
    clicks: tuple[float, float]  # propensity to click an opened e-mail
    sessions: float  # mean web sessions a year
    views: float  # mean product views per session
    carts: float  # probability that a session abandons a cart


#: The latent types; shares sum to 1.
GROUPS = (
    #     name, share, tenure_days, buyer, orders_365d, order_value, discount, returns, categories,
    #     emails, opens, clicks, sessions, views, carts
    Group("loyal regulars", .10, 900, .99, 8.0, 60, (2, 8), (1, 15), 2.5,
          80, (5, 5), (3, 7), 60, 4, .10),
    Group("big-ticket occasional", .08, 1100, .97, 1.5, 250, (1, 9), (1, 12), .8,
          60, (3, 7), (2, 8), 12, 6, .15),
    Group("discount hunters", .12, 700, .93, 4.0, 35, (7, 2), (1, 10), 1.5,
          90, (6, 4), (4, 6), 35, 5, .25),
    Group("lapsed buyers", .15, 1400, 1.0, .3, 55, (2, 6), (1, 10), 1.0,
          40, (1, 12), (1, 8), 2, 3, .10),
    Group("engaged non-buyers", .13, 500, .06, .8, 40, (3, 5), (1, 10), .3,
          90, (5, 4), (3, 6), 25, 7, .35),
    Group("new sign-ups", .12, 60, .35, .9, 50, (3, 5), (1, 10), .3,
          12, (5, 5), (2, 8), 8, 4, .20),
    Group("dormant", .22, 1200, .20, .15, 45, (2, 6), (1, 10), .2,
          50, (1, 30), (1, 10), .5, 2, .10),
    Group("serial returners", .08, 800, .98, 6.0, 95, (2, 6), (5, 6), 3.0,
          70, (4, 6), (3, 7), 110, 8, .20),
)  # fmt: skip


# ----------------------------------------------------------------------------- data


def _param(group: np.ndarray, field: str) -> np.ndarray:
    """Each customer's value of one :class:`Group` field."""
    return np.array([getattr(g, field) for g in GROUPS], dtype=np.float64)[group]


def _beta(rng: np.random.Generator, group: np.ndarray, field: str) -> np.ndarray:
    """Each customer's propensity, from their group's beta distribution."""
    pairs = np.array([getattr(g, field) for g in GROUPS], dtype=np.float64)[group]
    return rng.beta(pairs[:, 0], pairs[:, 1])


def _days_since_last(
    rng: np.random.Generator, events: np.ndarray, tenure: np.ndarray, before: np.ndarray
) -> np.ndarray:
    """Days since the last of ``events`` uniform events in the year (or the customer's life).

    With no event in the year: a day between a year ago and sign-up where
    ``before`` (an earlier event), else missing.
    """
    window = np.minimum(tenure, 365.0)
    within = window * rng.beta(1.0, np.maximum(events, 1))
    earlier = 365.0 + (tenure - 365.0) * rng.random(len(tenure))
    had_before = before & (tenure > 365.0)
    return np.where(events > 0, within, np.where(had_before, earlier, np.nan))


def _orders(rng: np.random.Generator, group: np.ndarray, tenure: np.ndarray) -> dict:
    """The order columns: counts, amounts, recency and shares; missing for non-buyers."""
    n = len(group)
    buyer = rng.random(n) < _param(group, "buyer")
    rate = _param(group, "orders_365d") * rng.gamma(2.0, 0.5, n)
    year = np.minimum(tenure, 365.0) / 365.0
    recent = rng.poisson(rate * year) * buyer
    earlier = rng.poisson(rate * np.maximum(tenure - 365.0, 0.0) / 365.0) * buyer
    # A buyer bought at least once: in the year if they joined within it, else before.
    none = buyer & (recent + earlier == 0)
    recent = recent + (none & (tenure <= 365.0))
    earlier = earlier + (none & (tenure > 365.0))
    lifetime = recent + earlier
    orders = np.maximum(lifetime, 1)
    value = np.where(buyer, rng.lognormal(np.log(_param(group, "order_value")), 0.45), np.nan)
    spent = recent * np.nan_to_num(value) * rng.lognormal(0.0, 0.15, n)
    last_recent = np.minimum(tenure, 365.0) * rng.beta(1.0, np.maximum(recent, 1))
    last_earlier = 365.0 + (tenure - 365.0) * rng.beta(1.0, np.maximum(earlier, 1))
    recency = np.where(recent > 0, last_recent, last_earlier)
    discounted = rng.binomial(orders, _beta(rng, group, "discount")) / orders
    returned = rng.binomial(orders, _beta(rng, group, "returns")) / orders
    categories = np.minimum(orders, 1 + rng.poisson(_param(group, "categories")))
    return {
        "frequency_365d": recent.astype(np.float64),
        "monetary_365d": spent,
        "avg_order_value": value,
        "recency_days": np.where(buyer, recency, np.nan),
        "discount_order_share": np.where(buyer, discounted, np.nan),
        "return_rate": np.where(buyer, returned, np.nan),
        "category_count": np.where(buyer, categories, 0).astype(np.float64),
    }


def _email(rng: np.random.Generator, group: np.ndarray, tenure: np.ndarray) -> dict:
    """Open and click rates (missing when no e-mail was sent) and days since the last open."""
    n = len(group)
    year = np.minimum(tenure, 365.0) / 365.0
    sent = rng.poisson(_param(group, "emails") * year) * (rng.random(n) >= NO_EMAIL_SHARE)
    opens = rng.binomial(sent, _beta(rng, group, "opens"))
    clicks = rng.binomial(opens, _beta(rng, group, "clicks"))
    with np.errstate(invalid="ignore", divide="ignore"):
        open_rate = np.where(sent > 0, opens / sent, np.nan)
        click_rate = np.where(sent > 0, clicks / sent, np.nan)
    before = rng.random(n) < OPENED_BEFORE
    return {
        "open_rate_365d": open_rate,
        "click_rate_365d": click_rate,
        "days_since_last_open": _days_since_last(rng, opens, tenure, before),
    }


def _web(rng: np.random.Generator, group: np.ndarray, tenure: np.ndarray) -> dict:
    """Sessions, product views and cart abandonments in the year, days since the last visit."""
    n = len(group)
    year = np.minimum(tenure, 365.0) / 365.0
    sessions = rng.poisson(_param(group, "sessions") * rng.gamma(1.5, 1 / 1.5, n) * year)
    views = rng.poisson(sessions * _param(group, "views") * rng.lognormal(0.0, 0.3, n))
    carts = rng.binomial(sessions, _param(group, "carts"))
    before = rng.random(n) < VISITED_BEFORE
    return {
        "sessions_365d": sessions.astype(np.float64),
        "product_views_365d": views.astype(np.float64),
        "cart_abandonments_365d": carts.astype(np.float64),
        "days_since_last_visit": _days_since_last(rng, sessions, tenure, before),
    }


def behaviour_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` synthetic customers' behavioural columns and latent types.

    Parameters
    ----------
    n : int
        Customers.
    seed : int

    Returns
    -------
    values : ndarray of shape (n, len(COLUMNS))
        float64, C order, columns in the order of :data:`COLUMNS`; NaN where missing.
    group : ndarray of shape (n,)
        Each customer's index in :data:`GROUPS`.
    """
    rng = np.random.default_rng(seed)
    shares = np.array([g.share for g in GROUPS])
    group = rng.choice(len(GROUPS), size=n, p=shares / shares.sum()).astype(np.int8)
    tenure = np.clip(rng.lognormal(np.log(_param(group, "tenure_days")), 0.5), 1.0, 3650.0)
    columns = {
        "tenure_days": tenure,
        **_orders(rng, group, tenure),
        **_email(rng, group, tenure),
        **_web(rng, group, tenure),
    }
    values = np.ascontiguousarray(np.column_stack([columns[c] for c in COLUMNS]))
    return values, group


def fingerprint(values: np.ndarray, group: np.ndarray) -> str:
    """SHA-256 of the arrays' bytes (values as C-order float64, then the types)."""
    digest = hashlib.sha256(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    digest.update(np.ascontiguousarray(group, dtype=np.int8).tobytes())
    return digest.hexdigest()


def evaluation_rows(n: int, size: int, seed: int) -> np.ndarray:
    """Sorted positions of the evaluation sample: ``size`` (or all ``n``) customers at random."""
    rng = np.random.default_rng([seed, 1])
    return np.sort(rng.choice(n, size=min(size, n), replace=False))


# ----------------------------------------------------------------------------- worker


def _frame(values: np.ndarray) -> Any:
    """The customers as the DataFrame of :data:`COLUMNS` that ``ClusterModel`` reads."""
    import pandas as pd

    # copy=False: pandas 3 copies an ndarray by default, which would double the data in memory.
    return pd.DataFrame(values, columns=list(COLUMNS), copy=False)


def _timed(fn: Callable, seconds: dict[str, float], key: str) -> Callable:
    """``fn``, adding the wall time of each call to ``seconds[key]``."""

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - started

    return timed


def _time_kmeans(model: Any, seconds: dict[str, float]) -> None:
    """Time the k-means estimator's ``fit`` inside ``model.fit``, without changing it.

    ``ClusterModel._kmeans`` builds the estimator; the wrapper times its ``fit``
    (set on the instance, not the class) under ``seconds["kmeans_fit"]``.
    """
    make = model._kmeans

    def timed_make(n_rows: int) -> Any:
        estimator = make(n_rows)
        estimator.fit = _timed(estimator.fit, seconds, "kmeans_fit")
        return estimator

    model._kmeans = timed_make


def _worker(algorithm: str, data: Path, labels_out: Path, eval_rows: int, seed: int) -> dict:
    """Fit and predict one algorithm on the saved data; quality on the evaluation sample.

    ``fit`` and ``predict`` are :class:`ClusterModel`'s, whole; of each, the
    k-means estimator's own ``fit`` and ``predict`` are timed apart, the rest
    being the filling, logs and scaling of :class:`BehaviourTransformer`.
    """
    from upseg.models.clusters import ClusterModel
    from upseg.models.clusters.selection import separation

    frame = _frame(np.load(data))
    rss_data = peak_rss_mb()
    model = ClusterModel(COLUMNS, K, algorithm=algorithm, random_state=seed)
    inner: dict[str, float] = {}
    _time_kmeans(model, inner)
    started = time.perf_counter()
    model.fit(frame)
    fit_seconds = time.perf_counter() - started
    rss_fit = peak_rss_mb()
    model.kmeans_.predict = _timed(model.kmeans_.predict, inner, "kmeans_predict")
    started = time.perf_counter()
    labels = model.predict(frame)
    predict_seconds = time.perf_counter() - started
    # Read now: the separation below calls the timed predict again, on the sample.
    times = {
        "kmeans_fit_seconds": inner["kmeans_fit"],
        "kmeans_predict_seconds": inner["kmeans_predict"],
    }
    peak = peak_rss_mb()
    sample = frame.iloc[evaluation_rows(len(frame), eval_rows, seed)]
    started = time.perf_counter()
    quality = separation(model, sample)
    np.save(labels_out, labels.astype(np.int16))
    return {
        "algorithm": algorithm,
        "estimator": type(model.kmeans_).__name__,
        "threads": _openmp_threads(),
        "fit_seconds": fit_seconds,
        "predict_seconds": predict_seconds,
        **times,
        "peak_rss_mb": peak,
        "rss_after_fit_mb": rss_fit,
        "rss_with_data_mb": rss_data,
        "n_iter": int(model.kmeans_.n_iter_),
        "inertia": float(model.kmeans_.inertia_),
        "sizes": np.bincount(labels, minlength=K + 1)[1:].tolist(),
        **quality,
        "separation_seconds": time.perf_counter() - started,
    }


def _openmp_threads() -> int:
    """The OpenMP threads scikit-learn's k-means use in this process."""
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

    return int(_openmp_effective_n_threads())


def _run_worker(algorithm: str, data: Path, labels_out: Path, args) -> dict:
    cmd = [
        sys.executable, "-m", "benchmarks.bench_clusters", "--worker", algorithm,
        "--data", str(data), "--labels-out", str(labels_out),
        "--eval-rows", str(args.eval_rows), "--seed", str(args.seed),
    ]  # fmt: skip
    env = dict(os.environ)
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, check=False, timeout=args.timeout, cwd=REPO,
            env=env,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        sys.exit(f"worker {algorithm} on {data.name} took more than {args.timeout:.0f} s")
    if done.returncode != 0:
        sys.exit(f"worker {algorithm} on {data.name} failed:\n{done.stderr[-5000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- comparison


def compare(
    runs: dict[str, dict], labels: dict[str, np.ndarray], group: np.ndarray, sample: np.ndarray
) -> dict:
    """Ratios to the baseline and agreement between the partitions, for one size.

    Parameters
    ----------
    runs : dict of str to dict
        Each algorithm's worker result.
    labels : dict of str to ndarray of shape (n_customers,)
        Each algorithm's label of every customer.
    group : ndarray of shape (n_customers,)
        The latent types.
    sample : ndarray of shape (n_eval,)
        Positions of the evaluation sample.
    """
    from sklearn.metrics import adjusted_rand_score

    base = runs[BASELINE]
    out: dict[str, dict] = {}
    for algorithm, r in runs.items():
        out[algorithm] = {
            "fit_vs_baseline": r["fit_seconds"] / base["fit_seconds"],
            "kmeans_fit_vs_baseline": r["kmeans_fit_seconds"] / base["kmeans_fit_seconds"],
            "predict_vs_baseline": r["predict_seconds"] / base["predict_seconds"],
            "peak_rss_vs_baseline": r["peak_rss_mb"] / base["peak_rss_mb"],
            "inertia_vs_baseline": r["inertia"] / base["inertia"],
            "ari_baseline_sample": float(
                adjusted_rand_score(labels[BASELINE][sample], labels[algorithm][sample])
            ),
            "ari_baseline_all": float(adjusted_rand_score(labels[BASELINE], labels[algorithm])),
            "ari_latent_sample": float(
                adjusted_rand_score(group[sample], labels[algorithm][sample])
            ),
        }
    return out


def _best(repeats: list[dict]) -> dict:
    """The first run's figures with each time the fastest and the peak the highest of all runs."""
    best = dict(repeats[0])
    for key in TIMES:
        best[key] = min(r[key] for r in repeats)
    best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in repeats)
    if len(repeats) > 1:
        best["repeats"] = [{k: r[k] for k in (*TIMES, "peak_rss_mb")} for r in repeats]
    return best


def run_size(n: int, args, tmp: Path) -> dict:
    """Generate ``n`` customers, run both algorithms ``--repeats`` times, compare them."""
    from upseg.models.clusters.model import MINIBATCH_ABOVE

    progress(f"generating {n:,} customers")
    started = time.perf_counter()
    values, group = behaviour_data(n, args.seed)
    data = tmp / f"behaviour_{n}.npy"
    np.save(data, values)
    generated = {
        "customers": n,
        "columns": list(COLUMNS),
        "sha256": fingerprint(values, group),
        "missing_share": {c: float(np.isnan(values[:, i]).mean()) for i, c in enumerate(COLUMNS)},
        "latent_shares": (np.bincount(group, minlength=len(GROUPS)) / n).tolist(),
        "seconds": time.perf_counter() - started,
    }
    del values
    repeats: dict[str, list[dict]] = {a: [] for a in ALGORITHMS}
    labels: dict[str, np.ndarray] = {}
    for i in range(args.repeats):
        for algorithm in ALGORITHMS:
            progress(f"{algorithm} on {n:,} customers (run {i + 1} of {args.repeats})")
            out = tmp / f"labels_{algorithm}_{n}.npy"
            repeats[algorithm].append(_run_worker(algorithm, data, out, args))
            if i == 0:
                labels[algorithm] = np.load(out)
    data.unlink()
    runs = {a: _best(r) for a, r in repeats.items()}
    sample = evaluation_rows(n, args.eval_rows, args.seed)
    return {
        "customers": n,
        "eval_rows": len(sample),
        "auto_picks": "minibatch" if n > MINIBATCH_ABOVE else "kmeans",
        "data": generated,
        "runs": runs,
        "compared": compare(runs, labels, group, sample),
    }


def _versions() -> dict[str, str]:
    """Versions of the libraries whose k-means are measured (their speed changes with them)."""
    import sklearn

    return {"scikit-learn": sklearn.__version__, "numpy": np.__version__}


def run(args: argparse.Namespace) -> dict:
    """Every size of ``--customers``, in order; the load average around it all."""
    from upseg.models.clusters.model import MINIBATCH_ABOVE

    started = time.perf_counter()
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix=".bench_clusters.", dir=args.workdir) as tmp:
        sizes = {str(n): run_size(n, args, Path(tmp)) for n in args.customers}
    return {
        "customers": list(args.customers),
        "k": K,
        "seed": args.seed,
        "repeats": args.repeats,
        "threads": args.threads or "default (every core)",
        "eval_rows": args.eval_rows,
        "minibatch_above": MINIBATCH_ABOVE,
        "groups": [g.name for g in GROUPS],
        "sizes": sizes,
        "machine": machine(),
        "versions": _versions(),
        "load_average": {"start": list(load_start), "end": list(os.getloadavg())},
        "seconds": time.perf_counter() - started,
    }


# ----------------------------------------------------------------------------- report


def _ratio(value: float, algorithm: str) -> str:
    return "baseline" if algorithm == BASELINE else f"x{value:.2f}"


def cost_table(results: dict) -> str:
    """Markdown: time, throughput and memory of each algorithm at each size."""
    lines = [
        "| customers | algorithm | fit (s) | fit vs kmeans | of which k-means (s) "
        "| k-means vs kmeans | fit customers/s | predict (s) | predict vs kmeans "
        "| predict customers/s | peak memory (MB) | memory vs kmeans |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size in results["sizes"].values():
        n = size["customers"]
        for algorithm, r in size["runs"].items():
            c = size["compared"][algorithm]
            lines.append(
                f"| {n:,} | {algorithm} | {r['fit_seconds']:.1f} "
                f"| {_ratio(c['fit_vs_baseline'], algorithm)} | {r['kmeans_fit_seconds']:.1f} "
                f"| {_ratio(c['kmeans_fit_vs_baseline'], algorithm)} "
                f"| {n / r['fit_seconds']:,.0f} | {r['predict_seconds']:.2f} "
                f"| {_ratio(c['predict_vs_baseline'], algorithm)} "
                f"| {n / r['predict_seconds']:,.0f} | {r['peak_rss_mb']:,.0f} "
                f"| {_ratio(c['peak_rss_vs_baseline'], algorithm)} |"
            )
    return "\n".join(lines)


def quality_table(results: dict) -> str:
    """Markdown: separation on the evaluation sample, inertia and agreement."""
    lines = [
        "| customers | algorithm | iterations | inertia vs kmeans | silhouette "
        "| Calinski-Harabasz | Davies-Bouldin | ARI with kmeans (sample / all) "
        "| ARI with latent types |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size in results["sizes"].values():
        n = size["customers"]
        for algorithm, r in size["runs"].items():
            c = size["compared"][algorithm]
            inertia = "baseline" if algorithm == BASELINE else f"{c['inertia_vs_baseline']:.4f}"
            agreement = (
                "-"
                if algorithm == BASELINE
                else f"{c['ari_baseline_sample']:.3f} / {c['ari_baseline_all']:.3f}"
            )
            lines.append(
                f"| {n:,} | {algorithm} | {r['n_iter']} | {inertia} | {r['silhouette']:.3f} "
                f"| {r['calinski_harabasz']:,.0f} | {r['davies_bouldin']:.3f} | {agreement} "
                f"| {c['ari_latent_sample']:.3f} |"
            )
    return "\n".join(lines)


def _print_report(results: dict) -> None:
    load = results["load_average"]
    versions = ", ".join(f"{name} {v}" for name, v in results["versions"].items())
    print(f"\n{machine_line()}; {versions}")
    print(
        f"load average (1 min) {load['start'][0]:.2f} at the start, {load['end'][0]:.2f} at the "
        f"end, on {results['machine']['cores']} cores: the machine is shared; compare ratios"
    )
    for size in results["sizes"].values():
        d = size["data"]
        print(
            f"{size['customers']:,} customers: data sha256 {d['sha256'][:16]}..., "
            f"evaluation sample {size['eval_rows']:,}, algorithm='auto' picks {size['auto_picks']}"
        )
    print(
        f"\nk = {results['k']}, n_init = 10, {len(COLUMNS)} behaviour_v1 columns, "
        f"{len(GROUPS)} latent types; OpenMP threads: {results['threads']}; times are the "
        f"fastest of {results['repeats']} run(s)\n"
    )
    print(cost_table(results))
    print()
    print(quality_table(results))
    print(
        "\nInertia over every customer in each model's space (the same scaling for both); "
        "silhouette, Calinski-Harabasz and Davies-Bouldin on the evaluation sample."
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--seed", type=int, default=0, help="data, sample and k-means seed")
    parser.add_argument("--eval-rows", type=int, default=10_000, help="evaluation sample")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each worker")
    parser.add_argument(
        "--threads", type=int, default=None, help="OMP_NUM_THREADS of the workers (default: all)"
    )
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per worker")
    parser.add_argument("--workdir", type=Path, default=REPO / "benchmarks" / "output")
    parser.add_argument("--out", type=Path, default=None, help="<workdir>/clusters.json")
    parser.add_argument("--worker", choices=ALGORITHMS, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--labels-out", type=Path, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> dict | None:
    """Run the benchmark, print the report, write the JSON file and return its content."""
    args = _parser().parse_args(argv)
    if args.worker:
        result = _worker(args.worker, args.data, args.labels_out, args.eval_rows, args.seed)
        print(json.dumps(result))
        return None
    if min(args.customers) < K or args.repeats < 1 or args.eval_rows <= K:
        sys.exit(
            f"--customers must each be at least {K}, --repeats at least 1 and --eval-rows above "
            f"{K}; got {args.customers}, {args.repeats} and {args.eval_rows}"
        )
    args.workdir.mkdir(parents=True, exist_ok=True)
    args.workdir = args.workdir.resolve()
    results = run(args)
    _print_report(results)
    out = args.out or args.workdir / "clusters.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out}")
    return results


if __name__ == "__main__":
    main()
