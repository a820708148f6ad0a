"""CodeDeploy's pre-traffic hook: the new scoring version must answer the example clients as this image does.

The hook runs the same image as the version being deployed. It scores each client of `contract.EXAMPLES` in
process (audit off) and through `lambda:Invoke` of the new version with an API Gateway-shaped request, compares
the answers field by field, and reports Succeeded or Failed to CodeDeploy. Failed stops the deployment before
any traffic moves. CI runs the same comparison against the image under the runtime interface emulator.
"""

import base64
import json
import math
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Final

from functions import aws
from functions.api.gateway.request_state import (
    SYNTHETIC_HEADER,  # marks hook and smoke requests (kept out of monitoring)
)
from functions.api.synthetic import synthetic_token
from functions.config import get_settings
from functions.scoring.contract import EXAMPLES
from functions.telemetry import logger, start_invocation

Invoke = Callable[[dict[str, Any]], dict[str, Any]]  # an API Gateway event in, the function's answer out
COMPARED: Final = ("status", "probability_of_default", "score", "risk_grade", "predicted_default", "reasons")
TOLERANCE: Final = 1e-9  # the same model and numpy on the same image: answers agree to rounding
INVOKE_READ_SECONDS: Final = (
    60.0  # lambda:Invoke answers after the new version has scored (cold start included)
)


def predict_event(applicant: Mapping[str, int], *, stage: str = "Prod") -> dict[str, Any]:
    """Return a REST API proxy event that posts one applicant to /v1/predict, as API Gateway sends it."""
    request_id = f"deploy-hook-{uuid.uuid4()}"  # unique: the audit table's key
    headers = {"Content-Type": "application/json", "User-Agent": "credit-default-deploy-hook"}
    headers[SYNTHETIC_HEADER] = synthetic_token() or "deploy-hook"  # without the secret: ignored, counted
    return {
        "resource": "/v1/predict",
        "path": "/v1/predict",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/v1/predict",
            "httpMethod": "POST",
            "path": f"/{stage}/v1/predict",
            "stage": stage,
            "requestId": request_id,
            "identity": {"sourceIp": "127.0.0.1", "userAgent": headers["User-Agent"]},
        },
        "body": json.dumps(dict(applicant)),
        "isBase64Encoded": False,
    }


def summarize(answer: Mapping[str, Any]) -> dict[str, Any]:
    """Keep what must not change between two runs of the same image: the status and the decision."""
    body = answer.get("body") or "{}"
    if answer.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    decision = json.loads(body)
    summary: dict[str, Any] = {"status": answer.get("statusCode")}
    for field in COMPARED[1:]:
        summary[field] = decision.get(field)
    summary["reasons"] = [reason.get("code") for reason in decision.get("reasons") or []]
    summary["model_version"] = decision.get("model_version")
    return summary


def mismatches(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    """List the fields where two summaries of the same client differ (probabilities within TOLERANCE)."""
    found = []
    for field in (*COMPARED, "model_version"):
        want, got = expected.get(field), actual.get(field)
        if isinstance(want, float) and isinstance(got, float):
            same = math.isclose(want, got, rel_tol=0.0, abs_tol=TOLERANCE)
        else:
            same = want == got
        if not same:
            found.append(f"{field}: expected {want!r}, got {got!r}")
    return found


def compare(expected: Invoke, actual: Invoke) -> list[str]:
    """Score every example client both ways; return one line per difference (empty when all agree)."""
    problems = []
    for name, applicant in EXAMPLES.items():
        event = predict_event(applicant)
        reference = summarize(expected(event))
        if reference["status"] != 200:
            problems.append(f"{name}: the reference run answered {reference['status']}")
            continue
        problems += [f"{name}: {line}" for line in mismatches(reference, summarize(actual(event)))]
    return problems


def in_process(context: Any) -> Invoke:
    """Return an Invoke that answers with this image's app, in this process."""
    from functions.api.app import (
        handler as app_handler,  # imported on use: the hook's own cold start stays small
    )

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = app_handler(event, context)
        return answer

    return invoke


def remote(lambda_client: Any, function_arn: str) -> Invoke:
    """Return an Invoke that calls a Lambda function version synchronously and returns its answer."""

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        response = lambda_client.invoke(
            FunctionName=function_arn, InvocationType="RequestResponse", Payload=json.dumps(event).encode()
        )
        payload = response["Payload"].read()
        if response.get("FunctionError"):
            raise RuntimeError(f"{function_arn} failed ({response['FunctionError']}): {payload[:500]!r}")
        answer: dict[str, Any] = json.loads(payload)
        return answer

    return invoke


def check(
    event: Mapping[str, Any],
    context: Any,
    *,
    lambda_client: Any,
    codedeploy_client: Any,
    function_arn: str | None,
) -> str:
    """Compare the new version with this image, report the outcome to CodeDeploy and return it."""
    try:
        if not function_arn:
            raise RuntimeError(
                "SCORING_FUNCTION_VERSION is not set: template.yaml gives the hook the new version"
            )
        problems = compare(in_process(context), remote(lambda_client, function_arn))
    except Exception:
        # Always report: an unreported hook holds the deployment for an hour before CodeDeploy gives up.
        logger.exception("pre-traffic check could not run", extra={"version": function_arn})
        problems = ["the check could not run (see the traceback above)"]
    status = "Failed" if problems else "Succeeded"
    for problem in problems:
        logger.error("pre-traffic mismatch", extra={"version": function_arn, "problem": problem})
    codedeploy_client.put_lifecycle_event_hook_execution_status(
        deploymentId=event["DeploymentId"],
        lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
        status=status,
    )
    logger.info("pre-traffic check done", extra={"version": function_arn, "status": status})
    return status


def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    """Run the pre-traffic check for the version named in SCORING_FUNCTION_VERSION."""
    start_invocation(context)
    function_arn = get_settings().scoring_function_version
    if not function_arn:
        raise RuntimeError(
            "SCORING_FUNCTION_VERSION is not set: template.yaml gives the hook the new version"
        )
    status = check(
        event,
        context,
        lambda_client=aws.client("lambda", connect_timeout=5, read_timeout=INVOKE_READ_SECONDS),
        codedeploy_client=aws.client("codedeploy", connect_timeout=5),
        function_arn=function_arn,
    )
    return {"status": status}
