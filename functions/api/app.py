"""FastAPI routes of the scoring API and Lambda's `handler`; nothing is read or built at import.

`get_app()` builds the app once per process from the settings (uvicorn: `functions.api.app:get_app --factory`),
`functions.api.serving` loads the model and the strategy once per container, `handler` passes events to one Mangum adapter
through `functions.api.gateway.envelope`, which repairs what Mangum cannot parse and answers non-HTTP invocations.
"""

import hmac
import logging
from collections.abc import Awaitable, Mapping, Sequence
from functools import lru_cache
from typing import Annotated, Any, Final

import numpy as np
from fastapi import Depends, FastAPI, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader
from mangum import Mangum
from mangum.types import LambdaContext, LambdaEvent
from pydantic import BaseModel
from pydantic_core import to_json
from starlette.responses import Response

from functions.api.card import ModelCard, card_json
from functions.api.deps import ModelDep, RequestId, SettingsDep, StrategyDep
from functions.api.docs import api_description, install_docs
from functions.api.errors import ApiError, documented, install_error_handlers
from functions.api.gateway import envelope
from functions.api.gateway.guard import JSON_TYPE, install_guard
from functions.api.gateway.jsonbody import ScreenedRoute
from functions.api.outcomes import outcome_routes
from functions.api.recording import observe, record_request
from functions.api.recourse import recourse_routes
from functions.api.serving import arm_references, decide, load_serving_strategy
from functions.audit.decision import AuditUnavailableError
from functions.config import Settings, get_settings
from functions.scoring.contract import BatchPredictions, BatchRequest, ClientApplication, Health, Prediction
from functions.scoring.model import Decision, to_matrix
from functions.scoring.strategy.answer import StrategyAnswer
from functions.scoring.strategy.engine import Outcomes
from functions.telemetry import configure_logger

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
# A prediction's fields in `Prediction`'s order (the JSON's): the strategy's (not the engine's order), then the
# model's, then the model version and request id - read off the schema, which owns them.
STRATEGY_FIELDS: Final = tuple(StrategyAnswer.model_fields)
MODEL_FIELDS: Final = tuple(
    name
    for name in Prediction.model_fields
    if name not in StrategyAnswer.model_fields and name not in ("model_version", "request_id")
)
logging.getLogger("mangum").setLevel(logging.WARNING)  # its INFO line carries the raw request path


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


async def health(model: ModelDep, strategy: StrategyDep, settings: SettingsDep) -> Health:
    """Report liveness, the verified model's version and whether decisions are audited (503 without a strategy)."""
    if settings.audit_key_missing:
        raise ApiError(503, "audit_unavailable", "AUDIT_TABLE is set but no HMAC key is configured.")
    return Health(
        status="ok", model_version=model.version, audit="enabled" if settings.audit_enabled else "disabled"
    )


async def model_card(model: ModelDep) -> Response:
    """Return the manifest (version, metrics, features, threshold, grade bands, data hash) and reason statements.

    Declared as `ModelCard` (its schema shows in /docs); sent as the manifest's own compact JSON bytes with the reason
    statements' table added (`functions.api.card`).
    """
    return Response(card_json(model.manifest), media_type=JSON_TYPE)


async def predict(
    applicant: ClientApplication,
    model: ModelDep,
    strategy: StrategyDep,
    rid: RequestId,
    settings: SettingsDep,
    request: Request,
) -> Response:
    """Score one applicant: PD, score, risk grade, reasons, and the strategy's decision and line action."""
    raw = to_matrix([vars(applicant)])
    decisions = model.assess(raw)
    references = arm_references([applicant.client_reference], request_id=rid, batch=False)
    outcomes = decide(strategy, raw, decisions, references, settings=settings)
    recording = record_request(
        decisions, [applicant], raw, outcomes, model=model, request=request, settings=settings, batch=False
    )
    await fail_closed(recording)
    observe(request, decisions)
    rows = prediction_rows(decisions, strategy_columns(outcomes), model_version=model.version, rid=rid)
    return json_response(rows[0])


