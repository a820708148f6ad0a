"""Fixtures of portfolio runs: template.yaml's state machine executed in moto, its Lambda steps run in process."""

import json
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest


# --- Portfolio runs (issue 11): template.yaml's state machine executed in moto, Lambda steps run in process ---
class PortfolioDispatcher:
    """Stands in for moto's Lambda invoke: runs the step's handler in process, records calls, can break a shard."""

    def __init__(self) -> None:
        from functions.portfolio import prepare, summarise
        from functions.portfolio import shard as shards

        self.handlers = {
            "prepare": prepare.handler,
            "shard": shards.handler,
            "summarise": summarise.handler,
        }
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.unreadable: set[int] = set()  # shard indexes whose object is corrupted before each read
        self.lock = threading.Lock()

    def __call__(
        self, backend: Any, name: str, qualifier: Any, body: Any, headers: Any, response: Any
    ) -> bytes:
        """Dispatch on the function name's last word; an exception becomes an `x-amz-function-error` answer."""

        step = name.rsplit("-", 1)[-1]
        event = json.loads(body)
        with self.lock:
            self.calls.append((step, event))
        if step == "shard" and event["index"] in self.unreadable:
            boto3.client("s3").put_object(
                Bucket=event["bucket"], Key=event["key"], Body=b"\xff\xfe\x00garbage"
            )
        try:
            result = self.handlers[step](event, None)
        except Exception as err:  # what the Lambda runtime does with an unhandled error
            response["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": type(err).__name__, "errorMessage": str(err)}).encode()
        return json.dumps(result).encode()


@pytest.fixture
def portfolio_moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    """moto with executions on, template.yaml's portfolio machine (100-row shards, 3 at once), both buckets.

    Yields sfn (client), shim (PortfolioDispatcher), arn, input_bucket, output_bucket.
    """
    from moto import mock_aws
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    from functions.portfolio import shard as shards
    from scripts.cfn import load_template

    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    shim = PortfolioDispatcher()
    monkeypatch.setattr(LambdaSimpleBackend, "invoke", lambda self, *args: shim(self, *args))
    # moto 5.2.5 raises AttributeError from list_map_runs until the execution's worker has an environment;
    # AWS answers an empty list then.
    original = StepFunctionsParserBackend.list_map_runs

    def list_map_runs(self: Any, execution_arn: str) -> dict[str, Any]:
        worker = self.describe_execution(execution_arn=execution_arn).exec_worker
        if worker is None or worker.env is None:
            return {"mapRuns": []}
        return original(self, execution_arn)

    monkeypatch.setattr(StepFunctionsParserBackend, "list_map_runs", list_map_runs)
    props = load_template()["Resources"]["PortfolioStateMachine"]["Properties"]
    function = "arn:aws:lambda:us-east-1:123456789012:function:stack-portfolio-{}"
    values = {
        "PrepareFunctionArn": function.format("prepare"),
        "ShardFunctionArn": function.format("shard"),
        "SummariseFunctionArn": function.format("summarise"),
        "OutputBucket": "book-out",
        "ShardRows": "100",  # the smallest prepare accepts: tens of shards at most keeps moto fast
        "MaxConcurrency": "3",
    }
    definition = json.dumps(props["Definition"])
    for name in props["DefinitionSubstitutions"]:
        definition = definition.replace("${" + name + "}", values[name])
    shards.s3_client.cache_clear()
    config = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    with mock_aws(config=config):  # type: ignore[arg-type]
        for bucket in ("book-in", "book-out"):
            boto3.client("s3").create_bucket(Bucket=bucket)
        sfn = boto3.client("stepfunctions")
        arn = sfn.create_state_machine(
            name="stack-portfolio",
            roleArn="arn:aws:iam::123456789012:role/stack-portfolio",
            definition=definition,
        )["stateMachineArn"]
        yield SimpleNamespace(sfn=sfn, shim=shim, arn=arn, input_bucket="book-in", output_bucket="book-out")
    shards.s3_client.cache_clear()
