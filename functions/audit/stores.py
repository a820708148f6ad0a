"""The decision audit trail in DynamoDB, the HMAC key, and `record_decisions`, which writes to the configured store.

One item per decision, keyed by `request_id` (a batch item: `<request_id>#<index>`), holding the time and
its UTC day, the model version, an HMAC-SHA256 of the applicant's canonical JSON (the validated inputs
serialised by pydantic in contract field order, so the same inputs always hash alike and the raw values are
never stored), the PD, threshold, score, grade, decision, reasons, a `synthetic` flag and each input's
reference bin. A single decision is a conditional `PutItem` (an existing record is never overwritten); a
batch goes in `BatchWriteItem` calls of 25, each started only if every call left can still finish (timeout x
attempts) before the Lambda deadline. The index `by-day` (day and shard, time) lets the drift job Query a day.

boto3 is imported on first use only, so a container without `AUDIT_TABLE` never pays for it.
"""

import math
import time
import zlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

from functions.audit.decision import (
    HASH_METHOD,
    AuditUnavailableError,
    Bins,
    DecisionRecord,
    DecisionStore,
    SqliteDecisionLog,
    StoredBins,
)
from functions.audit.key import HashKey, aws_client, hash_key, input_hash
from functions.config import get_settings

if TYPE_CHECKING:  # the record only carries a Decision: the drift job need not load the model's code
    from functions.scoring.model import Decision

BATCH_WRITE_SIZE: Final = 25  # BatchWriteItem's limit per call
UNPROCESSED_RETRIES: Final = 2  # extra BatchWriteItem calls for items DynamoDB left unprocessed
DAY_INDEX: Final = "by-day"  # global secondary index: decided_day (hash), decided_at (range)
# A day's index entries are spread over this many partition keys (`<day>#<shard>`): one key value takes at most
# 1,000 writes per second, and a few full batches a second would exceed that and throttle the table's writes.
DAY_SHARDS: Final = 10
DAY_INDEX_ATTRIBUTES: Final = ("model_version", "synthetic", "bins")  # projected: all the drift job reads

__all__ = ["AuditUnavailableError", "HashKey", "hash_key", "input_hash", "record_decisions", "to_item"]


def _number(value: float) -> dict[str, str]:
    # Fixed-point text: DynamoDB numbers travel as strings, and this keeps 12 decimals of a PD.
    return {"N": f"{value:.12f}" if isinstance(value, float) else str(value)}


def day_shard(record: DecisionRecord) -> str:
    """Return the record's index partition key: its UTC day and a shard drawn from its key (`2026-03-01#7`)."""
    return f"{record.day}#{zlib.crc32(record.key.encode()) % DAY_SHARDS}"


def to_item(record: DecisionRecord) -> dict[str, Any]:
    """Build the DynamoDB item (attribute-value form) of one decision record."""
    decision = record.decision
    item: dict[str, Any] = {
        "request_id": {"S": record.key},
        "api_request_id": {"S": record.request_id},
        "decided_at": {"S": record.decided_at},
        "decided_day": {"S": day_shard(record)},
        "model_version": {"S": record.model_version},
        "input_hash": {"S": record.input_hash},
        "input_hash_method": {"S": HASH_METHOD},
        "hash_key_version": {"S": record.hash_key_version},
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
        "synthetic": {"BOOL": record.synthetic},
    }
    if record.batch_index is not None:
        item["batch_index"] = _number(record.batch_index)
    if record.bins is not None:
        item["bins"] = {"M": {name: _number(index) for name, index in record.bins.items()}}
    return item


@lru_cache(maxsize=1)
def dynamodb() -> Any:
    """Return the container's DynamoDB client, created on first use."""
    return aws_client("dynamodb")


@lru_cache(maxsize=4)
def dynamodb_capped(timeout: float) -> Any:
    """Return a DynamoDB client whose timeouts are cut to `timeout` seconds (close to the Lambda deadline)."""
    return aws_client("dynamodb", timeout=timeout)


def seconds_left(deadline: float | None) -> float:
    """Return the seconds until `deadline` (time.monotonic), or infinity without one."""
    return math.inf if deadline is None else deadline - time.monotonic()


def ensure_time_for(calls: int, *, deadline: float | None) -> None:
    """Raise AuditUnavailableError unless `calls` DynamoDB calls (timeout x attempts each) fit before the deadline."""
    settings = get_settings()
    needed = calls * settings.audit_timeout_seconds * settings.audit_max_attempts
    left = seconds_left(deadline)
    if left < needed:
        raise AuditUnavailableError(
            f"{max(left, 0.0):.2f} s left before the Lambda deadline, {calls} DynamoDB calls may need {needed:.2f} s"
        )


def client_before(deadline: float | None) -> Any:
    """Return the DynamoDB client for one call: timeouts capped so its attempts end before the deadline."""
    settings = get_settings()
    per_attempt = seconds_left(deadline) / settings.audit_max_attempts
    if per_attempt >= settings.audit_timeout_seconds:
        return dynamodb()
    return dynamodb_capped(max(math.floor(per_attempt * 20) / 20, 0.05))  # 50 ms steps: few clients


