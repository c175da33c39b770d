"""``upseg monitor``: wire a data source and audiences to the segment KPIs and their dashboard.

The KPIs and bands are :mod:`upseg.experiments.monitoring`; this module builds
each period's segment membership with the feature code (as of the period's
start, cached per period so that a rerun for a new week builds only the new
week's), reads the e-mails and orders of the span, and writes ``kpis.parquet``,
``kpis.csv`` and ``dashboard.html`` into the output folder.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import ibis
import pandas as pd

from upseg.errors import UpsegError
from upseg.experiments.monitoring import (
    KPI_COLUMNS,
    customer_kpis,
    email_kpis,
    email_outcomes,
    period_start,
)
from upseg.experiments.monitoring.bands import BAND_COLUMNS, kpi_bands
from upseg.features.build import build_features
from upseg.features.pit import UTC_TIMESTAMP, customer_spine
from upseg.features.sources import connect
from upseg.pipelines.jobs import SourceRun, load_source, write_atomically

__all__ = [
    "AUDIENCE_SEGMENTS",
    "FEATURE_SEGMENTS",
    "MonitorInputError",
    "MonitorRun",
    "MonitorSettings",
    "run_monitor",
]

#: Segmentations built with the feature code at each period's start.
FEATURE_SEGMENTS = ("rfm_segment", "lifecycle_stage")
#: Segmentations read from the latest audience file scored at or before each period's start.
AUDIENCE_SEGMENTS = ("priority_segment", "cluster_name", "value_tier", "quadrant", "churn_risk")
_NOT_IN_AUDIENCE = "(not in the audience)"


class MonitorInputError(UpsegError, ValueError):
    """An option or an audience file the run cannot use."""

    exit_code = 2


@dataclass(frozen=True)
class MonitorSettings:
    """One run of ``upseg monitor``."""

    data_dir: Path
    start: pd.Timestamp
    end: pd.Timestamp
    out: Path
    freq: str = "week"
    by: tuple[str, ...] = ("rfm_segment", "lifecycle_stage")
    audiences: tuple[Path, ...] = ()
    attribution_days: float = 7.0
    history: int = 8
    refresh: bool = False
    quarantine_dir: Path | None = None


@dataclass(frozen=True)
class MonitorRun:
    """What a run wrote."""

    kpis: pd.DataFrame
    periods: tuple[pd.Timestamp, ...]
    emails: int
    files: dict[str, Path]
    membership_built: int
    membership_cached: int
    machine_opens_excluded: bool | None
    seconds: float
    source: SourceRun


def _periods(s: MonitorSettings) -> list[pd.Timestamp]:
    first = period_start(pd.Series([s.start]), s.freq).iloc[0]
    starts = pd.Series(pd.date_range(first, s.end, freq="D", tz="UTC", inclusive="left"))
    return [p for p in period_start(starts, s.freq).drop_duplicates() if p < s.end]


def _check(s: MonitorSettings) -> None:
    problems = []
    if s.end <= s.start:
        problems.append(f"--to must be after --from; got {s.start:%Y-%m-%d} and {s.end:%Y-%m-%d}")
    if not s.attribution_days > 0:
        problems.append(f"--attribution-days must be > 0; got {s.attribution_days!r}")
    known = (*FEATURE_SEGMENTS, *AUDIENCE_SEGMENTS)
    unknown = [b for b in s.by if b not in known]
    if unknown:
        problems.append(f"--by: unknown segmentation {unknown}; expected some of {list(known)}")
    needs = [b for b in s.by if b in AUDIENCE_SEGMENTS]
    if needs and not s.audiences:
        problems.append(f"--by {needs} come from audience files; give them with --audience")
    if problems:
        raise MonitorInputError("; ".join(problems) + ".")


def _membership_at(
    tables: dict, as_of: pd.Timestamp, cache_dir: Path, refresh: bool
) -> tuple[pd.DataFrame, bool]:
    """Every customer's feature segments as of ``as_of``, from the cache when there."""
    path = cache_dir / f"{as_of:%Y-%m-%dT%H%M%S}.parquet"
    if path.exists() and not refresh:
        return pd.read_parquet(path), False
    spine = customer_spine(tables["customers"], as_of)
    features = build_features(tables, spine).select("customer_id", *FEATURE_SEGMENTS)
    frame = features.to_pandas()
    frame["customer_id"] = frame["customer_id"].astype(str)
    write_atomically(path, lambda tmp: frame.to_parquet(tmp, index=False))
    return frame, True


def _audience_membership(paths: Sequence[Path], periods: Sequence[pd.Timestamp]) -> pd.DataFrame:
    """Per period, each customer's segments in the latest audience scored at or before it."""
    from upseg.experiments.data import read_table

    audiences = []
    for path in paths:
        frame = read_table(path)
        if "as_of" not in frame.columns or "customer_id" not in frame.columns:
            raise MonitorInputError(
                f"--audience {path}: expected an audience of `upseg score` with customer_id and "
                f"as_of; got columns {list(frame.columns)[:12]}."
            )
        as_of = pd.to_datetime(frame["as_of"], utc=True).dropna().unique()
        if len(as_of) != 1:
            raise MonitorInputError(
                f"--audience {path}: expected one as_of for the whole audience; got {len(as_of)}."
            )
        audiences.append((pd.Timestamp(as_of[0]), frame))
    audiences.sort(key=lambda pair: pair[0])
    rows = []
    for period in periods:
        before = [frame for as_of, frame in audiences if as_of <= period]
        if not before:
            continue
        latest = before[-1]
        present = [c for c in AUDIENCE_SEGMENTS if c in latest.columns]
        rows.append(
            latest[["customer_id", *present]].assign(
                customer_id=latest["customer_id"].astype(str), period=period
            )
        )
    if not rows:
        return pd.DataFrame(columns=["period", "customer_id"])
    return pd.concat(rows, ignore_index=True)


