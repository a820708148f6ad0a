"""Fixtures of the browser tests: headless Chromium from the Debian package, a page of the app once it is healthy."""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from scripts.local import free_port, start_server, stop

# Debian's package by default (`playwright install` cannot download here); CHROMIUM_PATH picks another build.
CHROMIUM: Final = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS: Final = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS: Final = 30_000  # the first page load starts Streamlit's script runner and the API call


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Launch headless Chromium from the Debian package."""
    assert CHROMIUM.is_file(), "install Chromium first: apt-get install -y chromium (.ci/run does)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@contextmanager
def served_ui(env: dict[str, str]) -> Iterator[str]:
    """Serve frontend.py with `streamlit run` on a free 127.0.0.1 port with `env` added; yield its URL, then stop it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process: subprocess.Popen[bytes] = start_server(
        [sys.executable, "-m", "streamlit", "run", "frontend.py", "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        f"{url}/_stcore/health",
        env=env,
    )  # fmt: skip
    try:
        yield url
    finally:
        stop(process)


@contextmanager
def healthy_page(browser: Browser, url: str, *, height: int) -> Iterator[Page]:
    """Open the app at `url` in a fresh 1400 x `height` page once the sidebar reports the API healthy; on the way
    out, fail on any exception box or page error."""
    context = browser.new_context(viewport={"width": 1400, "height": height})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto(url)
    expect(opened.get_by_text("Healthy · model")).to_be_visible(timeout=WAIT_MS)
    yield opened
    expect(opened.get_by_test_id("stException")).to_have_count(0)
    context.close()
    assert errors == []


def metric_value(scope: Locator, label: str) -> Locator:
    """Return the value of the st.metric whose label is exactly `label`."""
    label_locator = scope.page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)
    return scope.get_by_test_id("stMetric").filter(has=label_locator).get_by_test_id("stMetricValue")


def idle(page: Page) -> None:
    """Wait until the app runs no script (Streamlit's running icon is gone)."""
    expect(page.get_by_test_id("stStatusWidgetRunningIcon")).to_have_count(0, timeout=WAIT_MS)


def upload_file(scope: Locator, label: str, path: Path) -> None:
    """Give the st.file_uploader whose label starts with `label` the file at `path`, and wait until it lists it.

    Only once the app is idle: a rerun in flight can briefly keep another tab state's uploader in the same panel,
    or replace this one, and a file given to the element it replaces is lost (stop 29's CI: "Record outcomes"
    never appeared). So never pick the panel's only input, and never upload mid-run.
    """
    idle(scope.page)
    uploader = scope.get_by_test_id("stFileUploader").filter(has_text=label)
    uploader.locator("input[type=file]").set_input_files(path)
    expect(uploader.get_by_text(path.name)).to_be_visible(timeout=WAIT_MS)
