"""What reaches Lambda's `handler` before Mangum sees it: repair what Mangum cannot parse, answer the rest.

Mangum 0.22 raises, before the app runs, on headers real gateways and browsers send (a comma-separated
`X-Forwarded-Port`, Kludex/mangum#303; a Host with an empty port or an IPv6 literal; HTTP API v2
`"headers": null`) and on any event that is not an HTTP request (a warm-up ping, a schedule, `{}`). On AWS
that is a Lambda error and a bare 502. It also raises on a body it cannot decode (`isBase64Encoded` on a body
that is not base64, a lone surrogate, a body that is not text): that is the caller's fault, answered 400, and
a base64 body that would decode past the size limit is answered 413 before it is decoded. `answer` gives every
HTTP event an HTTP answer (a 500 in the error schema at worst) and every other event a small JSON answer, one
log line and a metric.
"""

import base64
import binascii
import copy
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal

from functions.api.errors import ErrorCode, ErrorDetail, ErrorResponse
from functions.config import MIB
from functions.telemetry import emit_event_metric, logger

EventKind = Literal["http", "warmup", "scheduled", "unknown"]
HOST_PORT: Final = re.compile(r"^(?P<name>[^:\[\]]+)(?::(?P<port>\d*))?$")
MAX_PORT: Final = 65535
IGNORED: Final = "Not an API Gateway HTTP request; nothing was scored."
INTERNAL: Final = "Internal error; quote the request_id."


def kind_of(event: object) -> EventKind:
    """Classify an invocation: an API Gateway HTTP request (REST v1 or HTTP v2), a warm-up, a schedule, other."""
    if not isinstance(event, Mapping):
        return "unknown"
    context = event.get("requestContext")
    if isinstance(context, Mapping) and (
        isinstance(event.get("httpMethod"), str) or isinstance(context.get("http"), Mapping)
    ):
        return "http"
    if event.get("source") == "serverless-plugin-warmup" or event.get("warmer") is True:
        return "warmup"
    if event.get("detail-type") == "Scheduled Event" or event.get("source") == "aws.events":
        return "scheduled"
    return "unknown"


def first_port(value: str) -> str | None:
    """Return the first valid port of a (comma-separated) `X-Forwarded-Port` value, or None."""
    for part in value.split(","):
        port = part.strip()
        if port.isdigit() and 0 < int(port) <= MAX_PORT:
            return str(int(port))
    return None


def plain_host(value: str) -> str | None:
    """Return a Host value Mangum can split (`name` or `name:port`), or None for one it cannot (IPv6)."""
    first = value.split(",", 1)[0].strip()
    matched = HOST_PORT.match(first)
    if matched is None:
        return None
    port = matched["port"]
    return f"{matched['name']}:{port}" if port and 0 < int(port) <= MAX_PORT else matched["name"]


def repair_value(name: str, value: str) -> str | None:
    """Return the repaired value of one header (None: drop it); other headers pass unchanged."""
    lowered = name.lower()
    if lowered == "x-forwarded-port":
        return first_port(value)
    if lowered == "host":
        return plain_host(value)
    return value


def repair_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    """Repair the single-valued headers (`headers`) of an event."""
    repaired: dict[str, Any] = {}
    for name, value in headers.items():
        fixed = repair_value(name, value) if isinstance(value, str) else None  # Mangum encodes each value
        if fixed is not None:
            repaired[name] = fixed
    return repaired


def repair_multi_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    """Repair REST v1 `multiValueHeaders`: Host and X-Forwarded-Port keep their first usable value."""
    repaired: dict[str, Any] = {}
    for name, values in headers.items():
        texts = [value for value in values if isinstance(value, str)] if isinstance(values, list) else []
        usable = [fixed for fixed in (repair_value(name, text) for text in texts) if fixed is not None]
        if usable:
            repaired[name] = usable[:1] if name.lower() in ("host", "x-forwarded-port") else usable
    return repaired


