"""The targeting section: how well the audience's score ranks customers (Qini), and whether
its predicted uplift is on the scale of the lift the campaign realised."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

from upseg.experiments.report._figures import (
    _ARM_COLOURS,
    _figure,
    _floats,
    _image,
    _label,
    _targeting_figure,
)
from upseg.experiments.report._html import (
    _Cell,
    _Column,
    _e,
    _section,
    _segment_attributes,
    _segment_cell,
    _segmentation_heading,
    _table,
)
from upseg.experiments.report._outcomes import _results_table
from upseg.experiments.report.format import (
    DASH,
    format_ci,
    format_count,
    format_float,
    format_lift,
    format_value,
    number_or_none,
)
from upseg.experiments.report.payload import _segment_name, _Setup, _sorted


def _qini_ci(entry: Mapping) -> str:
    low, high = entry.get("qini_auc_ci_low"), entry.get("qini_auc_ci_high")
    return f"[{format_float(low)}, {format_float(high)}]"


def _qini_verdict(entry: Mapping) -> str:
    low = number_or_none(entry.get("qini_auc_ci_low"))
    high = number_or_none(entry.get("qini_auc_ci_high"))
    if low is None or high is None:
        return "no confidence interval"
    if low > 0:
        return "above 0: the model beat random targeting"
    if high < 0:
        return "below 0: the model did worse than random targeting"
    return "includes 0: no evidence the model beats random targeting"


def _qini_class(entry: Mapping) -> str:
    verdict = _qini_verdict(entry)
    return "pos" if verdict.startswith("above") else "neg" if verdict.startswith("below") else ""


def _qini_sentence(entry: Mapping, score: str) -> str:
    ci = _qini_ci(entry)
    return (
        f"<strong>{_e(entry.get('arm'))}</strong>, {_e(_segment_name(entry))} "
        f"(n = {_e(format_count(entry.get('n')))}): targeting by {_e(score)} has Qini AUC "
        f"{_e(format_float(entry.get('qini_auc')))}, 95% CI {_e(ci)} — "
        f'<span class="{_qini_class(entry)}">{_e(_qini_verdict(entry))}</span>.'
    )


def _level(block: Mapping) -> str:
    """``95% CI`` for the block's ``alpha``."""
    alpha = number_or_none(block.get("alpha"))
    return f"{100 * (1 - (0.05 if alpha is None else alpha)):g}% CI"


def _times(value: object) -> str:
    return f"{format_float(value)}×"


def _scale_verdict(total: Mapping, subject: str, level: str) -> tuple[str, str]:
    """How the predicted total compares with the realised one, in words, and its CSS class."""
    low, high = (
        number_or_none(total.get("realised_ci_low")),
        number_or_none(total.get("realised_ci_high")),
    )
    if low is None or high is None:
        return "no interval to compare the prediction with", ""
    if total.get("on_scale"):
        return f"on scale: the prediction lies within the realised {level}", "pos"
    if high <= 0:
        return "the campaign realised nothing incremental: the prediction is not on scale", "neg"
    ratio, ratio_low = total.get("ratio"), total.get("ratio_ci_low")
    if number_or_none(ratio) is None:  # realised at most 0, its interval reaching above
        return f"{subject} is at least {_times(ratio_low)} the realised", "neg"
    bounds = (
        f"{level} {_times(ratio_low)} to {_times(total.get('ratio_ci_high'))}"
        if number_or_none(total.get("ratio_ci_high")) is not None
        else f"at least {_times(ratio_low)}"
    )
    return f"{subject} is {_times(ratio)} the realised ({bounds})", "neg"


def _total_sentence(entry: Mapping, total: Mapping, label: str, subject: str, level: str) -> str:
    """``Mens E-Mail, incremental conversion: predicted …, realised … — verdict.``"""
    verdict, css = _scale_verdict(total, subject, level)
    show = format_count if label != "value" else lambda v: format_value(v, "continuous")
    ci = f"[{show(total.get('realised_ci_low'))}, {show(total.get('realised_ci_high'))}]"
    of = f" ({total['outcome']})" if "outcome" in total else ""
    return (
        f"<p><strong>{_e(entry.get('arm'))}</strong>, incremental {_e(label + of)} over the "
        f"{_e(format_count(total.get('n_arm')))} treated customers: predicted "
        f"{_e(show(total.get('predicted')))}, realised {_e(show(total.get('realised')))} "
        f'({_e(level)} {_e(ci)}) — <span class="{css}">{_e(verdict)}</span>.</p>'
    )


def _slope_sentence(entry: Mapping, level: str) -> str:
    calibration = entry.get("calibration") or {}
    if "reason" in calibration:
        reason = _e(calibration["reason"])
        return f"<p>Calibration slope of {_e(entry.get('arm'))}: none, {reason}.</p>"
    ci = f"[{format_float(calibration.get('slope_ci_low'))}, "
    ci += f"{format_float(calibration.get('slope_ci_high'))}]"
    return (
        f"<p>Calibration slope of {_e(entry.get('arm'))}: "
        f"{_e(format_float(calibration.get('slope')))} ({_e(level)} {_e(ci)}; 1 = the realised "
        "effect rises one for one with the predicted uplift, below 1 = the predictions spread "
        "too wide, 0 = they carry no information).</p>"
    )


