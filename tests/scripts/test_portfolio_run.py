"""The portfolio run CLI against moto: stack outputs, upload, start, progress from the map run, exit statuses."""

import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from scripts.portfolio_run import StillRunning, follow, main
from training.synthetic import generate_rows, to_dataset_csv

OUTPUTS = ("PortfolioInputBucketName", "PortfolioOutputBucketName", "PortfolioStateMachineArn")


@pytest.fixture
def stack(portfolio_moto: SimpleNamespace) -> SimpleNamespace:
    """A plain stack in moto whose outputs name portfolio_moto's buckets and state machine."""
    values = [portfolio_moto.input_bucket, portfolio_moto.output_bucket, portfolio_moto.arn]
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in zip(OUTPUTS, values, strict=True)},
    }
    boto3.client("cloudformation").create_stack(StackName="book", TemplateBody=json.dumps(template))
    return portfolio_moto


@pytest.fixture
def book(tmp_path: Path) -> Path:
    """A 250-row client file (3 shards of 100)."""
    path = tmp_path / "clients march.csv"
    path.write_text(to_dataset_csv(generate_rows(250, seed=41)), encoding="utf-8")
    return path


def fast_sleep(seconds: float) -> None:
    """Poll quickly: moto runs the machine in background threads."""
    time.sleep(0.05)


def test_local_file_is_uploaded_outside_incoming_run_and_located(
    stack: SimpleNamespace, book: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--stack-name", "book", str(book), "--poll", "0.05"], sleep=fast_sleep) == 0
    out = capsys.readouterr().out
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=stack.input_bucket)["Contents"]]
    assert len(keys) == 1
    assert keys[0].startswith("uploads/")  # incoming/ would start a second run through EventBridge
    assert keys[0].endswith("-clients march.csv")
    assert "run SUCCEEDED" in out
    assert "250 rows scored" in out
    assert f"s3://{stack.output_bucket}/results/clients-march-" in out
    runs = stack.sfn.list_executions(stateMachineArn=stack.arn)["executions"]
    assert [r["status"] for r in runs] == ["SUCCEEDED"]


def test_s3_uri_is_used_as_given(
    stack: SimpleNamespace, book: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    boto3.client("s3").upload_file(str(book), stack.input_bucket, "books/march.csv")
    uri = f"s3://{stack.input_bucket}/books/march.csv"
    assert main(["--stack-name", "book", uri, "--poll", "0.05"], sleep=fast_sleep) == 0
    assert "started march-" in capsys.readouterr().out


def test_failed_run_exits_1_and_says_why(
    stack: SimpleNamespace, book: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.shim.unreadable.add(1)
    assert main(["--stack-name", "book", str(book), "--poll", "0.05"], sleep=fast_sleep) == 1
    out = capsys.readouterr().out
    assert "run FAILED" in out
    assert "ShardsFailed" in out


@pytest.mark.parametrize(
    ("stack_name", "source", "message"),
    [
        ("nope", "s3://b/k.csv", "stack nope: not found"),
        ("bare", "s3://b/k.csv", "no output PortfolioInputBucketName"),
        ("book", "missing.csv", "not an s3://BUCKET/KEY URI nor a local file"),
    ],
)
def test_usage_problems_exit_2(
    stack: SimpleNamespace, capsys: pytest.CaptureFixture[str], stack_name: str, source: str, message: str
) -> None:
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    boto3.client("cloudformation").create_stack(StackName="bare", TemplateBody=json.dumps(template))
    assert main(["--stack-name", stack_name, source], sleep=fast_sleep) == 2
    out = capsys.readouterr().out
    assert message in out
    assert "Traceback" not in out


class EndlessRun:
    """A Step Functions client whose execution never ends, half of its shards done."""

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        return {"status": "RUNNING"}

    def list_map_runs(self, executionArn: str) -> dict[str, Any]:
        return {"mapRuns": [{"mapRunArn": "arn:map"}]}

    def describe_map_run(self, mapRunArn: str) -> dict[str, Any]:
        return {"itemCounts": {"succeeded": 5, "total": 10, "running": 3, "failed": 0}}


def test_following_stops_at_the_timeout_after_printing_progress_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(StillRunning, match="still running after 0 s"):
        follow(EndlessRun(), "arn:run", poll=0.0, timeout=0.01, sleep=lambda _: time.sleep(0.005))
    assert capsys.readouterr().out == "shards: 5/10 scored, 3 running, 0 failed\n"
