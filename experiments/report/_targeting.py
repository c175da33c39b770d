"""The targeting section: how well the audience's score ranks customers (Qini)."""

from __future__ import annotations

from collections.abc import Mapping

from upseg.experiments.report._figures import _image, _targeting_figure
from upseg.experiments.report._html import (
    _Column,
    _e,
    _section,
    _segment_attributes,
    _segment_cell,
    _segmentation_heading,
    _table,
)
from upseg.experiments.report._outcomes import _results_table
from upseg.experiments.report.format import format_count, format_float, number_or_none
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
