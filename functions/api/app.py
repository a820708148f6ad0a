"""FastAPI routes of the scoring API and Lambda's `handler`; nothing is read or built at import.

`get_app()` builds the app once per process from the settings (uvicorn: `functions.api.app:get_app --factory`),
`load_serving_model()` loads the model once per container, `handler` passes events to one Mangum adapter
through `functions.api.envelope`, which repairs what Mangum cannot parse and answers non-HTTP invocations.
"""

import hmac
import logging
import time
from collections.abc import Sequence
from functools import lru_cache
from typing import Annotated, Any, Final

from fastapi import Depends, FastAPI, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader
from mangum import Mangum
from mangum.types import LambdaContext, LambdaEvent
from pydantic import BaseModel
from starlette.responses import Response

from functions.api import envelope
from functions.api.docs import api_description, install_docs
from functions.api.errors import ApiError, documented, install_error_handlers
from functions.api.guard import JSON_TYPE, install_guard
from functions.api.jsonbody import ScreenedRoute
from functions.api.outcomes import outcome_routes
from functions.api.request_state import record_of
from functions.audit import stores as audit
from functions.audit.decision import decision_bins, note_missing_reference
from functions.config import Settings, get_settings
from functions.scoring.contract import Applicant, BatchPredictions, BatchRequest, Health, Prediction
from functions.scoring.manifest import Manifest, ModelUnavailable
from functions.scoring.model import Decision, Matrix, ScoringModel, load_model, to_matrix
from functions.telemetry import configure_logger, logger

AUDIT_REFUSAL: Final = (
    "The decision could not be recorded in the audit trail, so none is returned. Retry later."
)
SCORING_ERRORS: Final = documented(400, 413, 415, 422, 500, 503)
KEY_ERRORS: Final = documented(401, 403)
STATUS_ERRORS: Final = documented(500, 503)
# The key of the scoring routes, declared in the OpenAPI exactly when one is required (so /docs "Try it out"
# can send it): API_KEY set (the app checks it), or under Lambda (API Gateway checks its usage-plan key).
API_KEY: Final = APIKeyHeader(
    name="x-api-key",
    scheme_name="ApiKey",
    description="The API key: the deployed stack's (API Gateway checks it), or API_KEY where the app runs itself.",
    auto_error=False,
)
MISSING_KEY: Final = "This route needs an API key: send it in the x-api-key header."
WRONG_KEY: Final = (
    "The x-api-key header does not hold this deployment's API key; check the key you were given."
)
logging.getLogger("mangum").setLevel(logging.WARNING)  # its INFO line carries the raw request path


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
    return record_of(request).request_id


async def current_settings() -> Settings:
    """Return the cached settings (async, so FastAPI does not send it to a worker thread)."""
    return get_settings()


ModelDep = Annotated[ScoringModel, Depends(serving_model)]
RequestId = Annotated[str, Depends(request_id)]
SettingsDep = Annotated[Settings, Depends(current_settings)]
ApiKeySent = Annotated[str | None, Security(API_KEY)]


async def check_api_key(settings: SettingsDep, key: ApiKeySent = None) -> None:
    """Answer 401 without a key and 403 with a wrong one, when API_KEY is set (compared in constant time)."""
    expected = settings.api_key
    if expected is None:
        return
    if not key:
        raise ApiError(401, "missing_api_key", MISSING_KEY)
    if not hmac.compare_digest(key.encode(), expected.get_secret_value().encode()):
        raise ApiError(403, "invalid_api_key", WRONG_KEY)


def key_guard(settings: Settings) -> tuple[list[Any], dict[int | str, dict[str, Any]]]:
    """Return the scoring routes' key dependency and its documented errors (none when no key is required)."""
    if settings.api_key is not None:
        return [Depends(check_api_key)], KEY_ERRORS
    if settings.api_key_required:
        return [Security(API_KEY)], {}  # API Gateway answers 403 itself; the app only declares the key
    return [], {}


async def health(model: ModelDep, settings: SettingsDep) -> Health:
    """Report liveness, the verified model's version and whether decisions are audited."""
    if settings.audit_key_missing:
        raise ApiError(503, "audit_unavailable", "AUDIT_TABLE is set but no HMAC key is configured.")
    return Health(
        status="ok", model_version=model.version, audit="enabled" if settings.audit_enabled else "disabled"
    )


async def model_card(model: ModelDep) -> Response:
    """Return the manifest: version, metrics, features, threshold, grade bands, data hash, libraries.

    Declared as `Manifest` (its schema shows in /docs); sent as the manifest's own compact JSON bytes.
    """
    return Response(model.manifest.compact_json(), media_type=JSON_TYPE)


async def predict(
    applicant: Applicant,
    model: ModelDep,
    rid: RequestId,
    settings: SettingsDep,
    request: Request,
) -> Response:
    """Score one applicant: PD, decision, score, risk grade and the reasons that raise the PD."""
    raw = to_matrix([vars(applicant)])
    decisions = model.assess(raw)
    await audit_decisions(
        decisions, [applicant], raw, model=model, request=request, settings=settings, batch=False
    )
    observe(request, decisions)
    return json_response(to_prediction(decisions[0], model_version=model.version, rid=rid))


