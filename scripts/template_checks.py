"""Checks of template.yaml that cfn-lint, `sam validate` and checkov do not make.

Each returns a list of problems (empty when the template is right), so a test can also feed it a broken copy
and see the mistake caught. The CodeDeploy names below are the predefined Lambda deployment configurations.
"""

import re
from collections.abc import Iterator
from typing import Any, Final

ARCHITECTURES: Final = frozenset({"x86_64", "arm64"})
API_GATEWAY_TIMEOUT_S: Final = 29
LAMBDA_MAX_TIMEOUT_S: Final = 900
MEMORY_RANGE_MB: Final = (128, 10240)
SERVERLESS_FUNCTION: Final = "AWS::Serverless::Function"
HOOK_PREFIX: Final = "CodeDeployHook_"  # the only functions the role SAM gives CodeDeploy may invoke
CODEDEPLOY_LAMBDA_CONFIGS: Final = frozenset(
    {
        "AllAtOnce",
        *(f"Canary10Percent{minutes}Minutes" for minutes in (5, 10, 15, 30)),
        *(f"Linear10PercentEvery{minutes}Minute{'s' * (minutes > 1)}" for minutes in (1, 2, 3, 10)),
    }
)


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
        if resource.get("Type") == SERVERLESS_FUNCTION and "AutoPublishAlias" in props:
            names |= {f"{name}.Version", f"{name}.Alias"}
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


def allowed_values(template: dict[str, Any], value: Any) -> list[Any]:
    """Return every value a property may take: a literal, or a parameter's default and allowed values."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        parameter = template.get("Parameters", {}).get(value["Ref"], {})
        return [parameter.get("Default"), *parameter.get("AllowedValues", [])]
    return [value]


def deployment_problems(template: dict[str, Any]) -> list[str]:
    """List deployment preferences with a type CodeDeploy does not predefine, or a hook without its prefix."""
    problems = []
    resources = template.get("Resources", {})
    for name, props in functions_of(template):
        preference = props.get("DeploymentPreference")
        if preference is None:
            continue
        if "AutoPublishAlias" not in props:
            problems.append(f"{name}: DeploymentPreference needs AutoPublishAlias")
        for value in allowed_values(template, preference.get("Type")):
            if value not in CODEDEPLOY_LAMBDA_CONFIGS:
                problems.append(f"{name}: deployment type {value!r} is not one CodeDeploy predefines")
        for hook, target in preference.get("Hooks", {}).items():
            hook_name = target.get("Ref") if isinstance(target, dict) else None
            hook_props = resources.get(hook_name, {}).get("Properties", {})
            function_name = hook_props.get("FunctionName", "")
            if isinstance(function_name, dict):
                function_name = function_name.get("Fn::Sub", "")
            if not (isinstance(function_name, str) and function_name.startswith(HOOK_PREFIX)):
                problems.append(f"{name}: {hook} hook {hook_name} is not a function named {HOOK_PREFIX}*")
    return problems


def alarm_problems(template: dict[str, Any]) -> list[str]:
    """List deployment alarms that are not alarms of this template, and alarms that notify no one or fire on one blip."""
    resources = template.get("Resources", {})
    problems = []
    for name, props in functions_of(template):
        for alarm in props.get("DeploymentPreference", {}).get("Alarms", []):
            target = alarm.get("Ref") if isinstance(alarm, dict) else alarm
            if resources.get(target, {}).get("Type") != "AWS::CloudWatch::Alarm":
                problems.append(f"{name}: deployment alarm {target!r} is not an alarm in this template")
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::CloudWatch::Alarm":
            continue
        props = resource.get("Properties", {})
        if not (props.get("AlarmActions") and props.get("OKActions")):
            problems.append(f"{name}: notifies no one (AlarmActions and OKActions)")
        if (
            props.get("DatapointsToAlarm", props.get("EvaluationPeriods", 1)) < 2
            and props.get("Threshold", 0) <= 1
        ):
            problems.append(f"{name}: one bad datapoint of one event would fire it")
    return problems
