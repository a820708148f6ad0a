"""Score one chunk of a client file into scored CSV text and a small summary; the Map step's shard handler.

The local command (functions/portfolio/cli.py) and the Step Functions shard Lambda score with the same function,
`score_chunk`, so a book scored either way gives the same rows. Rows travel in S3 objects, never in payloads.
"""

import csv
import hashlib
import io
import json
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO, Final

import boto3
import numpy as np
from pydantic import BaseModel, ConfigDict

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
from functions.monitoring.psi import drift_of_shares
from functions.monitoring.tables import drift_json
from functions.scoring.contract import FEATURES
from functions.scoring.manifest_parts import ReferenceDistributions
from functions.scoring.model import Decision, ScoringModel, load_model
from functions.scoring.reasons import MAX_REASONS
from functions.scoring.reference import Vector, bin_index

logger = logging.getLogger(__name__)

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


@dataclass
class Tally:
    """Counts of one chunk, shard or book: rows, scored, invalid, per grade, the sum of PDs (for the mean),
    and the scored rows per reference bin of each input and of the score (for PSI; empty without a reference)."""

    rows: int = 0
    scored: int = 0
    invalid: int = 0
    grades: dict[str, int] = field(default_factory=dict)
    sum_probability_of_default: float = 0.0
    bins: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def from_summary(cls, summary: dict[str, Any]) -> "Tally":
        """Read the counts back from a shard's summary (its other keys are ignored)."""
        return cls(
            rows=summary["rows"],
            scored=summary["scored"],
            invalid=summary["invalid"],
            grades=dict(summary["grades"]),
            sum_probability_of_default=summary["sum_probability_of_default"],
            bins={name: list(counts) for name, counts in summary["bins"].items()},
        )

    def add(self, other: "Tally") -> None:
        """Add another tally's counts to this one."""
        self.rows += other.rows
        self.scored += other.scored
        self.invalid += other.invalid
        self.sum_probability_of_default += other.sum_probability_of_default
        for grade, count in other.grades.items():
            self.grades[grade] = self.grades.get(grade, 0) + count
        for name, counts in other.bins.items():
            mine = self.bins.get(name, [0] * len(counts))
            self.bins[name] = [a + b for a, b in zip(mine, counts, strict=True)]

    def report(self) -> dict[str, Any]:
        """Return the counts with the mean PD over scored rows (None when none was scored), grades sorted."""
        mean = self.sum_probability_of_default / self.scored if self.scored else None
        return {
            "rows": self.rows,
            "scored": self.scored,
            "invalid": self.invalid,
            "grades": dict(sorted(self.grades.items())),
            "mean_probability_of_default": mean,
        }


def count_bins(raw: Vector, points: Vector, reference: ReferenceDistributions | None) -> dict[str, list[int]]:
    """Count rows per reference bin of each input (rows x 23 raw inputs) and of the score points; {} without one."""
    if reference is None:
        return {}
    columns = [*zip(reference.inputs, raw.T, strict=True), (reference.score, points)]
    return {
        bins.name: np.bincount(bin_index(values, bins), minlength=len(bins.shares)).tolist()
        for bins, values in columns
    }


def book_drift(tally: Tally, reference: ReferenceDistributions | None) -> dict[str, Any] | None:
    """Return the scored rows' PSI and verdict per input and on the score, shaped as `monitoring drift --format
    json`; None without a reference or a scored row."""
    if reference is None or not tally.scored or not tally.bins:
        return None
    drifts = [
        drift_of_shares(
            np.asarray(tally.bins[bins.name], dtype=np.float64) / tally.scored, bins, floor=reference.floor
        )
        for bins in (*reference.inputs, reference.score)
    ]
    return drift_json(drifts, rows=tally.scored)


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


def score_chunk(
    model: ScoringModel, layout: Layout, numbered: Iterable[tuple[int, list[str]]]
) -> tuple[str, Tally]:
    """Check and score (line, cells) rows; return their scored CSV lines (no header) in order and their tally."""
    rows = [check_cells(cells, layout, line) for line, cells in numbered]
    valid = [row for row in rows if row.valid]
    raw = np.asarray([row.values for row in valid], dtype=np.float64).reshape(len(valid), len(FEATURES))
    assessed = model.assess(raw) if valid else []
    points = np.asarray([decision.score for decision in assessed], dtype=np.float64)
    bins = count_bins(raw, points, model.manifest.reference)
    tally = Tally(rows=len(rows), scored=len(valid), invalid=len(rows) - len(valid), bins=bins)
    decisions = iter(assessed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        decision = next(decisions) if row.valid else None
        if decision is not None:
            tally.grades[decision.risk_grade] = tally.grades.get(decision.risk_grade, 0) + 1
            tally.sum_probability_of_default += decision.probability_of_default
        writer.writerow(_cells(row, decision, with_id=layout.id_at is not None))
    return out.getvalue(), tally


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
    """Return one S3 client per container."""
    return boto3.client("s3")


def score_shard(item: ShardItem, text: str) -> tuple[str, Tally]:
    """Score a shard's CSV text (header first); its rows keep the input file's line numbers."""
    try:
        layout, cells = stream_cells(io.StringIO(text, newline=""), name=item.key)
    except ClientFileError as err:
        raise ShardError(str(err)) from err
    rows = data_rows(cells, layout, start=item.first_line)
    body, tally = score_chunk(serving_model(), layout, rows)
    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow(output_header(layout))
    return header.getvalue() + body, tally


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Read one shard from S3, score it, write the scored shard and its summary; return the summary."""
    item = ShardItem.model_validate(event)
    s3 = s3_client()
    try:
        text = decode(s3.get_object(Bucket=item.bucket, Key=item.key)["Body"].read(), name=item.key)
    except (s3.exceptions.NoSuchKey, ClientFileError) as err:
        logger.exception("shard %s is unreadable", item.key)
        raise ShardError(f"s3://{item.bucket}/{item.key}: cannot be read as clients ({err})") from err
    scored, tally = score_shard(item, text)
    s3.put_object(
        Bucket=item.output_bucket, Key=item.result_key, Body=scored.encode(), ContentType="text/csv"
    )
    summary = {"index": item.index, "result_key": item.result_key, "model_version": serving_model().version}
    summary |= asdict(tally)
    s3.put_object(Bucket=item.output_bucket, Key=item.summary_key, Body=json.dumps(summary).encode())
    return summary
