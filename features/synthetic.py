"""Deterministic synthetic customer world for e-mail marketing segmentation.

Each customer has latent traits (purchase rate, order value, category taste,
e-mail engagement, web activity, discount affinity, dropout time) from which
orders, e-mail and web events are simulated, plus one randomized campaign
(``CAMPAIGN_ID``) whose heterogeneous true effect is applied to the orders
table exactly and recorded in ``World.truth``. No modelling stage may read
``truth``: it is there to check what the models recover.

Times are simulated as fractional days since ``start`` and floored to
microseconds, which keeps every order relation. Closed sets of strings
(event types, categories, campaign ids, ...) are ``category`` columns;
customer, order and session ids are ``str``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "CAMPAIGN_ASSIGNED_AT",
    "CAMPAIGN_ID",
    "CAMPAIGN_VARIANTS",
    "DEFAULT_END",
    "DEFAULT_START",
    "OUTCOME_WINDOW_DAYS",
    "World",
    "generate_world",
    "write_world",
]

DEFAULT_START = "2023-07-01"
DEFAULT_END = "2026-07-01"
CAMPAIGN_ID = "C2026-06-SUMMER"
CAMPAIGN_VARIANTS = ("control", "discount_10", "new_arrivals")
CAMPAIGN_ASSIGNED_AT = "2026-06-01"
OUTCOME_WINDOW_DAYS = 14

# (values, probabilities) of customer attributes and order statuses
_COUNTRIES = (("US", "GB", "DE", "FR", "ES"), (0.4, 0.2, 0.15, 0.15, 0.1))
_GENDERS = (("F", "M", "U"), (0.5, 0.42, 0.08))
_CHANNELS = (("organic", "paid_search", "social", "referral", "email"), (0.35, 0.25, 0.2, 0.1, 0.1))
_STATUSES = (("completed", "cancelled", "returned"), (0.92, 0.04, 0.04))
_TIERS = ("bronze", "silver", "gold")
_CATEGORIES = ("apparel", "shoes", "beauty", "home", "electronics", "sports")
_EMAIL_TYPES = ("sent", "delivered", "opened", "clicked", "bounced", "unsubscribed", "complained")
_WEB_TYPES = ("page_view", "product_view", "add_to_cart", "checkout_started", "search")
_STAGES = ("new", "active", "lapsing", "churned")
_SEGMENTS = ("persuadable", "sure_thing", "lost_cause", "sleeping_dog")
_FORMATS = ("parquet", "csv")

_YEAR, _DAY_US, _MINUTE = 365.25, 86_400_000_000, 1 / 1440
_RATE_SHAPE, _RATE_MEAN = 1.2, 4.0  # orders per year ~ Gamma
_LIFETIME_YEARS = 1.5  # mean time to dropout at the mean rate; slower buyers drop out sooner
_AOV_MEAN, _AOV_SIGMA, _AMOUNT_SIGMA = 60.0, 0.5, 0.35
_DISCOUNT_USE, _DISCOUNT_RATES = 0.6, (0.1, 0.15, 0.2)  # P(discount) = use * affinity
_TIER_THRESHOLDS = (200.0, 600.0)  # noisy expected yearly spend: ~60% bronze, ~10% gold
_WEB_SESSIONS_PER_YEAR, _DORMANT_WEB = 3.5, 0.1  # after dropout a customer visits 10x less
_SEND_P, _SOFT_BOUNCE_P, _BAD_ADDRESS_P = 0.7, 0.015, 0.01
_UNSUB_P, _COMPLAINT_P, _CHURNED_OPEN_FACTOR = 0.003, 0.0005, 0.3
_NEW_DAYS, _LAPSING_DAYS = 60.0, 180.0  # stage boundaries after signup and after dropout
_SURE_THING_RATE, _LOW_ENGAGEMENT, _MANY_MAILS = 12.0, 0.15, 10
_WINBACK_LIFT, _ACTIVE_LIFT = 0.10, 0.06  # persuadable lift at an open probability of 0.25
_SLEEPING_DOG_LOSS = (0.6, 0.8)  # share of p0 lost, per treatment variant
_SLEEPING_DOG_UNSUB_P = 0.05


@dataclass(frozen=True, eq=False)
class World:
    """A simulated customer world.

    Attributes
    ----------
    tables : dict of str to DataFrame
        ``customers``, ``orders``, ``email_events``, ``web_events`` and
        ``campaign_assignments``, as the data contract describes them.
    truth : DataFrame
        One row per customer: latent traits and true campaign effects.
    """

    tables: dict[str, pd.DataFrame]
    truth: pd.DataFrame


def _utc(value: object) -> pd.Timestamp:
    """Timestamp in UTC; naive values are taken to be UTC."""
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _clock(n_customers: object, start: object, end: object) -> tuple[pd.Timestamp, float, float]:
    """Validated (start, horizon in days, campaign day in days since start)."""
    errors = []
    if (
        isinstance(n_customers, bool)
        or not isinstance(n_customers, int | np.integer)
        or n_customers < 1
    ):
        errors.append(f"'n_customers' must be a positive int; got {n_customers!r}")
    campaign = _utc(CAMPAIGN_ASSIGNED_AT)
    try:
        t_start, t_end = _utc(start), _utc(end)
    except (TypeError, ValueError) as exc:
        errors.append(f"'start' and 'end' must be timestamps; got {start!r}, {end!r} ({exc})")
    else:
        if not t_start < campaign < campaign + pd.Timedelta(days=OUTCOME_WINDOW_DAYS + 1) <= t_end:
            errors.append(
                f"[start, end) must contain the campaign day {CAMPAIGN_ASSIGNED_AT} and "
                f"the {OUTCOME_WINDOW_DAYS} days after it; got start={start!r}, "
                f"end={end!r}"
            )
    if errors:
        raise ValueError(
            f"{len(errors)} error(s) in generate_world arguments: " + "; ".join(errors)
        )
    day = pd.Timedelta(days=1)
    return t_start, (t_end - t_start) / day, (campaign - t_start) / day


def _choice(options: tuple[tuple, tuple], n: int, rng: np.random.Generator) -> np.ndarray:
    """Codes of ``options[0]`` drawn with probabilities ``options[1]``."""
    return rng.choice(len(options[0]), size=n, p=options[1]).astype(np.int8)


def _latent_traits(n: int, horizon: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-customer latent traits and attributes (times in days since start)."""
    # signup density grows linearly to 3x its initial value: inverse CDF of 1 + 2x
    signup = horizon * (np.sqrt(1 + 8 * rng.random(n)) - 1) / 2
    lam = rng.gamma(_RATE_SHAPE, _RATE_MEAN / _RATE_SHAPE, n)
    aov = _AOV_MEAN * rng.lognormal(-(_AOV_SIGMA**2) / 2, _AOV_SIGMA, n)
    pref = rng.dirichlet(np.full(len(_CATEGORIES), 0.6), n)
    return {
        "signup": signup,
        "lam": lam,
        "aov": aov,
        "churn": signup + rng.exponential(_YEAR * _LIFETIME_YEARS * np.sqrt(lam / _RATE_MEAN)),
        "pref_cum": np.cumsum(pref, axis=1),
        "breadth": (1 / np.square(pref).sum(axis=1) - 1) / (len(_CATEGORIES) - 1),
        "open_p": rng.beta(2.0, 6.0, n),
        "click_p": rng.beta(1.5, 8.5, n),
        "web_rate": _WEB_SESSIONS_PER_YEAR
        * (lam / _RATE_MEAN) ** 0.7
        * rng.lognormal(-0.08, 0.4, n),
        "disc_aff": rng.beta(2.0, 5.0, n),
        "opt_in": rng.random(n) < 0.85,
        "bad_address": rng.random(n) < _BAD_ADDRESS_P,
        "country": _choice(_COUNTRIES, n, rng),
        "gender": _choice(_GENDERS, n, rng),
        "channel": _choice(_CHANNELS, n, rng),
        "birth_year": np.clip(np.round(rng.normal(1985, 13, n)), 1940, 2008).astype(np.int16),
        "tier": np.searchsorted(_TIER_THRESHOLDS, lam * aov * rng.lognormal(0.0, 0.3, n)).astype(
            np.int8
        ),
    }


