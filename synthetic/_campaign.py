"""The synthetic world's randomized campaign: segments, true effects, and their orders.

Customers who can be e-mailed on the campaign day are randomized to
``CAMPAIGN_VARIANTS``; each gets an uplift segment and a true effect per
treatment, which is then applied to the orders exactly and written to the truth.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from upseg.synthetic._customers import lifecycle_stage
from upseg.synthetic._effects import calibrate_gain, index_effects, last_completed_order
from upseg.synthetic._email import unsubscribe
from upseg.synthetic._orders import order_rows
from upseg.synthetic._tables import categorical, timestamps
from upseg.synthetic.effects import DEFAULT_EFFECTS, EffectSpec
from upseg.synthetic.params import (
    ACTIVE_LIFT,
    CAMPAIGN_ID,
    CAMPAIGN_VARIANTS,
    COMPLETED_SHARE,
    DAY_US,
    DISCOUNT_RATES,
    DISCOUNT_USE,
    LOW_ENGAGEMENT,
    MANY_MAILS,
    OUTCOME_WINDOW_DAYS,
    SEGMENTS,
    SLEEPING_DOG_LOSS,
    SLEEPING_DOG_UNSUB_P,
    STAGES,
    SURE_THING_RATE,
    WINBACK_LIFT,
    YEAR,
)

__all__ = ["apply_treatment_effects", "assignments_table", "randomize_campaign", "truth_table"]


def _uplift_segment(
    stage: np.ndarray, lam: np.ndarray, open_p: np.ndarray, n_mails: np.ndarray
) -> np.ndarray:
    """Segment codes (persuadable, sure_thing, lost_cause, sleeping_dog) from latent traits."""
    alive = stage <= 1
    lost = (stage == 3) | ((stage == 2) & (open_p < LOW_ENGAGEMENT))
    sure = alive & (lam >= SURE_THING_RATE)
    dog = alive & ~sure & (open_p < LOW_ENGAGEMENT) & (n_mails >= MANY_MAILS)
    return np.select([lost, sure, dog], [2, 1, 3], 0).astype(np.int8)


def _persuaded(
    stage: np.ndarray, open_p: np.ndarray, disc_aff: np.ndarray, breadth: np.ndarray
) -> np.ndarray:
    """A persuadable's effect per variant by the rules, shape (n, 2), before any cap."""
    lift = np.where(stage == 2, WINBACK_LIFT, ACTIVE_LIFT) * np.clip(open_p / 0.25, 0, 2)
    return np.column_stack([lift * (0.3 + 2.5 * disc_aff), lift * (0.2 + 1.6 * breadth)])


def _true_uplift(
    segment: np.ndarray,
    stage: np.ndarray,
    p0: np.ndarray,
    open_p: np.ndarray,
    disc_aff: np.ndarray,
    breadth: np.ndarray,
    gain: float = 1.0,
) -> np.ndarray:
    """True effect on P(conversion), shape (n, 2) for (discount_10, new_arrivals).

    ``gain`` scales the persuadables' effects (1.0 leaves them as the rules give).
    """
    persuaded = gain * _persuaded(stage, open_p, disc_aff, breadth)
    annoyed = -p0[:, None] * np.array(SLEEPING_DOG_LOSS)
    tau = np.where(
        (segment == 0)[:, None], persuaded, np.where((segment == 3)[:, None], annoyed, 0.0)
    )
    return np.minimum(tau, 1 - p0[:, None])


def _segment_effects(
    effects: EffectSpec, segment: np.ndarray, stage: np.ndarray, p0: np.ndarray, ctx: dict
) -> np.ndarray:
    """The segment rules' true effects, scaled to ``effects.mean_effect`` when it is set."""
    open_p, disc_aff, breadth = ctx["open_p"], ctx["disc_aff"], ctx["breadth"]
    traits = (segment, stage, p0, open_p, disc_aff, breadth)
    if effects.mean_effect is None or p0.size == 0:
        return _true_uplift(*traits)
    persuadable = (segment == 0)[:, None]
    fixed = np.where(persuadable, 0.0, _true_uplift(*traits))  # sleeping dogs' losses
    raw = np.where(persuadable, _persuaded(stage, open_p, disc_aff, breadth), 0.0)
    cap = np.where(persuadable, 1 - p0[:, None], 0.0)
    gain = calibrate_gain(raw, fixed, cap, effects.mean_effect / 100)
    return _true_uplift(*traits, gain=gain)


