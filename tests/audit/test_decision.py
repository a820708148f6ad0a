"""The embedded decision log: the same records in SQLite, a generated HMAC key, and the drift job on a laptop."""

import json
import sqlite3
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient
from moto import mock_aws

from functions.api.app import get_app
from functions.audit import stores as audit
from functions.audit.decision import (
    AuditUnavailableError,
    DecisionRecord,
    SqliteDecisionLog,
    StoredBins,
    canonical_bytes,
)
from functions.audit.key import input_hash
from functions.monitoring import job as drift_job
from functions.scoring.contract import FEATURE_NAMES, Applicant
from functions.scoring.model import Decision
from training.synthetic import TYPICAL, generate_rows

DECISION = Decision(
    probability_of_default=0.2, predicted_default=False, threshold=0.3, score=640, risk_grade="C", reasons=()
)
BINS = dict.fromkeys(FEATURE_NAMES, 1) | {"score": 4}


def record(key: str, *, at: str = "2026-03-01T10:00:00.000+00:00", synthetic: bool = False) -> DecisionRecord:
    """A decision record with fixed bins."""
    return DecisionRecord(
        key=key,
        request_id=key.split("#")[0],
        decided_at=at,
        model_version="m1",
        input_hash="a" * 64,
        hash_key_version="v",
        decision=DECISION,
        synthetic=synthetic,
        bins=BINS,
    )


def test_log_reads_back_a_day_from_a_time(tmp_path: Path) -> None:
    log = SqliteDecisionLog(tmp_path / "var" / "decisions.sqlite")
    log.write([record("a"), record("b", at="2026-03-01T23:00:00.000+00:00", synthetic=True)], deadline=None)
    log.write([record("c", at="2026-03-02T01:00:00.000+00:00")], deadline=None)
    assert list(log.read_day("2026-03-01", since="2026-03-01T00:00:00.000+00:00")) == [
        StoredBins(model_version="m1", synthetic=False, bins=BINS),
        StoredBins(model_version="m1", synthetic=True, bins=BINS),
    ]
    assert len(list(log.read_day("2026-03-01", since="2026-03-01T12:00:00.000+00:00"))) == 1
    assert len(list(log.read_day("2026-03-02", since="2026-03-01T12:00:00.000+00:00"))) == 1


def test_log_never_overwrites_and_writes_a_request_whole_or_not_at_all(tmp_path: Path) -> None:
    log = SqliteDecisionLog(tmp_path / "decisions.sqlite")
    log.write([record("r")], deadline=None)
    with pytest.raises(AuditUnavailableError, match="refused the write"):
        log.write([record("r")], deadline=None)
    with pytest.raises(AuditUnavailableError):
        log.write([record("s#0"), record("s#1"), record("s#0")], deadline=None)
    with sqlite3.connect(tmp_path / "decisions.sqlite") as connection:
        assert connection.execute("SELECT request_id FROM decisions").fetchall() == [("r",)]


@pytest.fixture
def local_log(tmp_path: Path, configure: Callable[..., None], referenced_model_dir: Path) -> Path:
    """The app recording to a SQLite log under tmp_path/var, with no DynamoDB and no configured key."""
    path = tmp_path / "var" / "decisions.sqlite"
    configure(
        DECISION_LOG=str(path), AUDIT_TABLE=None, AUDIT_HASH_KEY=None, MODEL_DIR=str(referenced_model_dir)
    )
    return path


def test_app_records_to_the_local_log_with_a_generated_key(local_log: Path) -> None:
    with TestClient(get_app()) as client:
        assert client.get("/v1/health").json()["audit"] == "enabled"
        answer = client.post("/v1/predict", json=TYPICAL).json()
    key_file = local_log.with_suffix(".key")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    with sqlite3.connect(local_log) as connection:
        connection.row_factory = sqlite3.Row
        [row] = connection.execute("SELECT * FROM decisions").fetchall()
    canonical = canonical_bytes(Applicant.model_validate(TYPICAL))  # the one function the audit hash covers
    assert row["request_id"] == answer["request_id"]
    assert row["input_hash"] == audit.input_hash(canonical, key=key_file.read_bytes())
    assert row["hash_key_version"] == "file:decisions.key"
    assert row["score"] == answer["score"] and row["synthetic"] == 0
    assert set(json.loads(row["bins"])) == {*FEATURE_NAMES, "score"}
    assert str(TYPICAL["limit_bal"]) not in json.dumps(dict(row))


def test_unwritable_log_fails_closed(tmp_path: Path, configure: Callable[..., None]) -> None:
    (tmp_path / "file").write_text("not a folder")
    configure(
        DECISION_LOG=str(tmp_path / "file" / "decisions.sqlite"), AUDIT_TABLE=None, AUDIT_HASH_KEY="k" * 40
    )
    with TestClient(get_app()) as client:
        response = client.post("/v1/predict", json=TYPICAL)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "audit_unavailable"


