"""What a request must be before a route sees it, and the access log and metrics line it leaves behind.

The guard is the outermost layer of the app (inside CORS): it gives each request an id and a typed
record, restores the stage prefix API Gateway strips, refuses bodies that are too large or not JSON,
answers 500 in the error schema on a fault, and logs one line and one metrics record per request.
`screen` parses a JSON body once, refusing repeated keys at any depth (400 `duplicate_key`), and hands the
parsed body to the routes (`ScreenedRoute`), so it is not parsed twice. A trailing slash is dropped
(`/v1/health/` is served as `/v1/health`); the app never redirects. Repairs of the Lambda event itself
(headers Mangum cannot parse, non-HTTP events) belong in `functions.api.gateway.envelope`, in front of Mangum.
"""

import time
import uuid
from typing import Any, Final

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from functions.api.errors import error_response, repeated_key_errors
from functions.api.gateway.jsonbody import PARSED_KEY, parse_json
from functions.api.gateway.request_state import RequestRecord, start_record
from functions.config import get_settings
from functions.telemetry import bind_lambda_context, emit_metrics, logger

JSON_TYPE: Final = "application/json"
BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})
MAX_LOGGED_FIELDS: Final = 50  # invalid field names in one access log line


def install_guard(app: FastAPI, *, cors_origins: tuple[str, ...]) -> None:
    """Wrap `app` in the request guard, and that in CORS for these origins (none: no CORS layer)."""
    app.add_middleware(RequestGuard)
    if cors_origins:  # added last, so CORS wraps the guard and its 413/415 answers carry CORS headers too
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Content-Type", "X-Api-Key"],
            expose_headers=["X-Request-Id"],
            max_age=600,
        )


