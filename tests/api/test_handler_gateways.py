"""Lambda events as real gateways and browsers send them: odd headers, null headers, non-HTTP invocations, slashes."""

import json
from collections.abc import Callable
from typing import Any

import pytest

from functions.api.app import handler
from functions.api.errors import ErrorResponse
from functions.api.serving import load_serving_model
from training.synthetic import HIGH_RISK, TYPICAL

"""Real API Gateway payloads (REST v1 with stage Prod, HTTP API v2) through the Lambda `handler`."""
REST_REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"  # requestContext.requestId of the REST events


# --- what real gateways and browsers send (issue 10 A): each an AWS-generated event with one change --------
def set_header(event: dict[str, Any], name: str, value: str, values: list[str] | None = None) -> None:
    """Replace a header (any case) in `headers` and, for REST v1, in `multiValueHeaders`."""
    for headers in (event.get("headers") or {}, event.get("multiValueHeaders") or {}):
        for existing in [key for key in headers if key.lower() == name.lower()]:
            del headers[existing]
    event["headers"][name] = value
    if "multiValueHeaders" in event:
        event["multiValueHeaders"][name] = values or [value]


@pytest.mark.parametrize(
    ("name", "header", "value", "values"),
    [
        ("rest-predict", "X-Forwarded-Port", "443", ["443", "80"]),
        ("http-predict", "x-forwarded-port", "443,80", None),
        ("rest-predict", "Host", "api.example.com:", None),
        ("http-predict", "host", "api.example.com:", None),
        ("rest-predict", "Host", "[::1]:3000", None),
        ("http-predict", "host", "[::1]:3000", None),
        ("rest-predict", "Host", "api.example.com:not-a-port", None),
    ],
)
def test_handler_serves_headers_mangum_cannot_parse(
    name: str,
    header: str,
    value: str,
    values: list[str] | None,
    load_event: Callable[[str], dict[str, Any]],
    body_of: Callable[[dict[str, Any]], Any],
) -> None:
    event = load_event(name)
    set_header(event, header, value, values)
    response = handler(event, None)
    assert response["statusCode"] == 200
    assert 0 <= body_of(response)["probability_of_default"] <= 1


@pytest.mark.parametrize("name", ["http-health", "http-predict-no-content-type", "rest-health"])
def test_handler_serves_event_with_null_headers(
    name: str, load_event: Callable[[str], dict[str, Any]]
) -> None:
    event = load_event(name)
    event["headers"] = None
    if "multiValueHeaders" in event:
        event["multiValueHeaders"] = None
    response = handler(event, None)
    assert response["statusCode"] == 200


@pytest.mark.parametrize(
    ("event_name", "kind"), [(None, "unknown"), ("warmup", "warmup"), ("scheduled-event", "scheduled")]
)
def test_handler_answers_non_http_invocation_with_one_log_line_and_a_metric(
    event_name: str | None,
    kind: str,
    configure: Callable[..., None],
    load_event: Callable[[str], dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(AWS_LAMBDA_FUNCTION_NAME="credit-default-scoring")
    event = {} if event_name is None else load_event(event_name)
    assert handler(event, None) == {
        "status": "ignored",
        "event": kind,
        "message": "Not an API Gateway HTTP request; nothing was scored.",
    }
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # a warm-up loads the model and the strategy, so the first one in a container also logs that they loaded
    loaded = {"model loaded and verified", "strategy loaded and verified"}
    logged = [line for line in lines if "_aws" not in line and line["message"] not in loaded]
    metrics = [line for line in lines if "_aws" in line]
    assert [(line["message"], line["event_kind"]) for line in logged] == [("non-HTTP event ignored", kind)]
    assert [(m["route"], m["IgnoredEvents"]) for m in metrics] == [(f"event:{kind}", 1)]


@pytest.mark.parametrize(
    ("name", "path", "route"),
    [
        ("rest-health", "/v1/health/", "/v1/health"),
        ("http-health", "/v1/health/", "/v1/health"),
        ("rest-predict", "/v1/predict/", "/v1/predict"),
        ("http-predict", "/v1/predict/", "/v1/predict"),
        ("rest-predict-batch", "/v1/predict/batch/", "/v1/predict/batch"),
        ("rest-health", "/v1/health//", "/v1/health"),
    ],
)
def test_handler_serves_trailing_slash_as_without_never_a_redirect(
    name: str,
    path: str,
    route: str,
    load_event: Callable[[str], dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    event = load_event(name)
    if event.get("version") == "2.0":
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
    else:
        event["path"] = path
        event["requestContext"]["path"] = f"/Prod{path}"
    response = handler(event, None)
    assert response["statusCode"] == 200
    assert "location" not in response["headers"]
    logged = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"message":"request"' in x]
    assert [line["route"] for line in logged] == [route]


def test_handler_answers_unknown_path_with_slash_404_in_error_schema(
    load_event: Callable[[str], dict[str, Any]], body_of: Callable[[dict[str, Any]], Any]
) -> None:
    event = load_event("rest-health")
    event["path"], event["requestContext"]["path"] = "/v1/nothing/", "/Prod/v1/nothing/"
    response = handler(event, None)
    assert response["statusCode"] == 404
    assert "location" not in response["headers"]
    assert ErrorResponse.model_validate(body_of(response)).error.code == "not_found"


def test_handler_answers_event_it_cannot_serve_with_500_in_error_schema(
    load_event: Callable[[str], dict[str, Any]], body_of: Callable[[dict[str, Any]], Any]
) -> None:
    event = load_event("rest-health")
    del event["path"]  # an HTTP event Mangum cannot read
    response = handler(event, None)
    assert response["statusCode"] == 500
    error = ErrorResponse.model_validate(body_of(response)).error
    assert (error.code, error.request_id) == ("internal_error", REST_REQUEST_ID)


def test_handler_refuses_repeated_key_naming_its_path(
    load_event: Callable[[str], dict[str, Any]],
    with_body: Callable[..., dict[str, Any]],
    body_of: Callable[[dict[str, Any]], Any],
) -> None:
    single = json.dumps(TYPICAL)[:-1] + ', "pay_0": 8}'
    body = f'{{"applicants": [{json.dumps(TYPICAL)}, {json.dumps(HIGH_RISK)}, {single}]}}'.encode()
    response = handler(with_body(load_event("rest-predict-batch"), body), None)
    assert response["statusCode"] == 400
    error = body_of(response)["error"]
    assert error["code"] == "duplicate_key"
    assert [(f["field"], f["index"]) for f in error["fields"]] == [("applicants[2].pay_0", 2)]


def test_handler_warm_up_loads_the_model(
    configure: Callable[..., None], load_event: Callable[[str], dict[str, Any]]
) -> None:
    configure()  # forget the cached model
    assert load_serving_model.cache_info().currsize == 0
    assert handler(load_event("warmup"), None)["event"] == "warmup"
    assert load_serving_model.cache_info().currsize == 1
    handler(load_event("scheduled-event"), None)
    assert load_serving_model.cache_info().hits == 0  # a schedule does not touch the model
