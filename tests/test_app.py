"""The scoring API through TestClient: every route, every error, the error schema, logs and metrics."""

import asyncio
import json
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from functions.app import app
from functions.config import MODEL_DIR
from functions.contract import FEATURE_BY_NAME, FEATURE_NAMES, MAX_BATCH
from functions.errors import ErrorResponse
from functions.reasons import REASON_GROUPS
from functions.scoring import ScoringModel, load_model, to_matrix
from training.synthetic import TYPICAL, generate_rows

CANARY_AMOUNT = 123457.25  # a value no real client has, to find it in logs
CANARY_TEXT = "canary-7f3a9c"


@pytest.fixture(scope="module")
def client() -> TestClient:
    """A TestClient on the app with the shipped model."""
    return TestClient(app)


@pytest.fixture(scope="module")
def model() -> ScoringModel:
    """The shipped model, loaded directly (no HTTP)."""
    return load_model(MODEL_DIR)


def post_raw(client: TestClient, body: bytes, content_type: str | None = "application/json") -> Any:
    """POST raw bytes to /v1/predict with the given Content-Type (None: no header)."""
    headers = {} if content_type is None else {"content-type": content_type}
    return client.post("/v1/predict", content=body, headers=headers)


def error_of(response: Any) -> dict[str, Any]:
    """Return the error object after checking it follows the error schema and echoes nothing."""
    ErrorResponse.model_validate_json(response.text)
    assert '"input"' not in response.text
    assert "Traceback" not in response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["request_id"] == response.headers["x-request-id"]
    return error


def test_health_reports_verified_model(client: TestClient, model: ScoringModel) -> None:
    response = client.get("/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "model_version": model.version, "audit": "disabled"}


def test_model_returns_manifest_as_strict_json(client: TestClient, model: ScoringModel) -> None:
    response = client.get("/v1/model")
    assert response.status_code == 200

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    manifest = json.loads(response.text, parse_constant=refuse)
    assert manifest["version"] == model.version
    assert manifest["threshold"] == model.threshold
    for key in ("metrics", "features", "grade_bands", "data", "libraries"):
        assert key in manifest


def test_predict_returns_decision(
    client: TestClient, risky_applicant: dict[str, Any], model: ScoringModel
) -> None:
    response = client.post("/v1/predict", json=risky_applicant)
    assert response.status_code == 200
    body = response.json()
    assert 0 <= body["probability_of_default"] <= 1
    assert body["predicted_default"] == (body["probability_of_default"] >= body["threshold"])
    assert body["threshold"] == model.threshold
    assert body["risk_grade"] in "ABCDE"
    assert 300 <= body["score"] <= 900
    assert body["model_version"] == model.version
    assert body["request_id"] == response.headers["x-request-id"]
    assert 1 <= len(body["reasons"]) <= 4
    impacts = [reason["impact"] for reason in body["reasons"]]
    assert impacts == sorted(impacts, reverse=True)
    assert all(impact > 0 for impact in impacts)
    assert {reason["code"] for reason in body["reasons"]} <= set(REASON_GROUPS)


def test_predict_matches_scoring_model(client: TestClient, model: ScoringModel) -> None:
    rows = generate_rows(20, seed=3)
    for row in rows:
        expected = model.assess(to_matrix([row]))[0]
        body = client.post("/v1/predict", json=row).json()
        assert body["probability_of_default"] == expected.probability_of_default
        assert body["score"] == expected.score
        assert [r["code"] for r in body["reasons"]] == [r.code for r in expected.reasons]


def test_predict_reasons_are_faithful(
    client: TestClient, risky_applicant: dict[str, Any], model: ScoringModel
) -> None:
    body = client.post("/v1/predict", json=risky_applicant).json()
    top = body["reasons"][0]
    reference = model.manifest.reference_profile
    swapped = {name: reference[name] for name in REASON_GROUPS[top["code"]]}
    changed = {
        **risky_applicant,
        **{k: int(v) if FEATURE_BY_NAME[k].kind != "amount" else v for k, v in swapped.items()},
    }
    lowered = client.post("/v1/predict", json=changed).json()
    assert lowered["probability_of_default"] == pytest.approx(
        body["probability_of_default"] - top["impact"],
        abs=1e-10,  # impacts are reported to 10 decimals
    )


@pytest.mark.parametrize("omitted", [("sex",), ("marriage",), ("sex", "marriage")])
def test_predict_accepts_omitted_protected_fields(client: TestClient, omitted: tuple[str, ...]) -> None:
    applicant = {name: value for name, value in TYPICAL.items() if name not in omitted}
    full = client.post("/v1/predict", json=TYPICAL).json()
    response = client.post("/v1/predict", json=applicant)
    assert response.status_code == 200
    assert response.json()["probability_of_default"] == full["probability_of_default"]


@pytest.mark.parametrize(
    ("field", "value"), [("age", 35.0), ("pay_0", 2.0), ("sex", 1.0), ("education", 3.0)]
)
def test_predict_accepts_whole_number_written_as_float(client: TestClient, field: str, value: float) -> None:
    # JSON Schema counts 2.0 as an integer, so schema-driven clients may send it.
    as_float = client.post("/v1/predict", json={**TYPICAL, field: value})
    as_int = client.post("/v1/predict", json={**TYPICAL, field: int(value)})
    assert as_float.status_code == 200
    assert as_float.json()["probability_of_default"] == as_int.json()["probability_of_default"]


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("pay_0", True, "int_type"),
        ("limit_bal", True, "float_type"),
        ("limit_bal", "200000", "float_type"),
        ("age", "35", "int_type"),
        ("age", 35.5, "int_type"),
        ("education", 2.5, "int_type"),
        ("sex", 1.5, "int_type"),
        ("pay_0", "1", "int_type"),
        ("limit_bal", None, "float_type"),
        ("bill_amt1", [1], "float_type"),
        ("pay_amt1", {"amount": 1}, "float_type"),
        ("limit_bal", 0, "greater_than"),
        ("limit_bal", 10_000_001, "less_than_equal"),
        ("bill_amt3", -10_000_001, "greater_than_equal"),
        ("pay_amt6", -1, "greater_than_equal"),
        ("pay_0", -3, "greater_than_equal"),
        ("pay_6", 10, "less_than_equal"),
        ("education", 7, "less_than_equal"),
        ("sex", 3, "less_than_equal"),
        ("marriage", -1, "greater_than_equal"),
        ("age", 17, "greater_than_equal"),
        ("age", 101, "less_than_equal"),
    ],
)
def test_predict_rejects_invalid_value(client: TestClient, field: str, value: Any, kind: str) -> None:
    response = client.post("/v1/predict", json={**TYPICAL, field: value})
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert [(f["field"], f["type"], f["index"]) for f in error["fields"]] == [(field, kind, None)]
    assert error["fields"][0]["hint"]


