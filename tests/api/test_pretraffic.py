"""The pre-traffic hook: compares the new version with the image's own answers and always reports to CodeDeploy."""

import io
import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from functions.api import pretraffic as deploy_hook
from functions.api.app import handler as app_handler
from functions.scoring.contract import EXAMPLES

VERSION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:credit-default-scoring:7"
HOOK_EVENT = {"DeploymentId": "d-ABCDEFGHI", "LifecycleEventHookExecutionId": "hook-execution-1"}


def payload(answer: dict[str, Any]) -> StreamingBody:
    """Wrap a function answer as Lambda's Invoke returns it."""
    data = json.dumps(answer).encode()
    return StreamingBody(io.BytesIO(data), len(data))


@pytest.fixture
def clients(aws_credentials: None) -> tuple[Any, Any]:
    """Real botocore clients for Lambda and CodeDeploy, to be stubbed (no network)."""
    return boto3.client("lambda"), boto3.client("codedeploy")


def run(
    clients: tuple[Any, Any],
    context: SimpleNamespace,
    answers: list[dict[str, Any] | Exception],
    *,
    reported: str,
) -> str:
    """Stub one Invoke per example with the given answers, expect the report, and run the hook."""
    lambda_client, codedeploy_client = clients
    with Stubber(lambda_client) as lambda_stub, Stubber(codedeploy_client) as codedeploy_stub:
        for answer in answers:
            if isinstance(answer, Exception):
                lambda_stub.add_client_error("invoke", "AccessDeniedException", str(answer), 403)
            else:
                expected = {"FunctionName": VERSION_ARN, "InvocationType": "RequestResponse", "Payload": ANY}
                lambda_stub.add_response("invoke", answer, expected)
        codedeploy_stub.add_response(
            "put_lifecycle_event_hook_execution_status",
            {"lifecycleEventHookExecutionId": HOOK_EVENT["LifecycleEventHookExecutionId"]},
            {**{k[0].lower() + k[1:]: v for k, v in HOOK_EVENT.items()}, "status": reported},
        )
        status = deploy_hook.check(
            HOOK_EVENT,
            context,
            lambda_client=lambda_client,
            codedeploy_client=codedeploy_client,
            function_arn=VERSION_ARN,
        )
        codedeploy_stub.assert_no_pending_responses()
    return status


def faithful(
    context: SimpleNamespace, *, change: Callable[[dict[str, Any]], None] | None = None
) -> list[Any]:
    """Answer each example as the app does in process (optionally changing the decision), wrapped for Invoke."""
    responses = []
    for applicant in EXAMPLES.values():
        answer = app_handler(deploy_hook.predict_event(applicant), context)
        if change is not None:
            body = json.loads(answer["body"])
            change(body)
            answer = {**answer, "body": json.dumps(body), "isBase64Encoded": False}
        responses.append({"StatusCode": 200, "Payload": payload(answer)})
    return responses


def test_predict_event_is_answered_200_by_the_app(lambda_context: SimpleNamespace) -> None:
    for applicant in EXAMPLES.values():
        answer = app_handler(deploy_hook.predict_event(applicant), lambda_context)
        assert answer["statusCode"] == 200, answer
        assert deploy_hook.summarize(answer)["risk_grade"] in set("ABCDE")


def test_predict_event_marks_itself_synthetic_with_a_unique_request_id() -> None:
    first, second = (deploy_hook.predict_event(EXAMPLES["typical"]) for _ in range(2))
    assert first["headers"][deploy_hook.SYNTHETIC_HEADER] == "deploy-hook"
    assert first["requestContext"]["requestId"] != second["requestContext"]["requestId"]
    assert first["requestContext"]["path"] == "/Prod/v1/predict"


def test_hook_reports_success_when_the_new_version_answers_as_the_image(
    clients: tuple[Any, Any], lambda_context: SimpleNamespace
) -> None:
    assert run(clients, lambda_context, faithful(lambda_context), reported="Succeeded") == "Succeeded"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda body: body.update(risk_grade="Z"), id="grade"),
        pytest.param(
            lambda body: body.update(probability_of_default=body["probability_of_default"] + 1e-6), id="pd"
        ),
        pytest.param(
            lambda body: body.update(reasons=body["reasons"][::-1] + [{"code": "age"}]), id="reasons"
        ),
        pytest.param(lambda body: body.update(model_version="0" * 12), id="model"),
    ],
)
def test_hook_fails_the_deployment_on_any_mismatch(
    clients: tuple[Any, Any], lambda_context: SimpleNamespace, change: Callable[[dict[str, Any]], None]
) -> None:
    answers = faithful(lambda_context, change=change)
    assert run(clients, lambda_context, answers, reported="Failed") == "Failed"


def test_hook_fails_when_the_new_version_answers_503(
    clients: tuple[Any, Any], lambda_context: SimpleNamespace
) -> None:
    unavailable = {"statusCode": 503, "body": json.dumps({"error": {"code": "audit_unavailable"}})}
    answers = [{"StatusCode": 200, "Payload": payload(unavailable)} for _ in EXAMPLES]
    assert run(clients, lambda_context, answers, reported="Failed") == "Failed"


def test_hook_reports_failure_when_the_function_errors(
    clients: tuple[Any, Any], lambda_context: SimpleNamespace
) -> None:
    crashed = {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": payload({"errorMessage": "boom"})}
    assert run(clients, lambda_context, [crashed], reported="Failed") == "Failed"


def test_hook_reports_failure_when_it_may_not_invoke(
    clients: tuple[Any, Any], lambda_context: SimpleNamespace
) -> None:
    denied = PermissionError("not authorized to perform lambda:InvokeFunction")
    assert run(clients, lambda_context, [denied], reported="Failed") == "Failed"


def test_hook_reports_failure_without_a_version_to_check(
    clients: tuple[Any, Any], lambda_context: SimpleNamespace
) -> None:
    lambda_client, codedeploy_client = clients
    with Stubber(codedeploy_client) as stub:
        stub.add_response(
            "put_lifecycle_event_hook_execution_status",
            {},
            {
                "deploymentId": "d-ABCDEFGHI",
                "lifecycleEventHookExecutionId": "hook-execution-1",
                "status": "Failed",
            },
        )
        status = deploy_hook.check(
            HOOK_EVENT,
            lambda_context,
            lambda_client=lambda_client,
            codedeploy_client=codedeploy_client,
            function_arn=None,
        )
        stub.assert_no_pending_responses()
    assert status == "Failed"


def test_mismatches_tolerate_rounding_only() -> None:
    base = {
        "status": 200,
        "probability_of_default": 0.25,
        "score": 519,
        "reasons": ["age"],
        "model_version": "v",
    }
    assert deploy_hook.mismatches(base, {**base, "probability_of_default": 0.25 + 1e-12}) == []
    assert deploy_hook.mismatches(base, {**base, "probability_of_default": 0.25 + 1e-7})
    assert deploy_hook.mismatches(base, {**base, "status": 502}) == ["status: expected 200, got 502"]
