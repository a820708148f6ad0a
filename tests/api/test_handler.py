"""Lambda events saved under events/ (REST v1 and HTTP v2, as `sam local generate-event` makes them) through
`handler`: answers, the gateway's request id, the stage prefix, errors in the schema, logs, Lambda mode."""

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from mangum import Mangum

from functions.api.app import adapter, handler
from functions.api.errors import ErrorResponse
from functions.config import MODEL_DIR
from functions.scoring.contract import MAX_BATCH
from functions.telemetry import logger
from training.synthetic import HIGH_RISK, TYPICAL

"""Real API Gateway payloads (REST v1 with stage Prod, HTTP API v2) through the Lambda `handler`."""
REST_REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"  # requestContext.requestId of the REST events


@pytest.fixture
def unbind_context() -> Iterator[None]:
    """Remove the Lambda context keys a handler call adds to every log line."""
    yield
    logger.remove_keys(
        ["cold_start", "function_name", "function_memory_size", "function_arn", "function_request_id"]
    )


def test_handler_hands_events_to_one_mangum_adapter_without_lifespan() -> None:
    assert isinstance(adapter(), Mangum)
    assert adapter() is adapter()
    assert adapter().lifespan == "off"


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
def test_handler_answers_generated_event(
    name: str, load_event: Callable[[str], dict[str, Any]], body_of: Callable[[dict[str, Any]], Any]
) -> None:
    response = handler(load_event(name), None)
    assert response["statusCode"] == 200
    assert response["isBase64Encoded"] is False
    assert response["headers"]["content-type"] == "application/json"
    body = body_of(response)
    if "predict" in name:
        predictions = body["predictions"] if "batch" in name else [body]
        assert all(0 <= p["probability_of_default"] <= 1 for p in predictions)


@pytest.mark.parametrize("name", ["rest-predict", "http-predict", "rest-predict-batch", "http-predict-batch"])
def test_handler_answers_like_testclient(
    client: TestClient,
    name: str,
    load_event: Callable[[str], dict[str, Any]],
    body_of: Callable[[dict[str, Any]], Any],
) -> None:
    event = load_event(name)
    through_handler = body_of(handler(event, None))
    payload = json.loads(base64.b64decode(event["body"]))
    path = "/v1/predict/batch" if "batch" in name else "/v1/predict"
    direct = client.post(path, json=payload).json()
    for answer in (through_handler, direct):
        for prediction in answer.get("predictions", [answer]):
            prediction.pop("request_id")
        answer.pop("request_id", None)
    assert through_handler == direct


def test_handler_uses_gateway_request_id(
    load_event: Callable[[str], dict[str, Any]], body_of: Callable[[dict[str, Any]], Any]
) -> None:
    response = handler(load_event("rest-predict"), None)
    assert body_of(response)["request_id"] == REST_REQUEST_ID
    assert response["headers"]["x-request-id"] == REST_REQUEST_ID


@pytest.mark.parametrize(
    ("name", "openapi_url"), [("rest-docs", "/Prod/openapi.json"), ("http-docs", "/openapi.json")]
)
def test_docs_behind_stage_load_prefixed_openapi(
    name: str, openapi_url: str, load_event: Callable[[str], dict[str, Any]]
) -> None:
    response = handler(load_event(name), None)
    assert response["statusCode"] == 200
    assert response["headers"]["content-type"].startswith("text/html")
    assert f"'{openapi_url}'" in response["body"]


