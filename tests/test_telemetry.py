"""JSON logs and CloudWatch embedded-metric-format lines, alone and as the API writes them per request."""

import importlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from functions.api.app import get_app
from functions.telemetry import emit_metrics, logger, start_invocation
from training.synthetic import TYPICAL, generate_rows


@pytest.fixture
def under_lambda(configure: Callable[..., None]) -> None:
    """Run as under Lambda (AWS_LAMBDA_FUNCTION_NAME set), where EMF lines are written."""
    configure(AWS_LAMBDA_FUNCTION_NAME="credit-default-scoring")


def test_logger_writes_json_to_current_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    logger.info("hello", extra={"request_id": "r1"})
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (line["message"], line["request_id"], line["service"], line["level"]) == (
        "hello",
        "r1",
        "credit-default",
        "INFO",
    )


@pytest.mark.parametrize(("count", "records"), [(0, 1), (1, 1), (100, 1), (101, 2), (1000, 10)])
@pytest.mark.usefixtures("under_lambda")
def test_emf_splits_probabilities_into_records_of_100(
    capsys: pytest.CaptureFixture[str], count: int, records: int
) -> None:
    emit_metrics(
        route="/v1/predict/batch",
        status=200,
        latency_ms=12.5,
        probabilities=[0.5] * count,
        predicted_defaults=count,
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == records
    assert sum(len(line.get("ProbabilityOfDefault", [])) for line in lines) == count
    for line in lines:
        definition = line["_aws"]["CloudWatchMetrics"][0]
        declared = {metric["Name"] for metric in definition["Metrics"]}
        assert declared <= set(line)
        assert definition["Dimensions"] == [["service", "route"]]
        assert line["route"] == "/v1/predict/batch"


@pytest.mark.parametrize(("status", "client", "server"), [(200, 0, 0), (422, 1, 0), (503, 0, 1)])
@pytest.mark.usefixtures("under_lambda")
def test_emf_counts_errors_by_class(
    capsys: pytest.CaptureFixture[str], status: int, client: int, server: int
) -> None:
    emit_metrics(route="/v1/health", status=status, latency_ms=1.0)
    line = json.loads(capsys.readouterr().out)
    assert (line["Requests"], line["ClientErrors"], line["ServerErrors"]) == (1, client, server)


CANARY_AMOUNT = 123457.25  # a value no real client has, to find it in logs
CANARY_TEXT = "canary-7f3a9c"


def test_logs_never_contain_applicant_values(client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    applicant = {**TYPICAL, "limit_bal": CANARY_AMOUNT, "bill_amt4": CANARY_AMOUNT}
    client.post("/v1/predict", json=applicant)
    client.post(
        "/v1/predict/batch", json={"applicants": [applicant, {**applicant, CANARY_TEXT: CANARY_TEXT}]}
    )
    client.post("/v1/predict", json={**applicant, "age": CANARY_TEXT})
    client.post(
        "/v1/predict", content=f'{{"{CANARY_TEXT}": '.encode(), headers={"content-type": "application/json"}
    )
    client.get(f"/v1/{CANARY_TEXT}?q={CANARY_TEXT}")
    logged = capsys.readouterr().out
    assert logged.count('"message":"request"') == 5
    for canary in (str(CANARY_AMOUNT), "123457", CANARY_TEXT):
        assert canary not in logged


def emf_lines(output: str) -> list[dict[str, Any]]:
    """Return the CloudWatch embedded-metric-format records printed to stdout."""
    return [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]


@pytest.mark.usefixtures("under_lambda")
def test_metrics_line_per_request_in_emf(client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    client.post("/v1/predict/batch", json={"applicants": generate_rows(250, seed=2)})
    records = emf_lines(capsys.readouterr().out)
    assert len(records) == 3  # 250 PDs: 100 values per EMF record at most
    first = records[0]
    definition = first["_aws"]["CloudWatchMetrics"][0]
    assert definition["Namespace"] == "CreditDefault"
    names = {metric["Name"] for metric in definition["Metrics"]}
    assert {"Requests", "Latency", "ProbabilityOfDefault", "PredictedDefaults", "Decisions"} <= names
    assert (first["Requests"], first["Decisions"], first["route"]) == (1, 250, "/v1/predict/batch")
    assert sum(len(record["ProbabilityOfDefault"]) for record in records) == 250


def test_metrics_can_be_disabled(
    client: TestClient, configure: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    configure(AWS_LAMBDA_FUNCTION_NAME="credit-default-scoring", POWERTOOLS_METRICS_DISABLED="true")
    client.post("/v1/predict", json=TYPICAL)
    assert emf_lines(capsys.readouterr().out) == []


def test_no_emf_outside_lambda(client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    client.post("/v1/predict", json=TYPICAL)
    emit_metrics(route="/v1/health", status=200, latency_ms=1.0)
    output = capsys.readouterr().out
    assert emf_lines(output) == []
    assert output.count('"message":"request"') == 1


def test_line_format_logs_one_short_line_per_request(
    configure: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    configure(LOG_FORMAT="line")
    with TestClient(get_app()) as local:
        rid = local.post("/v1/predict", json={**TYPICAL, "pay_0": 99}).headers["x-request-id"]
        local.get("/v1/health")
    lines = capsys.readouterr().out.splitlines()
    assert [line[9:] for line in lines[-2:]] == [
        f"POST /v1/predict 422 validation_error {lines[-2].split()[-3]} ms id={rid}",
        f"GET /v1/health 200 {lines[-1].split()[-3]} ms id={lines[-1].split('id=')[1]}",
    ]
    assert all("{" not in line for line in lines[-2:])


class FakeLambdaContext:
    """The attributes of Lambda's context object that the logger reads."""

    function_name = "credit-default-shard"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:credit-default-shard"
    memory_limit_in_mb = 1024
    aws_request_id = "req-42"
    log_group_name = "/aws/lambda/credit-default-shard"
    log_stream_name = "stream"


@pytest.mark.parametrize(
    "module",
    [
        "functions.portfolio.shard",
        "functions.portfolio.prepare",
        "functions.portfolio.summarise",
        "functions.api.pretraffic",
        "functions.monitoring.job",
    ],
)
def test_every_lambda_logs_through_the_one_logger(module: str) -> None:
    lambda_module = importlib.import_module(module)
    assert lambda_module.logger is logger
    assert lambda_module.start_invocation is start_invocation


def test_an_invocation_logs_the_api_keys_and_the_lambda_context(
    configure: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    configure(POWERTOOLS_SERVICE_NAME="credit-default-book")
    start_invocation(FakeLambdaContext())
    logger.info("book split into shards", extra={"run": "r1", "rows": 3, "shards": 1})
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (line["service"], line["level"], line["message"], line["rows"]) == (
        "credit-default-book",
        "INFO",
        "book split into shards",
        3,
    )
    assert (line["function_request_id"], line["function_name"]) == ("req-42", "credit-default-shard")
    assert "cold_start" in line
    logger.remove_keys(
        ["cold_start", "function_request_id", "function_name", "function_arn", "function_memory_size"]
    )
    configure(POWERTOOLS_SERVICE_NAME=None)
    start_invocation(None)
