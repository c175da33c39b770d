"""Outcomes of a campaign sent to a scored audience, simulated from the synthetic world's truth.

The demo closes the loop — score an audience, send, measure — without waiting
two weeks: customers the audience marks ``send`` get the e-mail (its
recommended variant), those it marks ``holdout`` do not, and each customer's
conversion in the window is drawn from the world's latent purchase rate and
true treatment effect (``truth.parquet``). Because the truth is known, the
measured lift can be checked against it.

The true effects in ``truth.parquet`` were drawn for the world's own campaign
(:data:`upseg.synthetic.params.CAMPAIGN_ASSIGNED_AT`); a campaign a few weeks later
reuses them, and a customer outside that campaign gets no effect.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from upseg.synthetic.params import COMPLETED_SHARE, OUTCOME_WINDOW_DAYS, YEAR

__all__ = ["COMPLETED_SHARE", "simulate_campaign"]


def _baseline(truth: pd.DataFrame, assigned_at: pd.Timestamp, window_days: int) -> np.ndarray:
    """P(at least one completed order in the window) without the e-mail."""
    churned = pd.to_datetime(truth["churned_at"], utc=True)
    end = assigned_at + pd.Timedelta(days=window_days)
    alive_until = churned.where(churned.notna() & (churned < end), end)
    alive_days = ((alive_until - assigned_at).dt.total_seconds() / 86_400).clip(lower=0)
    mu = COMPLETED_SHARE * truth["purchase_rate"].to_numpy() * alive_days.to_numpy() / YEAR
    return -np.expm1(-mu)


def simulate_campaign(
    truth: pd.DataFrame,
    audience: pd.DataFrame,
    *,
    assigned_at: pd.Timestamp,
    window_days: int = OUTCOME_WINDOW_DAYS,
    seed: int = 0,
) -> pd.DataFrame:
    """Conversion and revenue of the audience's ``send`` and ``holdout`` customers.

    Parameters
    ----------
    truth : pandas.DataFrame
        The world's ``truth.parquet``.
    audience : pandas.DataFrame
        The scorer's audience: ``customer_id``, ``action`` and ``best_variant``.
    assigned_at : pandas.Timestamp
        When the e-mail goes out (UTC).
    window_days : int, default 14
        Outcome window.
    seed : int, default 0

    Returns
    -------
    pandas.DataFrame
        One row per ``send`` or ``holdout`` customer: ``customer_id``, ``arm``
        (``email`` or ``control``), ``variant`` sent, ``conversion`` (0/1),
        ``revenue``, ``baseline_probability`` and ``true_uplift`` (the
        effect of the e-mail on this customer's conversion probability).

    Raises
    ------
    ValueError
        A column is missing, or an audience customer is not in the truth.
    """
    needed = {
        "audience": ("customer_id", "action", "best_variant"),
        "truth": ("customer_id", "churned_at", "purchase_rate", "avg_order_value"),
    }
    for name, frame in (("audience", audience), ("truth", truth)):
        missing = [c for c in needed[name] if c not in frame.columns]
        if missing:
            raise ValueError(f"simulate_campaign: the {name} lacks column(s) {missing}.")
    chosen = audience.loc[
        audience["action"].isin(["send", "holdout"]), ["customer_id", "action", "best_variant"]
    ]
    chosen = chosen.assign(customer_id=chosen["customer_id"].astype(str))
    world = truth.assign(customer_id=truth["customer_id"].astype(str))
    rows = chosen.merge(world, on="customer_id", how="left", indicator=True)
    unknown = int((rows.pop("_merge") != "both").sum())
    if unknown:
        raise ValueError(
            f"simulate_campaign: {unknown} audience customer(s) are not in the truth; the "
            "audience must come from the same synthetic world."
        )
    p0 = _baseline(rows, assigned_at, window_days)
    variant = rows["best_variant"].astype(str).to_numpy()
    tau = np.zeros(len(rows))
    for name in np.unique(variant):
        column = f"tau_conversion_{name}"
        if column in rows:
            here = variant == name
            tau[here] = rows.loc[here, column].fillna(0.0).to_numpy()
    treated_p = np.clip(p0 + tau, 0.0, 1.0)
    sent = (rows["action"] == "send").to_numpy()
    rng = np.random.default_rng(seed)
    converted = rng.random(len(rows)) < np.where(sent, treated_p, p0)
    # order value around the customer's average; gamma(4) noise has mean 1
    amount = rows["avg_order_value"].to_numpy() * rng.gamma(4.0, 0.25, len(rows))
    return pd.DataFrame(
        {
            "customer_id": rows["customer_id"].to_numpy(),
            "arm": np.where(sent, "email", "control"),
            "variant": np.where(sent, variant, "control"),
            "conversion": converted.astype(np.int8),
            "revenue": np.where(converted, amount.round(2), 0.0),
            "baseline_probability": p0,
            "true_uplift": treated_p - p0,
        }
    )
