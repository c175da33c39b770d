"""Properties of trigger windows: how a period is cut, or the future, never changes its firings.

(a) Splitting ``[T0, T1)`` into consecutive windows, each run with the earlier
windows' firings as its history, yields exactly the firings of one run over
``[T0, T1)`` (all columns but the window's bounds).
(b) Events at or after ``T1`` (and customers who sign up then) change nothing
in the firings of ``[T0, T1)``.

Most examples call the engine's public API, :func:`find_firings`, on a
:class:`TriggerData` built by hand, with a consent function that lets every
firing through: a run of the job costs about a second (DuckDB validation and
the point-in-time consent query), too slow for a property, and consent is a
per-firing lookup at ``fired_at`` that cannot depend on the windows (the
end-to-end tests in ``test_triggers.py`` cover it). One property runs the
whole job, ``run_triggers`` on real Parquet files, on fewer examples.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from upseg.pipelines.triggers_job import TriggersSettings, run_triggers
from upseg.serving.triggers import (
    FIRING_COLUMNS,
    TriggerData,
    empty_firings,
    find_firings,
    load_rules,
)

T0 = pd.Timestamp("2026-03-01", tz="UTC")
DAYS = 20  # long enough for inactivity and, 14 days later, dormant
T1 = T0 + pd.Timedelta(days=DAYS)
HOUR = pd.Timedelta(hours=1)
RULES = load_rules()
CATEGORIES = ("shoes", "hats", "coffee")
_COMPARED = [c for c in FIRING_COLUMNS if c not in ("window_start", "window_end")]
_SORT = ["fired_at", "customer_id", "trigger", "started_at", "category"]


def _hours(lo: int, hi: int) -> st.SearchStrategy[pd.Timestamp]:
    """Instants on the hour grid, ``lo`` to ``hi`` hours after T0 (coincidences are likely)."""
    return st.integers(lo, hi).map(lambda h: T0 + h * HOUR)


@st.composite
def events(draw, *, lo: int = -10 * 24, hi: int = DAYS * 24 + 3 * 24, ids=None):
    """A few customers and their orders, carts, product views and opens."""
    if ids is None:
        ids = [f"c{i}" for i in range(draw(st.integers(2, 6)))]
    signups = {c: draw(_hours(-30 * 24, DAYS * 24)) for c in ids}
    ident = st.sampled_from(ids)
    cat = st.sampled_from(CATEGORIES)
    orders = draw(st.lists(st.tuples(ident, _hours(lo, hi), cat), max_size=12))
    # Bursts of one to three events an hour apart, so that three product views in a day
    # (browse abandonment) happen often.
    web = [
        (c, kind, at + k * HOUR, category)
        for c, kind, at, category, n in draw(
            st.lists(
                st.tuples(
                    ident,
                    st.sampled_from(["add_to_cart", "product_view"]),
                    _hours(lo, hi),
                    cat,
                    st.integers(1, 3),
                ),
                max_size=10,
            )
        )
        for k in range(n)
    ]
    # Engagements a day apart, many around 90 days before the span, so that inactivity
    # (three engagements, then 90 days without) and dormant (14 days after it) fire.
    engaged = st.sampled_from(["opened", "clicked"])
    bursts = draw(
        st.lists(
            st.tuples(
                ident,
                engaged,
                st.one_of(_hours(-100 * 24, -80 * 24), _hours(-100 * 24, hi)),
                st.integers(1, 4),
            ),
            max_size=6,
        )
    )
    email = [(c, kind, at + k * 24 * HOUR) for c, kind, at, n in bursts for k in range(n)]
    email = [e for e in email if e[2] <= T0 + hi * HOUR]
    return signups, orders, web, email


def trigger_data(signups, orders, web, email, *, before: pd.Timestamp | None = None) -> TriggerData:
    """The frames the job would read (``at`` UTC in microseconds), up to ``before``."""

    def frame(columns: dict) -> pd.DataFrame:
        f = pd.DataFrame(columns)
        f["customer_id"] = f["customer_id"].astype(str)
        f["at"] = pd.to_datetime(f["at"], utc=True).astype("datetime64[us, UTC]")
        if "category" in f:
            f["category"] = f["category"].astype("string")
        if "event_type" in f:
            f["event_type"] = f["event_type"].astype(str)
        return f if before is None else f[f["at"] < before].reset_index(drop=True)

    return TriggerData(
        frame({"customer_id": list(signups), "at": list(signups.values())}),
        frame(
            {
                "customer_id": [o[0] for o in orders],
                "at": [o[1] for o in orders],
                "category": [o[2] for o in orders],
            }
        ),
        frame(
            {
                "customer_id": [w[0] for w in web],
                "event_type": [w[1] for w in web],
                "at": [w[2] for w in web],
                "category": [w[3] for w in web],
            }
        ),
        frame(
            {
                "customer_id": [e[0] for e in email],
                "event_type": [e[1] for e in email],
                "at": [e[2] for e in email],
                "category": [None] * len(email),
            }
        ),
    )


def everyone_may_be_mailed(points: pd.DataFrame) -> pd.Series:
    return pd.Series("", index=points.index, dtype=str)


def windows(cuts: list[int]) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Consecutive windows of [T0, T1) cut ``cuts`` hours after T0."""
    bounds = [T0, *(T0 + h * HOUR for h in sorted(set(cuts))), T1]
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def run_engine(world, since, until, history, earlier=()) -> pd.DataFrame:
    result = find_firings(
        trigger_data(*world, before=until),
        RULES,
        since=since,
        until=until,
        history=history,
        consent=everyone_may_be_mailed,
        windows=list(earlier),
    )
    assert result.reconciles, result.counts
    return result.firings


