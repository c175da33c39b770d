"""The KPI dashboard: its structure against the KPI table, then rendered by headless Chromium.

The table comes from a small synthetic world (3,000 customers, weekly, the last
13 weeks with 8 more of history for the bands) with three fake segmentations,
one segment of which has a hostile name. The browser tests need Debian's
``chromium`` and ``chromium-driver``; they skip without them, except under CI.
"""

from __future__ import annotations

import html
import re
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.experiments import test_report_browser as harness
from upseg.experiments.monitoring import (
    ALL,
    customer_kpis,
    email_kpis,
    email_outcomes,
    period_start,
)
from upseg.experiments.monitoring.bands import kpi_bands
from upseg.experiments.monitoring.dashboard import (
    _fmt_band,
    _fmt_change,
    _fmt_value,
    render_dashboard,
    write_dashboard,
)
from upseg.synthetic import generate_world

HOSTILE = """<script>alert("x")</script> & 'Big' spenders"""
RFM = [
    "Champions",
    "Loyal",
    "Potential loyalists",
    "New",
    "Promising",
    "Need attention",
    "About to sleep",
    "At risk",
    "Cannot lose them",
    "Hibernating",
    HOSTILE,
]
SEGMENT_BY = ("lifecycle_stage", "priority_segment", "rfm_segment")
CAMPAIGN_TYPES = ("newsletter", "promotion", "winback")

#: The only way a browser test reaches Chromium: the report's own harness.
driver = harness.driver


@cache
def example_kpis(
    n_customers: int = 3_000, seed: int = 5, weeks: int = 13, history: int = 8
) -> pd.DataFrame:
    """The KPI table with bands of a synthetic world's last ``weeks`` weeks, three segmentations.

    Membership is faked but plausible: ``lifecycle_stage`` from the completed
    orders before each week (lead, conversion, retention, churned after 180
    days), ``priority_segment`` the loyalty tier, ``rfm_segment`` one of 11
    names by customer. Campaign types are assigned to campaigns in turn.
    """
    tables = generate_world(n_customers, seed=seed).tables
    orders = tables["orders"]
    orders = orders[orders["status"] == "completed"]
    events = tables["email_events"]
    campaigns = sorted(events["campaign_id"].astype(str).unique())
    kind = {c: CAMPAIGN_TYPES[i % len(CAMPAIGN_TYPES)] for i, c in enumerate(campaigns)}
    events = events.assign(campaign_type=events["campaign_id"].astype(str).map(kind))
    emails = email_outcomes(events, orders)
    last = period_start(emails["sent_at"], "week").max()
    periods = pd.date_range(end=last, periods=weeks + history, freq="7D")
    emails = emails[emails["sent_at"] >= periods[0]]
    membership = _membership(tables["customers"], orders, periods)
    table = pd.concat(
        [
            email_kpis(emails, freq="week", membership=membership, segment_by=SEGMENT_BY),
            customer_kpis(membership, orders, freq="week", segment_by=SEGMENT_BY),
        ],
        ignore_index=True,
    )
    table = kpi_bands(table, history=history)
    return table[table["period"] >= periods[-weeks]].reset_index(drop=True)


def _membership(customers: pd.DataFrame, orders: pd.DataFrame, periods) -> pd.DataFrame:
    """Each customer signed up before a week's start, with the segments at that start."""
    grid = customers[["customer_id", "signup_at", "loyalty_tier"]].merge(
        pd.DataFrame({"period": periods}), how="cross"
    )
    grid = grid[grid["signup_at"] < grid["period"]].drop(columns="signup_at")
    o = orders[["customer_id", "ordered_at"]].sort_values("ordered_at", kind="mergesort")
    o = o.assign(n_orders=o.groupby("customer_id").cumcount() + 1)
    grid = pd.merge_asof(
        grid.sort_values("period", kind="mergesort"),
        o.astype({"ordered_at": grid["period"].dtype}),
        left_on="period",
        right_on="ordered_at",
        by="customer_id",
        allow_exact_matches=False,
    )
    recent = (grid["period"] - grid["ordered_at"]) <= pd.Timedelta(days=180)
    grid["lifecycle_stage"] = np.select(
        [grid["ordered_at"].isna(), ~recent, grid["n_orders"] >= 2],
        ["lead", "churned", "retention"],
        "conversion",
    )
    number = grid["customer_id"].str.extract(r"(\d+)$")[0].astype(int)
    grid["rfm_segment"] = [RFM[(n * 7) % len(RFM)] for n in number]
    grid["priority_segment"] = grid["loyalty_tier"].astype(str)
    return grid[["period", "customer_id", *SEGMENT_BY]].reset_index(drop=True)


