"""The DynamoDB decision audit trail: records, keyed hashes, fail-closed faults, and an end-to-end run."""

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from fastapi.testclient import TestClient
from moto import mock_aws
from moto.server import ThreadedMotoServer

from functions import audit
from functions.contract import Applicant
from functions.reasons import Reason
from functions.scoring import Decision
from scripts.local import free_port
from training.synthetic import HIGH_RISK, TYPICAL, generate_rows

TABLE = "credit-default-audit"
HASH_KEY = "k" * 40
DECISION = Decision(
    probability_of_default=0.25,
    predicted_default=False,
    threshold=0.29,
    score=590,
    risk_grade="C",
    reasons=(Reason(code="latest_status", text="1 month late on the latest payment", impact=0.1),),
)


def create_table(client: Any) -> None:
    """Create the audit table as template.yaml declares it."""
    client.create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "request_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "request_id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def audited(aws_credentials: None, configure: Callable[..., None]) -> Iterator[Any]:
    """Moto's DynamoDB with the audit table, and the app configured to audit with an env HMAC key."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client)
        configure(AUDIT_TABLE=TABLE, AUDIT_HASH_KEY=HASH_KEY)
        yield client


def items(dynamodb: Any) -> list[dict[str, Any]]:
    """Return every audit item."""
    return list(dynamodb.scan(TableName=TABLE)["Items"])


def canonical(applicant: dict[str, Any]) -> bytes:
    """The canonical JSON the app hashes for an applicant."""
    return Applicant.model_validate(applicant).model_dump_json().encode()


def test_input_hash_is_keyed_and_canonical() -> None:
    as_ints = canonical(TYPICAL)
    as_floats = canonical({**TYPICAL, "limit_bal": float(TYPICAL["limit_bal"])})
    assert as_ints == as_floats
    key = HASH_KEY.encode()
    assert audit.input_hash(as_ints, key=key) == audit.input_hash(as_floats, key=key)
    assert audit.input_hash(as_ints, key=key) != audit.input_hash(as_ints, key=b"x" * 40)
    assert audit.input_hash(as_ints, key=key) != audit.input_hash(canonical(HIGH_RISK), key=key)


def test_item_records_decision_without_inputs() -> None:
    key = audit.HashKey(secret=HASH_KEY.encode(), version="v1")
    item = audit.to_item(
        DECISION,
        canonical(TYPICAL),
        key="rid#2",
        request_id="rid",
        decided_at="2026-01-01T00:00:00.000+00:00",
        model_version="m1",
        hash_key=key,
        index=2,
    )
    assert item["request_id"] == {"S": "rid#2"}
    assert item["api_request_id"] == {"S": "rid"}
    assert item["batch_index"] == {"N": "2"}
    assert item["model_version"] == {"S": "m1"}
    assert item["hash_key_version"] == {"S": "v1"}
    assert float(item["probability_of_default"]["N"]) == 0.25
    assert item["score"] == {"N": "590"}
    assert item["risk_grade"] == {"S": "C"}
    assert item["predicted_default"] == {"BOOL": False}
    assert item["reasons"]["L"][0]["M"]["code"] == {"S": "latest_status"}
    assert len(item["input_hash"]["S"]) == 64
    assert "200000" not in json.dumps(item)


def test_predict_writes_one_audit_record(audited: Any, client: TestClient) -> None:
    response = client.post("/v1/predict", json=HIGH_RISK)
    assert response.status_code == 200
    body = response.json()
    [item] = items(audited)
    assert item["request_id"] == {"S": body["request_id"]}
    assert item["model_version"] == {"S": body["model_version"]}
    assert float(item["probability_of_default"]["N"]) == pytest.approx(
        body["probability_of_default"], abs=1e-12
    )
    assert item["score"] == {"N": str(body["score"])}
    assert item["risk_grade"] == {"S": body["risk_grade"]}
    assert item["predicted_default"] == {"BOOL": body["predicted_default"]}
    assert [r["M"]["code"]["S"] for r in item["reasons"]["L"]] == [r["code"] for r in body["reasons"]]
    assert item["input_hash"] == {"S": audit.input_hash(canonical(HIGH_RISK), key=HASH_KEY.encode())}
    assert "decided_at" in item
    assert "batch_index" not in item


def test_batch_writes_one_record_per_applicant(audited: Any, client: TestClient) -> None:
    rows = generate_rows(60, seed=4)
    response = client.post("/v1/predict/batch", json={"applicants": rows})
    assert response.status_code == 200
    rid = response.json()["request_id"]
    stored = {item["request_id"]["S"]: item for item in items(audited)}
    assert set(stored) == {f"{rid}#{i}" for i in range(60)}
    for i, (row, prediction) in enumerate(zip(rows, response.json()["predictions"], strict=True)):
        item = stored[f"{rid}#{i}"]
        assert item["batch_index"] == {"N": str(i)}
        assert item["input_hash"]["S"] == audit.input_hash(canonical(row), key=HASH_KEY.encode())
        assert float(item["probability_of_default"]["N"]) == pytest.approx(
            prediction["probability_of_default"]
        )


def test_health_reports_audit_enabled(audited: Any, client: TestClient) -> None:
    assert client.get("/v1/health").json()["audit"] == "enabled"


def test_audit_reads_hmac_key_from_secrets_manager_once(
    audited: Any, client: TestClient, configure: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    created = secrets.create_secret(Name="audit-key", SecretString="s" * 64)
    configure(AUDIT_KEY_SECRET_ARN=created["ARN"], AUDIT_HASH_KEY=None)
    clients: list[str] = []
    make_client = audit._client
    monkeypatch.setattr(audit, "_client", lambda service: clients.append(service) or make_client(service))
    for applicant in (TYPICAL, HIGH_RISK):
        assert client.post("/v1/predict", json=applicant).status_code == 200
    assert clients.count("secretsmanager") == 1
    hashes = {item["input_hash"]["S"] for item in items(audited)}
    assert hashes == {audit.input_hash(canonical(a), key=b"s" * 64) for a in (TYPICAL, HIGH_RISK)}
    assert {item["hash_key_version"]["S"] for item in items(audited)} == {created["VersionId"]}


def test_audit_without_hmac_key_refuses_to_decide(
    audited: Any, client: TestClient, configure: Callable[..., None]
) -> None:
    configure(AUDIT_HASH_KEY=None)
    health = client.get("/v1/health")
    response = client.post("/v1/predict", json=TYPICAL)
    for answer in (health, response):
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "audit_unavailable"
    assert "probability_of_default" not in response.text
    assert items(audited) == []


@pytest.fixture
def stubbed(
    aws_credentials: None, configure: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> Stubber:
    """A DynamoDB client whose answers the test scripts with botocore's Stubber."""
    configure(AUDIT_TABLE=TABLE, AUDIT_HASH_KEY=HASH_KEY)
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    monkeypatch.setattr(audit, "dynamodb", lambda: dynamodb)
    with Stubber(dynamodb) as stubber:
        yield stubber


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ThrottlingException", 400),
        ("ProvisionedThroughputExceededException", 400),
        ("AccessDeniedException", 400),
        ("ResourceNotFoundException", 400),
        ("ConditionalCheckFailedException", 400),
        ("RequestTimeout", 408),
        ("InternalServerError", 500),
        ("ServiceUnavailable", 503),
    ],
)
def test_audit_fault_fails_closed(
    stubbed: Stubber, client: TestClient, capsys: pytest.CaptureFixture[str], code: str, status: int
) -> None:
    stubbed.add_client_error("put_item", service_error_code=code, http_status_code=status)
    response = client.post("/v1/predict", json=TYPICAL)
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "audit_unavailable"
    assert "probability_of_default" not in response.text
    logged = [line for line in capsys.readouterr().out.splitlines() if "audit write failed" in line]
    assert len(logged) == 1
    assert code in logged[0]
    assert error["request_id"] in logged[0]


