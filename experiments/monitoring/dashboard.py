"""The segment KPI dashboard: one self-contained HTML page of the tidy KPI table with its bands.

The page holds, in order: a header (periods, frequency, how many flags, notes),
the **anomalies** (every row outside its band, most recent first), the
**latest period** against the one before and against each series' own history,
and the **trends**: small multiples, one inline SVG chart per metric × segment
of the segmentation chosen in a ``<select>`` (a few lines of inline script toggle
sections that are all in the page). No external resource: inline CSS, inline
SVG, a Content-Security-Policy that allows only the page's own script.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from upseg.experiments.monitoring.bands import BAND_COLUMNS, RATE_METRICS
from upseg.experiments.monitoring.kpis import ALL, KPI_COLUMNS, NEW_CUSTOMERS, NO_CAMPAIGN_TYPE
from upseg.experiments.report._html import _attrs, _Column, _e, _Html, _slug, _table
from upseg.experiments.report._style import _CSS
from upseg.experiments.report.format import DASH
from upseg.files import write_atomically

__all__ = ["METRIC_LABELS", "render_dashboard", "write_dashboard"]

#: How each metric is named on the page, in the page's order.
METRIC_LABELS = {
    "delivery_rate": "Delivery rate",
    "bounce_rate": "Bounce rate",
    "open_rate": "Open rate",
    "click_rate": "Click rate",
    "click_to_open_rate": "Click-to-open rate",
    "unsubscribe_rate": "Unsubscribe rate",
    "complaint_rate": "Complaint rate",
    "conversion_rate": "Conversion rate",
    "revenue_per_email": "Revenue per e-mail",
    "reactivation_rate": "Reactivation rate",
    "churn_rate": "Churn rate",
}
#: Metrics whose rise is bad news (a flag is coloured by whether it is good or bad news).
_HIGHER_IS_WORSE = {"bounce_rate", "unsubscribe_rate", "complaint_rate", "churn_rate"}
_MACHINE_OPENS = {
    True: "Machine opens excluded: opens made by image proxies (such as Apple Mail Privacy "
    "Protection) are not counted as opens.",
    False: "Machine opens included: the data flags them, but they were not excluded.",
    None: "The data has no machine-open flag: opens include those of image proxies such as "
    "Apple Mail Privacy Protection, so open rates are overstated.",
}
_FREQ_NAMES = {"day": ("day", "days"), "week": ("week", "weeks"), "month": ("month", "months")}

_SCRIPT = (
    "(function(){var s=document.getElementById('segmentation');if(!s)return;"
    "function show(){var v=s.value;"
    "document.querySelectorAll('section.trend').forEach(function(t){"
    "t.hidden=t.getAttribute('data-segment-by')!==v;});"
    "document.querySelectorAll('table.latest tbody tr[data-segment-by]').forEach(function(r){"
    f"var b=r.getAttribute('data-segment-by');r.hidden=b!=={json.dumps(ALL)}&&b!==v;}});}}"
    "s.addEventListener('change',show);show();})();"
)
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
_CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    f"script-src 'sha256-{_SCRIPT_HASH}'"
)
_EXTRA_CSS = """
main { max-width: 1320px; }
[hidden] { display: none !important; }
.notes { margin: 10px 0 0; padding-left: 18px; color: var(--muted); font-size: 13px; }
.when { display: block; font-size: 11px; color: var(--muted); font-weight: 400; }
table.latest td:nth-child(2), table.anomalies td:nth-child(3) { white-space: nowrap; }
td.flag { font-weight: 650; }
td.flag.bad { background: #ffebe9; color: #a40e26; }
td.flag.good { background: #dafbe1; color: #116329; }
.controls { position: sticky; top: 0; z-index: 2; background: #fff; padding: 8px 0;
  border-bottom: 1px solid var(--line); display: flex; gap: 18px; align-items: center;
  flex-wrap: wrap; font-size: 13px; }
.controls label { font-weight: 600; } .controls .hint { color: var(--muted); }
.controls select { font-size: 14px; padding: 2px 6px; }
.legend { color: var(--muted); display: flex; gap: 14px; align-items: center; font-size: 13px;
  margin: 0 0 6px; }
.legend i { display: inline-block; width: 18px; height: 10px; vertical-align: -1px;
  margin-right: 4px; }
.legend .l-band { background: #dbe9f8; }
.legend .l-value { height: 2px; background: #0969da; vertical-align: 3px; }
.legend .l-expected { height: 0; border-top: 1px dashed #59636e; vertical-align: 3px; }
.legend .l-flag { width: 8px; height: 8px; border-radius: 50%; background: #cf222e; }
.metric-row h3 { margin: 18px 0 4px; }
.multiples { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr));
  gap: 6px 10px; }
.multiples figure { margin: 0; border: 1px solid #eaeef2; border-radius: 6px; padding: 4px 6px 2px;
  min-width: 0; }
.multiples figure.flagged { border-color: #f0a8a8; }
.multiples figcaption { margin: 0; font-size: 12px; color: var(--ink); display: flex;
  justify-content: space-between; gap: 6px; }
.multiples figcaption .name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.multiples figcaption .last { font-variant-numeric: tabular-nums; white-space: nowrap;
  color: var(--muted); }
svg.chart { display: block; width: 100%; height: auto; }
svg.chart .band { fill: #dbe9f8; }
svg.chart .expected { fill: none; stroke: #59636e; stroke-width: 0.8; stroke-dasharray: 3 2; }
svg.chart .value { fill: none; stroke: #0969da; stroke-width: 1.4; }
svg.chart circle { fill: #0969da; }
svg.chart circle.high, svg.chart circle.low { fill: #cf222e; stroke: #fff; stroke-width: 0.8; }
svg.chart text { font-size: 8.5px; fill: #59636e; font-family: system-ui, sans-serif; }
svg.chart .frame { fill: none; stroke: #eaeef2; }
"""


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    try:
        return bool(math.isnan(float(value)))
    except (TypeError, ValueError):
        return True


def _is_rate(metric: str) -> bool:
    return metric in RATE_METRICS


def _fmt_value(value: Any, metric: str) -> str:
    """A rate in percent (``4.27%``, ``0.041%`` below 0.1%), revenue with 2 decimals."""
    if _missing(value):
        return DASH
    v = float(value)
    if _is_rate(metric):
        pct = v * 100
        return f"{pct:.{2 if abs(pct) >= 0.1 or pct == 0 else 3}f}%"
    return f"{v:,.2f}"


def _fmt_change(value: Any, metric: str) -> str:
    """A change: percentage points for a rate (``+0.42 pp``), an amount otherwise."""
    if _missing(value):
        return DASH
    v = float(value)
    if _is_rate(metric):
        pts = v * 100
        return f"{pts:+.{2 if abs(pts) >= 0.1 or pts == 0 else 3}f} pp"
    return f"{v:+,.2f}"


def _fmt_band(low: Any, high: Any, metric: str) -> str:
    if _missing(low) or _missing(high):
        return DASH
    return f"{_fmt_value(low, metric)} – {_fmt_value(high, metric)}"


def _fmt_amount(value: Any, metric: str, *, numerator: bool) -> str:
    if _missing(value):
        return DASH
    v = float(value)
    if numerator and not _is_rate(metric):
        return f"{v:,.2f}"
    return f"{v:,.0f}" if v == math.floor(v) else f"{v:,.1f}"


def _fmt_counts(row: Mapping) -> str:
    metric = str(row["metric"])
    return (
        f"{_fmt_amount(row['numerator'], metric, numerator=True)} / "
        f"{_fmt_amount(row['denominator'], metric, numerator=False)}"
    )


def _freq(periods: Sequence[pd.Timestamp]) -> str:
    """``day``, ``week`` or ``month`` from the spacing of the periods; ``period`` if unknown."""
    if len(periods) < 2:
        if len(periods) == 1:
            p = periods[0]
            if p.day == 1 and p.weekday() != 0:
                return "month"
            return "week" if p.weekday() == 0 else "day"
        return "period"
    gaps = np.diff(np.array([p.value for p in periods], dtype="int64")) / 86_400e9
    smallest = float(gaps.min())
    if smallest == 1:
        return "day"
    if smallest % 7 == 0 and all(p.weekday() == 0 for p in periods):
        return "week"
    if smallest >= 28 and all(p.day == 1 for p in periods):
        return "month"
    return "period"


def _period_label(period: Any, freq: str) -> str:
    if period is None or period is pd.NaT:
        return DASH
    ts = pd.Timestamp(period)
    return ts.strftime("%Y-%m") if freq == "month" else ts.strftime("%Y-%m-%d")


def _segmentation_label(segment_by: str) -> str:
    return "All customers" if segment_by == ALL else segment_by


def _segment_label(segment_by: str, segment: str) -> str:
    return "all customers" if segment_by == ALL else segment


def _metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric)


def _metric_order(metrics: Sequence[str]) -> list[str]:
    known = [m for m in METRIC_LABELS if m in set(metrics)]
    return known + sorted(set(metrics) - set(known))


def _segmentation_order(values: Sequence[str]) -> list[str]:
    unique = set(values)
    return ([ALL] if ALL in unique else []) + sorted(unique - {ALL})


def _segment_order(values: Sequence[str]) -> list[str]:
    unique = set(values)
    return sorted(unique - {NEW_CUSTOMERS}) + ([NEW_CUSTOMERS] if NEW_CUSTOMERS in unique else [])


def _prepare(kpis: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in KPI_COLUMNS if c not in kpis.columns]
    if missing:
        raise ValueError(
            f"The KPI table lacks {missing}; expected the columns of email_kpis / customer_kpis "
            f"({', '.join(KPI_COLUMNS)}), with kpi_bands' {', '.join(BAND_COLUMNS)}; "
            f"got {list(kpis.columns)}."
        )
    table = kpis.copy()
    for column in BAND_COLUMNS:
        if column not in table.columns:
            table[column] = "" if column == "flag" else np.nan
    table["period"] = pd.to_datetime(table["period"], utc=True)
    for column in ("segment_by", "segment", "campaign_type", "metric"):
        table[column] = table[column].astype(str)
    table["flag"] = table["flag"].astype("string").fillna("").astype(str)
    return table


def _flag_class(metric: str, flag: str) -> str:
    if flag not in ("high", "low"):
        return ""
    worse = (flag == "high") == (metric in _HIGHER_IS_WORSE)
    return f"flag {'bad' if worse else 'good'}"


def _flagged_value(row: Mapping) -> tuple[str, str]:
    metric, flag = str(row["metric"]), str(row.get("flag") or "")
    text = _fmt_value(row["value"], metric)
    if flag == "high":
        text = f"▲ {text}"
    elif flag == "low":
        text = f"▼ {text}"
    return text, _flag_class(metric, flag)


def _header(table: pd.DataFrame, title: str, freq: str, notes: Sequence[str]) -> str:
    periods = sorted(table["period"].unique())
    singular, plural = _FREQ_NAMES.get(freq, ("period", "periods"))
    if periods:
        covered = (
            f"{_period_label(periods[0], freq)} → {_period_label(periods[-1], freq)} "
            f"({len(periods)} {singular if len(periods) == 1 else plural})"
        )
    else:
        covered = DASH
    flags = table["flag"]
    n_high, n_low = int((flags == "high").sum()), int((flags == "low").sum())
    segmentations = [s for s in _segmentation_order(table["segment_by"].tolist()) if s != ALL]
    meta = [
        ("Periods", covered),
        ("Frequency", freq),
        ("Segmentations", ", ".join(segmentations) if segmentations else "none (all customers)"),
        ("Anomaly flags", f"{n_high + n_low} ({n_high} high, {n_low} low)"),
    ]
    items = "".join(
        f"<div><dt>{_e(k)}</dt><dd{_attrs({'id': 'flag-count' if k == 'Anomaly flags' else ''})}>"
        f"{_e(v)}</dd></div>"
        for k, v in meta
    )
    notes_html = (
        '<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>"
        if notes
        else ""
    )
    nav = (
        '<nav class="toc"><a href="#anomalies">Anomalies</a><a href="#latest">Latest period</a>'
        '<a href="#trends">Trends</a></nav>'
    )
    return f'<header><h1>{_e(title)}</h1><dl class="meta">{items}</dl>{notes_html}{nav}</header>'


def _anomalies(table: pd.DataFrame, freq: str) -> str:
    flagged = table[table["flag"].isin(["high", "low"])].copy()
    flagged["_m"] = flagged["metric"].map({m: i for i, m in enumerate(METRIC_LABELS)}).fillna(99)
    flagged["_all"] = flagged["segment_by"] != ALL
    flagged = flagged.sort_values(
        ["period", "_all", "segment_by", "segment", "campaign_type", "_m"],
        ascending=[False, True, True, True, True, True],
        kind="mergesort",
    )
    intro = (
        "Every KPI outside the band its own recent history predicts, most recent first. "
        "▲ above the band, ▼ below it; green is good news, red bad news."
    )
    if flagged.empty:
        content = '<p class="empty">No KPI left its band.</p>'
    else:
        columns = [
            _Column("Period", False, lambda r: _period_label(r["period"], freq)),
            _Column("Segmentation", False, lambda r: _segmentation_label(r["segment_by"])),
            _Column("Segment", False, lambda r: _segment_label(r["segment_by"], r["segment"])),
            _Column("Campaign type", False, lambda r: r["campaign_type"]),
            _Column("Metric", False, lambda r: _metric_label(r["metric"])),
            _Column("Value", True, _flagged_value),
            _Column("Expected", True, lambda r: _fmt_value(r["expected"], r["metric"])),
            _Column("Band", True, lambda r: _fmt_band(r["band_low"], r["band_high"], r["metric"])),
            _Column("Numerator / denominator", True, _fmt_counts),
        ]
        content = _table(
            flagged.to_dict("records"),
            columns,
            attributes={"class": "anomalies"},
            row_attributes=_row_attributes,
        )
    return (
        f'<section id="anomalies"><h2>Anomalies</h2><p class="intro">{_e(intro)}</p>'
        f"{content}</section>"
    )


def _row_attributes(row: Mapping) -> dict[str, Any]:
    return {
        "data-segment-by": row["segment_by"],
        "data-segment": row["segment"],
        "data-campaign-type": row["campaign_type"],
        "data-metric": row["metric"],
        "data-flag": row.get("flag") or "",
    }


def _latest_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Per series of campaign type ``all`` that was ever measured: its latest and previous values.

    A series is measured in a period when its denominator there is above 0; the
    latest row is its last measured period (usually the table's last period,
    but a churn rate ends a period earlier and an e-mail KPI skips weeks
    without a send), the previous one the measured period before it. Columns:
    ``segment_by``, ``segment``, ``metric``, the latest row's ``period``,
    ``value``, ``expected``, ``band_low``, ``band_high``, ``flag``,
    ``numerator``, ``denominator``, then ``previous_period``, ``previous`` and
    ``change`` (value − previous), in page order.
    """
    keys = ["segment_by", "segment", "metric"]
    cols = [*keys, "period", "value", "expected", "band_low", "band_high", "flag"]
    cols += ["numerator", "denominator"]
    measured = table[(table["campaign_type"] == ALL) & (table["denominator"] > 0)]
    measured = measured.sort_values([*keys, "period"], kind="mergesort")
    rank = measured.groupby(keys, sort=False).cumcount(ascending=False)
    rows = measured[rank == 0][cols]
    prev = measured[rank == 1][[*keys, "period", "value"]].rename(
        columns={"period": "previous_period", "value": "previous"}
    )
    rows = rows.merge(prev, on=keys, how="left")
    rows["change"] = rows["value"].astype(float) - rows["previous"].astype(float)
    metric_rank = {m: i for i, m in enumerate(_metric_order(rows["metric"].tolist()))}
    by_rank = {s: i for i, s in enumerate(_segmentation_order(rows["segment_by"].tolist()))}
    seg_rank = {s: i for i, s in enumerate(_segment_order(rows["segment"].tolist()))}
    rows = rows.assign(
        _m=rows["metric"].map(metric_rank),
        _b=rows["segment_by"].map(by_rank),
        _s=rows["segment"].map(seg_rank),
    ).sort_values(["_m", "_b", "_s"], kind="mergesort")
    return rows.drop(columns=["_m", "_b", "_s"]).reset_index(drop=True)


def _latest(table: pd.DataFrame, freq: str) -> str:
    periods = sorted(table["period"].unique())
    rows = _latest_rows(table)
    if rows.empty:
        return (
            '<section id="latest"><h2>Latest period</h2>'
            '<p class="empty">No KPI of campaign type “all”.</p></section>'
        )
    shown = _default_segmentation(_segmentation_order(rows["segment_by"].tolist()))
    last = periods[-1]
    since = _period_label(last, freq)
    intro = (
        f"Every campaign type together: each KPI's latest {freq} (starting {since} unless "
        f"dated) against the {freq} before it with a value, and against the segment's own "
        "recent history (the expected value and band of its control chart). Flagged values are "
        "marked ▲ / ▼."
    )
    columns = [
        _Column("Segmentation", False, lambda r: _segmentation_label(r["segment_by"])),
        _Column("Segment", False, lambda r: _segment_label(r["segment_by"], r["segment"])),
        _Column("Latest", True, lambda r: _dated(_flagged_value(r), r["period"], last, freq)),
        _Column(
            "Previous",
            True,
            lambda r: _dated(
                (_fmt_value(r["previous"], r["metric"]), ""), r["previous_period"], None, freq
            ),
        ),
        _Column("Change", True, lambda r: _fmt_change(r["change"], r["metric"])),
        _Column("Expected (own history)", True, lambda r: _fmt_value(r["expected"], r["metric"])),
        _Column("Band", True, lambda r: _fmt_band(r["band_low"], r["band_high"], r["metric"])),
        _Column("Numerator / denominator", True, _latest_counts),
    ]
    content = _table(
        rows.to_dict("records"),
        columns,
        attributes={"class": "latest"},
        row_attributes=lambda r: {
            "data-segment-by": r["segment_by"],
            "data-segment": r["segment"],
            "data-metric": r["metric"],
            "data-flag": r["flag"],
            "hidden": "" if r["segment_by"] in (ALL, shown) else "hidden",
        },
        group=lambda r: _metric_label(r["metric"]),
    )
    return (
        f'<section id="latest"><h2>Latest period</h2><p class="intro">{_e(intro)}</p>'
        f"{content}</section>"
    )


def _dated(cell: tuple[str, str], period: Any, usual: Any, freq: str) -> tuple[str, str]:
    """``cell`` with the date of ``period`` under its text, unless it is ``usual`` or missing."""
    text, css = cell
    if period is None or pd.isna(period) or period == usual:
        return cell
    return _Html(f'{_e(text)}<span class="when">{_e(_period_label(period, freq))}</span>'), css


def _latest_counts(row: Mapping) -> str:
    if _missing(row["denominator"]):
        return DASH
    return _fmt_counts(row)


# -- the small multiples ---------------------------------------------------------------------

_W, _H = 160.0, 78.0
_LEFT, _RIGHT, _TOP, _BOTTOM = 2.0, 2.0, 10.0, 11.0


def _scale(series: pd.DataFrame, metric: str) -> tuple[float, float]:
    """The y range of a chart: its values and expected values, padded."""
    values = pd.concat([series["value"], series["expected"]]).astype(float).to_numpy()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return (0.0, 1.0)
    lo, hi = float(values.min()), float(values.max())
    pad = (hi - lo) * 0.15 or max(abs(hi) * 0.1, 1e-3)
    lo, hi = lo - pad, hi + pad
    if _is_rate(metric):
        lo, hi = max(lo, 0.0), min(hi, 1.0)
    elif float(np.nanmin(values)) >= 0:
        lo = max(lo, 0.0)
    return (lo, hi) if hi > lo else (lo, lo + 1e-3)


def _chart(
    series: pd.DataFrame,
    periods: Sequence[pd.Timestamp],
    y_range: tuple[float, float],
    metric: str,
    freq: str,
) -> str:
    """One inline SVG: the value over ``periods``, its band shaded, flagged points in red."""
    index = {p: i for i, p in enumerate(periods)}
    n = len(periods)
    width, height = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    lo, hi = y_range

    def x(i: int) -> float:
        return _LEFT + (width * i / (n - 1) if n > 1 else width / 2)

    def y(v: float) -> float:
        v = min(max(v, lo), hi)
        return _TOP + height * (1 - (v - lo) / (hi - lo))

    def column(name: str) -> np.ndarray:
        out = np.full(n, np.nan)
        for p, v in zip(series["period"], series[name], strict=True):
            out[index[p]] = np.nan if _missing(v) else float(v)
        return out

    value, expected = column("value"), column("expected")
    band_low, band_high = column("band_low"), column("band_high")
    flags = [""] * n
    for p, f in zip(series["period"], series["flag"], strict=True):
        flags[index[p]] = str(f)
    parts = [f'<rect class="frame" x="{_LEFT}" y="{_TOP}" width="{width}" height="{height}"/>']
    # Periods without a measure (no e-mail sent to the segment) are skipped, not gaps.
    measured = np.isfinite(value)
    banded = np.flatnonzero(measured & np.isfinite(band_low) & np.isfinite(band_high)).tolist()
    if len(banded) == 1:
        i, step = banded[0], width / max(n - 1, 1) / 3
        parts.append(
            f'<rect class="band" x="{x(i) - step:.1f}" y="{y(band_high[i]):.1f}" '
            f'width="{2 * step:.1f}" height="{y(band_low[i]) - y(band_high[i]):.1f}"/>'
        )
    elif len(banded) > 1:
        upper = [f"{x(i):.1f},{y(band_high[i]):.1f}" for i in banded]
        lower = [f"{x(i):.1f},{y(band_low[i]):.1f}" for i in reversed(banded)]
        parts.append(f'<polygon class="band" points="{" ".join(upper + lower)}"/>')
    for name, line in (("expected", expected), ("value", value)):
        drawn = np.flatnonzero(measured & np.isfinite(line)).tolist()
        if len(drawn) > 1:
            points = " ".join(f"{x(i):.1f},{y(line[i]):.1f}" for i in drawn)
            parts.append(f'<polyline class="{name}" points="{points}"/>')
    for i in range(n):
        if not np.isfinite(value[i]):
            continue
        flag = flags[i] if flags[i] in ("high", "low") else ""
        band = _fmt_band(band_low[i], band_high[i], metric)
        tip = (
            f"{_period_label(periods[i], freq)}: {_fmt_value(value[i], metric)}; expected "
            f"{_fmt_value(expected[i], metric)}, band {band}"
            + (f"; flagged {flag}" if flag else "")
        )
        parts.append(
            f'<circle{_attrs({"class": flag})} cx="{x(i):.1f}" cy="{y(value[i]):.1f}" '
            f'r="{3.0 if flag else 1.6}"><title>{_e(tip)}</title></circle>'
        )
    parts.append(
        f'<text x="{_LEFT + 2}" y="{_TOP - 2}">{_e(_fmt_value(hi, metric))}</text>'
        f'<text x="{_LEFT + 2}" y="{_H - 2}">{_e(_fmt_value(lo, metric))}</text>'
    )
    if periods:
        parts.append(
            f'<text x="{_W - _RIGHT}" y="{_H - 2}" text-anchor="end">'
            f"{_e(_period_label(periods[-1], freq))}</text>"
        )
    return (
        f'<svg class="chart" viewBox="0 0 {_W:g} {_H:g}" '
        f'role="img" data-metric="{_e(metric)}">{"".join(parts)}</svg>'
    )


def _default_segmentation(segmentations: Sequence[str]) -> str:
    """The segmentation shown first: the first one other than ``all``, if any."""
    return next((s for s in segmentations if s != ALL), segmentations[0] if segmentations else ALL)


def _controls(table: pd.DataFrame) -> str:
    """The ``<select>`` of the segmentation shown in the latest period and the trends."""
    overall = table[table["campaign_type"] == ALL]
    segmentations = _segmentation_order(overall["segment_by"].tolist())
    if not segmentations:
        return ""
    default = _default_segmentation(segmentations)
    options = "".join(
        f'<option value="{_e(s)}"{" selected" if s == default else ""}>'
        f"{_e(_segmentation_label(s))}</option>"
        for s in segmentations
    )
    return (
        '<div class="controls"><label for="segmentation">Segmentation</label>'
        f'<select id="segmentation">{options}</select>'
        '<span class="hint">shown in Latest period (with all customers) and Trends; '
        "Anomalies list every segmentation</span></div>"
    )


def _figure(
    series: pd.DataFrame,
    periods: Sequence[pd.Timestamp],
    metric: str,
    freq: str,
    *,
    label: str,
    attributes: Mapping[str, str],
) -> str:
    """One small multiple: a series' chart under its label and latest value."""
    series = series.sort_values("period")
    flagged = bool(series["flag"].isin(["high", "low"]).any())
    last = series.iloc[-1]
    return (
        f"<figure{_attrs({'class': 'flagged' if flagged else '', **attributes})}><figcaption>"
        f'<span class="name" title="{_e(label)}">{_e(label)}</span>'
        f'<span class="last">{_e(_fmt_value(last["value"], metric))}</span>'
        f"</figcaption>{_chart(series, periods, _scale(series, metric), metric, freq)}</figure>"
    )


def _small_multiples(
    rows: pd.DataFrame,
    periods: Sequence[pd.Timestamp],
    freq: str,
    *,
    column: str,
    order: Callable[[list[str]], list[str]],
    label: Callable[[str], str],
) -> str:
    """A row of small multiples per metric: one chart per value of ``column`` (its data-*)."""
    blocks = []
    for metric in _metric_order(rows["metric"].tolist()):
        of_metric = rows[rows["metric"] == metric]
        figures = [
            _figure(
                of_metric[of_metric[column] == value],
                periods,
                metric,
                freq,
                label=label(value),
                attributes={f"data-{column.replace('_', '-')}": value},
            )
            for value in order(of_metric[column].tolist())
        ]
        blocks.append(
            f'<div class="metric-row" data-metric="{_e(metric)}">'
            f"<h3>{_e(_metric_label(metric))}</h3>"
            f'<div class="multiples">{"".join(figures)}</div></div>'
        )
    return "".join(blocks)


def _campaign_types(table: pd.DataFrame, freq: str) -> str:
    """All customers' e-mail KPIs per campaign type: empty when the log has no types."""
    rows = table[(table["segment_by"] == ALL) & (table["campaign_type"] != ALL)]
    types = sorted(rows["campaign_type"].unique())
    if not types or types == [NO_CAMPAIGN_TYPE]:
        return ""
    periods = sorted(table["period"].unique())
    blocks = _small_multiples(
        rows, periods, freq, column="campaign_type", order=lambda v: sorted(set(v)), label=str
    )
    intro = (
        "All customers, one chart per campaign type (email_events.campaign_type), each against "
        "its own history: a kind of e-mail that opens, converts or annoys unlike the others "
        "shows here. A type sent in a single period has no band yet."
    )
    return (
        f'<section id="campaign-types"><h2>Campaign types</h2><p class="intro">{_e(intro)}</p>'
        f"{blocks}</section>"
    )


def _trends(table: pd.DataFrame, freq: str) -> str:
    overall = table[table["campaign_type"] == ALL]
    periods = sorted(table["period"].unique())
    segmentations = _segmentation_order(overall["segment_by"].tolist())
    if not segmentations:
        return (
            '<section id="trends"><h2>Trends</h2>'
            '<p class="empty">No KPI of campaign type “all”.</p></section>'
        )
    default = _default_segmentation(segmentations)
    legend = (
        '<p class="legend"><span><i class="l-value"></i>value</span>'
        '<span><i class="l-expected"></i>expected (own history)</span>'
        '<span><i class="l-band"></i>band</span>'
        '<span><i class="l-flag"></i>outside the band</span></p>'
    )
    sections = []
    for by in segmentations:
        rows = overall[overall["segment_by"] == by]
        blocks = _small_multiples(
            rows,
            periods,
            freq,
            column="segment",
            order=_segment_order,
            label=functools.partial(_segment_label, by),
        )
        sections.append(
            f'<section class="trend" id="trend-{_e(_slug(by))}" data-segment-by="{_e(by)}"'
            f"{'' if by == default else ' hidden'}>"
            f"<h3>{_e(_segmentation_label(by))}</h3>{blocks}</section>"
        )
    intro = (
        "Every campaign type together: one chart per segment, each on its own scale (its top and "
        "bottom are labelled; the band is cut at them). Hover a point for its value, expected "
        "value and band."
    )
    return (
        f'<section id="trends"><h2>Trends</h2><p class="intro">{_e(intro)}</p>{legend}'
        f"{''.join(sections)}</section>"
    )


def render_dashboard(
    kpis: pd.DataFrame,
    *,
    title: str,
    notes: Sequence[str] = (),
    machine_opens_excluded: bool | None = None,
) -> str:
    """The KPI monitoring dashboard as one self-contained HTML page.

    Parameters
    ----------
    kpis : pandas.DataFrame
        The tidy KPI table (``email_kpis`` and ``customer_kpis`` rows, through
        ``kpi_bands``): :data:`~upseg.experiments.monitoring.KPI_COLUMNS` and
        :data:`~upseg.experiments.monitoring.bands.BAND_COLUMNS` (band columns
        missing are shown as missing). Give it the periods to show: every
        period in it is on the page.
    title : str
        The page's title.
    notes : sequence of str
        Lines shown under the header, after the note on machine opens.
    machine_opens_excluded : bool or None
        Whether opens by image proxies were excluded (True), flagged but kept
        (False), or the data has no such flag (None).

    Returns
    -------
    str
        The HTML: inline CSS, inline SVG charts and a few lines of inline
        script allowed by hash; no external resource.

    Raises
    ------
    ValueError
        A KPI column is missing.
    """
    table = _prepare(kpis)
    freq = _freq(sorted(table["period"].unique()))
    all_notes = [_MACHINE_OPENS[machine_opens_excluded], *notes]
    body = [
        _header(table, title, freq, all_notes),
        _anomalies(table, freq),
        _controls(table),
        _latest(table, freq),
        _trends(table, freq),
        _campaign_types(table, freq),
        "<footer>Bands: each series' own recent history (p-chart for a rate, widened when the "
        "series varies more than sampling explains; XmR chart for revenue per e-mail); see "
        "docs/monitoring.md.</footer>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        f'<title>{_e(title)}</title><link rel="icon" href="data:,">'
        f"<style>{_CSS}{_EXTRA_CSS}</style></head>\n<body><main>{''.join(body)}</main>"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


def write_dashboard(kpis: pd.DataFrame, path: Path | str, **kwargs: Any) -> Path:
    """Render the dashboard (:func:`render_dashboard`'s keywords) and write it atomically.

    A reader of ``path`` sees the old page or the new one, never half of one.
    Returns ``path``.
    """
    path = Path(path)
    text = render_dashboard(kpis, **kwargs)
    write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path
