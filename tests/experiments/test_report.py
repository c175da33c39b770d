"""The HTML report: self-contained, every number of the results shown as formatted, escaped."""

from __future__ import annotations

import base64
import copy
import json
import math
import os
import re
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.experiments._payload import ARMS, SCRIPT_SEGMENT, example_payload
from upseg.experiments.report import (
    DASH,
    ReportPayloadError,
    format_ci,
    format_count,
    format_float,
    format_lift,
    format_p,
    format_roi,
    format_share,
    format_value,
    render_report,
    write_report,
)

KINDS = {"conversion": "binary", "revenue": "continuous"}


@dataclass
class Row:
    attrs: dict[str, str]
    cells: list[str] = field(default_factory=list)


@dataclass
class Table:
    attrs: dict[str, str]
    rows: list[Row] = field(default_factory=list)

    def find(self, **wanted: object) -> list[Row]:
        """Data rows whose ``data-*`` attributes equal ``wanted``, e.g. ``segment_by="overall"``."""
        keys = {f"data-{k.replace('_', '-')}": str(v) for k, v in wanted.items()}
        return [r for r in self.rows if all(r.attrs.get(k) == v for k, v in keys.items())]


class _Tables(HTMLParser):
    """Every ``<table>`` with its body rows and their cells' whitespace-collapsed text."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[Table] = []
        self._cell: list[str] | None = None
        self._in_body = False
        self._in_group = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "table":
            self.tables.append(Table(values))
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self._in_group = values.get("class") == "group"  # a segmentation heading
            if not self._in_group:
                self.tables[-1].rows.append(Row(values))
        elif tag in ("td", "th") and self._in_body and not self._in_group:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1].rows[-1].cells.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tbody":
            self._in_body = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables(html: str, css: str) -> list[Table]:
    parser = _Tables()
    parser.feed(html)
    return [t for t in parser.tables if css in t.attrs.get("class", "").split()]


def one_table(html: str, css: str, **attrs: str) -> Table:
    found = [t for t in tables(html, css) if all(t.attrs.get(k) == v for k, v in attrs.items())]
    assert len(found) == 1, f"expected one table.{css} with {attrs}; found {len(found)}"
    return found[0]


def text_of(html: str) -> str:
    """The visible text, tags removed and whitespace collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", "", html)).split())


