"""Score one chunk of a client file into scored CSV text and a small summary; the Map step's shard handler.

The local command (functions/portfolio/cli.py) and the Step Functions shard Lambda score with the same function,
`score_client_rows`, so a book scored either way gives the same rows. Rows travel in S3 objects, never in payloads.
"""

import csv
import hashlib
import io
import json
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO, Final

import numpy as np
from pydantic import BaseModel, ConfigDict

from functions import aws
from functions.clientfiles.cells import neutralise
from functions.clientfiles.layout import decode
from functions.clientfiles.rows import (
    ClientFileError,
    ClientRow,
    Layout,
    check_cells,
    data_rows,
    stream_cells,
)
from functions.config import get_settings
from functions.portfolio.counts import BookCounts
from functions.scoring.bins import BinCounts
from functions.scoring.contract import FEATURES
from functions.scoring.model import Decision, ScoringModel, load_model
from functions.scoring.reasons import MAX_REASONS
from functions.telemetry import logger, start_invocation

SCORE_COLUMNS: Final = (
    "probability_of_default",
    "score",
    "risk_grade",
    "predicted_default",
    *(f"reason_{k}" for k in range(1, MAX_REASONS + 1)),
    *(f"impact_{k}" for k in range(1, MAX_REASONS + 1)),
    "error",
)


class HashingReader(io.RawIOBase):
    """A binary reader that hashes (sha256) and counts the bytes read through it."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw, self.sha256, self.bytes_read = raw, hashlib.sha256(), 0

    def readable(self) -> bool:
        """Return True: this is a reader."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill `buffer` from the underlying reader; hash and count what was read."""
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.sha256.update(data)
        self.bytes_read += len(data)
        return len(data)


class ShardError(RuntimeError):
    """A shard object cannot be read as clients (missing, not text, no header): Step Functions retries it."""


def output_header(layout: Layout) -> list[str]:
    """Return the scored file's columns: ID when the input has one, then the score columns."""
    return (["ID"] if layout.id_at is not None else []) + list(SCORE_COLUMNS)


def _cells(row: ClientRow, decision: Decision | None, *, with_id: bool) -> list[str]:
    head = [neutralise(row.client_id or "")] if with_id else []  # text a client file sent: no live formulas
    if decision is None:
        return head + [""] * (len(SCORE_COLUMNS) - 1) + [neutralise(row.error)]
    reasons = list(decision.reasons) + [None] * (MAX_REASONS - len(decision.reasons))
    return [
        *head,
        repr(decision.probability_of_default),  # shortest exact repr: the API's float, bit for bit
        str(decision.score),
        decision.risk_grade,
        "1" if decision.predicted_default else "0",
        *(reason.code if reason else "" for reason in reasons),
        *(f"{reason.impact:.6f}" if reason else "" for reason in reasons),
        "",
    ]


def score_client_rows(
    model: ScoringModel, layout: Layout, numbered: Iterable[tuple[int, list[str]]]
) -> tuple[str, BookCounts]:
    """Check and score (line, cells) rows; return their scored CSV lines (no header) in order and their counts."""
    rows = [check_cells(cells, layout, line) for line, cells in numbered]
    valid = [row for row in rows if row.valid]
    raw = np.asarray([row.values for row in valid], dtype=np.float64).reshape(len(valid), len(FEATURES))
    assessed = model.assess(raw) if valid else []
    points = np.asarray([decision.score for decision in assessed], dtype=np.float64)
    bins = BinCounts.of_rows(raw, points, model.manifest.reference)
    counts = BookCounts(rows=len(rows), scored=len(valid), invalid=len(rows) - len(valid), bins=bins)
    decisions = iter(assessed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        decision = next(decisions) if row.valid else None
        if decision is not None:
            counts.grades[decision.risk_grade] = counts.grades.get(decision.risk_grade, 0) + 1
            counts.sum_probability_of_default += decision.probability_of_default
        writer.writerow(_cells(row, decision, with_id=layout.id_at is not None))
    return out.getvalue(), counts


class ShardItem(BaseModel):
    """One Map item, as the prepare step listed it: where the shard is, its file lines, where results go."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bucket: str
    key: str
    index: int
    first_line: int
    output_bucket: str
    result_key: str
    summary_key: str


@lru_cache(maxsize=1)
def serving_model(model_dir: Path | None = None) -> ScoringModel:
    """Load the image's model once per container (or process)."""
    return load_model(model_dir or get_settings().model_dir)


@lru_cache(maxsize=1)
def s3_client() -> Any:
    """Return one S3 client per container (functions/aws.py: short timeouts, bounded retries)."""
    return aws.client("s3")


def score_shard(item: ShardItem, text: str) -> tuple[str, BookCounts]:
    """Score a shard's CSV text (header first); its rows keep the input file's line numbers."""
    try:
        layout, cells = stream_cells(io.StringIO(text, newline=""), name=item.key)
    except ClientFileError as err:
        raise ShardError(str(err)) from err
    rows = data_rows(cells, layout, start=item.first_line)
    body, counts = score_client_rows(serving_model(), layout, rows)
    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow(output_header(layout))
    return header.getvalue() + body, counts


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Read one shard from S3, score it, write the scored shard and its summary; return the summary."""
    start_invocation(context)
    item = ShardItem.model_validate(event)
    s3 = s3_client()
    try:
        text = decode(s3.get_object(Bucket=item.bucket, Key=item.key)["Body"].read(), name=item.key)
    except (s3.exceptions.NoSuchKey, ClientFileError) as err:
        logger.exception("shard unreadable", extra={"shard": item.key, "index": item.index})
        raise ShardError(f"s3://{item.bucket}/{item.key}: cannot be read as clients ({err})") from err
    scored, counts = score_shard(item, text)
    s3.put_object(
        Bucket=item.output_bucket, Key=item.result_key, Body=scored.encode(), ContentType="text/csv"
    )
    summary = {"index": item.index, "result_key": item.result_key, "model_version": serving_model().version}
    summary |= counts.to_json()
    s3.put_object(Bucket=item.output_bucket, Key=item.summary_key, Body=json.dumps(summary).encode())
    return summary
