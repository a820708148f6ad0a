"""The portfolio state machine of template.yaml, run in moto with its Lambda steps dispatched to the real handlers.

moto executes the definition (`execute_state_machine`), its Lambda backend is patched to call functions/ in
process, and the handlers' own S3 calls hit moto's S3. See ../shared/TOOLCHAIN.md, "Step Functions ... in moto".
"""

import copy
import csv
import io
import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Final

import boto3
import pytest

from functions import portfolio_steps, shards
from functions.portfolio import score_file
from scripts.cfn import ROOT, load_template
from training.synthetic import generate_rows

ACCOUNT: Final = "123456789012"
ROWS = generate_rows(450, seed=31)  # 5 shards of 100 rows (portfolio_moto's ShardRows)
BAD_AT = {7: ("AGE", "17"), 150: ("LIMIT_BAL", "-5"), 449: ("PAY_0", "x")}  # invalid rows in shards 0, 1, 4
HANDLERS: Final[dict[str, Callable[[dict[str, Any], object], dict[str, Any]]]] = {
    "prepare": portfolio_steps.prepare,
    "shard": shards.handler,
    "summarise": portfolio_steps.summarise,
}
OUTPUT_BUCKET: Final = "book-out"


def machine() -> dict[str, Any]:
    """Return the PortfolioStateMachine resource of template.yaml."""
    resource: dict[str, Any] = load_template()["Resources"]["PortfolioStateMachine"]
    return resource


def run(moto: SimpleNamespace, book: str, *, deadline_seconds: float = 90) -> dict[str, Any]:
    """Upload the book, start a run, poll until it ends (or fail at the deadline); return describe_execution."""
    boto3.client("s3").put_object(Bucket=moto.input_bucket, Key="incoming/book.csv", Body=book.encode())
    sfn = moto.sfn
    execution = sfn.start_execution(
        stateMachineArn=moto.arn,
        name="run-1",
        input=json.dumps({"bucket": moto.input_bucket, "key": "incoming/book.csv"}),
    )["executionArn"]
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.2)
    pytest.fail(f"the run did not end within {deadline_seconds} s")


def read_object(key: str) -> bytes:
    """Read an object of the output bucket."""
    body: bytes = boto3.client("s3").get_object(Bucket=OUTPUT_BUCKET, Key=key)["Body"].read()
    return body


def map_run_counts(sfn: Any, execution_arn: str) -> dict[str, Any]:
    """Return the item counts of the execution's one map run."""
    runs = sfn.list_map_runs(executionArn=execution_arn)["mapRuns"]
    assert len(runs) == 1
    counts: dict[str, Any] = sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])["itemCounts"]
    return counts


def test_run_scores_every_row_across_shards_as_the_local_command_does(
    portfolio_moto: SimpleNamespace, tmp_path: Path, book_text: Callable[..., str]
) -> None:
    sfn, shim = portfolio_moto.sfn, portfolio_moto.shim
    described = run(portfolio_moto, book_text(ROWS, BAD_AT))
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["rows"] == len(ROWS)
    assert output["failed_shards"] == 0
    summary = json.loads(read_object("results/run-1/summary.json"))
    assert (summary["rows"], summary["invalid"], summary["missing_rows"]) == (450, 3, 0)
    assert summary["shards"] == 5
    assert summary["failed_shards"] == []
    results = json.loads(read_object("results/run-1/results.json"))
    assert results == [f"s3://{OUTPUT_BUCKET}/results/run-1/part-{i:05d}.csv" for i in range(5)]
    remote = [
        row
        for uri in results
        for row in csv.DictReader(io.StringIO(read_object(uri.split("/", 3)[3]).decode()))
    ]
    source = tmp_path / "book.csv"
    source.write_text(book_text(ROWS, BAD_AT), encoding="utf-8")
    local = score_file(source, tmp_path / "scored.csv", workers=1, model_dir=ROOT / "model")
    with (tmp_path / "scored.csv").open(newline="") as handle:
        assert remote == list(csv.DictReader(handle))  # same rows, same order, PDs to the last bit
    assert summary["input_sha256"] == local["input_sha256"]
    assert summary["grades"] == local["grades"]
    assert [row["ID"] for row in remote if row["error"]] == [str(i + 1) for i in BAD_AT]
    assert map_run_counts(sfn, described["executionArn"])["succeeded"] == 5
    assert all(len(json.dumps(event)) < 1024 for _, event in shim.calls)  # no rows in any payload


