"""Check docs/deploy-role-policy.json against what a deploy does: every resource the translated template and SAM's
managed stack create, and every `aws` command of the deploy workflow.

CloudFormation calls each resource type's handlers with the deploying identity's permissions; the actions they
may call come from the resource provider schemas cfn-lint ships (`scripts.cfn.handler_permissions`). An action
the policy does not allow is a problem unless `NOT_USED` says why this stack never makes that call. Where a
resource's name is known before it exists (fixed names, or CloudFormation's `STACK-LogicalId-SUFFIX`), the
action must be allowed on that resource's ARN, not just somewhere.
"""

import fnmatch
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from scripts.cfn import ROOT

POLICY: Final = ROOT / "docs" / "deploy-role-policy.json"
STACK: Final = "credit-default"  # the stack name the policy's resource patterns name (docs/deploy.md)
SAM_MANAGED_STACK: Final = "aws-sam-cli-managed-default"  # `sam deploy --resolve-s3` creates it once
MANAGED_POLICY_MAX_CHARS: Final = 6144  # IAM's limit for a managed policy, whitespace not counted
ARN_PREFIX: Final = "arn:aws:{service}:REGION:ACCOUNT:"

# (resource type, action) patterns this stack's resources never call, and why.
NOT_USED: Final[dict[tuple[str, str], str]] = {
    ("*", "ec2:*"): "no function runs in a VPC",
    ("*", "elasticfilesystem:*"): "no function mounts a file system",
    ("*", "s3files:*"): "no function mounts a file system",
    ("*", "s3tables:*"): "no bucket has S3 metadata tables",
    ("*", "s3:GetObjectMetadata"): "not an IAM action (the DynamoDB schema's import from S3)",
    ("*", "s3:REST.PUT.OBJECT"): "not an IAM action (log delivery to S3)",
    ("*", "firehose:*"): "no log group delivers to Firehose",
    ("AWS::DynamoDB::Table", "kinesis:*"): "the table streams to no Kinesis destination",
    ("AWS::DynamoDB::Table", "logs:*"): "the table is not imported from S3 (the import's log stream)",
    ("AWS::DynamoDB::Table", "iam:CreateServiceLinkedRole"): "no auto scaling, no global table replicas",
    ("AWS::DynamoDB::Table", "kms:*"): "the table uses the AWS managed DynamoDB key",
    ("AWS::Lambda::Function", "kms:*"): "the functions' environments use the AWS managed Lambda key",
    ("AWS::StepFunctions::StateMachine", "kms:*"): "the state machine uses an AWS owned key",
    ("AWS::Lambda::Function", "lambda:*CodeSigningConfig"): "no code signing configuration",
    ("AWS::Lambda::Function", "lambda:GetLayerVersion"): "image functions have no layers",
    ("AWS::Lambda::Function", "lambda:PassCapacityProvider"): "no Lambda managed instances capacity provider",
    ("AWS::DynamoDB::Table", "dynamodb:*Item"): "items are the app's (no import, no replica to seed)",
    ("AWS::DynamoDB::Table", "dynamodb:Query"): "items are the app's (no import, no replica to seed)",
    ("AWS::DynamoDB::Table", "dynamodb:Scan"): "items are the app's (no import, no replica to seed)",
    ("AWS::DynamoDB::Table", "dynamodb:*TableReplica"): "not a global table",
    (
        "AWS::DynamoDB::Table",
        "dynamodb:*KinesisStreamingDestination",
    ): "the table streams to no Kinesis destination",
    ("AWS::DynamoDB::Table", "dynamodb:*Import*"): "the table is not imported from S3",
    (
        "AWS::SecretsManager::Secret",
        "secretsmanager:*Regions*",
    ): "the secret is not replicated to other regions",
    ("AWS::SNS::*", "sns:PutDataProtectionPolicy"): "the topic has no data protection policy",
    ("AWS::Logs::LogGroup", "logs:*DataProtectionPolicy"): "no log group has a data protection policy",
    ("AWS::Logs::LogGroup", "logs:*IndexPolic*"): "no log group has a field index policy",
    ("AWS::Logs::LogGroup", "logs:*KmsKey"): "log groups use CloudWatch Logs' own encryption",
    ("AWS::Logs::LogGroup", "logs:PutBearerTokenAuthentication"): "no log group takes bearer-token ingestion",
    ("AWS::Logs::LogGroup", "logs:PutLogGroupDeletionProtection"): "no log group has deletion protection",
    ("AWS::Logs::LogGroup", "logs:*ResourcePolicy"): "no log group has a resource policy",
    ("AWS::CodeDeploy::*", "codedeploy:RegisterOnPremisesInstance"): "Lambda deployments have no instances",
    ("AWS::S3::Bucket", "s3:*BucketMetadata*"): "no bucket has S3 metadata tables",
    ("AWS::S3::Bucket", "s3:*BucketAbac"): "no bucket uses attribute-based access control",
    ("AWS::S3::Bucket", "s3:DeleteObject"): "a retained bucket is never emptied by CloudFormation",
    ("AWS::S3::Bucket", "s3:PutObjectAcl"): "buckets enforce the owner (ACLs disabled)",
    ("AWS::S3::Bucket", "s3:PutBucketAcl"): "buckets enforce the owner (ACLs disabled)",
    ("AWS::S3::Bucket", "s3:*Replication*"): "no bucket replicates",
    ("AWS::S3::Bucket", "s3:Put*Website"): "no bucket serves a website",
    ("AWS::S3::Bucket", "s3:Delete*Website"): "no bucket serves a website",
    ("AWS::S3::Bucket", "s3:Put*ObjectLock*"): "no bucket locks objects",
    ("AWS::S3::Bucket", "s3:PutAccelerateConfiguration"): "no bucket uses transfer acceleration",
    (
        "AWS::S3::Bucket",
        "s3:Put*Analytics*",
    ): "no bucket has analytics, inventory, metrics or tiering settings",
    (
        "AWS::S3::Bucket",
        "s3:Delete*Analytics*",
    ): "no bucket has analytics, inventory, metrics or tiering settings",
    (
        "AWS::S3::Bucket",
        "s3:Put*Inventory*",
    ): "no bucket has analytics, inventory, metrics or tiering settings",
    ("AWS::S3::Bucket", "s3:Put*Metrics*"): "no bucket has analytics, inventory, metrics or tiering settings",
    (
        "AWS::S3::Bucket",
        "s3:Delete*Metrics*",
    ): "no bucket has analytics, inventory, metrics or tiering settings",
    (
        "AWS::S3::Bucket",
        "s3:Put*IntelligentTiering*",
    ): "no bucket has analytics, inventory, metrics or tiering settings",
    ("AWS::S3::Bucket", "s3:Put*Logging"): "no bucket writes server access logs (checkov skip CKV_AWS_18)",
    ("AWS::S3::Bucket", "s3:Put*Cors"): "no bucket is read from a browser",
    ("AWS::S3::Bucket", "s3:Delete*Cors"): "no bucket is read from a browser",
}


