"""E-mail of the synthetic world: biweekly newsletters, their events, unsubscribes, suppression."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from upseg.synthetic._tables import categorical, sorted_rows, timestamps
from upseg.synthetic.params import (
    CAMPAIGN_ID,
    CHURNED_OPEN_FACTOR,
    COMPLAINT_P,
    EMAIL_TYPES,
    MINUTE,
    SEND_P,
    SOFT_BOUNCE_P,
    UNSUB_P,
)

__all__ = [
    "email_events_table",
    "newsletter_schedule",
    "send_mail",
    "send_newsletters",
    "unsubscribe",
]


def send_mail(
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
    bounced = bad | (rng.random(n) < SOFT_BOUNCE_P)
    open_p = lat["open_p"][idx] * np.where(lat["churn"][idx] < t_send, CHURNED_OPEN_FACTOR, 1.0)
    unsub = ~bounced & (rng.random(n) < UNSUB_P)
    opened = ~bounced & ((rng.random(n) < open_p) | unsub)  # the unsubscribe link is in the mail
    open_at = delivered_at + np.minimum(rng.exponential(0.3, n), 3.0)
    clicked = opened & ~unsub & (rng.random(n) < lat["click_p"][idx])
    complained = ~bounced & ~unsub & (rng.random(n) < COMPLAINT_P)
    complain_at = delivered_at + np.minimum(rng.exponential(0.2, n), 3.0)
    click_at = open_at + rng.exponential(3 * MINUTE, n)
    for kind, mask, at in (
        (0, np.ones(n, bool), t_send),
        (1, ~bounced, delivered_at),
        (2, opened, open_at),
        (3, clicked, click_at),
        (4, bounced, delivered_at),
        (6, complained, complain_at),
    ):
        log.append((idx[mask].astype(np.int32), at[mask], kind, code))
    unsubscribe(idx[unsub], (open_at + rng.uniform(0.5, 5, n) * MINUTE)[unsub], code, state)
    # hard bounces and complaints suppress the address for good
    stop = np.where(bad, t_send, np.where(complained, complain_at, np.inf))
    state["suppressed_at"][idx] = np.minimum(state["suppressed_at"][idx], stop)
    state["n_delivered"][idx] += ~bounced


def unsubscribe(idx: np.ndarray, at: np.ndarray, code: int, state: dict) -> None:
    """Record unsubscribes that come before any known one."""
    earlier = at < state["unsub_at"][idx]
    state["unsub_at"][idx[earlier]] = at[earlier]
    state["unsub_code"][idx[earlier]] = code


def newsletter_schedule(start: pd.Timestamp, horizon: float) -> tuple[np.ndarray, list[str]]:
    """Biweekly Monday 09:00 UTC newsletter times (days since start) and their campaign ids."""
    first = start.normalize() + pd.Timedelta(days=(7 - start.weekday()) % 7, hours=9)
    first += pd.Timedelta(days=7 * int(first < start))
    times = np.arange((first - start) / pd.Timedelta(days=1), horizon, 14.0)
    return times, [f"NL-{first + pd.Timedelta(days=14 * k):%Y-%m-%d}" for k in range(times.size)]


def send_newsletters(
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
        idx = idx[rng.random(idx.size) < SEND_P]
        send_mail(idx, t + rng.uniform(0, 15, idx.size) * MINUTE, int(code), lat, state, rng, log)


def email_events_table(
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
    ev = sorted_rows(ev, keep, ("kind", "t", "cust"))
    return pd.DataFrame(
        {
            "customer_id": cid.take(ev["cust"]).to_pandas(),
            "campaign_id": categorical(ev["code"], [*mailings, CAMPAIGN_ID]),
            "event_type": categorical(ev["kind"], EMAIL_TYPES),
            "occurred_at": timestamps(start, ev["t"]),
        },
        copy=False,
    )