@pytest.fixture(scope="module")
def kpis() -> pd.DataFrame:
    return example_kpis()


@pytest.fixture(scope="module")
def page_html(kpis: pd.DataFrame) -> str:
    return render_dashboard(kpis, title="Segment KPIs", notes=["a note & more"])


def _section(text: str, section_id: str) -> str:
    start = text.index(f'<section id="{section_id}">')
    return text[start : text.index("</section>", start)]


def _rows(text: str, table_class: str) -> list[tuple[dict[str, str], list[str]]]:
    """``(data attributes, cell texts)`` of each data row of ``table.<table_class>``."""
    start = text.index(f'<table class="{table_class}">')
    table = text[start : text.index("</table>", start)]
    rows = []
    for attributes, cells in re.findall(r"<tr ([^>]*data-[^>]*)>(.*?)</tr>", table):
        data = {k: html.unescape(v) for k, v in re.findall(r'([\w-]+)="([^"]*)"', attributes)}
        texts = [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", cells)]
        rows.append((data, texts))
    return rows


def _series(kpis: pd.DataFrame) -> pd.DataFrame:
    """The (segmentation, segment, metric) series of campaign type all."""
    overall = kpis[kpis["campaign_type"] == ALL]
    return overall[["segment_by", "segment", "metric"]].drop_duplicates()


def _measured(kpis: pd.DataFrame) -> pd.DataFrame:
    """The rows of campaign type all with a denominator, by series and period."""
    measured = kpis[(kpis["campaign_type"] == ALL) & (kpis["denominator"] > 0)]
    return measured.sort_values(["segment_by", "segment", "metric", "period"])


def _latest_series(kpis: pd.DataFrame) -> pd.DataFrame:
    """The series of the latest-period table: those measured in some period."""
    return _measured(kpis)[["segment_by", "segment", "metric"]].drop_duplicates()


def test_the_example_is_realistic(kpis: pd.DataFrame) -> None:
    assert kpis["period"].nunique() == 13
    assert set(kpis["segment_by"]) == {ALL, *SEGMENT_BY}
    assert kpis.groupby("segment_by")["segment"].nunique().max() >= 11
    assert kpis["metric"].nunique() == 11
    assert (kpis["flag"] != "").sum() >= 5


def test_no_external_resources(page_html: str) -> None:
    assert not re.search(r"https?:|//[\w.-]+/|url\(", page_html)
    targets = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', page_html)
    assert targets and all(t.startswith(("#", "data:")) for t in targets)
    assert '<link rel="stylesheet"' not in page_html and "@import" not in page_html
    assert page_html.count("<script") == 1 and "<script src" not in page_html
    assert "default-src 'none'" in page_html


def test_every_metric_and_segmentation_has_its_charts(page_html: str, kpis) -> None:
    series = _series(kpis)
    sections = re.findall(
        r'<section class="trend"[^>]* data-segment-by="([^"]*)"[^>]*>(.*?)</section>', page_html
    )
    assert [html.unescape(by) for by, _ in sections] == [ALL, *SEGMENT_BY]
    for by, section in sections:
        expected = series[series["segment_by"] == html.unescape(by)]
        charts = re.findall(r'<svg class="chart"[^>]* data-metric="(\w+)"', section)
        assert sorted(charts) == sorted(expected["metric"]), by
    options = re.findall(r'<option value="([^"]*)"', page_html)
    assert [html.unescape(o) for o in options] == [ALL, *SEGMENT_BY]


def test_the_anomalies_are_exactly_the_flagged_rows(page_html: str, kpis) -> None:
    rows = _rows(page_html, "anomalies")
    flagged = kpis[kpis["flag"].isin(["high", "low"])]
    key = ["segment_by", "segment", "campaign_type", "metric"]
    shown = sorted(
        (cells[0], *(data[f"data-{k.replace('_', '-')}"] for k in key), data["data-flag"])
        for data, cells in rows
    )
    expected = sorted(
        (r.period.strftime("%Y-%m-%d"), *(getattr(r, k) for k in key), r.flag)
        for r in flagged.itertuples()
    )
    assert shown == expected
    dates = [cells[0] for _, cells in rows]
    assert dates == sorted(dates, reverse=True)  # most recent first
    assert f'<dd id="flag-count">{len(flagged)} (' in page_html


def test_a_hostile_segment_name_is_escaped(page_html: str) -> None:
    assert HOSTILE not in page_html and "<script>alert" not in page_html
    assert html.escape(HOSTILE) in page_html
    latest = [data["data-segment"] for data, _ in _rows(page_html, "latest")]
    assert HOSTILE in latest


def test_the_latest_table_matches_the_kpis(page_html: str, kpis: pd.DataFrame) -> None:
    last = max(kpis["period"]).strftime("%Y-%m-%d")
    series = dict(list(_measured(kpis).groupby(["segment_by", "segment", "metric"])))
    rows = _rows(page_html, "latest")
    assert len(rows) == len(series) == len(_latest_series(kpis))
    dated = {}
    for data, cells in rows:
        key = (data["data-segment-by"], data["data-segment"], data["data-metric"])
        metric, history = key[2], series[key]
        latest = history.iloc[-1]
        before = history.iloc[-2] if len(history) > 1 else None
        text = [c.split("<span")[0] for c in cells]
        when = [re.findall(r'<span class="when">([^<]*)</span>', c) for c in cells]
        assert text[2].lstrip("▲▼ ") == _fmt_value(latest["value"], metric), key
        assert (when[2] or [last])[0] == latest["period"].strftime("%Y-%m-%d"), key
        dated[key] = bool(when[2])
        if before is None:
            assert text[3] == text[4] == "—" and not when[3], key
        else:
            assert text[3] == _fmt_value(before["value"], metric), key
            assert when[3] == [before["period"].strftime("%Y-%m-%d")], key
            assert text[4] == _fmt_change(latest["value"] - before["value"], metric), key
        assert text[5] == _fmt_value(latest["expected"], metric), key
        assert text[6] == _fmt_band(latest["band_low"], latest["band_high"], metric), key
        flag = latest["flag"]
        assert data.get("data-flag", "") == flag, key
        assert text[2].startswith("▲▼"[flag == "low"]) == bool(flag), key
    churn = [dated[k] for k in dated if k[2] == "churn_rate"]
    assert churn and all(churn)  # a churn rate needs the next period: the latest is dated
    assert not dated[(ALL, ALL, "open_rate")]


def test_numbers_are_formatted() -> None:
    assert _fmt_value(0.04271, "open_rate") == "4.27%"
    assert _fmt_value(0.00041, "complaint_rate") == "0.041%"
    assert _fmt_value(1234.5, "revenue_per_email") == "1,234.50"
    assert _fmt_value(float("nan"), "open_rate") == _fmt_value(None, "open_rate") == "—"
    assert _fmt_change(0.0042, "click_rate") == "+0.42 pp"
    assert _fmt_change(-1.5, "revenue_per_email") == "-1.50"


@pytest.mark.parametrize(
    ("excluded", "words"),
    [(True, "Machine opens excluded"), (None, "no machine-open flag"), (False, "not excluded")],
)
def test_the_machine_open_note(kpis: pd.DataFrame, excluded, words: str) -> None:
    page = render_dashboard(kpis.head(50), title="t", machine_opens_excluded=excluded)
    assert words in page


def test_written_atomically_and_missing_columns_named(kpis, tmp_path: Path) -> None:
    path = write_dashboard(kpis.head(100), tmp_path / "sub" / "monitor.html", title="T")
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in path.parent.iterdir()] == ["monitor.html"]
    with pytest.raises(ValueError, match="denominator"):
        render_dashboard(kpis.drop(columns="denominator"), title="T")


