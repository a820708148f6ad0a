"""Score one chunk of a client file into scored CSV text and a small summary; the Map step's shard handler.

The local command (functions/portfolio/cli.py) and the Step Functions shard Lambda score with the same function,
`score_client_rows`, so a book scored either way gives the same rows. Rows travel in S3 objects, never in payloads.
"""

import csv
import hashlib
import io
import json
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache, reduce
from operator import add
from pathlib import Path
from typing import Any, BinaryIO, Final

import numpy as np
from pydantic import BaseModel, ConfigDict

from functions import aws
from functions.clientfiles.chunks import check_book_piece
from functions.clientfiles.layout import decode
from functions.clientfiles.rows import (
    ClientFileError,
    Layout,
    data_rows,
    stream_cells,
)
from functions.config import get_settings
from functions.portfolio.counts import BookCounts
from functions.portfolio.decisions import STRATEGY_COLUMNS, book_strategy, strategy_totals
from functions.portfolio.lines import book_lines, scored_lines
from functions.scoring.bins import BinCounts
from functions.scoring.model import ScoringModel, grades_of, load_model, points_of
from functions.scoring.reasons import MAX_REASONS
from functions.scoring.strategy.engine import DEFAULT_FILE, Strategy
from functions.telemetry import logger, start_invocation

SCORE_COLUMNS: Final = (
    "probability_of_default",
    "score",
    "risk_grade",
    "predicted_default",
    *(f"reason_{k}" for k in range(1, MAX_REASONS + 1)),
    *(f"impact_{k}" for k in range(1, MAX_REASONS + 1)),
    *(f"statement_{k}" for k in range(1, MAX_REASONS + 1)),
    *STRATEGY_COLUMNS,
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


def score_client_rows(
    model: ScoringModel, strategy: Strategy, layout: Layout, numbered: Iterable[tuple[int, list[str]]]
) -> tuple[str, BookCounts]:
    """Check, score and decide (line, cells) rows; return their scored CSV lines (no header) in order and counts.

    The lines are those `csv.writer` wrote row by row from the API's decisions, built a chunk at a time.
    """
    piece = check_book_piece(list(numbered), layout)
    raw = piece.raw
    probabilities, ranked = model.rank(raw) if len(raw) else (np.empty(0), None)
    pds = probabilities.tolist()
    points = points_of(
        probabilities, model.manifest.score_scaling
    )  # the API's points and grades, a chunk at once
    scores, grades = points.astype(np.int64).tolist(), grades_of(probabilities, model.manifest)
    bins = BinCounts.of_rows(raw, points, model.manifest.reference)
    rows, invalid = len(piece.ids), len(piece.invalid)
    counts = BookCounts(rows=rows, scored=rows - invalid, invalid=invalid, bins=bins)
    outcomes = strategy.apply(raw, probabilities)
    counts.strategy = strategy_totals(outcomes, raw)
    counts.grades = dict(Counter(grades))  # in order of first appearance, as row by row
    counts.sum_probability_of_default = reduce(add, pds, 0.0)  # left to right, as row by row
    flags = np.where(probabilities >= model.threshold, "1", "0").tolist()  # `decide`, a chunk at once
    scored = scored_lines(pds, scores, grades, flags, ranked, outcomes) if ranked else []
    with_id = layout.id_at is not None
    return book_lines(piece, scored, with_id=with_id, width=len(SCORE_COLUMNS)), counts


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


def serving_strategy(model_dir: Path | None = None) -> Strategy:
    """Load the strategy once per container (or process): STRATEGY_FILE, else the one beside the model."""
    settings = get_settings()
    path = settings.strategy_file or (model_dir or settings.model_dir) / DEFAULT_FILE
    return book_strategy(path, serving_model(model_dir).manifest)


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
    body, counts = score_client_rows(serving_model(), serving_strategy(), layout, rows)
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
    summary["strategy_version"] = serving_strategy().version
    summary |= counts.to_json()
    s3.put_object(Bucket=item.output_bucket, Key=item.summary_key, Body=json.dumps(summary).encode())
    return summary