async def predict_batch(
    body: BatchRequest,
    model: ModelDep,
    strategy: StrategyDep,
    rid: RequestId,
    settings: SettingsDep,
    request: Request,
) -> Response:
    """Score up to 1,000 applicants in one call; predictions keep the input order."""
    matrix = to_matrix([vars(applicant) for applicant in body.applicants])
    # Under uvicorn a full batch (~0.1 s) goes to a worker thread so that it does not stall other requests.
    in_thread = settings.score_in_thread
    decisions = await run_in_threadpool(model.assess, matrix) if in_thread else model.assess(matrix)
    references = arm_references([a.client_reference for a in body.applicants], request_id=rid, batch=True)
    outcomes = decide(strategy, matrix, decisions, references, settings=settings)
    recording = record_request(
        decisions,
        body.applicants,
        matrix,
        outcomes,
        model=model,
        request=request,
        settings=settings,
        batch=True,
    )
    await fail_closed(recording)
    observe(request, decisions)
    predictions = prediction_rows(decisions, strategy_columns(outcomes), model_version=model.version, rid=rid)
    return json_response({"predictions": predictions, "model_version": model.version, "request_id": rid})


def strategy_columns(outcomes: Outcomes) -> dict[str, list[Any]]:
    """Return the strategy's answer fields as columns of plain values, in `Prediction`'s field order.

    Raises ValueError (a 500, never a wrong answer) when a number breaks `StrategyAnswer`'s bounds: finite, not
    negative, a percentage up to 100 - the checks the answers' per-item validation made before it was dropped.
    """
    amounts = (
        outcomes.line_percent,
        outcomes.new_limit,
        outcomes.exposure_at_default,
        outcomes.expected_loss,
    )
    numbers = np.concatenate(amounts)
    if not (
        numbers.min(initial=0.0) >= 0.0
        and outcomes.line_percent.max(initial=0.0) <= 100.0
        and np.isfinite(numbers).all()
    ):
        raise ValueError(
            "the strategy's numbers break its answer's bounds (finite, >= 0, line_percent <= 100)"
        )
    return {name: getattr(outcomes, name).tolist() for name in STRATEGY_FIELDS}


def prediction_rows(
    decisions: Sequence[Decision], columns: Mapping[str, list[Any]], *, model_version: str, rid: str
) -> list[dict[str, Any]]:
    """Build each `Prediction` as a plain dict, column by column, from the decisions and the strategy's columns.

    Not validated item by item: every value is already typed by the model and the engine, and
    tests/api/test_prediction_rows.py proves the rows equal the validated `Prediction`s.
    """
    names = (*columns, *MODEL_FIELDS, "model_version", "request_id")
    model_columns = (
        [d.probability_of_default for d in decisions],
        [d.predicted_default for d in decisions],
        [d.threshold for d in decisions],
        [d.score for d in decisions],
        [d.risk_grade for d in decisions],
        [d.reasons for d in decisions],  # ReasonCode models, serialised by their own schema
        [model_version] * len(decisions),
        [rid] * len(decisions),
    )
    rows = zip(*columns.values(), *model_columns, strict=True)
    return [dict(zip(names, values, strict=True)) for values in rows]


def json_response(body: BaseModel | Mapping[str, Any]) -> Response:
    """Serialise an answer to JSON bytes as pydantic does (NaN and infinity as null), with no second validation."""
    return Response(to_json(body, inf_nan_mode="null"), media_type=JSON_TYPE)


async def fail_closed(recording: Awaitable[None]) -> None:
    """Await the audit write of a request's decisions; answer 503 without them when the audit trail refuses it."""
    try:
        await recording
    except AuditUnavailableError as err:
        raise ApiError(503, "audit_unavailable", AUDIT_REFUSAL) from err


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
    app.get("/v1/model", response_model=ModelCard, responses=STATUS_ERRORS)(model_card)
    key, key_errors = key_guard(settings)
    scoring_errors = {**SCORING_ERRORS, **key_errors}
    app.post("/v1/predict", response_model=Prediction, responses=scoring_errors, dependencies=key)(predict)
    app.post(
        "/v1/predict/batch", response_model=BatchPredictions, responses=scoring_errors, dependencies=key
    )(predict_batch)
    app.include_router(recourse_routes(), dependencies=key, responses=key_errors)
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
        event,
        context,
        adapter=adapter,
        warm=load_serving_strategy,
        max_body_bytes=get_settings().max_body_bytes,
    )


def __getattr__(name: str) -> FastAPI:
    """Build `app` on first access (`functions.api.app:app` for uvicorn), so importing this module reads nothing."""
    if name == "app":
        return get_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
