"""One self-contained HTML page from the results of an A/B analysis, for marketing analysts.

:func:`render_report` turns the payload the analysis writes to ``results.json``
into HTML and :func:`write_report` writes it atomically. The page needs nothing
but a browser: the CSS is embedded, there is no JavaScript, every figure is a
matplotlib PNG inlined as a ``data:`` URI, and a Content-Security-Policy forbids
loading anything else, so it opens the same offline, attached to an e-mail or
archived for years. Every string of the payload is HTML-escaped: segment values
come from customer data.

The ``format_*`` helpers are the only place numbers become text, so a test can
look for every number of the results exactly as the page shows it:

- missing numbers (NaN, or None after a JSON round trip) show as :data:`DASH`;
- means of 0/1 outcomes are rates in percent (``0.57%``) and their lifts are in
  percentage points (``+0.68``); amounts and their lifts have two decimals;
- relative lifts, MDEs and shares are fractions shown in percent (``+119.3%``);
  ``roi_pct`` is already in percent;
- p-values below 0.001 show as ``<0.001``, others with three significant digits.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

__all__ = [
    "DASH",
    "RESULT_KEYS",
    "ReportPayloadError",
    "format_ci",
    "format_count",
    "format_float",
    "format_lift",
    "format_p",
    "format_roi",
    "format_share",
    "format_value",
    "is_missing",
    "render_report",
    "write_report",
]

DASH = "—"
"""How a missing number (NaN or None) is shown."""

RESULT_KEYS = (
    "metric",
    "segment_by",
    "segment",
    "arm",
    "control",
    "n_arm",
    "n_control",
    "mean_arm",
    "mean_control",
    "abs_lift",
    "abs_lift_ci_low",
    "abs_lift_ci_high",
    "rel_lift",
    "rel_lift_ci_low",
    "rel_lift_ci_high",
    "p_value",
    "p_value_adjusted",
    "method",
)
"""The columns of every row of ``results`` (and of ``targeting["send_vs_holdout"]``)."""
_REQUIRED_PARAMETERS = ("arms", "outcomes", "alpha", "correction")
_CORRECTIONS = {"bh": "Benjamini–Hochberg", "holm": "Holm", "none": "no correction"}
# Display order within a segment and arm: each test, then its CUPED row, the bootstrap last.
_METHODS = {
    "z_test": "z-test",
    "cuped_z_test": "CUPED z-test",
    "welch": "Welch t-test",
    "cuped_welch": "CUPED Welch t-test",
    "bootstrap": "bootstrap",
}
_BINARY_METHODS = ("z_test", "cuped_z_test")
_OVERALL = "overall"
_ARM_COLOURS = ("#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#57606a")
_DPI = 110
_MAX_LABEL = 42


class ReportPayloadError(ValueError):
    """The payload is not the results of an analysis."""


class _Html(str):
    """Markup that is already safe; every other string is escaped."""


# --- formatting: the only place numbers become text -------------------------------------------


def is_missing(value: Any) -> bool:
    """Whether ``value`` is a missing number: None or NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def _number(value: Any, spec: str, *, scale: float = 1.0, suffix: str = "") -> str:
    """``value * scale`` formatted with ``spec`` and ``suffix``; :data:`DASH` if missing."""
    if is_missing(value):
        return DASH
    value = float(value) * scale
    if math.isinf(value):
        return ("+" if "+" in spec and value > 0 else "-" if value < 0 else "") + "∞"
    return f"{value:{spec}}{suffix}"


def format_count(value: Any) -> str:
    """A number of customers with thousands separators; one decimal if not whole (``21,306.5``)."""
    if not is_missing(value) and float(value) != math.floor(float(value)):
        return _number(value, ",.1f")
    return _number(value, ",.0f")


def format_value(value: Any, kind: str) -> str:
    """A mean: a rate in percent for a ``binary`` outcome (``1.25%``), else an amount (``1.42``)."""
    if kind == "binary":
        return _number(value, ".2f", scale=100, suffix="%")
    return _number(value, ",.2f")


def format_lift(value: Any, kind: str) -> str:
    """A signed lift: percentage points (``binary``), an amount (``continuous``) or ``relative``.

    Parameters
    ----------
    value : float or None
        Difference of means (``binary``, ``continuous``) or a ratio minus one (``relative``).
    kind : {"binary", "continuous", "relative"}

    Returns
    -------
    str
        ``+0.68`` (points, without unit), ``-1,234.50`` or ``+119.3%``; :data:`DASH` if missing.
    """
    if kind == "binary":
        return _number(value, "+.2f", scale=100)
    if kind == "relative":
        return _number(value, "+,.1f", scale=100, suffix="%")
    return _number(value, "+,.2f")


def format_ci(low: Any, high: Any, kind: str) -> str:
    """A confidence interval ``[low, high]`` of lifts (see :func:`format_lift`)."""
    if is_missing(low) and is_missing(high):
        return DASH
    return f"[{format_lift(low, kind)}, {format_lift(high, kind)}]"


def format_p(value: Any) -> str:
    """A p-value: ``<0.001`` below 0.001, else three significant digits (``0.0123``, ``0.500``)."""
    if not is_missing(value) and float(value) < 0.001:
        return "<0.001"
    return _number(value, "#.3g")


def format_share(value: Any) -> str:
    """A fraction in percent with one decimal (``23.4%``), e.g. a variance reduction."""
    return _number(value, ".1f", scale=100, suffix="%")


def format_roi(value: Any) -> str:
    """A return on investment already in percent, signed (``+670.1%``)."""
    return _number(value, "+,.1f", suffix="%")


def format_float(value: Any) -> str:
    """Any other number: four significant digits, or a whole number with separators from 1,000."""
    if not is_missing(value) and abs(float(value)) >= 1000:
        return _number(value, ",.0f")
    return _number(value, ".4g")


def _p_phrase(value: Any) -> str:
    """``p < 0.001`` or ``p = 0.0123`` for a sentence."""
    text = format_p(value)
    return "p < 0.001" if text == "<0.001" else f"p = {text}"


# --- the payload -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Setup:
    """What every section needs to know about the analysis."""

    arms: tuple[str, ...]
    outcomes: tuple[str, ...]
    kinds: dict[str, str]
    by: tuple[str, ...]
    alpha: float
    correction: str
    resamples: Any


def _payload_problems(payload: Any) -> list[str]:
    """Everything that keeps ``payload`` from being rendered (empty if nothing)."""
    if not isinstance(payload, Mapping):
        return [f"the payload must be a dict; got {type(payload).__name__}"]
    problems = [
        f"'{key}' is missing" for key in ("parameters", "counts", "results") if key not in payload
    ]
    parameters = payload.get("parameters", {})
    if not isinstance(parameters, Mapping):
        problems.append(f"'parameters' must be a dict; got {type(parameters).__name__}")
    else:
        missing = [key for key in _REQUIRED_PARAMETERS if key not in parameters]
        if missing:
            problems.append(f"'parameters' lacks {', '.join(map(repr, missing))}")
    results = payload.get("results", [])
    if not isinstance(results, list):
        return [*problems, f"'results' must be a list of rows; got {type(results).__name__}"]
    bad = []
    for i, row in enumerate(results):
        missing = [key for key in RESULT_KEYS if not isinstance(row, Mapping) or key not in row]
        if missing:
            bad.append(f"results[{i}] lacks {', '.join(map(repr, missing))}")
    more = [f"and {len(bad) - 3} more rows like these"] if len(bad) > 3 else []
    return [*problems, *bad[:3], *more]


