"""Candidate firings: a rule's starts whose wait closes in a span and nothing cancelled.

Pure, vectorised pandas on the events of :class:`TriggerData`. Everything a
candidate depends on happened strictly before its ``fired_at``: the start and
its conditions at or before ``started_at``, the cancels strictly between
``started_at`` and ``fired_at``. So an event at the very moment the wait closes
(an order exactly 48 hours after the cart) does not cancel it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from upseg.serving.triggers.rules import EventMatch, GapWait, TriggerRule

__all__ = ["CANDIDATE_COLUMNS", "TriggerData", "candidate_firings", "starts_of"]

#: A candidate's columns; (customer_id, trigger, started_at, category) is its identity.
CANDIDATE_COLUMNS = (
    "customer_id",
    "trigger",
    "started_at",
    "category",
    "fired_at",
    "start_event",
    "priority",
)
_ID = "customer_id"
_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class TriggerData:
    """The events the rules read, each with ``customer_id`` (str) and ``at`` (UTC).

    ``customers`` has ``signup_at`` as ``at``; ``orders`` only completed orders
    and a ``category``; ``web_events`` ``event_type`` and ``category``;
    ``email_events`` ``event_type``. A table no rule reads may be empty.
    """

    customers: pd.DataFrame
    orders: pd.DataFrame
    web_events: pd.DataFrame
    email_events: pd.DataFrame
    # The sorted rows of each (table, event types) the rules name, built once: seven rules
    # name five of them, and sorting millions of string ids was most of a run.
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def table(self, name: str) -> pd.DataFrame:
        """One table by its contract name."""
        return getattr(self, name)

    def coded(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with ``_cid`` and ``_cat``: its customer and category as integer codes.

        Joins and sorts on integers instead of millions of strings. Every
        distinct id and category gets its own code, the same in every frame of
        this data (an id first seen here is added); a missing category is -1.
        """
        category = frame["category"].astype("string")
        return frame.assign(
            _cid=self._code("customer_id", frame[_ID].astype(str)),
            _cat=np.where(category.isna(), -1, self._code("category", category.fillna(""))),
        )

    def _code(self, kind: str, values: pd.Series) -> np.ndarray:
        index: pd.Index = self._cache.get(("codes", kind), pd.Index([], dtype=object))
        codes = index.get_indexer(values)
        if (codes < 0).any():
            index = index.append(pd.Index(pd.unique(values[codes < 0].to_numpy())))
            self._cache[("codes", kind)] = index
            codes = index.get_indexer(values)
        return codes


def _matching(data: TriggerData, match: EventMatch) -> pd.DataFrame:
    """The rows of ``match``'s table that it names, as ``customer_id, at, category``.

    Sorted by customer, time and category; computed once per data and (table,
    event types). Callers never modify it.
    """
    key = (match.table, match.event_types)
    if key not in data._cache:
        data._cache[key] = _matched_rows(data, match)
    return data._cache[key]


def _matched_rows(data: TriggerData, match: EventMatch) -> pd.DataFrame:
    frame = data.table(match.table)
    if match.event_types:
        frame = frame[frame["event_type"].isin(match.event_types)]
    category = (
        frame["category"] if "category" in frame.columns else pd.Series(pd.NA, index=frame.index)
    )
    out = pd.DataFrame(
        {
            _ID: frame[_ID].to_numpy(),
            # .array keeps the tz-aware DatetimeArray; to_numpy() would box every instant
            # into an object array of Timestamps (slow to build and to sort).
            "at": frame["at"].array,
            "category": category.astype("string").to_numpy(),
        }
    )
    # A total order, so that events at the same instant are counted the same way every run.
    out = data.coded(out)
    at = out["at"].dt.as_unit("ns").astype("int64").to_numpy()
    order = np.lexsort((out["_cat"].to_numpy(), at, out["_cid"].to_numpy()))
    return out.take(order).reset_index(drop=True)


def _keys(same_category: bool) -> list[str]:
    return ["_cid", "_cat"] if same_category else ["_cid"]


def count_up_to(
    points: pd.DataFrame,
    events: pd.DataFrame,
    keys: Sequence[str],
    *,
    at: str = "at",
    strict: bool = False,
) -> np.ndarray:
    """Per point, the events with its ``keys`` at or before (``strict``: before) ``points[at]``."""
    if points.empty:
        return np.zeros(0, dtype=np.int64)
    ev = events.sort_values("at", kind="mergesort")
    ev = ev.assign(_rank=ev.groupby(list(keys), sort=False).cumcount() + 1)[[*keys, "at", "_rank"]]
    pts = points[list(keys) + [at]].rename(columns={at: "_t"})
    pts = pts.assign(_pos=np.arange(len(pts))).sort_values("_t", kind="mergesort")
    merged = pd.merge_asof(
        pts,
        ev.rename(columns={"at": "_t"}),
        on="_t",
        by=list(keys),
        direction="backward",
        allow_exact_matches=not strict,
    )
    out = np.zeros(len(points), dtype=np.int64)
    out[merged["_pos"].to_numpy()] = merged["_rank"].fillna(0).to_numpy(dtype=np.int64)
    return out


