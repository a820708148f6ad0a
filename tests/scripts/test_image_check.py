"""scripts/image_check.py against a stand-in for the runtime interface emulator that runs this checkout's handler."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts import image_check
from scripts.local import ROOT, free_port, stop, wait_for

# The emulator's one route, served in a main thread (Mangum needs the main thread's event loop).
EMULATOR = r"""
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from functions.api.app import handler
from scripts.image_check import local_context

BREAK = sys.argv[2] == "break"


class Invocations(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(404)
        self.end_headers()

    def do_POST(self):
        event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        answer = handler(event, local_context())
        if BREAK and event.get("httpMethod") == "POST":
            answer = {**answer, "statusCode": 500}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", int(sys.argv[1])), Invocations).serve_forever()
"""


def serve(mode: str) -> Iterator[str]:
    """Start the stand-in on a free port; yield its base URL."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", EMULATOR, str(port), mode], cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url, timeout=60, process=process)
        yield url
    finally:
        stop(process)


@pytest.fixture
def faithful() -> Iterator[str]:
    """An emulator stand-in that answers as the app does."""
    yield from serve("faithful")


@pytest.fixture
def broken() -> Iterator[str]:
    """An emulator stand-in whose POST answers are 500."""
    yield from serve("break")


def test_image_check_passes_every_event_and_example(faithful: str, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    assert image_check.main(["--url", faithful, "--summary", str(summary)]) == 0
    text = summary.read_text()
    assert "cold start" in text
    assert all(f"| {name} | 200 |" in text for name in image_check.api_events())
    assert "Problems" not in text


def test_image_check_fails_on_a_wrong_status(broken: str, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    assert image_check.main(["--url", broken, "--summary", str(summary)]) == 1
    assert "rest-predict: answered 500" in summary.read_text()