def _setup(payload: Mapping) -> _Setup:
    parameters = payload["parameters"]
    results = payload["results"]
    kinds = dict(parameters.get("outcome_kinds") or {})
    metrics = [*parameters["outcomes"], *(row["metric"] for row in results)]
    for metric in metrics:
        if metric not in kinds:
            binary = any(r["metric"] == metric and r["method"] in _BINARY_METHODS for r in results)
            kinds[metric] = "binary" if binary else "continuous"
    return _Setup(
        arms=tuple(str(arm) for arm in parameters["arms"]),
        outcomes=tuple(dict.fromkeys(metrics)),
        kinds=kinds,
        by=tuple(str(column) for column in parameters.get("by") or ()),
        alpha=float(parameters["alpha"]),
        correction=_CORRECTIONS.get(parameters["correction"], str(parameters["correction"])),
        resamples=parameters.get("bootstrap_resamples"),
    )


def _significant(row: Mapping, alpha: float) -> bool | None:
    """Significant after adjustment at ``alpha``; None without an adjusted p-value."""
    value = row.get("p_value_adjusted")
    return None if is_missing(value) else float(value) < alpha


def _sorted(rows: Sequence[Mapping], setup: _Setup) -> list[Mapping]:
    """Rows by metric, segmentation (overall first, then ``by``), segment, arm and method."""
    segmentations = [_OVERALL, *setup.by]
    first_seen: dict[tuple[str, str], int] = {}
    for i, row in enumerate(rows):
        segmentation = str(row.get("segment_by", _OVERALL))
        if segmentation not in segmentations:
            segmentations.append(segmentation)
        first_seen.setdefault((segmentation, str(row.get("segment"))), i)

    def key(item: tuple[int, Mapping]) -> tuple:
        i, row = item
        segmentation = str(row.get("segment_by", _OVERALL))
        return (
            _rank(setup.outcomes, row.get("metric")),
            segmentations.index(segmentation),
            first_seen[(segmentation, str(row.get("segment")))],
            _rank(setup.arms, row.get("arm")),
            _rank(_METHODS, row.get("method")),
            i,
        )

    return [row for _, row in sorted(enumerate(rows), key=key)]


def _primary(rows: Sequence[Mapping]) -> list[Mapping]:
    """The first row (in method order) of each metric, segment and arm: the unadjusted test."""
    chosen: dict[tuple, Mapping] = {}
    for row in rows:
        key = (row["metric"], str(row["segment_by"]), str(row["segment"]), str(row["arm"]))
        best = chosen.get(key)
        if best is None or _rank(_METHODS, row["method"]) < _rank(_METHODS, best["method"]):
            chosen[key] = row
    kept = {id(row) for row in chosen.values()}
    return [row for row in rows if id(row) in kept]


def _rank(options: Sequence[str], value: Any) -> int:
    """Position of ``str(value)`` in ``options``; unknown values last."""
    options = list(options)
    return options.index(str(value)) if str(value) in options else len(options)


def _segment_name(row: Mapping) -> str:
    """``rfm_segment = Champions``, or ``all customers`` for the overall population."""
    if str(row.get("segment_by")) == _OVERALL:
        return "all customers"
    return f"{row.get('segment_by')} = {row.get('segment')}"


# --- HTML building blocks --------------------------------------------------------------------


def _e(value: Any) -> str:
    """``value`` as escaped text, or as is if it is already markup."""
    return value if isinstance(value, _Html) else html.escape(str(value), quote=True)


def _attrs(attributes: Mapping[str, Any]) -> str:
    return "".join(f' {name}="{_e(value)}"' for name, value in attributes.items() if value != "")


def _slug(text: str) -> str:
    """An id-safe version of ``text``."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", str(text)).strip("-") or "x"


def _sign(value: Any) -> str:
    """``pos`` or ``neg`` by the sign of ``value``, for the colour of a lift."""
    if is_missing(value) or float(value) == 0:
        return ""
    return "pos" if float(value) > 0 else "neg"


@dataclass(frozen=True)
class _Column:
    """A table column: its header, whether it holds numbers, and its cell for a row."""

    header: str
    numeric: bool
    cell: Callable[[Mapping], Any]


def _table(
    rows: Sequence[Mapping],
    columns: Sequence[_Column],
    *,
    attributes: Mapping[str, Any],
    row_attributes: Callable[[Mapping], Mapping[str, Any]] = lambda row: {},
    group: Callable[[Mapping], str] | None = None,
    caption: str = "",
) -> str:
    """A scrollable table with a sticky header; a cell may be text or ``(text, class)``."""
    head = "".join(
        f'<th scope="col"{_attrs({"class": "num" if c.numeric else ""})}>{_e(c.header)}</th>'
        for c in columns
    )
    body, last = [], None
    for row in rows:
        label = group(row) if group else None
        if label is not None and label != last:
            body.append(
                f'<tr class="group"><th scope="rowgroup" colspan="{len(columns)}">'
                f"{_e(label)}</th></tr>"
            )
            last = label
        cells = []
        for column in columns:
            value = column.cell(row)
            text, extra = value if isinstance(value, tuple) else (value, "")
            classes = " ".join(c for c in ("num" if column.numeric else "", extra) if c)
            cells.append(f"<td{_attrs({'class': classes})}>{_e(text)}</td>")
        body.append(f"<tr{_attrs(row_attributes(row))}>{''.join(cells)}</tr>")
    caption_html = f"<caption>{_e(caption)}</caption>" if caption else ""
    return (
        f'<div class="table-wrap"><table{_attrs(attributes)}>{caption_html}'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _section(section_id: str, heading: str, content: str, *, intro: str = "") -> str:
    intro_html = f'<p class="intro">{_e(intro)}</p>' if intro else ""
    return f'<section id="{_e(section_id)}"><h2>{_e(heading)}</h2>{intro_html}{content}</section>'


def _segmentation_heading(row: Mapping) -> str:
    """Group heading of a row: ``All customers`` or ``By rfm_segment``."""
    segmentation = str(row.get("segment_by"))
    return "All customers" if segmentation == _OVERALL else f"By {segmentation}"


def _metric_heading(row: Mapping) -> str:
    """Group heading of a row of a table that mixes metrics: ``revenue · By rfm_segment``."""
    return f"{row.get('metric')} · {_segmentation_heading(row)}"


def _segment_cell(row: Mapping) -> str:
    return "all customers" if str(row.get("segment_by")) == _OVERALL else str(row.get("segment"))


def _segment_attributes(row: Mapping) -> dict[str, Any]:
    attributes = {"data-segment-by": row.get("segment_by"), "data-segment": row.get("segment")}
    for key in ("metric", "arm", "method"):
        if key in row:
            attributes[f"data-{key}"] = row[key]
    return attributes


# --- figures ---------------------------------------------------------------------------------


def _figure(width: float, height: float) -> Figure:
    """A figure on an Agg canvas, detached from pyplot so nothing needs closing."""
    figure = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _image(figure: Figure, alt: str, caption: str) -> str:
    """``figure`` as an inline PNG ``<img>`` in a ``<figure>``."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    figure.clear()
    width, height = (round(v * _DPI) for v in figure.get_size_inches())
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{_e(alt)}" width="{width}" '
        f'height="{height}"><figcaption>{_e(caption)}</figcaption></figure>'
    )