async def predict_batch(
    body: BatchRequest,
    model: ModelDep,
    rid: RequestId,
    settings: SettingsDep,
    request: Request,
) -> Response:
    """Score up to 1,000 applicants in one call; predictions keep the input order."""
    matrix = to_matrix([vars(applicant) for applicant in body.applicants])
    # Under uvicorn a full batch (~0.1 s) goes to a worker thread so that it does not stall other requests.
    in_thread = settings.score_in_thread
    decisions = await run_in_threadpool(model.assess, matrix) if in_thread else model.assess(matrix)
    await audit_decisions(
        decisions, body.applicants, matrix, model=model, request=request, settings=settings, batch=True
    )
    observe(request, decisions)
    predictions = [to_prediction(d, model_version=model.version, rid=rid) for d in decisions]
    return json_response(
        BatchPredictions(predictions=predictions, model_version=model.version, request_id=rid)
    )


def to_prediction(decision: Decision, *, model_version: str, rid: str) -> Prediction:
    """Build the API's prediction from a scoring decision (its reasons are already `ReasonCode`s)."""
    return Prediction(
        probability_of_default=decision.probability_of_default,
        predicted_default=decision.predicted_default,
        threshold=decision.threshold,
        score=decision.score,
        risk_grade=decision.risk_grade,
        reasons=list(decision.reasons),
        model_version=model_version,
        request_id=rid,
    )


def json_response(body: BaseModel) -> Response:
    """Serialise a validated response model (FastAPI would validate and serialise it a second time)."""
    return Response(body.model_dump_json(), media_type=JSON_TYPE)


async def audit_decisions(
    decisions: Sequence[Decision],
    applicants: Sequence[Applicant],
    raw: Matrix,
    *,
    model: ScoringModel,
    request: Request,
    settings: Settings,
    batch: bool,
) -> None:
    """Record the decisions when auditing is on, before the Lambda deadline; else answer 503 without them."""
    if not settings.audit_enabled:
        return
    record = record_of(request)
    canonical = [applicant.model_dump_json().encode() for applicant in applicants]
    reference = model.manifest.reference
    if reference is None:
        note_missing_reference(model.version)
    bins = decision_bins(raw, [d.score for d in decisions], reference)
    try:
        await run_in_threadpool(
            audit.record_decisions,
            decisions,
            canonical,
            request_id=record.request_id,
            model_version=model.version,
            batch=batch,
            synthetic=record.synthetic,
            bins=bins,
            deadline=lambda_deadline(request, margin=settings.audit_deadline_margin_seconds),
        )
    except audit.AuditUnavailableError as err:
        logger.error(
            "audit write failed, no decision returned",
            extra={"request_id": record.request_id, "problem": str(err)},
        )
        raise ApiError(503, "audit_unavailable", AUDIT_REFUSAL) from err


def lambda_deadline(request: Request, *, margin: float) -> float | None:
    """Return when (time.monotonic) audit writes must end: `margin` s before Lambda's time runs out; None off Lambda."""
    context = request.scope.get("aws.context")
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return time.monotonic() + float(remaining()) / 1000 - margin


def observe(request: Request, decisions: Sequence[Decision]) -> None:
    """Hand the decisions' PDs to the request's metrics line."""
    record = record_of(request)
    record.probabilities = [d.probability_of_default for d in decisions]
    record.predicted_defaults = sum(d.predicted_default for d in decisions)


def create_app(settings: Settings) -> FastAPI:
    """Build the API for these settings: routes, error handlers, the request guard and CORS."""
    configure_logger(settings)
    app = FastAPI(
        title="Credit default scoring API",
        version="1.0.0",
        summary="Probability of default next month for a credit-card client, with reasons and an audit trail.",
        description=api_description(settings),
        root_path=settings.root_path,
        strict_content_type=False,  # a body without Content-Type is read as JSON (see api_description)
        redirect_slashes=False,  # the guard serves /v1/health/ as /v1/health; a redirect could drop the stage
        docs_url=None,  # served by install_docs from the app's own assets, not a CDN
        redoc_url=None,
    )
    app.router.route_class = ScreenedRoute  # routes read the body the guard already parsed
    app.get("/v1/health", response_model=Health, responses=STATUS_ERRORS)(health)
    app.get("/v1/model", response_model=Manifest, responses=STATUS_ERRORS)(model_card)
    key, key_errors = key_guard(settings)
    scoring_errors = {**SCORING_ERRORS, **key_errors}
    app.post("/v1/predict", response_model=Prediction, responses=scoring_errors, dependencies=key)(predict)
    app.post(
        "/v1/predict/batch", response_model=BatchPredictions, responses=scoring_errors, dependencies=key
    )(predict_batch)
    app.include_router(outcome_routes(), dependencies=key, responses=key_errors)
    install_docs(app, openapi_url=app.openapi_url or "/openapi.json")
    install_error_handlers(app)
    install_guard(app, cors_origins=settings.cors_origins)
    return app


@lru_cache(maxsize=1)
def get_app() -> FastAPI:
    """Build the API once per process from the cached settings (uvicorn's `--factory` entry)."""
    return create_app(get_settings())


@lru_cache(maxsize=1)
def adapter() -> Mangum:
    """Build the Mangum adapter once per container; no lifespan (Mangum would enter it on every call)."""
    return Mangum(get_app(), lifespan="off", api_gateway_base_path=get_settings().api_base_path)


def handler(event: LambdaEvent, context: LambdaContext) -> dict[str, Any]:
    """Answer one Lambda invocation (REST v1, HTTP v2, or a non-HTTP event) without raising: the entry point."""
    return envelope.answer(
        event, context, adapter=adapter, warm=load_serving_model, max_body_bytes=get_settings().max_body_bytes
    )


def __getattr__(name: str) -> FastAPI:
    """Build `app` on first access (`functions.api.app:app` for uvicorn), so importing this module reads nothing."""
    if name == "app":
        return get_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
