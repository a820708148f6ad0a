"""Record a request's decisions in the audit trail (before the Lambda deadline) and hand its PDs to the metrics line.

A failed write raises AuditUnavailableError after one log line; `functions.api.app` turns it into the 503.
"""

import time
from collections.abc import Sequence

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request

from functions.api.gateway.request_state import record_of
from functions.audit import stores as audit
from functions.audit.decision import canonical_bytes, decision_bins, note_missing_reference
from functions.audit.strategy_record import strategy_records
from functions.config import Settings
from functions.scoring.contract import ClientApplication
from functions.scoring.model import Decision, Matrix, ScoringModel
from functions.scoring.strategy.engine import Outcomes
from functions.telemetry import logger


async def record_request(
    decisions: Sequence[Decision],
    applicants: Sequence[ClientApplication],
    raw: Matrix,
    outcomes: Outcomes,
    *,
    model: ScoringModel,
    request: Request,
    settings: Settings,
    batch: bool,
) -> None:
    """Record the decisions and the strategy's outcomes when auditing is on; raises AuditUnavailableError."""
    if not settings.audit_enabled:
        return
    record = record_of(request)
    reference = model.manifest.reference
    if reference is None:
        note_missing_reference(model.version)
    bins = decision_bins(raw, [d.score for d in decisions], reference)
    references = [applicant.client_reference for applicant in applicants]
    try:
        strategies = strategy_records(outcomes, references, key=audit.hash_key().secret)
        await run_in_threadpool(
            audit.record_decisions,
            decisions,
            [canonical_bytes(applicant) for applicant in applicants],
            request_id=record.request_id,
            model_version=model.version,
            batch=batch,
            synthetic=record.synthetic,
            bins=bins,
            strategies=strategies,
            deadline=lambda_deadline(request, margin=settings.audit_deadline_margin_seconds),
        )
    except audit.AuditUnavailableError as err:
        logger.error(
            "audit write failed, no decision returned",
            extra={"request_id": record.request_id, "problem": str(err)},
        )
        raise


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