def _label(text: str) -> str:
    """Text safe for matplotlib (no mathtext) and short enough for an axis."""
    text = text if len(text) <= _MAX_LABEL else text[: _MAX_LABEL - 1] + "…"
    return text.replace("$", r"\$")


def _floats(values: Any) -> list[float]:
    return [math.nan if is_missing(v) else float(v) for v in values or []]


def _lift_figure(rows: Sequence[Mapping], metric: str, kind: str, setup: _Setup) -> Figure | None:
    """Horizontal lift per segment and arm with 95% error bars; filled if significant."""
    rows = [r for r in _primary(rows) if not is_missing(r["abs_lift"])]
    if not rows:
        return None
    scale = 100.0 if kind == "binary" else 1.0
    figure = _figure(8.6, max(2.4, 0.36 * len(rows) + 1.4))
    ax = figure.subplots()
    treated = [*setup.arms[1:], *sorted({str(r["arm"]) for r in rows} - set(setup.arms))]
    shown = set()
    for i, row in enumerate(rows):
        y = len(rows) - 1 - i
        lift = float(row["abs_lift"]) * scale
        low, high = _floats([row["abs_lift_ci_low"], row["abs_lift_ci_high"]])
        below = 0.0 if math.isnan(low) else max(lift - low * scale, 0.0)
        above = 0.0 if math.isnan(high) else max(high * scale - lift, 0.0)
        arm = str(row["arm"])
        colour = _ARM_COLOURS[_rank(treated, arm) % len(_ARM_COLOURS)]
        significant = bool(_significant(row, setup.alpha))
        ax.errorbar(
            lift,
            y,
            xerr=[[below], [above]],
            fmt="o",
            color=colour,
            markerfacecolor=colour if significant else "white",
            markersize=6,
            capsize=3,
            label=None if arm in shown else _label(arm),
        )
        shown.add(arm)
    ax.axvline(0, color="0.25", linewidth=0.9)
    ax.set_yticks(
        range(len(rows) - 1, -1, -1),
        [_label(_segment_name(r).replace("all customers", "All customers")) for r in rows],
    )
    ax.set_ylim(-0.7, len(rows) - 0.3)
    unit = "percentage points" if kind == "binary" else "per customer"
    ax.set_xlabel(f"Lift in {_label(metric)} ({unit}), 95% CI")
    ax.grid(axis="x", color="0.9")
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(title="filled: significant", fontsize="small", title_fontsize="small", loc="best")
    return figure


def _targeting_figure(entry: Mapping, outcome: str, kind: str) -> Figure | None:
    """Qini curve (model vs random) and cumulative uplift curve of one targeting entry."""
    curve, uplift = entry.get("curve") or {}, entry.get("uplift_curve") or {}
    if not (curve.get("x") or uplift.get("x")):
        return None
    figure = _figure(9.0, 3.2)
    left, right = figure.subplots(1, 2)
    x = _floats(curve.get("x"))
    left.plot(x, _floats(curve.get("model"))[: len(x)], color="#0969da", label="model")
    left.plot(
        x, _floats(curve.get("random"))[: len(x)], color="0.45", linestyle="--", label="random"
    )
    left.set(title="Qini curve", ylabel=f"Incremental {_label(outcome)}")
    left.legend(fontsize="small", loc="upper left")
    ux = _floats(uplift.get("x"))
    right.plot(ux, _floats(uplift.get("model"))[: len(ux)], color="#0969da")
    right.set(title="Cumulative uplift", ylabel="Uplift among the targeted")
    if kind == "binary":
        right.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    for ax in (left, right):
        ax.axhline(0, color="0.25", linewidth=0.7)
        ax.xaxis.set_major_formatter("{x:.0%}")
        ax.set(xlim=(0, 1), xlabel="Customers targeted, highest score first")
        ax.grid(color="0.92")
    figure.suptitle(
        f"{_label(str(entry.get('arm')))} · {_label(_segment_name(entry))} · "
        f"Qini AUC {format_float(entry.get('qini_auc'))}",
        fontsize="medium",
    )
    return figure


# --- sections --------------------------------------------------------------------------------


def _header(payload: Mapping, title: str) -> str:
    parameters = payload["parameters"]
    facts = [
        ("Generated", parameters.get("generated_at")),
        ("Code version", parameters.get("code_version")),
        ("Source", parameters.get("source")),
        ("Campaign", parameters.get("campaign")),
        ("Audience", parameters.get("audience")),
    ]
    items = "".join(
        f"<div><dt>{_e(name)}</dt><dd>{_e(value)}</dd></div>"
        for name, value in facts
        if not is_missing(value)
    )
    return f'<header><h1>{_e(title)}</h1><dl class="meta">{items}</dl></header>'


def _arm_counts(entry: Mapping) -> str:
    """``No E-Mail 21,306 (expected 21,333.3) · …`` for one SRM entry."""
    observed, expected = entry.get("observed") or {}, entry.get("expected") or {}
    return " · ".join(
        f"{arm} {format_count(observed.get(arm))} (expected {format_count(expected.get(arm))})"
        for arm in dict.fromkeys([*observed, *expected])
    )


def _srm_banner(srm: Sequence[Mapping]) -> str:
    """A loud red box if any SRM check is flagged, else a small green note."""
    flagged = [entry for entry in srm if entry.get("flagged")]
    overall = [entry for entry in srm if str(entry.get("segment_by")) == _OVERALL]
    if flagged:
        lead = ([e for e in flagged if str(e.get("segment_by")) == _OVERALL] or flagged)[0]
        items = "".join(
            f"<li><strong>{_e(_segment_name(e))}</strong> ({_e(_p_phrase(e.get('p_value')))}): "
            f"{_e(_arm_counts(e))}</li>"
            for e in flagged
        )
        return (
            '<div id="srm-banner" class="flagged" role="alert"><p class="headline">'
            "Sample ratio mismatch: the arm counts differ from the planned split "
            f"({_e(_p_phrase(lead.get('p_value')))}). No other number in this report can be "
            "trusted until the assignment is explained.</p>"
            f"<p>Observed vs expected customers per arm:</p><ul>{items}</ul></div>"
        )
    if overall:
        return (
            '<div id="srm-banner" class="ok">Arm counts match the planned split '
            f"({_e(_p_phrase(overall[0].get('p_value')))}).</div>"
        )
    return '<div id="srm-banner" class="none">No sample-ratio check in these results.</div>'


def _nav(sections: Sequence[tuple[str, str]]) -> str:
    links = "".join(f'<a href="#{_e(sid)}">{_e(name)}</a>' for sid, name in sections)
    return f'<nav class="toc">{links}</nav>'


def _after(setup: _Setup, *, alpha: bool = False) -> str:
    """``after Benjamini–Hochberg`` (``at α = 0.05 after …``), or ``at α = 0.05`` if uncorrected."""
    if setup.correction == "no correction":
        return f"at α = {setup.alpha:g}"
    return (f"at α = {setup.alpha:g} " if alpha else "") + f"after {setup.correction}"


def _badge(significant: bool | None, setup: _Setup) -> str:
    """A small badge: significant or not at alpha after the correction."""
    if significant is None:
        return ""
    after = _after(setup)
    if significant:
        return f'<span class="badge sig">significant {_e(after)}</span>'
    return f'<span class="badge ns">not significant {_e(after)}</span>'


