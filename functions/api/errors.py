"""The one error schema of every 4xx and 5xx answer, its handlers, and the translation of validation errors.

No error ever carries the submitted values, a traceback or an exception's text from inside the app.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.responses import Response

from functions.api.gateway.request_state import record_of
from functions.scoring.contract import FEATURE_BY_NAME, MAX_BATCH, FeatureSpec

ErrorCode = Literal[
    "malformed_json",
    "malformed_body",
    "duplicate_key",
    "missing_api_key",
    "invalid_api_key",
    "not_found",
    "method_not_allowed",
    "payload_too_large",
    "unsupported_media_type",
    "validation_error",
    "http_error",
    "internal_error",
    "model_unavailable",
    "audit_unavailable",
    "strategy_unavailable",
    "outcome_conflict",
    "unknown_decision",
    "final_exists",
]
MAX_NAME: Final = 64  # characters of an unknown key repeated in an error
MAX_FIELDS: Final = 100  # field errors listed in one answer; the message gives the total
STATUS_CODES: Final[dict[int, ErrorCode]] = {
    400: "malformed_json",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    500: "internal_error",
}


class FieldError(BaseModel):
    """One invalid input: where it is, what is wrong, and what would be accepted."""

    field: str = Field(
        description="Path of the input in the body, e.g. `pay_0` or `applicants[3].pay_0`; `body` for the "
        "whole body.",
        examples=["applicants[3].pay_0"],
    )
    index: int | None = Field(
        default=None,
        description="Position of the applicant in a batch (0-based); null for a single applicant.",
    )
    type: str = Field(
        description="Machine-readable kind of error, e.g. `less_than_equal`, `missing`, `int_type`."
    )
    message: str = Field(description="What is wrong, without repeating the submitted value.")
    hint: str | None = Field(default=None, description="What the field accepts, from the feature contract.")


class ErrorDetail(BaseModel):
    """What went wrong with a request."""

    code: ErrorCode = Field(description="Stable machine-readable error code.")
    message: str = Field(description="Human-readable summary and what to do about it.")
    request_id: str = Field(description="Quote this id when reporting a problem; it is in the server logs.")
    fields: list[FieldError] = Field(
        default_factory=list, description="Every invalid input (validation errors only)."
    )


class ErrorResponse(BaseModel):
    """The body of every 4xx and 5xx answer."""

    error: ErrorDetail


class ApiError(Exception):
    """An answer other than success, raised only in app.py and rendered as an `ErrorResponse`."""

    def __init__(
        self, status: int, code: ErrorCode, message: str, *, fields: Sequence[FieldError] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = list(fields)


def error_response(
    status: int,
    code: ErrorCode,
    message: str,
    *,
    request_id: str,
    fields: Sequence[FieldError] = (),
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Render the error schema as a JSON response."""
    body = ErrorResponse(
        error=ErrorDetail(code=code, message=message, request_id=request_id, fields=list(fields))
    )
    return Response(
        body.model_dump_json(), status_code=status, headers=headers, media_type="application/json"
    )


def field_path(loc: Sequence[int | str]) -> tuple[str, int | None]:
    """Turn a validation error location into `applicants[3].pay_0` and the applicant's batch index."""
    parts = list(loc[1:] if loc and loc[0] == "body" else loc)
    index = parts[1] if len(parts) > 1 and parts[0] == "applicants" and isinstance(parts[1], int) else None
    path = ""
    for part in parts:
        name = str(part) if len(str(part)) <= MAX_NAME else f"{str(part)[:MAX_NAME]}..."  # an unknown key
        path += f"[{part}]" if isinstance(part, int) else f".{name}" if path else name
    return path or "body", index


def hint(spec: FeatureSpec) -> str:
    """Say in words what a contract field accepts."""
    if spec.codes:
        accepted = f"an integer code from {spec.minimum:.0f} to {spec.maximum:.0f}"
    elif spec.kind == "amount":
        low = "above 0" if spec.exclusive_minimum else f"from {spec.minimum:,.0f}"
        accepted = f"a number ({spec.unit}) {low} to {spec.maximum:,.0f}"
    else:
        accepted = f"a whole number from {spec.minimum:.0f} to {spec.maximum:.0f}"
    return accepted if spec.required else f"{accepted}, or omit it"


def to_field_errors(errors: Iterable[Mapping[str, Any]], *, max_batch: int) -> list[FieldError]:
    """Describe pydantic's errors in the error schema, dropping the `input` pydantic would echo."""
    described = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        path, index = field_path(loc)
        name = str(loc[-1]) if loc else ""
        kind = str(error.get("type", "invalid"))
        note: str | None = None
        if kind == "extra_forbidden":
            note = "remove it: only the contract's fields are accepted (see the Applicant schema in /docs)"
        elif kind == "too_long" and path == "applicants":
            note = f"send at most {max_batch} applicants per request"
        elif name in FEATURE_BY_NAME:
            note = hint(FEATURE_BY_NAME[name])
        described.append(
            FieldError(
                field=path, index=index, type=kind, message=str(error.get("msg", "invalid")), hint=note
            )
        )
    return described


