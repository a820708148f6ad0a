"""The S3 drop of outcome files: moto's S3 and DynamoDB, the events as AWS sends them (events/*-outcomes.json)."""

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from botocore.exceptions import ClientError, ResponseStreamingError
from botocore.stub import Stubber

from functions.audit import stores as audit
from functions.audit.decision import DecisionRecord
from functions.monitoring import outcome_drop
from functions.monitoring.outcome_drop import DropUnavailableError, handler
from functions.scoring.model import to_matrix
from training.synthetic import generate_rows

EVENTS = Path(__file__).resolve().parents[2] / "events"
TABLE = "credit-default-audit"
BUCKET = "credit-default-outcome-drop"
HEADER = "decision_key,defaulted,observed_on"


@pytest.fixture(scope="module")
def records(make_records: Callable[..., list[DecisionRecord]]) -> list[DecisionRecord]:
    """30 recorded decisions of generated clients; every tenth (index 0, 10, 20) a synthetic one."""
    return make_records(to_matrix(generate_rows(30, seed=61)), synthetic_every=10)


@pytest.fixture
def drop(
    aws_credentials: None,
    configure: Callable[..., None],
    create_audit_table: Callable[[Any, str], None],
    records: list[DecisionRecord],
) -> Iterator[Any]:
    """moto's audit table holding the 30 decisions and a versioned drop bucket; yields an S3 client."""
    from moto import mock_aws

    with mock_aws():
        configure(AUDIT_TABLE=TABLE, DECISION_LOG=None)
        create_audit_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
        audit.DynamoDecisionTable(TABLE).write(records, deadline=None)
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield s3
        audit.reset()


def put(s3: Any, key: str, text: str | bytes, *, shape: str = "s3-put") -> dict[str, Any]:
    """Upload a file and return the event AWS sends for it, in the shape of events/<shape>-outcomes.json."""
    body = text.encode() if isinstance(text, str) else text
    version = s3.put_object(Bucket=BUCKET, Key=key, Body=body)["VersionId"]
    event: dict[str, Any] = json.loads((EVENTS / f"{shape}-outcomes.json").read_text())
    if shape == "s3-put":
        (record,) = event["Records"]
        record["s3"]["bucket"]["name"] = BUCKET
        record["s3"]["object"] |= {"key": quote_plus(key, safe="/"), "size": len(body), "versionId": version}
    else:
        event["detail"]["bucket"]["name"] = BUCKET
        event["detail"]["object"] |= {"key": key, "size": len(body), "version-id": version}
    return event


def result(s3: Any, key: str) -> dict[str, Any]:
    """Return the result object written beside `key`."""
    loaded: dict[str, Any] = json.loads(s3.get_object(Bucket=BUCKET, Key=f"{key}.result.json")["Body"].read())
    return loaded


def outcomes(records: list[DecisionRecord]) -> dict[str, tuple[bool, str] | None]:
    """Return each decision's stored outcome (flag, day), None without one, read from moto's table."""
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    stored = {}
    for record in records:
        item = dynamodb.get_item(TableName=TABLE, Key={"request_id": {"S": record.key}})["Item"]
        found = "outcome_defaulted" in item
        stored[record.key] = (
            (item["outcome_defaulted"]["BOOL"], item["outcome_observed_on"]["S"]) if found else None
        )
    return stored


def outcome_file(records: list[DecisionRecord], *, flip: bool = False, extra: tuple[str, ...] = ()) -> str:
    """An outcome file for decisions 0-19 (0 and 10 synthetic; every third defaulted), then `extra` lines."""
    lines = [f"{r.key},{(i % 3 == 0) != flip},2026-11-30" for i, r in enumerate(records[:20])]
    return "\n".join([HEADER, *lines, *extra]) + "\n"


@pytest.mark.parametrize("shape", ["s3-put", "eventbridge"])
def test_a_good_file_records_its_outcomes_and_says_so_beside_it(
    drop: Any, records: list[DecisionRecord], shape: str
) -> None:
    key = "outcomes/november 2026.csv"  # a space: S3's notification sends it as "+"
    answer = handler(
        put(drop, key, outcome_file(records, extra=("nobody#1,false,2026-11-30",)), shape=shape), None
    )
    written = result(drop, key)
    assert answer == {"results": [written]}
    assert (written["status"], written["file"]) == ("recorded", key)
    assert (written["recorded"], written["synthetic_skipped"], written["unknown"]) == (18, 2, 1)
    assert written["unknown_keys"] == ["nobody#1"]
    stored = outcomes(records)
    assert [stored[r.key] for r in records[1:4]] == [
        (False, "2026-11-30"),
        (False, "2026-11-30"),
        (True, "2026-11-30"),
    ]
    assert stored[records[0].key] is None and stored[records[10].key] is None  # synthetic: skipped
    assert all(stored[r.key] is None for r in records[20:])


