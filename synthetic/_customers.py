"""Customers of the synthetic world: latent traits, attributes and lifecycle stages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from upseg.synthetic._tables import categorical, timestamps
from upseg.synthetic.params import (
    AOV_MEAN,
    AOV_SIGMA,
    BAD_ADDRESS_P,
    CATEGORIES,
    CHANNELS,
    COUNTRIES,
    GENDERS,
    LAPSING_DAYS,
    LIFETIME_YEARS,
    NEW_DAYS,
    RATE_MEAN,
    RATE_SHAPE,
    TIER_THRESHOLDS,
    TIERS,
    WEB_SESSIONS_PER_YEAR,
    YEAR,
)

__all__ = [
    "PERSONA_TRAITS",
    "customers_table",
    "draw_categories",
    "draw_codes",
    "dropout_time",
    "irrelevant_columns",
    "latent_traits",
    "lifecycle_stage",
    "loyalty_tier",
    "replace_traits",
]

#: Traits a persona replaces (:mod:`upseg.synthetic.personas`); dropout and tier follow them.
PERSONA_TRAITS = ("lam", "aov", "open_p", "click_p", "web_rate", "disc_aff")


def draw_codes(options: tuple[tuple, tuple], n: int, rng: np.random.Generator) -> np.ndarray:
    """Codes of ``options[0]`` drawn with probabilities ``options[1]``."""
    return rng.choice(len(options[0]), size=n, p=options[1]).astype(np.int8)


def dropout_time(signup: np.ndarray, lam: np.ndarray, life: np.ndarray) -> np.ndarray:
    """Dropout (days since start): ``life`` standard exponential draws scaled by the order rate.

    The mean time to dropout is ``LIFETIME_YEARS`` at ``RATE_MEAN`` orders a year
    and grows with the square root of the rate: slower buyers drop out sooner.
    """
    return signup + YEAR * LIFETIME_YEARS * np.sqrt(lam / RATE_MEAN) * life


def loyalty_tier(lam: np.ndarray, aov: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Loyalty tier codes (bronze, silver, gold) from noisy expected yearly spend."""
    return np.searchsorted(TIER_THRESHOLDS, lam * aov * noise).astype(np.int8)


def latent_traits(n: int, horizon: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-customer latent traits and attributes (times in days since start).

    ``life`` and ``tier_noise`` are the raw draws that dropout and loyalty tier
    are built from, kept so that :func:`replace_traits` can rebuild both.
    """
    # signup density grows linearly to 3x its initial value: inverse CDF of 1 + 2x
    signup = horizon * (np.sqrt(1 + 8 * rng.random(n)) - 1) / 2
    lam = rng.gamma(RATE_SHAPE, RATE_MEAN / RATE_SHAPE, n)
    aov = AOV_MEAN * rng.lognormal(-(AOV_SIGMA**2) / 2, AOV_SIGMA, n)
    pref = rng.dirichlet(np.full(len(CATEGORIES), 0.6), n)
    # the draws stay in their original order, so that every seed keeps its world
    life = rng.standard_exponential(n)
    lat = {
        "signup": signup,
        "lam": lam,
        "aov": aov,
        "life": life,
        "churn": dropout_time(signup, lam, life),
        "pref_cum": np.cumsum(pref, axis=1),
        "breadth": (1 / np.square(pref).sum(axis=1) - 1) / (len(CATEGORIES) - 1),
        "open_p": rng.beta(2.0, 6.0, n),
        "click_p": rng.beta(1.5, 8.5, n),
        "web_rate": WEB_SESSIONS_PER_YEAR * (lam / RATE_MEAN) ** 0.7 * rng.lognormal(-0.08, 0.4, n),
        "disc_aff": rng.beta(2.0, 5.0, n),
        "opt_in": rng.random(n) < 0.85,
        "bad_address": rng.random(n) < BAD_ADDRESS_P,
        "country": draw_codes(COUNTRIES, n, rng),
        "gender": draw_codes(GENDERS, n, rng),
        "channel": draw_codes(CHANNELS, n, rng),
        "birth_year": np.clip(np.round(rng.normal(1985, 13, n)), 1940, 2008).astype(np.int16),
        "tier_noise": rng.lognormal(0.0, 0.3, n),
    }
    lat["tier"] = loyalty_tier(lam, aov, lat["tier_noise"])
    return lat


def replace_traits(lat: dict, traits: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``lat`` with ``traits`` (a subset of ``PERSONA_TRAITS``) replaced; dropout and tier follow.

    Dropout keeps each customer's exponential draw, rescaled to the new order
    rate; the loyalty tier keeps its noise and takes the new rate and order value.
    """
    unknown = sorted(set(traits) - set(PERSONA_TRAITS))
    if unknown:
        raise ValueError(f"replace_traits takes {list(PERSONA_TRAITS)}; got {unknown}")
    new = {**lat, **traits}
    new["churn"] = dropout_time(new["signup"], new["lam"], new["life"])
    new["tier"] = loyalty_tier(new["lam"], new["aov"], new["tier_noise"])
    return new


def draw_categories(pref_cum: np.ndarray, cust: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Category codes drawn from each row's customer preference."""
    u, out = rng.random(cust.size), np.zeros(cust.size, np.int8)
    for j in range(pref_cum.shape[1] - 1):
        out += u >= pref_cum[cust, j]
    return out


def lifecycle_stage(signup: np.ndarray, churn: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Lifecycle stage codes (new, active, lapsing, churned) at time ``t``."""
    lapsed, new = t >= churn + LAPSING_DAYS, t - signup < NEW_DAYS
    return np.select([lapsed, t >= churn, new], [3, 2, 0], 1).astype(np.int8)


def customers_table(
    lat: dict, unsub_at: np.ndarray, cid: pa.Array, start: pd.Timestamp
) -> pd.DataFrame:
    """The ``customers`` table."""
    return pd.DataFrame(
        {
            "customer_id": cid.to_pandas(),
            "signup_at": timestamps(start, lat["signup"]),
            "email_opt_in": lat["opt_in"],
            "unsubscribed_at": timestamps(start, unsub_at),
            "country": categorical(lat["country"], COUNTRIES[0]),
            "gender": categorical(lat["gender"], GENDERS[0]),
            "birth_year": lat["birth_year"],
            "acquisition_channel": categorical(lat["channel"], CHANNELS[0]),
            "loyalty_tier": categorical(lat["tier"], TIERS),
        }
    )


def irrelevant_columns(n: int, k: int, rng: np.random.Generator) -> dict[str, object]:
    """``k`` customer attributes ``attr_01``... that nothing in the world depends on.

    They take turns being a normal number, a skewed amount, a count and a
    category, each with its own location, scale or levels, so that they look
    like the attributes a real customer table carries.
    """
    columns: dict[str, object] = {}
    for j in range(k):
        kind, size = j % 4, rng.uniform(0.5, 3.0)
        if kind == 0:
            values: object = np.round(rng.normal(rng.normal(0, 10), size, n), 3)
        elif kind == 1:
            values = np.round(rng.lognormal(np.log(20 * size), 0.6, n), 2)
        elif kind == 2:
            values = rng.poisson(size, n).astype(np.int64)
        else:
            levels = [f"{chr(97 + j % 26)}{i}" for i in range(2 + j % 5)]
            codes = rng.choice(len(levels), n, p=rng.dirichlet(np.full(len(levels), 2.0)))
            values = categorical(codes.astype(np.int8), levels)
        columns[f"attr_{j + 1:02d}"] = values
    return columns