class DynamoDecisionTable:
    """The decision store on AWS: the audit table, written within the deadline, read by day through `by-day`."""

    def __init__(self, table: str) -> None:
        self.table = table

    def write(self, records: Sequence[DecisionRecord], *, deadline: float | None) -> None:
        """Write the records (one: conditional PutItem; more: BatchWriteItem), or raise AuditUnavailableError."""
        from botocore.exceptions import BotoCoreError, ClientError

        items = [to_item(r) for r in records]
        written = 0
        try:
            if len(records) == 1 and records[0].batch_index is None:
                ensure_time_for(1, deadline=deadline)
                client_before(deadline).put_item(
                    TableName=self.table,
                    Item=items[0],
                    ConditionExpression="attribute_not_exists(request_id)",
                )
                return
            for start in range(0, len(items), BATCH_WRITE_SIZE):
                ensure_time_for(math.ceil((len(items) - start) / BATCH_WRITE_SIZE), deadline=deadline)
                self._write_chunk(items[start : start + BATCH_WRITE_SIZE], deadline=deadline)
                written = min(start + BATCH_WRITE_SIZE, len(items))
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "ClientError")
            raise AuditUnavailableError(
                f"DynamoDB refused the call ({code}){_partial(written, items)}"
            ) from err
        except BotoCoreError as err:
            raise AuditUnavailableError(
                f"DynamoDB did not answer ({type(err).__name__}){_partial(written, items)}"
            ) from err
        except AuditUnavailableError as err:
            raise AuditUnavailableError(f"{err}{_partial(written, items)}") from err

    def _write_chunk(self, chunk: list[dict[str, Any]], *, deadline: float | None) -> None:
        requests = [{"PutRequest": {"Item": item}} for item in chunk]
        for attempt in range(UNPROCESSED_RETRIES + 1):
            if attempt:
                ensure_time_for(1, deadline=deadline)
            response = client_before(deadline).batch_write_item(RequestItems={self.table: requests})
            requests = response.get("UnprocessedItems", {}).get(self.table, [])
            if not requests:
                return
            if attempt < UNPROCESSED_RETRIES:
                time.sleep(0.05 * 2**attempt)  # DynamoDB asks callers to back off before resending
        raise AuditUnavailableError(f"DynamoDB left {len(requests)} audit items unprocessed (throttled)")

    def read_day(self, day: str, *, since: str) -> Iterator[StoredBins]:
        """Yield the bins of one UTC day's decisions at or after `since`: a Query per shard of the `by-day` index."""
        for shard in range(DAY_SHARDS):
            yield from self._read_shard(f"{day}#{shard}", since=since)

    def _read_shard(self, key: str, *, since: str) -> Iterator[StoredBins]:
        pages = (
            dynamodb()
            .get_paginator("query")
            .paginate(
                TableName=self.table,
                IndexName=DAY_INDEX,
                KeyConditionExpression="#day = :day AND #at >= :since",
                ProjectionExpression="#version, #synthetic, #bins",
                ExpressionAttributeNames={
                    "#day": "decided_day",
                    "#at": "decided_at",
                    "#version": "model_version",
                    "#synthetic": "synthetic",
                    "#bins": "bins",
                },
                ExpressionAttributeValues={":day": {"S": key}, ":since": {"S": since}},
            )
        )
        for page in pages:
            for item in page["Items"]:
                bins = item.get("bins", {}).get("M")
                yield StoredBins(
                    model_version=item["model_version"]["S"],
                    synthetic=item.get("synthetic", {}).get("BOOL", False),
                    bins=None if bins is None else {name: int(value["N"]) for name, value in bins.items()},
                )


def _partial(written: int, items: Sequence[object]) -> str:
    return f"; {written} of {len(items)} records of this request were written before" if written else ""


@lru_cache(maxsize=1)
def decision_store() -> DecisionStore:
    """Return the configured store: the DynamoDB table (AUDIT_TABLE), else the SQLite log (DECISION_LOG)."""
    settings = get_settings()
    if settings.audit_table is not None:
        return DynamoDecisionTable(settings.audit_table)
    if settings.decision_log is not None:
        return SqliteDecisionLog(settings.decision_log)
    raise AuditUnavailableError("neither AUDIT_TABLE nor DECISION_LOG is set")


def reset() -> None:
    """Forget the cached clients, store and key (tests, or after changing the environment)."""
    dynamodb.cache_clear()
    dynamodb_capped.cache_clear()
    decision_store.cache_clear()
    hash_key.cache_clear()


def record_decisions(
    decisions: "Sequence[Decision]",
    canonical_inputs: Sequence[bytes],
    *,
    request_id: str,
    model_version: str,
    batch: bool,
    synthetic: bool = False,
    bins: Sequence[Bins] | None = None,
    deadline: float | None = None,
) -> None:
    """Record one decision per input before `deadline` (time.monotonic), or raise AuditUnavailableError."""
    decided_at = datetime.now(UTC).isoformat(timespec="milliseconds")
    key = hash_key()
    records = [
        DecisionRecord(
            key=f"{request_id}#{i}" if batch else request_id,
            request_id=request_id,
            decided_at=decided_at,
            model_version=model_version,
            input_hash=input_hash(canonical, key=key.secret),
            hash_key_version=key.version,
            decision=decision,
            batch_index=i if batch else None,
            synthetic=synthetic,
            bins=None if bins is None else bins[i],
        )
        for i, (decision, canonical) in enumerate(zip(decisions, canonical_inputs, strict=True))
    ]
    decision_store().write(records, deadline=deadline)