def with_none(value: object) -> object:
    """``value`` as after a JSON round trip: NaN becomes None."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: with_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [with_none(v) for v in value]
    return value


def lift_cell(value: object, low: object, high: object, kind: str) -> str:
    ci = format_ci(low, high, kind)
    return format_lift(value, kind) + ("" if ci == DASH else f" {ci}")


def expected_result_cells(row: dict, kind: str) -> list[str]:
    """The numeric cells of a results row, from customers (arm) to the adjusted p-value."""
    return [
        format_count(row["n_arm"]),
        format_count(row["n_control"]),
        format_value(row["mean_control"], kind),
        format_value(row["mean_arm"], kind),
        lift_cell(row["abs_lift"], row["abs_lift_ci_low"], row["abs_lift_ci_high"], kind),
        lift_cell(row["rel_lift"], row["rel_lift_ci_low"], row["rel_lift_ci_high"], "relative"),
        format_p(row["p_value"]),
        format_p(row["p_value_adjusted"]),
    ]


def assert_result_rows(table: Table, rows: list[dict], kind: str, alpha: float) -> None:
    assert len(table.rows) == len(rows)
    for row in rows:
        key = {k: row[k] for k in ("segment_by", "segment", "arm", "method")}
        [shown] = table.find(**key, control=row["control"])
        assert shown.cells[3:11] == expected_result_cells(row, kind), key
        adjusted = row["p_value_adjusted"]
        significant = adjusted is not None and not math.isnan(adjusted) and adjusted < alpha
        assert shown.cells[11] == ("★" if significant else ""), key


@pytest.fixture(scope="module")
def payload() -> dict:
    return example_payload()


@pytest.fixture(scope="module")
def html(payload: dict) -> str:
    return render_report(payload)


# --- formatting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("formatted", "expected"),
    [
        (format_p(0.0004), "<0.001"),
        (format_p(0.001), "0.00100"),
        (format_p(0.012345), "0.0123"),
        (format_p(0.5), "0.500"),
        (format_p(1.0), "1.00"),
        (format_value(0.00573, "binary"), "0.57%"),
        (format_value(1234.5678, "continuous"), "1,234.57"),
        (format_lift(0.0068, "binary"), "+0.68"),
        (format_lift(-0.0012, "binary"), "-0.12"),
        (format_lift(1.5, "continuous"), "+1.50"),
        (format_lift(1.1934, "relative"), "+119.3%"),
        (format_ci(0.0055, 0.0081, "binary"), "[+0.55, +0.81]"),
        (format_ci(-0.1, 0.25, "relative"), "[-10.0%, +25.0%]"),
        (format_count(21307), "21,307"),
        (format_count(21333.333), "21,333.3"),
        (format_count(12.0), "12"),
        (format_share(0.214), "21.4%"),
        (format_roi(641.28), "+641.3%"),
        (format_float(0.000412), "0.000412"),
        (format_float(12345.6), "12,346"),
        (format_lift(math.inf, "relative"), "+∞"),
    ],
)
def test_formatters(formatted: str, expected: str) -> None:
    assert formatted == expected


@pytest.mark.parametrize("missing", [None, math.nan])
@pytest.mark.parametrize(
    "formatter",
    [
        format_p,
        format_count,
        format_share,
        format_roi,
        format_float,
        lambda v: format_value(v, "binary"),
        lambda v: format_value(v, "continuous"),
        lambda v: format_lift(v, "binary"),
        lambda v: format_lift(v, "relative"),
        lambda v: format_ci(v, v, "continuous"),
    ],
)
def test_missing_numbers_are_a_dash(formatter, missing) -> None:
    assert formatter(missing) == DASH


# --- self-contained and escaped ---------------------------------------------------------------


def test_the_page_loads_nothing_from_outside(html: str) -> None:
    references = re.findall(r"""\b(?:src|href)\s*=\s*["']?([^"'\s>]*)""", html, flags=re.I)
    assert references, "the page has images and in-page links"
    assert all(r.startswith(("data:", "#")) for r in references), references
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html.lower()
    assert not re.search(r"<link[^>]+stylesheet", html, flags=re.I)
    assert "@import" not in html and "url(" not in html
    assert "default-src 'none'" in html  # the browser refuses anything external too


def test_every_figure_is_an_inline_png(html: str) -> None:
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 2 + 2 + 1  # lift per outcome, Qini per treated arm, predicted vs realised
    for data in images:
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"


def test_segment_values_and_title_are_escaped(payload: dict, html: str) -> None:
    assert SCRIPT_SEGMENT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    titled = render_report(payload, title='<b>Spring & "summer"</b>')
    assert "<title>&lt;b&gt;Spring &amp; &quot;summer&quot;&lt;/b&gt;</title>" in titled
    assert "<b>Spring" not in titled


def test_a_dollar_in_a_segment_does_not_break_the_figures(payload: dict) -> None:
    dollars = json.loads(json.dumps(payload).replace("Champions", "Spend > $100 $x$"))
    assert "Spend &gt; $100 $x$" in render_report(dollars)


def test_default_title_names_the_campaign_else_the_source(payload: dict, html: str) -> None:
    assert "<title>Experiment report — Hillstrom spring e-mail</title>" in html
    unnamed = copy.deepcopy(payload)
    unnamed["parameters"]["campaign"] = None
    assert "<h1>Experiment report — data/hillstrom.csv</h1>" in render_report(unnamed)


# --- every number of the results --------------------------------------------------------------


@pytest.mark.parametrize("metric", ["conversion", "revenue"])
def test_every_result_row_is_shown_with_its_numbers(payload: dict, html: str, metric: str) -> None:
    rows = [r for r in payload["results"] if r["metric"] == metric]
    table = one_table(html, "results", **{"data-metric": metric})
    assert_result_rows(table, rows, KINDS[metric], payload["parameters"]["alpha"])


def test_results_start_with_everybody_and_keep_cuped_under_its_test(html: str) -> None:
    table = one_table(html, "results", **{"data-metric": "revenue"})
    methods = [(r.attrs["data-segment-by"], r.attrs["data-method"]) for r in table.rows[:3]]
    assert methods == [("overall", "welch"), ("overall", "cuped_welch"), ("overall", "bootstrap")]
    assert table.rows[1].cells[2].startswith("↳ CUPED Welch t-test variance −21.4%")
    assert table.rows[2].cells[2] == "↳ bootstrap 2,000 resamples"
    assert table.rows[2].cells[8:10] == [DASH, DASH]  # a bootstrap has no p-value


def test_send_vs_holdout_rows_are_shown(payload: dict, html: str) -> None:
    for metric in ("conversion", "revenue"):
        rows = [r for r in payload["targeting"]["send_vs_holdout"] if r["metric"] == metric]
        table = one_table(html, "send-vs-holdout", **{"data-metric": metric})
        assert_result_rows(table, rows, KINDS[metric], payload["parameters"]["alpha"])


def test_qini_entries_are_shown(payload: dict, html: str) -> None:
    table = one_table(html, "qini")
    for entry in payload["targeting"]["qini"]:
        [row] = table.find(
            segment_by=entry["segment_by"], segment=entry["segment"], arm=entry["arm"]
        )
        low, high = entry["qini_auc_ci_low"], entry["qini_auc_ci_high"]
        assert row.cells[2:5] == [
            format_count(entry["n"]),
            format_float(entry["qini_auc"]),
            f"[{format_float(low)}, {format_float(high)}]",
        ]
    assert [r.cells[5] for r in table.rows] == [
        "above 0: the model beat random targeting",
        "includes 0: no evidence the model beats random targeting",
    ]


def test_predicted_vs_realised_deciles_and_verdicts_are_shown(payload: dict, html: str) -> None:
    block = payload["targeting"]["predicted_vs_realised"]
    for entry in block["arms"]:
        table = one_table(html, "predicted-vs-realised", **{"data-arm": entry["arm"]})
        assert len(table.rows) == len(entry["deciles"]) == 10
        for decile in entry["deciles"]:
            [row] = table.find(decile=decile["decile"])
            assert row.cells == [
                str(decile["decile"]),
                format_count(decile["n_arm"]),
                format_count(decile["n_control"]),
                format_lift(decile["predicted"], "binary"),
                format_lift(decile["realised"], "binary"),
                format_ci(decile["realised_ci_low"], decile["realised_ci_high"], "binary"),
                "yes" if decile["covers"] else "no",
            ]
    text = text_of(html)
    mens = block["arms"][0]["conversions"]
    assert (
        "Mens E-Mail, incremental conversion over the 21,307 treated customers: predicted "
        f"{format_count(mens['predicted'])}, realised {format_count(mens['realised'])} "
        f"(95% CI [{format_count(mens['realised_ci_low'])}, "
        f"{format_count(mens['realised_ci_high'])}]) — the model's predicted uplift is 2.5× "
        f"the realised (95% CI {format_float(mens['ratio_ci_low'])}× to "
        f"{format_float(mens['ratio_ci_high'])}×)."
    ) in text
    assert "Mens E-Mail, incremental value (revenue) over the 21,307 treated" in text
    assert "the predicted value is 2.395× the realised" in text
    assert "Calibration slope of Mens E-Mail: 0.4 (95% CI [0.1844, 0.6156];" in text
    assert (
        "Womens E-Mail, incremental conversion over the 21,387 treated customers: predicted "
        "513.3, realised 513.3 (95% CI [477.2, 549.4]) — on scale: the prediction lies within "
        "the realised 95% CI."
    ) in text
    assert "Womens E-Mail, incremental value" not in text  # its value has a reason instead


def test_predicted_vs_realised_says_why_an_arm_was_not_judged(payload: dict) -> None:
    changed = copy.deepcopy(payload)
    block = changed["targeting"]["predicted_vs_realised"]
    block["arms"][1] = {
        "arm": "Womens E-Mail",
        "control": ARMS[0],
        "score": "uplift_Womens E-Mail",
        "reason": "the audience has no uplift_Womens E-Mail column",
    }
    block["arms"][0]["calibration"] = {"reason": "every customer has the same predicted uplift"}
    block["arms"][0]["conversions"]["realised_ci_low"] = -10.0
    block["arms"][0]["conversions"]["ratio_ci_high"] = None
    html = render_report(with_none(changed))
    text = text_of(html)
    assert "Womens E-Mail: not judged, the audience has no uplift_Womens E-Mail column." in text
    assert [t.attrs["data-arm"] for t in tables(html, "predicted-vs-realised")] == ["Mens E-Mail"]
    assert "Calibration slope of Mens E-Mail: none, every customer has the same" in text
    assert "2.5× the realised (at least 2.126×)" in text


def test_power_roi_cuped_and_skipped_are_shown(payload: dict, html: str) -> None:
    power = one_table(html, "power")
    assert len(power.rows) == len(payload["power"])
    for p in payload["power"]:
        kind = KINDS[p["metric"]]
        [row] = power.find(
            metric=p["metric"], segment_by=p["segment_by"], segment=p["segment"], arm=p["arm"]
        )
        assert row.cells[2:] == [
            format_count(p["n_arm"]),
            format_count(p["n_control"]),
            format_value(p["baseline"], kind),
            format_lift(p["mde_abs"], kind),
            format_lift(p["mde_rel"], "relative"),
        ]
    roi = one_table(html, "roi")
    assert len(roi.rows) == len(payload["roi"])
    for r in payload["roi"]:
        [row] = roi.find(segment_by=r["segment_by"], segment=r["segment"], arm=r["arm"])
        assert row.cells[2:] == [
            format_count(r["n_arm"]),
            format_lift(r["incremental_revenue"], "continuous"),
            format_value(r["cost"], "continuous"),
            format_roi(r["roi_pct"]),
        ]
    cuped = one_table(html, "cuped")
    assert len(cuped.rows) == len(payload["cuped"])
    for c in payload["cuped"]:
        [row] = cuped.find(metric=c["metric"], segment_by=c["segment_by"], segment=c["segment"])
        assert row.cells[1:] == [
            c["covariate"],
            format_float(c["theta"]),
            format_share(c["variance_reduction"]),
        ]
    skipped = one_table(html, "skipped")
    assert len(skipped.rows) == len(payload["skipped"]) == 4
    for s in payload["skipped"]:
        [row] = skipped.find(metric=s["metric"], segment=s["segment"], arm=s["arm"])
        assert row.cells[2:] == [
            format_count(s["n_arm"]),
            format_count(s["n_control"]),
            s["reason"],
        ]
    assert "too few customers for a test (37 &lt; 100 per arm)" in html


def test_counts_missing_outcomes_srm_and_parameters_are_shown(payload: dict, html: str) -> None:
    counts = one_table(html, "counts")
    for arm, n in payload["counts"]["per_arm"].items():
        [row] = counts.find(arm=arm)
        assert row.cells[1] == format_count(n)
    assert "64,012 customers in the experiment; 12 without an arm" in html
    missing = one_table(html, "missing")
    for m in payload["counts"]["missing_outcomes"]:
        [row] = missing.find(metric=m["metric"], arm=m["arm"])
        assert row.cells[2] == format_count(m["n_missing"])
    srm = one_table(html, "srm")
    assert len(srm.rows) == len(payload["srm"])
    for entry in payload["srm"]:
        [row] = srm.find(segment_by=entry["segment_by"], segment=entry["segment"])
        shown = [
            f"{format_count(entry['observed'][a])} / {format_count(entry['expected'][a])}"
            for a in ARMS
        ]
        assert row.cells[1:] == [format_p(entry["p_value"]), "no", *shown]
    parameters = one_table(html, "parameters")
    assert [r.attrs["data-name"] for r in parameters.rows] == list(payload["parameters"])
    [alpha] = parameters.find(name="alpha")
    assert alpha.cells == ["alpha", "0.05"]
    assert "rfm_segment: Lapsed holds 111 customers" in html  # the analysis' notes


# --- missing numbers ----------------------------------------------------------------------------


def test_nan_and_none_render_the_same(payload: dict, html: str) -> None:
    after_json = with_none(payload)
    bootstrap = [r for r in after_json["results"] if r["method"] == "bootstrap"]
    assert bootstrap[0]["rel_lift"] is None
    assert render_report(after_json) == html


def test_json_round_trip_renders(payload: dict) -> None:
    text = json.dumps(with_none(payload), allow_nan=False)
    assert "Executive summary" in render_report(json.loads(text))


# --- the summary and the SRM banner -----------------------------------------------------------


def test_summary_says_the_overall_lift_in_words(payload: dict, html: str) -> None:
    [row] = [
        r
        for r in payload["results"]
        if (r["metric"], r["segment_by"], r["arm"], r["method"])
        == ("conversion", "overall", "Mens E-Mail", "z_test")
    ]
    summary = text_of(html[html.index('<section id="summary">') : html.index("</section>")])
    assert (
        f"Mens E-Mail raised conversion from {format_value(row['mean_control'], 'binary')} to "
        f"{format_value(row['mean_arm'], 'binary')} ({format_lift(row['abs_lift'], 'binary')} pp, "
        f"95% CI {format_lift(row['abs_lift_ci_low'], 'binary')} to "
        f"{format_lift(row['abs_lift_ci_high'], 'binary')} pp; "
        f"{format_lift(row['rel_lift'], 'relative')} relative), p < 0.001 (adjusted p < 0.001) "
        "significant after Benjamini–Hochberg"
    ) in summary
    assert "Strongest segment: rfm_segment = Champions" in summary
    assert "ROI +641.3%" in summary
    assert (
        "Qini AUC 0.0712, 95% CI [0.0215, 0.119] — above 0: the model beat random targeting"
        in summary
    )
    assert "4 comparisons were not tested" in summary


def test_summary_comes_first_after_the_banner(html: str) -> None:
    order = [
        html.index(marker)
        for marker in ('id="srm-banner"', 'id="summary"', 'id="outcome-conversion"')
    ]
    assert order == sorted(order)


def test_the_srm_banner_is_red_only_when_flagged(payload: dict, html: str) -> None:
    assert (
        '<div id="srm-banner" class="ok">Arm counts match the planned split (p = 0.871).</div>'
        in html
    )
    assert "Sample ratio mismatch:" not in html
    flagged = render_report(example_payload(flagged_srm=True))
    banner = text_of(
        flagged[
            flagged.index('id="srm-banner"') : flagged.index(
                "</div>", flagged.index('id="srm-banner"')
            )
        ]
    )
    assert 'class="flagged"' in flagged
    assert (
        "Sample ratio mismatch: the arm counts differ from the planned split (p < 0.001). No other "
        "number in this report can be trusted until the assignment is explained."
    ) in banner
    assert "No E-Mail 22,206 (expected 21,333.3)" in banner
    assert flagged.index('id="srm-banner"') < flagged.index('id="summary"')


def test_without_srm_checks_the_banner_says_so(payload: dict) -> None:
    unchecked = {**payload, "srm": []}
    assert '<div id="srm-banner" class="none">' in render_report(unchecked)


def test_without_targeting_there_is_no_targeting_section() -> None:
    html = render_report(example_payload(with_targeting=False))
    assert 'id="targeting"' not in html and "Qini" not in html.split('id="how-to-read"')[0]
    assert len(re.findall(r"<img ", html)) == 2


def test_a_minimal_payload_renders_every_section_empty() -> None:
    minimal = {
        "parameters": {"arms": ["c", "t"], "outcomes": ["y"], "alpha": 0.05, "correction": "holm"},
        "counts": {},
        "results": [],
    }
    html = render_report(minimal)
    assert "No comparison of this outcome was tested." in html
    assert "Every comparison was tested." in html
    assert '<div id="srm-banner" class="none">' in html
    assert "<img" not in html


def test_without_a_correction_significance_is_at_alpha(payload: dict) -> None:
    uncorrected = copy.deepcopy(payload)
    uncorrected["parameters"]["correction"] = "none"
    html = render_report(uncorrected)
    assert "significant at α = 0.05" in html and "Benjamini" not in html


# --- bad payloads -----------------------------------------------------------------------------


def _without(path: str) -> dict:
    payload = example_payload(with_targeting=False)
    *parents, last = path.split(".")
    node = payload
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    del node[last]
    return payload


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("results.json", r"1 problem\(s\): the payload must be a dict; got str"),
        (_without("results"), r"'results' is missing"),
        (_without("parameters.alpha"), r"'parameters' lacks 'alpha'"),
        (_without("results.0.p_value"), r"results\[0\] lacks 'p_value'"),
        (
            {"parameters": {}},
            r"3 problem\(s\): 'counts' is missing; 'results' is missing; 'parameters' lacks",
        ),
    ],
)
def test_bad_payloads_are_refused_with_every_problem(payload: object, message: str) -> None:
    with pytest.raises(ReportPayloadError, match=message):
        render_report(payload)


