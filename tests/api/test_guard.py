"""The request guard: body size (at the cap's exact edge, streamed, declared), content type, hostile JSON
(deep, huge, wide) and key limits, request ids, the stage prefix, 500 on a fault, the access log and metrics.

Every hostile body must get a 4xx in the error schema within a bounded time and bounded memory, through
TestClient, the Lambda handler and a real uvicorn server.
"""

import asyncio
import itertools
import json
import string
import time
import tracemalloc
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, Final

import pytest
from fastapi.testclient import TestClient

from functions.api.app import get_app
from functions.api.errors import ErrorResponse
from functions.api.gateway.guard import apply_stage_prefix, route_of
from functions.config import MIB
from functions.scoring.contract import MAX_BATCH, MAX_KEYS
from functions.scoring.model import ScoringModel
from training.synthetic import TYPICAL

JSON: Final = {"content-type": "application/json"}
MEMORY_BOUND: Final = 64 * MIB  # Python allocations while answering one hostile body
TIME_BOUND: Final = 5.0  # CPU seconds (the work, not the load) for one hostile body, traced by tracemalloc


def content(content_type: str | None) -> dict[str, str]:
    """Return the headers that send this Content-Type (None: no header)."""
    return {} if content_type is None else {"content-type": content_type}


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "application/xml"],
)
def test_predict_rejects_wrong_content_type(
    client: TestClient, content_type: str, error_of: Callable[..., dict[str, Any]]
) -> None:
    response = client.post("/v1/predict", content=json.dumps(TYPICAL).encode(), headers=content(content_type))
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON", None]
)
def test_predict_accepts_json_or_missing_content_type(client: TestClient, content_type: str | None) -> None:
    response = client.post("/v1/predict", content=json.dumps(TYPICAL).encode(), headers=content(content_type))
    assert response.status_code == 200


def test_predict_rejects_body_over_limit(client: TestClient, error_of: Callable[..., dict[str, Any]]) -> None:
    body = json.dumps({**TYPICAL, "padding": "x" * (1024 * 1024)}).encode()
    response = client.post("/v1/predict", content=body, headers=JSON)
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


def call_asgi(body_chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    """Send a POST /v1/predict straight to the ASGI app, body in chunks, and return status and body."""
    messages = [
        {"type": "http.request", "body": c, "more_body": i < len(body_chunks) - 1}
        for i, c in enumerate(body_chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/predict",
        "headers": headers,
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "http_version": "1.1",
        "asgi": {"version": "3.0"},
    }
    loop = asyncio.new_event_loop()  # not asyncio.run: it unsets the loop Mangum's handler needs later
    try:
        loop.run_until_complete(get_app()(scope, receive, send))
    finally:
        loop.close()
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_predict_rejects_streamed_body_over_limit_without_length() -> None:
    status, body = call_asgi([b"{" + b" " * 600_000] * 2, [(b"content-type", b"application/json")])
    assert status == 413
    assert json.loads(body)["error"]["code"] == "payload_too_large"


def test_predict_rejects_declared_length_over_limit() -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"5000000")]
    status, _ = call_asgi([b"{}"], headers)
    assert status == 413


def test_predict_reads_body_sent_in_chunks() -> None:
    text = json.dumps(TYPICAL).encode()
    status, body = call_asgi([text[:50], text[50:]], [(b"content-type", b"application/json")])
    assert status == 200
    assert 0 <= json.loads(body)["probability_of_default"] <= 1


