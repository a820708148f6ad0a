"""scripts/smoke.py against a moto stack and key, the real app under uvicorn, and a broken stand-in API."""

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from functions.api.gateway.request_state import SYNTHETIC_HEADER
from scripts import smoke
from scripts.local import ROOT, free_port

REGION = "us-east-1"
STACK = "credit-default-smoke"
KEY_VALUE = "smoke-test-key-0123456789abcdefghij"
# moto cannot deploy template.yaml (SAM transform): a plain stack with the same Outputs stands in for it.
STACK_TEMPLATE: dict[str, Any] = {
    "Parameters": {"ApiUrl": {"Type": "String"}, "ApiKeyId": {"Type": "String"}},
    "Resources": {
        "AuditTable": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "request_id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "request_id", "KeyType": "HASH"}],
            },
        }
    },
    "Outputs": {
        "ApiUrl": {"Value": {"Ref": "ApiUrl"}},
        "ApiKeyId": {"Value": {"Ref": "ApiKeyId"}},
        "AuditTableName": {"Value": {"Ref": "AuditTable"}},
    },
}
VERSION = "0123456789ab"
GOOD_ANSWERS: dict[tuple[str, str], tuple[int, Any]] = {
    ("GET", "/v1/health"): (200, {"status": "ok", "model_version": VERSION, "audit": "enabled"}),
    ("GET", "/v1/model"): (200, {"version": VERSION, "threshold": 0.3}),
    ("POST", "/v1/predict"): (
        200,
        {
            "probability_of_default": 0.12,
            "predicted_default": False,
            "threshold": 0.3,
            "score": 712,
            "risk_grade": "B",
            "reasons": [],
            "model_version": VERSION,
            "request_id": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        },
    ),
}


class StandInApi(ThreadingHTTPServer):
    """An API on 127.0.0.1 that answers from a table and, like API Gateway, wants the key on /v1/predict."""

    daemon_threads = True

    def __init__(self, answers: dict[tuple[str, str], tuple[int, Any]], *, require_key: bool) -> None:
        super().__init__(("127.0.0.1", 0), StandInHandler)
        self.answers = answers
        self.require_key = require_key
        self.keys_seen: list[str | None] = []  # x-api-key of each scoring call
        self.marks_seen: list[str | None] = []  # the synthetic-traffic header of each call
        self.refuse_first = 0  # scoring calls refused with 403 first, as while a new key activates


class StandInHandler(BaseHTTPRequestHandler):
    """Answer GET and POST from the server's table."""

    server: StandInApi

    def do_GET(self) -> None:
        """Answer a GET."""
        self.answer("GET")

    def do_POST(self) -> None:
        """Read the body, then answer the POST."""
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.answer("POST")

    def answer(self, method: str) -> None:
        """Send the table's answer, or 403 for a scoring call without the right key."""
        status, body = self.server.answers.get((method, self.path), (404, {"message": "Not Found"}))
        self.server.marks_seen.append(self.headers.get(SYNTHETIC_HEADER))
        if self.path.startswith("/v1/predict"):
            key = self.headers.get("x-api-key")
            self.server.keys_seen.append(key)
            activating = self.server.refuse_first > 0
            self.server.refuse_first -= int(activating)
            if activating or (self.server.require_key and key != KEY_VALUE):
                status, body = 403, {"message": "Forbidden"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""


StandIn = Callable[..., StandInApi]


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    """Start stand-in APIs on free loopback ports (answers overridden per test); stop them afterwards."""
    servers: list[StandInApi] = []

    def start(
        overrides: dict[tuple[str, str], tuple[int, Any]] | None = None, *, require_key: bool = True
    ) -> StandInApi:
        server = StandInApi({**GOOD_ANSWERS, **(overrides or {})}, require_key=require_key)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def url_of(server: StandInApi) -> str:
    """Return the stand-in's base URL."""
    return f"http://127.0.0.1:{server.server_port}"


def create_stack(api_url: str) -> None:
    """Create the stand-in stack whose outputs point at `api_url` and at a real (moto) API key."""
    key = boto3.client("apigateway", region_name=REGION).create_api_key(
        name="credit-default-key", enabled=True, value=KEY_VALUE
    )
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName=STACK,
        TemplateBody=json.dumps(STACK_TEMPLATE),
        Parameters=[
            {"ParameterKey": "ApiUrl", "ParameterValue": api_url},
            {"ParameterKey": "ApiKeyId", "ParameterValue": key["id"]},
        ],
    )


def lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Return what the smoke test printed, line by line."""
    return capsys.readouterr().out.splitlines()


def test_smoke_passes_against_the_real_app(live_api: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert smoke.main(["--url", live_api, "--api-key", "unused-by-uvicorn", "--wait", "5"]) == 0
    printed = lines(capsys)
    assert [line.split(":")[0] for line in printed] == ["PASS health", "PASS model", "PASS predict"], printed


def test_smoke_reads_the_stack_outputs_with_boto3(
    fake_aws: None, live_api: str, capsys: pytest.CaptureFixture[str]
) -> None:
    create_stack(live_api)
    assert smoke.main(["--stack-name", STACK, "--region", REGION, "--wait", "5"]) == 0
    assert lines(capsys)[0] == f"PASS stack: {STACK} -> {live_api}"


def test_smoke_sends_the_stacks_key_value_and_marks_its_traffic(
    fake_aws: None, stand_in: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    server = stand_in()
    create_stack(url_of(server) + "/")
    code = smoke.main(["--stack-name", STACK, "--region", REGION, "--wait", "0", "--expect-key-required"])
    assert code == 0, lines(capsys)
    assert server.keys_seen == [KEY_VALUE, None]  # the scored call with the key, the refusal check without
    assert server.marks_seen == ["smoke"] * 4  # health, model, predict, the refusal check: all synthetic


def test_smoke_fails_when_the_stack_lacks_an_output(
    fake_aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName=STACK,
        TemplateBody=json.dumps({**STACK_TEMPLATE, "Outputs": {"ApiUrl": {"Value": {"Ref": "ApiUrl"}}}}),
        Parameters=[
            {"ParameterKey": "ApiUrl", "ParameterValue": "http://127.0.0.1:9"},
            {"ParameterKey": "ApiKeyId", "ParameterValue": "none"},
        ],
    )
    assert smoke.main(["--stack-name", STACK, "--region", REGION]) == 1
    assert "FAIL stack" in lines(capsys)[0]


def test_smoke_fails_when_the_stack_does_not_exist(
    fake_aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert smoke.main(["--stack-name", "no-such-stack", "--region", REGION]) == 1
    assert lines(capsys)[0].startswith("FAIL stack: no-such-stack")


BROKEN_PREDICTION = GOOD_ANSWERS[("POST", "/v1/predict")][1]


@pytest.mark.parametrize(
    ("overrides", "failing"),
    [
        ({("GET", "/v1/health"): (503, {"error": {"code": "model_unavailable"}})}, "health"),
        ({("GET", "/v1/health"): (200, {"status": "degraded"})}, "health"),
        ({("GET", "/v1/model"): (200, {"name": "no version"})}, "model"),
        ({("GET", "/v1/model"): (500, {"error": {"code": "internal_error"}})}, "model"),
        ({("POST", "/v1/predict"): (200, {**BROKEN_PREDICTION, "probability_of_default": 1.7})}, "predict"),
        ({("POST", "/v1/predict"): (200, {**BROKEN_PREDICTION, "predicted_default": "no"})}, "predict"),
        ({("POST", "/v1/predict"): (200, {**BROKEN_PREDICTION, "model_version": "stale"})}, "predict"),
        ({("POST", "/v1/predict"): (200, {"probability_of_default": 0.1})}, "predict"),
        ({("POST", "/v1/predict"): (422, {"error": {"code": "validation_error"}})}, "predict"),
    ],
    ids=[
        "health-503",
        "health-degraded",
        "model-no-version",
        "model-500",
        "pd-above-one",
        "decision-not-bool",
        "version-mismatch",
        "fields-missing",
        "predict-422",
    ],
)
def test_smoke_fails_on_a_wrong_answer(
    stand_in: StandIn,
    capsys: pytest.CaptureFixture[str],
    overrides: dict[tuple[str, str], tuple[int, Any]],
    failing: str,
) -> None:
    server = stand_in(overrides)
    assert smoke.main(["--url", url_of(server), "--api-key", KEY_VALUE, "--wait", "0"]) == 1
    printed = lines(capsys)
    assert next(line for line in printed if line.startswith("FAIL")).startswith(f"FAIL {failing}:"), printed


def test_smoke_fails_when_the_key_is_not_enforced(live_api: str, capsys: pytest.CaptureFixture[str]) -> None:
    # uvicorn serves the app without API Gateway, so nothing refuses a call without the key.
    assert smoke.main(["--url", live_api, "--api-key", "k", "--wait", "0", "--expect-key-required"]) == 1
    assert lines(capsys)[-1].startswith("FAIL key required:")


def test_smoke_fails_when_nothing_answers(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert smoke.main(["--url", url, "--api-key", "k", "--wait", "0", "--timeout", "2"]) == 1
    assert all(line.startswith("FAIL") for line in lines(capsys))


def test_smoke_runs_as_a_module_and_exits_non_zero_on_failure(stand_in: StandIn) -> None:
    server = stand_in({("GET", "/v1/model"): (200, {})})
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "scripts.smoke",
            "--url",
            url_of(server),
            "--api-key",
            KEY_VALUE,
            "--wait",
            "0",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == "PASS health: 200 status=ok"
    assert "FAIL model:" in result.stdout


def test_smoke_retries_predict_while_the_key_activates(
    stand_in: StandIn, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = stand_in()
    pauses: list[float] = []
    server.refuse_first = 3
    monkeypatch.setattr(smoke.time, "sleep", pauses.append)
    assert smoke.main(["--url", url_of(server), "--api-key", KEY_VALUE, "--wait", "0"]) == 0
    assert pauses == [2.0, 4.0, 8.0]  # backoff, within the default 120 s
    assert sum(line.startswith("WAIT predict: 403") for line in lines(capsys)) == 3


def test_smoke_gives_up_on_403_after_the_key_wait(
    stand_in: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    server = stand_in()
    assert smoke.main(["--url", url_of(server), "--api-key", "bad", "--wait", "0", "--key-wait", "1"]) == 1
    assert 2 <= len(server.keys_seen) <= 3  # the first try, then retries for 1 s only
    assert any(line.startswith("FAIL predict: /v1/predict answered 403") for line in lines(capsys))
