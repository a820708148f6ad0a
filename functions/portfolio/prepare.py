"""The portfolio state machine's first step: split the input object into shard objects and Map items.

It streams the input object once (hashing it) through the client-file reader (any accepted encoding, delimiter
and title rows), writes UTF-8, comma-separated shard objects of `shard_rows` rows with the header, and a
JSON list of Map items. Only keys cross the payloads.
"""

import csv
import io
import json
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from functions.clientfiles.rows import ClientFileError, stream_cells, text_lines
from functions.portfolio.shard import HashingReader, ShardItem, s3_client
from functions.telemetry import logger, start_invocation

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


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Split s3://bucket/key into shard objects and a JSON list of Map items; return where the list is."""
    start_invocation(context)
    request = PrepareRequest.model_validate(event)
    s3 = s3_client()
    body = s3.get_object(Bucket=request.bucket, Key=request.key)["Body"]
    hashed = HashingReader(body)
    # any accepted encoding, delimiter and title rows; ClientFileError fails the run, saying what is wrong
    layout, cells = stream_cells(text_lines(hashed, name=request.key), name=request.key)
    items: list[dict[str, Any]] = []
    shard: list[list[str]] = [list(layout.header)]  # shards are UTF-8, comma-separated, header first
    filled, rows, first_line = 0, 0, layout.first_line

    def flush() -> None:
        item = _item(request, len(items), first_line)
        s3.put_object(
            Bucket=request.output_bucket, Key=item["key"], Body=_text(shard), ContentType="text/csv"
        )
        items.append(item)

    for line, row in enumerate(cells, start=layout.first_line):
        if filled == 0:
            first_line = line
        shard.append(row)  # blank lines stay, so the shard's rows keep the file's line numbers
        if any(c.strip() for c in row):
            filled, rows = filled + 1, rows + 1
        if filled == request.shard_rows:
            flush()
            shard, filled = [list(layout.header)], 0
    if filled:
        flush()
    if not items:
        raise ClientFileError(f"{request.key}: no client rows")
    shards_key = f"{SHARDS}/{request.run}/items.json"
    s3.put_object(Bucket=request.output_bucket, Key=shards_key, Body=json.dumps(items).encode())
    logger.info("book split into shards", extra={"run": request.run, "rows": rows, "shards": len(items)})
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
