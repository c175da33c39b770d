"""The top of the page: header, sample-ratio banner, contents and the executive summary."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from upseg.experiments.report._html import _e, _section, _sign
from upseg.experiments.report._targeting import _qini_sentence
from upseg.experiments.report.format import (
    _p_phrase,
    format_count,
    format_lift,
    format_roi,
    format_value,
    is_missing,
)
from upseg.experiments.report.payload import (
    _OVERALL,
    _after,
    _primary,
    _segment_name,
    _Setup,
    _significant,
)


def _source_text(source: object) -> object:
    """``table /path · rows 64,000 · treatment segment`` from the source mapping."""
    if not isinstance(source, Mapping):
        return source
    return " · ".join(
        f"{key} {format_count(value) if isinstance(value, int) else value}"
        for key, value in source.items()
    )


def _header(payload: Mapping, title: str) -> str:
    parameters = payload["parameters"]
    facts = [
        ("Generated", parameters.get("generated_at")),
        ("Code version", parameters.get("code_version")),
        ("Source", _source_text(parameters.get("source"))),
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
