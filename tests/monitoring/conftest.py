"""Fixtures of the S3 drop of outcome files: moto's audit table holding 30 decisions and a versioned drop bucket."""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote_plus

import boto3
import pytest

from functions.audit import stores as audit
from functions.audit.decision import DecisionRecord
from functions.scoring.model import to_matrix
from training.synthetic import generate_rows

EVENTS: Final = Path(__file__).resolve().parents[2] / "events"
TABLE: Final = "credit-default-audit"
BUCKET: Final = "credit-default-outcome-drop"
HEADER: Final = "decision_key,defaulted,observed_on"


@dataclass
class DropBucket:
    """The drop bucket and audit table in moto: upload files as AWS would announce them, read what came of them."""

    s3: Any
    records: list[DecisionRecord]

    def put(self, key: str, text: str | bytes, *, shape: str = "s3-put") -> dict[str, Any]:
        """Upload a file; return the event AWS sends for it, shaped as events/<shape>-outcomes.json."""
        body = text.encode() if isinstance(text, str) else text
        version = self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)["VersionId"]
        event: dict[str, Any] = json.loads((EVENTS / f"{shape}-outcomes.json").read_text())
        if shape == "s3-put":
            (record,) = event["Records"]
            record["s3"]["bucket"]["name"] = BUCKET
            record["s3"]["object"] |= {
                "key": quote_plus(key, safe="/"),
                "size": len(body),
                "versionId": version,
            }
        else:
            event["detail"]["bucket"]["name"] = BUCKET
            event["detail"]["object"] |= {"key": key, "size": len(body), "version-id": version}
        return event

    def result(self, key: str) -> dict[str, Any]:
        """Return the result object written beside `key`."""
        body = self.s3.get_object(Bucket=BUCKET, Key=f"{key}.result.json")["Body"].read()
        loaded: dict[str, Any] = json.loads(body)
        return loaded

    def has_result(self, key: str) -> bool:
        """Whether a result object was written beside `key`."""
        return "Contents" in self.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{key}.result.json")

    def outcomes(self) -> dict[str, tuple[bool, str] | None]:
        """Return each decision's stored outcome (flag, day), None without one, read from moto's table."""
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        stored = {}
        for record in self.records:
            item = dynamodb.get_item(TableName=TABLE, Key={"request_id": {"S": record.key}})["Item"]
            found = "outcome_defaulted" in item
            stored[record.key] = (
                (item["outcome_defaulted"]["BOOL"], item["outcome_observed_on"]["S"]) if found else None
            )
        return stored

    def nothing_recorded(self) -> bool:
        """Whether no decision has an outcome."""
        return all(stored is None for stored in self.outcomes().values())

    def file(self, *, flip: bool = False, extra: tuple[str, ...] = ()) -> str:
        """An outcome file for decisions 0-19 (0 and 10 synthetic; every third defaulted), then `extra` lines."""
        lines = [f"{r.key},{(i % 3 == 0) != flip},2026-11-30" for i, r in enumerate(self.records[:20])]
        return "\n".join([HEADER, *lines, *extra]) + "\n"


@pytest.fixture(scope="module")
def drop_records(make_records: Callable[..., list[DecisionRecord]]) -> list[DecisionRecord]:
    """30 recorded decisions of generated clients; every tenth (index 0, 10, 20) a synthetic one."""
    return make_records(to_matrix(generate_rows(30, seed=61)), synthetic_every=10)


@pytest.fixture
def drop(
    aws_credentials: None,
    configure: Callable[..., None],
    create_audit_table: Callable[[Any, str], None],
    drop_records: list[DecisionRecord],
) -> Iterator[DropBucket]:
    """moto's audit table (AUDIT_TABLE) holding the 30 decisions, and a versioned drop bucket."""
    from moto import mock_aws

    with mock_aws():
        configure(AUDIT_TABLE=TABLE, DECISION_LOG=None)
        create_audit_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
        audit.DynamoDecisionTable(TABLE).write(drop_records, deadline=None)
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield DropBucket(s3, drop_records)
        audit.reset()
