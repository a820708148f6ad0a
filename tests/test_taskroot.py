"""The Lambda image's task root, built as the Dockerfile builds it, answering events without Docker."""

import base64
import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from scripts.cfn import load_template
from scripts.local import stop
from scripts.taskroot import BUILD, REQUIREMENTS, RUNNING_PYTHON, dependencies_dir, resolve_for_image

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
HANDLER = "functions.app.handler"  # the Dockerfile's CMD
HEAVY_MODULES = ("sklearn", "pandas", "scipy")
SIZE_BUDGET_MB = 200  # below 0.6 x the reference task root (394 MB: python -m benchmarks.taskroot)
EVENTS_OK = (
    "rest-health",
    "rest-model",
    "rest-predict",
    "rest-predict-batch",
    "rest-docs",
    "http-health",
    "http-model",
    "http-predict",
    "http-predict-batch",
    "http-docs",
)
EVENTS_WITHOUT_CONTENT_TYPE = ("rest-predict-no-content-type", "http-predict-no-content-type")


def dockerignore_patterns() -> list[str]:
    """Return the .dockerignore patterns in order, comments and blank lines dropped."""
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def docker_ignores(relative: str, patterns: list[str]) -> bool:
    """Tell whether Docker leaves a context path out: the last pattern matching it or a parent wins."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[:end]) for end in range(1, len(parts) + 1)]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = pattern.removeprefix("!").rstrip("/")
        variants = {body, body.replace("**/", "")}  # Docker's ** also matches no folder at all
        if any(fnmatch.fnmatchcase(prefix, variant) for prefix in prefixes for variant in variants):
            ignored = not negated
    return ignored


def copy_like_docker(source: Path, target: Path) -> None:
    """Copy a folder of the build context as `COPY` would, leaving out what .dockerignore excludes."""
    patterns = dockerignore_patterns()
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(ROOT).as_posix()
        if path.is_file() and "__pycache__" not in path.parts and not docker_ignores(relative, patterns):
            destination = target / path.relative_to(source.parent)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)


def folder_bytes(folder: Path) -> int:
    """Return the size of the files under a folder."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


def function_environment(task_root: Path) -> dict[str, str]:
    """Return the function's environment from template.yaml, audit off (no table, no secret) and no AWS."""
    template = load_template()
    variables = template["Resources"]["ScoringFunction"]["Properties"]["Environment"]["Variables"]
    parameters = template["Parameters"]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LAMBDA_TASK_ROOT": str(task_root),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "credit-default-scoring",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
    }
    for name, value in variables.items():
        if isinstance(value, str):
            env[name] = value
        elif set(value) == {"Ref"} and value["Ref"] in parameters:
            env[name] = str(parameters[value["Ref"]]["Default"])
    return env


@pytest.fixture(scope="module")
def task_root() -> Path:
    """Build the task root: dependencies (cached), then functions/ and model/ as the image gets them."""
    folder = dependencies_dir()
    for name in ("functions", "model"):
        shutil.rmtree(folder / name, ignore_errors=True)
        copy_like_docker(ROOT / name, folder)
    return folder


# Runs in `python -I -S -B`: no site-packages, no PYTHON* variables, no current folder, no bytecode
# written (the image's task root is read-only); only the stdlib and the task root are importable.
PROBE = r"""
import base64, json, sys
task_root, events = sys.argv[1], sys.argv[2:]
assert not [p for p in sys.path if "site-packages" in p], sys.path
sys.path.insert(0, task_root)


class Context:
    function_name = "credit-default-scoring"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:credit-default-scoring"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/credit-default-scoring"
    log_stream_name = "probe"

    def get_remaining_time_in_millis(self):
        return 10000


from functions.app import handler

answers = {}
for path in events:
    with open(path) as file:
        result = handler(json.load(file), Context())
    body = result.get("body", "")
    if result.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    answers[path] = {"status": result["statusCode"], "body": body}
heavy = sorted(name for name in HEAVY_MODULES if name in sys.modules)
outside = sorted(
    name for name, module in sys.modules.items()
    if getattr(module, "__file__", None) and not (
        module.__file__.startswith(task_root) or module.__file__.startswith(sys.base_prefix)
    )
)
print(json.dumps({"answers": answers, "heavy": heavy, "outside": outside}))
"""