def repeated_key_errors(locations: Iterable[Sequence[int | str]]) -> list[FieldError]:
    """Describe keys sent more than once in one JSON object (`("applicants", 3, "pay_0")`), with hints."""
    described = []
    for loc in locations:
        path, index = field_path(loc)
        name = str(loc[-1]) if loc else ""
        spec = FEATURE_BY_NAME.get(name)
        described.append(
            FieldError(
                field=path,
                index=index,
                type="duplicate_key",
                message="This key appears more than once in the same object; send it once.",
                hint=hint(spec) if spec is not None else None,
            )
        )
    return described


DESCRIPTIONS: Final = {
    400: "The body is not valid JSON (`malformed_json`), or repeats a key within one object "
    "(`duplicate_key`, e.g. `pay_0` twice; `fields` names each repeated key with its path, such as "
    "`applicants[3].pay_0`), or could not be decoded (`malformed_body`: not base64 although the event says so, "
    "not UTF-8 text).",
    401: "No API key was sent (`missing_api_key`): send it in the `x-api-key` header.",
    403: "The API key sent in `x-api-key` is not this deployment's (`invalid_api_key`).",
    413: "The body is larger than the limit (MAX_BODY_BYTES, 1 MiB by default).",
    415: "The body is not sent as application/json.",
    422: f"An input is missing, unknown, of the wrong type or out of range, or a batch is empty or holds more "
    f"than {MAX_BATCH} applicants; `fields` names each one.",
    500: "A fault of the service (never caused by the input); quote the request_id.",
    503: "The model is unavailable (missing or tampered artifact), the credit strategy is missing or invalid "
    "(`strategy_unavailable`), or the decision could not be audited; no decision is returned. Retry later.",
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Document these error statuses of a route with the error schema (OpenAPI `responses`)."""
    return {status: {"model": ErrorResponse, "description": DESCRIPTIONS[status]} for status in statuses}


async def on_api_error(request: Request, exc: ApiError) -> Response:
    """Render an ApiError in the error schema."""
    record = record_of(request)
    record.error_code = exc.code
    return error_response(exc.status, exc.code, exc.message, request_id=record.request_id, fields=exc.fields)


async def on_validation_error(request: Request, exc: RequestValidationError) -> Response:
    """Answer malformed JSON with 400 and invalid inputs with 422, naming each field, echoing nothing."""
    record = record_of(request)
    problems = exc.errors()
    broken = next((p for p in problems if p.get("type") == "json_invalid"), None)
    if broken is not None:
        where = broken["loc"][-1] if len(broken["loc"]) > 1 else "?"
        reason = broken.get("ctx", {}).get("error", "invalid JSON")
        message = f"The body is not valid JSON ({reason} at character {where}); send one JSON object."
        record.error_code = "malformed_json"
        return error_response(400, "malformed_json", message, request_id=record.request_id)
    fields = to_field_errors(problems[:MAX_FIELDS], max_batch=MAX_BATCH)
    record.error_code = "validation_error"
    record.invalid_fields = [f.field if _known(f) else "<unknown field>" for f in fields]
    count = f"{len(problems)} invalid input{'s' if len(problems) > 1 else ''}"
    listed = "each is listed" if len(problems) <= MAX_FIELDS else f"the first {MAX_FIELDS} are listed"
    message = f"{count}; {listed} in `fields` with what it accepts."
    return error_response(422, "validation_error", message, request_id=record.request_id, fields=fields)


def _known(field: FieldError) -> bool:
    """Whether a field path names only contract fields (an unknown key may carry personal data)."""
    name = field.field.rsplit(".", 1)[-1].split("[", 1)[0]
    return name in FEATURE_BY_NAME or name in ("body", "applicants")


async def on_http_error(request: Request, exc: HTTPException) -> Response:
    """Render routing and parsing errors (404, 405, 400) in the error schema."""
    record = record_of(request)
    code = STATUS_CODES.get(exc.status_code, "http_error")
    messages = {
        "not_found": "No such route; the API is described at /docs.",
        "method_not_allowed": f"Method not allowed here; allowed: {(exc.headers or {}).get('Allow', '?')}.",
        "malformed_json": "The body could not be parsed as JSON; send one JSON object.",
    }
    record.error_code = code
    message = messages.get(code, str(exc.detail))
    return error_response(exc.status_code, code, message, request_id=record.request_id, headers=exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    """Render every ApiError, validation error and HTTP error of `app` in the error schema."""
    # The decorator form accepts handlers typed for their own exception class.
    app.exception_handler(ApiError)(on_api_error)
    app.exception_handler(RequestValidationError)(on_validation_error)
    app.exception_handler(HTTPException)(on_http_error)
