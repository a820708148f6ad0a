"""Real API Gateway payloads (REST v1 with stage Prod, HTTP API v2) through the Lambda `handler`."""

import base64
import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from mangum import Mangum

from functions.app import app, handler
from functions.config import MODEL_DIR
from functions.errors import ErrorResponse
from functions.telemetry import logger
from tests.conftest import load_event
from training.synthetic import HIGH_RISK, TYPICAL

REST_REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"  # requestContext.requestId of the REST events


def with_body(event: dict[str, Any], body: bytes, content_type: str | None = "keep") -> dict[str, Any]:
    """Copy an event with a new base64 body and, unless "keep", a new (or no) Content-Type header."""
    changed = copy.deepcopy(event)
    changed["body"] = base64.b64encode(body).decode()
    changed["isBase64Encoded"] = True
    if content_type != "keep":
        for headers in (changed.get("headers") or {}, changed.get("multiValueHeaders") or {}):
            for name in [name for name in headers if name.lower() == "content-type"]:
                del headers[name]
        if content_type is not None:
            changed.setdefault("headers", {})["Content-Type"] = content_type
            if "multiValueHeaders" in changed:
                changed["multiValueHeaders"]["Content-Type"] = [content_type]
    return changed


def body_of(response: dict[str, Any]) -> Any:
    """Decode a handler response body as JSON."""
    raw = response["body"]
    text = base64.b64decode(raw).decode() if response.get("isBase64Encoded") else raw
    return json.loads(text)


@pytest.fixture
def unbind_context() -> Iterator[None]:
    """Remove the Lambda context keys a handler call adds to every log line."""
    yield
    logger.remove_keys(
        ["cold_start", "function_name", "function_memory_size", "function_arn", "function_request_id"]
    )


def test_handler_is_mangum_without_lifespan() -> None:
    assert isinstance(handler, Mangum)
    assert handler.lifespan == "off"


@pytest.mark.parametrize(
    "name",
    [
        "rest-health",
        "http-health",
        "rest-model",
        "http-model",
        "rest-predict",
        "http-predict",
        "rest-predict-no-content-type",
        "http-predict-no-content-type",
        "rest-predict-batch",
        "http-predict-batch",
    ],
)
def test_handler_answers_generated_event(name: str) -> None:
    response = handler(load_event(name), None)
    assert response["statusCode"] == 200
    assert response["isBase64Encoded"] is False
    assert response["headers"]["content-type"] == "application/json"
    body = body_of(response)
    if "predict" in name:
        predictions = body["predictions"] if "batch" in name else [body]
        assert all(0 <= p["probability_of_default"] <= 1 for p in predictions)


@pytest.mark.parametrize("name", ["rest-predict", "http-predict", "rest-predict-batch", "http-predict-batch"])
def test_handler_answers_like_testclient(name: str) -> None:
    event = load_event(name)
    through_handler = body_of(handler(event, None))
    payload = json.loads(base64.b64decode(event["body"]))
    path = "/v1/predict/batch" if "batch" in name else "/v1/predict"
    direct = TestClient(app).post(path, json=payload).json()
    for answer in (through_handler, direct):
        for prediction in answer.get("predictions", [answer]):
            prediction.pop("request_id")
        answer.pop("request_id", None)
    assert through_handler == direct


def test_handler_uses_gateway_request_id() -> None:
    response = handler(load_event("rest-predict"), None)
    assert body_of(response)["request_id"] == REST_REQUEST_ID
    assert response["headers"]["x-request-id"] == REST_REQUEST_ID


@pytest.mark.parametrize(
    ("name", "openapi_url"), [("rest-docs", "/Prod/openapi.json"), ("http-docs", "/openapi.json")]
)
def test_docs_behind_stage_load_prefixed_openapi(name: str, openapi_url: str) -> None:
    response = handler(load_event(name), None)
    assert response["statusCode"] == 200
    assert response["headers"]["content-type"].startswith("text/html")
    assert f"'{openapi_url}'" in response["body"]