@pytest.mark.parametrize("field", FEATURE_NAMES)
def test_predict_names_missing_required_field(client: TestClient, field: str) -> None:
    response = client.post("/v1/predict", json={k: v for k, v in TYPICAL.items() if k != field})
    if field in ("sex", "marriage"):
        assert response.status_code == 200
        return
    assert response.status_code == 422
    assert [(f["field"], f["type"]) for f in error_of(response)["fields"]] == [(field, "missing")]


def test_predict_rejects_unknown_field(client: TestClient) -> None:
    response = client.post("/v1/predict", json={**TYPICAL, "income": 1})
    assert response.status_code == 422
    assert [(f["field"], f["type"]) for f in error_of(response)["fields"]] == [("income", "extra_forbidden")]


@pytest.mark.parametrize("token", ["1e999", "-1e999", "NaN", "Infinity", "-Infinity"])
def test_predict_rejects_non_finite_number(client: TestClient, token: str) -> None:
    body = json.dumps({**TYPICAL, "limit_bal": 0.5}).replace("0.5", token).encode()
    response = post_raw(client, body)
    assert response.status_code == 422
    assert [f["field"] for f in error_of(response)["fields"]] == ["limit_bal"]


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b'{"limit_bal": 1,}', b"{'limit_bal': 1}", b"\xff\xfe{}", b"[" * 100_000 + b"]" * 100_000],
)
def test_predict_rejects_malformed_json(client: TestClient, body: bytes) -> None:
    response = post_raw(client, body)
    expected = 422 if body == b"" else 400  # an empty body is a missing body, not broken JSON
    assert response.status_code == expected
    assert error_of(response)["code"] == ("validation_error" if body == b"" else "malformed_json")


@pytest.mark.parametrize("body", [b"[]", b'"applicant"', b"5", b"null", b"true"])
def test_predict_rejects_body_that_is_not_an_object(client: TestClient, body: bytes) -> None:
    response = post_raw(client, body)
    assert response.status_code == 422
    assert error_of(response)["fields"][0]["field"] == "body"


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "application/xml"],
)
def test_predict_rejects_wrong_content_type(client: TestClient, content_type: str) -> None:
    response = post_raw(client, json.dumps(TYPICAL).encode(), content_type)
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON", None]
)
def test_predict_accepts_json_or_missing_content_type(client: TestClient, content_type: str | None) -> None:
    response = post_raw(client, json.dumps(TYPICAL).encode(), content_type)
    assert response.status_code == 200