def test_unexpected_fault_gets_500_without_traceback(
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    error_of: Callable[..., dict[str, Any]],
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom inside the model")

    monkeypatch.setattr(ScoringModel, "assess", broken)
    response = client.post("/v1/predict", json=TYPICAL)
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "internal_error"
    assert "boom" not in response.text
    logged = capsys.readouterr().out
    assert "boom inside the model" in logged
    assert error["request_id"] in logged


def test_request_log_line_is_json_with_request_id(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    response = client.post("/v1/predict", json={**TYPICAL, "pay_0": 99})
    lines = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if '"message":"request"' in line
    ]
    assert lines == [lines[0]]
    line = lines[0]
    assert line["request_id"] == response.headers["x-request-id"]
    assert (line["route"], line["status"], line["error_code"]) == ("/v1/predict", 422, "validation_error")
    assert line["invalid_fields"] == ["pay_0"]
    assert line["service"] == "credit-default"


def padded(size: int) -> bytes:
    """Return TYPICAL as JSON padded with trailing whitespace to exactly `size` bytes."""
    text = json.dumps(TYPICAL).encode()
    return text + b" " * (size - len(text))


def test_body_of_exactly_the_cap_is_accepted(client: TestClient) -> None:
    response = client.post("/v1/predict", content=padded(MIB), headers=JSON)
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/v1/predict", "/v1/predict/batch"])
def test_body_one_byte_over_the_cap_gets_413(
    client: TestClient, path: str, error_of: Callable[..., dict[str, Any]]
) -> None:
    response = client.post(path, content=padded(MIB + 1), headers=JSON)
    error = error_of(response, 413, "payload_too_large")
    assert str(MIB) in error["message"]


@pytest.mark.parametrize("path", ["/v1/predict", "/v1/predict/batch"])
@pytest.mark.parametrize(
    "content_type",
    ["text/json", "application/jsonx", "application/problem+json", "application/octet-stream", ""],
)
def test_near_miss_content_type_gets_415(
    client: TestClient, path: str, content_type: str, error_of: Callable[..., dict[str, Any]]
) -> None:
    body = json.dumps({"applicants": [TYPICAL]} if path.endswith("batch") else TYPICAL).encode()
    response = client.post(path, content=body, headers={"content-type": content_type})
    error_of(response, 415, "unsupported_media_type")


def nested(depth: int, opening: bytes = b"[", closing: bytes = b"]") -> bytes:
    """Return `depth` nested containers."""
    return opening * depth + closing * depth


def widest_object() -> bytes:
    """Return the JSON object with the most distinct keys that fits under the cap (3-character keys)."""
    keys = (
        bytes(k) for k in itertools.product(string.ascii_letters.encode() + string.digits.encode(), repeat=3)
    )
    members = list(itertools.islice((b'"' + key + b'":0' for key in keys), (MIB - 2) // 8))
    return b"{" + b",".join(members) + b"}"


HOSTILE: Final = {
    "100k nested arrays": nested(100_000),
    "400k nested arrays": nested(400_000),
    "50k nested objects": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "500k unclosed arrays": b"[" * 500_000,
    "nested arrays in a field": b'{"limit_bal":' + nested(100_000) + b"}",
    "900k-digit integer": b'{"limit_bal":' + b"1" * 900_000 + b"}",
    "900k-digit decimal": b'{"limit_bal":1.' + b"1" * 900_000 + b"}",
    "900k-character string": b'{"limit_bal":"' + b"a" * 900_000 + b'"}',
    "80k unknown keys": b"{" + b",".join(b'"k%d":1' % i for i in range(80_000)) + b"}",
    "131k short unknown keys": widest_object(),
    "1,000 applicants of 32 unknown keys": json.dumps(
        {"applicants": [{f"k{i}": 0 for i in range(MAX_KEYS)}] * MAX_BATCH}
    ).encode(),
    "1,000 empty applicants": json.dumps({"applicants": [{}] * MAX_BATCH}).encode(),
    "300k empty applicants": b'{"applicants":[' + b",".join([b"{}"] * 300_000) + b"]}",
    "131k short keys, one repeated": widest_object()[:-8] + b'"aaa":0}',
    "deep and wide, one key repeated": b'{"a":' * 900
    + b"["
    + b",".join([b"[]"] * 100_000)  # at 900 levels deep: a path per value would cost 90 M steps
    + b',{"k":1,"k":2}]'
    + b"}" * 900,
    "invalid UTF-8": b'{"limit_bal":"\xff\xfe"}',
    "lone surrogate": b'{"limit_bal":"\\ud800"}',
    "NUL bytes": b"\x00" * 1000,
}


@pytest.mark.parametrize("path", ["/v1/predict", "/v1/predict/batch"])
@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_json_gets_4xx_in_bounded_time_and_memory(client: TestClient, name: str, path: str) -> None:
    body = HOSTILE[name]
    assert len(body) <= MIB
    tracemalloc.start()
    started = time.process_time()  # all threads of this process: the app answers in TestClient's thread
    try:
        response = client.post(path, content=body, headers=JSON)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    seconds = time.process_time() - started
    assert response.status_code in (400, 422), response.text[:300]
    error = ErrorResponse.model_validate_json(response.text).error
    assert len(error.fields) <= 100
    assert "Traceback" not in response.text
    assert len(response.content) < 64 * 1024
    assert peak < MEMORY_BOUND, f"{name}: {peak / MIB:.1f} MiB"
    assert seconds < TIME_BOUND, f"{name}: {seconds:.2f} s"


def test_uvicorn_survives_hostile_json(live_api: str) -> None:
    for body in (HOSTILE["400k nested arrays"], HOSTILE["80k unknown keys"], padded(MIB + 1)):
        request = urllib.request.Request(f"{live_api}/v1/predict", data=body, headers=JSON, method="POST")
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=10)
        assert caught.value.code in (400, 413, 422)
    with urllib.request.urlopen(f"{live_api}/v1/health", timeout=10) as health:
        assert health.status == 200


@pytest.mark.parametrize(
    ("event", "path", "root_path", "seen_path"),
    [
        ({"requestContext": {"path": "/Prod/v1/health"}}, "/v1/health", "/Prod", "/Prod/v1/health"),
        ({"requestContext": {"path": "/base/v1/health"}}, "/v1/health", "/base", "/base/v1/health"),
        ({"requestContext": {"path": "/v1/health"}}, "/v1/health", "", "/v1/health"),
        (
            {"version": "2.0", "requestContext": {"stage": "prod"}},
            "/prod/v1/health",
            "/prod",
            "/prod/v1/health",
        ),
        ({"version": "2.0", "requestContext": {"stage": "prod"}}, "/prod", "/prod", "/prod/"),
        ({"version": "2.0", "requestContext": {"stage": "$default"}}, "/v1/health", "", "/v1/health"),
        ({"version": "2.0", "requestContext": {"stage": "prod"}}, "/production/x", "", "/production/x"),
    ],
)
def test_stage_prefix_becomes_root_path(
    event: dict[str, Any], path: str, root_path: str, seen_path: str
) -> None:
    scope: dict[str, Any] = {"path": path, "root_path": ""}
    apply_stage_prefix(scope, event)
    assert (scope["root_path"], scope["path"]) == (root_path, seen_path)


@pytest.mark.parametrize(
    ("path", "root_path", "route"),
    [
        ("/v1/predict", "", "/v1/predict"),
        ("/Prod/v1/predict", "/Prod", "/v1/predict"),
        ("/v1/canary-7f3a9c", "", "unmatched"),
        ("/Prod/v1/canary-7f3a9c", "/Prod", "unmatched"),
        ("/Prod/docs-assets/swagger-ui.css", "/Prod", "/docs-assets"),
        ("/docs-assets-canary-7f3a9c", "", "unmatched"),
    ],
)
def test_route_of_names_a_route_never_a_raw_path(path: str, root_path: str, route: str) -> None:
    assert route_of({"path": path, "root_path": root_path, "app": get_app()}) == route


def test_request_id_is_a_fresh_uuid_per_request_without_gateway(client: TestClient) -> None:
    first, second = (client.get("/v1/health").headers["x-request-id"] for _ in range(2))
    assert first != second
    assert len(first) == 36
