"""The DynamoDB decision audit trail: records, keyed hashes, reference bins (faults: tests/audit/test_stores_faults.py)."""

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient
from moto import mock_aws

from functions.api.app import get_app, handler
from functions.api.gateway.request_state import SYNTHETIC_HEADER
from functions.api.pretraffic import predict_event
from functions.audit import key as auditkey
from functions.audit import stores as audit
from functions.audit.decision import DecisionRecord, canonical_bytes, decision_bins, note_missing_reference
from functions.scoring.adverse.statements import STATEMENTS
from functions.scoring.contract import FEATURE_NAMES, Applicant, ReasonCode
from functions.scoring.manifest import read_manifest
from functions.scoring.model import Decision, to_matrix
from training.synthetic import HIGH_RISK, TYPICAL, generate_rows

TABLE = "credit-default-audit"
HASH_KEY = "k" * 40
DECISION = Decision(
    probability_of_default=0.25,
    predicted_default=False,
    threshold=0.29,
    score=590,
    risk_grade="C",
    reasons=(
        ReasonCode(
            code="latest_status",
            text="1 month late on the latest payment",
            impact=0.1,
            statement=STATEMENTS["latest_status"],
        ),
    ),
)

SMOKE_TOKEN = "s" * 24  # the deploy-time synthetic-traffic secret


