"""Each customer's true expected revenue over a horizon, and how well a CLV model ranks by it.

Only a synthetic world knows each customer's purchase rate, order value and
dropout time, so only it knows what a customer is expected to spend after any
as-of date: :func:`expected_revenue` computes it from ``truth.parquet`` for any
as-of and horizon inside the world, optionally discounted, and
:func:`clv_truth_metrics` compares a model's predictions with it.

The oracle is the base purchase process (Poisson orders between signup and
dropout, of which ``COMPLETED_SHARE`` complete). It leaves out the orders the
June 2026 campaign adds or removes in its outcome window.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import spearmanr

from upseg.synthetic.params import COMPLETED_SHARE, YEAR
from upseg.synthetic.world import _utc

__all__ = ["clv_truth_metrics", "expected_revenue"]

#: Truth columns :func:`expected_revenue` reads (besides ``customer_id``).
VALUE_COLUMNS = (
    "purchase_rate",
    "expected_order_value",
    "active_from",
    "active_until",
    "world_end",
)
_DISCOUNT_YEAR = 365.0  # the CLV convention: (1 + rate) ** (-days / 365)
_DAY = pd.Timedelta(days=1)


def _by_customer(truth: pd.DataFrame) -> pd.DataFrame:
    """The truth indexed by ``customer_id``, whether it is a column or already the index."""
    if "customer_id" in truth.columns:
        return truth.set_index("customer_id")
    return truth.rename_axis("customer_id")


def _discounted_days(start: np.ndarray, end: np.ndarray, discount_rate: float) -> np.ndarray:
    """Integral of ``(1 + discount_rate) ** (-t / 365)`` dt over [start, end) in days (0 if empty).

    With k = ln(1 + d) / 365 it is (exp(-k start) - exp(-k end)) / k, written
    with ``expm1`` so that a small rate loses no precision; d = 0 gives end - start.
    """
    length = np.clip(end - start, 0.0, None)
    if discount_rate == 0:
        return length
    k = math.log1p(discount_rate) / _DISCOUNT_YEAR
    return np.exp(-k * start) * -np.expm1(-k * length) / k


def _window_problems(
    truth: pd.DataFrame, as_of: object, horizon_days: object, discount_rate: object
) -> tuple[pd.Timestamp, list[str]]:
    """``as_of`` in UTC and every problem with the window's arguments (none: an empty list)."""
    problems = []
    missing = [c for c in VALUE_COLUMNS if c not in truth.columns]
    if missing:
        problems.append(
            f"'truth' lacks the columns {missing} (a truth written before they existed: "
            "generate the world again)"
        )
    if (
        isinstance(horizon_days, bool)
        or not isinstance(horizon_days, int | np.integer)
        or horizon_days < 1
    ):
        problems.append(f"'horizon_days' must be a positive int; got {horizon_days!r}")
        days = 0
    else:
        days = int(horizon_days)
    if (
        isinstance(discount_rate, bool)
        or not isinstance(discount_rate, int | float | np.integer | np.floating)
        or not 0 <= discount_rate < math.inf
    ):
        problems.append(f"'discount_rate' must be a finite number >= 0; got {discount_rate!r}")
    try:
        start = _utc(as_of)
    except (TypeError, ValueError) as exc:
        problems.append(f"'as_of' must be a timestamp; got {as_of!r} ({exc})")
        start = pd.NaT
    else:
        if pd.isna(start):
            problems.append(f"'as_of' must be a timestamp; got {as_of!r}")
    if days and not pd.isna(start) and "world_end" in truth and len(truth):
        world_end = truth["world_end"].min()
        end = start + pd.Timedelta(days=days)
        if end > world_end:
            problems.append(
                f"as_of + horizon_days must not pass the world's end {world_end} (base orders "
                f"stop there); got as_of={start}, horizon_days={horizon_days}, ending {end}"
            )
    return start, problems


def _raise(caller: str, problems: list[str]) -> None:
    """One ValueError listing every problem with the arguments of ``caller``, if there are any."""
    if problems:
        raise ValueError(f"{len(problems)} error(s) in {caller} arguments: " + "; ".join(problems))


