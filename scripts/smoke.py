"""Smoke-test a deployed scoring API: health, model and one prediction; exit 1 when any check fails.

python -m scripts.smoke --stack-name credit-default [--region eu-west-1]
python -m scripts.smoke --url https://ID.execute-api.REGION.amazonaws.com/Prod --api-key KEY

Every request carries `X-Synthetic-Traffic` with the stack's synthetic-traffic secret (output
SyntheticTrafficSecretArn, or SYNTHETIC_TRAFFIC_TOKEN), so the decision is audited as synthetic and kept out of
the decision metrics and drift; without the secret the mark is ignored and the API counts it. A new API key can take a minute to work: `predict` is retried on 403.
"""

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

import httpx

from functions.api.gateway.request_state import SYNTHETIC_HEADER
from functions.api.synthetic import synthetic_token
from functions.scoring.contract import EXAMPLES
from ui.client import Answer, ApiCallError, ApiClient, Endpoint, StackError, resolve_endpoint

APPLICANT: Final = EXAMPLES["typical"]
SMOKE_MARK: Final = "smoke"  # the value of SYNTHETIC_HEADER on the smoke test's requests
FIRST_RETRY_SECONDS: Final = 2.0
MAX_RETRY_SECONDS: Final = 20.0
PREDICTION_FIELDS: Final = frozenset(
    {
        "probability_of_default",
        "predicted_default",
        "threshold",
        "score",
        "risk_grade",
        "reasons",
        "model_version",
        "request_id",
    }
)


class SmokeError(Exception):
    """A check that failed, with a message saying what was wrong."""


class SmokeTransport(httpx.HTTPTransport):
    """httpx's transport, marking each request as synthetic smoke traffic (kept out of monitoring)."""

    mark: str = SMOKE_MARK  # the synthetic-traffic secret once main has read it

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Add the synthetic-traffic header, then send the request."""
        request.headers[SYNTHETIC_HEADER] = self.mark
        return super().handle_request(request)


def stack_mark(stack_name: str, *, region: str | None) -> str | None:
    """Return the stack's synthetic-traffic secret (output SyntheticTrafficSecretArn); None if unreadable."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        session = boto3.session.Session(region_name=region)
        stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
        outputs = {item["OutputKey"]: item["OutputValue"] for item in stacks[0].get("Outputs", [])}
        if "SyntheticTrafficSecretArn" not in outputs:
            return None
        secret = session.client("secretsmanager").get_secret_value(
            SecretId=outputs["SyntheticTrafficSecretArn"]
        )
    except (BotoCoreError, ClientError):
        return None
    return str(secret["SecretString"])


def call(
    endpoint: Endpoint, method: str, path: str, *, body: Any = None, with_key: bool = True, timeout: float
) -> Answer:
    """Send one marked request and return its status and JSON body; HTTP errors are answers, no answer fails."""
    try:
        client = ApiClient(endpoint, transport=SmokeTransport())
        return client.send(method, path, body=body, timeout=timeout, with_key=with_key)
    except ApiCallError as err:
        raise SmokeError(f"{method} {path}: no answer ({err})") from err


def expect(condition: bool, message: str) -> None:
    """Raise SmokeError with the message unless the condition holds."""
    if not condition:
        raise SmokeError(message)