def _covers_cell(row: Mapping) -> _Cell:
    """Whether the decile's realised interval holds its mean prediction."""
    covers = row.get("covers")
    return DASH if covers is None else ("yes", "pos") if covers else ("no", "neg")


def _decile_table(entry: Mapping, kind: str, level: str) -> str:
    columns = [
        _Column("Decile", True, lambda r: str(r.get("decile"))),
        _Column("Treated", True, lambda r: format_count(r.get("n_arm"))),
        _Column("Control", True, lambda r: format_count(r.get("n_control"))),
        _Column("Predicted uplift", True, lambda r: format_lift(r.get("predicted"), kind)),
        _Column("Realised lift", True, lambda r: format_lift(r.get("realised"), kind)),
        _Column(
            level,
            True,
            lambda r: format_ci(r.get("realised_ci_low"), r.get("realised_ci_high"), kind),
        ),
        _Column(
            "Prediction in CI",
            False,
            _covers_cell,
        ),
    ]
    unit = "percentage points" if kind == "binary" else "per customer"
    return _table(
        entry.get("deciles") or [],
        columns,
        attributes={"class": "predicted-vs-realised", "data-arm": entry.get("arm")},
        row_attributes=lambda r: {"data-decile": r.get("decile")},
        caption=f"{entry.get('arm')}: decile 1 holds the highest predicted uplift ({unit}).",
    )


def _calibration_figure(entries: Sequence[Mapping], kind: str, level: str) -> Figure | None:
    """Realised lift per decile (with its interval) against the predicted, and the diagonal."""
    entries = [e for e in entries if e.get("deciles")]
    if not entries:
        return None
    scale = 100.0 if kind == "binary" else 1.0
    figure = _figure(6.4, 4.2)
    ax = figure.subplots()
    seen: list[float] = []
    for i, entry in enumerate(entries):
        deciles = entry["deciles"]
        x = [v * scale for v in _floats(d.get("predicted") for d in deciles)]
        y = [v * scale for v in _floats(d.get("realised") for d in deciles)]
        low = _floats(d.get("realised_ci_low") for d in deciles)
        high = _floats(d.get("realised_ci_high") for d in deciles)
        below = [
            0.0 if math.isnan(lo) else max(v - lo * scale, 0.0)
            for v, lo in zip(y, low, strict=True)
        ]
        above = [
            0.0 if math.isnan(hi) else max(hi * scale - v, 0.0)
            for v, hi in zip(y, high, strict=True)
        ]
        colour = _ARM_COLOURS[i % len(_ARM_COLOURS)]
        ax.errorbar(
            x,
            y,
            yerr=[below, above],
            fmt="o",
            color=colour,
            capsize=3,
            markersize=5,
            label=_label(str(entry.get("arm"))),
        )
        seen += [v for v in x + y if not math.isnan(v)]
    low_end, high_end = min([0.0, *seen]), max([0.0, *seen])
    ax.plot(
        [low_end, high_end], [low_end, high_end], color="0.45", linestyle="--", label="on scale"
    )
    ax.axhline(0, color="0.25", linewidth=0.7)
    unit = " (percentage points)" if kind == "binary" else ""
    ax.set(xlabel=f"Predicted uplift{unit}", ylabel=f"Realised lift{unit}, {level}")
    ax.grid(color="0.92")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(fontsize="small", loc="best")
    return figure


def _calibration_parts(block: Mapping | None, setup: _Setup) -> list[str]:
    """Heading, sentences, tables and figure of the predicted-vs-realised block."""
    if not block:
        return []
    outcome = str(block.get("outcome"))
    kind, level = setup.kinds.get(outcome, "binary"), _level(block)
    parts = [f"<h3>Predicted vs realised uplift: {_e(outcome)}</h3>"]
    entries = block.get("arms") or []
    judged = [e for e in entries if "reason" not in e]
    for entry in entries:
        if "reason" in entry:
            parts.append(
                f"<p><strong>{_e(entry.get('arm'))}</strong>: not judged, "
                f"{_e(entry['reason'])}.</p>"
            )
            continue
        for key, label, subject in (
            ("conversions", outcome, "the model's predicted uplift"),
            ("value", "value", "the predicted value"),
        ):
            total = entry.get(key) or {}
            if "reason" not in total:
                parts.append(_total_sentence(entry, total, label, subject, level))
        parts.append(_slope_sentence(entry, level))
        parts.append(_decile_table(entry, kind, level))
    figure = _calibration_figure(judged, kind, level)
    if figure:
        parts.append(
            _image(
                figure,
                f"Predicted vs realised uplift per decile, {outcome}",
                f"Each point is a decile of predicted uplift: its mean prediction (x) and the lift "
                f"the campaign realised on it (y, {level}). On the dashed line the predictions "
                "are on scale; below it they are too large.",
            )
        )
    return parts


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
    parts.extend(_calibration_parts(targeting.get("predicted_vs_realised"), setup))
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
        "targeting the highest scores first gains more than picking customers at random; "
        "predicted vs realised says whether the predicted uplift is the size of the lift the "
        "campaign realised.",
    )