def test_only_the_overall_segmentation_without_bands(kpis: pd.DataFrame) -> None:
    bare = kpis[(kpis["segment_by"] == ALL) & (kpis["campaign_type"] == ALL)]
    page = render_dashboard(bare.drop(columns=["expected", "band_low", "flag"]), title="T")
    assert page.count('<svg class="chart"') == bare["metric"].nunique()
    assert "No KPI left its band." in page and 'id="campaign-types"' not in page


def test_each_campaign_type_has_its_charts_for_all_customers(page_html: str, kpis) -> None:
    section = page_html[page_html.index('<section id="campaign-types">') :]
    section = section[: section.index("</section>")]
    typed = kpis[(kpis["segment_by"] == ALL) & (kpis["campaign_type"] != ALL)]
    assert set(typed["campaign_type"]) == set(CAMPAIGN_TYPES)
    expected = typed[["campaign_type", "metric"]].drop_duplicates()
    shown = re.findall(
        r'<figure[^>]* data-campaign-type="([^"]*)"><figcaption>.*?'
        r'<svg class="chart"[^>]* data-metric="(\w+)"',
        section,
    )
    assert sorted(shown) == sorted(map(tuple, expected.to_numpy().tolist()))
    # A log without campaign types has no such section.
    untyped = kpis[kpis["campaign_type"] == ALL]
    assert 'id="campaign-types"' not in render_dashboard(untyped, title="T")


