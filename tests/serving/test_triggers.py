"""Trigger e-mails end to end: hand-built event sequences through ``run_triggers``.

Every test writes a real data directory (Parquet) in ``tmp_path``, runs the
real job (DuckDB validation, the engine, point-in-time consent, the firings
file with its window) and asserts the exact firings: customer, trigger,
``fired_at``, action and reason. Each rule is tested in isolation with a rules
file holding only it (copied from the shipped ``default_triggers.yaml``), so
that the other rules cannot add or skip firings. Every run must reconcile.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import customers_frame, orders_frame, ts, write_source
from upseg.pipelines.triggers_job import (
    TriggersInputError,
    TriggersRun,
    TriggersSettings,
    run_triggers,
)
from upseg.serving.triggers import (
    DEFAULT_RULES_PATH,
    FIRING_COLUMNS,
    TriggerRulesError,
    load_rules,
)

#: A customer who is in every data directory, so that no table is ever empty, and who
#: fires nothing in the windows of these tests (signed up, ordered once, long before).
_BYSTANDER = ("zz", "2025-01-01T00:00")


def world(
    directory: Path,
    customers: list[tuple],
    *,
    orders: list[tuple] = (),
    web: list[tuple] = (),
    email: list[tuple] = (),
) -> Path:
    """A data directory: customers (see ``customers_frame``), orders
    ``(customer, at[, category])``, web ``(customer, event_type, at[, category])``,
    email ``(customer, event_type, at)``."""
    order_rows = [("o-zz", "zz", "2025-01-02T00:00", 10.0)] + [
        (f"o{i}", c, at, 20.0, "completed", rest[0] if rest else "shoes")
        for i, (c, at, *rest) in enumerate(orders)
    ]
    web_rows = [("zz", "page_view", "2025-01-02T00:00", None), *web]
    tables = {
        "customers": customers_frame([_BYSTANDER, *customers]),
        "orders": orders_frame(order_rows),
        "web_events": pd.DataFrame(
            {
                "customer_id": [r[0] for r in web_rows],
                "session_id": [f"s{i}" for i in range(len(web_rows))],
                "event_type": [r[1] for r in web_rows],
                "occurred_at": [ts(r[2]) for r in web_rows],
                "category": [(r[3] if len(r) > 3 else "shoes") for r in web_rows],
            }
        ),
    }
    email_rows = [("zz", "sent", "2025-01-02T00:00"), *email]
    tables["email_events"] = pd.DataFrame(
        {
            "customer_id": [r[0] for r in email_rows],
            "campaign_id": [f"k{i}" for i in range(len(email_rows))],
            "event_type": [r[1] for r in email_rows],
            "occurred_at": [ts(r[2]) for r in email_rows],
        }
    )
    return write_source(directory, tables)


def rules_file(directory: Path, *names: str) -> Path:
    """A rules file with only the shipped rules ``names``, as they ship."""
    shipped = yaml.safe_load(DEFAULT_RULES_PATH.read_text(encoding="utf-8"))
    shipped["triggers"] = [r for r in shipped["triggers"] if r["name"] in names]
    assert len(shipped["triggers"]) == len(names)
    path = directory / ("rules-" + "-".join(names) + ".yaml")
    path.write_text(yaml.safe_dump(shipped, sort_keys=False), encoding="utf-8")
    return path


def run(data: Path, out: Path, since: str, until: str, rules: Path | None = None) -> TriggersRun:
    """One window through the job; it must reconcile."""
    out.parent.mkdir(parents=True, exist_ok=True)
    result = run_triggers(TriggersSettings(data, ts(since), ts(until), out, rules_path=rules))
    assert result.result.reconciles, result.result.counts
    assert list(result.firings.columns) == list(FIRING_COLUMNS)
    assert result.firings.equals(pd.read_parquet(out))
    return result


def fired(result: TriggersRun, *, late: bool = False) -> list[tuple]:
    """The firings as (customer, trigger, fired_at, action, reason[, late])."""
    f = result.firings
    rows = []
    for r in f.itertuples(index=False):
        row = (r.customer_id, r.trigger, f"{r.fired_at:%Y-%m-%dT%H:%M}", r.action, r.reason)
        rows.append((*row, bool(r.late)) if late else row)
    return rows


def count(result: TriggersRun, trigger: str, fate: str) -> int:
    return int(result.result.counts.loc[trigger, fate])


# --- every shipped rule: it fires, and a cancel stops it ---------------------------------------


def test_welcome_fires_a_day_after_signup(tmp_path):
    data = world(tmp_path / "data", [("a", "2026-03-02T10:00"), ("b", "2026-03-02T11:00")])
    r = run(
        data,
        tmp_path / "out/w.parquet",
        "2026-03-01",
        "2026-03-10",
        rules_file(tmp_path, "welcome"),
    )
    assert fired(r) == [
        ("a", "welcome", "2026-03-03T10:00", "send", ""),
        ("b", "welcome", "2026-03-03T11:00", "send", ""),
    ]
    assert r.firings["start_event"].tolist() == ["customers.signup"] * 2
    assert r.firings["started_at"].tolist() == [ts("2026-03-02T10:00"), ts("2026-03-02T11:00")]


def test_welcome_cancelled_by_a_first_order(tmp_path):
    data = world(
        tmp_path / "data",
        [("a", "2026-03-02T10:00"), ("b", "2026-03-02T11:00")],
        orders=[("a", "2026-03-02T20:00")],
    )
    r = run(
        data,
        tmp_path / "out/w.parquet",
        "2026-03-01",
        "2026-03-10",
        rules_file(tmp_path, "welcome"),
    )
    assert fired(r) == [("b", "welcome", "2026-03-03T11:00", "send", "")]


def test_cart_abandonment_fires_48h_after_the_cart(tmp_path):
    data = world(
        tmp_path / "data",
        [("a", "2026-02-01")],
        web=[("a", "add_to_cart", "2026-03-03T09:00", "bags")],
    )
    r = run(
        data,
        tmp_path / "out/w.parquet",
        "2026-03-01",
        "2026-03-10",
        rules_file(tmp_path, "cart_abandonment"),
    )
    assert fired(r) == [("a", "cart_abandonment", "2026-03-05T09:00", "send", "")]
    assert r.firings["category"].tolist() == ["bags"]
    assert r.firings["start_event"].tolist() == ["web_events.add_to_cart"]


def test_cart_abandonment_order_at_47h59_cancels_at_48h_does_not(tmp_path):
    data = world(
        tmp_path / "data",
        [("a", "2026-02-01"), ("b", "2026-02-01")],
        orders=[("a", "2026-03-05T08:59"), ("b", "2026-03-05T09:00")],
        web=[("a", "add_to_cart", "2026-03-03T09:00"), ("b", "add_to_cart", "2026-03-03T09:00")],
    )
    r = run(
        data,
        tmp_path / "out/w.parquet",
        "2026-03-01",
        "2026-03-10",
        rules_file(tmp_path, "cart_abandonment"),
    )
    # A firing at t reads only the events strictly before t: the order at 48h comes too late.
    assert fired(r) == [("b", "cart_abandonment", "2026-03-05T09:00", "send", "")]


def test_cart_abandonment_waits_for_the_window_its_48h_close_in(tmp_path):
    data = world(
        tmp_path / "data",
        [("a", "2026-02-01")],
        web=[("a", "add_to_cart", "2026-03-03T09:00")],
    )
    rules = rules_file(tmp_path, "cart_abandonment")
    first = run(data, tmp_path / "out/w1.parquet", "2026-03-01", "2026-03-05", rules)
    assert fired(first) == []
    second = run(data, tmp_path / "out/w2.parquet", "2026-03-05", "2026-03-08", rules)
    assert fired(second, late=True) == [
        ("a", "cart_abandonment", "2026-03-05T09:00", "send", "", False)
    ]
    assert second.history_files == (tmp_path / "out/w1.parquet",)


def test_cart_abandonment_cooldown(tmp_path):
    data = world(
        tmp_path / "data",
        [("a", "2026-02-01")],
        web=[
            ("a", "add_to_cart", "2026-03-03T09:00"),  # fires 03-05 09:00
            ("a", "add_to_cart", "2026-03-04T09:00"),  # would fire 03-06: inside 3 days
            ("a", "add_to_cart", "2026-03-07T10:00"),  # fires 03-09 10:00: 4 days later
        ],
    )
    r = run(
        data,
        tmp_path / "out/w.parquet",
        "2026-03-01",
        "2026-03-12",
        rules_file(tmp_path, "cart_abandonment"),
    )
    assert fired(r) == [
        ("a", "cart_abandonment", "2026-03-05T09:00", "send", ""),
        ("a", "cart_abandonment", "2026-03-09T10:00", "send", ""),
    ]
    assert count(r, "cart_abandonment", "cooldown") == 1
    assert count(r, "cart_abandonment", "candidates") == 3


def test_cart_abandonment_cooldown_holds_across_windows(tmp_path):
    data = world(
        tmp_path / "data",
        [("a", "2026-02-01")],
        web=[("a", "add_to_cart", "2026-03-03T09:00"), ("a", "add_to_cart", "2026-03-04T09:00")],
    )
    rules = rules_file(tmp_path, "cart_abandonment")
    first = run(data, tmp_path / "out/w1.parquet", "2026-03-01", "2026-03-06", rules)
    assert fired(first) == [("a", "cart_abandonment", "2026-03-05T09:00", "send", "")]
    second = run(data, tmp_path / "out/w2.parquet", "2026-03-06", "2026-03-10", rules)
    assert fired(second) == []
    assert count(second, "cart_abandonment", "cooldown") == 1


def test_cart_abandonment_consent(tmp_path):
    data = world(
        tmp_path / "data",
        [
            ("ok", "2026-02-01"),
            ("no_opt", "2026-02-01", False),
            ("unsub_before", "2026-02-01", True, "2026-03-04T00:00"),
            ("unsub_after", "2026-02-01", True, "2026-03-06T00:00"),
        ],
        web=[
            (c, "add_to_cart", "2026-03-03T09:00")
            for c in ("ok", "no_opt", "unsub_before", "unsub_after")
        ],
    )
    r = run(
        data,
        tmp_path / "out/w.parquet",
        "2026-03-01",
        "2026-03-10",
        rules_file(tmp_path, "cart_abandonment"),
    )
    assert sorted(fired(r)) == [
        ("no_opt", "cart_abandonment", "2026-03-05T09:00", "suppress", "no_opt_in"),
        ("ok", "cart_abandonment", "2026-03-05T09:00", "send", ""),
        ("unsub_after", "cart_abandonment", "2026-03-05T09:00", "send", ""),
        ("unsub_before", "cart_abandonment", "2026-03-05T09:00", "suppress", "unsubscribed"),
    ]


def test_browse_abandonment_fires_a_day_after_the_third_view(tmp_path):
    views = ["2026-03-02T13:00", "2026-03-02T14:00", "2026-03-02T15:00"]
    data = world(
        tmp_path / "data",
        [("a", "2026-02-01"), ("b", "2026-02-01"), ("two", "2026-02-01"), ("mixed", "2026-02-01")],
        web=[
            *[("a", "product_view", t, "shoes") for t in views],
            *[("b", "product_view", t, "shoes") for t in views],
            ("b", "add_to_cart", "2026-03-03T10:00", "hats"),  # any cart cancels
            *[("two", "product_view", t, "shoes") for t in views[:2]],
            *[
                ("mixed", "product_view", t, c)
                for t, c in zip(views, ["shoes", "hats", "shoes"], strict=True)
            ],
        ],
    )
    r = run(
        data,
        tmp_path / "out/w.parquet",
        "2026-03-01",
        "2026-03-10",
        rules_file(tmp_path, "browse_abandonment"),
    )
    assert fired(r) == [("a", "browse_abandonment", "2026-03-03T15:00", "send", "")]
    assert r.firings["category"].tolist() == ["shoes"]


def test_browse_abandonment_cancelled_by_an_order(tmp_path):
    views = ["2026-03-02T13:00", "2026-03-02T14:00", "2026-03-02T15:00"]
    data = world(
        tmp_path / "data",
        [("a", "2026-02-01")],
        orders=[("a", "2026-03-03T15:00"), ("a", "2026-03-03T14:59")],
        web=[("a", "product_view", t, "shoes") for t in views],
    )
    r = run(
        data,
        tmp_path / "out/w.parquet",
        "2026-03-01",
        "2026-03-10",
        rules_file(tmp_path, "browse_abandonment"),
    )
    assert fired(r) == []


_THREE_ORDERS = [("a", "2026-03-01T10:00"), ("a", "2026-03-11T10:00"), ("a", "2026-03-21T10:00")]


def test_win_back_fires_at_one_and_a_half_usual_gaps(tmp_path):
    data = world(
        tmp_path / "data",
        [("a", "2026-02-01"), ("two", "2026-02-01")],
        orders=[*_THREE_ORDERS, ("two", "2026-03-11T10:00"), ("two", "2026-03-21T10:00")],
    )
    r = run(
        data,
        tmp_path / "out/w.parquet",
        "2026-03-25",
        "2026-04-10",
        rules_file(tmp_path, "win_back"),
    )
    # The third order; a mean gap of 10 days; 15 days after it. Two orders are not enough.
    assert fired(r) == [("a", "win_back", "2026-04-05T10:00", "send", "")]
    assert r.firings["started_at"].tolist() == [ts("2026-03-21T10:00")]


def test_win_back_cancelled_by_an_order(tmp_path):
    data = world(
        tmp_path / "data",
        [("a", "2026-02-01")],
        orders=[*_THREE_ORDERS, ("a", "2026-04-01T10:00")],
    )
    r = run(
        data,
        tmp_path / "out/w.parquet",
        "2026-03-25",
        "2026-04-10",
        rules_file(tmp_path, "win_back"),
    )
    # The fourth order starts a wait of 1.5 x 31/3 days: 2026-04-16 22:00, after the window.
    assert fired(r) == []


def test_replenishment_fires_three_days_before_the_usual_gap(tmp_path):
    coffee = [(c, t, "coffee") for c, t in _THREE_ORDERS]
    data = world(
        tmp_path / "data",
        [("a", "2026-02-01")],
        orders=[*coffee, ("a", "2026-03-25T10:00", "tea")],  # another category cancels nothing
    )
    r = run(
        data,
        tmp_path / "out/w.parquet",
        "2026-03-22",
        "2026-04-05",
        rules_file(tmp_path, "replenishment"),
    )
    assert fired(r) == [("a", "replenishment", "2026-03-28T10:00", "send", "")]
    assert r.firings["category"].tolist() == ["coffee"]


def test_replenishment_cancelled_by_an_order_in_the_category(tmp_path):
    coffee = [(c, t, "coffee") for c, t in _THREE_ORDERS]
    data = world(
        tmp_path / "data",
        [("a", "2026-02-01")],
        orders=[*coffee, ("a", "2026-03-25T10:00", "coffee")],
    )
    r = run(
        data,
        tmp_path / "out/w.parquet",
        "2026-03-22",
        "2026-04-05",
        rules_file(tmp_path, "replenishment"),
    )
    # The 03-21 wait is cancelled; the 03-25 order starts its own: a usual gap of 8 days, less 3.
    assert fired(r) == [("a", "replenishment", "2026-03-30T10:00", "send", "")]
    assert r.firings["started_at"].tolist() == [ts("2026-03-25T10:00")]


_ENGAGED = [("a", "opened", "2025-12-01T10:00"), ("a", "clicked", "2025-12-02T10:00")]


def test_inactivity_fires_90_days_after_the_last_engagement(tmp_path):
    data = world(
        tmp_path / "data",
        [("a", "2025-06-01"), ("few", "2025-06-01")],
        email=[
            *_ENGAGED,
            ("a", "opened", "2025-12-03T10:00"),
            ("few", "opened", "2025-12-02T10:00"),
            ("few", "opened", "2025-12-03T10:00"),  # two engagements: never an engaged customer
        ],
    )
    r = run(
        data,
        tmp_path / "out/w.parquet",
        "2026-03-01",
        "2026-03-10",
        rules_file(tmp_path, "inactivity"),
    )
    assert fired(r) == [("a", "inactivity", "2026-03-03T10:00", "send", "")]


def test_inactivity_cancelled_by_an_open(tmp_path):
    data = world(
        tmp_path / "data",
        [("a", "2025-06-01")],
        email=[*_ENGAGED, ("a", "opened", "2025-12-03T10:00"), ("a", "opened", "2026-03-03T09:00")],
    )
    r = run(
        data,
        tmp_path / "out/w.parquet",
        "2026-03-01",
        "2026-03-10",
        rules_file(tmp_path, "inactivity"),
    )
    assert fired(r) == []


def test_dormant_fires_14_days_after_a_sent_inactivity_email(tmp_path):
    data = world(
        tmp_path / "data",
        [("a", "2025-06-01"), ("unsub", "2025-06-01", True, "2026-02-20T00:00")],
        email=[
            *_ENGAGED,
            ("a", "opened", "2025-12-03T10:00"),
            *[("unsub", e, t.replace("10:00", "11:00")) for _, e, t in _ENGAGED],
            ("unsub", "opened", "2025-12-03T11:00"),
        ],
    )
    r = run(
        data,
        tmp_path / "out/w.parquet",
        "2026-03-01",
        "2026-03-20",
        rules_file(tmp_path, "inactivity", "dormant"),
    )
    assert fired(r) == [
        ("a", "inactivity", "2026-03-03T10:00", "send", ""),
        ("unsub", "inactivity", "2026-03-03T11:00", "suppress", "unsubscribed"),
        ("a", "dormant", "2026-03-17T10:00", "send", ""),
    ]
    assert r.firings["start_event"].tolist()[-1] == "trigger.inactivity"


def test_dormant_across_windows_starts_from_the_history(tmp_path):
    data = world(
        tmp_path / "data",
        [("a", "2025-06-01")],
        email=[*_ENGAGED, ("a", "opened", "2025-12-03T10:00")],
    )
    rules = rules_file(tmp_path, "inactivity", "dormant")
    first = run(data, tmp_path / "out/w1.parquet", "2026-03-01", "2026-03-10", rules)
    assert fired(first) == [("a", "inactivity", "2026-03-03T10:00", "send", "")]
    second = run(data, tmp_path / "out/w2.parquet", "2026-03-10", "2026-03-20", rules)
    assert fired(second) == [("a", "dormant", "2026-03-17T10:00", "send", "")]


def test_dormant_cancelled_by_an_open(tmp_path):
    data = world(
        tmp_path / "data",
        [("a", "2025-06-01")],
        email=[*_ENGAGED, ("a", "opened", "2025-12-03T10:00"), ("a", "opened", "2026-03-10T10:00")],
    )
    r = run(
        data,
        tmp_path / "out/w.parquet",
        "2026-03-01",
        "2026-03-20",
        rules_file(tmp_path, "inactivity", "dormant"),
    )
    # The open restarts inactivity (90 days on), and stops dormant.
    assert fired(r) == [("a", "inactivity", "2026-03-03T10:00", "send", "")]


# --- priority ------------------------------------------------------------------------------------


def test_same_day_priority_is_causal(tmp_path):
    # Carts before the sign-up (anonymous browsing), so that both fire on 03-03.
    data = world(
        tmp_path / "data",
        [("late_cart", "2026-03-02T10:00"), ("early_cart", "2026-03-02T10:00")],
        web=[
            ("late_cart", "add_to_cart", "2026-03-01T12:00"),  # fires 03-03 12:00, after welcome
            ("early_cart", "add_to_cart", "2026-03-01T08:00"),  # fires 03-03 08:00, before it
        ],
    )
    rules = rules_file(tmp_path, "welcome", "cart_abandonment")
    r = run(data, tmp_path / "out/w.parquet", "2026-03-01", "2026-03-10", rules)
    assert fired(r) == [
        ("early_cart", "cart_abandonment", "2026-03-03T08:00", "send", ""),
        ("early_cart", "welcome", "2026-03-03T10:00", "send", ""),
        ("late_cart", "welcome", "2026-03-03T10:00", "send", ""),
        (
            "late_cart",
            "cart_abandonment",
            "2026-03-03T12:00",
            "skip",
            "welcome (priority 100) fired for this customer earlier that day, at 10:00",
        ),
    ]


# --- windows: late events, reruns, overlapping files --------------------------------------------


@pytest.mark.parametrize("window_1_emits", [True, False], ids=["window-1-emits", "window-1-empty"])
def test_late_events(tmp_path, window_1_emits):
    directory = tmp_path / "data"
    customers = [
        ("a", "2026-02-01"),
        ("b", "2026-02-01"),
        ("old", "2026-02-01"),
        ("w1", "2026-02-01"),
    ]
    on_time = [("w1", "add_to_cart", "2026-03-01T09:00")] if window_1_emits else []
    rules = rules_file(tmp_path, "cart_abandonment")
    world(directory, customers, web=on_time)
    first = run(directory, tmp_path / "out/w1.parquet", "2026-03-01", "2026-03-05", rules)
    expected_1 = [("w1", "cart_abandonment", "2026-03-03T09:00", "send", "")]
    assert fired(first) == (expected_1 if window_1_emits else [])
    # Events that arrive after window 1 was run, whose 48 hours closed inside window 1.
    world(
        directory,
        customers,
        web=[
            *on_time,
            ("a", "add_to_cart", "2026-03-02T09:00"),  # closed 03-04 09:00: 15 h before since
            ("old", "add_to_cart", "2026-02-28T09:00"),  # closed 03-02 09:00: > 2 days before
            ("b", "add_to_cart", "2026-03-04T09:00"),  # closes 03-06 09:00: on time
        ],
    )
    second = run(directory, tmp_path / "out/w2.parquet", "2026-03-05", "2026-03-08", rules)
    # Window 1 covered [03-01, 03-05) whether or not it emitted anything.
    assert fired(second, late=True) == [
        ("a", "cart_abandonment", "2026-03-04T09:00", "send", "", True),
        ("b", "cart_abandonment", "2026-03-06T09:00", "send", "", False),
    ]
    # The firing older than late_window is not emitted: the run does not look that far back.
    assert count(second, "cart_abandonment", "not_covered") == 0
    assert "old" not in set(second.firings["customer_id"])
    # And window 3 emits none of them again.
    third = run(directory, tmp_path / "out/w3.parquet", "2026-03-08", "2026-03-10", rules)
    assert fired(third) == []
    assert count(third, "cart_abandonment", "in_history") == 1  # b's, closing 03-06


def test_a_late_firing_in_no_window_the_history_covers_is_not_emitted(tmp_path):
    rules = rules_file(tmp_path, "cart_abandonment")
    data = world(
        tmp_path / "data",
        [("a", "2026-02-01"), ("w1", "2026-02-01")],
        web=[
            ("a", "add_to_cart", "2026-03-02T12:00"),  # closes 03-04 12:00, in the gap
            ("w1", "add_to_cart", "2026-03-01T00:00"),  # closes 03-03 00:00, in window 1
        ],
    )
    first = run(data, tmp_path / "out/w1.parquet", "2026-03-01", "2026-03-04", rules)
    assert fired(first) == [("w1", "cart_abandonment", "2026-03-03T00:00", "send", "")]
    second = run(data, tmp_path / "out/w2.parquet", "2026-03-05", "2026-03-08", rules)
    assert fired(second) == []
    assert count(second, "cart_abandonment", "not_covered") == 1


def test_a_rerun_gives_the_same_file(tmp_path):
    data = world(
        tmp_path / "data",
        [("a", "2026-03-02T10:00"), ("b", "2026-02-01", False)],
        web=[
            ("a", "add_to_cart", "2026-03-05T09:00"),
            ("b", "add_to_cart", "2026-03-05T09:00"),
            ("a", "add_to_cart", "2026-03-08T09:00"),
        ],
    )
    out = tmp_path / "out"
    run(data, out / "w1.parquet", "2026-03-01", "2026-03-06")
    second = run(data, out / "w2.parquet", "2026-03-06", "2026-03-12")
    before = pd.read_parquet(out / "w2.parquet")
    assert len(before) >= 2
    again = run(data, out / "w2.parquet", "2026-03-06", "2026-03-12")
    pd.testing.assert_frame_equal(pd.read_parquet(out / "w2.parquet"), before)
    assert again.history_files == second.history_files == (out / "w1.parquet",)
    # Window 1 rerun after window 2 exists: the later file is not its history.
    first_again = run(data, out / "w1.parquet", "2026-03-01", "2026-03-06")
    assert first_again.history_files == ()


def test_a_partly_overlapping_file_is_refused(tmp_path):
    data = world(tmp_path / "data", [("a", "2026-03-02T10:00")])
    rules = rules_file(tmp_path, "welcome")
    run(data, tmp_path / "out/w1.parquet", "2026-03-01", "2026-03-05", rules)
    run(data, tmp_path / "other/w.parquet", "2026-03-03", "2026-03-06", rules)
    overlapping = tmp_path / "out/overlap.parquet"
    (tmp_path / "other/w.parquet").rename(overlapping)
    with pytest.raises(TriggersInputError, match="overlaps") as info:
        run(data, tmp_path / "out/w2.parquet", "2026-03-05", "2026-03-08", rules)
    assert str(overlapping) in str(info.value)
    assert not (tmp_path / "out/w2.parquet").exists()


# --- rules validation ---------------------------------------------------------------------------


def _rule(**over) -> dict:
    rule = {
        "name": "cart",
        "priority": 10,
        "start": {"table": "web_events", "event_type": "add_to_cart"},
        "wait": "48h",
        "cancel": [{"table": "orders"}],
        "cooldown": "3d",
    }
    rule.update(over)
    return rule


@pytest.mark.parametrize(
    ("triggers", "path", "what"),
    [
        (
            [_rule(start={"table": "web_event", "event_type": "add_to_cart"})],
            "triggers.cart.start.table",
            "unknown table",
        ),
        (
            [_rule(start={"table": "web_events", "event_type": "add_to_basket"})],
            "triggers.cart.start.event_type",
            "unknown event type; expected one of page_view, product_view, add_to_cart",
        ),
        (
            [_rule(cancel=[{"table": "email_events", "event_type": ["opened", "read"]}])],
            "triggers.cart.cancel[0].event_type",
            "unknown event type",
        ),
        (
            [_rule(), _rule(name="other", priority=10)],
            "triggers.other.priority",
            "same priority as cart",
        ),
        (
            [_rule(), {"name": "after_it", "priority": 5, "after": "kart", "wait": "14d"}],
            "triggers.after_it.after",
            "unknown trigger; expected one of",
        ),
        ([_rule(wait="48 hours")], "triggers.cart.wait", "not a duration; expected a duration"),
        ([_rule(cooldown="-3d")], "triggers.cart.cooldown", "not a duration"),
    ],
)
def test_bad_rules_name_the_key_and_what_was_expected(tmp_path, triggers, path, what):
    file = tmp_path / "rules.yaml"
    file.write_text(yaml.safe_dump({"version": 1, "triggers": triggers}), encoding="utf-8")
    with pytest.raises(TriggerRulesError) as info:
        load_rules(file)
    message = str(info.value)
    assert f"{file}: {path}: {what}" in message, message
    assert "; got " in message


def test_bad_rules_report_every_problem_at_once(tmp_path):
    file = tmp_path / "rules.yaml"
    triggers = [_rule(wait="2 days", start={"table": "nope"}), _rule(name="b", priority=10)]
    file.write_text(yaml.safe_dump({"version": 1, "triggers": triggers}), encoding="utf-8")
    with pytest.raises(TriggerRulesError) as info:
        load_rules(file)
    problems = info.value.problems
    assert any("triggers.cart.start.table: unknown table" in p for p in problems), problems
    assert any("triggers.cart.wait: not a duration" in p for p in problems), problems
    assert len(problems) >= 2


def test_the_shipped_rules_load():
    rules = load_rules()
    assert [r.name for r in rules.rules] == [
        "welcome",
        "cart_abandonment",
        "win_back",
        "browse_abandonment",
        "replenishment",
        "inactivity",
        "dormant",
    ]
    assert rules.late_window == pd.Timedelta(days=2)