def _lift_sentence(row: Mapping, kind: str, setup: _Setup) -> str:
    """The overall lift of an arm in plain words, as HTML."""
    metric, arm = row["metric"], str(row["arm"])
    per = "" if kind == "binary" else " per customer"
    unit = " pp" if kind == "binary" else ""
    lift = row["abs_lift"]
    verb = "did not change" if is_missing(lift) or float(lift) == 0 else "raised"
    if not is_missing(lift) and float(lift) < 0:
        verb = "lowered"
    low, high = (format_lift(row[k], kind) for k in ("abs_lift_ci_low", "abs_lift_ci_high"))
    details = (
        f'<span class="{_sign(lift)}">{_e(format_lift(lift, kind))}{unit}</span>, '
        f"95% CI {_e(low)} to {_e(high)}{unit}; "
        f"{_e(format_lift(row['rel_lift'], 'relative'))} relative"
    )
    adjusted = f"adjusted {_p_phrase(row['p_value_adjusted'])}"
    return (
        f"<strong>{_e(arm)}</strong> {verb} {_e(metric)}{per} from "
        f"{_e(format_value(row['mean_control'], kind))} to "
        f"{_e(format_value(row['mean_arm'], kind))} ({details}), "
        f"{_e(_p_phrase(row['p_value']))} ({_e(adjusted)}) "
        f"{_badge(_significant(row, setup.alpha), setup)}"
    )


def _segment_phrase(row: Mapping, kind: str, setup: _Setup) -> str:
    unit = " pp" if kind == "binary" else ""
    significant = _significant(row, setup.alpha)
    verdict = {True: "significant", False: "not significant", None: "no p-value"}[significant]
    return (
        f'{_e(_segment_name(row))}: <span class="{_sign(row["abs_lift"])}">'
        f"{_e(format_lift(row['abs_lift'], kind))}{unit}</span> "
        f"(adjusted {_e(_p_phrase(row['p_value_adjusted']))}, {verdict})"
    )


def _best_and_worst(rows: Sequence[Mapping]) -> tuple[Mapping | None, Mapping | None]:
    """The most significant positive and most significant negative segment lift.

    Without a positive (negative) lift, the largest (smallest) lift stands in.
    """
    rows = [r for r in rows if not is_missing(r["abs_lift"])]
    if not rows:
        return None, None

    def evidence(row: Mapping) -> float:
        value = row["p_value_adjusted"]
        return math.inf if is_missing(value) else float(value)

    ups = sorted(
        (r for r in rows if r["abs_lift"] > 0), key=lambda r: (evidence(r), -r["abs_lift"])
    )
    downs = sorted(
        (r for r in rows if r["abs_lift"] < 0), key=lambda r: (evidence(r), r["abs_lift"])
    )
    best = ups[0] if ups else max(rows, key=lambda r: r["abs_lift"])
    worst = downs[0] if downs else min(rows, key=lambda r: r["abs_lift"])
    return best, (None if worst is best else worst)


def _arm_findings(payload: Mapping, arm: str, setup: _Setup) -> str:
    """One card of the summary: each outcome's lift, its best and worst segments, the ROI."""
    primary = _primary(payload["results"])
    items = []
    for metric in setup.outcomes:
        kind = setup.kinds[metric]
        mine = [r for r in primary if r["metric"] == metric and str(r["arm"]) == arm]
        overall = [r for r in mine if str(r["segment_by"]) == _OVERALL]
        if not overall:
            reasons = [
                s.get("reason", "")
                for s in payload.get("skipped") or []
                if s.get("metric") == metric
                and str(s.get("arm")) == arm
                and str(s.get("segment_by")) == _OVERALL
            ]
            why = f": {reasons[0]}" if reasons else ""
            items.append(f"<li><strong>{_e(metric)}</strong> was not tested{_e(why)}.</li>")
            continue
        best, worst = _best_and_worst([r for r in mine if str(r["segment_by"]) != _OVERALL])
        segments = [
            f"<li>Strongest segment: {_segment_phrase(best, kind, setup)}</li>" if best else "",
            f"<li>Weakest segment: {_segment_phrase(worst, kind, setup)}</li>" if worst else "",
        ]
        sub = f'<ul class="segments">{"".join(segments)}</ul>' if best else ""
        items.append(f"<li>{_lift_sentence(overall[0], kind, setup)}{sub}</li>")
    items += [
        f"<li>{_roi_sentence(row)}</li>"
        for row in payload.get("roi") or []
        if str(row.get("arm")) == arm and str(row.get("segment_by")) == _OVERALL
    ]
    return f'<article class="card"><h3>{_e(arm)}</h3><ul>{"".join(items)}</ul></article>'


def _roi_sentence(row: Mapping) -> str:
    """The return on the e-mails of one arm, as HTML."""
    roi = row.get("roi_pct")
    return (
        f'Return on the e-mails, all customers: <strong class="{_sign(roi)}">ROI '
        f"{_e(format_roi(roi))}</strong> — incremental revenue "
        f"{_e(format_lift(row.get('incremental_revenue'), 'continuous'))} for a sending cost "
        f"of {_e(format_value(row.get('cost'), 'continuous'))} "
        f"({_e(format_count(row.get('n_arm')))} customers e-mailed)."
    )


def _qini_ci(entry: Mapping) -> str:
    low, high = entry.get("qini_auc_ci_low"), entry.get("qini_auc_ci_high")
    return f"[{format_float(low)}, {format_float(high)}]"


def _qini_verdict(entry: Mapping) -> str:
    low, high = entry.get("qini_auc_ci_low"), entry.get("qini_auc_ci_high")
    if is_missing(low) or is_missing(high):
        return "no confidence interval"
    if float(low) > 0:
        return "above 0: the model beat random targeting"
    if float(high) < 0:
        return "below 0: the model did worse than random targeting"
    return "includes 0: no evidence the model beats random targeting"


def _qini_sentence(entry: Mapping, score: str) -> str:
    ci = _qini_ci(entry)
    return (
        f"<strong>{_e(entry.get('arm'))}</strong>, {_e(_segment_name(entry))} "
        f"(n = {_e(format_count(entry.get('n')))}): targeting by {_e(score)} has Qini AUC "
        f"{_e(format_float(entry.get('qini_auc')))}, 95% CI {_e(ci)} — "
        f'<span class="{_qini_class(entry)}">{_e(_qini_verdict(entry))}</span>.'
    )


