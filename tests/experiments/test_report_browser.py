"""The report rendered by a real headless Chromium: it displays, its figures load, nothing errs.

Needs Debian's ``chromium`` and ``chromium-driver``; without them the tests skip,
except under CI (``CI`` set), where the report must be rendered and they fail.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.experiments._payload import example_payload
from upseg.experiments.report import write_report

CHROMIUM = "/usr/bin/chromium"
INSTALL = "apt-get install chromium chromium-driver"
PNG = b"\x89PNG\r\n\x1a\n"


def _unavailable(reason: str) -> None:
    """Skip locally, fail under CI: CI must render the report."""
    message = f"{reason}; to render the report in a browser: {INSTALL}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _chromium_binary() -> str | None:
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    return shutil.which("chromium") or shutil.which("chromium-browser")


def take_screenshot(driver, png_path: Path, *, width: int = 1280) -> Path:
    """A screenshot of the whole page (not only the window) as a PNG file."""
    height = driver.execute_script(
        "return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)"
    )
    driver.set_window_size(width, height)
    driver.save_screenshot(str(png_path))
    return png_path


@pytest.fixture(scope="module")
def payload() -> dict:
    return example_payload()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, payload: dict) -> Path:
    folder = tmp_path_factory.mktemp("report")
    return write_report(payload, folder / "report.html")


@pytest.fixture(scope="module")
def driver():
    """A headless Chromium driven by the system chromedriver; never downloads one."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed (pip install -e '.[dev]')")
    binary, chromedriver = _chromium_binary(), shutil.which("chromedriver")
    missing = [
        name for name, path in [("chromium", binary), ("chromedriver", chromedriver)] if not path
    ]
    if missing:
        _unavailable(f"{' and '.join(missing)} not found")
    options = Options()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.binary_location = binary
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    browser.set_page_load_timeout(15)
    browser.set_window_size(1280, 1000)
    yield browser
    browser.quit()


def _show(driver, path: Path):
    """``driver`` on the page of ``path``, loaded unless it is already there."""
    if driver.current_url != path.resolve().as_uri():
        driver.get(path.resolve().as_uri())
    return driver


@pytest.fixture(scope="module")
def console(driver, report: Path) -> list[dict]:
    """What the browser logged while loading the report."""
    driver.get(report.resolve().as_uri())
    return driver.get_log("browser")


@pytest.fixture
def page(driver, report: Path, console: list[dict]):
    """The driver on the report."""
    return _show(driver, report)


def _count(driver, selector: str) -> int:
    from selenium.webdriver.common.by import By

    return len(driver.find_elements(By.CSS_SELECTOR, selector))


def test_the_page_loads_without_console_errors(console: list[dict]) -> None:
    assert [entry for entry in console if entry["level"] == "SEVERE"] == []


def test_the_summary_is_displayed_first(page) -> None:
    from selenium.webdriver.common.by import By

    driver = page
    summary = driver.find_element(By.ID, "summary")
    assert summary.is_displayed()
    assert "raised conversion" in summary.text
    banner = driver.find_element(By.ID, "srm-banner")
    assert banner.is_displayed() and banner.get_attribute("class") == "ok"
    assert banner.location["y"] < summary.location["y"]


def test_the_tables_have_a_row_per_entry(page, payload: dict) -> None:
    driver = page
    for metric in ("conversion", "revenue"):
        rows = [r for r in payload["results"] if r["metric"] == metric]
        assert _count(driver, f'table.results[data-metric="{metric}"] tbody tr[data-arm]') == len(
            rows
        )
        holdout = [r for r in payload["targeting"]["send_vs_holdout"] if r["metric"] == metric]
        selector = f'table.send-vs-holdout[data-metric="{metric}"] tbody tr[data-arm]'
        assert _count(driver, selector) == len(holdout)
    for css, key in [
        ("power", "power"),
        ("roi", "roi"),
        ("cuped", "cuped"),
        ("skipped", "skipped"),
    ]:
        assert _count(driver, f"table.{css} tbody tr[data-segment]") == len(payload[key]), css
    assert _count(driver, "table.srm tbody tr[data-segment]") == len(payload["srm"])
    assert _count(driver, "table.qini tbody tr[data-segment]") == len(payload["targeting"]["qini"])
    arms = payload["targeting"]["predicted_vs_realised"]["arms"]
    deciles = sum(len(a["deciles"]) for a in arms)
    assert _count(driver, "table.predicted-vs-realised tbody tr[data-decile]") == deciles
    assert _count(driver, "table.counts tbody tr") == len(payload["counts"]["per_arm"])
    assert _count(driver, "table.parameters tbody tr") == len(payload["parameters"])


def test_every_figure_has_loaded(page) -> None:
    driver = page
    images = driver.execute_script(
        "return Array.from(document.images, i => [i.complete, i.naturalWidth, i.naturalHeight])"
    )
    assert len(images) == 5  # lift per outcome, Qini per treated arm, predicted vs realised
    assert all(complete and width > 0 and height > 0 for complete, width, height in images)


def test_headers_stick_and_lifts_are_coloured(page) -> None:
    driver = page
    style = driver.execute_script(
        "const th = document.querySelector('table.results thead th');"
        "const pos = document.querySelector('table.results td.pos');"
        "return [getComputedStyle(th).position, getComputedStyle(pos).color,"
        " getComputedStyle(document.querySelector('td.num')).textAlign];"
    )
    assert style == ["sticky", "rgb(26, 127, 55)", "right"]


def test_a_flagged_srm_shows_a_red_banner(driver, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    path = write_report(example_payload(flagged_srm=True), tmp_path / "flagged.html")
    driver.get(path.resolve().as_uri())
    banner = driver.find_element(By.ID, "srm-banner")
    assert banner.is_displayed() and banner.get_attribute("class") == "flagged"
    assert banner.text.startswith("Sample ratio mismatch")
    assert banner.value_of_css_property("border-top-color") == "rgba(207, 34, 46, 1)"


def test_a_full_page_screenshot(page, tmp_path: Path) -> None:
    png = take_screenshot(page, tmp_path / "report.png")
    data = png.read_bytes()
    assert data[:8] == PNG and len(data) > 50_000
    height = int.from_bytes(data[20:24], "big")  # the IHDR height
    assert height > 3000
