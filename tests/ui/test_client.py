"""ui/client.py: the one HTTP client of the API, against httpx's mock transport, the real app and moto."""

import json
import socket
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from functions.scoring.manifest import Manifest
from scripts.local import ROOT
from training.synthetic import TYPICAL
from ui.client import ApiCallError, ApiClient, Endpoint, StackError, resolve_endpoint, to_error

PREDICTION: dict[str, Any] = {
    "probability_of_default": 0.12,
    "predicted_default": False,
    "threshold": 0.3,
    "score": 712,
    "risk_grade": "B",
    "reasons": [
        {
            "code": "latest_status",
            "text": "1 month late",
            "impact": 0.02,
            "statement": "Delinquent on the latest.",
        }
    ],
    "model_version": "0123456789ab",
    "request_id": "r1",
    "decision": "approve",
    "decided_by": "approve_low_pd",
    "line_action": "increase",
    "line_percent": 10.0,
    "new_limit": 220000.0,
    "exposure_at_default": 110000.0,
    "expected_loss": 9900.0,
    "strategy_version": "0123456789ab",
    "arm": "champion",
    "adverse_action_notice": "not_applicable",
    "notice_basis": "no adverse action: approved with the credit limit kept or raised",
}
UNAVAILABLE = {
    "error": {"code": "model_unavailable", "message": "No model.", "request_id": "r1", "fields": []}
}


def mocked(answer: Callable[[httpx.Request], httpx.Response], *, api_key: str = "") -> ApiClient:
    """A client of http://api.test whose every request `answer` handles, with no network."""
    return ApiClient(Endpoint("http://api.test", api_key), transport=httpx.MockTransport(answer))


@pytest.mark.parametrize(
    ("status", "answer", "expected"),
    [
        (403, {"message": "Forbidden"}, "Forbidden (HTTP 403). Check the API key"),
        (503, UNAVAILABLE, "No model (HTTP 503, request id r1). No decision was made"),
        (502, None, "Bad Gateway (HTTP 502)."),
    ],
)
def test_to_error_words_error_answers(status: int, answer: Any, expected: str) -> None:
    assert str(to_error(status, answer, "Bad Gateway")).startswith(expected)


def test_to_error_keeps_request_id_and_fields() -> None:
    fields = [{"field": "pay_0", "index": None, "type": "less_than_equal", "message": "too high"}]
    error = to_error(422, {"error": {"message": "x", "request_id": "r9", "fields": fields}}, "Unprocessable")
    assert (error.status, error.request_id, [f.field for f in error.fields]) == (422, "r9", ["pay_0"])
    assert str(error).startswith("The API refused 1 input; see the message beside the field (HTTP 422")


def test_client_sends_the_key_and_returns_a_typed_prediction() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=PREDICTION)

    prediction = mocked(answer, api_key="secret").predict(TYPICAL)
    assert (prediction.probability_of_default, prediction.reasons[0].code) == (0.12, "latest_status")
    assert seen[0].headers["x-api-key"] == "secret"
    assert json.loads(seen[0].content) == TYPICAL
    assert str(seen[0].url) == "http://api.test/v1/predict"


def test_client_sends_no_key_header_without_a_key() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": "ok", "model_version": "v", "audit": "disabled"})

    assert mocked(answer).health().model_version == "v"
    assert "x-api-key" not in seen[0].headers


def test_client_raises_api_error_with_the_schema_message() -> None:
    client = mocked(lambda request: httpx.Response(503, json=UNAVAILABLE))
    with pytest.raises(ApiCallError, match=r"No model \(HTTP 503, request id r1\)") as caught:
        client.health()
    assert (caught.value.status, caught.value.request_id) == (503, "r1")


def test_client_refuses_an_answer_of_the_wrong_shape() -> None:
    client = mocked(lambda request: httpx.Response(200, json={"probability_of_default": 0.1}))
    with pytest.raises(ApiCallError, match="/v1/predict answered something this UI cannot read"):
        client.predict(TYPICAL)


def test_client_checks_the_batch_answer_count() -> None:
    client = mocked(
        lambda request: httpx.Response(
            200, json={"predictions": [PREDICTION], "model_version": "v", "request_id": "r"}
        )
    )
    with pytest.raises(ApiCallError, match="answered 1 predictions for 2 applicants"):
        client.predict_batch([TYPICAL, TYPICAL])
    with pytest.raises(ValueError, match="1 to 1000 applicants, not 0"):
        client.predict_batch([])


def test_client_reads_the_served_manifest_as_typed(live_api: str) -> None:
    manifest = ApiClient(Endpoint(live_api)).manifest()
    assert isinstance(manifest, Manifest)
    assert manifest.version == ApiClient(Endpoint(live_api)).health().model_version


def test_client_refuses_a_manifest_it_cannot_read() -> None:
    client = mocked(lambda request: httpx.Response(200, json={"version": "v"}))
    with pytest.raises(ApiCallError, match="not a manifest this UI reads: /v1/model: `name`"):
        client.manifest()


def test_predict_raises_422_with_fields(live_api: str) -> None:
    with pytest.raises(ApiCallError) as caught:
        ApiClient(Endpoint(live_api)).predict(dict(TYPICAL, pay_0=12, age=None))
    assert caught.value.status == 422
    assert {f.field for f in caught.value.fields} == {"pay_0", "age"}
    assert caught.value.request_id
    assert "beside the fields" in str(caught.value)


def test_send_returns_http_errors_as_answers(live_api: str) -> None:
    answer = ApiClient(Endpoint(live_api)).send("GET", "/v1/nothing", timeout=5)
    assert answer.status == 404


def test_call_times_out_readably() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        client = ApiClient(Endpoint(f"http://127.0.0.1:{silent.getsockname()[1]}"))
        with pytest.raises(ApiCallError, match=r"did not answer within 0\.5 s"):
            client.call("GET", "/v1/health", timeout=0.5)


def test_call_says_how_to_start_an_api_that_is_not_there() -> None:
    with pytest.raises(ApiCallError, match=r"Cannot reach http://127\.0\.0\.1:9 .*`make api`"):
        ApiClient(Endpoint("http://127.0.0.1:9")).health()


def test_resolve_endpoint_reads_url_and_key_value(api_stack: Callable[..., str]) -> None:
    key = api_stack("credit-default", url="https://example.test/Prod/")
    assert resolve_endpoint("credit-default", region=None) == Endpoint("https://example.test/Prod", key)


@pytest.mark.parametrize(
    ("outputs", "message"),
    [(("ApiUrl",), "has no output ApiKeyId; was it deployed from template.yaml"), (None, "does not exist")],
    ids=["missing-output", "no-such-stack"],
)
def test_resolve_endpoint_raises_stack_error(
    api_stack: Callable[..., str], outputs: tuple[str, ...] | None, message: str
) -> None:
    if outputs is not None:
        api_stack("credit-default", url="https://example.test/Prod", outputs=outputs)
    with pytest.raises(StackError, match=message):
        resolve_endpoint("credit-default", region="us-east-1")


def test_the_page_and_client_load_without_boto3() -> None:
    code = "import sys, frontend, ui.client; assert 'boto3' not in sys.modules, 'boto3 imported'"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