def _summary(payload: Mapping, setup: _Setup) -> str:
    counts = payload["counts"]
    per_arm = counts.get("per_arm") or {}
    arms = " · ".join(f"{arm} {format_count(n)}" for arm, n in per_arm.items())
    after = (
        "without a multiple-testing correction"
        if setup.correction == "no correction"
        else f"with p-values adjusted by {setup.correction} for the many comparisons"
    )
    control = setup.arms[0] if setup.arms else "control"
    lede = (
        f"{format_count(counts.get('customers'))} customers ({arms}). Each e-mailed arm is "
        f"compared with {control}; tests at α = {setup.alpha:g} {after}."
    )
    cards = "".join(_arm_findings(payload, arm, setup) for arm in setup.arms[1:])
    notes = []
    targeting = payload.get("targeting")
    if targeting:
        entries = targeting.get("qini") or []
        overall = [e for e in entries if str(e.get("segment_by")) == _OVERALL] or entries
        lines = [f"<li>{_qini_sentence(e, str(targeting.get('score')))}</li>" for e in overall]
        for row in _primary(targeting.get("send_vs_holdout") or []):
            if str(row["segment_by"]) == _OVERALL:
                kind = setup.kinds.get(row["metric"], "continuous")
                lines.append(
                    "<li>Among customers the audience marked <em>send</em>: "
                    f"{_lift_sentence(row, kind, setup)}</li>"
                )
        notes.append(f"<h3>Targeting by the model</h3><ul>{''.join(lines)}</ul>")
    skipped = payload.get("skipped") or []
    missing = sum(int(m.get("n_missing") or 0) for m in counts.get("missing_outcomes") or [])
    flagged = [e for e in payload.get("srm") or [] if e.get("flagged")]
    caveats = (
        [
            f'<li class="neg"><strong>Sample ratio mismatch</strong> in {len(flagged)} of '
            f"{len(payload['srm'])} checks: the arms are not the planned split, so every number "
            'here may be biased (see <a href="#srm">SRM</a>).</li>'
        ]
        if flagged
        else []
    )
    if skipped:
        caveats.append(
            f'<li>{len(skipped)} comparisons were not tested; <a href="#skipped">Skipped '
            "comparisons</a> says why.</li>"
        )
    if missing:
        caveats.append(
            f"<li>{format_count(missing)} outcome values are missing; "
            '<a href="#data">Data</a> counts them per arm.</li>'
        )
    if caveats:
        notes.append(f"<h3>Caveats</h3><ul>{''.join(caveats)}</ul>")
    return _section(
        "summary",
        "Executive summary",
        f'<p class="lede">{_e(lede)}</p><div class="cards">{cards}</div>{"".join(notes)}',
    )


def _comparison(row: Mapping) -> tuple[str, str, str, str]:
    return (row["metric"], str(row["segment_by"]), str(row["segment"]), str(row["arm"]))


def _with_ci(value: Any, low: Any, high: Any, kind: str) -> tuple[_Html, str]:
    """A lift and its interval in one cell, coloured by the sign of the lift."""
    ci = format_ci(low, high, kind)
    shown = "" if ci == DASH else f' <span class="ci">{_e(ci)}</span>'
    # the cell may break between the lift and its interval, never inside either
    return _Html(f'<span class="nowrap">{_e(format_lift(value, kind))}</span>{shown}'), (
        _sign(value) + " breakable"
    ).strip()


def _results_columns(
    kind: str, setup: _Setup, cuped: Mapping[tuple, Mapping], followers: set[int]
) -> list[_Column]:
    """The columns of a results table; ``followers`` are rows refining the row above them."""
    what = "rate" if kind == "binary" else "mean"

    def test(row: Mapping) -> _Html:
        method = str(row["method"])
        name = ("↳ " if id(row) in followers else "") + _METHODS.get(method, method)
        note = ""
        if method.startswith("cuped"):
            entry = cuped.get(_comparison(row)[:3], {})
            note = (
                f"variance −{format_share(entry.get('variance_reduction'))}, "
                f"{entry.get('covariate', 'covariate unknown')}"
            )
        elif method == "bootstrap":
            note = f"{format_count(setup.resamples)} resamples"
        note_html = f' <span class="note">{_e(note)}</span>' if note else ""
        return _Html(f'<span class="nowrap">{_e(name)}</span>{note_html}')

    def star(row: Mapping) -> _Html:
        if not _significant(row, setup.alpha):
            return _Html("")
        title = f"significant {_after(setup, alpha=True)}"
        return _Html(f'<span class="star" title="{_e(title)}">★</span>')

    def unless_follower(cell: Callable[[Mapping], str]) -> Callable[[Mapping], str]:
        return lambda row: "" if id(row) in followers else cell(row)

    return [
        _Column("Segment", False, unless_follower(_segment_cell)),
        _Column("Arm", False, unless_follower(lambda r: (str(r["arm"]), "nowrap"))),
        _Column("Test", False, test),
        _Column("Customers (arm)", True, lambda r: format_count(r["n_arm"])),
        _Column("Customers (control)", True, lambda r: format_count(r["n_control"])),
        _Column(f"Control {what}", True, lambda r: format_value(r["mean_control"], kind)),
        _Column(f"Arm {what}", True, lambda r: format_value(r["mean_arm"], kind)),
        _Column(
            f"Lift{' (pp)' if kind == 'binary' else ''} [95% CI]",
            True,
            lambda r: _with_ci(r["abs_lift"], r["abs_lift_ci_low"], r["abs_lift_ci_high"], kind),
        ),
        _Column(
            "Relative lift [95% CI]",
            True,
            lambda r: _with_ci(
                r["rel_lift"], r["rel_lift_ci_low"], r["rel_lift_ci_high"], "relative"
            ),
        ),
        _Column("p", True, lambda r: format_p(r["p_value"])),
        _Column("Adjusted p", True, lambda r: format_p(r["p_value_adjusted"])),
        _Column("Sig.", False, star),
    ]


def _results_table(
    rows: Sequence[Mapping], metric: str, setup: _Setup, cuped: Mapping, *, css: str
) -> str:
    kind = setup.kinds.get(metric, "continuous")
    controls = ", ".join(dict.fromkeys(str(r["control"]) for r in rows))
    followers = {
        id(row)
        for above, row in zip(rows, rows[1:], strict=False)
        if _comparison(above) == _comparison(row)
    }

    def attributes(row: Mapping) -> dict[str, Any]:
        classes = [
            "sig" if _significant(row, setup.alpha) else "",
            "variant" if id(row) in followers else "",
        ]
        return {
            **_segment_attributes(row),
            "data-control": row["control"],
            "class": " ".join(c for c in classes if c),
        }

    return _table(
        rows,
        _results_columns(kind, setup, cuped, followers),
        attributes={"class": css, "data-metric": metric, "id": f"{css}-{_slug(metric)}"},
        row_attributes=attributes,
        group=_segmentation_heading,
        caption=f"{metric}: each arm vs {controls}. ★ = significant {_after(setup, alpha=True)}; "
        "indented rows refine the test above them.",
    )


def _outcome_section(payload: Mapping, metric: str, setup: _Setup, cuped: Mapping) -> str:
    rows = _sorted([r for r in payload["results"] if r["metric"] == metric], setup)
    kind = setup.kinds[metric]
    described = "a rate (0/1 outcome)" if kind == "binary" else "an amount per customer"
    figure = _lift_figure(rows, metric, kind, setup)
    image = (
        _image(
            figure,
            f"Lift in {metric} by segment with 95% error bars",
            f"Lift in {metric} by segment and arm (unadjusted test), 95% confidence intervals. "
            "A bar that crosses the zero line is compatible with no effect.",
        )
        if figure
        else ""
    )
    table = (
        _results_table(rows, metric, setup, cuped, css="results")
        if rows
        else '<p class="empty">No comparison of this outcome was tested.</p>'
    )
    return _section(
        f"outcome-{_slug(metric)}",
        f"Outcome: {metric}",
        image + table,
        intro=f"{metric} is {described}. Rows by segment; CUPED and bootstrap rows follow the "
        "test they refine.",
    )


