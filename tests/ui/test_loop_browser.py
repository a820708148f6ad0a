"""The Monitoring tab's closed loop in a real browser: Debian's Chromium driven by Playwright, against the real API
and UI, over a prepared decision log (DECISION_LOG): upload an outcome file, see the grades and the overrides.
"""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from functions.audit.decision import DecisionRecord
from functions.audit.outcomes import FinalDecision
from functions.audit.outcomes_sqlite import SqliteOutcomeLog
from functions.monitoring.loop.join import close_loop
from functions.scoring.manifest import Manifest
from functions.scoring.model import to_matrix
from scripts.local import ROOT
from tests.plugins.browser import WAIT_MS, healthy_page, metric_value, served_ui, upload_file
from training.synthetic import generate_rows
from ui.loop import LOG_SOURCE

pytestmark = pytest.mark.e2e

SHOTS = ROOT / "screenshots"
SPAN = {"since_day": "2026-03-01", "until_day": "2026-03-31"}


@pytest.fixture(scope="module")
def records(make_records: Callable[..., list[DecisionRecord]]) -> list[DecisionRecord]:
    """300 recorded decisions of generated clients."""
    return make_records(to_matrix(generate_rows(300, seed=81)))


@pytest.fixture(scope="module")
def log(records: list[DecisionRecord], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A decision log with the decisions and 8 low-side and 4 high-side overrides, no outcome yet."""
    path = tmp_path_factory.mktemp("log") / "decisions.sqlite"
    store = SqliteOutcomeLog(path)
    store.write(records, deadline=None)
    declined = [r for r in records if r.decision.predicted_default][:8]
    approved = [r for r in records if not r.decision.predicted_default][:12]
    actions = [*((r, "approve") for r in declined), *((r, "decline") for r in approved[:4])]
    actions += [(r, "approve") for r in approved[4:]]  # reviewed, following the model
    for record, action in actions:
        store.record_final(
            FinalDecision(record.key, action, "other", "f" * 64, "test", "2026-04-01T00:00:00Z")
        )
    return path


@pytest.fixture(scope="module")
def ui(live_api: str, log: Path) -> Iterator[str]:
    """The UI on a free 127.0.0.1 port, pointed at the live API and the prepared log."""
    with served_ui({"CREDIT_API_URL": live_api, "CREDIT_API_KEY": "", "DECISION_LOG": str(log)}) as url:
        yield url


@pytest.fixture
def page(browser: Browser, ui: str) -> Iterator[Page]:
    """Open the app in a fresh page and wait until the sidebar reports the API healthy."""
    with healthy_page(browser, ui, height=2400) as opened:
        yield opened


def test_browser_records_an_outcome_file_and_shows_grades_and_overrides(
    page: Page, records: list[DecisionRecord], log: Path, shipped_manifest: Manifest, tmp_path: Path
) -> None:
    page.get_by_role("tab", name="Monitoring").click()
    tab = page.get_by_role("tabpanel", name="Monitoring")
    tab.get_by_text(LOG_SOURCE).click()
    days = tab.get_by_role("spinbutton", name="Days of decisions")
    days.fill("36500")
    days.press("Tab")
    expect(metric_value(tab, "Decisions")).to_have_text("300", timeout=WAIT_MS)
    expect(metric_value(tab, "Outcomes joined")).to_have_text("0")
    outcomes = tmp_path / "outcomes.csv"
    lines = [f"{r.key},{i % 4 == 0},2026-11-30" for i, r in enumerate(records[:250])]
    outcomes.write_text(
        "\n".join(["decision_key,defaulted,observed_on", *lines, "nobody#1,true,2026-11-30"]) + "\n"
    )
    upload_file(tab, "Outcome file", outcomes)
    tab.get_by_role("button", name="Record outcomes").click()
    expect(metric_value(tab, "Outcomes recorded")).to_have_text("250", timeout=WAIT_MS)
    expect(metric_value(tab, "Unknown keys")).to_have_text("1")
    expect(metric_value(tab, "Conflicts")).to_have_text("0")
    report = close_loop(
        SqliteOutcomeLog(log).read_joined(**SPAN),
        bands=shipped_manifest.grade_bands,
        reference=shipped_manifest.reference,
        **SPAN,
    )
    assert report.overall is not None and report.overall.realised is not None
    expect(metric_value(tab, "Outcomes joined")).to_have_text("250")
    expect(metric_value(tab, "Realised default rate")).to_have_text(
        f"{report.overall.realised.default_rate:.2%}"
    )
    expect(metric_value(tab, "Low-side override rate")).to_have_text(f"{8 / 20:.1%}")
    expect(metric_value(tab, "High-side override rate")).to_have_text(f"{4 / 20:.1%}")
    grades = tab.get_by_test_id("stDataFrame").filter(has_text="mean PD")
    for grade in report.overall.grades:
        if grade.joined is not None:
            expect(grades).to_contain_text(f"{grade.joined.observed_default_rate:.2%}")
    expect(tab.get_by_test_id("stDataFrame").filter(has_text="low-side rate")).to_contain_text("sex")
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SHOTS / "monitoring_loop.png", full_page=True)
