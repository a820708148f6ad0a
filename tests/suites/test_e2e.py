"""The frontend in a real browser: Debian's Chromium driven by Playwright, against the real API and UI."""

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from scripts.local import ROOT, free_port
from tests.plugins.browser import WAIT_MS, healthy_page, metric_value, served_ui, upload_file
from training.synthetic import HIGH_RISK, generate_rows, to_dataset_csv

pytestmark = pytest.mark.e2e

SHOTS = ROOT / "screenshots"


@pytest.fixture(scope="module")
def ui(live_api: str) -> Iterator[str]:
    """The UI on a free 127.0.0.1 port, pointed at the live API."""
    with served_ui({"CREDIT_API_URL": live_api, "CREDIT_API_KEY": ""}) as url:
        yield url


@pytest.fixture
def page(browser: Browser, ui: str) -> Iterator[Page]:
    """Open the app in a fresh page and wait until the sidebar reports the API healthy."""
    SHOTS.mkdir(exist_ok=True)
    with healthy_page(browser, ui, height=1900) as opened:
        yield opened


def open_tab(page: Page, name: str) -> Locator:
    """Click a tab and return its panel, so checks see only what that tab shows."""
    page.get_by_role("tab", name=name).click()
    return page.get_by_role("tabpanel", name=name)


def test_browser_fills_form_and_scores_client(page: Page, live_api: str) -> None:
    single = open_tab(page, "Single client")
    single.get_by_role("button", name="High-risk client").click()
    expect(single.get_by_text("Loaded: high-risk client")).to_be_visible(timeout=WAIT_MS)
    age = single.get_by_role("spinbutton", name="Age (years)")
    age.fill("41")
    age.press("Tab")
    single.get_by_role("button", name="Score client").click()
    expected = httpx.post(f"{live_api}/v1/predict", json=dict(HIGH_RISK, age=41), timeout=10).json()
    expect(metric_value(single, "Probability of default")).to_have_text(
        f"{expected['probability_of_default']:.1%}", timeout=WAIT_MS
    )
    expect(metric_value(single, "Risk grade")).to_have_text(expected["risk_grade"])
    expect(single.get_by_test_id("stAlert")).to_contain_text("Default predicted: the PD of")
    expect(single.get_by_test_id("stVegaLiteChart")).to_have_count(2)  # the gauge and the reasons
    page.screenshot(path=SHOTS / "single_client.png", full_page=True)


def test_browser_shows_what_would_change_a_declined_clients_decision(page: Page, live_api: str) -> None:
    single = open_tab(page, "Single client")
    single.get_by_role("button", name="High-risk client").click()
    expect(single.get_by_text("Loaded: high-risk client")).to_be_visible(timeout=WAIT_MS)
    single.get_by_role("button", name="Score client").click()
    expect(single.get_by_test_id("stAlert").first).to_contain_text("Default predicted", timeout=WAIT_MS)
    single.get_by_text("What would change this decision").click()
    single.get_by_role("button", name="Find the smallest change").click()
    expected = httpx.post(f"{live_api}/v1/recourse", json=HIGH_RISK, timeout=10).json()["proposal"]
    expect(metric_value(single, "PD it would reach")).to_have_text(
        f"{expected['probability_of_default']:.1%}", timeout=WAIT_MS
    )
    expect(single.get_by_text(expected["summary"], exact=False)).to_be_visible()
    page.screenshot(path=SHOTS / "recourse.png", full_page=True)


def test_browser_uploads_file_and_shows_results(page: Page, tmp_path: Path) -> None:
    rows = generate_rows(30, seed=11)
    rows[6]["pay_0"] = 12  # one row the contract refuses: listed, not sent
    target = [int(t) for t in np.random.default_rng(11).integers(0, 2, 30)]
    upload = tmp_path / "clients.csv"
    upload.write_text(to_dataset_csv(rows, target=target))
    batch = open_tab(page, "Batch file")
    upload_file(batch, "CSV file of clients", upload)
    expect(batch.get_by_text("30 rows · 29 valid · 1 invalid")).to_be_visible(timeout=WAIT_MS)
    batch.get_by_role("button", name="Score 29 rows").click()
    expect(metric_value(batch, "Rows scored")).to_have_text("29", timeout=WAIT_MS)
    expect(metric_value(batch, "Rows with errors")).to_have_text("1")
    expect(metric_value(batch, "AUC")).to_have_text(re.compile(r"^[01]\.\d{3}$"))
    results = batch.get_by_test_id("stDataFrame").filter(has_text="Top reason")
    expect(results).to_contain_text("PAY_0: Input should be less than or equal to 9")
    expect(batch.get_by_test_id("stTable")).to_contain_text("actual: default")
    expect(batch.get_by_test_id("stVegaLiteChart")).to_have_count(1)  # the PD histogram
    expect(batch.get_by_role("button", name="Download scored CSV")).to_be_visible()
    page.screenshot(path=SHOTS / "batch_file.png", full_page=True)