def test_unreadable_shard_is_retried_then_named_in_the_summary(
    portfolio_moto: SimpleNamespace, book_text: Callable[..., str]
) -> None:
    sfn, shim = portfolio_moto.sfn, portfolio_moto.shim
    shim.unreadable.add(2)
    described = run(portfolio_moto, book_text(ROWS, BAD_AT))
    assert described["status"] == "FAILED", described
    assert described.get("error") == "ShardsFailed"
    attempts = [event for step, event in shim.calls if step == "shard" and event["index"] == 2]
    assert len(attempts) == 2  # the first read and one retry
    summary = json.loads(read_object("results/run-1/summary.json"))
    assert summary["failed_shards"] == [
        {"index": 2, "shard": f"s3://{OUTPUT_BUCKET}/shards/run-1/part-00002.csv", "first_line": 202}
    ]
    assert (summary["rows"], summary["missing_rows"]) == (350, 100)
    assert len(json.loads(read_object("results/run-1/results.json"))) == 4
    assert map_run_counts(sfn, described["executionArn"])["failed"] == 1


# --- the definition: schema-checked by cfn-lint, and the known traps ------------------------------------
def wrapped(definition_body: dict[str, Any]) -> dict[str, Any]:
    """Wrap a definition in a plain AWS::StepFunctions::StateMachine, whose definition cfn-lint does check."""
    substitutions = dict.fromkeys(machine()["Properties"]["DefinitionSubstitutions"], "x")
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/x",
                    "Definition": definition_body,
                    "DefinitionSubstitutions": substitutions,
                },
            }
        },
    }