class RequestGuard:
    """Wrap each request: id, stage prefix, body cap, content type, log and metrics lines, 500 on a fault."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Screen one HTTP request, pass it on or answer it, and log it; pass other scopes through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        event = scope.get("aws.event")
        if event is not None:
            apply_stage_prefix(scope, event)
            if scope.get("aws.context") is not None:
                bind_lambda_context(scope["aws.context"])
        drop_trailing_slash(scope)
        rid = str((event or {}).get("requestContext", {}).get("requestId") or uuid.uuid4())
        record = start_record(scope, rid)
        status = 500
        started_response = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status, started_response = message["status"], True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            refusal, body = await screen(scope, receive, record=record)
            if refusal is not None:
                await refusal(scope, receive, send_with_id)
            else:
                await self.app(scope, replay(body, receive), send_with_id)
        except Exception:
            logger.exception("unhandled error", extra={"request_id": rid})
            record.error_code = "internal_error"
            if not started_response:
                failure = error_response(
                    500, "internal_error", "Internal error; quote the request_id.", request_id=rid
                )
                await failure(scope, receive, send_with_id)
        finally:
            log_request(scope, record, status=status, latency_ms=(time.perf_counter() - started) * 1000)


async def screen(scope: Scope, receive: Receive, *, record: RequestRecord) -> tuple[Response | None, bytes]:
    """Read and parse the body within the size limit; return a refusal (its code noted in `record`) or the body."""
    limit = get_settings().max_body_bytes
    refusal = refuse(scope, limit=limit, request_id=record.request_id)
    body = b"" if refusal else await read_body(receive, limit=limit)
    if body is None:
        refusal = too_large(limit, request_id=record.request_id)
    if refusal is not None:
        record.error_code = "payload_too_large" if refusal.status_code == 413 else "unsupported_media_type"
        return refusal, b""
    if body and scope["method"] in BODY_METHODS:
        return refuse_repeated_keys(scope, body, record=record), body
    return None, body or b""


def refuse_repeated_keys(scope: Scope, body: bytes, *, record: RequestRecord) -> Response | None:
    """Parse a JSON body once for the routes; answer 400 naming each key repeated within one object."""
    try:
        parsed, repeated = parse_json(body)
    except (ValueError, RecursionError):
        return None  # not JSON: FastAPI answers it as before (400 malformed_json or 422)
    if not repeated:
        scope["state"][PARSED_KEY] = parsed
        return None
    fields = repeated_key_errors(repeated)
    record.error_code = "duplicate_key"
    record.invalid_fields = [field.field for field in fields if field.hint is not None]
    more = f" (and {len(fields) - 1} more, listed in `fields`)" if len(fields) > 1 else ""
    message = (
        f"The key `{fields[0].field}` appears more than once in the same object{more}; "
        "send each key once (a repeated key would otherwise silently replace the first value)."
    )
    return error_response(400, "duplicate_key", message, request_id=record.request_id, fields=fields)


def too_large(limit: int, *, request_id: str) -> Response:
    """Answer 413 naming the limit in bytes."""
    message = f"The body exceeds the limit of {limit} bytes."
    return error_response(413, "payload_too_large", message, request_id=request_id)


def refuse(scope: Scope, *, limit: int, request_id: str) -> Response | None:
    """Return a 415 for a body that is not JSON or a 413 for a declared length above `limit`, else None."""
    headers = {key.lower(): value for key, value in scope["headers"]}
    if scope["method"] in BODY_METHODS and b"content-type" in headers:
        media_type = headers[b"content-type"].split(b";", 1)[0].strip().lower()
        if media_type != JSON_TYPE.encode():
            return error_response(
                415,
                "unsupported_media_type",
                "Send the body as JSON with Content-Type: application/json.",
                request_id=request_id,
            )
    length = headers.get(b"content-length", b"0")
    if length.isdigit() and int(length) > limit:
        return too_large(limit, request_id=request_id)
    return None


async def read_body(receive: Receive, *, limit: int) -> bytes | None:
    """Read the whole request body, or return None as soon as it exceeds `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """Hand the already read body to the app once, then pass later messages (disconnect) through."""
    pending = True

    async def receive_again() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receive_again


def apply_stage_prefix(scope: Scope, event: dict[str, Any]) -> None:
    """Set `root_path` to the prefix the client saw (a stage like /Prod, a custom domain's base path)."""
    context = event.get("requestContext") or {}
    path = scope["path"]
    prefix = ""
    if event.get("version") == "2.0":
        stage = context.get("stage") or "$default"
        if stage != "$default" and (path == f"/{stage}" or path.startswith(f"/{stage}/")):
            prefix, path = f"/{stage}", path[len(stage) + 1 :] or "/"
    else:
        seen = context.get("path") or ""
        if seen != path and seen.endswith(path) and path.startswith("/"):
            prefix = seen[: -len(path)].rstrip("/")
    if prefix:
        scope["root_path"] = prefix
        scope["path"] = prefix + path


def drop_trailing_slash(scope: Scope) -> None:
    """Serve `/v1/health/` as `/v1/health` (a redirect would be built from the Host and lose the stage)."""
    path, root = scope["path"], scope.get("root_path", "")
    own = path[len(root) :] if root and path.startswith(root) else path
    if len(own) > 1 and own.endswith("/") and own.rstrip("/"):
        scope["path"] = path[: len(path) - len(own)] + own.rstrip("/")
        if isinstance(scope.get("raw_path"), bytes):
            scope["raw_path"] = scope["raw_path"].rstrip(b"/") or b"/"


def route_of(scope: Scope) -> str:
    """Name a request's path for logs and metrics: its route template, or `unmatched` (never the raw path)."""
    matched = getattr(scope.get("route"), "path", None)
    if matched:
        return str(matched)
    path, root = scope["path"], scope.get("root_path", "")
    path = path[len(root) :] if root and path.startswith(root) else path
    served = {str(getattr(route, "path", "")) for route in getattr(scope.get("app"), "routes", ())}
    mounted = next((prefix for prefix in served if prefix and path.startswith(f"{prefix}/")), None)
    return path if path in served else mounted or "unmatched"  # a mount (docs assets) by its prefix


def log_request(scope: Scope, record: RequestRecord, *, status: int, latency_ms: float) -> None:
    """Write the access log line and the metrics line: route template, status, timing, counts, no values."""
    route = route_of(scope)
    fields: dict[str, Any] = {
        "request_id": record.request_id,
        "method": scope["method"],
        "route": route,
        "status": status,
        "latency_ms": round(latency_ms, 3),
        "decisions": len(record.probabilities),
    }
    if record.error_code is not None:
        fields["error_code"] = record.error_code
    if record.invalid_fields is not None:
        fields["invalid_fields"] = record.invalid_fields[:MAX_LOGGED_FIELDS]
    if record.synthetic_ignored:
        fields["synthetic_mark_ignored"] = True
    logger.info("request", extra=fields)
    emit_metrics(
        route=route,
        status=status,
        latency_ms=latency_ms,
        probabilities=record.probabilities,
        predicted_defaults=record.predicted_defaults,
        synthetic=record.synthetic,
        synthetic_ignored=record.synthetic_ignored,
    )