@pytest.fixture
def audited(
    aws_credentials: None, configure: Callable[..., None], create_audit_table: Callable[[Any, str], None]
) -> Iterator[Any]:
    """Moto's DynamoDB with the audit table, and the app configured to audit with an env HMAC key."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_audit_table(client, TABLE)
        configure(AUDIT_TABLE=TABLE, AUDIT_HASH_KEY=HASH_KEY)
        yield client


def items(dynamodb: Any) -> list[dict[str, Any]]:
    """Return every audit item."""
    return list(dynamodb.scan(TableName=TABLE)["Items"])


def canonical(applicant: dict[str, Any]) -> bytes:
    """The canonical JSON the app hashes for an applicant."""
    return canonical_bytes(Applicant.model_validate(applicant))


def test_input_hash_is_keyed_and_canonical() -> None:
    as_ints = canonical(TYPICAL)
    as_floats = canonical({**TYPICAL, "limit_bal": float(TYPICAL["limit_bal"])})
    assert as_ints == as_floats
    key = HASH_KEY.encode()
    assert audit.input_hash(as_ints, key=key) == audit.input_hash(as_floats, key=key)
    assert audit.input_hash(as_ints, key=key) != audit.input_hash(as_ints, key=b"x" * 40)
    assert audit.input_hash(as_ints, key=key) != audit.input_hash(canonical(HIGH_RISK), key=key)


def test_item_records_decision_without_inputs() -> None:
    record = DecisionRecord(
        key="rid#2",
        request_id="rid",
        decided_at="2026-01-01T00:00:00.000+00:00",
        model_version="m1",
        input_hash=audit.input_hash(canonical(TYPICAL), key=HASH_KEY.encode()),
        hash_key_version="v1",
        decision=DECISION,
        batch_index=2,
        bins=dict.fromkeys(FEATURE_NAMES, 1) | {"score": 3},
    )
    item = audit.to_item(record)
    assert item["request_id"] == {"S": "rid#2"}
    assert item["decided_day"] == {"S": audit.day_shard(record)}
    assert item["decided_day"]["S"].split("#")[0] == "2026-01-01"
    assert item["synthetic"] == {"BOOL": False}
    assert item["bins"]["M"]["score"] == {"N": "3"}
    assert item["bins"]["M"]["limit_bal"] == {"N": "1"}
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
    assert item["decided_day"]["S"].startswith(item["decided_at"]["S"][:10] + "#")
    assert item["synthetic"] == {"BOOL": False}
    assert "batch_index" not in item
    # One reference bin index per input and for the score, never the raw values (issue 12, item 4).
    assert set(item["bins"]["M"]) == {*FEATURE_NAMES, "score"}
    assert all(set(index) == {"N"} and int(index["N"]) >= 0 for index in item["bins"]["M"].values())


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
    make_client = auditkey.aws_client
    monkeypatch.setattr(
        auditkey, "aws_client", lambda service: clients.append(service) or make_client(service)
    )
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


def test_a_batch_spreads_over_the_day_index_shards(audited: Any, client: TestClient) -> None:
    assert (
        client.post("/v1/predict/batch", json={"applicants": generate_rows(200, seed=9)}).status_code == 200
    )
    shards = {item["decided_day"]["S"].split("#")[1] for item in items(audited)}
    assert shards == {str(shard) for shard in range(audit.DAY_SHARDS)}


def test_records_carry_reference_bins_never_raw_values(
    audited: Any, client: TestClient, configure: Callable[..., None], referenced_model_dir: Path
) -> None:
    configure(MODEL_DIR=str(referenced_model_dir))
    rows = generate_rows(30, seed=8)
    response = client.post("/v1/predict/batch", json={"applicants": rows})
    assert response.status_code == 200
    reference = read_manifest(referenced_model_dir).reference
    scores = [p["score"] for p in response.json()["predictions"]]
    expected = decision_bins(to_matrix(rows), scores, reference)
    assert expected is not None
    stored = {int(item["batch_index"]["N"]): item for item in items(audited)}
    for i, bins in enumerate(expected):
        assert stored[i]["bins"]["M"] == {name: {"N": str(index)} for name, index in bins.items()}
        assert list(bins) == [*FEATURE_NAMES, "score"]
    assert str(rows[0]["limit_bal"]) not in json.dumps(stored[0])


def test_missing_reference_is_said_once_and_scoring_goes_on(
    audited: Any,
    configure: Callable[..., None],
    unreferenced_model_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(MODEL_DIR=str(unreferenced_model_dir))
    client = TestClient(get_app())
    note_missing_reference.cache_clear()
    for applicant in (TYPICAL, HIGH_RISK):
        assert client.post("/v1/predict", json=applicant).status_code == 200
    said = [line for line in capsys.readouterr().out.splitlines() if "no reference distributions" in line]
    assert len(said) == 1
    assert all("bins" not in item for item in items(audited))


def test_decision_bins_follow_the_reference(referenced_model_dir: Path) -> None:
    reference = read_manifest(referenced_model_dir).reference
    assert reference is not None
    raw = to_matrix([TYPICAL, HIGH_RISK])
    bins = decision_bins(raw, [700, 400], reference)
    assert bins is not None
    assert bins[0]["pay_0"] == reference.inputs[FEATURE_NAMES.index("pay_0")].categories.index(
        TYPICAL["pay_0"]
    )
    assert bins[1]["score"] < bins[0]["score"]  # fewer points, a lower decile
    assert decision_bins(raw, [700, 400], None) is None


def test_synthetic_traffic_is_audited_as_such_and_kept_out_of_decision_metrics(
    audited: Any, client: TestClient, configure: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    configure(  # EMF metric lines are written under Lambda only; the smoke test holds the synthetic secret
        AWS_LAMBDA_FUNCTION_NAME="credit-default-scoring", SYNTHETIC_TRAFFIC_TOKEN=SMOKE_TOKEN
    )
    marked = client.post("/v1/predict", json=TYPICAL, headers={SYNTHETIC_HEADER: SMOKE_TOKEN})
    plain = client.post("/v1/predict", json=TYPICAL)
    flags = {item["request_id"]["S"]: item["synthetic"] for item in items(audited)}
    assert flags == {marked.json()["request_id"]: {"BOOL": True}, plain.json()["request_id"]: {"BOOL": False}}
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [m["Requests"] for m in metrics] == [1, 1]  # both count as requests
    assert "ProbabilityOfDefault" not in metrics[0] and "Decisions" not in metrics[0]
    assert metrics[1]["Decisions"] == 1 and len(metrics[1]["ProbabilityOfDefault"]) == 1


def test_deploy_hook_requests_are_synthetic(
    audited: Any,
    body_of: Callable[[dict[str, Any]], Any],
    lambda_context: Any,
    configure: Callable[..., None],
) -> None:
    configure(SYNTHETIC_TRAFFIC_TOKEN=SMOKE_TOKEN)  # the hook holds the deploy-time secret
    answer = handler(predict_event(TYPICAL), lambda_context)
    assert answer["statusCode"] == 200
    [item] = items(audited)
    assert item["request_id"]["S"] == body_of(answer)["request_id"]
    assert item["synthetic"] == {"BOOL": True}


def test_a_damaged_item_is_read_back_as_one_damaged_record(audited: Any) -> None:
    from functions.audit.decision import DAMAGED

    base = {"decided_day": {"S": "2026-01-01#0"}, "decided_at": {"S": "2026-01-01T10:00:00.000+00:00"}}
    good = base | {
        "request_id": {"S": "good"},
        "model_version": {"S": "m1"},
        "bins": {"M": {"score": {"N": "3"}}},
    }
    no_version = base | {"request_id": {"S": "no-version"}}
    bad_bin = base | {
        "request_id": {"S": "bad-bin"},
        "model_version": {"S": "m1"},
        "bins": {"M": {"score": {"S": "x"}}},
    }
    for item in (good, no_version, bad_bin):
        audited.put_item(TableName=TABLE, Item=item)
    stored = sorted(
        audit.decision_store().read_day("2026-01-01", since="2026-01-01"), key=lambda s: s.damaged
    )
    assert stored[0].bins == {"score": 3} and not stored[0].damaged
    assert stored[1:] == [DAMAGED, DAMAGED]
