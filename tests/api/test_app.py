"""The scoring API's routes through TestClient: health, model, single and batch predictions, the model's
refusal, the OpenAPI contract, CORS and how the app is built (errors: tests/api/test_errors.py; guard: tests/api/test_guard.py)."""

import json
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from functions.api.app import create_app, get_app
from functions.config import MODEL_DIR, Settings
from functions.scoring.adverse.statements import STATEMENTS, VERSION
from functions.scoring.contract import FEATURE_BY_NAME, MAX_BATCH
from functions.scoring.model import ScoringModel, to_matrix
from functions.scoring.reasons import REASON_GROUPS
from scripts.local import ROOT
from training.synthetic import TYPICAL, generate_rows

JSON: Final = {"content-type": "application/json"}


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


def test_model_sends_the_shipped_manifest_bytes_compacted(client: TestClient) -> None:
    shipped = json.loads((MODEL_DIR / "model.json").read_text())
    card = {**shipped, "reason_statements": {"version": VERSION, "statements": STATEMENTS}}
    assert client.get("/v1/model").content == json.dumps(card, separators=(",", ":")).encode()


def test_model_declares_the_manifest_schema_its_answer_meets(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    declared = spec["paths"]["/v1/model"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert declared == {"$ref": "#/components/schemas/ModelCard"}
    schema = {**declared, "components": spec["components"]}
    answer = client.get("/v1/model").json()
    Draft202012Validator(schema).validate(answer)
    assert set(spec["components"]["schemas"]["ModelCard"]["properties"]) >= set(answer)
    assert answer["reason_statements"]["version"] == VERSION


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
    error_of: Callable[..., dict[str, Any]],
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


def test_docs_served_locally(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert "'/openapi.json'" in response.text or '"/openapi.json"' in response.text


ASSET: Final = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
EXTERNAL: Final = re.compile(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_page_references_no_external_host_and_its_assets_load(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert EXTERNAL.findall(response.text) == []
    assets = ASSET.findall(response.text)
    assert len(assets) >= 2
    for asset in assets:
        assert asset.startswith("/docs-assets/")
        loaded = client.get(asset)
        assert loaded.status_code == 200
        assert len(loaded.content) > 1000


def test_swagger_ui_asks_no_validator_host(client: TestClient) -> None:
    assert '"validatorUrl": null' in client.get("/docs").text


def run_python(code: str, env: dict[str, str] | None = None) -> str:
    """Run code in a fresh interpreter from the project root and return its stdout."""
    clean = {"PATH": "/usr/bin:/bin", "POWERTOOLS_METRICS_DISABLED": "true", **(env or {})}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
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
        "import sys, functions.api.app\n"
        "from fastapi.testclient import TestClient\n"
        "from training.synthetic import TYPICAL\n"
        "TestClient(functions.api.app.get_app()).post('/v1/predict', json=TYPICAL)\n"
        "heavy = {'sklearn', 'pandas', 'scipy', 'joblib', 'boto3', 'botocore.session'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    assert run_python(code) == "[]"


def test_thread_pools_pinned_to_one() -> None:
    code = "import os, functions.api.app; print(os.environ['OMP_NUM_THREADS'], os.environ['OPENBLAS_NUM_THREADS'])"
    assert run_python(code) == "1 1"


def test_cors_allows_configured_origin_only(configure: Callable[..., None]) -> None:
    configure(CORS_ORIGINS="http://ui.test, http://other.test")
    client = TestClient(get_app())
    ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    good = client.options("/v1/predict", headers={"Origin": "http://ui.test", **ask})
    bad = client.options("/v1/predict", headers={"Origin": "http://evil.test", **ask})
    assert (good.status_code, good.headers.get("access-control-allow-origin")) == (200, "http://ui.test")
    assert bad.status_code == 400


def test_without_cors_origins_no_cors_headers(client: TestClient) -> None:
    ask = {"Origin": "http://ui.test", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in client.options("/v1/predict", headers=ask).headers


def test_importing_the_app_reads_no_settings_and_builds_nothing() -> None:
    code = (
        "import functions.api.app as m\n"
        "import functions.api.serving as s\n"
        "from functions.config import get_settings\n"
        "print(get_settings.cache_info().currsize, m.get_app.cache_info().currsize, "
        "s.load_serving_model.cache_info().currsize)"
    )
    assert run_python(code) == "0 0 0"


def test_root_path_setting_prefixes_the_docs(configure: Callable[..., None]) -> None:
    configure(ROOT_PATH="/api")
    client = TestClient(get_app())
    assert "'/api/openapi.json'" in client.get("/docs").text


def test_app_is_built_once_and_served_as_module_attribute() -> None:
    import functions.api.app

    assert get_app() is get_app() is functions.api.app.app
    assert create_app(Settings()) is not get_app()


def test_uvicorn_serves_predict(live_api: str) -> None:
    request = urllib.request.Request(
        f"{live_api}/v1/predict",
        data=json.dumps(TYPICAL).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.loads(response.read())
    assert 0 <= body["probability_of_default"] <= 1
