"""Faults: damaged artifacts through the app, a read-only filesystem, personal data in logs, and an audit
store outage with the real retry configuration.

Complements tests/test_scoring.py (load_model refuses damaged files) and tests/test_audit.py (each fault
code fails closed once): here the whole app is observed under each fault, timed and logged.
"""

import base64
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError
from botocore.stub import Stubber
from fastapi.testclient import TestClient

from functions import audit
from functions.app import handler
from functions.config import MODEL_DIR, get_settings
from functions.telemetry import logger
from scripts.local import ROOT
from training.synthetic import HIGH_RISK, TYPICAL, generate_rows

TABLE: Final = "credit-default-audit"
HASH_KEY: Final = "k" * 40


# --- artifact faults ---------------------------------------------------------------------------------


def flip_byte(model_dir: Path) -> None:
    data = bytearray((model_dir / "serving.npz").read_bytes())
    data[len(data) // 2] ^= 0x01
    (model_dir / "serving.npz").write_bytes(bytes(data))


def truncate(model_dir: Path) -> None:
    data = (model_dir / "serving.npz").read_bytes()
    (model_dir / "serving.npz").write_bytes(data[: len(data) // 2])


def remove(model_dir: Path) -> None:
    (model_dir / "serving.npz").unlink()


def edit_manifest(model_dir: Path, change: Callable[[dict[str, Any]], None]) -> None:
    manifest = json.loads((model_dir / "model.json").read_text())
    change(manifest)
    (model_dir / "model.json").write_text(json.dumps(manifest))


def wrong_hash(model_dir: Path) -> None:
    edit_manifest(model_dir, lambda m: m["artifacts"].update({"serving.npz": "0" * 64}))


def wrong_numpy(model_dir: Path) -> None:
    edit_manifest(model_dir, lambda m: m["libraries"].update({"numpy": "1.26.4"}))


DAMAGES: Final = {
    "flipped byte": (flip_byte, "serving.npz", "does not match the manifest"),
    "truncated file": (truncate, "serving.npz", "does not match the manifest"),
    "missing file": (remove, "serving.npz", "missing"),
    "manifest hash mismatch": (wrong_hash, "serving.npz", "does not match the manifest"),
    "wrong library version": (wrong_numpy, "model.json", "built with numpy 1.26.4"),
}
_watching: list[str] = []  # audit events seen while a test watches for unpickling


def _watch(event: str, args: tuple[Any, ...]) -> None:
    if _watching and event == "pickle.find_class":
        _watching.append(f"{event} {args[:2]}")
    elif _watching and event == "open" and str(args[0]).endswith((".joblib", ".pkl", ".pickle")):
        _watching.append(f"open {args[0]}")


sys.addaudithook(_watch)  # audit hooks cannot be removed; this one only records while `_watching` is on


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_damaged_artifact_refuses_to_serve_with_one_log_line(
    client: TestClient,
    configure: Callable[..., None],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    damage: str,
) -> None:
    spoil, name, problem = DAMAGES[damage]
    model_dir = tmp_path / "model"
    shutil.copytree(MODEL_DIR, model_dir)
    spoil(model_dir)
    configure(MODEL_DIR=str(model_dir))
    _watching.append("on")
    try:
        answers = [
            client.get("/v1/health"),
            client.post("/v1/predict", json=TYPICAL),
            client.post("/v1/predict/batch", json={"applicants": [TYPICAL, HIGH_RISK]}),
            client.get("/v1/model"),
        ]
    finally:
        seen, _watching[:] = _watching[1:], []
    assert seen == [], "nothing may be unpickled or a pickle opened while serving"
    for answer in answers:
        assert answer.status_code == 503
        error = answer.json()["error"]
        assert error["code"] == "model_unavailable"
        assert name in error["message"]
        assert "probability_of_default" not in answer.text
    logged = [line for line in capsys.readouterr().out.splitlines() if "model unavailable" in line]
    assert len(logged) == 1, logged
    assert name in logged[0]
    assert problem in logged[0]


def test_healthy_copy_serves(client: TestClient, configure: Callable[..., None], tmp_path: Path) -> None:
    # The control for the damages above: the copy itself, undamaged, serves.
    shutil.copytree(MODEL_DIR, tmp_path / "model")
    configure(MODEL_DIR=str(tmp_path / "model"))
    assert client.get("/v1/health").status_code == 200
    assert client.post("/v1/predict", json=TYPICAL).status_code == 200


# --- read-only filesystem ----------------------------------------------------------------------------

# Runs in a fresh process. An audit hook refuses every write outside TMPDIR with EROFS, as Lambda's
# read-only filesystem does; chmod alone would not stop root. It then serves two events and reports.
READ_ONLY_RUNNER: Final = r"""
import errno, json, os, sys
writable = os.path.realpath(os.environ["TMPDIR"])
blocked = []
WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def outside(path):
    if isinstance(path, int):
        return False
    real = os.path.realpath(os.fsdecode(path))
    return not (real == writable or real.startswith(writable + os.sep) or real == "/dev/null")


def read_only(event, args):
    if event == "open":
        path, mode, flags = args
        writes = (mode is not None and any(c in str(mode) for c in "wax+")) or (
            mode is None and isinstance(flags, int) and flags & WRITE
        )
        if writes and outside(path):
            blocked.append(os.fsdecode(path))
            raise OSError(errno.EROFS, "Read-only file system", path)
    elif event in ("os.mkdir", "os.remove", "os.rmdir", "os.rename", "os.replace", "os.truncate",
                   "os.chmod", "os.symlink", "os.link", "os.utime"):
        if args and outside(args[0]):
            blocked.append(f"{event} {args[0]}")
            raise OSError(errno.EROFS, "Read-only file system", args[0])


sys.addaudithook(read_only)
try:
    open(os.path.join(sys.argv[1], "probe"), "w")
except OSError as err:
    probe = err.errno
else:
    probe = None
from functions.app import handler
answers = {}
for name in sys.argv[2:]:
    with open(os.path.join(sys.argv[1], "events", name + ".json")) as handle:
        answers[name] = handler(json.load(handle), None)["statusCode"]
print("RESULT " + json.dumps({"probe": probe, "answers": answers, "blocked": blocked}))
"""


def test_handler_serves_with_only_tmp_writable(tmp_path: Path) -> None:
    task = tmp_path / "task"
    for folder in ("functions", "model", "events"):
        shutil.copytree(ROOT / folder, task / folder, ignore=shutil.ignore_patterns("__pycache__"))
    writable = tmp_path / "tmp"
    writable.mkdir()
    for path in [task, *task.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(task),
        "HOME": str(writable),
        "TMPDIR": str(writable),
        "OMP_NUM_THREADS": "1",
        "AWS_LAMBDA_FUNCTION_NAME": "credit-default-scoring",
    }
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                READ_ONLY_RUNNER,
                str(task),
                "rest-health",
                "rest-predict",
                "http-predict",
            ],
            cwd=task,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        for path in [task, *task.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-2000:]
    result = json.loads(lines[0][len("RESULT ") :])
    assert result["probe"] == 30  # errno.EROFS: the guard really refuses writes outside TMPDIR
    assert result["answers"] == {"rest-health": 200, "rest-predict": 200, "http-predict": 200}
    # Besides the probe, only bytecode caches were refused (Python skips those silently), so the app
    # itself never tries to write outside TMPDIR.
    others = [path for path in result["blocked"] if not path.endswith("probe")]
    assert all("__pycache__" in path for path in others), others


# --- no personal data in logs ------------------------------------------------------------------------

CANARY_LIMIT: Final = 987654
CANARY_BILL: Final = 4321.987
CANARY_PAID: Final = 31415.92
CANARY_ID: Final = "applicant-Jane-Q-Canary-A123456789"
CANARIES: Final = ("987654", "4321.98", "31415.9", "Canary", "A123456789")


def canary_requests() -> Iterator[tuple[str, str, dict[str, str], Any]]:
    """Yield 200 requests (method, path, headers, JSON body) that carry canary values in every place."""
    marked = {**TYPICAL, "limit_bal": CANARY_LIMIT, "bill_amt3": CANARY_BILL, "pay_amt2": CANARY_PAID}
    rows = generate_rows(200, seed=99)
    headers = {"x-applicant-id": CANARY_ID, "user-agent": CANARY_ID}
    for i in range(200):
        row = {**rows[i], "limit_bal": CANARY_LIMIT + 0.5 * (i % 2), "bill_amt3": CANARY_BILL}
        kind = i % 8
        if kind == 0:
            yield "POST", "/v1/predict/batch", headers, {"applicants": [marked, row]}
        elif kind == 1:
            yield "POST", "/v1/predict", headers, {**row, "customer_name": CANARY_ID}
        elif kind == 2:
            yield "POST", "/v1/predict", headers, {**row, "age": CANARY_ID}
        elif kind == 3:
            yield "POST", "/v1/predict", headers, {**row, "pay_0": CANARY_LIMIT}
        elif kind == 4:
            yield "GET", f"/v1/{CANARY_ID}?national_id={CANARY_ID}", headers, None
        elif kind == 5:
            yield "POST", f"/v1/predict?national_id={CANARY_ID}", headers, {**row, CANARY_ID: CANARY_LIMIT}
        else:
            yield "POST", "/v1/predict", headers, row


def through_handler(event: dict[str, Any], method: str, path: str, headers: dict[str, str], body: Any) -> int:
    """Send one request through the Lambda handler as a copy of a REST v1 event, changed in place."""
    route, _, query = path.partition("?")
    event["httpMethod"], event["path"] = method, route
    event["requestContext"]["path"] = f"/Prod{route}"
    event["queryStringParameters"] = dict([query.split("=", 1)]) if query else None
    event["multiValueQueryStringParameters"] = None
    event["headers"] = {**event["headers"], **headers}
    event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    event["body"] = base64.b64encode(json.dumps(body).encode()).decode() if body is not None else None
    event["isBase64Encoded"] = body is not None
    return int(handler(event, None)["statusCode"])


def test_no_canary_value_in_any_log_line(
    client: TestClient,
    load_event: Callable[[str], dict[str, Any]],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(logger, "level", logging.DEBUG, raising=False)
    logger.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    statuses = []
    try:
        for i, (method, path, headers, body) in enumerate(canary_requests()):
            if i % 2:
                statuses.append(through_handler(load_event("rest-predict"), method, path, headers, body))
            else:
                statuses.append(client.request(method, path, headers=headers, json=body).status_code)
    finally:
        logger.setLevel(get_settings().log_level)
    out, err = capfd.readouterr()
    # Every logger but the test client's own (httpx logs the URL it requests, on the client side).
    served = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    records = "\n".join(f"{r.name} {r.getMessage()} {r.__dict__}" for r in served)
    logged = "\n".join([out, err, records])
    assert len(statuses) == 200
    assert statuses.count(200) == 75  # 3 of every 8 requests are valid
    assert {404, 422} <= set(statuses)
    assert logged.count('"message":"request"') == 200
    for canary in CANARIES:
        assert canary not in logged, canary


# --- audit store outage ------------------------------------------------------------------------------


class Raw:
    """The raw body of a canned HTTP response."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def fail_on_the_wire(kind: str, attempts: list[float]) -> Callable[..., AWSResponse]:
    """Return a botocore before-send hook that fails every DynamoDB call like an outage of `kind`:
    botocore parses the answer and applies the configured retries and backoff, as with a real outage."""
    settings = get_settings()

    def hook(request: Any, **_: Any) -> AWSResponse:
        attempts.append(time.perf_counter())
        if kind == "timeout":
            time.sleep(settings.audit_timeout_seconds)
            raise ReadTimeoutError(endpoint_url=request.url)
        code = {"throttling": "ThrottlingException", "access denied": "AccessDeniedException"}[kind]
        body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": kind}).encode()
        return AWSResponse(request.url, 400, {"x-amzn-ErrorType": code}, Raw(body))

    return hook


@pytest.fixture
def audited(aws_credentials: None, configure: Callable[..., None]) -> Any:
    """The app auditing to DynamoDB with an env HMAC key; returns the container's DynamoDB client."""
    configure(AUDIT_TABLE=TABLE, AUDIT_HASH_KEY=HASH_KEY)
    return audit.dynamodb()


def p99(durations: list[float]) -> float:
    """Return the 99th percentile (the largest value for fewer than 100 samples)."""
    return (
        statistics.quantiles(durations, n=100, method="inclusive")[98] if len(durations) > 1 else durations[0]
    )


@pytest.mark.parametrize(("kind", "calls"), [("throttling", 12), ("access denied", 40), ("timeout", 8)])
def test_audit_outage_fails_closed_fast_and_recovers(
    audited: Any, client: TestClient, capsys: pytest.CaptureFixture[str], kind: str, calls: int
) -> None:
    attempts: list[float] = []
    hook = fail_on_the_wire(kind, attempts)
    audited.meta.events.register_first("before-send.dynamodb.PutItem", hook)
    durations = []
    try:
        for _ in range(calls):
            started = time.perf_counter()
            response = client.post("/v1/predict", json=TYPICAL)
            durations.append(time.perf_counter() - started)
            assert response.status_code == 503
            assert response.json()["error"]["code"] == "audit_unavailable"
            assert "probability_of_default" not in response.text
    finally:
        audited.meta.events.unregister("before-send.dynamodb.PutItem", hook)
    logged = [line for line in capsys.readouterr().out.splitlines() if "audit write failed" in line]
    assert len(logged) == calls
    assert p99(durations) <= 2.0, f"p99 {p99(durations):.3f} s"
    retried = kind != "access denied"  # botocore retries throttling and timeouts, not a refusal
    assert len(attempts) == calls * (get_settings().audit_max_attempts if retried else 1)
    with Stubber(audited) as stubber:  # the outage is over: the very next request is decided and recorded
        stubber.add_response("put_item", {})
        recovered = client.post("/v1/predict", json=TYPICAL)
        stubber.assert_no_pending_responses()
    assert recovered.status_code == 200
    assert 0 <= recovered.json()["probability_of_default"] <= 1
    print(f"{kind}: {calls} calls, p50 {statistics.median(durations):.3f} s, max {max(durations):.3f} s")


@pytest.mark.parametrize("code", ["ThrottlingException", "AccessDeniedException", "RequestTimeout"])
def test_batch_audit_outage_returns_no_decision(audited: Any, client: TestClient, code: str) -> None:
    with Stubber(audited) as stubber:
        stubber.add_client_error("batch_write_item", service_error_code=code)
        stubber.add_response("batch_write_item", {"UnprocessedItems": {}})
        failed = client.post("/v1/predict/batch", json={"applicants": [TYPICAL, HIGH_RISK]})
        recovered = client.post("/v1/predict/batch", json={"applicants": [TYPICAL, HIGH_RISK]})
    assert failed.status_code == 503
    assert "predictions" not in failed.text
    assert recovered.status_code == 200
    assert len(recovered.json()["predictions"]) == 2
