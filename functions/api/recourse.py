"""POST /v1/recourse: what would change the decision for one client (functions/scoring/recourse.py does the search).

The body is /v1/predict's. For a client the strategy refers or declines, the answer is the smallest change of
payments, balances and repayment status (brought current) found that the served strategy approves, with the PD it
reaches, checked by re-scoring with the served model; or a clear statement that none suffices. Nothing is recorded:
it is an explanation, not a decision. Never changes age, education, sex, marriage or the credit limit.
"""

from typing import Literal, cast

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from starlette.responses import Response

from functions.api.deps import ModelDep, RequestId, SettingsDep, StrategyDep
from functions.api.errors import documented
from functions.api.guard import JSON_TYPE
from functions.api.jsonbody import ScreenedRoute
from functions.scoring.contract import ClientApplication
from functions.scoring.model import to_matrix
from functions.scoring.recourse import changes, find_recourse

Decision = Literal["approve", "refer", "decline"]


class InputChange(BaseModel):
    """One input the proposal changes: its value now and the value that would change the decision."""

    input: str = Field(description="The contract input, e.g. `pay_amt1` (NT$) or `pay_0` (repayment status).")
    current: float = Field(description="The value sent.")
    proposed: float = Field(description="The value that, with the other changes, the strategy approves.")


class Proposal(BaseModel):
    """The smallest change found that the served strategy approves, re-scored by the served model."""

    summary: str = Field(description="What the client would do, in words.")
    direction: str = Field(
        description="`pay_latest`, `pay_down_latest`, `lower_latest_balance`, `lower_balances`, "
        "`raise_payments`, or `bring_current` alone."
    )
    brings_current: bool = Field(
        description="Whether every late repayment status is set to 0 (revolving credit)."
    )
    total_change: float = Field(ge=0, description="Sum of |change| over the payment and balance inputs, NT$.")
    changes: list[InputChange] = Field(description="Every input that changes, in contract order.")
    probability_of_default: float = Field(ge=0, le=1, description="The PD the changed inputs score.")
    decision: Decision = Field(description="The strategy's decision on the changed inputs (approve).")


class RecourseAnswer(BaseModel):
    """What would change one client's decision, or why nothing actionable would."""

    probability_of_default: float = Field(ge=0, le=1, description="The client's PD as sent.")
    decision: Decision = Field(description="The strategy's decision as sent.")
    approve_below: float = Field(
        ge=0, le=1, description="The PD below which the strategy's approve band lies."
    )
    found: bool = Field(
        description="Whether a change was found (false when approved already or none suffices)."
    )
    message: str = Field(description="The proposal in words, or why there is none.")
    proposal: Proposal | None = Field(description="The change, when one was found.")
    model_version: str
    strategy_version: str
    request_id: str


async def recourse(
    applicant: ClientApplication,
    model: ModelDep,
    strategy: StrategyDep,
    rid: RequestId,
    settings: SettingsDep,
) -> Response:
    """Find the smallest change of payments, balances or repayment status that the strategy would approve."""
    raw = to_matrix([vars(applicant)])[0]
    found = (
        await run_in_threadpool(find_recourse, model, strategy, raw)
        if settings.score_in_thread
        else find_recourse(model, strategy, raw)
    )
    proposal = None
    if found.proposed is not None and found.reached_pd is not None and found.direction is not None:
        proposal = Proposal(
            summary=found.message,
            direction=found.direction,
            brings_current=found.brings_current,
            total_change=found.total_change,
            changes=[InputChange(input=n, current=c, proposed=p) for n, c, p in changes(raw, found.proposed)],
            probability_of_default=found.reached_pd,
            decision="approve",
        )
    answer = RecourseAnswer(
        probability_of_default=found.probability_of_default,
        decision=cast(Decision, found.decision),  # the strategy's labels are DECISIONS
        approve_below=found.approve_below,
        found=proposal is not None,
        message=found.message,
        proposal=proposal,
        model_version=model.version,
        strategy_version=strategy.version,
        request_id=rid,
    )
    return Response(answer.model_dump_json(), media_type=JSON_TYPE)


def recourse_routes() -> APIRouter:
    """Return the router of POST /v1/recourse (app.py includes it with the key guard)."""
    router = APIRouter(route_class=ScreenedRoute)
    router.post(
        "/v1/recourse",
        response_model=RecourseAnswer,
        responses=documented(400, 413, 415, 422, 500, 503),
    )(recourse)
    return router