# -- in a real browser -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory, kpis: pd.DataFrame) -> Path:
    folder = tmp_path_factory.mktemp("monitor")
    return write_dashboard(kpis, folder / "monitor.html", title="Segment KPIs")


@pytest.fixture(scope="module")
def console(driver, dashboard: Path) -> list[dict]:
    driver.get(dashboard.resolve().as_uri())
    return driver.get_log("browser")


def _visible_charts(driver) -> list[tuple[str, str, float, float]]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#trends svg.chart')).filter("
        "s => s.getBoundingClientRect().width > 0).map(s => {"
        "const r = s.getBoundingClientRect();"
        "return [s.closest('section.trend').dataset.segmentBy, s.dataset.metric,"
        " r.width, r.height];})"
    )


def test_the_dashboard_in_chromium(driver, console: list[dict], kpis: pd.DataFrame) -> None:
    from selenium.webdriver.support.ui import Select

    assert [entry for entry in console if entry["level"] == "SEVERE"] == []
    flagged = int(kpis["flag"].isin(["high", "low"]).sum())
    count = driver.execute_script(
        "return [document.querySelectorAll('table.anomalies tbody tr[data-flag]').length,"
        " document.querySelectorAll('table.latest tbody tr[data-metric]').length]"
    )
    assert count == [flagged, len(_latest_series(kpis))]
    series = _series(kpis)
    latest = _latest_series(kpis)
    select = Select(driver.find_element("id", "segmentation"))
    assert select.first_selected_option.get_attribute("value") == SEGMENT_BY[0]
    for by in [*SEGMENT_BY[::-1], ALL]:
        select.select_by_value(by)
        charts = _visible_charts(driver)
        assert {b for b, *_ in charts} == {by}
        assert len(charts) == (series["segment_by"] == by).sum()
        assert all(width > 100 and height > 40 for *_, width, height in charts)
        rows = driver.execute_script(
            "return Array.from(document.querySelectorAll('table.latest tbody tr[data-metric]'))"
            ".filter(r => r.getBoundingClientRect().height > 0).length"
        )
        assert rows == latest["segment_by"].isin({ALL, by}).sum()
    # The campaign types' charts do not depend on the segmentation: all drawn, at a size.
    typed = kpis[(kpis["segment_by"] == ALL) & (kpis["campaign_type"] != ALL)]
    sizes = driver.execute_script(
        "return Array.from(document.querySelectorAll('#campaign-types svg.chart'))"
        ".map(s => [s.getBoundingClientRect().width, s.getBoundingClientRect().height])"
    )
    assert len(sizes) == len(typed[["campaign_type", "metric"]].drop_duplicates())
    assert all(width > 100 and height > 40 for width, height in sizes)


def test_an_empty_table_still_renders(kpis: pd.DataFrame) -> None:
    page = render_dashboard(kpis.iloc[:0], title="Nothing yet")
    assert "No KPI left its band." in page and '<svg class="chart"' not in page
