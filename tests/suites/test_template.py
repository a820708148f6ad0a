"""Deployment files: SAM validators, cfn-lint, checkov, hadolint, actionlint, and what they all miss."""

import copy
import json
import os
import re
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scripts.cfn import ROOT, TEMPLATE, load_template
from scripts.template_checks import architecture_problems, limit_problems, output_problems

TOOLS = ROOT / ".venv-tools"


def run_tool(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a checker from .venv-tools in the project root; fail (never skip) when it is not installed."""
    tool = Path(args[0])
    assert tool.exists(), f"{tool.relative_to(ROOT)} is missing: run `make tools` (make test does)"
    return subprocess.run(
        [str(arg) for arg in args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0", **(env or {})},
        check=False,
    )


def test_template_passes_sam_validate() -> None:
    result = run_tool(TOOLS / "bin/sam", "validate", "--region", "us-east-1", "--template", TEMPLATE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_template_passes_sam_validate_lint() -> None:
    result = run_tool(
        TOOLS / "bin/sam", "validate", "--lint", "--region", "us-east-1", "--template", TEMPLATE
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_template_passes_cfn_lint() -> None:
    result = run_tool(TOOLS / "bin/cfn-lint", TEMPLATE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_template_passes_checkov() -> None:
    result = run_tool(
        TOOLS / "checkov/bin/checkov",
        "--file",
        TEMPLATE,
        "--framework",
        "cloudformation",
        "--skip-download",
        "--compact",
        "--quiet",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Failed checks: 0" in result.stdout


def test_checkov_skips_are_justified_inline() -> None:
    skips = [
        (name, skip)
        for name, resource in load_template()["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips
    for name, skip in skips:
        assert len(skip.get("comment", "").strip()) > 20, (
            f"{name}: checkov skip {skip.get('id')} has no reason"
        )


def test_dockerfile_passes_hadolint() -> None:
    result = run_tool(TOOLS / "bin/hadolint", "--no-color", ROOT / "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_pass_actionlint() -> None:
    # shellcheck comes from .venv-tools so every machine checks the `run:` scripts the same way.
    result = run_tool(
        TOOLS / "bin/actionlint",
        "-no-color",
        "-oneline",
        f"-shellcheck={TOOLS / 'bin/shellcheck'}",
        "-pyflakes=",
        *sorted((ROOT / ".github/workflows").glob("*.yml")),
    )
    assert result.returncode == 0, result.stdout + result.stderr


# Base-image references shown to exist: each tag@digest pair as it appears in a public repository's Dockerfile.
# Add a pair only with where it was seen; CI's job summary records the digest it resolved for the moving tag.
KNOWN_BASES = {
    "3.13.2025.12.15.13@sha256:995c3cd4acfc0681c21cf04fe9754560e30a5d9c5b011b8c405ad1927ca4fdb6": (
        "ministryofjustice/analytical-platform, a Renovate-pinned Lambda Dockerfile"
    ),
}


def test_dockerfile_builds_on_a_shown_to_exist_python_3_13_lambda_base() -> None:
    text = (ROOT / "Dockerfile").read_text()
    froms = re.findall(r"^FROM (\S+)(?: AS (\S+))?$", text, re.MULTILINE)
    assert len(froms) == 2, froms
    (pinned, stage), (final, _) = froms
    repository, _, reference = pinned.partition(":")
    assert repository == "public.ecr.aws/lambda/python"
    assert reference in KNOWN_BASES, f"{reference} is not a reference shown to exist"
    assert reference.startswith("3.13."), "the image runs CPython 3.13 (Amazon Linux 2023)"
    # The scheduled build swaps the base with --build-arg; by default the pinned stage is the base.
    assert re.search(rf"^ARG BASE_IMAGE={stage}$", text, re.MULTILINE)
    first_from = re.search(r"^FROM ", text, re.MULTILINE)
    assert first_from and text.index("ARG BASE_IMAGE") < first_from.start()
    assert final == "${BASE_IMAGE}"
    assert 'CMD ["functions.api.app.handler"]' in text
    assert text.index("requirements.txt") < text.index("COPY functions/ ")


def test_template_is_deployable_as_documented() -> None:
    template = load_template()
    function = template["Resources"]["ScoringFunction"]
    assert function["Properties"]["PackageType"] == "Image"
    assert (ROOT / function["Metadata"]["Dockerfile"]).is_file()
    assert set(template["Outputs"]) >= {"ApiUrl", "ApiKeyId", "FunctionName", "AuditTableName"}
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    deploy = config["default"]["deploy"]["parameters"]
    assert deploy["resolve_image_repos"] is True
    assert "CAPABILITY_IAM" in deploy["capabilities"]
    # The pipeline deploys the tested image by digest: no build, no repository SAM would push to.
    pipeline = config["ci"]["deploy"]["parameters"]
    assert "resolve_image_repos" not in pipeline
    assert pipeline["template_file"] == "template.yaml"
    assert pipeline["confirm_changeset"] is False
    assert pipeline["disable_rollback"] is False


def test_shipped_template_passes_the_checks_the_tools_miss() -> None:
    template = load_template()
    assert architecture_problems(template) == []
    assert limit_problems(template) == []
    assert output_problems(template) == []


def _set_function(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(template: dict[str, Any]) -> None:
        template["Resources"]["ScoringFunction"]["Properties"][key] = value

    return mutate


def _add_output(value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(template: dict[str, Any]) -> None:
        template["Outputs"]["Broken"] = {"Value": value}

    return mutate


@pytest.mark.parametrize(
    ("mutate", "check", "expected"),
    [
        (_set_function("Architectures", ["x86-64"]), architecture_problems, "Architectures"),
        (_set_function("Architectures", ["x86_64", "arm64"]), architecture_problems, "Architectures"),
        (_add_output({"Fn::GetAtt": ["MissingTable", "Arn"]}), output_problems, "MissingTable"),
        (_add_output({"Ref": "MissingKey"}), output_problems, "MissingKey"),
        (_add_output({"Fn::Sub": "https://${MissingApi}.example.com"}), output_problems, "MissingApi"),
        (_set_function("Timeout", 1000), limit_problems, "outside Lambda's"),
        (_set_function("Timeout", 29), limit_problems, "API Gateway"),
        (_set_function("MemorySize", 20000), limit_problems, "MemorySize"),
    ],
    ids=[
        "architecture-typo",
        "two-architectures",
        "getatt-missing",
        "ref-missing",
        "sub-missing",
        "timeout-1000",
        "timeout-29-behind-api",
        "memory-20000",
    ],
)
def test_check_catches_injected_mistake(
    mutate: Callable[[dict[str, Any]], None],
    check: Callable[[dict[str, Any]], list[str]],
    expected: str,
) -> None:
    broken = copy.deepcopy(load_template())
    mutate(broken)
    problems = check(broken)
    assert problems, "the injected mistake went unnoticed"
    assert expected in " ".join(problems)


def test_check_catches_a_mistake_in_a_parameter_default() -> None:
    broken = copy.deepcopy(load_template())
    broken["Parameters"]["TimeoutSeconds"] = {"Type": "Number", "Default": 1000}
    _set_function("Timeout", {"Ref": "TimeoutSeconds"})(broken)
    assert any("1000" in problem for problem in limit_problems(broken))


def test_function_may_only_write_audit_records_and_read_the_hash_key_and_synthetic_secret() -> None:
    template = load_template()
    properties = template["Resources"]["ScoringFunction"]["Properties"]
    statements = [s for policy in properties["Policies"] for s in policy["Statement"]]
    granted = {
        (action, json.dumps(statement["Resource"], sort_keys=True))
        for statement in statements
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    table = json.dumps({"Fn::GetAtt": ["AuditTable", "Arn"]})
    secret = json.dumps({"Ref": "AuditKeySecret"})
    assert granted == {
        ("dynamodb:PutItem", table),
        ("dynamodb:BatchWriteItem", table),
        ("dynamodb:UpdateItem", table),  # outcomes and final decisions, conditional on the decision existing
        ("dynamodb:BatchGetItem", table),
        ("secretsmanager:GetSecretValue", secret),
        ("secretsmanager:GetSecretValue", json.dumps({"Ref": "SyntheticTrafficSecret"})),
    }
    assert all(statement["Effect"] == "Allow" for statement in statements)
    table_properties = template["Resources"]["AuditTable"]["Properties"]
    assert table_properties["BillingMode"] == "PAY_PER_REQUEST"
    assert table_properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table_properties["SSESpecification"]["SSEEnabled"] is True


def test_only_the_scoring_routes_require_the_api_key() -> None:
    events = load_template()["Resources"]["ScoringFunction"]["Properties"]["Events"].values()
    routes = {
        (event["Properties"]["Method"].upper(), event["Properties"]["Path"]): event["Properties"]
        .get("Auth", {})
        .get("ApiKeyRequired", False)
        for event in events
    }
    assert routes == {
        ("GET", "/v1/health"): False,
        ("GET", "/v1/model"): False,
        ("POST", "/v1/predict"): True,
        ("POST", "/v1/predict/batch"): True,
        ("POST", "/v1/recourse"): True,
        ("POST", "/v1/outcomes"): True,
        ("POST", "/v1/decisions/{key}/final"): True,
        ("GET", "/docs"): False,
        ("GET", "/openapi.json"): False,
    }


def test_local_runs_turn_off_what_exists_only_once_deployed() -> None:
    template = load_template()
    variables = template["Resources"]["ScoringFunction"]["Properties"]["Environment"]["Variables"]
    resource_refs = {
        name
        for name, value in variables.items()
        if isinstance(value, dict) and value.get("Ref") in template["Resources"]
    }
    local = json.loads((ROOT / "events" / "local-env.json").read_text())["ScoringFunction"]
    assert resource_refs == {"AUDIT_TABLE", "AUDIT_KEY_SECRET_ARN", "SYNTHETIC_TRAFFIC_SECRET_ARN"}
    assert all(local[name] == "" for name in resource_refs)
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())["default"]
    for command in ("local_start_api", "local_invoke"):
        assert config[command]["parameters"]["env_vars"] == "events/local-env.json"


def test_post_events_carry_json_content_type_but_one_of_each_kind_as_generated() -> None:
    for path in sorted((ROOT / "events").glob("*.json")):
        event = json.loads(path.read_text())
        if "requestContext" not in event:
            continue  # local-env.json
        method = event.get("httpMethod") or event["requestContext"]["http"]["method"]
        content_types = {v for k, v in event["headers"].items() if k.lower() == "content-type"}
        if method != "POST" or path.stem.endswith("no-content-type"):
            assert content_types == set(), path.name
        else:
            assert content_types == {"application/json"}, path.name
            assert event.get("multiValueHeaders", {}).get("content-type", ["application/json"]) == [
                "application/json"
            ]
    assert (ROOT / "events" / "rest-predict-no-content-type.json").is_file()
