"""Checks of the traps a first deploy falls into, which no validator sees: the alarm topic's key, the order of the
API Gateway account and the stage, the account's concurrency, canary alarms that see HTTP 5xx, the hook's logs.

Like scripts/template_checks.py, each returns a list of problems (empty when the template is right), so a test
can feed it a broken copy.
"""

from collections.abc import Iterator
from typing import Any, Final

from scripts.template_checks import allowed_values, functions_of, referenced_names

NEW_ACCOUNT_CONCURRENCY: Final = (
    10  # a new AWS account's Lambda concurrency can be this, shared by every function
)
KMS_ACTIONS_FOR_ALARMS: Final = ("kms:Decrypt", "kms:GenerateDataKey*")
HTTP_5XX_METRICS: Final = {("AWS/ApiGateway", "5XXError"), ("CreditDefault", "ServerErrors")}
CANARY_MINUTES: Final = 5  # the default canary's bake time


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """Return the resources of one type, by logical id."""
    return {name: r for name, r in template.get("Resources", {}).items() if r.get("Type") == kind}


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    statements = policy.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def key_lets_cloudwatch_publish(key: dict[str, Any]) -> bool:
    """Tell whether a KMS key's policy allows CloudWatch the actions a publish to an encrypted topic needs."""
    granted: set[str] = set()
    for statement in _statements(key.get("Properties", {}).get("KeyPolicy", {})):
        services = _as_list(statement.get("Principal", {}).get("Service", []))
        if statement.get("Effect") == "Allow" and "cloudwatch.amazonaws.com" in services:
            granted |= set(_as_list(statement.get("Action", [])))
    return all(action in granted or "kms:*" in granted for action in KMS_ACTIONS_FOR_ALARMS)


def alarm_topic_problems(template: dict[str, Any]) -> list[str]:
    """List topics alarms notify that CloudWatch cannot publish to (an AWS managed or unusable KMS key)."""
    resources = template.get("Resources", {})
    notified = {
        name
        for alarm in of_type(template, "AWS::CloudWatch::Alarm").values()
        for action in alarm["Properties"].get("AlarmActions", [])
        for name in referenced_names(action)
    }
    problems = []
    for name in sorted(notified & set(of_type(template, "AWS::SNS::Topic"))):
        key = resources[name]["Properties"].get("KmsMasterKeyId")
        if key is None:
            continue
        targets = list(referenced_names(key))
        if isinstance(key, str):
            problems.append(
                f"{name}: encrypted with {key}, whose policy CloudWatch may not use; give the topic its own key"
            )
        elif len(targets) != 1 or resources.get(targets[0], {}).get("Type") != "AWS::KMS::Key":
            problems.append(
                f"{name}: its key is not a KMS key of this template, so no check can see its policy"
            )
        elif not key_lets_cloudwatch_publish(resources[targets[0]]):
            problems.append(
                f"{name}: key {targets[0]} does not allow cloudwatch.amazonaws.com {', '.join(KMS_ACTIONS_FOR_ALARMS)}"
            )
    return problems


def dependencies(template: dict[str, Any], name: str) -> set[str]:
    """Return every resource a resource waits for: DependsOn and references, transitively."""
    resources = template.get("Resources", {})
    found: set[str] = set()
    pending = [name]
    while pending:
        resource = resources.get(pending.pop(), {})
        direct = set(_as_list(resource.get("DependsOn", [])))
        direct |= set(referenced_names([resource.get("Properties", {}), resource.get("Metadata", {})]))
        for target in (direct & set(resources)) - found:
            found.add(target)
            pending.append(target)
    return found


def access_log_problems(translated: dict[str, Any]) -> list[str]:
    """List stages with access logs that CloudFormation may create before the account's CloudWatch role is set."""
    accounts = set(of_type(translated, "AWS::ApiGateway::Account"))
    return [
        f"{name}: has access logs but does not wait for {', '.join(sorted(accounts))} (the first deploy can fail"
        " with 'CloudWatch Logs role ARN must be set in account settings')"
        for name, stage in sorted(of_type(translated, "AWS::ApiGateway::Stage").items())
        if "AccessLogSetting" in stage.get("Properties", {}) and accounts - dependencies(translated, name)
    ]


def portfolio_concurrency_problems(template: dict[str, Any]) -> list[str]:
    """List state machines whose default Map concurrency takes half or more of a new account's Lambda concurrency."""
    problems = []
    for name, machine in of_type(template, "AWS::Serverless::StateMachine").items():
        substitutions = machine["Properties"].get("DefinitionSubstitutions", {})
        for key, value in substitutions.items():
            if "Concurrency" not in key:
                continue
            for default in allowed_values(template, value)[:1]:
                if not isinstance(default, int) or default * 2 > NEW_ACCOUNT_CONCURRENCY:
                    problems.append(
                        f"{name}: {key} defaults to {default!r}; a new account has {NEW_ACCOUNT_CONCURRENCY}"
                        " concurrent Lambda executions in all and the API throttles"
                    )
    return problems


def preference_targets(template: dict[str, Any], field: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Yield (function, entry, the entry's resource properties) for each alarm or hook of each DeploymentPreference."""
    resources = template.get("Resources", {})
    for name, props in functions_of(template):
        entries = props.get("DeploymentPreference", {}).get(field, [])
        labelled = (
            entries.items() if isinstance(entries, dict) else ((str(i), e) for i, e in enumerate(entries))
        )
        for label, target in labelled:
            ref = target.get("Ref") if isinstance(target, dict) else target
            yield name, f"{label} {ref}", resources.get(ref, {}).get("Properties", {})


def rollback_problems(template: dict[str, Any]) -> list[str]:
    """List canaries none of whose rollback alarms sees HTTP 5xx answers within the bake time."""
    canaries = {name for name, props in functions_of(template) if "DeploymentPreference" in props}
    watched = {
        name
        for name, _, alarm in preference_targets(template, "Alarms")
        if (alarm.get("Namespace"), alarm.get("MetricName")) in HTTP_5XX_METRICS
        and alarm.get("Period", 0) * alarm.get("DatapointsToAlarm", alarm.get("EvaluationPeriods", 1))
        <= CANARY_MINUTES * 60
    }
    return [
        f"{name}: no rollback alarm sees 5xx answers within {CANARY_MINUTES} minutes (the handler never"
        " raises, so Lambda's Errors stays 0 while a bad version answers 500)"
        for name in sorted(canaries - watched)
    ]


def hook_logging_problems(template: dict[str, Any]) -> list[str]:
    """List deployment hooks whose logs use the runtime's text format, which drops the mismatch fields."""
    return [
        f"{name}: hook {hook} logs as text, which drops which field differed"
        for name, hook, props in preference_targets(template, "Hooks")
        if props.get("LoggingConfig", {}).get("LogFormat") != "JSON"
    ]
