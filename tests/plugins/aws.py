"""Fixtures of AWS answered by moto or stubbed by botocore: stacks, keys, the audit table."""

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from functions.audit import stores as audit


# --- AWS answered by moto, without the app's settings (ui/ and scripts/ tests) ------------------------------
@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake AWS credentials and region (us-east-1), with every AWS call of the test answered by moto."""
    from moto import mock_aws

    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield


@pytest.fixture
def api_stack(fake_aws: None) -> Callable[..., str]:
    """Create, in moto, an API key and a plain stack whose outputs name the API URL and the key's id.

    moto cannot deploy template.yaml (SAM transform), so a stack with the same Outputs stands in for it.
    Call `api_stack(name, url=..., outputs=("ApiUrl", "ApiKeyId"), key_value=...)`; it returns the key's value.
    """

    def create(
        name: str, *, url: str, outputs: tuple[str, ...] = ("ApiUrl", "ApiKeyId"), key_value: str = "k" * 40
    ) -> str:
        key = boto3.client("apigateway").create_api_key(name=f"{name}-key", enabled=True, value=key_value)
        values = {"ApiUrl": url, "ApiKeyId": key["id"]}
        template = {
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {output: {"Value": values[output]} for output in outputs},
        }
        boto3.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
        return str(key["value"])

    return create


@pytest.fixture(scope="session")
def create_audit_table() -> Callable[[Any, str], None]:
    """Create the audit table as template.yaml declares it (index `by-day`): `create_audit_table(client, name)`."""
    from functions.audit.stores import DAY_INDEX, DAY_INDEX_ATTRIBUTES

    def create(client: Any, name: str) -> None:
        keys = [("request_id", "HASH"), ("decided_day", "HASH"), ("decided_at", "RANGE")]
        client.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key, _ in keys],
            KeySchema=[{"AttributeName": key, "KeyType": kind} for key, kind in keys[:1]],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": DAY_INDEX,
                    "KeySchema": [{"AttributeName": key, "KeyType": kind} for key, kind in keys[1:]],
                    "Projection": {
                        "ProjectionType": "INCLUDE",
                        "NonKeyAttributes": list(DAY_INDEX_ATTRIBUTES),
                    },
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )

    return create


@pytest.fixture
def stubbed_audit(
    aws_credentials: None, configure: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """Audit to table `credit-default-audit` through a DynamoDB client scripted by botocore's Stubber."""
    configure(AUDIT_TABLE="credit-default-audit", AUDIT_HASH_KEY="k" * 40)
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    monkeypatch.setattr(audit, "dynamodb", lambda: dynamodb)
    monkeypatch.setattr(audit, "dynamodb_capped", lambda timeout: dynamodb)
    with Stubber(dynamodb) as stubber:
        yield stubber
