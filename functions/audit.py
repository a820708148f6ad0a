"""The decision audit trail in DynamoDB: the only module that talks to AWS.

One item per decision, keyed by `request_id` (a batch item: `<request_id>#<index>`), holding the time, the
model version, an HMAC-SHA256 of the applicant's canonical JSON (the validated inputs serialised by
pydantic in contract field order, so the same inputs always hash alike and the raw values are never
stored), the PD, threshold, score, grade, decision and reasons. A single decision is a conditional
`PutItem` (an existing record is never overwritten); a batch goes in `BatchWriteItem` calls of 25.

boto3 is imported on first use only, so a container without `AUDIT_TABLE` never pays for it.
"""

import hashlib
import hmac
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final

from functions.config import get_settings
from functions.scoring import Decision

BATCH_WRITE_SIZE: Final = 25  # BatchWriteItem's limit per call
UNPROCESSED_RETRIES: Final = 2  # extra BatchWriteItem calls for items DynamoDB left unprocessed
_lock: Final = threading.Lock()


class AuditUnavailableError(RuntimeError):
    """A decision could not be recorded; the message names the cause without secrets or inputs."""


@dataclass(frozen=True)
class HashKey:
    """The HMAC key and the version to record with each hash, so a rotated key stays verifiable."""

    secret: bytes
    version: str


def input_hash(canonical: bytes, *, key: bytes) -> str:
    """Return the hex HMAC-SHA256 of an applicant's canonical JSON."""
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()


def _number(value: float) -> dict[str, str]:
    # Fixed-point text: DynamoDB numbers travel as strings, and this keeps 12 decimals of a PD.
    return {"N": f"{value:.12f}" if isinstance(value, float) else str(value)}


def to_item(
    decision: Decision,
    canonical: bytes,
    *,
    key: str,
    request_id: str,
    decided_at: str,
    model_version: str,
    hash_key: HashKey,
    index: int | None = None,
) -> dict[str, Any]:
    """Build the DynamoDB item (attribute-value form) recording one decision."""
    item: dict[str, Any] = {
        "request_id": {"S": key},
        "api_request_id": {"S": request_id},
        "decided_at": {"S": decided_at},
        "model_version": {"S": model_version},
        "input_hash": {"S": input_hash(canonical, key=hash_key.secret)},
        "input_hash_method": {"S": "HMAC-SHA256 of the applicant's canonical JSON"},
        "hash_key_version": {"S": hash_key.version},
        "probability_of_default": _number(decision.probability_of_default),
        "threshold": _number(decision.threshold),
        "score": _number(decision.score),
        "risk_grade": {"S": decision.risk_grade},
        "predicted_default": {"BOOL": decision.predicted_default},
        "reasons": {
            "L": [
                {"M": {"code": {"S": r.code}, "text": {"S": r.text}, "impact": _number(r.impact)}}
                for r in decision.reasons
            ]
        },
    }
    if index is not None:
        item["batch_index"] = _number(index)
    return item


def _client(service: str) -> Any:
    """Create a client with short timeouts and one retry, so an outage fails fast."""
    import boto3
    from botocore.config import Config

    settings = get_settings()
    config = Config(
        connect_timeout=settings.audit_timeout_seconds,
        read_timeout=settings.audit_timeout_seconds,
        retries={"mode": "standard", "total_max_attempts": settings.audit_max_attempts},
    )
    with _lock:  # boto3 sessions are not thread-safe while creating clients
        return boto3.session.Session().client(service, config=config)


@lru_cache(maxsize=1)
def dynamodb() -> Any:
    """Return the container's DynamoDB client, created on first use."""
    return _client("dynamodb")


@lru_cache(maxsize=1)
def hash_key() -> HashKey:
    """Read the HMAC key once per container: Secrets Manager if configured, else AUDIT_HASH_KEY."""
    settings = get_settings()
    if settings.audit_key_secret_arn:
        secret = _client("secretsmanager").get_secret_value(SecretId=settings.audit_key_secret_arn)
        value = secret.get("SecretString") or secret.get("SecretBinary") or b""
        key = value.encode() if isinstance(value, str) else bytes(value)
        if len(key) < 32:
            raise AuditUnavailableError("the audit HMAC key in Secrets Manager is shorter than 32 bytes")
        return HashKey(secret=key, version=str(secret.get("VersionId", "unknown")))
    if settings.audit_hash_key is not None:
        return HashKey(
            secret=settings.audit_hash_key.get_secret_value().encode(), version="env:AUDIT_HASH_KEY"
        )
    raise AuditUnavailableError(
        "AUDIT_TABLE is set but no HMAC key is configured: set AUDIT_KEY_SECRET_ARN or AUDIT_HASH_KEY"
    )


def reset() -> None:
    """Forget the cached clients and key (tests, or after changing the environment)."""
    dynamodb.cache_clear()
    hash_key.cache_clear()


def record(
    decisions: Sequence[Decision],
    canonical_inputs: Sequence[bytes],
    *,
    request_id: str,
    model_version: str,
    batch: bool,
) -> None:
    """Write one audit item per decision, or raise AuditUnavailableError naming the cause."""
    from botocore.exceptions import BotoCoreError, ClientError

    table = get_settings().audit_table
    if table is None:
        raise AuditUnavailableError("AUDIT_TABLE is not set")
    decided_at = datetime.now(UTC).isoformat(timespec="milliseconds")
    try:
        key = hash_key()
        items = [
            to_item(
                decision,
                canonical,
                key=f"{request_id}#{i}" if batch else request_id,
                request_id=request_id,
                decided_at=decided_at,
                model_version=model_version,
                hash_key=key,
                index=i if batch else None,
            )
            for i, (decision, canonical) in enumerate(zip(decisions, canonical_inputs, strict=True))
        ]
        if batch:
            _write_batch(table, items)
        else:
            dynamodb().put_item(
                TableName=table, Item=items[0], ConditionExpression="attribute_not_exists(request_id)"
            )
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "ClientError")
        raise AuditUnavailableError(f"DynamoDB or Secrets Manager refused the call ({code})") from err
    except BotoCoreError as err:
        raise AuditUnavailableError(
            f"DynamoDB or Secrets Manager did not answer ({type(err).__name__})"
        ) from err


def _write_batch(table: str, items: list[dict[str, Any]]) -> None:
    for start in range(0, len(items), BATCH_WRITE_SIZE):
        requests = [{"PutRequest": {"Item": item}} for item in items[start : start + BATCH_WRITE_SIZE]]
        for attempt in range(UNPROCESSED_RETRIES + 1):
            response = dynamodb().batch_write_item(RequestItems={table: requests})
            requests = response.get("UnprocessedItems", {}).get(table, [])
            if not requests:
                break
            if attempt < UNPROCESSED_RETRIES:
                time.sleep(0.05 * 2**attempt)  # DynamoDB asks callers to back off before resending
        else:
            raise AuditUnavailableError(f"DynamoDB left {len(requests)} audit items unprocessed (throttled)")
