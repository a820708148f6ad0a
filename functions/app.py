"""FastAPI routes of the scoring API, its request guard and error handlers; `handler` is Lambda's entry."""

import os

# One thread per BLAS/OpenMP pool, set before numpy loads: single-row scoring gets p99 spikes otherwise.
for _pool in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_pool, "1")

import logging  # noqa: E402 (the thread pools must be pinned before numpy is imported)
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from functools import lru_cache  # noqa: E402
from typing import Annotated, Any, Final  # noqa: E402

from fastapi import Depends, FastAPI, Request  # noqa: E402
from fastapi.concurrency import run_in_threadpool  # noqa: E402
from fastapi.exceptions import RequestValidationError  # noqa: E402
from fastapi.middleware.cors import CORSMiddleware  # noqa: E402
from mangum import Mangum  # noqa: E402
from pydantic import BaseModel  # noqa: E402
from starlette.exceptions import HTTPException  # noqa: E402
from starlette.responses import Response  # noqa: E402
from starlette.types import ASGIApp, Message, Receive, Scope, Send  # noqa: E402

from functions import audit  # noqa: E402
from functions.config import get_settings  # noqa: E402
from functions.contract import (  # noqa: E402
    FEATURE_BY_NAME,
    MAX_BATCH,
    Applicant,
    BatchPredictions,
    BatchRequest,
    Health,
    Prediction,
)
from functions.errors import (  # noqa: E402
    MAX_FIELDS,
    STATUS_CODES,
    ApiError,
    ErrorResponse,
    FieldError,
    error_response,
    to_field_errors,
)
from functions.manifest import ModelUnavailable  # noqa: E402
from functions.scoring import Decision, ScoringModel, load_model, to_matrix  # noqa: E402
from functions.telemetry import bind_lambda_context, emit_metrics, logger  # noqa: E402

JSON_TYPE: Final = "application/json"
API_DESCRIPTION: Final = """
Scores credit-card clients (the 23 inputs of the UCI dataset) with a verified gradient-boosted model:
probability of default next month, decision at the model's threshold, score, risk grade and up to four
reasons a credit officer can quote.

**Bodies** are JSON: send `Content-Type: application/json`. A body without any Content-Type is read as JSON
too (API Gateway test events carry none); any other type gets 415. Bodies above 1 MiB get 413; a batch
holds 1 to 1,000 applicants. Inputs are strict: `true` or `"5"` is not a number, unknown fields are
refused, NaN and infinities are refused.

**Errors**: every 4xx and 5xx answer has the body `{"error": {"code", "message", "request_id", "fields"}}`;
`fields` lists each invalid input as `{"field", "index", "type", "message", "hint"}` and never repeats the
submitted value. A 5xx is never caused by the input: 503 means the model or the audit trail is unavailable
(no decision is made), 500 a fault of the service. Each answer carries an `X-Request-Id` header.
"""
BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})
logging.getLogger("mangum").setLevel(logging.WARNING)  # its INFO line carries the raw request path


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Document these error statuses of a route with the error schema."""
    return {status: {"model": ErrorResponse, "description": DESCRIPTIONS[status]} for status in statuses}


DESCRIPTIONS: Final = {
    400: "The body is not valid JSON.",
    413: "The body is larger than the limit (MAX_BODY_BYTES, 1 MiB by default).",
    415: "The body is not sent as application/json.",
    422: f"An input is missing, unknown, of the wrong type or out of range, or a batch is empty or holds more "
    f"than {MAX_BATCH} applicants; `fields` names each one.",
    500: "A fault of the service (never caused by the input); quote the request_id.",
    503: "The model is unavailable (missing or tampered artifact) or the decision could not be audited; "
    "no decision is returned. Retry later.",
}
SCORING_ERRORS: Final = errors(400, 413, 415, 422, 500, 503)
STATUS_ERRORS: Final = errors(500, 503)


@lru_cache(maxsize=1)
def load_serving_model() -> ScoringModel | ModelUnavailable:
    """Load and verify the model once per container; remember a refusal rather than retrying it."""
    started = time.perf_counter()
    try:
        model = load_model(get_settings().model_dir)
    except ModelUnavailable as err:
        logger.error("model unavailable, refusing to score", extra={"problem": str(err)})
        return err
    seconds = round(time.perf_counter() - started, 4)
    logger.info("model loaded and verified", extra={"model_version": model.version, "seconds": seconds})
    return model


async def serving_model() -> ScoringModel:
    """Return the verified model, or answer 503 naming the problem."""
    loaded = load_serving_model()
    if isinstance(loaded, ModelUnavailable):
        raise ApiError(503, "model_unavailable", f"The model is unavailable: {loaded}")
    return loaded


async def request_id(request: Request) -> str:
    """Return this request's id: API Gateway's request id under Lambda, else a fresh UUID."""
    return str(request.state.request_id)


ModelDep = Annotated[ScoringModel, Depends(serving_model)]
RequestId = Annotated[str, Depends(request_id)]

app = FastAPI(
    title="Credit default scoring API",
    version="1.0.0",
    summary="Probability of default next month for a credit-card client, with reasons and an audit trail.",
    description=API_DESCRIPTION,
    root_path=get_settings().root_path,
    strict_content_type=False,  # a body without Content-Type is read as JSON (see API_DESCRIPTION)
)


@app.get("/v1/health", response_model=Health, responses=STATUS_ERRORS)
async def health(model: ModelDep) -> Health:
    """Report liveness, the verified model's version and whether decisions are audited."""
    settings = get_settings()
    if settings.audit_enabled and not (settings.audit_key_secret_arn or settings.audit_hash_key):
        raise ApiError(503, "audit_unavailable", "AUDIT_TABLE is set but no HMAC key is configured.")
    return Health(
        status="ok", model_version=model.version, audit="enabled" if settings.audit_enabled else "disabled"
    )