def test_predict_rejects_body_over_limit(client: TestClient) -> None:
    body = json.dumps({**TYPICAL, "padding": "x" * (1024 * 1024)}).encode()
    response = post_raw(client, body)
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
        loop.run_until_complete(app(scope, receive, send))
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


def test_batch_answers_equal_single_answers_in_order(client: TestClient) -> None:
    rows = generate_rows(40, seed=7)
    response = client.post("/v1/predict/batch", json={"applicants": rows})
    assert response.status_code == 200
    body = response.json()
    assert body["request_id"] == response.headers["x-request-id"]
    singles = [client.post("/v1/predict", json=row).json() for row in rows]
    assert len(body["predictions"]) == len(rows)
    for batch_answer, single in zip(body["predictions"], singles, strict=True):
        assert batch_answer["probability_of_default"] == single["probability_of_default"]
        assert batch_answer["reasons"] == single["reasons"]
        assert batch_answer["request_id"] == body["request_id"]


def test_batch_accepts_the_limit(client: TestClient) -> None:
    response = client.post("/v1/predict/batch", json={"applicants": generate_rows(MAX_BATCH, seed=1)})
    assert response.status_code == 200
    assert len(response.json()["predictions"]) == MAX_BATCH


@pytest.mark.parametrize(("size", "kind"), [(0, "too_short"), (MAX_BATCH + 1, "too_long")])
def test_batch_rejects_size_outside_limits(client: TestClient, size: int, kind: str) -> None:
    response = client.post("/v1/predict/batch", json={"applicants": [TYPICAL] * size})
    assert response.status_code == 422
    fields = error_of(response)["fields"]
    assert [(f["field"], f["type"]) for f in fields] == [("applicants", kind)]
    if kind == "too_long":
        assert str(MAX_BATCH) in fields[0]["message"]
        assert str(MAX_BATCH) in fields[0]["hint"]


def test_batch_error_names_index_and_field(client: TestClient) -> None:
    applicants = [TYPICAL, TYPICAL, TYPICAL, {**TYPICAL, "pay_0": True}, {**TYPICAL, "age": 150, "x": 1}]
    response = client.post("/v1/predict/batch", json={"applicants": applicants})
    assert response.status_code == 422
    named = [(f["field"], f["index"], f["type"]) for f in error_of(response)["fields"]]
    assert named == [
        ("applicants[3].pay_0", 3, "int_type"),
        ("applicants[4].age", 4, "less_than_equal"),
        ("applicants[4].x", 4, "extra_forbidden"),
    ]


@pytest.mark.parametrize(
    "body", [{}, {"applicants": TYPICAL}, {"applicants": [TYPICAL], "extra": 1}, [TYPICAL]]
)
def test_batch_rejects_wrong_shape(client: TestClient, body: Any) -> None:
    response = client.post("/v1/predict/batch", json=body)
    assert response.status_code == 422
    assert error_of(response)["code"] == "validation_error"


def test_unknown_route_gets_404_in_error_schema(client: TestClient) -> None:
    response = client.get(f"/v1/{CANARY_TEXT}")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/v1/health"), ("DELETE", "/v1/predict"), ("GET", "/v1/predict")]
)
def test_wrong_method_gets_405_with_allow(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"]
    assert error_of(response)["code"] == "method_not_allowed"


@pytest.fixture
def tampered_model_dir(tmp_path: Path) -> Path:
    """A copy of the shipped model with one byte of the serving artifact flipped."""
    target = tmp_path / "model"
    shutil.copytree(MODEL_DIR, target)
    artifact = target / "serving.npz"
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    return target


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/health"), ("GET", "/v1/model"), ("POST", "/v1/predict"), ("POST", "/v1/predict/batch")],
)
def test_tampered_model_refuses_to_serve(
    client: TestClient,
    configure: Callable[..., None],
    tampered_model_dir: Path,
    capsys: pytest.CaptureFixture[str],
    method: str,
    path: str,
) -> None:
    configure(MODEL_DIR=str(tampered_model_dir))
    body = {"applicants": [TYPICAL]} if path.endswith("batch") else TYPICAL
    response = client.request(method, path, json=body if method == "POST" else None)
    assert response.status_code == 503
    error = error_of(response)
    assert error["code"] == "model_unavailable"
    assert "serving.npz" in error["message"]
    assert "probability_of_default" not in response.text
    problems = [line for line in capsys.readouterr().out.splitlines() if "model unavailable" in line]
    assert len(problems) == 1
    assert "serving.npz" in problems[0]
    assert "sha256" in problems[0]