def _block_without(path: str) -> dict:
    payload = example_payload()
    *parents, last = path.split(".")
    node = payload["targeting"]["predicted_vs_realised"]
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    del node[last]
    return payload


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (_block_without("arms"), r"'targeting.predicted_vs_realised' must be a dict with a list"),
        (_block_without("arms.1.arm"), r"predicted_vs_realised' arms\[1\] lacks 'arm'"),
        (
            _block_without("arms.0.deciles.3.covers"),
            r"1 problem\(s\): 'targeting.predicted_vs_realised' arms\[0\] lacks 'covers'",
        ),
        (_block_without("arms.1.calibration"), r"arms\[1\] lacks 'calibration'"),
    ],
)
def test_a_bad_predicted_vs_realised_block_is_refused(payload: dict, message: str) -> None:
    with pytest.raises(ReportPayloadError, match=message):
        render_report(payload)


def test_payloads_without_the_predicted_vs_realised_block_still_render() -> None:
    payload = example_payload()
    del payload["targeting"]["predicted_vs_realised"]  # results.json of an older analysis
    assert "Predicted vs realised" not in render_report(payload)


# --- writing --------------------------------------------------------------------------------------


def test_write_report_replaces_the_file_and_leaves_no_temporary(
    tmp_path: Path, payload: dict, html: str
) -> None:
    path = tmp_path / "reports" / "report.html"
    assert write_report(payload, path) == path
    assert path.read_text(encoding="utf-8") == html
    write_report(example_payload(flagged_srm=True), path, title="Second")
    assert "<title>Second</title>" in path.read_text(encoding="utf-8")
    assert os.listdir(path.parent) == ["report.html"]


def test_a_failed_write_keeps_the_old_report(tmp_path: Path, payload: dict, monkeypatch) -> None:
    path = tmp_path / "report.html"
    path.write_text("old", encoding="utf-8")

    def refuse(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr("upseg.experiments.report.page.os.replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        write_report(payload, path)
    assert path.read_text(encoding="utf-8") == "old"
    assert os.listdir(tmp_path) == ["report.html"]


def test_an_invalid_payload_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ReportPayloadError):
        write_report({"parameters": {}}, tmp_path / "report.html")
    assert os.listdir(tmp_path) == []