def expected_revenue(
    truth: pd.DataFrame, as_of: object, horizon_days: int, *, discount_rate: float = 0.0
) -> pd.Series:
    """Each customer's expected completed revenue in [as_of, as_of + horizon_days), given the truth.

    The oracle of a CLV model: the base purchase process with every latent trait
    known, the dropout time included. Base orders arrive as a Poisson process at
    ``purchase_rate`` per year of ``YEAR`` (365.25) days from ``active_from`` to
    ``active_until``; a share ``COMPLETED_SHARE`` of them complete, independently
    of their amount, whose mean is ``expected_order_value``. So

    ``purchase_rate / YEAR * COMPLETED_SHARE * expected_order_value *
    integral of (1 + discount_rate) ** (-t / 365) dt``

    over the days t after ``as_of`` in the window that the customer is active,
    in closed form. Orders the June 2026 campaign adds (or removes) in its
    outcome window are not included: a window holding it will see more realised
    revenue among the treated. Rounding amounts to cents is ignored.

    Parameters
    ----------
    truth : pandas.DataFrame
        The world's truth (``World.truth``, or ``truth.parquet`` as
        :func:`upseg.synthetic.truth.read_truth` reads it, indexed by
        ``customer_id``), with the columns ``VALUE_COLUMNS``.
    as_of : str or pandas.Timestamp
        Start of the window, in UTC (naive values are UTC).
    horizon_days : int
        Length of the window in days, >= 1; the window must end by the world's end.
    discount_rate : float, default 0.0
        Yearly discount rate >= 0: an order t days after ``as_of`` counts
        ``(1 + discount_rate) ** (-t / 365)`` of its amount.

    Returns
    -------
    pandas.Series of shape (n_customers,)
        ``expected_revenue`` indexed by ``customer_id``, in the truth's order;
        0 for customers not active in the window.

    Raises
    ------
    ValueError
        Listing every problem: missing truth columns, ``horizon_days`` not a
        positive int, ``discount_rate`` negative or not finite, ``as_of`` not a
        timestamp, or a window that ends after the world's end (no base orders
        are simulated there).
    """
    truth = _by_customer(truth)
    start, problems = _window_problems(truth, as_of, horizon_days, discount_rate)
    _raise("expected_revenue", problems)
    active_from = ((truth["active_from"] - start) / _DAY).to_numpy(float)
    active_until = ((truth["active_until"] - start) / _DAY).to_numpy(float)
    lo = np.clip(active_from, 0.0, horizon_days)
    hi = np.clip(active_until, 0.0, horizon_days)
    per_day = truth["purchase_rate"].to_numpy(float) / YEAR
    value = COMPLETED_SHARE * truth["expected_order_value"].to_numpy(float)
    revenue = per_day * value * _discounted_days(lo, hi, float(discount_rate))
    return pd.Series(revenue, index=truth.index, name="expected_revenue")


def _top_share(predicted: np.ndarray, expected: np.ndarray) -> float:
    """Expected revenue of the model's top decile / that of the oracle's top decile.

    Both deciles hold ceil(n / 10) customers. Customers tied with the model's
    last place in its decile share its remaining places: they count at their mean
    expected revenue, which a random order among them would give on average.
    """
    k = math.ceil(predicted.size / 10)
    oracle = np.sort(expected)[::-1][:k].sum()
    if oracle <= 0:
        return math.nan
    cut = np.sort(predicted)[::-1][k - 1]
    above, tied = predicted > cut, predicted == cut
    captured = expected[above].sum() + (k - above.sum()) * expected[tied].mean()
    return float(captured / oracle)


def clv_truth_metrics(
    truth: pd.DataFrame,
    customer_ids: ArrayLike,
    predicted: ArrayLike,
    as_of: object,
    horizon_days: int,
    discount_rate: float = 0.0,
) -> dict[str, float]:
    """How well predicted CLVs rank customers by their true expected revenue.

    Parameters
    ----------
    truth : pandas.DataFrame
        The world's truth, as in :func:`expected_revenue`.
    customer_ids : array-like of shape (n_customers,)
        The scored customers, each once; every one must be in ``truth``.
    predicted : array-like of shape (n_customers,)
        The model's revenue prediction for each of ``customer_ids`` (finite).
    as_of, horizon_days, discount_rate
        The prediction's window and discounting, as in :func:`expected_revenue`.

    Returns
    -------
    dict of str to float
        ``truth_spearman``: Spearman correlation of ``predicted`` with the
        expected revenue (:func:`scipy.stats.spearmanr`; NaN if either is
        constant). ``truth_top_decile_share``: expected revenue of the model's
        top 10% of customers over that of the oracle's top 10% (1 for a
        perfect ranking; ties at the model's cut count at their mean; NaN if the
        oracle's top decile expects no revenue).

    Raises
    ------
    ValueError
        If the arguments of :func:`expected_revenue` are wrong, ``customer_ids``
        and ``predicted`` differ in length, are empty, repeat a customer or hold a
        non-finite prediction, or customers are missing from ``truth`` (how many,
        with examples).
    """
    ids = pd.Index(np.asarray(customer_ids, dtype=object).ravel())
    scores = np.asarray(predicted, dtype=float).ravel()
    truth = _by_customer(truth)
    _, problems = _window_problems(truth, as_of, horizon_days, discount_rate)
    if ids.size != scores.size or ids.size == 0:
        problems.append(
            f"'customer_ids' and 'predicted' must have the same positive length; got "
            f"{ids.size} and {scores.size}"
        )
    if ids.has_duplicates:
        problems.append(
            f"'customer_ids' must hold each customer once; {ids.duplicated().sum()} repeat "
            f"(e.g. {list(ids[ids.duplicated()].unique()[:3])})"
        )
    if not np.isfinite(scores).all():
        problems.append(
            f"'predicted' must be finite; got {int((~np.isfinite(scores)).sum())} "
            "NaN or infinite values"
        )
    unknown = ids[~ids.isin(truth.index)]
    if unknown.size:
        problems.append(
            f"{unknown.size} of {ids.size} 'customer_ids' are not in the truth "
            f"(e.g. {list(unknown[:3])})"
        )
    _raise("clv_truth_metrics", problems)
    expected = (
        expected_revenue(truth, as_of, horizon_days, discount_rate=discount_rate)
        .loc[ids]
        .to_numpy()
    )
    constant = np.ptp(scores) == 0 or np.ptp(expected) == 0
    return {
        "truth_spearman": math.nan if constant else float(spearmanr(scores, expected).statistic),
        "truth_top_decile_share": _top_share(scores, expected),
    }