def test_browser_shows_model_page(page: Page) -> None:
    model = open_tab(page, "Model")
    expect(metric_value(model, "Version")).to_be_visible(timeout=WAIT_MS)
    expect(metric_value(model, "Training rows")).to_have_text("22,500")
    expect(metric_value(model, "Test rows")).to_have_text("7,500")
    expect(model.get_by_test_id("stVegaLiteChart")).to_have_count(1)  # the confusion matrix, drawn
    expect(model.get_by_test_id("stDataFrame").first).to_contain_text("Reference app (published)")
    expect(model.get_by_test_id("stImage").first).to_be_visible()
    page.screenshot(path=SHOTS / "model.png", full_page=True)


def test_browser_reports_endpoint_down(page: Page) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    url = page.get_by_role("textbox", name="API URL")
    url.fill(down)
    url.press("Enter")
    expect(page.get_by_test_id("stSidebar").get_by_text(f"Cannot reach {down}")).to_be_visible(
        timeout=WAIT_MS
    )
    single = open_tab(page, "Single client")
    single.get_by_role("button", name="Score client").click()
    expect(single.get_by_test_id("stAlert")).to_contain_text("Is the API running?", timeout=WAIT_MS)
    page.screenshot(path=SHOTS / "endpoint_down.png", full_page=True)


def test_browser_monitors_an_uploaded_file(page: Page, tmp_path: Path) -> None:
    rows = generate_rows(60, seed=12)
    target = [int(t) for t in np.random.default_rng(12).integers(0, 2, 60)]
    upload = tmp_path / "clients.csv"
    upload.write_text(to_dataset_csv(rows, target=target))
    monitor = open_tab(page, "Monitoring")
    upload_file(monitor, "CSV file of clients", upload)
    monitor.get_by_role("button", name="Score 60 rows and compare").click()
    expect(metric_value(monitor, "Brier score")).to_have_text(re.compile(r"^0\.\d{4}$"), timeout=WAIT_MS)
    expect(monitor.get_by_test_id("stVegaLiteChart").last).to_be_visible()  # the per-grade back-test
    page.screenshot(path=SHOTS / "monitoring.png", full_page=True)


def test_browser_moves_a_cutoff_on_the_strategy_tab(page: Page, tmp_path: Path) -> None:
    upload = tmp_path / "clients.csv"
    upload.write_text(to_dataset_csv(generate_rows(80, seed=13)))
    batch = open_tab(page, "Batch file")
    upload_file(batch, "CSV file of clients", upload)
    batch.get_by_role("button", name="Score 80 rows").click()
    expect(metric_value(batch, "Rows scored")).to_have_text("80", timeout=WAIT_MS)
    strategy = open_tab(page, "Strategy")
    expect(strategy.get_by_text("80 scored clients from the batch tab's scored file")).to_be_visible(
        timeout=WAIT_MS
    )
    swaps = strategy.get_by_test_id("stTable").first
    point = strategy.get_by_text("Edited point:")
    chart = strategy.get_by_test_id("stVegaLiteChart")
    expect(chart).to_have_count(1)
    before_swaps, before_point = swaps.inner_text(), point.inner_text()
    before_chart = chart.screenshot()
    thumb = strategy.get_by_test_id("stSlider").filter(has_text="Refer from PD").get_by_role("slider")
    thumb.focus()
    for _ in range(30):  # 30 steps of 0.005: refer from PD 0.05 instead of 0.20
        thumb.press("ArrowLeft")
    expect(thumb).to_have_value("0.05", timeout=WAIT_MS)
    expect(point).not_to_have_text(before_point, timeout=WAIT_MS)
    expect(swaps).not_to_have_text(before_swaps, timeout=WAIT_MS)
    assert chart.screenshot() != before_chart  # the edited strategy's point moved on the curve
    page.screenshot(path=SHOTS / "strategy.png", full_page=True)
