"""The S3 drop of outcome files when AWS fails (raise, so Lambda retries and the alarm fires; nothing half
written) and for events that name no outcome file (logged, never raised). Fixtures: conftest.py."""

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ResponseStreamingError
from botocore.stub import Stubber

from functions.monitoring.loop import outcome_drop
from functions.monitoring.loop.outcome_drop import DropUnavailableError, handler


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
    drop: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    class BreakingS3:
        def __getattr__(self, name: str) -> Any:
            return getattr(drop.s3, name)

        def get_object(self, **kwargs: Any) -> dict[str, Any]:
            answer: dict[str, Any] = drop.s3.get_object(**kwargs)
            return answer | {"Body": FailingBody(answer["Body"])}

    monkeypatch.setattr(outcome_drop.aws, "client", lambda service: BreakingS3())
    event = drop.put("outcomes/a.csv", drop.file())
    with pytest.raises(DropUnavailableError, match=r"outcomes/a\.csv: ResponseStreamingError"):
        handler(event, None)
    assert drop.nothing_recorded() and not drop.has_result("outcomes/a.csv")


def test_a_denied_read_raises_for_a_retry(drop: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    event = drop.put("outcomes/a.csv", drop.file())
    denied = boto3.client("s3", region_name="us-east-1")
    monkeypatch.setattr(outcome_drop.aws, "client", lambda service: denied)
    with Stubber(denied) as stubber:
        stubber.add_client_error("get_object", service_error_code="AccessDenied", http_status_code=403)
        with pytest.raises(DropUnavailableError, match="AccessDenied") as raised:
            handler(event, None)
    assert isinstance(raised.value.__cause__, ClientError)
    assert drop.nothing_recorded()


def test_a_result_that_cannot_be_written_raises_for_a_retry(
    drop: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    class ReadOnlyS3:
        def __getattr__(self, name: str) -> Any:
            return getattr(drop.s3, name)

        def put_object(self, **kwargs: Any) -> None:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "PutObject")

    monkeypatch.setattr(outcome_drop.aws, "client", lambda service: ReadOnlyS3())
    with pytest.raises(DropUnavailableError, match="result not written"):
        handler(drop.put("outcomes/a.csv", drop.file()), None)
    # recorded already: the retry finds them recorded and says so in its result
    monkeypatch.setattr(outcome_drop.aws, "client", lambda service: drop.s3)
    handler(drop.put("outcomes/a.csv", drop.file()), None)
    assert drop.result("outcomes/a.csv")["already_recorded"] == 18


def test_a_file_deleted_before_it_is_read_is_logged_not_retried(
    drop: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    event = drop.put("outcomes/a.csv", drop.file())
    version = event["Records"][0]["s3"]["object"]["versionId"]
    drop.s3.delete_object(Bucket="credit-default-outcome-drop", Key="outcomes/a.csv", VersionId=version)
    assert handler(event, None)["results"][0]["status"] == "gone"
    assert "outcome file gone before it was read" in capsys.readouterr().out
    assert drop.nothing_recorded() and not drop.has_result("outcomes/a.csv")


def test_a_missing_audit_table_raises_and_writes_no_result(drop: Any, configure: Callable[..., None]) -> None:
    configure(AUDIT_TABLE="no-such-table")
    with pytest.raises(DropUnavailableError, match="AuditUnavailableError"):
        handler(drop.put("outcomes/a.csv", drop.file()), None)
    assert not drop.has_result("outcomes/a.csv")


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"Records": "nonsense"},
        {"Records": [{"s3": {"bucket": {"name": "credit-default-outcome-drop"}, "object": {"key": 7}}}]},
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
def test_result_objects_and_other_keys_are_left_alone(drop: Any, key: str) -> None:
    assert handler(drop.put(key, drop.file()), None) == {"results": []}
    assert drop.nothing_recorded()