def load_policy(path: Path = POLICY) -> dict[str, Any]:
    """Load the deploy role's policy document."""
    policy: dict[str, Any] = json.loads(path.read_text())
    return policy


def as_list(value: Any) -> list[Any]:
    """Return a policy field as a list (IAM allows a single string)."""
    return value if isinstance(value, list) else [value]


def allows(policy: dict[str, Any], action: str, arn: str | None = None) -> bool:
    """Tell whether an Allow statement grants the action (on the ARN, when one is given); IAM wildcards."""
    for statement in policy["Statement"]:
        if statement.get("Effect") != "Allow":
            continue
        if not any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in as_list(statement["Action"])):
            continue
        if arn is None or any(fnmatch.fnmatchcase(arn, p) for p in as_list(statement["Resource"])):
            return True
    return False


def not_used(kind: str, action: str) -> bool:
    """Tell whether NOT_USED explains why this resource type never calls the action here."""
    return any(
        fnmatch.fnmatchcase(kind, kinds) and fnmatch.fnmatchcase(action.lower(), actions.lower())
        for kinds, actions in NOT_USED
    )


def resolve_name(value: Any, stack: str) -> str | None:
    """Return a name fixed in the template (a literal or a `!Sub` of the stack name), else None."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        value = value["Fn::Sub"].replace("${AWS::StackName}", stack)
    return value if isinstance(value, str) and "${" not in value else None


def example_arn(stack: str, name: str, resource: dict[str, Any]) -> str | None:
    """Return the ARN a resource of a stack will have (CloudFormation's generated name when none is set), or None."""
    props, kind = resource.get("Properties", {}), resource["Type"]
    generated = f"{stack}-{name}-ABCDEF123456"
    region_arn = ARN_PREFIX.format(service=kind.split("::")[1].lower())
    if kind == "AWS::Lambda::Function":
        return region_arn + f"function:{resolve_name(props.get('FunctionName'), stack) or generated}"
    if kind == "AWS::IAM::Role":
        return f"arn:aws:iam::ACCOUNT:role/{resolve_name(props.get('RoleName'), stack) or generated}"
    if kind == "AWS::S3::Bucket":
        return f"arn:aws:s3:::{resolve_name(props.get('BucketName'), stack) or generated.lower()}"
    if kind == "AWS::StepFunctions::StateMachine":
        return (
            ARN_PREFIX.format(service="states")
            + f"stateMachine:{resolve_name(props.get('StateMachineName'), stack)}"
        )
    if kind == "AWS::Events::Rule":
        return region_arn + f"rule/{resolve_name(props.get('Name'), stack) or generated}"
    if kind == "AWS::Scheduler::Schedule":
        return region_arn + f"schedule/default/{resolve_name(props.get('Name'), stack)}"
    if kind == "AWS::SNS::Topic":
        return region_arn + f"{resolve_name(props.get('TopicName'), stack) or generated}"
    if kind == "AWS::DynamoDB::Table":
        return region_arn + f"table/{resolve_name(props.get('TableName'), stack) or generated}"
    return None


def resource_problems(
    policy: dict[str, Any], stacks: dict[str, dict[str, Any]], permissions: dict[str, list[str]]
) -> Iterator[str]:
    """Yield each action a stack resource's handlers need that the policy does not allow (on its ARN when known)."""
    resources = [
        (stack, name, r) for stack, t in stacks.items() for name, r in sorted(t["Resources"].items())
    ]
    for stack, name, resource in resources:
        kind = resource["Type"]
        if kind not in permissions:
            yield f"{stack} {name}: no handler permissions are known for {kind}; list what it needs here"
            continue
        arn = example_arn(stack, name, resource)
        for action in permissions[kind]:
            if not_used(kind, action):
                continue
            # An action on the resource's own service is checked on its ARN; another service's on any resource.
            on = arn if arn and arn.split(":")[2] == action.split(":")[0] else None
            if not allows(policy, action, on):
                yield f"{stack} {name} ({kind}): the policy does not allow {action}" + (
                    f" on {on}" if on else ""
                )


def workflow_actions(workflow_text: str) -> set[str]:
    """Return the IAM actions of the `aws SERVICE COMMAND` lines of a workflow (waiters poll Describe calls)."""
    actions = set()
    for service, command in re.findall(r"\baws ([a-z0-9-]+) ([a-z0-9-]+)", workflow_text):
        if command == "wait":
            continue
        actions.add(f"{service}:{''.join(part.title() for part in command.split('-'))}")
    return actions


def policy_problems(
    policy: dict[str, Any],
    stacks: dict[str, dict[str, Any]],
    permissions: dict[str, list[str]],
    workflow_text: str = "",
) -> list[str]:
    """List what deploying the stacks (name -> translated template) needs that the policy does not allow."""
    problems = list(resource_problems(policy, stacks, permissions))
    problems += [
        f"the deploy workflow runs {action}, which the policy does not allow"
        for action in sorted(workflow_actions(workflow_text))
        if not allows(policy, action)
    ]
    size = len(re.sub(r"\s", "", json.dumps(policy)))
    if size > MANAGED_POLICY_MAX_CHARS:
        problems.append(
            f"the policy has {size} characters; IAM takes {MANAGED_POLICY_MAX_CHARS} in a managed policy"
        )
    return problems