def _categories(pref_cum: np.ndarray, cust: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Category codes drawn from each row's customer preference."""
    u, out = rng.random(cust.size), np.zeros(cust.size, np.int8)
    for j in range(pref_cum.shape[1] - 1):
        out += u >= pref_cum[cust, j]
    return out


def _order_rows(
    cust: np.ndarray,
    t: np.ndarray,
    lat: dict,
    rng: np.random.Generator,
    campaign_discount: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Order rows; campaign orders are completed and carry ``campaign_discount``."""
    m = cust.size
    gross = lat["aov"][cust] * rng.lognormal(-(_AMOUNT_SIGMA**2) / 2, _AMOUNT_SIGMA, m)
    if campaign_discount is None:
        status = _choice(_STATUSES, m, rng)
        uses = rng.random(m) < _DISCOUNT_USE * lat["disc_aff"][cust]
        rate = np.where(uses, rng.choice(_DISCOUNT_RATES, m), 0.0)
    else:
        status, rate = np.zeros(m, np.int8), campaign_discount
    discount = np.round(gross * rate, 2)
    return {
        "cust": cust,
        "t": t,
        "amount": np.round(gross, 2) - discount,
        "status": status,
        "category": _categories(lat["pref_cum"], cust, rng),
        "discount": discount,
    }


def _base_orders(lat: dict, horizon: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Poisson orders at rate lambda between signup and min(dropout, end)."""
    span = np.minimum(lat["churn"], horizon) - lat["signup"]
    cust = np.repeat(np.arange(span.size, dtype=np.int32), rng.poisson(lat["lam"] * span / _YEAR))
    return _order_rows(cust, lat["signup"][cust] + rng.random(cust.size) * span[cust], lat, rng)


def _mail(
    idx: np.ndarray,
    t_send: np.ndarray,
    code: int,
    lat: dict,
    state: dict,
    rng: np.random.Generator,
    log: list,
) -> None:
    """Send mailing ``code`` to customers ``idx``: log its events, update the mailing state."""
    n = idx.size
    delivered_at = t_send + rng.uniform(1, 60, n) / 86_400
    bad = lat["bad_address"][idx]
    bounced = bad | (rng.random(n) < _SOFT_BOUNCE_P)
    open_p = lat["open_p"][idx] * np.where(lat["churn"][idx] < t_send, _CHURNED_OPEN_FACTOR, 1.0)
    unsub = ~bounced & (rng.random(n) < _UNSUB_P)
    opened = ~bounced & ((rng.random(n) < open_p) | unsub)  # the unsubscribe link is in the mail
    open_at = delivered_at + np.minimum(rng.exponential(0.3, n), 3.0)
    clicked = opened & ~unsub & (rng.random(n) < lat["click_p"][idx])
    complained = ~bounced & ~unsub & (rng.random(n) < _COMPLAINT_P)
    complain_at = delivered_at + np.minimum(rng.exponential(0.2, n), 3.0)
    click_at = open_at + rng.exponential(3 * _MINUTE, n)
    for kind, mask, at in (
        (0, np.ones(n, bool), t_send),
        (1, ~bounced, delivered_at),
        (2, opened, open_at),
        (3, clicked, click_at),
        (4, bounced, delivered_at),
        (6, complained, complain_at),
    ):
        log.append((idx[mask].astype(np.int32), at[mask], kind, code))
    _unsubscribe(idx[unsub], (open_at + rng.uniform(0.5, 5, n) * _MINUTE)[unsub], code, state)
    # hard bounces and complaints suppress the address for good
    stop = np.where(bad, t_send, np.where(complained, complain_at, np.inf))
    state["suppressed_at"][idx] = np.minimum(state["suppressed_at"][idx], stop)
    state["n_delivered"][idx] += ~bounced


def _unsubscribe(idx: np.ndarray, at: np.ndarray, code: int, state: dict) -> None:
    """Record unsubscribes that come before any known one."""
    earlier = at < state["unsub_at"][idx]
    state["unsub_at"][idx[earlier]] = at[earlier]
    state["unsub_code"][idx[earlier]] = code


def _newsletter_schedule(start: pd.Timestamp, horizon: float) -> tuple[np.ndarray, list[str]]:
    """Biweekly Monday 09:00 UTC newsletter times (days since start) and their campaign ids."""
    first = start.normalize() + pd.Timedelta(days=(7 - start.weekday()) % 7, hours=9)
    first += pd.Timedelta(days=7 * int(first < start))
    times = np.arange((first - start) / pd.Timedelta(days=1), horizon, 14.0)
    return times, [f"NL-{first + pd.Timedelta(days=14 * k):%Y-%m-%d}" for k in range(times.size)]


def _newsletters(
    times: np.ndarray,
    codes: np.ndarray,
    lat: dict,
    state: dict,
    rng: np.random.Generator,
    log: list,
) -> None:
    """Send each newsletter to a random 70% of the customers who can be mailed then."""
    for t, code in zip(times, codes, strict=True):
        idx = np.flatnonzero(
            lat["opt_in"]
            & (lat["signup"] < t)
            & (state["unsub_at"] > t)
            & (state["suppressed_at"] > t)
        )
        idx = idx[rng.random(idx.size) < _SEND_P]
        _mail(idx, t + rng.uniform(0, 15, idx.size) * _MINUTE, int(code), lat, state, rng, log)


def _stage(signup: np.ndarray, churn: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Lifecycle stage codes (new, active, lapsing, churned) at time ``t``."""
    lapsed, new = t >= churn + _LAPSING_DAYS, t - signup < _NEW_DAYS
    return np.select([lapsed, t >= churn, new], [3, 2, 0], 1).astype(np.int8)


def _uplift_segment(
    stage: np.ndarray, lam: np.ndarray, open_p: np.ndarray, n_mails: np.ndarray
) -> np.ndarray:
    """Segment codes (persuadable, sure_thing, lost_cause, sleeping_dog) from latent traits."""
    alive = stage <= 1
    lost = (stage == 3) | ((stage == 2) & (open_p < _LOW_ENGAGEMENT))
    sure = alive & (lam >= _SURE_THING_RATE)
    dog = alive & ~sure & (open_p < _LOW_ENGAGEMENT) & (n_mails >= _MANY_MAILS)
    return np.select([lost, sure, dog], [2, 1, 3], 0).astype(np.int8)


def _true_uplift(
    segment: np.ndarray,
    stage: np.ndarray,
    p0: np.ndarray,
    open_p: np.ndarray,
    disc_aff: np.ndarray,
    breadth: np.ndarray,
) -> np.ndarray:
    """True effect on P(conversion), shape (n, 2) for (discount_10, new_arrivals)."""
    lift = np.where(stage == 2, _WINBACK_LIFT, _ACTIVE_LIFT) * np.clip(open_p / 0.25, 0, 2)
    persuaded = np.column_stack([lift * (0.3 + 2.5 * disc_aff), lift * (0.2 + 1.6 * breadth)])
    annoyed = -p0[:, None] * np.array(_SLEEPING_DOG_LOSS)
    tau = np.where(
        (segment == 0)[:, None], persuaded, np.where((segment == 3)[:, None], annoyed, 0.0)
    )
    return np.minimum(tau, 1 - p0[:, None])


def _campaign(lat: dict, state: dict, t0: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Randomize the e-mailable customers to variants; their p0, segment and true effects."""
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
    mu = _STATUSES[1][0] * lam * alive_days / _YEAR
    p0 = -np.expm1(-mu)
    stage = _stage(lat["signup"][idx], churn, a)
    segment = _uplift_segment(stage, lam, open_p, state["n_delivered"][idx])
    tau = _true_uplift(segment, stage, p0, open_p, lat["disc_aff"][idx], lat["breadth"][idx])
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
    mean_amount = aov * (1 - _DISCOUNT_USE * aff * np.mean(_DISCOUNT_RATES))
    # removing every window order loses E[revenue | N >= 1] = mean_amount * mu / p0
    lost = np.divide(
        mean_amount * camp["mu"], camp["p0"], out=np.zeros_like(aov), where=camp["p0"] > 0
    )
    tau = camp["tau"]
    return np.where(tau > 0, tau * aov[:, None] * [0.9, 1.0], tau * lost[:, None])


def _treatment_effects(
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
    new = _order_rows(camp["idx"][add], t_new, lat, rng, np.where(v[add] == 1, 0.1, 0.0))
    annoyed = (v > 0) & (camp["segment"] == 3) & (rng.random(v.size) < _SLEEPING_DOG_UNSUB_P)
    delay = np.minimum(rng.exponential(1.0, v.size), OUTCOME_WINDOW_DAYS - 1)
    _unsubscribe(camp["idx"][annoyed], (camp["assigned"] + delay)[annoyed], code, state)
    keep = ~(in_window & drop[c])
    return {k: np.concatenate([orders[k][keep], new[k]]) for k in orders}


def _ids(prefix: str, n: int, width: int) -> pa.Array:
    """Zero-padded string ids ``<prefix>0000001`` ... for 1..n, as pandas stores strings."""
    digits = pc.cast(pa.array(np.arange(1, n + 1, dtype=np.int64)), pa.string())
    padded = pc.utf8_lpad(digits, max(width, len(str(n))), "0")
    return pc.binary_join_element_wise(prefix, padded, "").cast(pa.large_string())


def _timestamps(start: pd.Timestamp, days: np.ndarray) -> pd.DatetimeIndex:
    """UTC microsecond timestamps from days (>= 0) since ``start``; non-finite days are NaT."""
    finite = np.isfinite(days)
    us = np.zeros(days.size, np.int64)
    # unsafe casting truncates, which floors days >= 0, with no float temporary
    np.multiply(days, _DAY_US, out=us, where=finite, casting="unsafe")
    us += start.value // 1000
    us[~finite] = np.iinfo(np.int64).min
    return pd.DatetimeIndex(us.view("M8[us]")).tz_localize("UTC")


def _labels(codes: np.ndarray, labels: tuple[str, ...] | list[str]) -> pd.Categorical:
    """Categorical from integer codes (-1 is missing)."""
    return pd.Categorical.from_codes(codes, categories=list(labels))


def _sorted_rows(cols: dict[str, np.ndarray], keep: np.ndarray, keys: tuple[str, ...]) -> dict:
    """Rows where ``keep``, sorted by ``keys`` (last key first)."""
    for k in cols:  # one column at a time: a million customers make ~40M e-mail rows
        cols[k] = cols[k][keep]
    order = np.lexsort(tuple(cols[k] for k in keys))
    for k in cols:
        cols[k] = cols[k][order]
    return cols


def _customers_table(
    lat: dict, unsub_at: np.ndarray, cid: pa.Array, start: pd.Timestamp
) -> pd.DataFrame:
    """The ``customers`` table."""
    return pd.DataFrame(
        {
            "customer_id": cid.to_pandas(),
            "signup_at": _timestamps(start, lat["signup"]),
            "email_opt_in": lat["opt_in"],
            "unsubscribed_at": _timestamps(start, unsub_at),
            "country": _labels(lat["country"], _COUNTRIES[0]),
            "gender": _labels(lat["gender"], _GENDERS[0]),
            "birth_year": lat["birth_year"],
            "acquisition_channel": _labels(lat["channel"], _CHANNELS[0]),
            "loyalty_tier": _labels(lat["tier"], _TIERS),
        }
    )


def _orders_table(orders: dict, cid: pa.Array, start: pd.Timestamp) -> pd.DataFrame:
    """The ``orders`` table, in time order so that order ids follow it."""
    o = _sorted_rows(dict(orders), np.ones(orders["t"].size, bool), ("cust", "t"))
    return pd.DataFrame(
        {
            "order_id": _ids("O", o["cust"].size, 9).to_pandas(),
            "customer_id": cid.take(o["cust"]).to_pandas(),
            "ordered_at": _timestamps(start, o["t"]),
            "amount": o["amount"],
            "category": _labels(o["category"], _CATEGORIES),
            "status": _labels(o["status"], _STATUSES[0]),
            "discount": o["discount"],
        }
    )


def _email_events_table(
    log: list, state: dict, cid: pa.Array, start: pd.Timestamp, horizon: float, mailings: list[str]
) -> pd.DataFrame:
    """The ``email_events`` table: logged events and unsubscribes, none after end or unsubscribe."""
    unsub = np.flatnonzero(state["unsub_at"] < horizon).astype(np.int32)
    sizes = [part[0].size for part in log] + [unsub.size]
    ev = {
        "cust": np.concatenate([part[0] for part in log] + [unsub]),
        "t": np.concatenate([part[1] for part in log] + [state["unsub_at"][unsub]]),
        "kind": np.repeat(np.array([part[2] for part in log] + [5], np.int8), sizes),
    }
    ev["code"] = np.repeat(np.array([part[3] for part in log] + [0], np.int16), sizes)
    ev["code"][ev["kind"] == 5] = state["unsub_code"][unsub]
    log.clear()
    keep = (ev["t"] < horizon) & ((ev["kind"] == 5) | (ev["t"] <= state["unsub_at"][ev["cust"]]))
    ev = _sorted_rows(ev, keep, ("kind", "t", "cust"))
    return pd.DataFrame(
        {
            "customer_id": cid.take(ev["cust"]).to_pandas(),
            "campaign_id": _labels(ev["code"], [*mailings, CAMPAIGN_ID]),
            "event_type": _labels(ev["kind"], _EMAIL_TYPES),
            "occurred_at": _timestamps(start, ev["t"]),
        },
        copy=False,
    )


def _browsing_sessions(lat: dict, horizon: float, rng: np.random.Generator) -> dict:
    """Browsing sessions: page_view, maybe search, product views, maybe an abandoned cart."""
    signup, stop = lat["signup"], np.minimum(lat["churn"], horizon)
    ids = np.arange(signup.size, dtype=np.int32)
    active = np.repeat(ids, rng.poisson(lat["web_rate"] * (stop - signup) / _YEAR))
    dormant = np.repeat(ids, rng.poisson(_DORMANT_WEB * lat["web_rate"] * (horizon - stop) / _YEAR))
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
    gap = np.where(pos == 0, 0.0, rng.exponential(1.5 * _MINUTE, sess.size)).cumsum()
    cat = np.where((kind == 1) | (kind == 2), _categories(lat["pref_cum"], cust[sess], rng), -1)
    return {
        "cust": cust,
        "start": t0,
        "sess": sess,
        "pos": pos,
        "kind": kind,
        "t": t0[sess] + gap - np.repeat(gap[first], size),
        "cat": cat.astype(np.int8),
    }


def _web_events_table(
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
    lead = np.minimum(rng.uniform(5, 55, m) * _MINUTE, ot - lat["signup"][oc])
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
    ev = _sorted_rows(ev, ev["t"] < horizon, ("pos", "sess"))
    return pd.DataFrame(
        {
            "customer_id": cid.take(s_cust[by_start][ev["sess"]]).to_pandas(),
            "session_id": _ids("S", s_cust.size, 7).take(ev["sess"]).to_pandas(),
            "event_type": _labels(ev["kind"], _WEB_TYPES),
            "occurred_at": _timestamps(start, ev["t"]),
            "category": _labels(ev["cat"], _CATEGORIES),
        },
        copy=False,
    )


def _assignments_table(camp: dict, cid: pa.Array, start: pd.Timestamp) -> pd.DataFrame:
    """The ``campaign_assignments`` table."""
    return pd.DataFrame(
        {
            "customer_id": cid.take(camp["idx"]).to_pandas(),
            "campaign_id": _labels(np.zeros(camp["idx"].size, np.int8), [CAMPAIGN_ID]),
            "variant": _labels(camp["variant"], CAMPAIGN_VARIANTS),
            "assigned_at": _timestamps(start, camp["assigned"]),
        }
    )


def _truth(
    lat: dict, camp: dict, customer_id: pd.Series, start: pd.Timestamp, horizon: float
) -> pd.DataFrame:
    """Per-customer latent truth and true campaign effects (NaN outside the campaign)."""

    def spread(values: np.ndarray, fill: float = np.nan) -> np.ndarray:
        out = np.full(lat["signup"].size, fill)
        out[camp["idx"]] = values
        return out

    truth = pd.DataFrame(
        {
            "customer_id": customer_id,
            "churned_at": _timestamps(
                start, np.where(lat["churn"] < horizon, lat["churn"], np.nan)
            ),
            "lifecycle_stage_at_end": _labels(
                _stage(lat["signup"], lat["churn"], horizon), _STAGES
            ),
            "purchase_rate": lat["lam"],
            "avg_order_value": lat["aov"],
            "open_probability": lat["open_p"],
            "baseline_conversion": spread(camp["p0"]),
            "uplift_segment": _labels(spread(camp["segment"], -1).astype(np.int8), _SEGMENTS),
        }
    )
    revenue = _revenue_uplift(camp, lat)
    for j, variant in enumerate(CAMPAIGN_VARIANTS[1:]):
        truth[f"tau_conversion_{variant}"] = spread(camp["tau"][:, j])
        truth[f"tau_revenue_{variant}"] = spread(revenue[:, j])
    return truth


def generate_world(
    n_customers: int = 10_000,
    *,
    seed: int = 0,
    start: object = DEFAULT_START,
    end: object = DEFAULT_END,
) -> World:
    """Simulate customers, their orders, e-mail and web events, and one randomized campaign.

    Parameters
    ----------
    n_customers : int, default 10_000
        Number of customers.
    seed : int, default 0
        Seed of ``numpy.random.default_rng``; equal seeds give identical worlds.
    start, end : str or Timestamp, default DEFAULT_START, DEFAULT_END
        The world covers ``[start, end)`` in UTC (naive values are UTC). It must
        hold ``CAMPAIGN_ASSIGNED_AT`` and the ``OUTCOME_WINDOW_DAYS`` after it.

    Returns
    -------
    World
        The contract tables, each sorted by a stable key, and the truth. In it,
        ``tau_conversion_<v>`` is the exact effect of variant ``v`` on
        P(>= 1 completed order in [assigned_at, assigned_at + 14 days)), and
        ``tau_revenue_<v>`` its effect on the expected completed revenue in that
        window, averaged over order amounts (rounding to cents is ignored):
        ``tau * AOV`` (``0.9 * AOV`` for ``discount_10``) where orders are added,
        ``tau * E[window revenue | converted]`` where they are removed.

    Raises
    ------
    ValueError
        If ``n_customers`` is not a positive int or ``[start, end)`` does not
        hold the campaign and its outcome window; every problem is listed.
    """
    t_start, horizon, t0 = _clock(n_customers, start, end)
    n, rng = int(n_customers), np.random.default_rng(seed)
    lat = _latent_traits(n, horizon, rng)
    orders = _base_orders(lat, horizon, rng)
    times, mailings = _newsletter_schedule(t_start, horizon)
    state = {
        "unsub_at": np.full(n, np.inf),
        "unsub_code": np.zeros(n, np.int16),
        "suppressed_at": np.full(n, np.inf),
        "n_delivered": np.zeros(n, np.int32),
    }
    codes, log, before = np.arange(times.size), [], times < t0 + 10 / 24
    _newsletters(times[before], codes[before], lat, state, rng, log)
    camp = _campaign(lat, state, t0, rng)
    treated = camp["variant"] > 0
    _mail(camp["idx"][treated], camp["assigned"][treated], len(mailings), lat, state, rng, log)
    orders = _treatment_effects(orders, camp, lat, state, len(mailings), rng)
    _newsletters(times[~before], codes[~before], lat, state, rng, log)
    cid = _ids("C", n, 7)
    unsub_at = np.where(state["unsub_at"] < horizon, state["unsub_at"], np.nan)
    tables = {
        "customers": _customers_table(lat, unsub_at, cid, t_start),
        "orders": _orders_table(orders, cid, t_start),
        "email_events": _email_events_table(log, state, cid, t_start, horizon, mailings),
        "web_events": _web_events_table(lat, orders, cid, t_start, horizon, rng),
        "campaign_assignments": _assignments_table(camp, cid, t_start),
    }
    return World(tables, _truth(lat, camp, tables["customers"]["customer_id"], t_start, horizon))


def write_world(world: World, out_dir: Path, *, fmt: str = "parquet") -> dict[str, Path]:
    """Write each table to ``<out_dir>/<table>.<fmt>`` and the truth to ``truth.parquet``.

    Parameters
    ----------
    world : World
        The world to write.
    out_dir : Path
        Directory, created if missing.
    fmt : {"parquet", "csv"}, default "parquet"
        File format of the contract tables; the truth is always Parquet.

    Returns
    -------
    dict of str to Path
        Path of each file written, keyed by table name and ``"truth"``.

    Raises
    ------
    ValueError
        If ``fmt`` is not one of the formats above.
    """
    if fmt not in _FORMATS:
        raise ValueError(
            f"The 'fmt' parameter of write_world must be one of {_FORMATS}; got {fmt!r} instead."
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, frame in world.tables.items():
        paths[name] = out_dir / f"{name}.{fmt}"
        if fmt == "parquet":
            frame.to_parquet(paths[name], engine="pyarrow", index=False)
        else:
            frame.to_csv(paths[name], index=False)
    paths["truth"] = out_dir / "truth.parquet"
    world.truth.to_parquet(paths["truth"], engine="pyarrow", index=False)
    return paths
