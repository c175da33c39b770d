"""Customer lifetime value from the BG/NBD and the Gamma-Gamma: discounted revenue over a horizon.

The BG/NBD (:mod:`models.bgnbd`) says how many purchases each customer will
make, the Gamma-Gamma (:mod:`models.clv.gamma_gamma`) what each is worth;
assuming the two independent, as both papers do, the expected revenue of a
period is the product. :class:`ProbabilisticCLV` discounts it over the horizon
step by step. Its input is one row per customer, built by
:func:`summary_from_transactions` from a transaction log or by
:func:`summary_from_features` from upseg's feature table.

References
----------
.. [1] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). RFM and CLV:
   using iso-value curves for customer base analysis. *Journal of Marketing
   Research*, 42(4), 415-430.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from upseg.models.bgnbd import BetaGeoModel, rfm_summary
from upseg.models.bgnbd._checks import _rfm_arrays, _where_bad
from upseg.models.clv.gamma_gamma import GammaGammaModel

__all__ = [
    "SUMMARY_COLUMNS",
    "ProbabilisticCLV",
    "summary_from_features",
    "summary_from_transactions",
]

#: Columns :class:`ProbabilisticCLV` needs; ``has_history`` (bool) is optional.
SUMMARY_COLUMNS = ("frequency", "recency", "T", "monetary_value")
_FEATURE_COLUMNS = (
    "frequency_lifetime",
    "recency_days",
    "days_since_first_order",
    "avg_order_value",
)


class ProbabilisticCLV(RegressorMixin, BaseEstimator):
    """Expected discounted revenue of each customer over a horizon, from BG/NBD and Gamma-Gamma.

    ``clv = E[spend per transaction] * sum_k (E[X(t_k)] - E[X(t_k-1)]) *
    (1 + discount_rate) ** (-(t_k-1 + t_k) / 2 / 365)``, over ``ceil(horizon_days / 365 *
    steps_per_year)`` equal steps ``t_0 = 0 < ... < t_K = horizon_days`` after ``T``:
    the purchases the BG/NBD expects in each step, discounted from its midpoint,
    times the Gamma-Gamma's expected spend (the population mean for ``frequency`` 0).

    Parameters
    ----------
    horizon_days : float, default 365
        Length of the future window, in days; >= 1.
    discount_rate : float, default 0.1
        Annual discount rate, >= 0 (0: undiscounted revenue).
    time_unit_days : float, default 7.0
        Days per time unit of the BG/NBD (7: its parameters are per week).
    steps_per_year : int, default 52
        Discounting steps per 365 days; >= 1.
    no_history_value : float, default 0.0
        The prediction for a customer with ``has_history`` False, who has never
        bought: the BG/NBD describes customers from their first purchase and
        has nothing to say about them, so this is the treatment, and their
        ``p_alive``, expected purchases and spend are NaN.

    Attributes
    ----------
    bgnbd_ : BetaGeoModel
        Fitted on the customers with history, times in units of ``time_unit_days``
        (refit after changing it; ``horizon_days`` and discounting may change freely).
    gamma_gamma_ : GammaGammaModel
        Fitted on the customers with history, ``frequency >= 1`` and ``monetary_value > 0``.
    n_customers_ : int
        Customers with history fitted on.
    n_excluded_spend_ : int
        Repeat customers left out of the Gamma-Gamma for ``monetary_value <= 0``;
        their expected spend is the Gamma-Gamma's given a mean spend of 0.

    Examples
    --------
    >>> X = summary_from_transactions(
    ...     orders, customer_col="customer_id", date_col="ordered_at",
    ...     amount_col="amount", calibration_end="1997-09-30",
    ... )
    >>> clv = ProbabilisticCLV(horizon_days=365, discount_rate=0.1).fit(X)
    >>> clv.predict_frame(X)  # clv, p_alive, expected_purchases, expected_spend
    """

    def __init__(
        self,
        *,
        horizon_days: float = 365,
        discount_rate: float = 0.1,
        time_unit_days: float = 7.0,
        steps_per_year: int = 52,
        no_history_value: float = 0.0,
    ):
        self.horizon_days = horizon_days
        self.discount_rate = discount_rate
        self.time_unit_days = time_unit_days
        self.steps_per_year = steps_per_year
        self.no_history_value = no_history_value

    def fit(self, X: pd.DataFrame, y: object = None) -> ProbabilisticCLV:
        """Fit the BG/NBD and the Gamma-Gamma on the customers with history.

        Parameters
        ----------
        X : DataFrame of shape (n_customers, 4 or 5)
            ``frequency`` (repeat transactions), ``recency`` and ``T`` (days from
            the first transaction to the last and to the end of observation),
            ``monetary_value`` (mean spend per transaction; finite where
            ``frequency >= 1``) and optionally ``has_history`` (bool; rows with
            False are ignored whatever their other values).
        y : None
            Ignored; the future is not needed to fit.

        Returns
        -------
        ProbabilisticCLV
            The fitted estimator.

        Raises
        ------
        ValueError
            If a parameter is invalid (all are named at once), a column is
            missing, a value is invalid (the BG/NBD's checks), or no customer
            has a repeat transaction.
        """
        self._check_settings()
        has, history, m = self._customers(X, "ProbabilisticCLV.fit")
        bgnbd = BetaGeoModel().fit(*(column[has] for column in history))
        x = history[0]
        repeat = has & (x >= 1)
        excluded = repeat & ~(m > 0)
        if excluded.any():
            warnings.warn(
                f"{int(excluded.sum())} repeat customer(s) have 'monetary_value' <= 0 "
                f"({_where_bad(excluded, m)}); the Gamma-Gamma is fitted without them, and "
                "their expected spend is the model's given a mean spend of 0",
                UserWarning,
                stacklevel=2,
            )
        spend = repeat & (m > 0)
        self.gamma_gamma_ = GammaGammaModel().fit(x[spend], m[spend])
        self.bgnbd_ = bgnbd
        self.n_customers_ = int(has.sum())
        self.n_excluded_spend_ = int(excluded.sum())
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Expected discounted revenue of each customer in ``(T, T + horizon_days]``.

        Parameters
        ----------
        X : DataFrame of shape (n_customers, 4 or 5)
            As in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_customers,)
            ``no_history_value`` where ``has_history`` is False.
        """
        return self.predict_frame(X)["clv"].to_numpy()

    def p_alive(self, X: pd.DataFrame) -> np.ndarray:
        """BG/NBD probability that each customer is still active; NaN without history."""
        check_is_fitted(self, "bgnbd_")
        has, history, _ = self._customers(X, "ProbabilisticCLV.p_alive")
        return np.where(has, self.bgnbd_.probability_alive(*history), np.nan)

    def expected_purchases(self, X: pd.DataFrame) -> np.ndarray:
        """Undiscounted expected purchases in the horizon; NaN without history."""
        check_is_fitted(self, "bgnbd_")
        has, history, _ = self._customers(X, "ProbabilisticCLV.expected_purchases")
        window = self.horizon_days / self.time_unit_days
        return np.where(has, self.bgnbd_.expected_purchases(window, *history), np.nan)

    def predict_frame(self, X: pd.DataFrame) -> pd.DataFrame:
        """Every prediction of each customer, indexed as ``X``.

        Returns
        -------
        DataFrame of shape (n_customers, 4)
            ``clv`` (as :meth:`predict`), ``p_alive``, ``expected_purchases``
            (undiscounted, over the horizon) and ``expected_spend`` (per transaction).
        """
        check_is_fitted(self, "bgnbd_")
        self._check_settings()  # horizon and discounting may be changed after fit
        has, history, m = self._customers(X, "ProbabilisticCLV.predict")
        x = history[0]
        steps = math.ceil(self.horizon_days / 365 * self.steps_per_year)
        edges = np.linspace(0.0, float(self.horizon_days), steps + 1)
        unit = float(self.time_unit_days)
        cumulative = [np.zeros(x.size)]
        cumulative += [self.bgnbd_.expected_purchases(t / unit, *history) for t in edges[1:]]
        per_step = np.diff(np.column_stack(cumulative), axis=1)
        midpoints = (edges[:-1] + edges[1:]) / 2
        discount = (1.0 + self.discount_rate) ** (-midpoints / 365)
        spend = self.gamma_gamma_.conditional_expected_average_profit(
            x, np.where(x >= 1, np.clip(m, 0, None), 0.0)
        )
        frame = pd.DataFrame(
            {
                "clv": spend * (per_step @ discount),
                "p_alive": self.bgnbd_.probability_alive(*history),
                "expected_purchases": cumulative[-1],
                "expected_spend": spend,
            },
            index=X.index,
        )
        frame.loc[~has, :] = np.nan
        frame.loc[~has, "clv"] = float(self.no_history_value)
        return frame

    def _customers(
        self, X: pd.DataFrame, where: str
    ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
        """``has_history``, the BG/NBD's ``(x, t_x, T)`` in its unit, and ``monetary_value``.

        Validated, with rows without history read as zeros so that an error's
        positions are rows of ``X``.
        """
        if not isinstance(X, pd.DataFrame):
            raise ValueError(
                f"X of {where} must be a pandas DataFrame with columns {list(SUMMARY_COLUMNS)}; "
                f"got {type(X).__name__}"
            )
        errors = []
        missing = [c for c in SUMMARY_COLUMNS if c not in X.columns]
        if missing:
            errors.append(f"columns {missing} are missing; found {list(X.columns)}")
        has = np.ones(len(X), bool)
        if "has_history" in X.columns:
            flags = X["has_history"]
            if not (flags.notna() & flags.isin([True, False])).all():
                bad = ~(flags.notna() & flags.isin([True, False])).to_numpy()
                errors.append(
                    "'has_history' must be True or False; "
                    f"{_where_bad(bad, flags.to_numpy(dtype=object))}"
                )
            else:
                has = flags.to_numpy(dtype=bool)
        if errors:
            raise ValueError(f"{len(errors)} error(s) in X of {where}: " + "; ".join(errors))
        x, t_x, T = _rfm_arrays(
            *(X[c].where(has, 0) for c in ("frequency", "recency", "T")), where=f"{where} (X)"
        )
        try:
            m = np.where(has, X["monetary_value"].to_numpy(dtype=float, na_value=np.nan), 0.0)
        except (TypeError, ValueError):
            raise ValueError(f"'monetary_value' of X of {where} must be numbers") from None
        unknown = (x >= 1) & ~np.isfinite(m)
        if unknown.any():
            raise ValueError(
                f"'monetary_value' of X of {where} must be finite where 'frequency' >= 1; "
                f"{_where_bad(unknown, m)}"
            )
        unit = float(self.time_unit_days)
        return has, (x, t_x / unit, T / unit), m

    def _check_settings(self) -> None:
        """Raise one ValueError naming every bad constructor parameter."""
        errors = []
        checks = (
            ("horizon_days", self.horizon_days, lambda v: v >= 1, "a number >= 1"),
            ("discount_rate", self.discount_rate, lambda v: v >= 0, "a finite number >= 0"),
            ("time_unit_days", self.time_unit_days, lambda v: v > 0, "a positive number"),
            ("no_history_value", self.no_history_value, lambda v: True, "a finite number"),
        )
        for name, value, allowed, wording in checks:
            number = isinstance(value, int | float | np.number) and not isinstance(value, bool)
            if not (number and np.isfinite(value) and allowed(value)):
                errors.append(f"'{name}' must be {wording}; got {value!r}")
        steps = self.steps_per_year
        if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 1:
            errors.append(f"'steps_per_year' must be an int >= 1; got {steps!r}")
        if errors:
            raise ValueError(
                f"{len(errors)} error(s) in ProbabilisticCLV parameters: " + "; ".join(errors)
            )


def summary_from_features(features: pd.DataFrame) -> pd.DataFrame:
    """The input of :class:`ProbabilisticCLV` from upseg's point-in-time feature table.

    ``frequency = frequency_lifetime - 1`` (at least 0), ``recency =
    days_since_first_order - recency_days``, ``T = days_since_first_order``,
    ``monetary_value = avg_order_value`` and ``has_history = frequency_lifetime > 0``;
    customers without an order get zeros. Two differences from the
    transaction-log convention of :func:`summary_from_transactions`: completed
    orders count, not distinct days (two orders on one day are two
    transactions), and ``monetary_value`` is the mean of all orders, the first
    included, so the Gamma-Gamma fitted on it is not the papers'.

    Parameters
    ----------
    features : DataFrame
        With ``frequency_lifetime``, ``recency_days``, ``days_since_first_order``
        and ``avg_order_value`` (see :mod:`features.rfm`; nulls without an order).

    Returns
    -------
    DataFrame indexed as ``features``
        ``frequency`` (int), ``recency``, ``T``, ``monetary_value`` and ``has_history``.
    """
    missing = [c for c in _FEATURE_COLUMNS if c not in features.columns]
    if missing:
        raise ValueError(
            f"summary_from_features needs columns {missing} of the feature table; "
            f"found {list(features.columns)}"
        )
    orders = features["frequency_lifetime"].astype(float).fillna(0)
    has = orders > 0
    first = features["days_since_first_order"].astype(float)
    return pd.DataFrame(
        {
            "frequency": (orders - 1).clip(lower=0).astype("int64"),
            "recency": (first - features["recency_days"].astype(float)).where(orders > 1, 0.0),
            "T": first.where(has, 0.0),
            "monetary_value": features["avg_order_value"].astype(float).where(has, 0.0),
            "has_history": has,
        },
        index=features.index,
    )


def summary_from_transactions(
    transactions: pd.DataFrame,
    *,
    customer_col: str,
    date_col: str,
    amount_col: str,
    calibration_end: object,
) -> pd.DataFrame:
    """The input of :class:`ProbabilisticCLV` from a transaction log, in the papers' convention.

    Purchases on one calendar day are one transaction worth their sum; only
    days up to ``calibration_end`` count. ``frequency``, ``recency`` and ``T``
    are those of :func:`~models.bgnbd.rfm_summary` in days, and
    ``monetary_value`` is the mean of the repeat transactions, the first left
    out (0 without a repeat), as in Fader, Hardie & Lee (2005) and ``lifetimes``.

    Parameters
    ----------
    transactions : DataFrame
        One row per purchase.
    customer_col, date_col, amount_col : str
        Columns holding the customer id, the purchase date and its value.
    calibration_end : str or Timestamp
        Last day of the calibration period, inclusive.

    Returns
    -------
    DataFrame indexed by customer
        ``frequency`` (int), ``recency``, ``T`` (days), ``monetary_value`` and
        ``has_history`` (True: everyone listed has bought).
    """
    columns = (customer_col, date_col, amount_col)
    missing = [c for c in columns if c not in transactions.columns]
    if missing:
        raise ValueError(
            f"summary_from_transactions: columns {missing} are missing; "
            f"found {list(transactions.columns)}"
        )
    amounts = pd.to_numeric(transactions[amount_col], errors="coerce")
    if amounts.isna().any():
        rows = list(transactions.index[amounts.isna()][:5])
        raise ValueError(
            f"Column {amount_col!r} of summary_from_transactions' transactions must hold "
            f"numbers; {int(amounts.isna().sum())} rows do not, e.g. index {rows}"
        )
    summary = rfm_summary(
        transactions,
        customer_col=customer_col,
        date_col=date_col,
        calibration_end=calibration_end,
        time_unit_days=1.0,
    )
    days = pd.to_datetime(transactions[date_col]).dt.normalize()
    daily = (
        pd.DataFrame({"customer": transactions[customer_col], "day": days, "amount": amounts})
        .groupby(["customer", "day"], sort=True)["amount"]
        .sum()
        .reset_index()
    )
    # A customer's calibration days are their first frequency + 1 days; the first is not a repeat.
    rank = daily.groupby("customer").cumcount()
    repeats = daily["customer"].map(summary["frequency"])
    repeat = daily[(rank >= 1) & (rank <= repeats)]
    spend = repeat.groupby("customer")["amount"].mean()
    summary["monetary_value"] = spend.reindex(summary.index).fillna(0.0).to_numpy()
    summary["has_history"] = True
    return summary
