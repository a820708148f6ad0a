"""What the image's runtime sees: awslambdaric resolves the CMD handler; the pins resolve for CPython 3.13."""

import base64
import json
import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from scripts.local import ROOT, stop
from scripts.taskroot import (
    IMAGE_PYTHON,
    REQUIREMENTS,
    RUNNING_PYTHON,
    awslambdaric_dir,
    build_task_root,
    function_environment,
    interpreter,
    resolve_for_image,
)

pytestmark = pytest.mark.slow

HANDLER = "functions.api.app.handler"  # the Dockerfile's CMD


PYTHONS = sorted({RUNNING_PYTHON, IMAGE_PYTHON})  # the development Python and the image's (pyenv's 3.13 here)


class RuntimeApi(ThreadingHTTPServer):
    """A stand-in for Lambda's Runtime API: hands out one event, then records the function's reply."""

    daemon_threads = True

    def __init__(self, event: bytes) -> None:
        super().__init__(("127.0.0.1", 0), RuntimeApiHandler)
        self.event = event
        self.handed_out = False
        self.replies: list[tuple[str, bytes]] = []
        self.replied = threading.Event()
        self.stopping = threading.Event()


class RuntimeApiHandler(BaseHTTPRequestHandler):
    """Serve /2018-06-01/runtime/invocation/next and record .../response and .../error posts."""

    server: RuntimeApi
    request_id = "8f507cfc-0000-4000-8000-000000000001"

    def do_GET(self) -> None:
        """Hand out the event once; later polls wait until the test stops the client."""
        if self.path != "/2018-06-01/runtime/invocation/next":
            self.send_error(404)
            return
        if self.server.handed_out:
            self.server.stopping.wait(timeout=120)  # hold the next poll until the test stops the client
            return
        self.server.handed_out = True
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", self.request_id)
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 10_000))
        self.send_header(
            "Lambda-Runtime-Invoked-Function-Arn",
            "arn:aws:lambda:us-east-1:123456789012:function:credit-default-scoring",
        )
        self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.server.event)))
        self.end_headers()
        self.wfile.write(self.server.event)

    def do_POST(self) -> None:
        """Record the function's response or error and acknowledge it."""
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.replies.append((self.path, body))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.server.replied.set()

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""


@pytest.mark.parametrize("python", PYTHONS)
def test_awslambdaric_resolves_the_cmd_handler(python: str, tmp_path: Path) -> None:
    task_root = build_task_root(python)
    # The running Python has awslambdaric in the dev venv; another gets the same pin in its own folder, and -S
    # keeps that interpreter's site-packages out.
    extra = [] if python == RUNNING_PYTHON else [str(awslambdaric_dir(python))]
    flags = [] if python == RUNNING_PYTHON else ["-S"]
    event = (ROOT / "events" / "rest-predict.json").read_bytes()
    server = RuntimeApi(event)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    env = {
        **function_environment(task_root),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_port}",
        "PYTHONPATH": os.pathsep.join([str(task_root), *extra]),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    log_path = tmp_path / "awslambdaric.log"
    with log_path.open("wb") as log_file:
        client = subprocess.Popen(
            [interpreter(python), *flags, "-m", "awslambdaric", HANDLER],
            cwd=task_root,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            replied = server.replied.wait(timeout=120)
        finally:
            stop(client)
            server.stopping.set()
            server.shutdown()
            server.server_close()
    log = log_path.read_text(errors="replace")[-3000:]
    assert replied, f"awslambdaric never answered the invocation:\n{log}"
    path, body = server.replies[0]
    assert path == f"/2018-06-01/runtime/invocation/{RuntimeApiHandler.request_id}/response", (
        path,
        body,
        log,
    )
    result = json.loads(body)
    assert result["statusCode"] == 200, result
    text = base64.b64decode(result["body"]).decode() if result.get("isBase64Encoded") else result["body"]
    assert 0.0 <= json.loads(text)["probability_of_default"] <= 1.0


def test_image_pins_resolve_for_python_3_13() -> None:
    # The image is CPython 3.13 on Amazon Linux 2023; this machine cannot run it, pip can resolve for it.
    wheels = resolve_for_image()
    pinned = {
        line.split("==")[0].strip().lower().replace("_", "-")
        for line in REQUIREMENTS.read_text().splitlines()
        if "==" in line and not line.lstrip().startswith("#")
    }
    assert set(wheels) == pinned, "every runtime dependency must be pinned, and nothing else installed"
    compiled = {name: wheel for name, wheel in wheels.items() if not wheel.endswith("-none-any.whl")}
    assert compiled, "numpy and pydantic-core ship compiled wheels"
    assert all("-cp313-" in wheel for wheel in compiled.values()), compiled


def test_resolution_fails_for_a_pin_without_a_cp313_wheel(tmp_path: Path) -> None:
    # numpy 1.26.4 predates CPython 3.13: no wheel for the image, so the build would fail in Docker.
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("numpy==1.26.4\n")
    with pytest.raises(RuntimeError, match=r"CPython 3\.13"):
        resolve_for_image(requirements)
