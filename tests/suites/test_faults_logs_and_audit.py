"""Fault injection, continued: no personal data in any log line, and audit-store outages that fail closed."""

import base64
import json
import logging
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any, Final

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError
from botocore.stub import Stubber
from fastapi.testclient import TestClient

from functions.api.app import handler
from functions.api.serving import load_serving_strategy
from functions.audit import stores as audit
from functions.config import get_settings
from functions.telemetry import logger
from training.synthetic import HIGH_RISK, TYPICAL, generate_rows

TABLE: Final = "credit-default-audit"
HASH_KEY: Final = "k" * 40


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
    load_serving_strategy()  # a warm container: the timed requests measure the request, not the model's load
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
