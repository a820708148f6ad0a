"""Limits: the body cap at its exact edge, content types, batch size, and hostile JSON (deep, huge, wide).

Complements tests/test_app.py (which checks the 413/415 basics): here every hostile body must get a 4xx
in the error schema within a bounded time and bounded memory, through TestClient, the Lambda handler and
a real uvicorn server.
"""

import base64
import copy
import itertools
import json
import math
import string
import time
import tracemalloc
import urllib.error
import urllib.request
from typing import Any, Final

import pytest
from fastapi.testclient import TestClient

from functions.app import app, handler
from functions.config import MIB
from functions.contract import FEATURES, MAX_BATCH, MAX_KEYS
from functions.errors import ErrorResponse
from tests.conftest import load_event
from training.synthetic import TYPICAL

JSON: Final = {"content-type": "application/json"}
MEMORY_BOUND: Final = 64 * MIB  # Python allocations while answering one hostile body
TIME_BOUND: Final = 5.0  # seconds for one hostile body, traced by tracemalloc (about 2x slower)


@pytest.fixture(scope="module")
def client() -> TestClient:
    """A TestClient on the app with the shipped model."""
    return TestClient(app)


def padded(size: int) -> bytes:
    """Return TYPICAL as JSON padded with trailing whitespace to exactly `size` bytes."""
    text = json.dumps(TYPICAL).encode()
    return text + b" " * (size - len(text))


def check_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """Check status, error schema and code; return the error."""
    assert response.status_code == status, response.text[:300]
    error = ErrorResponse.model_validate_json(response.text).error
    assert error.code == code
    return error.model_dump()


def test_body_of_exactly_the_cap_is_accepted(client: TestClient) -> None:
    response = client.post("/v1/predict", content=padded(MIB), headers=JSON)
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/v1/predict", "/v1/predict/batch"])
def test_body_one_byte_over_the_cap_gets_413(client: TestClient, path: str) -> None:
    response = client.post(path, content=padded(MIB + 1), headers=JSON)
    error = check_error(response, 413, "payload_too_large")
    assert str(MIB) in error["message"]


def test_full_batch_of_widest_values_fits_under_the_cap(client: TestClient) -> None:
    # The widest JSON an applicant can have: 17 significant digits on every amount, the widest codes.
    widest: dict[str, Any] = {}
    for spec in FEATURES:
        if spec.kind == "amount":
            largest = math.nextafter(spec.maximum, 0)  # 9999999.999999998
            widest[spec.name] = -largest if spec.minimum < 0 else largest
        else:
            widest[spec.name] = int(spec.minimum) if spec.minimum < 0 else int(spec.maximum)
    body = json.dumps({"applicants": [widest] * MAX_BATCH}, separators=(",", ":")).encode()
    assert len(body) <= MIB
    response = client.post("/v1/predict/batch", content=body, headers=JSON)
    assert response.status_code == 200
    assert len(response.json()["predictions"]) == MAX_BATCH


@pytest.mark.parametrize("path", ["/v1/predict", "/v1/predict/batch"])
@pytest.mark.parametrize(
    "content_type",
    ["text/json", "application/jsonx", "application/problem+json", "application/octet-stream", ""],
)
def test_near_miss_content_type_gets_415(client: TestClient, path: str, content_type: str) -> None:
    body = json.dumps({"applicants": [TYPICAL]} if path.endswith("batch") else TYPICAL).encode()
    response = client.post(path, content=body, headers={"content-type": content_type})
    check_error(response, 415, "unsupported_media_type")


def test_batch_over_the_limit_names_the_limit(client: TestClient) -> None:
    response = client.post("/v1/predict/batch", json={"applicants": [TYPICAL] * (MAX_BATCH + 1)})
    error = check_error(response, 422, "validation_error")
    assert [(f["field"], f["type"]) for f in error["fields"]] == [("applicants", "too_long")]
    assert str(MAX_BATCH) in error["fields"][0]["hint"]


def test_batch_over_the_limit_through_the_handler_gets_4xx() -> None:
    event = copy.deepcopy(load_event("rest-predict-batch"))
    body = json.dumps({"applicants": [TYPICAL] * (MAX_BATCH + 1)}).encode()
    event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    response = handler(event, None)
    assert response["statusCode"] == 422
    assert str(MAX_BATCH) in response["body"]


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
    started = time.perf_counter()
    try:
        response = client.post(path, content=body, headers=JSON)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    seconds = time.perf_counter() - started
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
    ("body", "field"),
    [
        ({**TYPICAL, **{f"extra{i}": 0 for i in range(MAX_KEYS)}}, "body"),
        ({"applicants": [TYPICAL, {f"k{i}": 0 for i in range(MAX_KEYS + 1)}]}, "applicants[1]"),
    ],
)
def test_object_with_too_many_keys_is_one_error(client: TestClient, body: dict[str, Any], field: str) -> None:
    path = "/v1/predict/batch" if "applicants" in body else "/v1/predict"
    error = check_error(client.post(path, json=body), 422, "validation_error")
    assert [(f["field"], f["type"]) for f in error["fields"]] == [(field, "too_many_fields")]


def test_object_with_a_few_unknown_keys_names_each(client: TestClient) -> None:
    body = {**TYPICAL, **{f"extra{i}": 0 for i in range(MAX_KEYS - len(TYPICAL))}}
    error = check_error(client.post("/v1/predict", json=body), 422, "validation_error")
    assert len(error["fields"]) == MAX_KEYS - len(TYPICAL)
    assert {f["type"] for f in error["fields"]} == {"extra_forbidden"}
