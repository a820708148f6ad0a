"""Routes that close the loop: outcomes of past decisions, and the reviewer's final decision on one.

POST /v1/outcomes takes a batch of {decision_key, defaulted, observed_on}; POST /v1/decisions/{key}/final
takes the reviewer's action, an override reason from the fixed list and the reviewer's id (stored hashed).
The rules (idempotent, conflicts refused by key, unknown keys listed, synthetic decisions skipped) live in
`functions.audit.outcomes`; here are the shapes, the checks of each field and the answers.
"""

from datetime import UTC, date, datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Path
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from functions.api.errors import ApiError, ErrorResponse, documented
from functions.api.gateway.jsonbody import ScreenedRoute
from functions.audit.decision import AuditUnavailableError
from functions.audit.feedback import final_decision, outcome_store
from functions.audit.outcomes import (
    FINAL_ACTIONS,
    KEY_PATTERN,
    OVERRIDE_REASONS,
    FinalExistsError,
    Outcome,
    OutcomeConflictError,
    UnknownDecisionError,
    iso_day,
)
from functions.telemetry import logger

MAX_OUTCOMES: Final = 5000  # per request: ~100 bytes each keeps a full batch well under the 1 MiB body limit
DecisionKey = Annotated[
    str,
    Field(
        pattern=KEY_PATTERN,
        description="The decision's key: the request_id a prediction returned, `<request_id>#<index>` for "
        "the index-th applicant of a batch (send `#` as `%23` in a path).",
        examples=["c6af9ac6-7b61-11e6-9a41-93e8deadbeef#3"],
    ),
]
Action = Literal["approve", "refer", "decline"]
Reason = Literal[tuple(OVERRIDE_REASONS)]  # type: ignore[valid-type]
STORE_REFUSAL: Final = "The decision log could not be read or written; nothing was recorded. Retry later."


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


class OutcomeIn(BaseModel):
    """One observed outcome of a recorded decision."""

    model_config = ConfigDict(extra="forbid")
    decision_key: DecisionKey
    defaulted: StrictBool = Field(description="Whether the client defaulted (true or false, not 0/1).")
    observed_on: date = Field(description="The day the outcome was observed (YYYY-MM-DD), not in the future.")

    @field_validator("observed_on", mode="before")
    @classmethod
    def written_as_a_day(cls, value: object) -> date:
        """Take only a YYYY-MM-DD string: pydantic alone reads a number as seconds since 1970."""
        return iso_day(value)

    @field_validator("observed_on")
    @classmethod
    def not_in_the_future(cls, value: date) -> date:
        """Refuse a date after today (UTC): an outcome cannot be observed before it happens."""
        if value > datetime.now(UTC).date():
            raise ValueError("the date is in the future; send the day the outcome was observed")
        return value


class OutcomeBatch(BaseModel):
    """Outcomes of recorded decisions, one per decision key."""

    model_config = ConfigDict(extra="forbid")
    outcomes: list[OutcomeIn] = Field(min_length=1, max_length=MAX_OUTCOMES)


class OutcomeReceiptOut(BaseModel):
    """What became of a batch: counts recorded and already recorded alike, keys unknown and synthetic."""

    recorded: int
    unchanged: int = Field(description="Outcomes already recorded with the same flag and date.")
    unknown_keys: list[str] = Field(description="Keys no recorded decision carries; nothing stored for them.")
    synthetic_keys: list[str] = Field(description="Keys of smoke-test decisions; skipped.")


class FinalIn(BaseModel):
    """The reviewer's final decision on a recorded decision."""

    model_config = ConfigDict(extra="forbid")
    action: Action = Field(description=f"The final action: one of {', '.join(FINAL_ACTIONS)}.")
    override_reason: Reason = Field(  # type: ignore[valid-type]
        description="Why the action differs from the model's recommendation, from the fixed list "
        "(docs/monitoring.md); `none` when it follows it."
    )
    reviewer_id: str = Field(
        min_length=1, max_length=200, description="The reviewer's id; stored only hashed."
    )


class FinalOut(BaseModel):
    """The recorded final decision (the reviewer's id is not repeated)."""

    decision_key: str
    action: str
    override_reason: str
    recorded_at: str


async def post_outcomes(body: OutcomeBatch) -> OutcomeReceiptOut:
    """Record outcomes of recorded decisions: idempotent, conflicts refused by key, unknown keys listed."""
    outcomes = [Outcome(o.decision_key, o.defaulted, o.observed_on.isoformat()) for o in body.outcomes]
    try:
        receipt = await run_in_threadpool(outcome_store().record_outcomes, outcomes)
    except OutcomeConflictError as err:
        raise ApiError(
            409,
            "outcome_conflict",
            f"{len(err.keys)} outcome(s) differ from the recorded ones, nothing was recorded: "
            f"{', '.join(err.keys[:50])}. An outcome once recorded is not changed.",
        ) from err
    except AuditUnavailableError as err:
        logger.error("outcomes not recorded", extra={"problem": str(err)})
        raise ApiError(503, "audit_unavailable", STORE_REFUSAL) from err
    return OutcomeReceiptOut(
        recorded=len(receipt.recorded),
        unchanged=len(receipt.unchanged),
        unknown_keys=receipt.unknown,
        synthetic_keys=receipt.synthetic,
    )


async def post_final(key: Annotated[str, Path(pattern=KEY_PATTERN)], body: FinalIn) -> FinalOut:
    """Record the reviewer's final decision on a recorded decision: 404 unknown key, 409 a second one."""
    try:
        store = outcome_store()  # first: with no store configured, say so rather than that a key is missing
        final = final_decision(
            key, action=body.action, override_reason=body.override_reason, reviewer_id=body.reviewer_id
        )
        await run_in_threadpool(store.record_final, final)
    except UnknownDecisionError as err:
        raise ApiError(404, "unknown_decision", "No recorded decision has this key; check it.") from err
    except FinalExistsError as err:
        raise ApiError(
            409, "final_exists", "This decision has a final decision already; it is kept."
        ) from err
    except AuditUnavailableError as err:
        logger.error("final decision not recorded", extra={"problem": str(err)})
        raise ApiError(503, "audit_unavailable", STORE_REFUSAL) from err
    return FinalOut(
        decision_key=key,
        action=final.action,
        override_reason=final.override_reason,
        recorded_at=final.recorded_at,
    )


def outcome_routes() -> APIRouter:
    """Return the router of the outcome and final-decision routes (app.py includes it with the key guard)."""
    router = APIRouter(route_class=ScreenedRoute, tags=["outcomes"])
    common: dict[int | str, dict[str, Any]] = {
        **documented(400, 413, 415, 500),
        422: _error("A field is invalid; `fields` names it."),
        503: _error(STORE_REFUSAL),
    }
    router.post(
        "/v1/outcomes",
        response_model=OutcomeReceiptOut,
        responses={**common, 409: _error("An outcome differs from the recorded one; nothing was recorded.")},
    )(post_outcomes)
    router.post(
        "/v1/decisions/{key}/final",
        response_model=FinalOut,
        responses={
            **common,
            404: _error("No recorded decision has this key."),
            409: _error("The decision has a final decision already."),
        },
    )(post_final)
    return router
