"""Web events of the synthetic world: browsing sessions and a checkout before every order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from upseg.synthetic._customers import draw_categories
from upseg.synthetic._tables import categorical, sorted_rows, string_ids, timestamps
from upseg.synthetic.params import CATEGORIES, DORMANT_WEB, MINUTE, WEB_TYPES, YEAR

__all__ = ["web_events_table"]


def _browsing_sessions(lat: dict, horizon: float, rng: np.random.Generator) -> dict:
    """Browsing sessions: page_view, maybe search, product views, maybe an abandoned cart."""
    signup, stop = lat["signup"], np.minimum(lat["churn"], horizon)
    ids = np.arange(signup.size, dtype=np.int32)
    active = np.repeat(ids, rng.poisson(lat["web_rate"] * (stop - signup) / YEAR))
    dormant = np.repeat(ids, rng.poisson(DORMANT_WEB * lat["web_rate"] * (horizon - stop) / YEAR))
    cust = np.concatenate([active, dormant])
    t0 = np.concatenate(
        [
            signup[active] + rng.random(active.size) * (stop - signup)[active],
            stop[dormant] + rng.random(dormant.size) * (horizon - stop)[dormant],
        ]
    )
    n = cust.size
    search, views, cart = rng.random(n) < 0.3, 1 + rng.poisson(0.8, n), rng.random(n) < 0.12
    size = 1 + search + views + cart
    first = np.cumsum(size) - size
    sess = np.repeat(np.arange(n, dtype=np.int32), size)
    pos = (np.arange(sess.size) - np.repeat(first, size)).astype(np.int8)
    kind = np.select(
        [pos == 0, (pos == 1) & search[sess], pos < 1 + search[sess] + views[sess]], [0, 4, 1], 2
    ).astype(np.int8)
    gap = np.where(pos == 0, 0.0, rng.exponential(1.5 * MINUTE, sess.size)).cumsum()
    cat = np.where((kind == 1) | (kind == 2), draw_categories(lat["pref_cum"], cust[sess], rng), -1)
    return {
        "cust": cust,
        "start": t0,
        "sess": sess,
        "pos": pos,
        "kind": kind,
        "t": t0[sess] + gap - np.repeat(gap[first], size),
        "cat": cat.astype(np.int8),
    }


def web_events_table(
    lat: dict,
    orders: dict,
    cid: pa.Array,
    start: pd.Timestamp,
    horizon: float,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The ``web_events`` table: browsing sessions and a checkout session before every order."""
    b = _browsing_sessions(lat, horizon, rng)
    oc, ot, m = orders["cust"], orders["t"], orders["cust"].size
    # product_view, add_to_cart, checkout_started within the hour before the order, after signup
    lead = np.minimum(rng.uniform(5, 55, m) * MINUTE, ot - lat["signup"][oc])
    s_cust = np.concatenate([b["cust"], oc])
    by_start = np.lexsort((np.concatenate([b["start"], ot - lead]), s_cust))
    rank = np.empty_like(by_start)  # session ids follow (customer, start)
    rank[by_start] = np.arange(by_start.size)
    checkout_sess = b["cust"].size + np.repeat(np.arange(m, dtype=np.int32), 3)
    # popping frees each browsing column as soon as it is merged
    ev = {
        "sess": rank[np.concatenate([b.pop("sess"), checkout_sess])],
        "t": np.concatenate([b.pop("t"), (ot[:, None] - lead[:, None] * [1, 0.5, 0.1]).ravel()]),
        "pos": np.concatenate([b.pop("pos"), np.tile(np.arange(3, dtype=np.int8), m)]),
        "kind": np.concatenate([b.pop("kind"), np.tile(np.array([1, 2, 3], np.int8), m)]),
        "cat": np.concatenate([b.pop("cat"), np.repeat(orders["category"], 3)]),
    }
    ev = sorted_rows(ev, ev["t"] < horizon, ("pos", "sess"))
    return pd.DataFrame(
        {
            "customer_id": cid.take(s_cust[by_start][ev["sess"]]).to_pandas(),
            "session_id": string_ids("S", s_cust.size, 7).take(ev["sess"]).to_pandas(),
            "event_type": categorical(ev["kind"], WEB_TYPES),
            "occurred_at": timestamps(start, ev["t"]),
            "category": categorical(ev["cat"], CATEGORIES),
        },
        copy=False,
    )
