"""Canary deploys and first-deploy traps: the template as SAM translates it, checked offline."""

import copy
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from functions.api.errors import ErrorResponse
from scripts.cfn import ROOT, load_template, translate
from scripts.template_checks import CODEDEPLOY_LAMBDA_CONFIGS, alarm_problems, deployment_problems


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    """The CloudFormation SAM deploys, from samtranslator (offline)."""
    return translate(load_template())


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """Return the resources of one type, by logical id."""
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def test_shipped_template_has_no_deployment_or_alarm_problem() -> None:
    template = load_template()
    assert deployment_problems(template) == []
    assert alarm_problems(template) == []
    assert template["Parameters"]["DeploymentType"]["Default"] == "Canary10Percent5Minutes"
    assert "AllAtOnce" in template["Parameters"]["DeploymentType"]["AllowedValues"]


def _preference(template: dict[str, Any]) -> dict[str, Any]:
    preference: dict[str, Any] = template["Resources"]["ScoringFunction"]["Properties"][
        "DeploymentPreference"
    ]
    return preference


@pytest.mark.parametrize(
    ("mutate", "check", "expected"),
    [
        (
            lambda t: t["Parameters"]["DeploymentType"]["AllowedValues"].append("Canary10Percent7Minutes"),
            deployment_problems,
            "Canary10Percent7Minutes",
        ),
        (lambda t: _preference(t).update(Type="Linear5PercentEvery1Minute"), deployment_problems, "Linear5"),
        (
            lambda t: t["Resources"]["PreTrafficHook"]["Properties"].update(FunctionName="pretraffic"),
            deployment_problems,
            "CodeDeployHook_",
        ),
        (
            lambda t: t["Resources"]["ScoringFunction"]["Properties"].pop("AutoPublishAlias"),
            deployment_problems,
            "AutoPublishAlias",
        ),
        (lambda t: _preference(t)["Alarms"].append({"Ref": "NoSuchAlarm"}), alarm_problems, "NoSuchAlarm"),
        (
            lambda t: t["Resources"]["Api5xxAlarm"]["Properties"].update(
                Threshold=1, DatapointsToAlarm=1, EvaluationPeriods=1
            ),
            alarm_problems,
            "one bad datapoint",
        ),
        (
            lambda t: t["Resources"]["ApiLatencyP99Alarm"]["Properties"].pop("OKActions"),
            alarm_problems,
            "notifies no one",
        ),
    ],
    ids=[
        "unknown-canary",
        "unknown-type",
        "hook-prefix",
        "no-alias",
        "missing-alarm",
        "hair-trigger",
        "no-ok",
    ],
)
def test_check_catches_a_deployment_mistake(
    mutate: Callable[[dict[str, Any]], None], check: Callable[[dict[str, Any]], list[str]], expected: str
) -> None:
    broken = copy.deepcopy(load_template())
    mutate(broken)
    assert expected in " ".join(check(broken))


def test_predefined_configs_are_the_ones_codedeploy_lists() -> None:
    assert len(CODEDEPLOY_LAMBDA_CONFIGS) == 9
    assert {"Linear10PercentEvery1Minute", "Linear10PercentEvery10Minutes"} <= CODEDEPLOY_LAMBDA_CONFIGS


