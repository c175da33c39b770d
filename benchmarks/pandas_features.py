"""The same features as :func:`features.build.build_features`, written as plain pandas group-bys.

Two jobs: the baseline of ``benchmarks/bench_features.py``, and an independent
reference that the test suite compares the engine's features with. It is
deliberately straightforward: read everything into memory, filter, group by.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from upseg.features.segments import NO_PURCHASE_SEGMENT, RFM_GRID

WINDOWS = (30, 90, 365)
KEY = "customer_id"


def read_tables(data_dir: Path) -> dict[str, pd.DataFrame]:
    """Read every contract table that is present into pandas."""
    tables = {}
    for name in ("customers", "orders", "email_events", "web_events"):
        path = Path(data_dir) / f"{name}.parquet"
        if path.exists():
            tables[name] = pd.read_parquet(path)
    return tables


def _before(frame: pd.DataFrame, column: str, as_of: pd.Timestamp) -> pd.DataFrame:
    frame = frame.loc[frame[column] < as_of].copy()
    frame["age"] = (as_of - frame[column]).dt.total_seconds() / 86_400
    frame[KEY] = frame[KEY].astype(str)
    return frame


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    return (num / den).where(den > 0)


def order_features(orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """RFM and order features per customer, from orders strictly before ``as_of``."""
    o = _before(orders, "ordered_at", as_of)
    done = o.loc[o.status == "completed"]
    g = done.groupby(KEY)
    out = pd.DataFrame(index=pd.Index(o[KEY].unique(), name=KEY))
    for w in WINDOWS:
        recent = done.loc[done.age <= w].groupby(KEY)
        out[f"frequency_{w}d"] = recent.size()
        out[f"monetary_{w}d"] = recent.amount.sum()
    out["frequency_lifetime"] = g.size()
    out["monetary_lifetime"] = g.amount.sum()
    out["recency_days"] = g.age.min()
    out["days_since_first_order"] = g.age.max()
    prev = done.loc[(done.age > 90) & (done.age <= 180)].groupby(KEY)
    out["frequency_prev_90d"] = prev.size()
    out["monetary_prev_90d"] = prev.amount.sum()
    year = o.loc[o.age <= 365]
    out["returns_365d"] = year.loc[year.status == "returned"].groupby(KEY).size()
    out["cancellations_365d"] = year.loc[year.status == "cancelled"].groupby(KEY).size()
    out["orders_placed_lifetime"] = o.groupby(KEY).size()
    out["returns_lifetime"] = o.loc[o.status == "returned"].groupby(KEY).size()
    out["discounted_orders_lifetime"] = done.loc[done.discount > 0].groupby(KEY).size()
    out["category_count"] = g.category.nunique()
    counts = [c for c in out.columns if c not in ("recency_days", "days_since_first_order")]
    out[counts] = out[counts].fillna(0)

    named = done.loc[done.category.notna()]
    # Plain strings: a categorical would sort by its codes, not alphabetically.
    named = named.assign(category=named.category.astype(str))
    cats = named.groupby([KEY, "category"]).size()
    cats = (
        cats.rename("n")
        .reset_index()
        .sort_values([KEY, "n", "category"], ascending=[True, False, True])
    )
    totals = cats.groupby(KEY).n.sum()
    top = cats.drop_duplicates(KEY).set_index(KEY)
    out["favourite_category"] = top.category.astype(str)
    out["favourite_category_share"] = top.n / totals

    out["avg_order_value"] = _ratio(out.monetary_lifetime, out.frequency_lifetime)
    out["days_between_orders"] = _ratio(
        out.days_since_first_order - out.recency_days, out.frequency_lifetime - 1
    )
    out["frequency_trend_90d"] = out.frequency_90d - out.frequency_prev_90d
    out["monetary_trend_90d"] = out.monetary_90d - out.monetary_prev_90d
    out["return_rate"] = _ratio(out.returns_lifetime, out.orders_placed_lifetime)
    out["discount_order_share"] = _ratio(out.discounted_orders_lifetime, out.frequency_lifetime)
    return out


def email_features(events: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """E-mail engagement features per customer, from events strictly before ``as_of``."""
    e = _before(events, "occurred_at", as_of)
    out = pd.DataFrame(index=pd.Index(e[KEY].unique(), name=KEY))
    kind = e.event_type.astype(str)
    for w in WINDOWS:
        recent = e.loc[e.age <= w]
        rk = kind.loc[recent.index]
        out[f"emails_sent_{w}d"] = recent.loc[rk == "sent"].groupby(KEY).size()
        out[f"emails_opened_{w}d"] = recent.loc[rk == "opened"].groupby(KEY).campaign_id.nunique()
        out[f"emails_clicked_{w}d"] = recent.loc[rk == "clicked"].groupby(KEY).campaign_id.nunique()
    for name, event in (("email", "sent"), ("open", "opened"), ("click", "clicked")):
        out[f"days_since_last_{name}"] = e.loc[kind == event].groupby(KEY).age.min()
    for name, event in (
        ("unsubscribes", "unsubscribed"),
        ("bounces", "bounced"),
        ("complaints", "complained"),
    ):
        out[f"{name}_lifetime"] = e.loc[kind == event].groupby(KEY).size()
    counts = [c for c in out.columns if not c.startswith("days_since")]
    out[counts] = out[counts].fillna(0)
    for w in WINDOWS:
        out[f"open_rate_{w}d"] = _ratio(out[f"emails_opened_{w}d"], out[f"emails_sent_{w}d"])
        out[f"click_rate_{w}d"] = _ratio(out[f"emails_clicked_{w}d"], out[f"emails_sent_{w}d"])
    return out


def web_features(events: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Web behaviour features per customer, from events strictly before ``as_of``."""
    e = _before(events, "occurred_at", as_of)
    kind = e.event_type.astype(str)
    pv = kind == "product_view"
    e = e.assign(
        cart=(kind == "add_to_cart"),
        checkout=(kind == "checkout_started"),
        **{f"pv_{w}": pv & (e.age <= w) for w in WINDOWS},
    )
    s = (
        e.groupby([KEY, "session_id"], observed=True)
        .agg(
            age=("age", "min"),
            cart=("cart", "any"),
            checkout=("checkout", "any"),
            **{f"pv_{w}": (f"pv_{w}", "sum") for w in WINDOWS},
        )
        .reset_index()
    )
    out = pd.DataFrame(index=pd.Index(s[KEY].unique(), name=KEY))
    for w in WINDOWS:
        recent = s.loc[s.age <= w]
        g = recent.groupby(KEY)
        out[f"sessions_{w}d"] = g.size()
        out[f"product_views_{w}d"] = s.groupby(KEY)[f"pv_{w}"].sum()
        out[f"cart_sessions_{w}d"] = g.cart.sum()
        out[f"checkout_sessions_{w}d"] = g.checkout.sum()
        out[f"cart_abandonments_{w}d"] = (recent.cart & ~recent.checkout).groupby(recent[KEY]).sum()
    out = out.fillna(0)
    out["days_since_last_visit"] = s.groupby(KEY).age.min()
    return out


