"""Deployment files: SAM validators, cfn-lint, checkov, hadolint, actionlint, and what they all miss."""

import copy
import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
TOOLS = ROOT / ".venv-tools"
ARCHITECTURES = frozenset({"x86_64", "arm64"})
API_GATEWAY_TIMEOUT_S = 29
LAMBDA_MAX_TIMEOUT_S = 900
MEMORY_RANGE_MB = (128, 10240)
SERVERLESS_FUNCTION = "AWS::Serverless::Function"


class CfnLoader(yaml.SafeLoader):
    """A YAML loader that reads CloudFormation short tags (!Ref, !GetAtt, !Sub, ...) as their long form."""


def _construct_tag(loader: CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise yaml.constructor.ConstructorError(None, None, f"unexpected node for !{suffix}", node.start_mark)
    return {name: value}


CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """Load a CloudFormation/SAM template, short tags included."""
    loaded: dict[str, Any] = yaml.load(path.read_text(), Loader=CfnLoader)  # noqa: S506 (SafeLoader subclass)
    return loaded


def functions_of(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield each serverless function's name and properties, with the template's Globals applied."""
    defaults = template.get("Globals", {}).get("Function", {})
    for name, resource in template.get("Resources", {}).items():
        if resource.get("Type") == SERVERLESS_FUNCTION:
            yield name, {**defaults, **resource.get("Properties", {})}


def resolve(template: dict[str, Any], value: Any) -> Any:
    """Return a literal, or the default of the parameter a `!Ref` names."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return template.get("Parameters", {}).get(value["Ref"], {}).get("Default")
    return value


def architecture_problems(template: dict[str, Any]) -> list[str]:
    """List functions whose Architectures is not exactly one of x86_64 and arm64."""
    problems = []
    for name, props in functions_of(template):
        value = props.get("Architectures")
        if not (isinstance(value, list) and len(value) == 1 and value[0] in ARCHITECTURES):
            problems.append(f"{name}: Architectures {value!r} is not one of {sorted(ARCHITECTURES)}")
    return problems


def limit_problems(template: dict[str, Any]) -> list[str]:
    """List functions whose timeout or memory is missing or outside Lambda's and API Gateway's limits."""
    problems = []
    for name, props in functions_of(template):
        timeout = resolve(template, props.get("Timeout"))
        behind_api = any(
            event.get("Type") in {"Api", "HttpApi"} for event in props.get("Events", {}).values()
        )
        if not isinstance(timeout, int):
            problems.append(f"{name}: Timeout {timeout!r} is not an explicit whole number of seconds")
        elif not 1 <= timeout <= LAMBDA_MAX_TIMEOUT_S:
            problems.append(f"{name}: Timeout {timeout} is outside Lambda's 1..{LAMBDA_MAX_TIMEOUT_S} s")
        elif behind_api and timeout >= API_GATEWAY_TIMEOUT_S:
            problems.append(f"{name}: Timeout {timeout} is not below API Gateway's {API_GATEWAY_TIMEOUT_S} s")
        memory = resolve(template, props.get("MemorySize"))
        low, high = MEMORY_RANGE_MB
        if not (isinstance(memory, int) and low <= memory <= high):
            problems.append(f"{name}: MemorySize {memory!r} is outside {low}..{high} MB")
    return problems


def known_names(template: dict[str, Any]) -> set[str]:
    """Return what Ref/GetAtt/Sub may name: resources, SAM's generated ones, parameters, pseudo parameters."""
    names = set(template.get("Resources", {})) | set(template.get("Parameters", {}))
    for name, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        if resource.get("Type") == SERVERLESS_FUNCTION and "Role" not in props:
            names.add(f"{name}Role")
        if resource.get("Type") == "AWS::Serverless::Api":
            names |= {f"{name}.Stage", f"{name}.Deployment", f"{name}{props.get('StageName', '')}Stage"}
    return names


def referenced_names(value: Any) -> Iterator[str]:
    """Yield every name a value refers to through Ref, Fn::GetAtt or Fn::Sub."""
    if isinstance(value, list):
        for item in value:
            yield from referenced_names(item)
    elif isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref":
                yield inner
            elif key == "Fn::GetAtt":
                yield inner[0] if isinstance(inner, list) else inner.split(".", 1)[0]
            elif key == "Fn::Sub":
                text, variables = (inner, {}) if isinstance(inner, str) else (inner[0], inner[1])
                for match in re.findall(r"\$\{([^!}][^}]*)\}", text):
                    if match not in variables:
                        yield match.split(".", 1)[0]
                yield from referenced_names(variables)
            else:
                yield from referenced_names(inner)


def output_problems(template: dict[str, Any]) -> list[str]:
    """List Outputs that refer to a resource or parameter the template does not define."""
    names = known_names(template)
    return [
        f"Outputs.{output}: refers to {target}, which the template does not define"
        for output, spec in template.get("Outputs", {}).items()
        for target in referenced_names(spec.get("Value"))
        if not target.startswith("AWS::") and target not in names
    ]


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


def test_dockerfile_uses_the_tests_python_pinned_and_the_handler() -> None:
    text = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^FROM public\.ecr\.aws/lambda/python:(\S+)", text, re.MULTILINE)
    assert base, "the image must build on public.ecr.aws/lambda/python"
    assert re.fullmatch(r"3\.11\.\d{4}(\.\d{2}){3}(@sha256:[0-9a-f]{64})?", base.group(1)), base.group(1)
    assert sys.version_info[:2] == (3, 11), "the tests must run on the image's Python"
    assert 'CMD ["functions.app.handler"]' in text
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


def test_function_may_only_write_audit_records_and_read_the_hash_key() -> None:
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
        ("secretsmanager:GetSecretValue", secret),
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
    assert resource_refs == {"AUDIT_TABLE", "AUDIT_KEY_SECRET_ARN"}
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
