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
import numpy as np
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


def _segments_path(cache_dir: Path, as_of: pd.Timestamp) -> Path:
    return cache_dir / f"{as_of:%Y-%m-%dT%H%M%S}.parquet"


def _cache_segments(tables: dict, as_of: pd.Timestamp, cache_dir: Path, refresh: bool) -> bool:
    """Write every customer's feature segments as of ``as_of`` unless cached; whether it built."""
    path = _segments_path(cache_dir, as_of)
    if path.exists() and not refresh:
        return False
    spine = customer_spine(tables["customers"], as_of)
    features = build_features(tables, spine).select("customer_id", *FEATURE_SEGMENTS)
    frame = features.to_pandas()
    frame["customer_id"] = frame["customer_id"].astype(str)
    write_atomically(path, lambda tmp: frame.to_parquet(tmp, index=False))
    return True


#: Each audience's ``as_of`` and its customers' segments, oldest first.
Audiences = list[tuple[pd.Timestamp, pd.DataFrame]]


def _read_audiences(paths: Sequence[Path]) -> Audiences:
    """The audiences of ``--audience``: their ``as_of`` and segment columns, oldest first."""
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
        present = [c for c in AUDIENCE_SEGMENTS if c in frame.columns]
        segments = frame[["customer_id", *present]].assign(
            customer_id=frame["customer_id"].astype(str)
        )
        audiences.append((pd.Timestamp(as_of[0]), segments))
    return sorted(audiences, key=lambda pair: pair[0])


def _segments_at(
    cache_dir: Path, period: pd.Timestamp, audiences: Audiences, columns: Sequence[str]
) -> pd.DataFrame:
    """Every customer's segments at ``period``: the cached features', then the audience's.

    The audience is the latest scored at or before ``period``; a customer not
    in it, or any customer in a period before every audience, is ``(not in the
    audience)``.
    """
    frame = pd.read_parquet(_segments_path(cache_dir, period))
    if not columns:
        return frame
    before = [segments for as_of, segments in audiences if as_of <= period]
    if before:
        frame = frame.merge(before[-1], on="customer_id", how="left")
    for column in columns:
        values = frame[column] if column in frame.columns else pd.Series(pd.NA, index=frame.index)
        frame[column] = values.astype("string").fillna(_NOT_IN_AUDIENCE)
    return frame


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


def _period_kpis(
    emails: pd.DataFrame,
    orders: pd.DataFrame,
    starts: Sequence[pd.Timestamp],
    n_periods: int,
    s: MonitorSettings,
    audiences: Audiences,
    columns: Sequence[str],
) -> pd.DataFrame:
    """The KPI rows of the first ``n_periods`` of ``starts``, one period at a time.

    A period needs its own segments and, for churn, the next period's, so no
    more than two periods' membership is held at once (52 weeks of a million
    customers would otherwise be 53 million rows).
    """
    # Row positions of each period's e-mails and orders, found once.
    sent_in = emails.groupby(period_start(emails["sent_at"], s.freq)).indices
    ordered_in = orders.groupby(period_start(orders["ordered_at"], s.freq)).indices
    nothing = np.array([], dtype=np.intp)
    cache_dir = s.out / "segments"
    parts = []
    current = _segments_at(cache_dir, starts[0], audiences, columns)
    for i in range(n_periods):
        period = starts[i]
        members = current.assign(period=period)
        parts.append(
            email_kpis(
                emails.iloc[sent_in.get(period, nothing)],
                freq=s.freq,
                membership=members,
                segment_by=s.by,
            )
        )
        following = starts[i + 1] if i + 1 < len(starts) else None
        if following is None:
            both, current = members, None
        else:
            current = _segments_at(cache_dir, following, audiences, columns)
            both = pd.concat([members, current.assign(period=following)], ignore_index=True)
        flows = customer_kpis(
            both, orders.iloc[ordered_in.get(period, nothing)], freq=s.freq, segment_by=s.by
        )
        parts.append(flows[flows["period"] == period])
    return pd.concat(parts, ignore_index=True)


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
    starts = [*periods, *([after] if after is not None else [])]
    built = 0
    for i, period in enumerate(starts):
        on_stage(f"Segments as of {period:%Y-%m-%d} ({i + 1} of {len(starts)})")
        built += _cache_segments(tables, period, s.out / "segments", s.refresh)
    audiences = _read_audiences(s.audiences) if s.audiences else []
    from_audiences = [
        c for c in AUDIENCE_SEGMENTS if any(c in frame.columns for _, frame in audiences)
    ]
    missing = [b for b in s.by if b not in (*FEATURE_SEGMENTS, *from_audiences)]
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
    # True when the log flags machine opens (they were left out); None when it cannot say.
    flagged = "machine_open" in events.columns and bool(events["machine_open"].notna().any())
    del events  # a year of a million customers' events: not needed past the e-mails
    table = _period_kpis(emails, orders, starts, len(periods), s, audiences, from_audiences)
    table = table[table["period"].isin(periods)].reset_index(drop=True)
    table = kpi_bands(table, history=s.history, min_history=min(4, s.history))
    machine = True if flagged else None
    on_stage("Writing the KPIs and the dashboard")
    files = _write(table, s, machine)
    return MonitorRun(
        table,
        tuple(periods),
        len(emails),
        files,
        built,
        len(starts) - built,
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
