"""docs/deploy-role-policy.json allows everything a first deploy does: each resource the translated template and
SAM's managed stack create (their handlers' actions, on their ARNs) and each `aws` command of the deploy workflow."""

import copy
from typing import Any

import pytest

from scripts.cfn import ROOT, handler_permissions, load_template, sam_managed_stack, translate
from scripts.deploy_policy import (
    SAM_MANAGED_STACK,
    STACK,
    allows,
    load_policy,
    policy_problems,
    workflow_actions,
)

DEPLOY_WORKFLOW = ROOT / ".github" / "workflows" / "deploy.yml"


@pytest.fixture(scope="module")
def stacks() -> dict[str, dict[str, Any]]:
    """The stacks a first deploy creates, as CloudFormation gets them."""
    return {STACK: translate(load_template()), SAM_MANAGED_STACK: sam_managed_stack()}


@pytest.fixture(scope="module")
def permissions(stacks: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """The actions each resource type's CloudFormation handlers call."""
    kinds = {r["Type"] for template in stacks.values() for r in template["Resources"].values()}
    return handler_permissions(kinds)


def test_policy_allows_every_resource_and_workflow_command(
    stacks: dict[str, dict[str, Any]], permissions: dict[str, list[str]]
) -> None:
    assert policy_problems(load_policy(), stacks, permissions, DEPLOY_WORKFLOW.read_text()) == []


def test_every_resource_type_has_known_handler_permissions(
    stacks: dict[str, dict[str, Any]], permissions: dict[str, list[str]]
) -> None:
    kinds = {r["Type"] for template in stacks.values() for r in template["Resources"].values()}
    assert kinds == set(permissions)
    assert {"AWS::StepFunctions::StateMachine", "AWS::S3::Bucket", "AWS::Events::Rule"} <= kinds


def _drop_statement(sid: str) -> Any:
    def mutate(policy: dict[str, Any]) -> None:
        policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != sid]

    return mutate


def _narrow_functions(policy: dict[str, Any]) -> None:
    (statement,) = [s for s in policy["Statement"] if s.get("Sid") == "TheStacksFunctionsAndCanary"]
    statement["Resource"] = ["arn:aws:lambda:REGION:ACCOUNT:function:credit-default-scoring*"]


def _bloat(policy: dict[str, Any]) -> None:
    policy["Statement"][0]["Action"] += [f"cloudformation:Describe{n:04d}" for n in range(300)]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_drop_statement("PortfolioStateMachine"), "states:CreateStateMachine"),
        (_drop_statement("TheStacksAndSamsBuckets"), "s3:CreateBucket on arn:aws:s3:::credit-default-"),
        (_drop_statement("BookUploadRule"), "events:PutRule"),
        (_drop_statement("AlarmTopicKey"), "kms:CreateKey"),
        (
            _narrow_functions,
            "lambda:CreateFunction on arn:aws:lambda:REGION:ACCOUNT:function:credit-default-drift",
        ),
        (_drop_statement("PushTheTestedImage"), "the deploy workflow runs ecr:DescribeImages"),
        (_bloat, "characters"),
    ],
    ids=[
        "state-machine",
        "buckets",
        "rule",
        "kms",
        "functions-of-the-first-policy",
        "workflow-ecr",
        "too-long",
    ],
)
def test_check_catches_a_missing_permission(
    stacks: dict[str, dict[str, Any]], permissions: dict[str, list[str]], mutate: Any, expected: str
) -> None:
    broken = copy.deepcopy(load_policy())
    mutate(broken)
    problems = policy_problems(broken, stacks, permissions, DEPLOY_WORKFLOW.read_text())
    assert any(expected in problem for problem in problems), problems[:5]


def test_check_names_a_resource_type_it_knows_nothing_about(
    stacks: dict[str, dict[str, Any]], permissions: dict[str, list[str]]
) -> None:
    broken = copy.deepcopy(stacks)
    broken[STACK]["Resources"]["Queue"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
    problems = policy_problems(load_policy(), broken, permissions)
    assert any("AWS::SQS::Queue" in problem for problem in problems)


def test_workflow_commands_become_iam_actions() -> None:
    text = "aws ecr describe-images --x\naws cloudformation wait stack-delete-complete\naws s3 cp a b"
    assert workflow_actions(text) == {"ecr:DescribeImages", "s3:Cp"}


@pytest.mark.parametrize(
    ("action", "arn", "expected"),
    [
        ("lambda:CreateFunction", "arn:aws:lambda:REGION:ACCOUNT:function:credit-default-drift", True),
        ("lambda:CreateFunction", "arn:aws:lambda:REGION:ACCOUNT:function:other-stack-drift", False),
        ("iam:PassRole", "arn:aws:iam::ACCOUNT:role/credit-default-DriftJobRole-X", True),
        ("iam:PassRole", "arn:aws:iam::ACCOUNT:role/admin", False),
        ("dynamodb:PutItem", "arn:aws:dynamodb:REGION:ACCOUNT:table/credit-default-AuditTable-X", False),
    ],
)
def test_policy_is_scoped_to_the_stack(action: str, arn: str, expected: bool) -> None:
    assert allows(load_policy(), action, arn) is expected