def test_drift_job_reads_the_local_log_as_it_reads_dynamodb(
    local_log: Path, aws_credentials: None, create_audit_table: Callable[[Any, str], None]
) -> None:
    with TestClient(get_app()) as client:
        assert (
            client.post("/v1/predict/batch", json={"applicants": generate_rows(80, seed=31)}).status_code
            == 200
        )
    with sqlite3.connect(local_log) as connection:
        keys = [key for (key,) in connection.execute("SELECT request_id FROM decisions")]
    log = SqliteDecisionLog(local_log)
    now = datetime.now(UTC)
    with mock_aws():
        create_audit_table(boto3.client("dynamodb"), "decisions")
        table = audit.DynamoDecisionTable("decisions")
        table.write([audit_record(log, key) for key in keys], deadline=None)
        on_aws = drift_job.measure(table, now=now, hours=24, min_decisions=50)
    on_laptop = drift_job.measure(log, now=now, hours=24, min_decisions=50)
    (laptop_tally, laptop_drift, _), (aws_tally, aws_drift, _) = on_laptop, on_aws
    assert laptop_drift == aws_drift
    assert {k: v.tolist() for k, v in laptop_tally.bins.counts.items()} == {
        k: v.tolist() for k, v in aws_tally.bins.counts.items()
    }
    assert laptop_tally.rows == aws_tally.rows == 80


def audit_record(log: SqliteDecisionLog, key: str) -> DecisionRecord:
    """Read one record back from the SQLite log as a DecisionRecord (to copy it into DynamoDB)."""
    with sqlite3.connect(log.path) as connection:
        connection.row_factory = sqlite3.Row
        row = connection.execute("SELECT * FROM decisions WHERE request_id = ?", (key,)).fetchone()
    return DecisionRecord(
        key=row["request_id"],
        request_id=row["api_request_id"],
        decided_at=row["decided_at"],
        model_version=row["model_version"],
        input_hash=row["input_hash"],
        hash_key_version=row["hash_key_version"],
        decision=DECISION,
        batch_index=row["batch_index"],
        synthetic=bool(row["synthetic"]),
        bins=json.loads(row["bins"]),
    )


def test_drift_job_prints_the_psi_table_from_the_local_log(
    local_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert drift_job.main(["--local"]) == 1
    assert "No decision log" in capsys.readouterr().err
    with TestClient(get_app()) as client:
        client.post("/v1/predict/batch", json={"applicants": generate_rows(60, seed=32)})
    assert drift_job.main(["--local"]) == 1  # 60 decisions, fewer than the default minimum
    assert "fewer than 100: no PSI" in capsys.readouterr().err
    assert drift_job.main(["--local", "--min-decisions", "50"]) == 0
    table = capsys.readouterr().out
    assert table.startswith("60 rows")
    assert all(f"\n{name} " in table for name in (*FEATURE_NAMES, "score"))
    assert drift_job.main(["--local", "--min-decisions", "50", "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert list(printed["psi"]) == [*FEATURE_NAMES, "score"] and printed["rows"] == 60


FIXED_APPLICANT: dict[str, int] = {
    "limit_bal": 200000, "sex": 2, "education": 2, "marriage": 1, "age": 35,
    "pay_0": 0, "pay_2": 0, "pay_3": 0, "pay_4": 0, "pay_5": 0, "pay_6": 0,
    "bill_amt1": 50000, "bill_amt2": 48000, "bill_amt3": 46000, "bill_amt4": 44000, "bill_amt5": 42000,
    "bill_amt6": 40000, "pay_amt1": 2000, "pay_amt2": 2000, "pay_amt3": 2000, "pay_amt4": 2000,
    "pay_amt5": 2000, "pay_amt6": 2000,
}  # fmt: skip


def test_canonical_bytes_and_the_audit_hash_are_pinned() -> None:
    """A change to the canonical form would make every stored hash unverifiable: these literals must not move."""
    canonical = canonical_bytes(Applicant.model_validate(FIXED_APPLICANT))
    assert canonical == (
        b'{"limit_bal":200000.0,"sex":2,"education":2,"marriage":1,"age":35,"pay_0":0,"pay_2":0,"pay_3":0,'
        b'"pay_4":0,"pay_5":0,"pay_6":0,"bill_amt1":50000.0,"bill_amt2":48000.0,"bill_amt3":46000.0,'
        b'"bill_amt4":44000.0,"bill_amt5":42000.0,"bill_amt6":40000.0,"pay_amt1":2000.0,"pay_amt2":2000.0,'
        b'"pay_amt3":2000.0,"pay_amt4":2000.0,"pay_amt5":2000.0,"pay_amt6":2000.0}'
    )
    assert input_hash(canonical, key=b"k" * 32) == (
        "9436a1983a352d0bf274a2b760c79f5ed95a72f70a5747349d1a62e131f7c492"
    )
    as_floats = {name: float(value) for name, value in FIXED_APPLICANT.items()}
    assert canonical_bytes(Applicant.model_validate(as_floats)) == canonical
