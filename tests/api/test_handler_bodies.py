"""Bodies Mangum cannot decode are the caller's fault: through `handler` with the saved REST and HTTP API events,
each answers 4xx in the error schema with the gateway's request id (never a 500, never a raise)."""

import base64
import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from functions.api.app import handler
from functions.api.errors import ErrorResponse
from functions.api.gateway.envelope import body_problem
from functions.config import MIB
from training.synthetic import TYPICAL

EVENTS = ["rest-predict", "http-predict", "rest-predict-batch", "http-predict-no-content-type"]
APPLICANT = json.dumps(TYPICAL)
CASES: dict[str, tuple[Any, bool, int, str]] = {
    # body, isBase64Encoded, status, code
    "base64-flag-on-plain-json": (APPLICANT, True, 400, "malformed_body"),
    "base64-flag-on-plain-text": ("{not base64!!", True, 400, "malformed_body"),
    "lone-surrogate": ('{"limit_bal": "\ud800"}', False, 400, "malformed_body"),
    "body-is-a-number": (12, False, 400, "malformed_body"),
    "body-is-an-object": ({"limit_bal": 1}, False, 400, "malformed_body"),
    "invalid-utf8-after-decoding": (
        base64.b64encode(b'{"limit_bal": "\xff\xfe"}').decode(),
        True,
        400,
        "malformed_json",
    ),
    "decodes-past-the-limit": (base64.b64encode(b" " * (MIB + 10)).decode(), True, 413, "payload_too_large"),
}


def request_id_of(event: dict[str, Any]) -> str:
    """Return the gateway's request id of an event."""
    return str(event["requestContext"]["requestId"])


@pytest.mark.parametrize("name", EVENTS)
@pytest.mark.parametrize("case", list(CASES))
def test_undecodable_body_answers_4xx_in_the_error_schema(
    load_event: Callable[[str], dict[str, Any]], name: str, case: str
) -> None:
    body, encoded, status, code = CASES[case]
    event = copy.deepcopy(load_event(name))
    event["body"], event["isBase64Encoded"] = body, encoded
    response = handler(event, None)  # never raises
    assert response["statusCode"] == status, response["body"][:300]
    error = ErrorResponse.model_validate_json(response["body"]).error
    assert error.code == code
    assert error.request_id == request_id_of(event)
    assert "Traceback" not in response["body"]


def test_problem_names_what_was_wrong_and_what_to_do() -> None:
    problem = body_problem({"body": APPLICANT, "isBase64Encoded": True}, max_body_bytes=MIB)
    assert problem is not None
    assert "isBase64Encoded" in problem[2] and "set the flag false" in problem[2]


@pytest.mark.parametrize(
    "event",
    [
        {"body": base64.b64encode(APPLICANT.encode()).decode(), "isBase64Encoded": True},
        {"body": APPLICANT, "isBase64Encoded": False},
        {"body": "", "isBase64Encoded": True},
        {"body": None},
        {},
    ],
)
def test_decodable_bodies_pass(event: dict[str, Any]) -> None:
    assert body_problem(event, max_body_bytes=MIB) is None


def test_a_body_at_the_limit_is_left_to_the_guard() -> None:
    at_limit = {"body": base64.b64encode(b" " * MIB).decode(), "isBase64Encoded": True}
    assert body_problem(at_limit, max_body_bytes=MIB) is None