def test_batch_audit_fault_fails_closed(stubbed: Stubber, client: TestClient) -> None:
    stubbed.add_client_error("batch_write_item", service_error_code="AccessDeniedException")
    response = client.post("/v1/predict/batch", json={"applicants": [TYPICAL, HIGH_RISK]})
    assert response.status_code == 503
    assert "predictions" not in response.text


def test_batch_left_unprocessed_fails_closed(stubbed: Stubber, client: TestClient) -> None:
    for _ in range(audit.UNPROCESSED_RETRIES + 1):
        stubbed.add_response(
            "batch_write_item",
            {"UnprocessedItems": {TABLE: [{"PutRequest": {"Item": {"request_id": {"S": "x"}}}}]}},
        )
    response = client.post("/v1/predict/batch", json={"applicants": [TYPICAL]})
    assert response.status_code == 503
    stubbed.assert_no_pending_responses()


def test_batch_resends_unprocessed_items(stubbed: Stubber, client: TestClient) -> None:
    stubbed.add_response(
        "batch_write_item",
        {"UnprocessedItems": {TABLE: [{"PutRequest": {"Item": {"request_id": {"S": "x"}}}}]}},
    )
    stubbed.add_response("batch_write_item", {"UnprocessedItems": {}})
    response = client.post("/v1/predict/batch", json={"applicants": [TYPICAL]})
    assert response.status_code == 200
    stubbed.assert_no_pending_responses()


