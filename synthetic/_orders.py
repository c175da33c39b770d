"""Orders of the synthetic world: Poisson purchases at each customer's latent rate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from upseg.synthetic._customers import draw_categories, draw_codes
from upseg.synthetic._tables import categorical, sorted_rows, string_ids, timestamps
from upseg.synthetic.params import (
    AMOUNT_SIGMA,
    CATEGORIES,
    DISCOUNT_RATES,
    DISCOUNT_USE,
    STATUSES,
    YEAR,
)

__all__ = ["base_orders", "order_rows", "orders_table"]


def order_rows(
    cust: np.ndarray,
    t: np.ndarray,
    lat: dict,
    rng: np.random.Generator,
    campaign_discount: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Order rows; campaign orders are completed and carry ``campaign_discount``."""
    m = cust.size
    gross = lat["aov"][cust] * rng.lognormal(-(AMOUNT_SIGMA**2) / 2, AMOUNT_SIGMA, m)
    if campaign_discount is None:
        status = draw_codes(STATUSES, m, rng)
        uses = rng.random(m) < DISCOUNT_USE * lat["disc_aff"][cust]
        rate = np.where(uses, rng.choice(DISCOUNT_RATES, m), 0.0)
    else:
        status, rate = np.zeros(m, np.int8), campaign_discount
    discount = np.round(gross * rate, 2)
    return {
        "cust": cust,
        "t": t,
        "amount": np.round(gross, 2) - discount,
        "status": status,
        "category": draw_categories(lat["pref_cum"], cust, rng),
        "discount": discount,
    }


def base_orders(lat: dict, horizon: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Poisson orders at rate lambda between signup and min(dropout, end)."""
    span = np.minimum(lat["churn"], horizon) - lat["signup"]
    cust = np.repeat(np.arange(span.size, dtype=np.int32), rng.poisson(lat["lam"] * span / YEAR))
    return order_rows(cust, lat["signup"][cust] + rng.random(cust.size) * span[cust], lat, rng)


def orders_table(orders: dict, cid: pa.Array, start: pd.Timestamp) -> pd.DataFrame:
    """The ``orders`` table, in time order so that order ids follow it."""
    o = sorted_rows(dict(orders), np.ones(orders["t"].size, bool), ("cust", "t"))
    return pd.DataFrame(
        {
            "order_id": string_ids("O", o["cust"].size, 9).to_pandas(),
            "customer_id": cid.take(o["cust"]).to_pandas(),
            "ordered_at": timestamps(start, o["t"]),
            "amount": o["amount"],
            "category": categorical(o["category"], CATEGORIES),
            "status": categorical(o["status"], STATUSES[0]),
            "discount": o["discount"],
        }
    )
