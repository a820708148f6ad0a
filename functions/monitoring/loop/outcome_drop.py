"""The S3 drop of outcome files on AWS: a lender puts a CSV under outcomes/ in the drop bucket, this Lambda
records it into the audit table and writes `<key>.result.json` beside it.

The file is read and checked as `make outcomes` reads it (`outcome_file.parse_outcomes`, streamed line by
line, at most DROP_MAX_LINES lines), then recorded through the outcome store (`functions.audit.outcomes`
rules: idempotent, a conflicting file refused whole naming its keys, unknown keys listed, synthetic decisions
skipped). A bad or conflicting file records nothing and is answered in its result object, never with a
traceback. A fault of AWS (S3 or DynamoDB unreachable, throttled, denied) raises DropUnavailableError: Lambda
retries the event twice and the Errors alarm notifies; a retry records what is still missing and counts
the rest as already recorded. It accepts S3's own notification (`Records`, events/s3-put-outcomes.json) and
S3's EventBridge "Object Created" event (what template.yaml wires, events/eventbridge-outcomes.json).
"""

import codecs
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final
from urllib.parse import unquote_plus

from functions import aws
from functions.audit.decision import AuditUnavailableError
from functions.audit.feedback import outcome_store
from functions.audit.outcomes import Outcome, OutcomeConflictError, OutcomeReceipt
from functions.monitoring.loop.outcome_file import OutcomeFileError, check_size, parse_outcomes
from functions.telemetry import emit_event_metric, emit_job_metrics, logger, start_invocation

DROP_PREFIX: Final = "outcomes/"
DROP_SUFFIX: Final = ".csv"
RESULT_SUFFIX: Final = ".result.json"
# Each new outcome is one conditional UpdateItem, one after another: this many lines keep a file of new
# outcomes inside the function's 900 s timeout with room to spare. Larger months go in several files.
DROP_MAX_LINES: Final = 100_000
MAX_RESULT_KEYS: Final = 1_000  # keys and problems listed in a result object; its counts give the totals
ROUTE: Final = "drop:outcomes"
GONE: Final = ("NoSuchKey", "NoSuchVersion")  # S3's answers for an object deleted before it was read


class DropUnavailableError(RuntimeError):
    """S3 or the audit table failed (not the file): raised so that Lambda retries and the alarm fires."""


@dataclass(frozen=True)
class DroppedFile:
    """One object named by an event: its bucket, key (decoded) and version, if the bucket keeps versions."""

    bucket: str
    key: str
    version_id: str | None = None


def named(place: Any, *, version_field: str, url_encoded: bool) -> DroppedFile | None:
    """Return the object named by an event's `s3` (or EventBridge `detail`) part, or None if it names none."""
    if not isinstance(place, dict):
        return None
    bucket, found = place.get("bucket"), place.get("object")
    if not (isinstance(bucket, dict) and isinstance(found, dict)):
        return None
    name, key, version = bucket.get("name"), found.get("key"), found.get(version_field)
    if not (isinstance(name, str) and isinstance(key, str)):
        return None
    # S3 notifications URL-encode the key (a space arrives as "+"); EventBridge's detail does not
    return DroppedFile(
        name, unquote_plus(key) if url_encoded else key, version if isinstance(version, str) else None
    )


def dropped_files(event: Any) -> list[DroppedFile]:
    """Return the objects an S3 notification (`Records`) or an EventBridge "Object Created" event names."""
    if not isinstance(event, dict):
        return []
    records = event.get("Records")
    records = records if isinstance(records, list) else []
    found = [
        named(r.get("s3"), version_field="versionId", url_encoded=True)
        for r in records
        if isinstance(r, dict)
    ]
    if event.get("detail-type") == "Object Created":
        found.append(named(event.get("detail"), version_field="version-id", url_encoded=False))
    return [f for f in found if f is not None]


def is_outcome_file(key: str) -> bool:
    """Whether a key is an outcome file to record: under outcomes/, ending .csv (never a result object)."""
    return key.startswith(DROP_PREFIX) and key.endswith(DROP_SUFFIX)


def read_dropped(s3: Any, dropped: DroppedFile, *, today: date) -> list[Outcome]:
    """Stream the object through the outcome file's checks; raises OutcomeFileError (the file) or botocore's
    errors (S3), before anything is recorded."""
    version = {"VersionId": dropped.version_id} if dropped.version_id else {}
    answer = s3.get_object(Bucket=dropped.bucket, Key=dropped.key, **version)
    name = dropped.key.rsplit("/", 1)[-1]
    try:
        check_size(name, int(answer["ContentLength"]), max_lines=DROP_MAX_LINES)
        lines: Iterator[str] = codecs.iterdecode(answer["Body"].iter_lines(keepends=True), "utf-8-sig")
        return parse_outcomes(lines, name=name, today=today, max_lines=DROP_MAX_LINES)
    finally:
        answer["Body"].close()