def test_audit_recovers_after_outage(stubbed: Stubber, client: TestClient) -> None:
    stubbed.add_client_error("put_item", service_error_code="ThrottlingException")
    stubbed.add_response("put_item", {})
    assert client.post("/v1/predict", json=TYPICAL).status_code == 503
    assert client.post("/v1/predict", json=TYPICAL).status_code == 200


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers (a hung DynamoDB)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stopping = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stopping.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stopping.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


def test_hung_dynamodb_answers_503_within_two_seconds(
    aws_credentials: None, configure: Callable[..., None], client: TestClient, silent_endpoint: str
) -> None:
    configure(AUDIT_TABLE=TABLE, AUDIT_HASH_KEY=HASH_KEY, AWS_ENDPOINT_URL=silent_endpoint)
    durations = []
    for _ in range(3):
        started = time.perf_counter()
        response = client.post("/v1/predict", json=TYPICAL)
        durations.append(time.perf_counter() - started)
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "audit_unavailable"
    assert max(durations) <= 2.0


@pytest.fixture
def moto_server() -> Iterator[str]:
    """Moto in server mode on a free 127.0.0.1 port."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_uvicorn_app_audits_to_moto_server_end_to_end(
    aws_credentials: None,
    moto_server: str,
    serve_api: Callable[[dict[str, str]], AbstractContextManager[str]],
) -> None:
    dynamodb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=moto_server)
    create_table(dynamodb)
    secrets = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=moto_server)
    secret = secrets.create_secret(Name="audit-key", SecretString="e" * 48)
    env = {
        "AUDIT_TABLE": TABLE,
        "AUDIT_KEY_SECRET_ARN": secret["ARN"],
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    with serve_api(env) as url:
        request = urllib.request.Request(
            f"{url}/v1/predict",
            data=json.dumps(HIGH_RISK).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            body = json.loads(answer.read())
        stored = dynamodb.scan(TableName=TABLE)["Items"]
        dynamodb.delete_table(TableName=TABLE)  # the store goes away: the next decision must be refused
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 503
    assert json.loads(refused.value.read())["error"]["code"] == "audit_unavailable"
    assert [item["request_id"]["S"] for item in stored] == [body["request_id"]]
    assert stored[0]["hash_key_version"]["S"] == secret["VersionId"]
    assert stored[0]["input_hash"]["S"] == audit.input_hash(canonical(HIGH_RISK), key=b"e" * 48)
