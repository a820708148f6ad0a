"""First-deploy traps in template.yaml (scripts/deploy_checks.py): the shipped template has none, and a copy with
each trap put back is caught."""

import copy
import re
from collections.abc import Callable
from typing import Any

import pytest

from scripts.cfn import ROOT, load_template, translate
from scripts.deploy_checks import (
    access_log_problems,
    alarm_topic_problems,
    hook_logging_problems,
    portfolio_concurrency_problems,
    rollback_problems,
)

TEMPLATE_CHECKS = (
    alarm_topic_problems,
    portfolio_concurrency_problems,
    rollback_problems,
    hook_logging_problems,
)


def test_shipped_template_has_none_of_the_first_deploy_traps() -> None:
    template = load_template()
    for check in TEMPLATE_CHECKS:
        assert check(template) == [], check.__name__
    assert access_log_problems(translate(template)) == []


def _props(template: dict[str, Any], name: str) -> dict[str, Any]:
    props: dict[str, Any] = template["Resources"][name]["Properties"]
    return props


def _cloudwatch_statement(template: dict[str, Any]) -> dict[str, Any]:
    (statement,) = [
        s
        for s in _props(template, "AlarmTopicKey")["KeyPolicy"]["Statement"]
        if s["Principal"].get("Service") == "cloudwatch.amazonaws.com"
    ]
    return statement


@pytest.mark.parametrize(
    ("mutate", "check", "expected"),
    [
        # N3: the AWS managed SNS key, and a key whose policy leaves CloudWatch out.
        (
            lambda t: _props(t, "AlarmTopic").update(KmsMasterKeyId="alias/aws/sns"),
            alarm_topic_problems,
            "alias/aws/sns",
        ),
        (
            lambda t: _cloudwatch_statement(t).update(Action=["kms:Decrypt"]),
            alarm_topic_problems,
            "GenerateDataKey",
        ),
        # N6: the whole concurrency of a new account for one portfolio run.
        (
            lambda t: t["Parameters"]["PortfolioMaxConcurrency"].update(Default=10),
            portfolio_concurrency_problems,
            "defaults to 10",
        ),
        # Minor: canary alarms that cannot see a version answering 500.
        (
            lambda t: _props(t, "ScoringFunction")["DeploymentPreference"]["Alarms"].pop(),
            rollback_problems,
            "5xx",
        ),
        (lambda t: _props(t, "CanaryApi5xxRateAlarm").update(Period=300), rollback_problems, "5xx"),
        # Minor: the hook's mismatch fields dropped by the text log format.
        (
            lambda t: _props(t, "PreTrafficHook")["LoggingConfig"].pop("LogFormat"),
            hook_logging_problems,
            "text",
        ),
    ],
    ids=[
        "managed-sns-key",
        "key-without-cloudwatch",
        "concurrency-10",
        "no-5xx-alarm",
        "5xx-too-slow",
        "text-logs",
    ],
)
def test_check_catches_a_first_deploy_trap(
    mutate: Callable[[dict[str, Any]], Any], check: Callable[[dict[str, Any]], list[str]], expected: str
) -> None:
    broken = copy.deepcopy(load_template())
    mutate(broken)
    assert expected in " ".join(check(broken))


def test_stage_without_the_account_ordering_is_caught() -> None:
    # N7: without DependsOn the stage (access logs) may be created before the account's CloudWatch role is set.
    broken = copy.deepcopy(load_template())
    del broken["Resources"]["ScoringApi"]["DependsOn"]
    problems = access_log_problems(translate(broken))
    assert problems and "ApiGatewayAccount" in problems[0]


def test_stage_orders_after_the_account_only_when_the_stack_creates_it() -> None:
    handle = load_template()["Resources"]["ApiGatewayAccountReady"]
    assert handle["Type"] == "AWS::CloudFormation::WaitConditionHandle"
    assert handle["Metadata"]["Account"] == {
        "Fn::If": ["CreateApiGatewayLoggingRole", {"Ref": "ApiGatewayAccount"}, ""]
    }


DEPLOY_DOC = ROOT / "docs" / "deploy.md"


def guided_parameters(text: str) -> list[str]:
    """Return the parameters docs/deploy.md says `sam deploy --guided` asks for, in order."""
    match = re.search(
        r"one\s+`Parameter …`\s+line\s+per\s+template\s+parameter\s+\((.*?)\),\s+`Confirm", text, re.DOTALL
    )
    assert match, "docs/deploy.md no longer lists the guided prompts"
    return re.findall(r"`(\w+)`", match.group(1))


def teardown_kept(text: str) -> set[str]:
    """Return the logical ids the Teardown section of docs/deploy.md says `sam delete` keeps."""
    section = text.split("## Teardown", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"`([A-Z]\w+)`", section.split("Kept on purpose", 1)[1]))


def retained(template: dict[str, Any]) -> set[str]:
    """Return the resources `sam delete` leaves behind (Retain or RetainExceptOnCreate)."""
    return {
        name
        for name, resource in template["Resources"].items()
        if resource.get("DeletionPolicy") in {"Retain", "RetainExceptOnCreate"}
    }


def test_docs_list_every_guided_prompt_and_every_kept_resource() -> None:
    template, text = load_template(), DEPLOY_DOC.read_text()
    assert guided_parameters(text) == list(template["Parameters"])
    assert retained(template) <= teardown_kept(text)


def test_doc_checks_catch_a_stale_list() -> None:
    template, text = load_template(), DEPLOY_DOC.read_text()
    stale = text.replace(", `PortfolioRetentionDays`", "")
    assert guided_parameters(stale) != list(template["Parameters"])
    stale = text.replace("`PortfolioInputBucket` and `PortfolioOutputBucket`", "the portfolio buckets")
    assert retained(template) - teardown_kept(stale) == {"PortfolioInputBucket", "PortfolioOutputBucket"}