def next_after(
    points: pd.DataFrame, events: pd.DataFrame, keys: Sequence[str], *, at: str
) -> pd.Series:
    """Per point, the first event with its ``keys`` strictly after ``points[at]`` (NaT: none)."""
    result = pd.Series(pd.NaT, index=points.index, dtype="datetime64[us, UTC]")
    if points.empty or events.empty:
        return result
    ev = events[[*keys, "at"]].sort_values("at", kind="mergesort")
    ev = ev.assign(_next=ev["at"]).rename(columns={"at": "_t"})
    pts = points[list(keys) + [at]].rename(columns={at: "_t"})
    pts = pts.assign(_pos=np.arange(len(pts))).sort_values("_t", kind="mergesort")
    merged = pd.merge_asof(
        pts, ev, on="_t", by=list(keys), direction="forward", allow_exact_matches=False
    )
    values = np.empty(len(points), dtype="datetime64[us]")
    values[merged["_pos"].to_numpy()] = (
        merged["_next"].dt.tz_convert(None).to_numpy(dtype="datetime64[us]")
    )
    return pd.Series(pd.to_datetime(values).tz_localize("UTC"), index=points.index)


def starts_of(rule: TriggerRule, data: TriggerData) -> pd.DataFrame:
    """The rule's start events: ``customer_id, started_at, category``, counted by ``at_least``."""
    match = rule.start
    assert match is not None
    events = _matching(data, match)
    if match.same_category:
        events = events[events["category"].notna()]
    if match.at_least > 1:
        keys = _keys(match.same_category)
        earlier = events.assign(_from=events["at"] - match.within)
        count = count_up_to(events, events, keys) - count_up_to(earlier, events, keys, at="_from")
        events = events[count >= match.at_least]
    return events.rename(columns={"at": "started_at"}).reset_index(drop=True)