def _targeting_section(targeting: Mapping, setup: _Setup) -> str:
    score, outcome = str(targeting.get("score")), str(targeting.get("outcome"))
    entries = _sorted(targeting.get("qini") or [], setup)
    columns = [
        _Column("Segment", False, _segment_cell),
        _Column("Arm", False, lambda r: str(r.get("arm"))),
        _Column("Customers", True, lambda r: format_count(r.get("n"))),
        _Column("Qini AUC", True, lambda r: format_float(r.get("qini_auc"))),
        _Column("95% CI", True, _qini_ci),
        _Column("Verdict", False, lambda r: (_qini_verdict(r), _qini_class(r))),
    ]
    parts = [
        _table(
            entries,
            columns,
            attributes={"class": "qini", "id": "qini"},
            row_attributes=_segment_attributes,
            group=_segmentation_heading,
        )
    ]
    for entry in entries:
        figure = _targeting_figure(entry, outcome, setup.kinds.get(outcome, "continuous"))
        if figure:
            where = f"{entry.get('arm')}, {_segment_name(entry)}"
            parts.append(
                _image(
                    figure,
                    f"Qini and uplift curves, {where}",
                    f"{where}: left, incremental {outcome} when targeting the top share by "
                    f"{score} vs at random; right, the uplift among the customers targeted.",
                )
            )
    holdout = targeting.get("send_vs_holdout") or []
    for metric in dict.fromkeys(r["metric"] for r in holdout):
        rows = _sorted([r for r in holdout if r["metric"] == metric], setup)
        parts.append(f"<h3>Customers marked send: {_e(metric)}</h3>")
        parts.append(_results_table(rows, metric, setup, {}, css="send-vs-holdout"))
    return _section(
        "targeting",
        "Targeting by the model",
        "".join(parts),
        intro=f"Customers ranked by {score}, judged on {outcome}. A Qini AUC above 0 means "
        "targeting the highest scores first gains more than picking customers at random.",
    )


def _qini_class(entry: Mapping) -> str:
    verdict = _qini_verdict(entry)
    return "pos" if verdict.startswith("above") else "neg" if verdict.startswith("below") else ""


def _kind_of(row: Mapping, setup: _Setup) -> str:
    return setup.kinds.get(row.get("metric"), "continuous")


def _power_section(rows: Sequence[Mapping], parameters: Mapping, setup: _Setup) -> str:
    columns = [
        _Column("Segment", False, _segment_cell),
        _Column("Arm", False, lambda r: str(r.get("arm"))),
        _Column("Customers (arm)", True, lambda r: format_count(r.get("n_arm"))),
        _Column("Customers (control)", True, lambda r: format_count(r.get("n_control"))),
        _Column("Baseline", True, lambda r: format_value(r.get("baseline"), _kind_of(r, setup))),
        _Column(
            "MDE",
            True,
            lambda r: format_lift(r.get("mde_abs"), _kind_of(r, setup)),
        ),
        _Column("MDE relative", True, lambda r: format_lift(r.get("mde_rel"), "relative")),
    ]
    return _section(
        "power",
        "Power: smallest detectable lift",
        _table(
            _sorted(rows, setup),
            columns,
            attributes={"class": "power", "id": "power-table"},
            row_attributes=_segment_attributes,
            group=_metric_heading,
        )
        if rows
        else '<p class="empty">No power calculation in these results.</p>',
        intro="The minimum detectable effect (MDE): the smallest lift each comparison would "
        f"find {float(parameters.get('mde_power') or 0.8):.0%} of the time at "
        f"α = {setup.alpha:g}, in percentage points for a rate. A segment whose MDE is larger "
        "than any plausible effect cannot show one.",
    )


def _roi_section(rows: Sequence[Mapping], parameters: Mapping, setup: _Setup) -> str:
    columns = [
        _Column("Segment", False, _segment_cell),
        _Column("Arm", False, lambda r: str(r.get("arm"))),
        _Column("Customers e-mailed", True, lambda r: format_count(r.get("n_arm"))),
        _Column(
            "Incremental revenue",
            True,
            lambda r: (
                format_lift(r.get("incremental_revenue"), "continuous"),
                _sign(r.get("incremental_revenue")),
            ),
        ),
        _Column("Cost", True, lambda r: format_value(r.get("cost"), "continuous")),
        _Column("ROI", True, lambda r: (format_roi(r.get("roi_pct")), _sign(r.get("roi_pct")))),
    ]
    revenue = parameters.get("revenue_outcome")
    cost = format_value(parameters.get("cost_per_send"), "continuous")
    return _section(
        "roi",
        "Return on investment",
        _table(
            _sorted(rows, setup),
            columns,
            attributes={"class": "roi", "id": "roi-table"},
            row_attributes=_segment_attributes,
            group=_segmentation_heading,
        )
        if rows
        else '<p class="empty">No ROI in these results (no revenue outcome was named).</p>',
        intro=f"Incremental revenue ({revenue or 'no revenue outcome'}) is the lift per customer "
        f"times the customers e-mailed; the cost is {cost} per e-mail. "
        "ROI = (incremental revenue − cost) / cost.",
    )


def _cuped_section(rows: Sequence[Mapping], setup: _Setup) -> str:
    columns = [
        _Column("Segment", False, _segment_cell),
        _Column("Covariate", False, lambda r: str(r.get("covariate"))),
        _Column("θ", True, lambda r: format_float(r.get("theta"))),
        _Column("Variance reduction", True, lambda r: format_share(r.get("variance_reduction"))),
    ]
    return _section(
        "cuped",
        "CUPED diagnostics",
        _table(
            _sorted(rows, setup),
            columns,
            attributes={"class": "cuped", "id": "cuped-table"},
            row_attributes=_segment_attributes,
            group=_metric_heading,
        )
        if rows
        else '<p class="empty">No CUPED adjustment in these results.</p>',
        intro="θ is the weight of the pre-period covariate subtracted from each outcome; the "
        "variance reduction is how much narrower that makes the comparison (0% means no gain).",
    )


def _skipped_section(rows: Sequence[Mapping], setup: _Setup) -> str:
    columns = [
        _Column("Segment", False, _segment_cell),
        _Column("Arm", False, lambda r: str(r.get("arm"))),
        _Column("Customers (arm)", True, lambda r: format_count(r.get("n_arm"))),
        _Column("Customers (control)", True, lambda r: format_count(r.get("n_control"))),
        _Column("Reason", False, lambda r: str(r.get("reason"))),
    ]
    return _section(
        "skipped",
        "Skipped comparisons",
        _table(
            _sorted(rows, setup),
            columns,
            attributes={"class": "skipped", "id": "skipped-table"},
            row_attributes=_segment_attributes,
            group=_metric_heading,
        )
        if rows
        else '<p class="empty">Every comparison was tested.</p>',
        intro="Comparisons the analysis did not test, and why. No conclusion can be drawn "
        "about these segments.",
    )


def _counts_caption(counts: Mapping) -> str:
    """``64,012 customers in the experiment; 12 without an arm, left out of every test.``"""
    parts = [f"{format_count(counts.get('customers'))} customers in the experiment"]
    if counts.get("without_arm"):
        parts.append(
            f"{format_count(counts['without_arm'])} without an arm, left out of every test"
        )
    known = {"customers", "per_arm", "missing_outcomes", "without_arm"}
    parts += [
        f"{key.replace('_', ' ')}: {format_count(value)}"
        for key, value in counts.items()
        if key not in known and (is_missing(value) or isinstance(value, int | float))
    ]
    return "; ".join(parts) + "."


