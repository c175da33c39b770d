"""``upseg triggers``: wire a data source, the rules and earlier windows' files to the engine.

The statistics-free logic lives in :mod:`upseg.serving.triggers`; this module
reads only the events the rules need (back as far as their waits, counts and
conditions reach), reads the history from earlier firings files, judges consent
on the engine, joins a scored audience, and writes the firings atomically with
their window in the file's metadata.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import ibis
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from upseg.errors import UpsegError
from upseg.features.pit import UTC_TIMESTAMP
from upseg.features.sources import connect
from upseg.pipelines.jobs import SourceRun, load_source, write_atomically
from upseg.serving.policy import load_policy
from upseg.serving.triggers import (
    FIRING_COLUMNS,
    TriggerData,
    TriggerResult,
    TriggerRules,
    consent_reasons,
    empty_firings,
    find_firings,
    load_rules,
)
from upseg.serving.triggers.engine import history_reach
from upseg.serving.triggers.rules import GapWait

__all__ = [
    "AUDIENCE_COLUMNS",
    "TriggersRun",
    "TriggersSettings",
    "History",
    "TriggersInputError",
    "TriggersOptionError",
    "read_history",
    "run_triggers",
]

#: What a scored audience adds to each firing, when given and present in it.
AUDIENCE_COLUMNS = ("uplift", "priority_segment", "clv")
_META_KEY = b"upseg.triggers"


class TriggersInputError(UpsegError, ValueError):
    """An earlier firings file, an audience or data that the run cannot use (exit 1)."""


class TriggersOptionError(TriggersInputError):
    """A window or output option that cannot be right whatever the data (exit 2)."""

    exit_code = 2


@dataclass(frozen=True)
class TriggersSettings:
    """One run of ``upseg triggers``."""

    data_dir: Path
    since: pd.Timestamp
    until: pd.Timestamp
    out: Path
    rules_path: Path | None = None
    previous: tuple[Path, ...] | None = None  # None: the other firings files beside out
    audience: Path | None = None
    policy_path: Path | None = None
    quarantine_dir: Path | None = None


@dataclass(frozen=True)
class TriggersRun:
    """What a run wrote and how its candidates reconcile."""

    out: Path
    result: TriggerResult
    history_files: tuple[Path, ...]
    history_rows: int
    audience_columns: tuple[str, ...]
    seconds: float
    source: SourceRun
    notes: tuple[str, ...] = ()

    @property
    def firings(self) -> pd.DataFrame:
        return self.result.firings


def _check_window(s: TriggersSettings) -> None:
    if s.until <= s.since:
        raise TriggersOptionError(
            f"--until must be after --since; got --since {s.since.isoformat()} and "
            f"--until {s.until.isoformat()}."
        )
    now = pd.Timestamp.now(tz="UTC")
    if s.until > now:
        raise TriggersOptionError(
            f"--until {s.until.isoformat()} is in the future (now {now:%Y-%m-%dT%H:%M}Z): a "
            "window is run once it has closed, or its firings would change when the data arrive."
        )
    if s.out.suffix != ".parquet":
        raise TriggersOptionError(
            f"--out must be a .parquet file (it carries its window for the next run); got {s.out}."
        )


def _window_of(path: Path) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The window a firings file records, or None for a Parquet file that is not one."""
    meta = pq.read_schema(path).metadata or {}
    if _META_KEY not in meta:
        return None
    window = json.loads(meta[_META_KEY])
    return pd.Timestamp(window["since"]), pd.Timestamp(window["until"])


def _firings_files(paths: Sequence[Path], out: Path) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.glob("*.parquet") if p.resolve() != out.resolve())
        elif path.exists():
            files.append(path)
        else:
            raise TriggersInputError(f"--previous {path}: no such file or folder.")
    return files


@dataclass(frozen=True)
class History:
    """What earlier windows emitted: their recent firings, files and windows (empty ones too)."""

    firings: pd.DataFrame
    files: tuple[Path, ...]
    windows: tuple[tuple[pd.Timestamp, pd.Timestamp], ...]


