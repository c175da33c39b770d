"""The trigger engine: which firings a window emits, each exactly once, and what to do with them.

:func:`find_firings` is pure: the events, the rules, the window ``[since,
until)``, the firings earlier windows emitted (the *history*, read back from
their files) and a consent function in; the window's firings out. Nothing is
remembered between runs, so a rerun of a window gives the same firings, and
consecutive windows never emit one twice:

* a firing belongs to the window its ``fired_at`` falls in; one whose wait has
  not closed by ``until`` waits for a later window;
* a firing is known by ``(customer_id, trigger, started_at, category)``; one
  the history holds is never emitted again;
* a *late* firing (its wait closed before ``since``, in a window the history
  covers, less than ``late_window`` ago, but that window did not emit it because
  its start arrived afterwards) is emitted now with ``late`` true;
* **cooldown**: a firing less than its rule's cooldown away from an emitted
  firing of the same rule and customer (before it, or after it for a late one)
  is not a firing;
* **priority**: a firing is ``skip`` when an earlier firing of that customer on
  the same UTC day (or one at the same instant ranked first) has a priority at
  least as high. Only earlier firings count, so the answer never depends on how
  the day was cut into windows; a higher priority later the same day is still
  sent;
* **consent** comes first: a firing whose customer may not be mailed at its
  ``fired_at`` is ``suppress``, with the scorer's reason.

A rule that follows another (``after``) starts from that rule's ``send``
firings; it is decided after it, and can lose a day to it but never displace it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from upseg.serving.triggers.candidates import TriggerData, candidate_firings
from upseg.serving.triggers.rules import TriggerRules

__all__ = [
    "ACTIONS",
    "FIRING_COLUMNS",
    "IDENTITY",
    "TriggerResult",
    "empty_firings",
    "find_firings",
    "history_needed",
    "history_reach",
    "outside_cooldown",
]

ACTIONS = ("send", "suppress", "skip")
IDENTITY = ["customer_id", "trigger", "started_at", "category"]
#: The columns of a firings file, in order.
FIRING_COLUMNS = (
    "customer_id",
    "trigger",
    "fired_at",
    "started_at",
    "start_event",
    "category",
    "priority",
    "action",
    "reason",
    "late",
    "window_start",
    "window_end",
)
_SORT = ["fired_at", "customer_id", "trigger", "started_at", "category"]

#: ``consent(points)``: per row of ``customer_id, fired_at``, why the customer may not be
#: e-mailed at that instant, or ``""``.
Consent = Callable[[pd.DataFrame], pd.Series]


#: What becomes of a candidate, in :attr:`TriggerResult.counts`.
_FATES = ("in_history", "not_covered", "cooldown", "emitted")


@dataclass(frozen=True)
class TriggerResult:
    """A window's firings, and what became of every candidate.

    ``counts`` has one row per rule, with its ``priority``: ``candidates`` =
    ``in_history`` (emitted by an earlier window) + ``not_covered`` (closed
    in the ``late_window`` before ``since`` but in no earlier window: before
    the first run) + ``cooldown`` + ``emitted`` (the rows of ``firings``).
    Firings that closed longer than ``late_window`` before ``since`` are not
    looked for.
    """

    firings: pd.DataFrame
    counts: pd.DataFrame

    @property
    def reconciles(self) -> bool:
        """Every candidate is accounted for, and ``emitted`` counts the firings' rows."""
        c = self.counts
        parts = c[list(_FATES)].sum(axis=1)
        per_rule = self.firings["trigger"].value_counts().reindex(c.index, fill_value=0)
        return bool((parts == c["candidates"]).all() and (per_rule == c["emitted"]).all())


def empty_firings() -> pd.DataFrame:
    """A firings frame with no rows and the file's column types."""
    return _typed(pd.DataFrame({c: [] for c in FIRING_COLUMNS}))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[list(FIRING_COLUMNS)].copy()
    for c in ("fired_at", "started_at", "window_start", "window_end"):
        out[c] = pd.to_datetime(out[c], utc=True).astype("datetime64[us, UTC]")
    for c in ("customer_id", "trigger", "start_event", "category", "action", "reason"):
        out[c] = out[c].astype("string")
    out["priority"] = out["priority"].astype("int64")
    out["late"] = out["late"].astype(bool)
    return out


#: "No such firing", far enough from any instant that no cooldown spans it.
_NEVER = np.int64(2**62)


def _ns(times: pd.Series) -> np.ndarray:
    """Instants as int64 nanoseconds since the epoch, whatever the column's unit."""
    return times.dt.as_unit("ns").astype("int64").to_numpy()


