"""POST /v1/recourse: what would change the decision for one client (functions/scoring/adverse/recourse.py does the search).

The body is /v1/predict's. For a client the strategy refers or declines, the answer is the smallest change of
payments, balances and repayment status (brought current) found that the served strategy approves, with the PD it
reaches, checked by re-scoring with the served model; or a clear statement that none suffices. Nothing is recorded:
it is an explanation, not a decision. Never changes age, education, sex, marriage or the credit limit.
"""

from typing import cast

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from functions.api.deps import ModelDep, RequestId, SettingsDep, StrategyDep
from functions.api.errors import documented
from functions.api.gateway.guard import JSON_TYPE
from functions.api.gateway.jsonbody import ScreenedRoute
from functions.scoring.adverse.recourse import changes, find_recourse
from functions.scoring.adverse.recourse_answer import Decision, InputChange, Proposal, RecourseAnswer
from functions.scoring.contract import ClientApplication
from functions.scoring.model import to_matrix


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
