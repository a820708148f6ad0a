"""The portfolio state machine's first and last steps: split the input object into shards, then summarise.

`prepare` streams the input object once (hashing it), writes shard objects of `shard_rows` rows with the
header, and a JSON list of Map items; `summarise` reads each shard's summary object, reports the shards that
left none, and writes the book's summary and the ordered list of scored objects. Only keys cross the payloads.
"""

import csv
import io
import json
import logging
from datetime import UTC, datetime
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from functions.clientfile import ClientFileError, read_layout
from functions.shards import HashingReader, ShardItem, Tally, book_drift, s3_client, serving_model

logger = logging.getLogger(__name__)

SHARDS: Final = "shards"
RESULTS: Final = "results"


class PrepareRequest(BaseModel):
    """What the state machine passes to `prepare` (numbers arrive as strings from DefinitionSubstitutions)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    bucket: str
    key: str
    run: str
    output_bucket: str
    shard_rows: int = Field(default=20_000, ge=100, le=200_000)
    max_concurrency: int = Field(default=10, ge=1, le=1_000)


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


def _text(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def _item(request: PrepareRequest, index: int, first_line: int) -> dict[str, Any]:
    part = f"part-{index:05d}"
    return ShardItem(
        bucket=request.output_bucket,
        key=f"{SHARDS}/{request.run}/{part}.csv",
        index=index,
        first_line=first_line,
        output_bucket=request.output_bucket,
        result_key=f"{RESULTS}/{request.run}/{part}.csv",
        summary_key=f"{RESULTS}/{request.run}/{part}.json",
    ).model_dump()


def prepare(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Split s3://bucket/key into shard objects and a JSON list of Map items; return where the list is."""
    request = PrepareRequest.model_validate(event)
    s3 = s3_client()
    body = s3.get_object(Bucket=request.bucket, Key=request.key)["Body"]
    hashed = HashingReader(body)
    reader = csv.reader(io.TextIOWrapper(io.BufferedReader(hashed), encoding="utf-8-sig", newline=""))
    layout = read_layout(
        reader, name=request.key
    )  # ClientFileError fails the run, naming the missing columns
    items: list[dict[str, Any]] = []
    shard: list[list[str]] = [list(layout.header)]
    filled, rows, first_line = 0, 0, layout.first_line

    def flush() -> None:
        item = _item(request, len(items), first_line)
        s3.put_object(
            Bucket=request.output_bucket, Key=item["key"], Body=_text(shard), ContentType="text/csv"
        )
        items.append(item)

    try:
        for line, cells in enumerate(reader, start=layout.first_line):
            if filled == 0:
                first_line = line
            shard.append(cells)  # blank lines stay, so the shard's rows keep the file's line numbers
            if any(c.strip() for c in cells):
                filled, rows = filled + 1, rows + 1
            if filled == request.shard_rows:
                flush()
                shard, filled = [list(layout.header)], 0
    except UnicodeDecodeError as err:
        raise ClientFileError(f"{request.key}: not UTF-8 text ({err}); save it as UTF-8 CSV") from err
    if filled:
        flush()
    if not items:
        raise ClientFileError(f"{request.key}: no client rows")
    shards_key = f"{SHARDS}/{request.run}/items.json"
    s3.put_object(Bucket=request.output_bucket, Key=shards_key, Body=json.dumps(items).encode())
    logger.info("run %s: %d rows in %d shards", request.run, rows, len(items))
    return {
        "run": request.run,
        "bucket": request.output_bucket,
        "shards_key": shards_key,
        "shards": len(items),
        "rows": rows,
        "input": f"s3://{request.bucket}/{request.key}",
        "input_sha256": hashed.sha256.hexdigest(),
        "max_concurrency": request.max_concurrency,
    }


def _shard_summary(bucket: str, item: ShardItem) -> dict[str, Any] | None:
    s3 = s3_client()
    try:
        summary: dict[str, Any] = json.loads(
            s3.get_object(Bucket=bucket, Key=item.summary_key)["Body"].read()
        )
    except s3.exceptions.NoSuchKey:
        return None
    return summary


def summarise(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Total the shards' summaries, name the shards that failed, write summary.json and results.json."""
    request = SummariseRequest.model_validate(event)
    s3 = s3_client()
    items = [
        ShardItem.model_validate(i)
        for i in json.loads(s3.get_object(Bucket=request.bucket, Key=request.shards_key)["Body"].read())
    ]
    tally, versions = Tally(), set[str]()
    results: list[str] = []
    failed: list[dict[str, Any]] = []
    for item in items:
        summary = _shard_summary(request.bucket, item)
        if summary is None:
            shard = f"s3://{item.bucket}/{item.key}"
            failed.append({"index": item.index, "shard": shard, "first_line": item.first_line})
            continue
        tally.add(Tally.from_summary(summary))
        versions.add(summary["model_version"])
        results.append(f"s3://{request.bucket}/{item.result_key}")
    prefix = f"{RESULTS}/{request.run}"
    manifest = serving_model().manifest  # the image's model scored every shard; its reference is the baseline
    same_model = versions <= {manifest.version}
    report = tally.report() | {
        "drift": book_drift(tally, manifest.reference) if same_model else None,
        "expected_rows": request.rows,
        "missing_rows": request.rows - tally.rows,
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
        logger.error("run %s: %d shard(s) failed: %s", request.run, len(failed), failed)
    return {
        "summary": f"s3://{request.bucket}/{prefix}/summary.json",
        "results": report["results"],
        "rows": tally.rows,
        "failed_shards": len(failed),
    }