def _nearest(cands: pd.DataFrame, emitted: pd.DataFrame, direction: str) -> np.ndarray:
    """Per candidate, the nearest emitted ``fired_at`` of its customer and rule, in ns.

    ``direction`` ``backward``: at or before it (``-_NEVER`` when none);
    ``forward``: at or after it (``_NEVER`` when none).
    """
    none = -_NEVER if direction == "backward" else _NEVER
    out = np.full(len(cands), none, dtype=np.int64)
    if cands.empty or emitted.empty:
        return out
    keys = ["customer_id", "trigger"]
    as_text = {"customer_id": "string", "trigger": "string"}
    ev = emitted[[*keys, "fired_at"]].astype(as_text).assign(_e=_ns(emitted["fired_at"]))
    pts = cands[[*keys, "fired_at"]].astype(as_text).assign(_pos=np.arange(len(cands)))
    m = pd.merge_asof(
        pts.sort_values("fired_at"),
        ev.sort_values("fired_at"),
        on="fired_at",
        by=keys,
        direction=direction,
    )
    found = m["_e"].notna().to_numpy()
    out[m["_pos"].to_numpy()[found]] = m["_e"].to_numpy()[found].astype(np.int64)
    return out


def outside_cooldown(cands: pd.DataFrame, emitted: pd.DataFrame, rules: TriggerRules) -> np.ndarray:
    """Which candidates are firings: none within its rule's cooldown of a kept or emitted one."""
    n = len(cands)
    keep = np.zeros(n, dtype=bool)
    if n == 0:
        return keep
    before, after = _nearest(cands, emitted, "backward"), _nearest(cands, emitted, "forward")
    times = _ns(cands["fired_at"])
    cooldown = {r.name: (_NEVER if r.cooldown is None else r.cooldown.value) for r in rules.rules}
    ids, triggers = cands["customer_id"].to_numpy(), cands["trigger"].to_numpy()
    last: dict[tuple[str, str], int] = {}
    for i in np.lexsort((times, triggers, ids)):
        key, t, cd = (ids[i], triggers[i]), times[i], cooldown[triggers[i]]
        if (before[i] != -_NEVER and t - before[i] < cd) or (
            after[i] != _NEVER and after[i] - t < cd
        ):
            continue
        if key in last and t - last[key] < cd:
            continue
        keep[i] = True
        last[key] = t
    return keep


def _earlier_winner(firings: pd.DataFrame) -> pd.DataFrame:
    """Per firing, the firing of highest priority before it that customer-day (first on ties)."""
    day = firings["fired_at"].dt.floor("D")
    order = firings.assign(_day=day, _neg=-firings["priority"]).sort_values(
        ["customer_id", "_day", "fired_at", "_neg", "trigger", "started_at", "category"],
        kind="mergesort",
    )
    m = len(order) + 1
    pos = np.arange(len(order))
    code = pd.Series(order["priority"].to_numpy() * m + (m - 1 - pos), index=order.index)
    group = [order["customer_id"], order["_day"]]
    best = code.groupby(group, sort=False).cummax().groupby(group, sort=False).shift(1)
    has = best.notna().to_numpy()
    best_pos = (m - 1 - (best.fillna(0).astype("int64") % m)).to_numpy()
    rows = order.iloc[np.where(has, best_pos, 0)]
    out = pd.DataFrame(
        {
            "_by": np.where(has, rows["trigger"].to_numpy(), None),
            "_by_priority": np.where(has, rows["priority"].to_numpy(), -1),
            "_by_at": np.where(has, rows["fired_at"].to_numpy(), None),
        },
        index=order.index,
    )
    return out.reindex(firings.index)


def history_reach(rules: TriggerRules) -> pd.Timedelta:
    """How far before ``since`` the history can matter, but for rules that fire only once.

    Late firings reach back ``late_window``; from the earliest candidate, the
    same day's firings reach back a day, a cooldown its length, and an
    ``after`` rule's parents its wait.
    """
    reach = rules.late_window + pd.Timedelta(days=1)
    for rule in rules.rules:
        cooldown = rule.cooldown if rule.cooldown is not None else pd.Timedelta(0)
        follows = rule.after is not None and isinstance(rule.wait, pd.Timedelta)
        wait = rule.wait if follows else pd.Timedelta(0)
        reach = max(reach, rules.late_window + max(cooldown, wait))
    return reach


def history_needed(history: pd.DataFrame, rules: TriggerRules, since: pd.Timestamp) -> np.ndarray:
    """The history rows a window can depend on: recent ones, and every firing of a once-only rule.

    The rest cannot change a firing from ``since`` on, so a folder of a year of
    hourly files costs a run no more than its last weeks.
    """
    once = [r.name for r in rules.rules if r.cooldown is None]
    recent = history["fired_at"] >= since - history_reach(rules)
    return (recent | history["trigger"].isin(once)).to_numpy()


def _covered(times: pd.Series, windows: Sequence[tuple[pd.Timestamp, pd.Timestamp]]) -> np.ndarray:
    """Whether each instant falls in one of ``windows``."""
    covered = np.zeros(len(times), dtype=bool)
    for start, end in windows:
        covered |= ((times >= start) & (times < end)).to_numpy()
    return covered