def _usual_gap(
    starts: pd.DataFrame, data: TriggerData, *, per_category: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Orders to date and the mean gap between them in days (NaN with fewer than two), per start."""
    keys = _keys(per_category)
    orders = _matching(data, EventMatch("orders", same_category=per_category))
    n = count_up_to(starts, orders, keys, at="started_at")
    first = orders.groupby(keys, sort=False)["at"].min().rename("_first")
    joined = starts.join(first, on=keys)
    span = (joined["started_at"] - joined["_first"]).dt.total_seconds().to_numpy() / 86_400
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = np.where(n >= 2, span / np.maximum(n - 1, 1), np.nan)
    return n, gap


def _measures(rule: TriggerRule, starts: pd.DataFrame, data: TriggerData) -> dict[str, np.ndarray]:
    """The values of the rule's condition measures (and its usual gap) at each start."""
    wanted = {c.measure for c in rule.when}
    per_category = bool(rule.start and rule.start.same_category)
    out: dict[str, np.ndarray] = {}
    if wanted & {"orders", "usual_gap_days"} or (
        isinstance(rule.wait, GapWait) and not per_category
    ):
        out["orders"], out["usual_gap_days"] = _usual_gap(starts, data, per_category=False)
    if "category_orders" in wanted or (isinstance(rule.wait, GapWait) and per_category):
        n, gap = _usual_gap(starts, data, per_category=True)
        out["category_orders"] = n
        if per_category:
            out["usual_gap_days"] = gap
    if "engagements_365d" in wanted:
        engaged = _matching(data, EventMatch("email_events", ("opened", "clicked")))
        year_before = starts.assign(_from=starts["started_at"] - pd.Timedelta(days=365))
        out["engagements_365d"] = count_up_to(
            starts, engaged, ["_cid"], at="started_at"
        ) - count_up_to(year_before, engaged, ["_cid"], at="_from")
    if "days_since_signup" in wanted:
        signup = data.customers.set_index(_ID)["at"]
        signed = starts[_ID].map(signup)
        out["days_since_signup"] = (
            starts["started_at"] - signed
        ).dt.total_seconds().to_numpy() / 86_400
    return out


def _passes(rule: TriggerRule, measures: dict[str, np.ndarray], n: int) -> np.ndarray:
    keep = np.ones(n, dtype=bool)
    for c in rule.when:
        values = measures[c.measure]
        with np.errstate(invalid="ignore"):
            if c.minimum is not None:
                keep &= values >= c.minimum
            if c.maximum is not None:
                keep &= values <= c.maximum
    return keep


def _first_cancel(rule: TriggerRule, starts: pd.DataFrame, data: TriggerData) -> pd.Series:
    """Per start, the first of the rule's cancel events strictly after it (NaT: none)."""
    first = pd.Series(pd.NaT, index=starts.index, dtype="datetime64[us, UTC]")
    for match in rule.cancel:
        keys = _keys(match.same_category)
        nxt = next_after(starts, _matching(data, match), keys, at="started_at")
        first = first.where(~(nxt < first) & first.notna(), nxt)
    return first


def candidate_firings(
    rule: TriggerRule,
    data: TriggerData,
    *,
    fired_from: pd.Timestamp,
    until: pd.Timestamp,
    parents: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The rule's firings with ``fired_at`` in ``[fired_from, until)`` that nothing cancelled.

    Parameters
    ----------
    rule : TriggerRule
    data : TriggerData
        Events up to (not including) ``until``.
    fired_from, until : pandas.Timestamp
        The span of ``fired_at``, UTC.
    parents : pandas.DataFrame, optional
        For a rule with ``after``: the parent's firings that were sent
        (``customer_id``, ``fired_at``, ``category``); each starts one wait.

    Returns
    -------
    pandas.DataFrame
        :data:`CANDIDATE_COLUMNS`, one row per firing, before cooldown,
        priority and consent are decided.
    """
    if rule.after is not None:
        p = parents if parents is not None else pd.DataFrame(columns=[_ID, "fired_at", "category"])
        starts = pd.DataFrame(
            {
                _ID: p[_ID].astype(str).to_numpy(),
                "started_at": pd.to_datetime(p["fired_at"], utc=True).to_numpy(),
                "category": p["category"].astype("string").to_numpy(),
            }
        )
        starts["started_at"] = pd.to_datetime(starts["started_at"], utc=True)
        starts = data.coded(starts)
    else:
        starts = starts_of(rule, data)
    if not isinstance(rule.wait, GapWait):
        # Only the starts whose wait can close in the span matter.
        span = (starts["started_at"] >= fired_from - rule.wait) & (
            starts["started_at"] < until - rule.wait
        )
        starts = starts[span.to_numpy()].reset_index(drop=True)
    # The first cancel after each start. One before fired_from cancels whatever the wait,
    # so those starts go before their conditions are measured (most orders have a later one).
    cancelled_at = _first_cancel(rule, starts, data)
    alive = ~(cancelled_at < fired_from).to_numpy()
    starts, cancelled_at = (
        starts[alive].reset_index(drop=True),
        cancelled_at[alive].reset_index(drop=True),
    )
    if isinstance(rule.wait, GapWait):
        measures = _measures(rule, starts, data)
        days = rule.wait.multiplier * measures["usual_gap_days"] - rule.wait.minus / _DAY
        ok = np.isfinite(days) & (days > 0)
        starts, measures = (
            starts[ok].reset_index(drop=True),
            {k: v[ok] for k, v in measures.items()},
        )
        # Whole seconds, so that fired_at keeps the data's resolution.
        wait = pd.to_timedelta(np.floor(days[ok] * 86_400), unit="s")
        cancelled_at = cancelled_at[ok].reset_index(drop=True)
    else:
        wait = rule.wait
        measures = _measures(rule, starts, data) if rule.when else {}
    fired_at = (starts["started_at"] + wait).astype("datetime64[us, UTC]")
    starts = starts.assign(fired_at=fired_at)
    keep = _passes(rule, measures, len(starts))
    keep &= ((starts["fired_at"] >= fired_from) & (starts["fired_at"] < until)).to_numpy()
    keep &= ~(cancelled_at < starts["fired_at"]).to_numpy()
    starts = starts[keep].reset_index(drop=True)
    # Two starts at the same instant (two orders on one CDNOW day, a double click on
    # "add to cart") are one firing.
    starts = starts.drop_duplicates([_ID, "started_at", "category"])
    return pd.DataFrame(
        {
            _ID: starts[_ID].astype(str),
            "trigger": rule.name,
            "started_at": starts["started_at"],
            "category": starts["category"].astype("string"),
            "fired_at": starts["fired_at"],
            "start_event": rule.start_event,
            "priority": np.int64(rule.priority),
        },
        columns=list(CANDIDATE_COLUMNS),
    )