def test_a_bom_and_crlf_saved_by_a_spreadsheet_read_as_the_plain_file(
    drop: Any, records: list[DecisionRecord]
) -> None:
    text = "\ufeff" + outcome_file(records).replace("\n", "\r\n")
    handler(put(drop, "outcomes/excel.csv", text.encode()), None)
    assert result(drop, "outcomes/excel.csv")["recorded"] == 18


def test_a_repeated_drop_changes_nothing(drop: Any, records: list[DecisionRecord]) -> None:
    handler(put(drop, "outcomes/a.csv", outcome_file(records)), None)
    before = outcomes(records)
    handler(put(drop, "outcomes/a.csv", outcome_file(records)), None)
    again = result(drop, "outcomes/a.csv")
    assert (again["recorded"], again["already_recorded"]) == (0, 18)
    assert outcomes(records) == before


def test_a_conflicting_file_records_nothing_and_names_the_keys(
    drop: Any, records: list[DecisionRecord]
) -> None:
    handler(put(drop, "outcomes/a.csv", outcome_file(records)), None)
    before = outcomes(records)
    new = tuple(
        f"{r.key},true,2026-11-30" for r in records[21:25]
    )  # new keys beside the conflicts: not written
    handler(put(drop, "outcomes/b.csv", outcome_file(records, flip=True, extra=new)), None)
    refused = result(drop, "outcomes/b.csv")
    assert (refused["status"], refused["recorded"], refused["conflicts"]) == ("refused", 0, 18)
    assert refused["conflicting_keys"][:2] == [records[1].key, records[2].key]
    assert "nothing was recorded" in refused["message"]
    assert outcomes(records) == before


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        (
            f"{HEADER}\nreq-0000#1,true,2026-11-30\nreq-0000#2,maybe,2026-11-30\nreq 0000,true,2026-11-30\n",
            ["line 3: defaulted must be true, false, 1 or 0", "line 4: decision_key is not a decision key"],
        ),
        (f"{HEADER}\nreq-0000#1,true,2999-01-01\n", ["line 2: observed_on must be a date"]),
        ("decision_key,defaulted\nreq-0000#1,true\n", ["line 1: no column observed_on"]),
        (f"{HEADER}\n", ["line 2: no outcomes in the file"]),
        (
            f"{HEADER}\nreq-0000#1,true,2026-11-30\nreq-0000#2,\xe9,2026\n".encode("latin-1"),
            ["line 3: not UTF-8"],
        ),
        (f'{HEADER}\nreq-0000#1,"{"x" * 140_000}",2026-11-30\n', ["line 2: field larger than field limit"]),
    ],
    ids=["flag and key", "future day", "no column", "empty", "not utf-8", "huge cell"],
)
def test_a_malformed_file_records_nothing_and_names_line_and_field(
    drop: Any, records: list[DecisionRecord], text: str | bytes, problems: list[str]
) -> None:
    answer = handler(put(drop, "outcomes/bad.csv", text), None)
    refused = result(drop, "outcomes/bad.csv")
    assert answer == {"results": [refused]} and (refused["status"], refused["recorded"]) == ("refused", 0)
    assert len(refused["problems"]) == len(problems)
    assert all(got.startswith(want) for got, want in zip(refused["problems"], problems, strict=True))
    assert "bad.csv" in refused["message"]
    assert all(stored is None for stored in outcomes(records).values())


