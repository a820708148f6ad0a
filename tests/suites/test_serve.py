"""The image serves plain HTTP outside Lambda: functions/entrypoint.sh `serve`, run from the task root on the
development Python and on the image's CPython 3.13 with only the task root importable, answers on loopback and
honours API_KEY; any other argument goes to the base image's Lambda entry point unchanged."""

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scripts.local import ROOT, free_port, start_server, stop
from scripts.taskroot import IMAGE_PYTHON, RUNNING_PYTHON, build_task_root, function_environment, interpreter
from training.synthetic import TYPICAL

pytestmark = pytest.mark.slow

KEY = "a-local-api-key-of-32-characters"
PYTHONS = sorted({RUNNING_PYTHON, IMAGE_PYTHON})


def container_path(tmp_path: Path, python: str) -> str:
    """Return a PATH whose `python3` is this Python without site-packages (only the stdlib and the task root)."""
    shim = tmp_path / "bin" / "python3"
    shim.parent.mkdir(exist_ok=True)
    shim.write_text(f'#!/bin/sh\nexec "{interpreter(python)}" -S "$@"\n')
    shim.chmod(0o755)
    return f"{shim.parent}:/usr/bin:/bin"


@pytest.fixture(params=PYTHONS, ids=[f"py{v}" for v in PYTHONS])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Run `entrypoint.sh serve` from the task root, outside Lambda, with API_KEY set; yield its base URL."""
    python: str = request.param
    task_root = build_task_root(python)
    port = free_port()
    env = {k: v for k, v in function_environment(task_root).items() if not k.startswith("AWS_LAMBDA_")}
    env |= {
        "PATH": container_path(tmp_path, python),
        "API_KEY": KEY,
        "SERVE_HOST": "127.0.0.1",
        "PORT": str(port),
    }
    url = f"http://127.0.0.1:{port}"
    command = ["sh", str(task_root / "functions" / "entrypoint.sh"), "serve", "--log-level", "warning"]
    process = start_server(command, f"{url}/v1/health", env=env)
    try:
        yield url
    finally:
        stop(process)


def test_serve_answers_http_and_honours_the_key(served: str) -> None:
    with httpx.Client(base_url=served, timeout=10) as client:
        health = client.get("/v1/health")
        spec = client.get("/openapi.json").json()
        without = client.post("/v1/predict", json=TYPICAL)
        wrong = client.post("/v1/predict", json=TYPICAL, headers={"x-api-key": "w" * 32})
        right = client.post("/v1/predict", json=TYPICAL, headers={"x-api-key": KEY})
        docs = client.get("/docs")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert spec["paths"]["/v1/predict"]["post"]["security"] == [{"ApiKey": []}]
    assert (without.status_code, without.json()["error"]["code"]) == (401, "missing_api_key")
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (403, "invalid_api_key")
    assert right.status_code == 200 and 0.0 <= right.json()["probability_of_default"] <= 1.0
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_any_other_command_goes_to_the_lambda_entry_point(tmp_path: Path) -> None:
    stand_in = tmp_path / "lambda-entrypoint.sh"
    stand_in.write_text('#!/bin/sh\necho "lambda: $*"\n')
    stand_in.chmod(0o755)
    result = subprocess.run(
        ["sh", str(ROOT / "functions" / "entrypoint.sh"), "functions.api.pretraffic.handler"],
        env={**os.environ, "LAMBDA_ENTRYPOINT": str(stand_in)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (result.returncode, result.stdout.strip()) == (0, "lambda: functions.api.pretraffic.handler")


def test_dockerfile_runs_every_command_through_the_entry_script() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r'^ENTRYPOINT \["/bin/sh", "/var/task/functions/entrypoint.sh"\]$', text, re.MULTILINE)
    assert text.index("ENTRYPOINT") < text.index("CMD [")
    assert "EXPOSE 8000" in text