def cfn_lint(template: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run .venv-tools' cfn-lint on a throwaway template."""
    path = tmp_path / "machine.json"
    path.write_text(json.dumps(template))
    tool = ROOT / ".venv-tools/bin/cfn-lint"
    assert tool.exists(), "run `make tools`"
    return subprocess.run([str(tool), str(path)], capture_output=True, text=True, timeout=300, check=False)


def test_definition_passes_cfn_lint_and_a_typo_does_not(tmp_path: Path) -> None:
    body = machine()["Properties"]["Definition"]
    result = cfn_lint(wrapped(body), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = copy.deepcopy(body)
    broken["States"]["ScoreShards"]["ItemProcessor"]["States"]["ScoreShard"]["Nextt"] = "Summarise"
    assert cfn_lint(wrapped(broken), tmp_path).returncode != 0


def trap_problems(resource: dict[str, Any]) -> list[str]:
    """Return the known Distributed Map traps found in a state machine resource (empty when none)."""
    props = resource["Properties"]
    states = props["Definition"]["States"]
    problems = []
    name = props.get("Name")
    if not (isinstance(name, dict) and "Fn::Sub" in name):
        problems.append("no fixed Name: the role cannot allow StartExecution on the machine without a cycle")
    start = [s for s in props["Policies"][0]["Statement"] if s.get("Action") == "states:StartExecution"]
    if not start or "${AWS::StackName}-portfolio" not in json.dumps(start[0]["Resource"]):
        problems.append("the role may not start the map's children on the machine's own ARN")
    if "PortfolioStateMachine" in json.dumps(props["Policies"]):
        problems.append("the role refers to its own machine: a circular reference")
    maps = [s for s in states.values() if s["Type"] == "Map"]
    for state in maps:
        if state.get("ItemProcessor", {}).get("ProcessorConfig") != {
            "Mode": "DISTRIBUTED",
            "ExecutionType": "STANDARD",
        }:
            problems.append("the Map is not DISTRIBUTED with STANDARD children")
        if "ItemBatcher" in state:
            problems.append("ItemBatcher (moto rejects it; the shards are the batches)")
        if not isinstance(state.get("ToleratedFailurePercentage"), float):
            problems.append("ToleratedFailurePercentage must be written as a float")
        if "MaxConcurrency" not in state and "MaxConcurrencyPath" not in state:
            problems.append("no MaxConcurrency: AWS starts up to 10,000 children at once")
        if state.get("ItemReader", {}).get("ReaderConfig", {}).get("InputType") != "JSON":
            problems.append("the ItemReader must read the JSON list of shard items")
        if "ItemsPath" in state or "Items" in state:
            problems.append("items in the state payload: rows must stay in S3")
        if state.get("ResultPath", "$") is not None:
            problems.append("the Map's results join the payload: set ResultPath to null")
    if len(maps) != 1:
        problems.append("exactly one Map expected")
    return problems


def test_shipped_state_machine_has_none_of_the_traps() -> None:
    assert trap_problems(machine()) == []


def _drop(path: list[str], key: str) -> Callable[[dict[str, Any]], None]:
    def mutate(resource: dict[str, Any]) -> None:
        node = resource
        for step in path:
            node = node[step]
        del node[key]

    return mutate


def _set(path: list[str], key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(resource: dict[str, Any]) -> None:
        node = resource
        for step in path:
            node = node[step]
        node[key] = value

    return mutate


MAP = ["Properties", "Definition", "States", "ScoreShards"]


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (_drop(["Properties"], "Name"), "no fixed Name"),
        (
            _set(["Properties", "Policies", 0, "Statement", 2], "Resource", {"Ref": "PortfolioStateMachine"}),
            "circular",
        ),
        (_set(MAP, "ItemBatcher", {"MaxItemsPerBatch": 2}), "ItemBatcher"),
        (_set(MAP, "ToleratedFailurePercentage", 10), "as a float"),
        (_drop(MAP, "MaxConcurrencyPath"), "no MaxConcurrency"),
        (_set(MAP, "ItemsPath", "$.rows"), "items in the state payload"),
        (_drop(MAP, "ResultPath"), "ResultPath to null"),
        (_set([*MAP, "ItemProcessor", "ProcessorConfig"], "ExecutionType", "EXPRESS"), "not DISTRIBUTED"),
    ],
)
def test_trap_check_catches_an_injected_trap(mutate: Callable[[dict[str, Any]], None], problem: str) -> None:
    resource = copy.deepcopy(machine())
    mutate(resource)
    assert any(problem in found for found in trap_problems(resource))


def test_each_step_runs_the_scoring_image_with_a_handler_that_exists() -> None:
    resources = load_template()["Resources"]
    for name, step in (("Prepare", "prepare"), ("Shard", "shard"), ("Summarise", "summarise")):
        props = resources[f"Portfolio{name}Function"]["Properties"]
        assert props["ImageUri"] == resources["ScoringFunction"]["Properties"]["ImageUri"]
        (command,) = props["ImageConfig"]["Command"]
        module, attribute = command.rsplit(".", 1)
        assert getattr(__import__(module, fromlist=[attribute]), attribute) is HANDLERS[step]


def test_step_policies_name_only_the_two_buckets() -> None:
    resources = load_template()["Resources"]
    for name in ("PortfolioPrepareFunction", "PortfolioShardFunction", "PortfolioSummariseFunction"):
        for statement in resources[name]["Properties"]["Policies"][0]["Statement"]:
            assert all(
                action.startswith("s3:") for action in [statement["Action"]] if isinstance(action, str)
            )
            text = json.dumps(statement["Resource"])
            assert "PortfolioInputBucket" in text or "PortfolioOutputBucket" in text, statement
            assert '"*"' not in text


@pytest.mark.parametrize("bucket", ["PortfolioInputBucket", "PortfolioOutputBucket"])
def test_buckets_are_encrypted_private_expiring_and_tls_only(bucket: str) -> None:
    resources = load_template()["Resources"]
    props = resources[bucket]["Properties"]
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    assert all(
        "ExpirationInDays" in r or "NoncurrentVersionExpiration" in r
        for r in props["LifecycleConfiguration"]["Rules"]
    )
    (deny,) = resources[f"{bucket}Policy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_an_upload_under_incoming_starts_a_run_with_bucket_and_key() -> None:
    event = machine()["Properties"]["Events"]["BookUploaded"]["Properties"]
    assert event["Pattern"]["detail-type"] == ["Object Created"]
    assert event["Pattern"]["detail"]["object"]["key"] == [{"prefix": "incoming/"}]
    transformer = event["InputTransformer"]
    sample = {"bucket": '"book-in"', "key": '"incoming/march.csv"'}
    text = transformer["InputTemplate"]
    for name in transformer["InputPathsMap"]:
        text = text.replace(f"<{name}>", sample[name])
    started = json.loads(text)
    payload = machine()["Properties"]["Definition"]["States"]["Prepare"]["Parameters"]["Payload"]
    assert {payload["bucket.$"], payload["key.$"]} == {f"$.{name}" for name in started}
    assert load_template()["Resources"]["PortfolioInputBucket"]["Properties"][
        "NotificationConfiguration"
    ] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}


def test_machine_role_touches_only_its_functions_the_shard_list_and_itself() -> None:
    for statement in machine()["Properties"]["Policies"][0]["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if statement["Resource"] == "*":
            assert all(action.split(":")[0] in ("xray", "logs") for action in actions), statement
        elif any(action.startswith("s3:") for action in actions):
            assert actions == ["s3:GetObject"]
            assert statement["Resource"] == {"Fn::Sub": "${PortfolioOutputBucket.Arn}/shards/*"}