def randomize_campaign(
    lat: dict,
    state: dict,
    t0: float,
    rng: np.random.Generator,
    *,
    effects: EffectSpec = DEFAULT_EFFECTS,
    orders: dict | None = None,
    noise: np.random.Generator | None = None,
) -> dict[str, np.ndarray]:
    """Randomize the e-mailable customers to variants; their p0, segment and true effects.

    ``orders`` (the history so far, for the recency driver) and ``noise`` (a stream
    apart from ``rng``) are needed by the driver-based shapes of ``effects`` only.
    """
    assigned = t0 + (10 + 2 * rng.random(lat["signup"].size)) / 24
    idx = np.flatnonzero(
        lat["opt_in"]
        & (lat["signup"] < t0)
        & (state["unsub_at"] > assigned)
        & (state["suppressed_at"] > assigned)
    ).astype(np.int32)
    a, churn, lam, open_p = assigned[idx], lat["churn"][idx], lat["lam"][idx], lat["open_p"][idx]
    # completed orders in the window are Poisson(mu), so p0 = P(N >= 1) exactly
    alive_days = np.clip(np.minimum(churn, a + OUTCOME_WINDOW_DAYS) - a, 0, None)
    mu = COMPLETED_SHARE * lam * alive_days / YEAR
    p0 = -np.expm1(-mu)
    stage = lifecycle_stage(lat["signup"][idx], churn, a)
    ctx = {k: lat[k][idx] for k in ("open_p", "disc_aff", "lam", "breadth", "signup")}
    segment = _uplift_segment(stage, lam, open_p, state["n_delivered"][idx])
    if effects.shape == "segments":
        tau = _segment_effects(effects, segment, stage, p0, ctx)
    else:
        if orders is None or noise is None:
            raise ValueError(f"shape {effects.shape!r} needs the orders so far and a noise stream")
        ctx |= {"assigned": a, "n_delivered": state["n_delivered"][idx]}
        ctx["last_order"] = last_completed_order(orders, idx, a)
        tau, segment = index_effects(effects, ctx, p0, stage <= 1, noise)
    variant = rng.integers(0, len(CAMPAIGN_VARIANTS), idx.size).astype(np.int8)
    return {
        "idx": idx,
        "assigned": a,
        "variant": variant,
        "p0": p0,
        "mu": mu,
        "segment": segment,
        "tau": tau,
    }


def _revenue_uplift(camp: dict, lat: dict) -> np.ndarray:
    """Expected change in completed revenue in the window, shape (n, 2)."""
    aov, aff = lat["aov"][camp["idx"]], lat["disc_aff"][camp["idx"]]
    mean_amount = aov * (1 - DISCOUNT_USE * aff * np.mean(DISCOUNT_RATES))
    # removing every window order loses E[revenue | N >= 1] = mean_amount * mu / p0
    lost = np.divide(
        mean_amount * camp["mu"], camp["p0"], out=np.zeros_like(aov), where=camp["p0"] > 0
    )
    tau = camp["tau"]
    return np.where(tau > 0, tau * aov[:, None] * [0.9, 1.0], tau * lost[:, None])