@app.get("/v1/model", response_model=dict[str, Any], responses=STATUS_ERRORS)
async def model_card(model: ModelDep) -> Response:
    """Return the manifest: version, metrics, features, threshold, grade bands, data hash, libraries."""
    return Response(model.manifest.compact_json(), media_type=JSON_TYPE)


@app.post("/v1/predict", response_model=Prediction, responses=SCORING_ERRORS)
async def predict(applicant: Applicant, model: ModelDep, rid: RequestId, request: Request) -> Response:
    """Score one applicant: PD, decision, score, risk grade and the reasons that raise the PD."""
    decisions = model.assess(to_matrix([vars(applicant)]))
    await audit_decisions(decisions, [applicant], model=model, rid=rid, batch=False)
    observe(request, decisions)
    return json_response(
        Prediction.model_validate(to_prediction(decisions[0], model_version=model.version, rid=rid))
    )


@app.post("/v1/predict/batch", response_model=BatchPredictions, responses=SCORING_ERRORS)
async def predict_batch(body: BatchRequest, model: ModelDep, rid: RequestId, request: Request) -> Response:
    """Score up to 1,000 applicants in one call; predictions keep the input order."""
    matrix = to_matrix([vars(applicant) for applicant in body.applicants])
    # Under uvicorn a full batch (~0.1 s) goes to a worker thread so that it does not stall other requests.
    in_thread = get_settings().score_in_thread
    decisions = await run_in_threadpool(model.assess, matrix) if in_thread else model.assess(matrix)
    await audit_decisions(decisions, body.applicants, model=model, rid=rid, batch=True)
    observe(request, decisions)
    predictions = [to_prediction(d, model_version=model.version, rid=rid) for d in decisions]
    answer = {"predictions": predictions, "model_version": model.version, "request_id": rid}
    return json_response(BatchPredictions.model_validate(answer))


def to_prediction(decision: Decision, *, model_version: str, rid: str) -> dict[str, Any]:
    """Shape a scoring decision as the API's prediction (validated by the `Prediction` model)."""
    return {
        "probability_of_default": decision.probability_of_default,
        "predicted_default": decision.predicted_default,
        "threshold": decision.threshold,
        "score": decision.score,
        "risk_grade": decision.risk_grade,
        "reasons": [{"code": r.code, "text": r.text, "impact": r.impact} for r in decision.reasons],
        "model_version": model_version,
        "request_id": rid,
    }