def read_history(
    paths: Sequence[Path],
    *,
    since: pd.Timestamp,
    until: pd.Timestamp,
    out: Path,
    rules: TriggerRules,
) -> History:
    """The firings of earlier windows: every firings file among ``paths`` ending by ``since``.

    A file of the same window as this run (a rerun) and files of later windows
    are left out, so that a rerun reads what the first run read; a file whose
    window overlaps this one only in part is refused, since its firings would
    be emitted twice. Parquet files without a window (not firings files) in a
    folder are ignored; named directly, they are refused. Only the rows the
    window can depend on are read (:func:`upseg.serving.triggers.engine.history_needed`).

    Raises
    ------
    TriggersInputError
        For an overlapping window or a named file that is not a firings file.
    """
    once = [r.name for r in rules.rules if r.cooldown is None]
    recent = ("fired_at", ">=", since - history_reach(rules))
    needed = [[recent], [("trigger", "in", once)]] if once else [[recent]]
    frames, used, windows = [], [], []
    for path in _firings_files(paths, out):
        window = _window_of(path)
        if window is None:
            if path.parent.resolve() in {p.resolve() for p in paths if p.is_dir()}:
                continue
            raise TriggersInputError(
                f"--previous {path}: not a firings file of `upseg triggers` (its Parquet metadata "
                "has no window)."
            )
        start, end = window
        if (start, end) == (since, until) or start >= until:
            continue
        if end > since:
            raise TriggersInputError(
                f"{path} holds the window [{start.isoformat()}, {end.isoformat()}), which overlaps "
                f"this run's [{since.isoformat()}, {until.isoformat()}) in part: its firings would "
                "be emitted twice. Run windows that follow each other, or move that file away."
            )
        frames.append(pd.read_parquet(path, columns=list(FIRING_COLUMNS), filters=needed))
        used.append(path)
        windows.append((start, end))
    history = pd.concat(frames, ignore_index=True) if frames else empty_firings()
    return History(history, tuple(used), tuple(windows))


def _lookback(rules: TriggerRules, table: str) -> pd.Timedelta | None:
    """How far before the first ``fired_at`` a table's events are needed; None: all of them."""
    reach = pd.Timedelta(0)
    for rule in rules.rules:
        matches = ([rule.start] if rule.start else []) + list(rule.cancel)
        engaged = any(c.measure == "engagements_365d" for c in rule.when)
        if not any(m.table == table for m in matches) and not (engaged and table == "email_events"):
            continue
        if isinstance(rule.wait, GapWait):
            return None
        within = (
            rule.start.within if rule.start and rule.start.within is not None else pd.Timedelta(0)
        )
        year = pd.Timedelta(days=365) if engaged else pd.Timedelta(0)
        reach = max(reach, rule.wait + within + year)
    return reach


def _event_types(rules: TriggerRules, table: str) -> set[str]:
    types: set[str] = set()
    for rule in rules.rules:
        for m in ([rule.start] if rule.start else []) + list(rule.cancel):
            if m.table == table:
                types |= set(m.event_types)
        if table == "email_events" and any(c.measure == "engagements_365d" for c in rule.when):
            types |= {"opened", "clicked"}
    return types


def trigger_data(
    tables: dict[str, ibis.Table],
    rules: TriggerRules,
    *,
    fired_from: pd.Timestamp,
    until: pd.Timestamp,
) -> TriggerData:
    """The events the rules read, from ``fired_from`` minus their reach up to ``until``."""
    end = ibis.literal(until, type=UTC_TIMESTAMP)

    def since_reach(table: str, column: str, t: ibis.Table) -> ibis.Table:
        reach = _lookback(rules, table)
        t = t.filter(t[column] < end)
        if reach is not None:
            t = t.filter(t[column] >= ibis.literal(fired_from - reach, type=UTC_TIMESTAMP))
        return t

    c = tables["customers"]
    customers = c.filter(c.signup_at < end).select("customer_id", at=c.signup_at).to_pandas()
    frames = {"customers": customers}
    o = tables["orders"]
    if "status" in o.columns:  # only completed orders are purchases; no status: all are
        o = o.filter(o.status.isnull() | (o.status == "completed"))
    o = since_reach("orders", "ordered_at", o)
    category = o.category.cast("string") if "category" in o.columns else ibis.null("string")
    frames["orders"] = o.select("customer_id", at=o.ordered_at, category=category).to_pandas()
    for name in ("web_events", "email_events"):
        types = _event_types(rules, name)
        if name not in tables or not types:
            frames[name] = pd.DataFrame(
                {"customer_id": [], "at": [], "event_type": [], "category": []}
            )
            continue
        t = tables[name]
        t = since_reach(name, "occurred_at", t.filter(t.event_type.isin(sorted(types))))
        cat = t.category.cast("string") if "category" in t.columns else ibis.null("string")
        frames[name] = t.select(
            "customer_id", "event_type", at=t.occurred_at, category=cat
        ).to_pandas()
    for frame in frames.values():
        frame["customer_id"] = frame["customer_id"].astype(str)
        frame["at"] = pd.to_datetime(frame["at"], utc=True).astype("datetime64[us, UTC]")
    return TriggerData(
        frames["customers"], frames["orders"], frames["web_events"], frames["email_events"]
    )