@pytest.mark.parametrize(
    ("name", "servers"), [("api-rest-openapi", [{"url": "/Prod"}]), ("api-http-openapi", None)]
)
def test_openapi_behind_stage_names_stage_as_server(name: str, servers: list[dict[str, str]] | None) -> None:
    response = handler(load_event(name), None)
    assert response["statusCode"] == 200
    spec = body_of(response)
    assert spec.get("servers") == servers
    assert "/v1/predict" in spec["paths"]


def test_http_api_named_stage_is_stripped_from_path() -> None:
    event = load_event("http-health")
    event["requestContext"]["stage"] = "prod"
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/prod/v1/health"
    response = handler(event, None)
    assert response["statusCode"] == 200
    assert body_of(response)["status"] == "ok"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (json.dumps({**TYPICAL, "pay_0": True}).encode(), "keep", 422, "validation_error"),
        (json.dumps({**TYPICAL, "extra": 1}).encode(), None, 422, "validation_error"),
        (b'{"limit_bal": 1e999', "keep", 400, "malformed_json"),
        (json.dumps(TYPICAL).encode(), "text/plain", 415, "unsupported_media_type"),
        (json.dumps(TYPICAL).encode(), "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b" " * (1024 * 1024 + 1), "keep", 413, "payload_too_large"),
    ],
)
@pytest.mark.parametrize("name", ["rest-predict", "http-predict"])
def test_handler_rejects_bad_request_in_error_schema(
    name: str, body: bytes, content_type: str | None, status: int, code: str
) -> None:
    response = handler(with_body(load_event(name), body, content_type), None)
    assert response["statusCode"] == status
    error = ErrorResponse.model_validate(body_of(response)).error
    assert error.code == code
    assert '"input"' not in response["body"]


def test_handler_batch_error_names_index() -> None:
    body = json.dumps({"applicants": [TYPICAL, {**HIGH_RISK, "pay_3": "2"}]}).encode()
    response = handler(with_body(load_event("rest-predict-batch"), body), None)
    assert response["statusCode"] == 422
    fields = body_of(response)["error"]["fields"]
    assert [(f["field"], f["index"]) for f in fields] == [("applicants[1].pay_3", 1)]


@pytest.mark.usefixtures("unbind_context")
def test_handler_logs_lambda_context_and_gateway_id(
    lambda_context: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    handler(load_event("rest-predict"), lambda_context)
    lines = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if '"message":"request"' in line
    ]
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == REST_REQUEST_ID
    assert line["function_request_id"] == lambda_context.aws_request_id
    assert line["function_name"] == lambda_context.function_name
    assert "cold_start" in line
    assert line["route"] == "/v1/predict"


def test_handler_refuses_to_score_with_missing_artifact(
    configure: Callable[..., None], tmp_path: Path
) -> None:
    (tmp_path / "model.json").write_bytes((MODEL_DIR / "model.json").read_bytes())
    configure(MODEL_DIR=str(tmp_path))
    for name in ("rest-health", "rest-predict"):
        response = handler(load_event(name), None)
        assert response["statusCode"] == 503
        error = body_of(response)["error"]
        assert error["code"] == "model_unavailable"
        assert "serving.npz" in error["message"]


def test_handler_scores_a_batch_inline_under_lambda(configure: Callable[..., None]) -> None:
    """Under Lambda (AWS_LAMBDA_FUNCTION_NAME set) a batch is scored without a worker thread, identically."""
    event = load_event("rest-predict-batch")
    in_thread = body_of(handler(event, None))
    configure(AWS_LAMBDA_FUNCTION_NAME="credit-default-scoring")
    inline = body_of(handler(event, None))
    for answer in (in_thread, inline):
        for prediction in answer["predictions"]:
            prediction.pop("request_id")
        answer.pop("request_id")
    assert inline == in_thread
