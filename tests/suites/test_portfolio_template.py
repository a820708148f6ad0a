"""The portfolio resources of template.yaml: the definition schema-checked by cfn-lint, the known traps, the
buckets, the upload rule and least-privilege policies (the definition runs in moto in tests/portfolio/test_state_machine.py)."""

import copy
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import pytest

from functions.portfolio import prepare, summarise
from functions.portfolio import shard as shards
from scripts.cfn import ROOT, load_template

HANDLERS: Final[dict[str, Callable[[dict[str, Any], object], dict[str, Any]]]] = {
    "prepare": prepare.handler,
    "shard": shards.handler,
    "summarise": summarise.handler,
}


def machine() -> dict[str, Any]:
    """Return the PortfolioStateMachine resource of template.yaml."""
    resource: dict[str, Any] = load_template()["Resources"]["PortfolioStateMachine"]
    return resource


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
                    "RoleArn": "arn:aws:iam::123456789012:role/x",
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
        if state.get("ResultWriter", {}).get("Resource") != "arn:aws:states:::s3:putObject":
            problems.append(
                "no ResultWriter: thousands of children's results exceed 256 KiB (States.DataLimitExceeded)"
            )
    if len(maps) != 1:
        problems.append("exactly one Map expected")
    return problems


def test_shipped_state_machine_has_none_of_the_traps() -> None:
    assert trap_problems(machine()) == []


DROP: Final = object()


def _edit(path: list[Any], key: str, value: Any = DROP) -> Callable[[dict[str, Any]], None]:
    """Return a mutation that sets (or, by default, deletes) resource[path...][key]."""

    def mutate(resource: dict[str, Any]) -> None:
        node = resource
        for step in path:
            node = node[step]
        if value is DROP:
            del node[key]
        else:
            node[key] = value

    return mutate


MAP = ["Properties", "Definition", "States", "ScoreShards"]


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (_edit(["Properties"], "Name"), "no fixed Name"),
        (
            _edit(
                ["Properties", "Policies", 0, "Statement", 2], "Resource", {"Ref": "PortfolioStateMachine"}
            ),
            "circular",
        ),
        (_edit(MAP, "ItemBatcher", {"MaxItemsPerBatch": 2}), "ItemBatcher"),
        (_edit(MAP, "ToleratedFailurePercentage", 10), "as a float"),
        (_edit(MAP, "MaxConcurrencyPath"), "no MaxConcurrency"),
        (_edit(MAP, "ItemsPath", "$.rows"), "items in the state payload"),
        (_edit(MAP, "ResultPath"), "ResultPath to null"),
        (_edit(MAP, "ResultWriter"), "no ResultWriter"),
        (_edit([*MAP, "ItemProcessor", "ProcessorConfig"], "ExecutionType", "EXPRESS"), "not DISTRIBUTED"),
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
        elif actions == ["s3:GetObject"]:
            assert statement["Resource"] == {"Fn::Sub": "${PortfolioOutputBucket.Arn}/shards/*"}
        elif any(action.startswith("s3:") for action in actions):
            # The Map's ResultWriter writes under map/ only.
            assert "s3:PutObject" in actions and "s3:GetObject" not in actions
            assert statement["Resource"] == {"Fn::Sub": "${PortfolioOutputBucket.Arn}/map/*"}