def _data_section(counts: Mapping, parameters: Mapping, notes: Sequence[str]) -> str:
    per_arm = counts.get("per_arm") or {}
    planned = parameters.get("planned_split") or {}
    total = sum(float(n) for n in per_arm.values() if not is_missing(n)) or math.nan
    arms = [
        {"arm": arm, "n": n, "share": math.nan if is_missing(n) else float(n) / total}
        for arm, n in per_arm.items()
    ]
    arm_table = _table(
        arms,
        [
            _Column("Arm", False, lambda r: r["arm"]),
            _Column("Customers", True, lambda r: format_count(r["n"])),
            _Column("Share", True, lambda r: format_share(r["share"])),
            _Column("Planned share", True, lambda r: format_share(planned.get(r["arm"]))),
        ],
        attributes={"class": "counts", "id": "counts-table"},
        row_attributes=lambda r: {"data-arm": r["arm"]},
        caption=_counts_caption(counts),
    )
    missing = counts.get("missing_outcomes") or []
    missing_table = (
        _table(
            missing,
            [
                _Column("Outcome", False, lambda r: str(r.get("metric"))),
                _Column("Arm", False, lambda r: str(r.get("arm"))),
                _Column(
                    "Customers without a value", True, lambda r: format_count(r.get("n_missing"))
                ),
            ],
            attributes={"class": "missing", "id": "missing-table"},
            row_attributes=lambda r: {"data-metric": r.get("metric"), "data-arm": r.get("arm")},
            caption="Missing outcome values (left out of that outcome's tests).",
        )
        if missing
        else '<p class="empty">No outcome value is missing.</p>'
    )
    notes_html = (
        '<h3>Notes from the analysis</h3><ul class="notes">'
        + "".join(f"<li>{_e(note)}</li>" for note in notes)
        + "</ul>"
        if notes
        else ""
    )
    return _section("data", "Data", arm_table + missing_table + notes_html)


def _srm_section(srm: Sequence[Mapping], setup: _Setup) -> str:
    arms = list(setup.arms)
    for entry in srm:
        arms += [a for a in (entry.get("observed") or {}) if a not in arms]
    columns = [
        _Column("Segment", False, _segment_cell),
        _Column("p", True, lambda r: format_p(r.get("p_value"))),
        _Column("Mismatch", False, lambda r: ("yes", "neg") if r.get("flagged") else "no"),
    ]
    columns += [
        _Column(f"{arm}: observed / expected", True, lambda r, a=arm: _observed_expected(r, a))
        for arm in arms
    ]
    return _section(
        "srm",
        "Sample ratio per segment",
        _table(
            _sorted(srm, setup),
            columns,
            attributes={"class": "srm", "id": "srm-table"},
            row_attributes=lambda r: {
                **_segment_attributes(r),
                "class": "flagged" if r.get("flagged") else "",
            },
            group=_segmentation_heading,
        )
        if srm
        else '<p class="empty">No sample-ratio check in these results.</p>',
        intro="Customers per arm against the planned split. A mismatch in one segment only "
        "can mean the segment column was measured after the e-mail.",
    )


def _observed_expected(entry: Mapping, arm: str) -> str:
    """``21,306 / 21,333.3``: customers of ``arm`` in an SRM entry and how many were planned."""
    observed = (entry.get("observed") or {}).get(arm)
    expected = (entry.get("expected") or {}).get(arm)
    return f"{format_count(observed)} / {format_count(expected)}"