def apply_treatment_effects(
    orders: dict, camp: dict, lat: dict, state: dict, code: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Add or remove window orders so that P(conversion) = p0 + tau; annoy sleeping dogs."""
    n, v, p0 = lat["signup"].size, camp["variant"], camp["p0"]
    a = np.full(n, np.inf)
    a[camp["idx"]] = camp["assigned"]
    c, t = orders["cust"], orders["t"]
    in_window = (orders["status"] == 0) & (t >= a[c]) & (t < a[c] + OUTCOME_WINDOW_DAYS)
    converted = np.bincount(c[in_window], minlength=n)[camp["idx"]] > 0
    tau = np.where(v > 0, camp["tau"][np.arange(v.size), np.maximum(v - 1, 0)], 0.0)
    u = rng.random(v.size)
    add = (tau > 0) & ~converted & (u * (1 - p0) < tau)  # u < tau / (1 - p0)
    drop = np.zeros(n, bool)
    drop[camp["idx"][(tau < 0) & converted & (u * p0 < -tau)]] = True  # u < -tau / p0
    t_new = camp["assigned"][add] + OUTCOME_WINDOW_DAYS * rng.random(add.sum())
    new = order_rows(camp["idx"][add], t_new, lat, rng, np.where(v[add] == 1, 0.1, 0.0))
    annoyed = (v > 0) & (camp["segment"] == 3) & (rng.random(v.size) < SLEEPING_DOG_UNSUB_P)
    delay = np.minimum(rng.exponential(1.0, v.size), OUTCOME_WINDOW_DAYS - 1)
    unsubscribe(camp["idx"][annoyed], (camp["assigned"] + delay)[annoyed], code, state)
    keep = ~(in_window & drop[c])
    return {k: np.concatenate([orders[k][keep], new[k]]) for k in orders}


def assignments_table(camp: dict, cid: pa.Array, start: pd.Timestamp) -> pd.DataFrame:
    """The ``campaign_assignments`` table."""
    return pd.DataFrame(
        {
            "customer_id": cid.take(camp["idx"]).to_pandas(),
            "campaign_id": categorical(np.zeros(camp["idx"].size, np.int8), [CAMPAIGN_ID]),
            "variant": categorical(camp["variant"], CAMPAIGN_VARIANTS),
            "assigned_at": timestamps(start, camp["assigned"]),
        }
    )


def _expected_order_value(aov: np.ndarray, disc_aff: np.ndarray) -> np.ndarray:
    """Mean amount of a base order as ``order_rows`` draws it: E[gross] - E[discount].

    The gross amount has mean ``aov``; whether a discount is used, its rate and the
    status are drawn apart from it, so the mean is the same for every status.
    """
    return aov * (1 - DISCOUNT_USE * disc_aff * np.mean(DISCOUNT_RATES))


def truth_table(
    lat: dict, camp: dict, customer_id: pd.Series, start: pd.Timestamp, horizon: float
) -> pd.DataFrame:
    """Per-customer latent truth and true campaign effects (NaN outside the campaign).

    ``active_from``, ``active_until`` (dropout, also when after the world's end),
    ``purchase_rate`` (base orders per year of 365.25 days), ``expected_order_value``
    and ``world_end`` are what :func:`upseg.synthetic.value.expected_revenue` needs.
    """

    def spread(values: np.ndarray, fill: float = np.nan) -> np.ndarray:
        out = np.full(lat["signup"].size, fill)
        out[camp["idx"]] = values
        return out

    truth = pd.DataFrame(
        {
            "customer_id": customer_id,
            "churned_at": timestamps(start, np.where(lat["churn"] < horizon, lat["churn"], np.nan)),
            "lifecycle_stage_at_end": categorical(
                lifecycle_stage(lat["signup"], lat["churn"], horizon), STAGES
            ),
            "purchase_rate": lat["lam"],
            "avg_order_value": lat["aov"],
            "open_probability": lat["open_p"],
            "baseline_conversion": spread(camp["p0"]),
            "uplift_segment": categorical(spread(camp["segment"], -1).astype(np.int8), SEGMENTS),
        }
    )
    revenue = _revenue_uplift(camp, lat)
    for j, variant in enumerate(CAMPAIGN_VARIANTS[1:]):
        truth[f"tau_conversion_{variant}"] = spread(camp["tau"][:, j])
        truth[f"tau_revenue_{variant}"] = spread(revenue[:, j])
    truth["active_from"] = timestamps(start, lat["signup"])
    truth["active_until"] = timestamps(start, lat["churn"])
    truth["expected_order_value"] = _expected_order_value(lat["aov"], lat["disc_aff"])
    # the end itself, not start + days floored to microseconds, which may fall 1 us short
    end = start + pd.Timedelta(microseconds=round(horizon * DAY_US))
    truth["world_end"] = end.as_unit("us")
    return truth
