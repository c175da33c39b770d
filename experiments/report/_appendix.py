"""The sections after the outcomes: ROI, power, CUPED, skipped tests, data, SRM, parameters."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from upseg.experiments.report._html import (
    _Column,
    _e,
    _metric_heading,
    _section,
    _segment_attributes,
    _segment_cell,
    _segmentation_heading,
    _sign,
    _table,
)
from upseg.experiments.report.format import (
    DASH,
    format_count,
    format_float,
    format_lift,
    format_p,
    format_roi,
    format_share,
    format_value,
    is_missing,
)
from upseg.experiments.report.payload import _Setup, _sorted


def _kind_of(row: Mapping, setup: _Setup) -> str:
    metric = row.get("metric")
    return "continuous" if metric is None else setup.kinds.get(metric, "continuous")


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
        _Column(f"{arm}: observed / expected", True, partial(_observed_expected, arm=arm))
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