def check_health(endpoint: Endpoint, *, timeout: float, wait: float) -> str:
    """Poll /v1/health until it answers 200 {"status": "ok"} or `wait` seconds pass (cold starts)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            answer = call(endpoint, "GET", "/v1/health", with_key=False, timeout=timeout)
            healthy = (
                answer.status == 200 and isinstance(answer.body, dict) and answer.body.get("status") == "ok"
            )
            problem = f"/v1/health answered {answer.status} {answer.body!r}"
        except SmokeError as err:
            healthy, problem = False, str(err)
        if healthy or time.monotonic() >= deadline:
            break
        time.sleep(2)
    expect(healthy, problem)
    return "200 status=ok"


def fetch_model_version(endpoint: Endpoint, *, timeout: float) -> str:
    """Check that /v1/model returns the manifest and return its version."""
    answer = call(endpoint, "GET", "/v1/model", timeout=timeout)
    expect(answer.status == 200, f"/v1/model answered {answer.status} {answer.body!r}")
    version = answer.body.get("version") if isinstance(answer.body, dict) else None
    expect(isinstance(version, str) and bool(version), f"/v1/model has no version: {answer.body!r}")
    return str(version)


def post_predict(endpoint: Endpoint, *, timeout: float, key_wait: float) -> Answer:
    """POST the sample applicant; on 403 (a new key not active yet) retry with backoff for up to `key_wait` s."""
    deadline = time.monotonic() + key_wait
    delay = FIRST_RETRY_SECONDS
    while True:
        answer = call(endpoint, "POST", "/v1/predict", body=APPLICANT, timeout=timeout)
        left = deadline - time.monotonic()
        if answer.status != 403 or left <= 0:
            return answer
        pause = min(delay, left)
        print(f"WAIT predict: 403, the API key may not be active yet; retrying in {pause:.0f} s", flush=True)
        time.sleep(pause)
        delay = min(delay * 2, MAX_RETRY_SECONDS)


def check_predict(endpoint: Endpoint, *, timeout: float, model_version: str | None, key_wait: float) -> str:
    """Check that /v1/predict scores the sample applicant with a complete, sane answer."""
    answer = post_predict(endpoint, timeout=timeout, key_wait=key_wait)
    expect(answer.status == 200, f"/v1/predict answered {answer.status} {answer.body!r}")
    body = answer.body
    expect(isinstance(body, dict), f"/v1/predict answered a non-object {body!r}")
    missing = sorted(PREDICTION_FIELDS - body.keys())
    expect(not missing, f"/v1/predict answer lacks {', '.join(missing)}")
    probability = body["probability_of_default"]
    expect(
        isinstance(probability, int | float) and 0.0 <= probability <= 1.0,
        f"probability_of_default {probability!r} is not in [0, 1]",
    )
    expect(isinstance(body["predicted_default"], bool), "predicted_default is not a boolean")
    expect(
        model_version is None or body["model_version"] == model_version,
        f"model_version {body['model_version']!r} differs from /v1/model's {model_version!r}",
    )
    return f"200 pd={probability:.4f} grade={body['risk_grade']}"


def check_key_required(endpoint: Endpoint, *, timeout: float) -> str:
    """Check that /v1/predict refuses a request without the API key (API Gateway answers 403, the app 401)."""
    answer = call(endpoint, "POST", "/v1/predict", body=APPLICANT, with_key=False, timeout=timeout)
    expect(answer.status in (401, 403), f"/v1/predict without a key answered {answer.status}, not 401 or 403")
    return f"{answer.status} without x-api-key"


def report(ok: bool, name: str, detail: str) -> None:
    """Print one result line."""
    print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}", flush=True)


def attempt(name: str, check: Callable[[], str]) -> bool:
    """Run one check, print its line and return whether it passed."""
    try:
        detail = check()
    except SmokeError as err:
        report(False, name, str(err))
        return False
    report(True, name, detail)
    return True


def run_checks(
    endpoint: Endpoint, *, timeout: float, wait: float, expect_key_required: bool, key_wait: float
) -> bool:
    """Run every check (each prints one line) and return whether all passed."""
    passed = attempt("health", lambda: check_health(endpoint, timeout=timeout, wait=wait))
    version: str | None = None
    try:
        version = fetch_model_version(endpoint, timeout=timeout)
        report(True, "model", f"200 version={version}")
    except SmokeError as err:
        report(False, "model", str(err))
        passed = False
    passed = (
        attempt(
            "predict",
            lambda: check_predict(endpoint, timeout=timeout, model_version=version, key_wait=key_wait),
        )
        and passed
    )
    if expect_key_required:
        passed = attempt("key required", lambda: check_key_required(endpoint, timeout=timeout)) and passed
    return passed


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m scripts.smoke", description=__doc__.splitlines()[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--stack-name", help="CloudFormation stack to read ApiUrl and ApiKeyId from")
    target.add_argument("--url", help="API base URL, stage included (e.g. .../Prod)")
    parser.add_argument("--api-key", help="API key value (with --url)")
    parser.add_argument("--region", help="AWS region of the stack (default: the AWS configuration's)")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds per request (default 15)")
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for health (default 60)")
    parser.add_argument(
        "--key-wait",
        type=float,
        default=120.0,
        help="seconds to retry predict while it answers 403, as a new API key activates (default 120)",
    )
    parser.add_argument(
        "--expect-key-required",
        action="store_true",
        help="also check that /v1/predict without the key is refused (API Gateway only)",
    )
    args = parser.parse_args(argv)
    if args.url and not args.api_key:
        parser.error("--url needs --api-key")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the smoke test and return the exit code: 0 when every check passed, 1 otherwise."""
    args = parse_args(argv)
    if args.url:
        endpoint = Endpoint(url=args.url.rstrip("/"), api_key=args.api_key)
    else:
        try:
            endpoint = resolve_endpoint(args.stack_name, region=args.region)
        except StackError as err:
            report(False, "stack", f"{args.stack_name}: {err}")
            return 1
        report(True, "stack", f"{args.stack_name} -> {endpoint.url}")
    mark = synthetic_token() or (stack_mark(args.stack_name, region=args.region) if args.stack_name else None)
    if mark is None:
        print(
            "note: no synthetic-traffic secret; the API counts this test's decision as real", file=sys.stderr
        )
    SmokeTransport.mark = mark or SMOKE_MARK
    ok = run_checks(
        endpoint,
        timeout=args.timeout,
        wait=args.wait,
        expect_key_required=args.expect_key_required,
        key_wait=args.key_wait,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