def comparable(firings: pd.DataFrame) -> pd.DataFrame:
    return firings[_COMPARED].sort_values(_SORT, kind="mergesort").reset_index(drop=True)


_CUTS = st.lists(st.integers(1, DAYS * 24 - 1), max_size=3, unique=True)
_SETTINGS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_SETTINGS
@given(world=events(), cuts=_CUTS)
@example(
    world=(
        {"c2": T0 + 375 * HOUR, "c3": T0 + 468 * HOUR},
        [("c2", T0 + 308 * HOUR, "shoes")],
        [("c3", "add_to_cart", T0 + 11 * 24 * HOUR, "shoes")],
        [],
    ),
    cuts=[322],
)
def test_windows_in_a_row_emit_what_one_window_emits(world, cuts):
    whole = run_engine(world, T0, T1, empty_firings())
    parts: list[pd.DataFrame] = []
    cut = windows(cuts)
    for i, (since, until) in enumerate(cut):
        history = pd.concat(parts, ignore_index=True) if parts else empty_firings()
        # The earlier windows, empty ones included, as the job reads them from their files.
        parts.append(run_engine(world, since, until, history, earlier=cut[:i]))
    split = pd.concat(parts, ignore_index=True)
    pd.testing.assert_frame_equal(comparable(split), comparable(whole))


@_SETTINGS
@given(data=st.data())
def test_events_from_until_on_change_nothing(data):
    world = data.draw(events())
    signups, orders, web, email = world
    ids = sorted(signups)
    later = data.draw(events(lo=DAYS * 24, hi=DAYS * 24 + 60 * 24, ids=ids))
    late_signups = {
        f"new{i}": T1 + h * HOUR
        for i, h in enumerate(data.draw(st.lists(st.integers(0, 48), max_size=2)))
    }
    more = (
        {**signups, **late_signups},
        [*orders, *later[1]],
        [*web, *later[2]],
        [*email, *[e for e in later[3] if e[2] >= T1]],
    )
    before = find_firings(
        trigger_data(*world),
        RULES,
        since=T0,
        until=T1,
        history=empty_firings(),
        consent=everyone_may_be_mailed,
    ).firings
    after = find_firings(
        trigger_data(*more),
        RULES,
        since=T0,
        until=T1,
        history=empty_firings(),
        consent=everyone_may_be_mailed,
    ).firings
    pd.testing.assert_frame_equal(comparable(after), comparable(before))


def _write(directory: Path, world) -> Path:
    signups, orders, web, email = world
    directory.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {
            "customer_id": list(signups),
            "signup_at": pd.to_datetime(list(signups.values()), utc=True),
            "email_opt_in": True,
            "unsubscribed_at": pd.Series(
                pd.NaT, index=range(len(signups)), dtype="datetime64[us, UTC]"
            ),
        }
    ).to_parquet(directory / "customers.parquet", index=False)
    # One order, view and open long before, so that no table is empty.
    first = next(iter(signups))
    o = [(first, T0 - pd.Timedelta(days=400), "shoes"), *orders]
    pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(len(o))],
            "customer_id": [r[0] for r in o],
            "ordered_at": pd.to_datetime([r[1] for r in o], utc=True),
            "amount": 10.0,
            "category": [r[2] for r in o],
            "status": "completed",
        }
    ).to_parquet(directory / "orders.parquet", index=False)
    w = [(first, "page_view", T0 - pd.Timedelta(days=400), None), *web]
    pd.DataFrame(
        {
            "customer_id": [r[0] for r in w],
            "session_id": [f"s{i}" for i in range(len(w))],
            "event_type": [r[1] for r in w],
            "occurred_at": pd.to_datetime([r[2] for r in w], utc=True),
            "category": [r[3] for r in w],
        }
    ).to_parquet(directory / "web_events.parquet", index=False)
    e = [(first, "sent", T0 - pd.Timedelta(days=400)), *email]
    pd.DataFrame(
        {
            "customer_id": [r[0] for r in e],
            "campaign_id": [f"k{i}" for i in range(len(e))],
            "event_type": [r[1] for r in e],
            "occurred_at": pd.to_datetime([r[2] for r in e], utc=True),
        }
    ).to_parquet(directory / "email_events.parquet", index=False)
    return directory


@settings(
    max_examples=2,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # a shrink reruns the job many times
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    world=events(hi=DAYS * 24 - 1),
    cuts=st.lists(st.integers(1, DAYS * 24 - 1), min_size=1, max_size=2, unique=True),
)
@example(world=({"c0": T0, "c1": T0}, [], [], []), cuts=[1])
def test_the_job_in_windows_in_a_row_emits_what_it_emits_in_one(world, cuts):
    with tempfile.TemporaryDirectory() as tmp:
        data = _write(Path(tmp) / "data", world)
        (Path(tmp) / "whole").mkdir()
        (Path(tmp) / "split").mkdir()
        whole = run_triggers(TriggersSettings(data, T0, T1, Path(tmp) / "whole/w.parquet"))
        assert whole.result.reconciles
        for i, (since, until) in enumerate(windows(cuts)):
            part = run_triggers(
                TriggersSettings(data, since, until, Path(tmp) / f"split/{i}.parquet")
            )
            assert part.result.reconciles
        split = pd.concat(
            [pd.read_parquet(p) for p in sorted((Path(tmp) / "split").glob("*.parquet"))],
            ignore_index=True,
        )
        pd.testing.assert_frame_equal(comparable(split), comparable(whole.firings))
