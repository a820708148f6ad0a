"""The audit trail under faults: refusals, throttling, a hung endpoint, a moto server (deadline: test_audit_deadline)."""

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
from moto.server import ThreadedMotoServer

from functions.api.serving import load_serving_strategy
from functions.audit import stores as audit
from functions.audit.decision import canonical_bytes
from functions.scoring.contract import Applicant
from scripts.local import free_port
from training.synthetic import HIGH_RISK, TYPICAL

TABLE = "credit-default-audit"
HASH_KEY = "k" * 40
UNPROCESSED = {"UnprocessedItems": {TABLE: [{"PutRequest": {"Item": {"request_id": {"S": "x"}}}}]}}


def canonical(applicant: dict[str, Any]) -> bytes:
    """The canonical JSON the app hashes for an applicant."""
    return canonical_bytes(Applicant.model_validate(applicant))


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
    stubbed_audit: Stubber, client: TestClient, capsys: pytest.CaptureFixture[str], code: str, status: int
) -> None:
    stubbed_audit.add_client_error("put_item", service_error_code=code, http_status_code=status)
    response = client.post("/v1/predict", json=TYPICAL)
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "audit_unavailable"
    assert "probability_of_default" not in response.text
    logged = [line for line in capsys.readouterr().out.splitlines() if "audit write failed" in line]
    assert len(logged) == 1
    assert code in logged[0]
    assert error["request_id"] in logged[0]


def test_batch_audit_fault_fails_closed(stubbed_audit: Stubber, client: TestClient) -> None:
    stubbed_audit.add_client_error("batch_write_item", service_error_code="AccessDeniedException")
    response = client.post("/v1/predict/batch", json={"applicants": [TYPICAL, HIGH_RISK]})
    assert response.status_code == 503
    assert "predictions" not in response.text


def test_batch_left_unprocessed_fails_closed(stubbed_audit: Stubber, client: TestClient) -> None:
    for _ in range(audit.UNPROCESSED_RETRIES + 1):
        stubbed_audit.add_response(
            "batch_write_item",
            UNPROCESSED,
        )
    response = client.post("/v1/predict/batch", json={"applicants": [TYPICAL]})
    assert response.status_code == 503
    stubbed_audit.assert_no_pending_responses()


def test_batch_resends_unprocessed_items(stubbed_audit: Stubber, client: TestClient) -> None:
    stubbed_audit.add_response(
        "batch_write_item",
        {"UnprocessedItems": {TABLE: [{"PutRequest": {"Item": {"request_id": {"S": "x"}}}}]}},
    )
    stubbed_audit.add_response("batch_write_item", {"UnprocessedItems": {}})
    response = client.post("/v1/predict/batch", json={"applicants": [TYPICAL]})
    assert response.status_code == 200
    stubbed_audit.assert_no_pending_responses()


def test_audit_recovers_after_outage(stubbed_audit: Stubber, client: TestClient) -> None:
    stubbed_audit.add_client_error("put_item", service_error_code="ThrottlingException")
    stubbed_audit.add_response("put_item", {})
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
    load_serving_strategy()  # a warm container: the timed requests measure the request, not the model's load
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
    create_audit_table: Callable[[Any, str], None],
) -> None:
    dynamodb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=moto_server)
    create_audit_table(dynamodb, TABLE)
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
