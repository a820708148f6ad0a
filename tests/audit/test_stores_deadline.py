"""Audit writes within the Lambda deadline: 503 before the time runs out, never a 502 after partial writes."""

import json
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from functions.api.app import handler
from functions.api.serving import load_serving_strategy
from functions.audit import stores as audit
from functions.config import get_settings
from training.synthetic import generate_rows

TABLE = "credit-default-audit"
UNPROCESSED = {"UnprocessedItems": {TABLE: [{"PutRequest": {"Item": {"request_id": {"S": "x"}}}}]}}


def batch_event(load_event: Callable[[str], dict[str, Any]], with_body: Callable[..., Any], rows: int) -> Any:
    """A REST API event posting `rows` generated applicants to /v1/predict/batch."""
    body = json.dumps({"applicants": generate_rows(rows, seed=5)}).encode()
    return with_body(load_event("rest-predict-batch"), body)


def context_with(lambda_context: SimpleNamespace, seconds: float) -> SimpleNamespace:
    """The Lambda context with `seconds` left in this invocation."""
    lambda_context.get_remaining_time_in_millis = lambda: int(seconds * 1000)
    return lambda_context


@pytest.fixture
def moto_audit(
    aws_credentials: None, configure: Callable[..., None], create_audit_table: Callable[[Any, str], None]
) -> Iterator[Any]:
    """Moto's DynamoDB with the audit table; the app audits to it (0.4 s x 2 attempts per call)."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_audit_table(client, TABLE)
        configure(AUDIT_TABLE=TABLE, AUDIT_HASH_KEY="k" * 40)
        load_serving_strategy()  # a warm container: the timed request measures the request, not the model's load
        yield client


def test_batch_without_time_for_its_writes_answers_503_and_writes_nothing(
    moto_audit: Any,
    load_event: Callable[[str], dict[str, Any]],
    with_body: Callable[..., Any],
    body_of: Callable[[dict[str, Any]], Any],
    lambda_context: SimpleNamespace,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # 60 applicants: 3 BatchWriteItem calls x 0.4 s x 2 attempts = 2.4 s; 1.5 s margin + 2.0 s is too little.
    started = time.monotonic()
    answer = handler(batch_event(load_event, with_body, 60), context_with(lambda_context, 3.5))
    assert time.monotonic() - started < 1.0
    assert answer["statusCode"] == 503
    assert body_of(answer)["error"]["code"] == "audit_unavailable"
    assert moto_audit.scan(TableName=TABLE)["Count"] == 0
    logged = [line for line in capsys.readouterr().out.splitlines() if "audit write failed" in line]
    assert "left before the Lambda deadline" in logged[0]


def test_batch_with_time_for_its_writes_records_every_decision(
    moto_audit: Any,
    load_event: Callable[[str], dict[str, Any]],
    with_body: Callable[..., Any],
    lambda_context: SimpleNamespace,
) -> None:
    answer = handler(batch_event(load_event, with_body, 60), context_with(lambda_context, 30.0))
    assert answer["statusCode"] == 200
    assert moto_audit.scan(TableName=TABLE)["Count"] == 60


def test_single_decision_without_time_left_answers_503(
    moto_audit: Any,
    load_event: Callable[[str], dict[str, Any]],
    body_of: Callable[[dict[str, Any]], Any],
    lambda_context: SimpleNamespace,
) -> None:
    answer = handler(load_event("rest-predict"), context_with(lambda_context, 2.0))
    assert answer["statusCode"] == 503
    assert body_of(answer)["error"]["code"] == "audit_unavailable"
    assert moto_audit.scan(TableName=TABLE)["Count"] == 0


def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give each DynamoDB attempt 0.1 s (settings only: `configure` would drop the stubbed client)."""
    monkeypatch.setenv("AUDIT_TIMEOUT_SECONDS", "0.1")
    get_settings.cache_clear()


def slow_calls(stubbed_audit: Stubber, seconds: float) -> list[float]:
    """Make every BatchWriteItem take `seconds` before its stubbed answer; return the list of call times."""
    calls: list[float] = []

    def slow(**_: Any) -> None:
        calls.append(time.monotonic())
        time.sleep(seconds)

    stubbed_audit.client.meta.events.register_first("before-parameter-build.dynamodb.BatchWriteItem", slow)
    return calls


def test_slow_dynamodb_stops_before_the_deadline_with_503(
    stubbed_audit: Stubber,
    monkeypatch: pytest.MonkeyPatch,
    load_event: Callable[[str], dict[str, Any]],
    with_body: Callable[..., Any],
    lambda_context: SimpleNamespace,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # 0.1 s x 2 attempts per call: 3 calls fit in 0.7 s; after a 0.4 s first call, 2 calls no longer fit.
    short_timeouts(monkeypatch)
    calls = slow_calls(stubbed_audit, 0.4)
    stubbed_audit.add_response("batch_write_item", {"UnprocessedItems": {}})
    load_serving_strategy()  # a warm container: the timed request measures the request, not the model's load
    started = time.monotonic()
    answer = handler(batch_event(load_event, with_body, 60), context_with(lambda_context, 2.2))
    assert answer["statusCode"] == 503
    assert time.monotonic() - started < 2.2 - 1.0  # answered with most of the margin still left
    assert len(calls) == 1
    stubbed_audit.assert_no_pending_responses()
    logged = [line for line in capsys.readouterr().out.splitlines() if "audit write failed" in line]
    assert "25 of 60 records of this request were written before" in logged[0]


def test_throttled_batch_does_not_resend_past_the_deadline(
    stubbed_audit: Stubber,
    monkeypatch: pytest.MonkeyPatch,
    load_event: Callable[[str], dict[str, Any]],
    with_body: Callable[..., Any],
    lambda_context: SimpleNamespace,
) -> None:
    short_timeouts(monkeypatch)
    calls = slow_calls(stubbed_audit, 0.1)
    stubbed_audit.add_response("batch_write_item", UNPROCESSED)
    answer = handler(batch_event(load_event, with_body, 10), context_with(lambda_context, 1.5 + 0.25))
    assert answer["statusCode"] == 503
    assert len(calls) == 1
    stubbed_audit.assert_no_pending_responses()


def test_read_timeout_is_capped_at_the_time_left(
    aws_credentials: None, configure: Callable[..., None]
) -> None:
    configure(AUDIT_TIMEOUT_SECONDS="0.4", AUDIT_MAX_ATTEMPTS="2")
    assert audit.client_before(None).meta.config.read_timeout == 0.4
    capped = audit.client_before(time.monotonic() + 0.35)  # 0.175 s per attempt, cut to 50 ms steps
    assert capped.meta.config.read_timeout == pytest.approx(0.15)
    assert capped.meta.config.connect_timeout == pytest.approx(0.15)