def _with_audience(firings: pd.DataFrame, path: Path) -> tuple[pd.DataFrame, tuple[str, ...]]:
    from upseg.experiments.data import read_table

    audience = read_table(path)
    if "customer_id" not in audience.columns:
        raise TriggersInputError(
            f"--audience {path}: no customer_id column; expected an audience file of "
            f"`upseg score`; got columns {list(audience.columns)[:12]}."
        )
    present = tuple(c for c in AUDIENCE_COLUMNS if c in audience.columns)
    if not present:
        raise TriggersInputError(
            f"--audience {path}: none of {list(AUDIENCE_COLUMNS)}; expected an audience file of "
            f"`upseg score`; got columns {list(audience.columns)[:12]}."
        )
    dupes = audience["customer_id"].astype(str).duplicated()
    if dupes.any():
        raise TriggersInputError(
            f"--audience {path}: customer_id is not unique ({int(dupes.sum())} repeated rows)."
        )
    extra = audience.assign(customer_id=audience["customer_id"].astype(str))[
        ["customer_id", *present]
    ]
    merged = firings.merge(extra, on="customer_id", how="left", validate="many_to_one")
    return merged, present


def _write(path: Path, firings: pd.DataFrame, s: TriggersSettings) -> None:
    table = pa.Table.from_pandas(firings, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    window = {"since": s.since.isoformat(), "until": s.until.isoformat()}
    meta[_META_KEY] = json.dumps(window).encode()
    write_atomically(path, lambda tmp: pq.write_table(table.replace_schema_metadata(meta), tmp))


def run_triggers(
    settings: TriggersSettings, *, on_stage: Callable[[str], None] = lambda _: None
) -> TriggersRun:
    """Find and write the firings of one window (see :mod:`upseg.serving.triggers.engine`)."""
    s = settings
    started = time.perf_counter()
    _check_window(s)
    rules = load_rules(s.rules_path)
    policy = load_policy(s.policy_path)
    # By default the history is the other firings files in the folder the run writes to.
    default = (s.out.parent,) if s.out.parent.is_dir() else ()
    previous = s.previous if s.previous is not None else default
    history = read_history(previous, since=s.since, until=s.until, out=s.out, rules=rules)
    on_stage("Validating the data")
    con = connect()
    source = load_source(s.data_dir, con=con, quarantine_dir=s.quarantine_dir)
    tables = dict(source.result.tables)
    # Like a feature whose table is absent, a rule whose table is absent is left out, and said.
    absent = rules.tables() - set(tables)
    rules, left_out = rules.without_tables(absent)
    notes = []
    if left_out:
        notes.append(
            f"left out {', '.join(left_out)}: {s.data_dir} has no {' or '.join(sorted(absent))}"
        )
    if not rules.rules:
        raise TriggersInputError(
            f"No rule of {rules.source} can run on {s.data_dir}: each reads a table it does not "
            f"hold ({' or '.join(sorted(absent))})."
        )
    on_stage("Reading the events the rules need")
    # Late firings are looked for in the recent earlier windows (see find_firings).
    late = any(end > s.since - rules.late_window for _, end in history.windows)
    fired_from = s.since - rules.late_window if late else s.since
    data = trigger_data(tables, rules, fired_from=fired_from, until=s.until)

    def consent(points: pd.DataFrame) -> pd.Series:
        return consent_reasons(
            tables, points, soft_bounce_streak=policy.suppression.soft_bounce_streak
        )

    on_stage("Finding the firings")
    result = find_firings(
        data,
        rules,
        since=s.since,
        until=s.until,
        history=history.firings,
        consent=consent,
        windows=history.windows,
    )
    firings = result.firings
    present: tuple[str, ...] = ()
    if s.audience is not None:
        firings, present = _with_audience(firings, s.audience)
    _write(s.out, firings, s)
    return TriggersRun(
        s.out,
        TriggerResult(firings, result.counts),
        history.files,
        len(history.firings),
        present,
        time.perf_counter() - started,
        source,
        tuple(notes),
    )
