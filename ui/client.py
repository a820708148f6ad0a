"""The one HTTP client of the scoring API, used by the UI, `scripts/smoke.py` and the benchmarks.

`ApiClient(Endpoint(url, api_key))` sends JSON over httpx with a timeout per call and returns typed answers
(`Health`, `Manifest`, `Prediction`, `RecourseAnswer`); an error answer or no answer raises `ApiCallError` with a readable
message, the HTTP status, the request id and the invalid fields. `resolve_endpoint` reads a deployed
stack's URL and key from CloudFormation (boto3 is imported there only, so the page loads without it).
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import httpx
from pydantic import ValidationError

from functions.api.errors import FieldError
from functions.scoring.adverse.recourse_answer import RecourseAnswer
from functions.scoring.contract import MAX_BATCH, BatchPredictions, Health, Prediction
from functions.scoring.manifest import Manifest, ModelUnavailable, parse_manifest

DEFAULT_URL: Final = "http://127.0.0.1:8000"  # the local app that `make api` and `make run` start
HEALTH_TIMEOUT: Final = 5.0  # seconds; health is cheap, a slow answer means trouble
SCORE_TIMEOUT: Final = 30.0  # seconds; API Gateway gives up at 29 s, a cold Lambda start takes a few
Answered = TypeVar("Answered", Health, Prediction, BatchPredictions, RecourseAnswer)
ADVICE: Final = {
    403: " Check the API key (sidebar, or resolve it from the stack) and that the URL is the stack's ApiUrl.",
    404: " No such route: the URL must be the API's base URL (a deployed stack's ends in /Prod).",
    429: " Too many requests: wait a moment and try again.",
    503: " No decision was made; try again later.",
    504: " The gateway timed out; try again, or send fewer rows at a time.",
}


class ApiCallError(Exception):
    """An API call that returned no usable answer: a readable message, HTTP status, request id, fields."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str = "",
        fields: Sequence[FieldError] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.request_id = request_id
        self.fields = list(fields)


class StackError(Exception):
    """A CloudFormation stack whose API URL and key cannot be read; the message says why."""