def test_api_integration_and_permissions_point_at_the_live_alias(translated: dict[str, Any]) -> None:
    (alias,) = of_type(translated, "AWS::Lambda::Alias")
    api = translated["Resources"]["ScoringApi"]["Properties"]["Body"]
    uris = [
        json.dumps(method["x-amazon-apigateway-integration"]["uri"])
        for path in api["paths"].values()
        for verb, method in path.items()
        if verb != "options"
    ]
    events = load_template()["Resources"]["ScoringFunction"]["Properties"]["Events"]
    routes = [name for name, event in events.items() if event["Type"] == "Api"]
    assert len(uris) == len(routes) >= 8  # one integration per API event of the template, every route
    assert all(f"${{{alias}}}" in uri for uri in uris), uris
    permissions = [
        p
        for p in of_type(translated, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"]
        == "apigateway.amazonaws.com"  # not the outcome drop's EventBridge rule
    ]
    assert len(permissions) == len(routes)
    assert all(p["Properties"]["FunctionName"] == {"Ref": alias} for p in permissions)


def test_deployment_group_has_the_canary_alarms_and_hook(translated: dict[str, Any]) -> None:
    (group,) = of_type(translated, "AWS::CodeDeploy::DeploymentGroup").values()
    props = group["Properties"]
    alarms = {alarm["Name"]["Ref"] for alarm in props["AlarmConfiguration"]["Alarms"]}
    assert alarms == {
        "NewVersionErrorsAlarm",
        "NewVersionLatencyP99Alarm",
        "FunctionThrottlesAlarm",
        "CanaryApi5xxRateAlarm",
    }
    assert {"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"} <= set(
        props["AutoRollbackConfiguration"]["Events"]
    )
    alias = translated["Resources"]["ScoringFunctionAliaslive"]
    assert alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]["BeforeAllowTrafficHook"] == {
        "Ref": "PreTrafficHook"
    }


def test_hook_runs_the_same_image_and_may_only_invoke_the_new_version() -> None:
    resources = load_template()["Resources"]
    hook, scoring = resources["PreTrafficHook"], resources["ScoringFunction"]
    assert hook["Properties"]["ImageUri"] == scoring["Properties"]["ImageUri"]
    assert hook["Metadata"] == {**scoring["Metadata"], "checkov": hook["Metadata"]["checkov"]}
    assert hook["Properties"]["ImageConfig"]["Command"] == ["functions.api.pretraffic.handler"]
    variables = hook["Properties"]["Environment"]["Variables"]
    assert variables["SCORING_FUNCTION_VERSION"] == {"Ref": "ScoringFunction.Version"}
    statements = {s["Action"]: s["Resource"] for s in hook["Properties"]["Policies"][0]["Statement"]}
    assert statements["lambda:InvokeFunction"] == {"Ref": "ScoringFunction.Version"}
    assert "codedeploy:PutLifecycleEventHookExecutionStatus" in statements


def test_concurrency_is_reserved_or_provisioned_only_on_request(translated: dict[str, Any]) -> None:
    template = load_template()
    assert template["Parameters"]["ReservedConcurrency"]["Default"] == 0
    assert template["Parameters"]["ProvisionedConcurrency"]["Default"] == 0
    function = translated["Resources"]["ScoringFunction"]["Properties"]
    assert function["ReservedConcurrentExecutions"]["Fn::If"][0] == "HasReservedConcurrency"
    alias = translated["Resources"]["ScoringFunctionAliaslive"]["Properties"]
    assert alias["ProvisionedConcurrencyConfig"]["Fn::If"][0] == "HasProvisionedConcurrency"


