"""The portfolio state machine's last step: read each shard's summary, write the book's summary and result list.

Shards that left no summary are reported; the ordered list of scored objects is written beside the summary.
"""

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from functions.portfolio.counts import BookCounts, book_drift
from functions.portfolio.prepare import RESULTS
from functions.portfolio.shard import ShardItem, s3_client, serving_model
from functions.telemetry import logger, start_invocation


class SummariseRequest(BaseModel):
    """What `prepare` returned, plus the execution's start time (ISO 8601)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    run: str
    bucket: str
    shards_key: str
    input: str
    input_sha256: str
    rows: int
    started: datetime


def _shard_summary(bucket: str, item: ShardItem) -> dict[str, Any] | None:
    s3 = s3_client()
    try:
        summary: dict[str, Any] = json.loads(
            s3.get_object(Bucket=bucket, Key=item.summary_key)["Body"].read()
        )
    except s3.exceptions.NoSuchKey:
        return None
    return summary


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Total the shards' summaries, name the shards that failed, write summary.json and results.json."""
    start_invocation(context)
    request = SummariseRequest.model_validate(event)
    s3 = s3_client()
    items = [
        ShardItem.model_validate(i)
        for i in json.loads(s3.get_object(Bucket=request.bucket, Key=request.shards_key)["Body"].read())
    ]
    book, versions = BookCounts(), set[str]()
    results: list[str] = []
    failed: list[dict[str, Any]] = []
    for item in items:
        summary = _shard_summary(request.bucket, item)
        if summary is None:
            shard = f"s3://{item.bucket}/{item.key}"
            failed.append({"index": item.index, "shard": shard, "first_line": item.first_line})
            continue
        book.add(BookCounts.from_summary(summary))
        versions.add(summary["model_version"])
        results.append(f"s3://{request.bucket}/{item.result_key}")
    prefix = f"{RESULTS}/{request.run}"
    manifest = serving_model().manifest  # the image's model scored every shard; its reference is the baseline
    same_model = versions <= {manifest.version}
    report = book.report() | {
        "drift": book_drift(book, manifest.reference) if same_model else None,
        "expected_rows": request.rows,
        "missing_rows": request.rows - book.rows,
        "shards": len(items),
        "failed_shards": failed,
        "model_version": ", ".join(sorted(versions)),
        "input": request.input,
        "input_sha256": request.input_sha256,
        "duration_seconds": round((datetime.now(UTC) - request.started).total_seconds(), 3),
        "results": f"s3://{request.bucket}/{prefix}/results.json",
    }
    s3.put_object(Bucket=request.bucket, Key=f"{prefix}/results.json", Body=json.dumps(results).encode())
    s3.put_object(
        Bucket=request.bucket, Key=f"{prefix}/summary.json", Body=json.dumps(report, indent=2).encode()
    )
    if failed:
        logger.error("shards failed", extra={"run": request.run, "failed_shards": failed})
    return {
        "summary": f"s3://{request.bucket}/{prefix}/summary.json",
        "results": report["results"],
        "rows": book.rows,
        "failed_shards": len(failed),
    }