@pytest.mark.parametrize(("name", "prefix"), [("rest-docs", "/Prod"), ("http-docs", "")])
@pytest.mark.parametrize("asset", ["swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"])
def test_docs_assets_served_behind_stage(
    name: str, prefix: str, asset: str, load_event: Callable[[str], dict[str, Any]]
) -> None:
    page = handler(load_event(name), None)
    assert f"{prefix}/docs-assets/" in page["body"]
    event = load_event(name)
    if event.get("version") == "2.0":
        event["rawPath"] = event["requestContext"]["http"]["path"] = f"/docs-assets/{asset}"
    else:
        event["path"], event["requestContext"]["path"] = f"/docs-assets/{asset}", f"/Prod/docs-assets/{asset}"
    response = handler(event, None)
    assert response["statusCode"] == 200
    assert len(response["body"]) > 100_000
    assert response["headers"]["content-type"].startswith(("text/", "application/javascript"))


@pytest.mark.parametrize(
    ("name", "servers"), [("api-rest-openapi", [{"url": "/Prod"}]), ("api-http-openapi", None)]
)
def test_openapi_behind_stage_names_stage_as_server(
    name: str,
    servers: list[dict[str, str]] | None,
    load_event: Callable[[str], dict[str, Any]],
    body_of: Callable[[dict[str, Any]], Any],
) -> None:
    response = handler(load_event(name), None)
    assert response["statusCode"] == 200
    spec = body_of(response)
    assert spec.get("servers") == servers
    assert "/v1/predict" in spec["paths"]


def test_http_api_named_stage_is_stripped_from_path(
    load_event: Callable[[str], dict[str, Any]], body_of: Callable[[dict[str, Any]], Any]
) -> None:
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
    name: str,
    body: bytes,
    content_type: str | None,
    status: int,
    code: str,
    load_event: Callable[[str], dict[str, Any]],
    with_body: Callable[..., dict[str, Any]],
    body_of: Callable[[dict[str, Any]], Any],
) -> None:
    response = handler(with_body(load_event(name), body, content_type), None)
    assert response["statusCode"] == status
    error = ErrorResponse.model_validate(body_of(response)).error
    assert error.code == code
    assert '"input"' not in response["body"]


def test_handler_batch_error_names_index(
    load_event: Callable[[str], dict[str, Any]],
    with_body: Callable[..., dict[str, Any]],
    body_of: Callable[[dict[str, Any]], Any],
) -> None:
    body = json.dumps({"applicants": [TYPICAL, {**HIGH_RISK, "pay_3": "2"}]}).encode()
    response = handler(with_body(load_event("rest-predict-batch"), body), None)
    assert response["statusCode"] == 422
    fields = body_of(response)["error"]["fields"]
    assert [(f["field"], f["index"]) for f in fields] == [("applicants[1].pay_3", 1)]


@pytest.mark.usefixtures("unbind_context")
def test_handler_logs_lambda_context_and_gateway_id(
    lambda_context: SimpleNamespace,
    capsys: pytest.CaptureFixture[str],
    load_event: Callable[[str], dict[str, Any]],
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
    configure: Callable[..., None],
    tmp_path: Path,
    load_event: Callable[[str], dict[str, Any]],
    body_of: Callable[[dict[str, Any]], Any],
) -> None:
    (tmp_path / "model.json").write_bytes((MODEL_DIR / "model.json").read_bytes())
    configure(MODEL_DIR=str(tmp_path))
    for name in ("rest-health", "rest-predict"):
        response = handler(load_event(name), None)
        assert response["statusCode"] == 503
        error = body_of(response)["error"]
        assert error["code"] == "model_unavailable"
        assert "serving.npz" in error["message"]


def test_handler_scores_a_batch_inline_under_lambda(
    configure: Callable[..., None],
    load_event: Callable[[str], dict[str, Any]],
    body_of: Callable[[dict[str, Any]], Any],
) -> None:
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


def test_batch_over_the_limit_through_the_handler_gets_4xx(
    load_event: Callable[[str], dict[str, Any]],
) -> None:
    event = load_event("rest-predict-batch")
    body = json.dumps({"applicants": [TYPICAL] * (MAX_BATCH + 1)}).encode()
    event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    response = handler(event, None)
    assert response["statusCode"] == 422
    assert str(MAX_BATCH) in response["body"]