def _quintile(values: pd.Series, ascending: bool) -> pd.Series:
    rank = values.rank(method="min", ascending=ascending)
    n = len(values)
    pct = (rank - 1) / (n - 1) if n > 1 else rank * 0
    return np.minimum(np.floor(pct * 5) + 1, 5)


def segments(frame: pd.DataFrame) -> pd.DataFrame:
    """RFM scores, segment and lifecycle stage, by the rules in docs/features.md."""
    buyers = frame.frequency_lifetime > 0
    b = frame.loc[buyers]
    frame["rfm_r"] = _quintile(b.recency_days, ascending=False)
    frame["rfm_f"] = _quintile(b.frequency_lifetime, ascending=True)
    frame["rfm_m"] = _quintile(b.monetary_lifetime.round(2), ascending=True)
    digits = frame[["rfm_r", "rfm_f", "rfm_m"]].astype("Int64").astype(str)
    frame["rfm_score"] = (digits.rfm_r + digits.rfm_f + digits.rfm_m).where(buyers)
    fm = np.floor((frame.rfm_f + frame.rfm_m + 1) / 2)
    frame["rfm_segment"] = [
        RFM_GRID[int(r)][int(f)] if buyer else NO_PURCHASE_SEGMENT
        for r, f, buyer in zip(frame.rfm_r.fillna(0), fm.fillna(0), buyers, strict=True)
    ]

    def recent(col, days):
        return (frame[col] <= days) if col in frame else False

    def positive(col):
        return (frame[col] > 0) if col in frame else False

    engaged = (
        recent("days_since_last_visit", 180)
        | recent("days_since_last_open", 180)
        | recent("days_since_last_click", 180)
    )
    interested = (
        positive("product_views_90d")
        | positive("cart_sessions_90d")
        | positive("emails_clicked_90d")
    )
    n = frame.frequency_lifetime
    frame["lifecycle_stage"] = np.select(
        [
            (n > 0) & (frame.recency_days > 180),
            (n == 0) & (frame.tenure_days > 180) & ~engaged,
            n >= 2,
            n == 1,
            interested,
        ],
        ["churned", "churned", "retention", "conversion", "consideration"],
        default="discovery",
    )
    return frame


def pandas_features(tables: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> pd.DataFrame:
    """All features of customers who signed up before ``as_of``, indexed by customer_id."""
    c = tables["customers"]
    c = c.loc[c.signup_at < as_of].assign(customer_id=lambda d: d.customer_id.astype(str))
    frame = pd.DataFrame(
        {
            KEY: c.customer_id,
            "tenure_days": (as_of - c.signup_at).dt.total_seconds() / 86_400,
            "email_opt_in": c.email_opt_in,
            "is_unsubscribed": (c.unsubscribed_at < as_of).fillna(False),
        }
    ).set_index(KEY)
    groups = [order_features(tables["orders"], as_of)]
    if "email_events" in tables:
        groups.append(email_features(tables["email_events"], as_of))
    if "web_events" in tables:
        groups.append(web_features(tables["web_events"], as_of))
    for group in groups:
        fill = {
            c: 0
            for c in group.columns
            if not c.startswith(
                (
                    "days_since",
                    "recency",
                    "favourite",
                    "avg_order",
                    "days_between",
                    "return_rate",
                    "discount_order_share",
                    "open_rate",
                    "click_rate",
                )
            )
        }
        frame = frame.join(group, how="left").fillna(fill)
    return segments(frame)