def _events(tables: dict, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    e = tables["email_events"]
    lo, hi = (ibis.literal(t, type=UTC_TIMESTAMP) for t in (start, end))
    e = e.filter((e.occurred_at >= lo) & (e.occurred_at < hi))
    optional = [c for c in ("campaign_type", "machine_open") if c in e.columns]
    frame = e.select("customer_id", "campaign_id", "event_type", "occurred_at", *optional)
    return frame.to_pandas()


def _orders(tables: dict, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    o = tables["orders"]
    if "status" in o.columns:
        o = o.filter(o.status.isnull() | (o.status == "completed"))
    lo, hi = (ibis.literal(t, type=UTC_TIMESTAMP) for t in (start, end))
    o = o.filter((o.ordered_at >= lo) & (o.ordered_at < hi))
    return o.select("customer_id", "ordered_at", "amount").to_pandas()


def run_monitor(
    settings: MonitorSettings, *, on_stage: Callable[[str], None] = lambda _: None
) -> MonitorRun:
    """Compute the KPIs of every period in ``[start, end)`` and write them with the dashboard."""
    s = settings
    started = time.perf_counter()
    _check(s)
    periods = _periods(s)
    on_stage("Validating the data")
    con = connect()
    source = load_source(s.data_dir, con=con, quarantine_dir=s.quarantine_dir)
    tables = dict(source.result.tables)
    if "email_events" not in tables:
        raise MonitorInputError(f"{s.data_dir} has no email_events: there is nothing to monitor.")
    span_end = s.end
    next_start = period_start(pd.Series([span_end]), s.freq).iloc[0]
    # The start of the period after the last, for churn (when the data reaches it).
    after = next_start if next_start == span_end else None
    built = cached = 0
    feature_frames = []
    for i, period in enumerate([*periods, *([after] if after is not None else [])]):
        on_stage(f"Segments as of {period:%Y-%m-%d} ({i + 1} of {len(periods) + 1})")
        frame, fresh = _membership_at(tables, period, s.out / "segments", s.refresh)
        built, cached = built + fresh, cached + (not fresh)
        feature_frames.append(frame.assign(period=period))
    membership = pd.concat(feature_frames, ignore_index=True)
    if s.audiences:
        from_audiences = _audience_membership(s.audiences, periods)
        membership = membership.merge(from_audiences, on=["period", "customer_id"], how="left")
        for column in AUDIENCE_SEGMENTS:
            if column in membership.columns:
                membership[column] = membership[column].astype("string").fillna(_NOT_IN_AUDIENCE)
    missing = [b for b in s.by if b not in membership.columns]
    if missing:
        raise MonitorInputError(
            f"--by {missing}: not in any audience given; got {list(s.audiences)}."
        )
    on_stage("Reading the e-mails and orders")
    first = periods[0]
    events = _events(tables, first, span_end)
    attribution = pd.Timedelta(days=s.attribution_days)
    orders = _orders(tables, first, span_end + attribution)
    on_stage("Computing the KPIs")
    emails = email_outcomes(events, orders, attribution_days=s.attribution_days)
    table = pd.concat(
        [
            email_kpis(emails, freq=s.freq, membership=membership, segment_by=s.by),
            customer_kpis(membership, orders, freq=s.freq, segment_by=s.by),
        ],
        ignore_index=True,
    )
    table = table[table["period"].isin(periods)].reset_index(drop=True)
    table = kpi_bands(table, history=s.history, min_history=min(4, s.history))
    # True when the log flags machine opens (they were left out); None when it cannot say.
    flagged = "machine_open" in events.columns and bool(events["machine_open"].notna().any())
    machine = True if flagged else None
    on_stage("Writing the KPIs and the dashboard")
    files = _write(table, s, machine)
    return MonitorRun(
        table,
        tuple(periods),
        len(emails),
        files,
        built,
        cached,
        machine,
        time.perf_counter() - started,
        source,
    )


def _write(table: pd.DataFrame, s: MonitorSettings, machine: bool | None) -> dict[str, Path]:
    out = s.out
    columns = [*KPI_COLUMNS, *BAND_COLUMNS]
    files = {"kpis": out / "kpis.parquet", "csv": out / "kpis.csv"}
    write_atomically(files["kpis"], lambda tmp: table[columns].to_parquet(tmp, index=False))
    write_atomically(files["csv"], lambda tmp: table[columns].to_csv(tmp, index=False))
    from upseg.experiments.monitoring.dashboard import write_dashboard

    files["dashboard"] = write_dashboard(
        table,
        out / "dashboard.html",
        title=f"Segment KPIs — {s.data_dir.name}",
        machine_opens_excluded=machine,
    )
    return files
