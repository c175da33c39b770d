"""The figures: matplotlib on an Agg canvas, inlined as PNG ``data:`` URIs."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from upseg.experiments.report._html import _e
from upseg.experiments.report.format import format_float, is_missing
from upseg.experiments.report.payload import _primary, _rank, _segment_name, _Setup, _significant

_ARM_COLOURS = ("#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#57606a")
_DPI = 110
_MAX_LABEL = 42


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
