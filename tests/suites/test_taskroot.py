"""The Lambda image's task root, built as the Dockerfile builds it, answering events without Docker."""

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from scripts.cfn import load_template
from scripts.local import ROOT
from scripts.taskroot import (
    BUILD,
    IMAGE_PYTHON,
    REQUIREMENTS,
    RUNNING_PYTHON,
    build_task_root,
    docker_ignores,
    dockerignore_patterns,
    function_environment,
    image_python,
    interpreter,
)

pytestmark = pytest.mark.slow

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


def folder_bytes(folder: Path) -> int:
    """Return the size of the files under a folder."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


# The development Python, and the image's (CPython 3.13, pyenv's here): the same task root runs on both.
PYTHONS = sorted({RUNNING_PYTHON, IMAGE_PYTHON})


@pytest.fixture(scope="module", params=PYTHONS, ids=[f"py{v}" for v in PYTHONS])
def python(request: pytest.FixtureRequest) -> str:
    """The Python version a task root is built for and run by."""
    version: str = request.param
    return version


@pytest.fixture(scope="module")
def task_root(python: str) -> Path:
    """The task root as the image gets it, for one Python (dependencies cached under build/)."""
    return build_task_root(python)


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


from functions.api.app import handler

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


def run_isolated(
    python: str, task_root: Path, code: str, args: list[str]
) -> subprocess.CompletedProcess[str]:
    """Run `code` (HEAVY_MODULES filled in) with `args` in an interpreter that sees only the stdlib and the task
    root, in the function's environment."""
    code = code.replace("HEAVY_MODULES", repr(HEAVY_MODULES))
    return subprocess.run(
        [interpreter(python), "-I", "-S", "-B", "-c", code, str(task_root), *args],
        cwd=task_root,
        env=function_environment(task_root),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def probe(task_root: Path, python: str) -> dict[str, Any]:
    """Feed every event to the handler in an interpreter that sees only the stdlib and the task root."""
    events = [str(ROOT / "events" / f"{name}.json") for name in EVENTS_OK + EVENTS_WITHOUT_CONTENT_TYPE]
    result = run_isolated(python, task_root, PROBE + VERSION_LINE, events)
    assert result.returncode == 0, f"the handler failed in isolation:\n{result.stderr[-4000:]}"
    *_, answers, version = result.stdout.strip().splitlines()
    assert version == python, f"the task root for {python} ran on Python {version}"
    report: dict[str, Any] = json.loads(answers)
    report["answers"] = {Path(path).stem: answer for path, answer in report["answers"].items()}
    return report


VERSION_LINE = "\nprint('%d.%d' % sys.version_info[:2])\n"


def test_the_images_python_is_on_this_machine() -> None:
    # Not a skip: without CPython 3.13 the image's interpreter would go untested here.
    result = subprocess.run(
        [str(image_python()), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == IMAGE_PYTHON


def manifest() -> dict[str, Any]:
    """Return the model manifest that ships in the image."""
    loaded: dict[str, Any] = json.loads((ROOT / "model" / "model.json").read_text())
    return loaded


def test_dockerignore_keeps_the_code_and_every_serving_file() -> None:
    patterns = dockerignore_patterns()
    shipped = ["functions/api/app.py", "functions/requirements.txt", "model/model.json"]
    shipped += [f"model/{name}" for name in manifest()["serving_files"]]
    assert [path for path in shipped if docker_ignores(path, patterns)] == []
    left_out = [
        "tests/suites/test_template.py",
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


def test_task_root_size_is_reported_and_within_budget(task_root: Path, python: str) -> None:
    packages = {
        path.name: folder_bytes(path)
        for path in task_root.iterdir()
        if path.is_dir() and not path.name.endswith((".dist-info", "__pycache__"))
    }
    total = folder_bytes(task_root) - (task_root / ".complete").stat().st_size
    report = {
        "requirements_sha256": hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest(),
        "platform": f"cp{python.replace('.', '')}",
        "total_mb": round(total / 2**20, 1),
        "functions_kb": round(packages.get("functions", 0) / 2**10, 1),
        "model_kb": round(packages.get("model", 0) / 2**10, 1),
        "largest_mb": {
            name: round(size / 2**20, 1) for name, size in sorted(packages.items(), key=lambda kv: -kv[1])[:8]
        },
    }
    (BUILD / f"taskroot-size-py{python.replace('.', '')}.json").write_text(
        json.dumps(report, indent=2) + "\n"
    )
    print(f"\ntask root: {report['total_mb']} MB; largest: {report['largest_mb']}")
    assert total / 2**20 <= SIZE_BUDGET_MB, report


# Every other Lambda of template.yaml runs the same image with its own handler (ImageConfig Command).
HANDLERS_PROBE = r"""
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
for command in sys.argv[2:]:
    module, attribute = command.rsplit(".", 1)
    assert callable(getattr(importlib.import_module(module), attribute)), command
print(json.dumps(sorted(name for name in HEAVY_MODULES if name in sys.modules)))
"""


def image_commands() -> list[str]:
    """Return the handler each image function of template.yaml names in its ImageConfig Command."""
    resources = load_template()["Resources"].values()
    return sorted(
        {
            r["Properties"]["ImageConfig"]["Command"][0]
            for r in resources
            if "ImageConfig" in r.get("Properties", {})
        }
    )


def test_every_lambda_handler_of_the_template_imports_in_isolation(task_root: Path, python: str) -> None:
    commands = image_commands()
    assert {"functions.monitoring.loop.outcome_drop.handler", "functions.monitoring.job.handler"} <= set(
        commands
    )
    result = run_isolated(python, task_root, HANDLERS_PROBE, commands)
    assert result.returncode == 0, f"a handler failed to import in isolation:\n{result.stderr[-4000:]}"
    assert json.loads(result.stdout) == [], "a Lambda handler imported a heavy module"