def test_a_file_over_the_line_limit_is_refused_before_it_is_read(
    drop: Any, records: list[DecisionRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outcome_drop, "DROP_MAX_LINES", 5)
    handler(put(drop, "outcomes/long.csv", outcome_file(records)), None)  # 20 lines: more than 5
    assert "more than 5 outcome lines" in result(drop, "outcomes/long.csv")["message"]
    handler(put(drop, "outcomes/big.csv", HEADER + "\n" + "x" * 2000), None)  # above (5 + 1) x 256 bytes
    assert "above the limit of 1,536 bytes" in result(drop, "outcomes/big.csv")["message"]
    assert all(stored is None for stored in outcomes(records).values())


class FailingBody:
    """A streamed body that breaks after its first lines, as a dropped connection does."""

    def __init__(self, body: Any) -> None:
        self.body = body

    def iter_lines(self, *, keepends: bool) -> Iterator[bytes]:
        """Yield two lines, then fail as botocore does when the stream breaks."""
        lines = self.body.iter_lines(keepends=keepends)
        yield next(lines)
        yield next(lines)
        raise ResponseStreamingError(error="Connection broken: IncompleteRead")

    def close(self) -> None:
        """Close the underlying stream."""
        self.body.close()


def test_an_s3_read_failure_raises_for_a_retry_with_nothing_half_written(
    drop: Any, records: list[DecisionRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    class BreakingS3:
        def __getattr__(self, name: str) -> Any:
            return getattr(drop, name)

        def get_object(self, **kwargs: Any) -> dict[str, Any]:
            answer: dict[str, Any] = drop.get_object(**kwargs)
            return answer | {"Body": FailingBody(answer["Body"])}

    monkeypatch.setattr(outcome_drop.aws, "client", lambda service: BreakingS3())
    event = put(drop, "outcomes/a.csv", outcome_file(records))
    with pytest.raises(DropUnavailableError, match=r"outcomes/a\.csv: ResponseStreamingError"):
        handler(event, None)
    assert all(stored is None for stored in outcomes(records).values())
    assert "Contents" not in drop.list_objects_v2(Bucket=BUCKET, Prefix="outcomes/a.csv.result")


def test_a_denied_read_raises_for_a_retry(
    drop: Any, records: list[DecisionRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    event = put(drop, "outcomes/a.csv", outcome_file(records))
    denied = boto3.client("s3", region_name="us-east-1")
    monkeypatch.setattr(outcome_drop.aws, "client", lambda service: denied)
    with Stubber(denied) as stubber:
        stubber.add_client_error("get_object", service_error_code="AccessDenied", http_status_code=403)
        with pytest.raises(DropUnavailableError, match="AccessDenied") as raised:
            handler(event, None)
    assert isinstance(raised.value.__cause__, ClientError)
    assert all(stored is None for stored in outcomes(records).values())


def test_a_file_deleted_before_it_is_read_is_logged_not_retried(
    drop: Any, records: list[DecisionRecord], capsys: pytest.CaptureFixture[str]
) -> None:
    event = put(drop, "outcomes/a.csv", outcome_file(records))
    drop.delete_object(
        Bucket=BUCKET, Key="outcomes/a.csv", VersionId=event["Records"][0]["s3"]["object"]["versionId"]
    )
    assert handler(event, None)["results"][0]["status"] == "gone"
    assert "outcome file gone before it was read" in capsys.readouterr().out
    assert "Contents" not in drop.list_objects_v2(Bucket=BUCKET, Prefix="outcomes/a.csv")
    assert all(stored is None for stored in outcomes(records).values())


def test_a_missing_audit_table_raises_and_writes_no_result(
    drop: Any, records: list[DecisionRecord], configure: Callable[..., None]
) -> None:
    configure(AUDIT_TABLE="no-such-table")
    with pytest.raises(DropUnavailableError, match="AuditUnavailableError"):
        handler(put(drop, "outcomes/a.csv", outcome_file(records)), None)
    assert "Contents" not in drop.list_objects_v2(Bucket=BUCKET, Prefix="outcomes/a.csv.result")


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"Records": "nonsense"},
        {"Records": [{"s3": {"bucket": {"name": BUCKET}, "object": {"key": 7}}}]},
        {"detail-type": "Object Created", "detail": {"bucket": "x"}},
    ],
    ids=["empty", "records not a list", "key not text", "detail without names"],
)
def test_an_event_naming_no_file_is_logged_not_raised(
    drop: Any, event: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert handler(event, None) == {"results": []}
    assert "no outcome file in the event" in capsys.readouterr().out


@pytest.mark.parametrize("key", ["outcomes/a.csv.result.json", "elsewhere/a.csv", "outcomes/a.txt"])
def test_result_objects_and_other_keys_are_left_alone(
    drop: Any, records: list[DecisionRecord], key: str
) -> None:
    assert handler(put(drop, key, outcome_file(records)), None) == {"results": []}
    assert all(stored is None for stored in outcomes(records).values())


def test_each_file_logs_one_json_line_and_publishes_its_counts(
    drop: Any,
    records: list[DecisionRecord],
    configure: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(
        AWS_LAMBDA_FUNCTION_NAME="credit-default-outcome-drop",
        POWERTOOLS_SERVICE_NAME="credit-default-outcomes",
    )
    event = copy.deepcopy(
        put(drop, "outcomes/a.csv", outcome_file(records, extra=("nobody#1,false,2026-11-30",)))
    )
    handler(event, None)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (logged,) = [line for line in lines if line.get("message") == "outcome file checked"]
    assert (logged["file"], logged["status"], logged["recorded"], logged["unknown"]) == (
        "outcomes/a.csv",
        "recorded",
        18,
        1,
    )
    assert logged["service"] == "credit-default-outcomes"
    (metrics,) = [line for line in lines if "_aws" in line]
    assert metrics["route"] == "drop:outcomes"
    assert (metrics["OutcomesRecorded"], metrics["OutcomeKeysUnknown"], metrics["OutcomeFilesRefused"]) == (
        18,
        1,
        0,
    )