def result_of(
    dropped: DroppedFile, *, receipt: OutcomeReceipt | None, refusal: Exception | None
) -> dict[str, Any]:
    """Build the result object the lender reads: counts and keys recorded, or why nothing was."""
    result: dict[str, Any] = {
        "file": dropped.key,
        "version_id": dropped.version_id,
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "status": "recorded" if receipt is not None else "refused",
    }
    if receipt is not None:
        result |= {
            "recorded": len(receipt.recorded),
            "already_recorded": len(receipt.unchanged),
            "synthetic_skipped": len(receipt.synthetic),
            "unknown": len(receipt.unknown),
            "unknown_keys": receipt.unknown[:MAX_RESULT_KEYS],
        }
    elif isinstance(refusal, OutcomeConflictError):
        result |= {
            "recorded": 0,
            "message": f"{refusal}; nothing was recorded. An outcome once recorded is not changed.",
            "conflicts": len(refusal.keys),
            "conflicting_keys": refusal.keys[:MAX_RESULT_KEYS],
        }
    elif isinstance(refusal, OutcomeFileError):
        result |= {"recorded": 0, "message": str(refusal), "problems": refusal.problems[:MAX_RESULT_KEYS]}
    return result


def record_dropped(s3: Any, dropped: DroppedFile) -> dict[str, Any]:
    """Record one dropped file and write its result object; return the result (status "gone", none written,
    for a file deleted before it was read). Raises DropUnavailableError for a fault of S3 or DynamoDB."""
    from botocore.exceptions import BotoCoreError, ClientError

    receipt, refusal = None, None
    try:
        outcomes = read_dropped(s3, dropped, today=datetime.now(UTC).date())
        receipt = outcome_store().record_outcomes(outcomes)
    except (OutcomeFileError, OutcomeConflictError) as err:
        refusal = err  # the lender's to fix: said in the result object, no retry
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") not in GONE:
            logger.exception("outcome file not recorded", extra={"file": dropped.key})
            raise DropUnavailableError(
                f"{dropped.key}: {type(err).__name__}; Lambda retries the event"
            ) from err
        # deleted (or its version) before it was read: nothing to record, nowhere to answer, a retry cannot help
        logger.warning("outcome file gone before it was read", extra={"file": dropped.key})
        return {"file": dropped.key, "version_id": dropped.version_id, "status": "gone"}
    except (BotoCoreError, AuditUnavailableError) as err:
        logger.exception("outcome file not recorded", extra={"file": dropped.key})
        raise DropUnavailableError(f"{dropped.key}: {type(err).__name__}; Lambda retries the event") from err
    result = result_of(dropped, receipt=receipt, refusal=refusal)
    try:
        s3.put_object(
            Bucket=dropped.bucket,
            Key=dropped.key + RESULT_SUFFIX,
            Body=json.dumps(result, indent=2).encode(),
            ContentType="application/json",
        )
    except (BotoCoreError, ClientError) as err:
        logger.exception("result object not written", extra={"file": dropped.key})
        raise DropUnavailableError(f"{dropped.key}: result not written ({type(err).__name__})") from err
    return result


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Record each outcome file the event names and write its result beside it; return the results."""
    start_invocation(context)
    files = [f for f in dropped_files(event) if is_outcome_file(f.key)]
    if not files:
        logger.warning("no outcome file in the event", extra={"keys": [f.key for f in dropped_files(event)]})
        emit_event_metric("other")
        return {"results": []}
    s3 = aws.client("s3")
    results = []
    for dropped in files:
        result = record_dropped(s3, dropped)
        counts = {k: v for k, v in result.items() if isinstance(v, int)}
        logger.info("outcome file checked", extra={"file": dropped.key, "status": result["status"], **counts})
        emit_job_metrics(
            {
                "OutcomesRecorded": ("Count", float(result.get("recorded", 0))),
                "OutcomesAlreadyRecorded": ("Count", float(result.get("already_recorded", 0))),
                "OutcomeKeysUnknown": ("Count", float(result.get("unknown", 0))),
                "OutcomeFilesRefused": ("Count", float(result["status"] == "refused")),
            },
            route=ROUTE,
        )
        results.append(result)
    return {"results": results}