def find_firings(
    data: TriggerData,
    rules: TriggerRules,
    *,
    since: pd.Timestamp,
    until: pd.Timestamp,
    history: pd.DataFrame,
    consent: Consent,
    windows: Sequence[tuple[pd.Timestamp, pd.Timestamp]] | None = None,
) -> TriggerResult:
    """Every firing the window ``[since, until)`` emits (see the module's docstring).

    Parameters
    ----------
    data : TriggerData
        The events strictly before ``until``, back far enough for the rules'
        waits, counts and conditions.
    rules : TriggerRules
    since, until : pandas.Timestamp
        The window, UTC.
    history : pandas.DataFrame
        The firings earlier windows emitted (:data:`FIRING_COLUMNS`), each of
        whose windows ends at or before ``since``.
    consent : callable
        See :data:`Consent`.
    windows : sequence of (start, end), optional
        The windows of the earlier runs, empty ones included: late firings are
        looked for in them. Default: the windows the history's rows name.

    Returns
    -------
    TriggerResult
        The firings, and per rule what became of its candidates.
    """
    history = _typed(history) if len(history) else empty_firings()
    history = history[history_needed(history, rules, since)].reset_index(drop=True)
    if windows is None:
        windows = list(
            history[["window_start", "window_end"]]
            .drop_duplicates()
            .itertuples(index=False, name=None)
        )
    # Only the recent windows can hold a late firing.
    windows = [(a, b) for a, b in windows if b > since - rules.late_window]
    fired_from = since - rules.late_window if windows else since
    known = history
    new: list[pd.DataFrame] = []
    counts: list[pd.DataFrame] = []
    for stage in rules.stages():
        parts = []
        for rule in stage:
            parents = None
            if rule.after is not None:
                pool = pd.concat([known, *new]) if new else known
                parents = pool[(pool["trigger"] == rule.after) & (pool["action"] == "send")]
            parts.append(
                candidate_firings(rule, data, fired_from=fired_from, until=until, parents=parents)
            )
        cands = pd.concat(parts, ignore_index=True)
        fate = pd.Series("emitted", index=cands.index)
        fate[_emitted_before(cands, history)] = "in_history"
        late = (cands["fired_at"] < since).to_numpy()
        fate[(fate == "emitted") & late & ~_covered(cands["fired_at"], windows)] = "not_covered"
        emitted = pd.concat([known, *new]) if new else known
        open_ = (fate == "emitted").to_numpy()
        cooled = np.zeros(len(cands), dtype=bool)
        cooled[open_] = ~outside_cooldown(cands[open_].reset_index(drop=True), emitted, rules)
        fate[cooled] = "cooldown"
        counts.append(
            pd.crosstab(cands["trigger"], fate).reindex(
                index=[r.name for r in stage], columns=list(_FATES), fill_value=0
            )
        )
        kept = cands[(fate == "emitted").to_numpy()].reset_index(drop=True)
        new.append(_decide(kept, emitted, consent, since=since, until=until))
    out = _typed(pd.concat(new, ignore_index=True))
    table = pd.concat(counts).rename_axis("trigger").rename_axis(None, axis=1)
    table.insert(0, "candidates", table.sum(axis=1))
    table.insert(0, "priority", [rules.by_name[t].priority for t in table.index])
    return TriggerResult(out.sort_values(_SORT, kind="mergesort").reset_index(drop=True), table)


def _emitted_before(cands: pd.DataFrame, history: pd.DataFrame) -> np.ndarray:
    """Which candidates the history already holds, by :data:`IDENTITY`."""
    if history.empty or cands.empty:
        return np.zeros(len(cands), dtype=bool)
    as_text = {"customer_id": "string", "trigger": "string", "category": "string"}
    seen = history[IDENTITY].astype(as_text).drop_duplicates().assign(_seen=True)
    merged = cands[IDENTITY].astype(as_text).merge(seen, on=IDENTITY, how="left")
    return merged["_seen"].notna().to_numpy()


def _decide(
    cands: pd.DataFrame,
    emitted: pd.DataFrame,
    consent: Consent,
    *,
    since: pd.Timestamp,
    until: pd.Timestamp,
) -> pd.DataFrame:
    """The candidates' actions: consent first, then priority against every firing so far."""
    if cands.empty:
        return empty_firings()
    firings = cands.assign(
        late=(cands["fired_at"] < since).to_numpy(), window_start=since, window_end=until
    )
    reason = pd.Series(consent(firings[["customer_id", "fired_at"]]), dtype="string").to_numpy()
    pool = pd.concat([emitted.assign(_new=False), firings.assign(_new=True)], ignore_index=True)
    pool = pool.astype({"customer_id": "string", "trigger": "string", "category": "string"})
    winner = _earlier_winner(pool)[pool["_new"].to_numpy()]
    beaten = (winner["_by_priority"].to_numpy() >= firings["priority"].to_numpy()) & winner[
        "_by"
    ].notna().to_numpy()
    skip_reason = [
        (
            f"{by} (priority {p}) fired for this customer earlier that day, "
            f"at {pd.Timestamp(at):%H:%M}"
            if b
            else ""
        )
        for b, by, p, at in zip(
            beaten, winner["_by"], winner["_by_priority"], winner["_by_at"], strict=True
        )
    ]
    suppressed = reason != ""
    action = np.where(suppressed, "suppress", np.where(beaten, "skip", "send"))
    return firings.assign(action=action, reason=np.where(suppressed, reason, skip_reason))
