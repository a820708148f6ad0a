"""The configured outcome store and the making of a final decision's record (the reviewer's id hashed)."""

from datetime import UTC, datetime

from functions.audit.decision import AuditUnavailableError
from functions.audit.key import hash_key, input_hash
from functions.audit.outcomes import FinalDecision, OutcomeStore
from functions.audit.outcomes_dynamo import DynamoOutcomeTable
from functions.audit.outcomes_sqlite import SqliteOutcomeLog
from functions.config import get_settings


def outcome_store() -> OutcomeStore:
    """Return where outcomes go: the audit table (AUDIT_TABLE), else the local log (DECISION_LOG)."""
    settings = get_settings()
    if settings.audit_table is not None:
        return DynamoOutcomeTable(settings.audit_table)
    if settings.decision_log is not None:
        return SqliteOutcomeLog(settings.decision_log)
    raise AuditUnavailableError("neither AUDIT_TABLE nor DECISION_LOG is set: decisions are not recorded")


def final_decision(key: str, *, action: str, override_reason: str, reviewer_id: str) -> FinalDecision:
    """Build a final decision's record: the reviewer's id as HMAC-SHA256 under the audit key, the time now."""
    secret = hash_key()
    return FinalDecision(
        key=key,
        action=action,
        override_reason=override_reason,
        reviewer_hash=input_hash(reviewer_id.encode(), key=secret.secret),
        hash_key_version=secret.version,
        recorded_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
    )