def _parameter_text(value: Any) -> str:
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_parameter_text(v)}" for k, v in value.items()) or DASH
    if isinstance(value, list | tuple):
        return ", ".join(_parameter_text(v) for v in value) or DASH
    if isinstance(value, bool) or is_missing(value):
        return DASH if is_missing(value) else str(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _parameters_section(parameters: Mapping) -> str:
    rows = [{"name": k, "value": v} for k, v in parameters.items()]
    return _section(
        "parameters",
        "Parameters",
        _table(
            rows,
            [
                _Column("Parameter", False, lambda r: r["name"]),
                _Column("Value", False, lambda r: _parameter_text(r["value"])),
            ],
            attributes={"class": "parameters", "id": "parameters-table"},
            row_attributes=lambda r: {"data-name": r["name"]},
        ),
        intro="Everything the analysis was run with, to reproduce it.",
    )


_HOW_TO_READ = (
    (
        "Lift",
        "The difference between an e-mailed arm and the control: for a rate such as "
        "conversion in percentage points (pp; 0.57% → 1.25% is +0.68 pp), for an amount in its "
        "units per customer. The relative lift is the same difference as a share of the control.",
    ),
    (
        "95% confidence interval (CI)",
        "The range of lifts compatible with the data. If it does not include 0, the effect is "
        "unlikely to be chance; the narrower it is, the more precise the estimate.",
    ),
    (
        "p-value and adjusted p-value",
        "How surprising the observed lift would be if the e-mail had no effect. Looking at "
        "many segments makes some look good by luck; the adjusted p-value corrects for that, "
        "and ★ marks lifts that stay significant after the correction.",
    ),
    (
        "Sample ratio mismatch (SRM)",
        "A check that each arm holds the share of customers it was planned to. A mismatch "
        "means the assignment or the data is broken, and the lifts are not trustworthy.",
    ),
    (
        "CUPED",
        "A variance reduction: subtracting what each customer's pre-experiment behaviour "
        "predicts narrows the interval without moving the lift on average. CUPED rows sit "
        "under the test they refine.",
    ),
    (
        "Bootstrap",
        "A second interval for amounts such as revenue, from resampling customers; it does not "
        "assume a normal distribution and is more robust to a few big spenders.",
    ),
    (
        "MDE (minimum detectable effect)",
        "The smallest lift a comparison had a good chance (80%) to detect. A non-significant "
        "result in a segment with a large MDE means 'too small to tell', not 'no effect'.",
    ),
    (
        "Qini curve and AUC",
        "How much more outcome a campaign gets by e-mailing the customers the model ranks "
        "highest instead of random ones. The area between the model's curve and the random "
        "line (Qini AUC) above 0, with its CI, means the model's targeting helps.",
    ),
    ("—", "A number that could not be computed, e.g. a relative lift over a zero baseline."),
)


def _how_to_read() -> str:
    items = "".join(f"<dt>{_e(term)}</dt><dd>{_e(text)}</dd>" for term, text in _HOW_TO_READ)
    return _section("how-to-read", "How to read this report", f'<dl class="glossary">{items}</dl>')


_CSS = """
:root { --pos: #1a7f37; --neg: #cf222e; --ink: #1f2328; --muted: #59636e; --line: #d1d9e0;
  --head: #f6f8fa; --accent: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.5; font-size: 15px;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1280px; margin: 0 auto; padding: 24px 24px 64px; }
h1 { font-size: 28px; margin: 0 0 6px; letter-spacing: -0.01em; }
h2 { font-size: 21px; margin: 40px 0 8px; padding-bottom: 6px;
  border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 20px 0 6px; }
.meta { display: flex; flex-wrap: wrap; gap: 4px 24px; margin: 0; color: var(--muted);
  font-size: 13px; }
.meta div { display: flex; gap: 6px; } .meta dt { font-weight: 600; } .meta dd { margin: 0; }
.toc { display: flex; flex-wrap: wrap; gap: 6px 14px; margin: 16px 0 0; font-size: 13px; }
.toc a { color: var(--accent); text-decoration: none; } .toc a:hover { text-decoration: underline; }
#srm-banner { margin: 18px 0 0; border-radius: 8px; }
#srm-banner.flagged { padding: 16px 20px; background: #ffebe9; border: 3px solid var(--neg);
  color: #82071e; }
#srm-banner.flagged .headline { font-size: 19px; font-weight: 700; margin: 0 0 8px; }
#srm-banner.flagged p, #srm-banner.flagged ul { margin: 4px 0; }
#srm-banner.ok { display: inline-block; padding: 4px 12px; background: #dafbe1; color: #116329;
  font-size: 13px; border: 1px solid #aceebb; }
#srm-banner.none { display: inline-block; padding: 4px 12px; background: var(--head);
  color: var(--muted); font-size: 13px; }
.lede { font-size: 15px; color: var(--muted); margin: 4px 0 12px; }
.intro { color: var(--muted); margin: 0 0 12px; max-width: 80ch; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 16px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 4px 18px 8px;
  background: #fcfdfe; }
.card h3 { margin-top: 12px; font-size: 17px; }
.card > ul { padding-left: 18px; } .card > ul > li { margin-bottom: 10px; }
ul.segments { padding-left: 18px; margin: 4px 0 0; color: var(--muted); font-size: 14px; }
.badge { display: inline-block; font-size: 12px; padding: 0 8px; border-radius: 10px;
  white-space: nowrap; vertical-align: 1px; }
.badge.sig { background: #dafbe1; color: #116329; }
.badge.ns { background: #eff2f5; color: var(--muted); }
.pos { color: var(--pos); } .neg { color: var(--neg); }
.table-wrap { overflow: auto; max-height: 80vh; width: fit-content; max-width: 100%;
  border: 1px solid var(--line); border-radius: 6px; margin: 8px 0 20px; }
table { border-collapse: separate; border-spacing: 0; font-size: 13px; }
caption { caption-side: top; text-align: left; padding: 8px 10px; color: var(--muted);
  font-size: 13px; }
th, td { padding: 5px 9px; border-bottom: 1px solid #eaeef2; text-align: left;
  vertical-align: top; }
thead th { position: sticky; top: 0; z-index: 1; background: var(--head); font-weight: 600;
  border-bottom: 1px solid var(--line); vertical-align: bottom; }
tr.group th { background: #fbfcfd; color: var(--muted); font-weight: 600; font-size: 12px;
  text-transform: uppercase; letter-spacing: 0.04em; padding-top: 10px; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:hover td { background: #f6f8fa; }
tr.sig td.pos, tr.sig td.neg { font-weight: 650; }
tr.variant td { color: var(--muted); font-size: 12px; }
tr.variant td:nth-child(3) { padding-left: 20px; }
tr.variant td.pos { color: var(--pos); } tr.variant td.neg { color: var(--neg); }
tr.flagged td { background: #fff1f0; }
.note { display: block; font-size: 11px; color: var(--muted); font-weight: 400; }
.ci { color: var(--muted); font-weight: 400; font-size: 12px; white-space: nowrap; }
td.breakable, th.num { white-space: normal; }
table.results td:first-child, table.send-vs-holdout td:first-child { min-width: 8em; }
.nowrap { white-space: nowrap; }
.star { color: #9a6700; font-size: 14px; }
figure { margin: 8px 0 20px; } figure img { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 13px; color: var(--muted); margin-top: 4px; max-width: 90ch; }
.empty { color: var(--muted); font-style: italic; }
.glossary dt { font-weight: 600; margin-top: 10px; }
.glossary dd { margin: 2px 0 0 0; max-width: 85ch; }
footer { margin-top: 48px; color: var(--muted); font-size: 12px; }
a { color: var(--accent); }
@media print { .table-wrap { max-height: none; overflow: visible; } thead th { position: static; } }
"""

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


# --- public API ------------------------------------------------------------------------------


def render_report(payload: dict, *, title: str | None = None) -> str:
    """The HTML report of an experiment analysis, as one self-contained page.

    Parameters
    ----------
    payload : dict
        What the analysis writes to ``results.json``: ``parameters``, ``counts``,
        ``srm``, ``results`` (tidy rows with the keys of :data:`RESULT_KEYS`),
        ``skipped``, ``power``, ``cuped``, ``roi`` and ``targeting`` (None when no
        audience was attached). Sections other than the first three may be absent.
        Numbers may be NaN or None.
    title : str, optional
        Page title; ``Experiment report — <campaign or source>`` by default.

    Returns
    -------
    str
        The HTML text: embedded CSS and PNG figures, no script, no external resource.

    Raises
    ------
    ReportPayloadError
        The payload lacks a required section, parameter or result column; every
        problem is listed.
    """
    problems = _payload_problems(payload)
    if problems:
        raise ReportPayloadError(
            f"The report payload has {len(problems)} problem(s): {'; '.join(problems)}. "
            "Expected the dict the analysis writes to results.json."
        )
    setup = _setup(payload)
    parameters = payload["parameters"]
    name = parameters.get("campaign") or parameters.get("source") or "experiment"
    title = title if title is not None else f"Experiment report — {name}"
    cuped_index = {
        (c.get("metric"), str(c.get("segment_by")), str(c.get("segment"))): c
        for c in payload.get("cuped") or []
    }
    targeting = payload.get("targeting")
    outcome_sections = [_outcome_section(payload, m, setup, cuped_index) for m in setup.outcomes]
    sections = [
        ("summary", "Summary"),
        *((f"outcome-{_slug(m)}", m) for m in setup.outcomes),
        *([("targeting", "Targeting")] if targeting else []),
        ("roi", "ROI"),
        ("power", "Power"),
        ("cuped", "CUPED"),
        ("skipped", "Skipped"),
        ("data", "Data"),
        ("srm", "SRM"),
        ("parameters", "Parameters"),
        ("how-to-read", "How to read"),
    ]
    body = [
        _header(payload, title),
        _srm_banner(payload.get("srm") or []),
        _nav(sections),
        _summary(payload, setup),
        *outcome_sections,
        _targeting_section(targeting, setup) if targeting else "",
        _roi_section(payload.get("roi") or [], parameters, setup),
        _power_section(payload.get("power") or [], parameters, setup),
        _cuped_section(payload.get("cuped") or [], setup),
        _skipped_section(payload.get("skipped") or [], setup),
        _data_section(payload["counts"], parameters, payload.get("notes") or []),
        _srm_section(payload.get("srm") or [], setup),
        _parameters_section(parameters),
        _how_to_read(),
        f"<footer>upseg {_e(parameters.get('code_version', ''))} · "
        f"{_e(parameters.get('generated_at', ''))}</footer>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        f'<title>{_e(title)}</title><link rel="icon" href="data:,">'
        f"<style>{_CSS}</style></head>\n<body><main>{''.join(body)}</main></body></html>\n"
    )


def write_report(payload: dict, path: Path, *, title: str | None = None) -> Path:
    """Render the report and write it to ``path`` atomically.

    The page is written to a temporary file in the same folder and renamed over
    ``path``, so a reader sees the old report or the new one, never half of one.

    Parameters
    ----------
    payload : dict
        See :func:`render_report`.
    path : Path
        The HTML file to create or replace; its folder is created if needed.
    title : str, optional
        See :func:`render_report`.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    text = render_report(payload, title=title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