def json_response(body: BaseModel) -> Response:
    """Serialise a validated response model (FastAPI would validate and serialise it a second time)."""
    return Response(body.model_dump_json(), media_type=JSON_TYPE)


async def audit_decisions(
    decisions: Sequence[Decision],
    applicants: Sequence[Applicant],
    *,
    model: ScoringModel,
    rid: str,
    batch: bool,
) -> None:
    """Record the decisions when auditing is on; answer 503 without a decision if that fails."""
    if not get_settings().audit_enabled:
        return
    canonical = [applicant.model_dump_json().encode() for applicant in applicants]
    try:
        await run_in_threadpool(
            audit.record, decisions, canonical, request_id=rid, model_version=model.version, batch=batch
        )
    except audit.AuditUnavailableError as err:
        logger.error(
            "audit write failed, no decision returned", extra={"request_id": rid, "problem": str(err)}
        )
        raise ApiError(
            503,
            "audit_unavailable",
            "The decision could not be recorded in the audit trail, so none is returned. Retry later.",
        ) from err


def observe(request: Request, decisions: Sequence[Decision]) -> None:
    """Hand the decisions' PDs to the request's metrics line."""
    request.state.pds = [d.probability_of_default for d in decisions]
    request.state.predicted_defaults = sum(d.predicted_default for d in decisions)


@app.exception_handler(ApiError)
async def on_api_error(request: Request, exc: ApiError) -> Response:
    """Render an ApiError in the error schema."""
    request.state.error_code = exc.code
    return error_response(
        exc.status, exc.code, exc.message, request_id=request.state.request_id, fields=exc.fields
    )


@app.exception_handler(RequestValidationError)
async def on_validation_error(request: Request, exc: RequestValidationError) -> Response:
    """Answer malformed JSON with 400 and invalid inputs with 422, naming each field, echoing nothing."""
    problems = exc.errors()
    broken = next((p for p in problems if p.get("type") == "json_invalid"), None)
    if broken is not None:
        where = broken["loc"][-1] if len(broken["loc"]) > 1 else "?"
        reason = broken.get("ctx", {}).get("error", "invalid JSON")
        message = f"The body is not valid JSON ({reason} at character {where}); send one JSON object."
        request.state.error_code = "malformed_json"
        return error_response(400, "malformed_json", message, request_id=request.state.request_id)
    fields = to_field_errors(problems[:MAX_FIELDS], max_batch=MAX_BATCH)
    request.state.error_code = "validation_error"
    request.state.invalid_fields = [f.field if _known(f) else "<unknown field>" for f in fields]
    count = f"{len(problems)} invalid input{'s' if len(problems) > 1 else ''}"
    listed = "each is listed" if len(problems) <= MAX_FIELDS else f"the first {MAX_FIELDS} are listed"
    message = f"{count}; {listed} in `fields` with what it accepts."
    return error_response(
        422, "validation_error", message, request_id=request.state.request_id, fields=fields
    )


def _known(field: FieldError) -> bool:
    """Whether a field path names only contract fields (an unknown key may carry personal data)."""
    name = field.field.rsplit(".", 1)[-1].split("[", 1)[0]
    return name in FEATURE_BY_NAME or name in ("body", "applicants")


@app.exception_handler(HTTPException)
async def on_http_error(request: Request, exc: HTTPException) -> Response:
    """Render routing and parsing errors (404, 405, 400) in the error schema."""
    code = STATUS_CODES.get(exc.status_code, "http_error")
    messages = {
        "not_found": "No such route; the API is described at /docs.",
        "method_not_allowed": f"Method not allowed here; allowed: {(exc.headers or {}).get('Allow', '?')}.",
        "malformed_json": "The body could not be parsed as JSON; send one JSON object.",
    }
    request.state.error_code = code
    message = messages.get(code, str(exc.detail))
    return error_response(
        exc.status_code, code, message, request_id=request.state.request_id, headers=exc.headers
    )