@dataclass(frozen=True)
class Endpoint:
    """Where the API is (base URL, stage included, no trailing slash) and the key for its scoring routes."""

    url: str
    api_key: str = ""


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: status code and decoded JSON body (None when the body is not JSON)."""

    status: int
    body: Any


def to_error(status: int, answer: Any, reason: str) -> ApiCallError:
    """Turn an error answer (the API's schema, or API Gateway's `{"message"}`) into an ApiCallError."""
    error = answer.get("error") if isinstance(answer, dict) else None
    fields: list[FieldError] = []
    request_id = ""
    if isinstance(error, dict):
        fields = [FieldError.model_validate(item) for item in error.get("fields") or []]
        request_id = str(error.get("request_id") or "")
        message = str(error.get("message") or reason)
    else:
        message = str(answer.get("message") or reason) if isinstance(answer, dict) else reason
    if status == 422 and fields:  # the API's message points at its `fields` list; the form shows them
        plural = "s" if len(fields) > 1 else ""
        message = (
            f"The API refused {len(fields)} input{plural}; see the message{plural} beside the field{plural}"
        )
    where = f", request id {request_id}" if request_id else ""
    return ApiCallError(
        f"{message.rstrip('.')} (HTTP {status}{where}).{ADVICE.get(status, '')}",
        status=status,
        request_id=request_id,
        fields=fields,
    )


class ApiClient:
    """Calls of the scoring API at one endpoint; pass `transport` (e.g. httpx.MockTransport) in tests."""

    def __init__(self, endpoint: Endpoint, *, transport: httpx.BaseTransport | None = None) -> None:
        self.endpoint = endpoint
        self._transport = transport

    def send(
        self, method: str, path: str, *, body: Any = None, timeout: float, with_key: bool = True
    ) -> Answer:
        """Send one request; HTTP errors are answers, no answer at all raises ApiCallError saying why."""
        url = self.endpoint.url
        headers = {"accept": "application/json"}
        if with_key and self.endpoint.api_key:
            headers["x-api-key"] = self.endpoint.api_key
        try:
            with httpx.Client(transport=self._transport, timeout=timeout) as http:
                response = http.request(method, url + path, json=body, headers=headers)
        except httpx.TimeoutException as err:
            raise ApiCallError(
                f"{url} did not answer within {timeout:g} s. Is it overloaded or starting up? Try again."
            ) from err
        except (httpx.HTTPError, httpx.InvalidURL) as err:
            raise ApiCallError(
                f"Cannot reach {url} ({err}). Is the API running? `make api` starts it on {DEFAULT_URL}."
            ) from err
        try:
            return Answer(response.status_code, response.json())
        except ValueError:
            return Answer(response.status_code, None)

    def call(self, method: str, path: str, *, body: Any = None, timeout: float) -> Any:
        """Send one request and return its JSON answer; raises ApiCallError for an error answer or none."""
        answer = self.send(method, path, body=body, timeout=timeout)
        if 200 <= answer.status < 300 and answer.body is not None:
            return answer.body
        raise to_error(answer.status, answer.body, httpx.codes.get_reason_phrase(answer.status))

    def health(self) -> Health:
        """Return /v1/health: status, served model version and audit state; raises ApiCallError."""
        return _typed(Health, self.call("GET", "/v1/health", timeout=HEALTH_TIMEOUT), "/v1/health")

    def manifest(self) -> Manifest:
        """Return the served model's manifest from /v1/model; raises ApiCallError when it is absent or invalid."""
        answer = self.call("GET", "/v1/model", timeout=SCORE_TIMEOUT)
        if isinstance(answer, dict):  # the card adds the reason statements to the manifest's own fields
            answer.pop("reason_statements", None)
        try:
            return parse_manifest(json.dumps(answer), name="/v1/model")
        except ModelUnavailable as err:
            raise ApiCallError(f"The API's model card is not a manifest this UI reads: {err}") from err

    def predict(self, applicant: Mapping[str, Any]) -> Prediction:
        """Score one applicant (23 inputs) with POST /v1/predict; raises ApiCallError (422 with fields)."""
        answer = self.call("POST", "/v1/predict", body=dict(applicant), timeout=SCORE_TIMEOUT)
        return _typed(Prediction, answer, "/v1/predict")

    def recourse(self, applicant: Mapping[str, Any]) -> RecourseAnswer:
        """Ask POST /v1/recourse what would change one applicant's decision; raises ApiCallError."""
        answer = self.call("POST", "/v1/recourse", body=dict(applicant), timeout=SCORE_TIMEOUT)
        return _typed(RecourseAnswer, answer, "/v1/recourse")

    def predict_batch(self, applicants: Sequence[Mapping[str, Any]]) -> list[Prediction]:
        """Score 1 to MAX_BATCH applicants with POST /v1/predict/batch, in input order; raises ApiCallError."""
        if not 1 <= len(applicants) <= MAX_BATCH:
            raise ValueError(f"a batch holds 1 to {MAX_BATCH} applicants, not {len(applicants)}")
        body = {"applicants": [dict(applicant) for applicant in applicants]}
        answer = self.call("POST", "/v1/predict/batch", body=body, timeout=SCORE_TIMEOUT)
        predictions = _typed(BatchPredictions, answer, "/v1/predict/batch").predictions
        if len(predictions) != len(applicants):
            raise ApiCallError(
                f"The API answered {len(predictions)} predictions for {len(applicants)} applicants."
            )
        return predictions


def _typed(kind: type[Answered], answer: Any, path: str) -> Answered:
    try:
        return kind.model_validate(answer)
    except ValidationError as err:
        raise ApiCallError(
            f"{path} answered something this UI cannot read ({err.errors()[0]['msg']})."
        ) from err


def resolve_endpoint(stack_name: str, *, region: str | None) -> Endpoint:
    """Read ApiUrl and ApiKeyId from a stack's outputs and fetch the key's value; raises StackError."""
    import boto3  # here only: the page and the client load without boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        session = boto3.session.Session(region_name=region)
        stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
        outputs = {item["OutputKey"]: item["OutputValue"] for item in stacks[0].get("Outputs", [])}
        missing = sorted({"ApiUrl", "ApiKeyId"} - outputs.keys())
        if missing:
            raise StackError(
                f"stack {stack_name} has no output {', '.join(missing)}; was it deployed from template.yaml?"
            )
        key = session.client("apigateway").get_api_key(apiKey=outputs["ApiKeyId"], includeValue=True)
    except (BotoCoreError, ClientError) as err:
        raise StackError(str(err)) from err
    return Endpoint(url=outputs["ApiUrl"].rstrip("/"), api_key=key["value"])