def test_only_the_prod_stage_exists_with_access_logs(translated: dict[str, Any]) -> None:
    stages = of_type(translated, "AWS::ApiGateway::Stage")
    assert list(stages) == ["ScoringApiProdStage"], "SAM's implicit `Stage` stage is back (OpenApiVersion)"
    props = stages["ScoringApiProdStage"]["Properties"]
    assert props["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    sample = re.sub(r"\$context\.[a-zA-Z.]+", "x", props["AccessLogSetting"]["Format"])
    assert {"request_id", "status", "error", "api_key_id"} <= set(json.loads(sample))
    usage_plan = translated["Resources"]["UsagePlan"]["Properties"]
    assert [s["Stage"] for s in usage_plan["ApiStages"]] == [{"Ref": "ScoringApiProdStage"}]


@pytest.mark.parametrize("kind", ["DEFAULT_4XX", "DEFAULT_5XX"])
def test_gateway_answers_follow_the_app_error_schema(kind: str) -> None:
    responses = load_template()["Resources"]["ScoringApi"]["Properties"]["GatewayResponses"]
    response = responses[kind]
    body = response["ResponseTemplates"]["application/json"]
    body = body.replace("$context.error.messageString", json.dumps("Forbidden")).replace(
        "$context.requestId", "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    )
    parsed = ErrorResponse.model_validate_json(body)
    assert parsed.error.request_id == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    headers = response["ResponseParameters"]["Headers"]
    assert headers["X-Request-Id"] == "context.requestId"
    assert headers["Access-Control-Allow-Origin"] == {"Fn::Sub": "'${FrontendOrigin}'"}


def test_teardown_keeps_the_audit_table_and_its_hash_key_together() -> None:
    resources = load_template()["Resources"]
    for name in ("AuditTable", "AuditKeySecret"):
        assert resources[name]["DeletionPolicy"] == "RetainExceptOnCreate", name
        assert resources[name]["UpdateReplacePolicy"] == "Retain", name


def test_alarms_notify_a_topic_with_an_optional_email() -> None:
    resources = load_template()["Resources"]
    alarms = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    # API and canary: 6; drift job errors and PSI: 5 (tests/monitoring/test_job.py); outcomes overdue: 1;
    # the outcome drop's errors: 1 (tests/suites/test_template_outcome_drop.py)
    assert len(alarms) == 13
    assert all(a["AlarmActions"] == [{"Ref": "AlarmTopic"}] == a["OKActions"] for a in alarms)
    assert resources["AlarmEmailSubscription"]["Condition"] == "HasAlarmEmail"
    assert resources["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}


def workflow(name: str) -> dict[str, Any]:
    """Load a GitHub workflow; YAML 1.1 reads the `on` key as True, so it is renamed back."""
    loaded: dict[Any, Any] = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    loaded["on"] = loaded.pop(True, loaded.get("on"))
    return loaded


def scripts_of(job: dict[str, Any]) -> str:
    """Join the `run:` scripts of a job's steps."""
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_ci_tests_both_pythons_then_runs_the_image_it_built_once() -> None:
    ci = workflow("ci.yml")
    assert "schedule" in ci["on"], "a scheduled run rebuilds the image on the moving base"
    test, image = ci["jobs"]["test"], ci["jobs"]["image"]
    assert test["strategy"]["matrix"]["python-version"] == ["3.11", "3.13"]
    assert "make test" in scripts_of(test)
    assert image["needs"] == "test"
    script = scripts_of(image)
    assert script.count("docker buildx build") == 1 and "sam build" not in script
    assert "--platform linux/amd64" in script  # the template's x86_64
    assert "python -m scripts.image_check" in script
    assert re.search(r"sam local start-api .*--warm-containers EAGER --port 3000", script)
    assert "scripts.smoke --url http://127.0.0.1:3000" in script
    e2e = [step for step in image["steps"] if "tests/test_e2e.py" in step.get("run", "")]
    assert e2e and e2e[0]["env"]["E2E_API_URL"] == "http://127.0.0.1:3000"
    assert "GITHUB_STEP_SUMMARY" in script and "Init Duration" in script


def test_deploy_ships_the_tested_image_by_digest_without_building() -> None:
    deploy = workflow("deploy.yml")
    assert deploy["on"]["workflow_run"]["workflows"] == ["CI"]
    job = deploy["jobs"]["deploy"]
    script = scripts_of(job)
    assert "docker build" not in script and "sam build" not in script
    assert "docker load" in script and "image-id.txt" in script
    assert "aws ecr describe-images" in script and "RepoDigests" not in script
    assert re.search(r'sam deploy --config-env ci .*\n.*"ImageUri=\$IMAGE_URI"', script)
    assert "ROLLBACK_COMPLETE" in script
    assert job["permissions"]["id-token"] == "write"


def test_dependabot_updates_every_ecosystem_weekly_in_groups() -> None:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    updates = {(u["package-ecosystem"], u["directory"]): u for u in config["updates"]}
    assert set(updates) == {("pip", "/functions"), ("pip", "/"), ("docker", "/"), ("github-actions", "/")}
    assert all(u["schedule"]["interval"] == "weekly" and u["groups"] for u in updates.values())