@pytest.fixture(scope="module")
def probe(task_root: Path) -> dict[str, Any]:
    """Feed every event to the handler in an interpreter that sees only the stdlib and the task root."""
    events = [str(ROOT / "events" / f"{name}.json") for name in EVENTS_OK + EVENTS_WITHOUT_CONTENT_TYPE]
    probe_code = PROBE.replace("HEAVY_MODULES", repr(HEAVY_MODULES))
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", probe_code, str(task_root), *events],
        cwd=task_root,
        env=function_environment(task_root),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"the handler failed in isolation:\n{result.stderr[-4000:]}"
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    report["answers"] = {Path(path).stem: answer for path, answer in report["answers"].items()}
    return report


def manifest() -> dict[str, Any]:
    """Return the model manifest that ships in the image."""
    loaded: dict[str, Any] = json.loads((ROOT / "model" / "model.json").read_text())
    return loaded


def test_dockerignore_keeps_the_code_and_every_serving_file() -> None:
    patterns = dockerignore_patterns()
    shipped = ["functions/app.py", "functions/requirements.txt", "model/model.json"]
    shipped += [f"model/{name}" for name in manifest()["serving_files"]]
    assert [path for path in shipped if docker_ignores(path, patterns)] == []
    left_out = [
        "tests/test_template.py",
        ".venv/bin/python",
        "training/train.py",
        "model/model.joblib",
        "x.csv",
    ]
    assert all(docker_ignores(path, patterns) for path in left_out)


@pytest.mark.parametrize("name", EVENTS_OK)
def test_handler_answers_event_in_isolation(probe: dict[str, Any], name: str) -> None:
    answer = probe["answers"][name]
    assert answer["status"] == 200, answer


def test_predictions_in_isolation_are_sane(probe: dict[str, Any]) -> None:
    version = manifest()["version"]
    for name in ("rest-predict", "http-predict"):
        prediction = json.loads(probe["answers"][name]["body"])
        assert 0.0 <= prediction["probability_of_default"] <= 1.0
        assert prediction["model_version"] == version
    for name in ("rest-predict-batch", "http-predict-batch"):
        assert json.loads(probe["answers"][name]["body"])


@pytest.mark.parametrize("name", EVENTS_WITHOUT_CONTENT_TYPE)
def test_handler_reads_a_body_without_content_type_as_json(probe: dict[str, Any], name: str) -> None:
    # The events exactly as `sam local generate-event` writes them carry no Content-Type.
    assert probe["answers"][name]["status"] == 200, probe["answers"][name]


def test_docs_behind_the_stage_point_at_the_staged_spec(probe: dict[str, Any]) -> None:
    assert "/Prod/openapi.json" in probe["answers"]["rest-docs"]["body"]
    assert "/Prod/openapi.json" not in probe["answers"]["http-docs"]["body"]


def test_task_root_imports_nothing_heavy_or_from_outside(probe: dict[str, Any]) -> None:
    assert probe["heavy"] == [], f"serving imported {probe['heavy']}"
    assert probe["outside"] == [], f"modules loaded from outside the task root: {probe['outside']}"


def test_task_root_size_is_reported_and_within_budget(task_root: Path) -> None:
    packages = {
        path.name: folder_bytes(path)
        for path in task_root.iterdir()
        if path.is_dir() and not path.name.endswith((".dist-info", "__pycache__"))
    }
    total = folder_bytes(task_root) - (task_root / ".complete").stat().st_size
    report = {
        "requirements_sha256": hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest(),
        "platform": f"manylinux2014_x86_64 / cp{RUNNING_PYTHON.replace('.', '')}",
        "total_mb": round(total / 2**20, 1),
        "functions_kb": round(packages.get("functions", 0) / 2**10, 1),
        "model_kb": round(packages.get("model", 0) / 2**10, 1),
        "largest_mb": {
            name: round(size / 2**20, 1) for name, size in sorted(packages.items(), key=lambda kv: -kv[1])[:8]
        },
    }
    (BUILD / "taskroot-size.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\ntask root: {report['total_mb']} MB; largest: {report['largest_mb']}")
    assert total / 2**20 <= SIZE_BUDGET_MB, report


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


def test_awslambdaric_resolves_the_cmd_handler(task_root: Path, tmp_path: Path) -> None:
    event = (ROOT / "events" / "rest-predict.json").read_bytes()
    server = RuntimeApi(event)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    env = {
        **function_environment(task_root),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_port}",
        "PYTHONPATH": str(task_root),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    log_path = tmp_path / "awslambdaric.log"
    with log_path.open("wb") as log_file:
        client = subprocess.Popen(
            [sys.executable, "-m", "awslambdaric", HANDLER],
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