class RequestGuard:
    """Wrap each request: id, stage prefix, body cap, content type, log and metrics lines, 500 on a fault."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        event = scope.get("aws.event")
        if event is not None:
            apply_stage_prefix(scope, event)
            if scope.get("aws.context") is not None:
                bind_lambda_context(scope["aws.context"])
        rid = str((event or {}).get("requestContext", {}).get("requestId") or uuid.uuid4())
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        status = 500
        started_response = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status, started_response = message["status"], True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        limit = get_settings().max_body_bytes
        try:
            refusal = refuse(scope, limit=limit)
            body = b"" if refusal else await read_body(receive, limit=limit)
            if body is None:
                refusal = error_response(
                    413, "payload_too_large", f"The body exceeds the limit of {limit} bytes.", request_id=rid
                )
            if refusal is not None:
                state["error_code"] = (
                    "payload_too_large" if refusal.status_code == 413 else "unsupported_media_type"
                )
                await refusal(scope, receive, send_with_id)
            else:
                await self.app(scope, replay(body or b"", receive), send_with_id)
        except Exception:
            logger.exception("unhandled error", extra={"request_id": rid})
            state["error_code"] = "internal_error"
            if not started_response:
                failure = error_response(
                    500, "internal_error", "Internal error; quote the request_id.", request_id=rid
                )
                await failure(scope, receive, send_with_id)
        finally:
            log_request(scope, status=status, latency_ms=(time.perf_counter() - started) * 1000)


def refuse(scope: Scope, *, limit: int) -> Response | None:
    """Return a 415 for a body that is not JSON or a 413 for a declared length above `limit`, else None."""
    rid = scope["state"]["request_id"]
    headers = {key.lower(): value for key, value in scope["headers"]}
    if scope["method"] in BODY_METHODS and b"content-type" in headers:
        media_type = headers[b"content-type"].split(b";", 1)[0].strip().lower()
        if media_type != JSON_TYPE.encode():
            return error_response(
                415,
                "unsupported_media_type",
                "Send the body as JSON with Content-Type: application/json.",
                request_id=rid,
            )
    length = headers.get(b"content-length", b"0")
    if length.isdigit() and int(length) > limit:
        return error_response(
            413, "payload_too_large", f"The body exceeds the limit of {limit} bytes.", request_id=rid
        )
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


@lru_cache(maxsize=1)
def route_paths() -> frozenset[str]:
    """Return the paths the app serves (for requests refused before routing)."""
    return frozenset(str(getattr(route, "path", "")) for route in app.routes)


def route_of(path: str, *, root: str = "") -> str:
    """Name a path for logs and metrics: the route it addresses, or `unmatched` (never the raw path)."""
    path = path[len(root) :] if root and path.startswith(root) else path
    return path if path in route_paths() else "unmatched"


def log_request(scope: Scope, *, status: int, latency_ms: float) -> None:
    """Write the access log line and the metrics line: route template, status, timing, counts, no values."""
    state = scope["state"]
    route = getattr(scope.get("route"), "path", None) or route_of(
        scope["path"], root=scope.get("root_path", "")
    )
    pds: list[float] = state.get("pds", [])
    fields: dict[str, Any] = {
        "request_id": state["request_id"],
        "method": scope["method"],
        "route": route,
        "status": status,
        "latency_ms": round(latency_ms, 3),
        "decisions": len(pds),
    }
    if "error_code" in state:
        fields["error_code"] = state["error_code"]
    if "invalid_fields" in state:
        fields["invalid_fields"] = state["invalid_fields"][:50]
    logger.info("request", extra=fields)
    emit_metrics(
        route=route,
        status=status,
        latency_ms=latency_ms,
        pds=pds,
        predicted_defaults=state.get("predicted_defaults", 0),
    )


# Added last, so CORS wraps the guard and its 413/415 answers carry CORS headers too.
app.add_middleware(RequestGuard)
if get_settings().cors_origins:
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(get_settings().cors_origins),
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Content-Type", "X-Api-Key"],
        expose_headers=["X-Request-Id"],
        max_age=600,
    )

handler = Mangum(app, lifespan="off", api_gateway_base_path=get_settings().api_base_path)