def normalise(event: Mapping[str, Any]) -> dict[str, Any]:
    """Copy an HTTP event with what Mangum cannot parse repaired: null headers, ports, hosts, query."""
    repaired = copy.copy(dict(event))
    repaired["headers"] = repair_headers(event.get("headers") or {})
    if event.get("multiValueHeaders"):
        repaired["multiValueHeaders"] = repair_multi_headers(event["multiValueHeaders"])
    if "rawQueryString" in event and not isinstance(event["rawQueryString"], str):
        repaired["rawQueryString"] = ""
    return repaired


def ignore(kind: EventKind) -> dict[str, Any]:
    """Answer an invocation that is not an HTTP request: log it once, count it, score nothing."""
    logger.info("non-HTTP event ignored", extra={"event_kind": kind})
    emit_event_metric(kind)
    return {"status": "ignored", "event": kind, "message": IGNORED}


def body_problem(event: Mapping[str, Any], *, max_body_bytes: int) -> tuple[int, ErrorCode, str] | None:
    """Return (status, code, message) for a body Mangum cannot decode or that decodes past the limit, else None."""
    body = event.get("body")
    if body is None:
        return None
    if not isinstance(body, str):
        return 400, "malformed_body", "The event's body is not text; send the JSON body as a string."
    if event.get("isBase64Encoded"):
        if (len(body) // 4) * 3 > max_body_bytes + 2:  # what it decodes to, at least: no need to decode it
            return 413, "payload_too_large", f"The body exceeds the limit of {max_body_bytes} bytes."
        try:
            base64.b64decode(body, validate=True)  # API Gateway's base64 is strict: no other characters
        except (binascii.Error, ValueError):
            message = (
                "isBase64Encoded is true but the body is not base64; encode the body or set the flag false."
            )
            return 400, "malformed_body", message
        return None
    try:
        body.encode("utf-8")
    except UnicodeEncodeError:
        return (
            400,
            "malformed_body",
            "The body is not valid UTF-8 text (it holds a lone surrogate); send UTF-8 JSON.",
        )
    return None


def failure(event: Mapping[str, Any]) -> dict[str, Any]:
    """Render a 500 in the error schema as an API Gateway answer, with the gateway's request id."""
    return error_answer(event, 500, "internal_error", INTERNAL)


def error_answer(event: Mapping[str, Any], status: int, code: ErrorCode, message: str) -> dict[str, Any]:
    """Render an error in the error schema as an API Gateway answer, with the gateway's request id."""
    context = event.get("requestContext")
    rid = str((context.get("requestId") if isinstance(context, Mapping) else None) or "unknown")
    body = ErrorResponse(error=ErrorDetail(code=code, message=message, request_id=rid))
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", "x-request-id": rid},
        "multiValueHeaders": {},
        "body": body.model_dump_json(),
        "isBase64Encoded": False,
    }


def answer(
    event: Any,
    context: Any,
    *,
    adapter: Callable[[], Callable[..., dict[str, Any]]],
    warm: Callable[[], object] = lambda: None,
    max_body_bytes: int = MIB,
) -> dict[str, Any]:
    """Answer one Lambda invocation through the adapter `adapter()` builds; a warm-up calls `warm`; never raise."""
    kind = kind_of(event)
    if kind == "warmup":
        try:
            warm()  # what the ping is for: the model loaded before the first real request
        except Exception:
            logger.exception("warm-up failed")
    if kind != "http":
        return ignore(kind)
    try:
        problem = body_problem(event, max_body_bytes=max_body_bytes)
        if problem is not None:
            logger.info("undecodable body refused", extra={"status": problem[0], "error_code": problem[1]})
            return error_answer(event, *problem)
        return adapter()(normalise(event), context)
    except Exception:
        shape = json.dumps(sorted(str(key) for key in event)[:20])
        logger.exception("event could not be served", extra={"event_keys": shape})
        return failure(event)