def test_unexpected_fault_gets_500_without_traceback(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
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


def test_openapi_documents_error_schema_on_every_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "ErrorResponse" in spec["components"]["schemas"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    expected = {"get": {"200", "500", "503"}, "post": {"200", "400", "413", "415", "422", "500", "503"}}
    for path in ("/v1/health", "/v1/model", "/v1/predict", "/v1/predict/batch"):
        for method, operation in spec["paths"][path].items():
            assert set(operation["responses"]) == expected[method], (method, path)
            for status, answer in operation["responses"].items():
                if status != "200":
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorResponse"}


def test_openapi_declares_strict_contract(client: TestClient) -> None:
    applicant = client.get("/openapi.json").json()["components"]["schemas"]["Applicant"]
    assert applicant["additionalProperties"] is False
    assert set(applicant["properties"]) == set(FEATURE_NAMES)
    batch = client.get("/openapi.json").json()["components"]["schemas"]["BatchRequest"]
    assert batch["properties"]["applicants"]["maxItems"] == MAX_BATCH


def test_docs_served_locally(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert "'/openapi.json'" in response.text or '"/openapi.json"' in response.text


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


def emf_lines(output: str) -> list[dict[str, Any]]:
    """Return the CloudWatch embedded-metric-format records printed to stdout."""
    return [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]


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
    configure(POWERTOOLS_METRICS_DISABLED="true")
    client.post("/v1/predict", json=TYPICAL)
    assert emf_lines(capsys.readouterr().out) == []


def run_python(code: str, env: dict[str, str] | None = None) -> str:
    """Run code in a fresh interpreter from the project root and return its stdout."""
    root = Path(__file__).resolve().parent.parent
    clean = {"PATH": "/usr/bin:/bin", "POWERTOOLS_METRICS_DISABLED": "true", **(env or {})}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        env=clean,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout.strip().splitlines()[-1]


def test_serving_path_imports_no_heavy_libraries() -> None:
    # Powertools imports the bare `botocore` package (under 1 ms); sessions and clients wait for an audit.
    code = (
        "import sys, functions.app\n"
        "from fastapi.testclient import TestClient\n"
        "from training.synthetic import TYPICAL\n"
        "TestClient(functions.app.app).post('/v1/predict', json=TYPICAL)\n"
        "heavy = {'sklearn', 'pandas', 'scipy', 'joblib', 'boto3', 'botocore.session'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    assert run_python(code) == "[]"


def test_thread_pools_pinned_to_one() -> None:
    code = (
        "import os, functions.app; print(os.environ['OMP_NUM_THREADS'], os.environ['OPENBLAS_NUM_THREADS'])"
    )
    assert run_python(code) == "1 1"


def test_cors_allows_configured_origin_only() -> None:
    code = (
        "from fastapi.testclient import TestClient\n"
        "from functions.app import app\n"
        "client = TestClient(app)\n"
        "ask = {'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type'}\n"
        "good = client.options('/v1/predict', headers={'Origin': 'http://ui.test', **ask})\n"
        "bad = client.options('/v1/predict', headers={'Origin': 'http://evil.test', **ask})\n"
        "print(good.status_code, good.headers.get('access-control-allow-origin'), bad.status_code)"
    )
    assert run_python(code, {"CORS_ORIGINS": "http://ui.test, http://other.test"}) == "200 http://ui.test 400"


def test_uvicorn_serves_predict(live_api: str) -> None:
    request = urllib.request.Request(
        f"{live_api}/v1/predict",
        data=json.dumps(TYPICAL).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.loads(response.read())
    assert 0 <= body["probability_of_default"] <= 1


def test_batch_with_many_errors_lists_the_first_hundred(client: TestClient) -> None:
    broken = dict.fromkeys(FEATURE_NAMES, True)
    response = client.post("/v1/predict/batch", json={"applicants": [broken] * 50})
    assert response.status_code == 422
    error = error_of(response)
    assert len(error["fields"]) == 100
    assert error["message"].startswith(f"{50 * len(FEATURE_NAMES)} invalid inputs; the first 100 are listed")
