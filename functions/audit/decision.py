"""The decision record, the store protocol both decision stores follow, and the embedded SQLite log.

One record per decision: ids, time, model version, an HMAC of the applicant's canonical JSON (never the
inputs), the answer, whether the request was synthetic (deploy hook, smoke test), and each input's and the
score's reference bin index (`functions.monitoring.psi.bin_index`), which is all the drift job reads. DynamoDB
(`functions.audit.stores`) stores it on AWS; `SqliteDecisionLog` stores the same record in a local file (`make run`).
"""

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol

import numpy as np
import numpy.typing as npt

from functions.scoring.bins import row_bins
from functions.scoring.contract import Applicant
from functions.scoring.manifest_parts import ReferenceDistributions
from functions.telemetry import logger

if TYPE_CHECKING:  # the record only carries a Decision: the drift job need not load the model's code
    from functions.scoring.model import Decision

HASH_METHOD: Final = "HMAC-SHA256 of the applicant's canonical JSON"
Bins = Mapping[str, int]  # reference bin index per contract input name and for "score"


def canonical_bytes(applicant: Applicant) -> bytes:
    """Return the bytes the audit hash covers: the validated inputs as compact JSON, contract order, UTF-8.

    Amounts are floats and codes ints as the contract types them, so `200000` and `200000.0` hash alike.
    """
    return applicant.model_dump_json().encode()


class AuditUnavailableError(RuntimeError):
    """A decision could not be recorded; the message names the cause without secrets or inputs."""


@dataclass(frozen=True)
class DecisionRecord:
    """One recorded decision: keys, time (ISO 8601 UTC) and its UTC day, hashed inputs, answer, bins."""

    key: str  # request id, or `<request id>#<index>` in a batch
    request_id: str
    decided_at: str
    model_version: str
    input_hash: str
    hash_key_version: str
    decision: "Decision"
    batch_index: int | None = None
    synthetic: bool = False
    bins: Bins | None = None  # None when the model's manifest has no reference distributions

    @property
    def day(self) -> str:
        """Return the UTC day of the decision (YYYY-MM-DD), the drift job's partition."""
        return self.decided_at[:10]


@dataclass(frozen=True)
class StoredBins:
    """What the drift job reads of one decision: model version, synthetic flag and reference bins."""

    model_version: str
    synthetic: bool
    bins: Bins | None


class DecisionStore(Protocol):
    """Where decisions are recorded and read back by UTC day (DynamoDB on AWS, SQLite on a laptop)."""

    def write(self, records: Sequence[DecisionRecord], *, deadline: float | None) -> None:
        """Record every decision before `deadline` (time.monotonic seconds), or raise AuditUnavailableError."""
        ...

    def read_day(self, day: str, *, since: str) -> Iterator[StoredBins]:
        """Yield the bins of the decisions of one UTC day (YYYY-MM-DD) taken at or after `since` (ISO)."""
        ...


def decision_bins(
    raw: npt.NDArray[np.float64], scores: Sequence[int], reference: ReferenceDistributions | None
) -> list[dict[str, int]] | None:
    """Return each row's reference bin per input and for the score (rows x 23 raw inputs), or None without bins."""
    if reference is None:
        return None
    return row_bins(raw, np.asarray(scores, dtype=np.float64), reference)


@lru_cache(maxsize=8)
def note_missing_reference(model_version: str) -> None:
    """Log once per model version that decisions are recorded without bins (no drift monitoring)."""
    logger.warning(
        "the model's manifest has no reference distributions: decisions are recorded without bins, "
        "so the drift job has nothing to compare; retrain to freeze them",
        extra={"model_version": model_version},
    )


SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS decisions (
    request_id TEXT PRIMARY KEY, api_request_id TEXT NOT NULL, decided_at TEXT NOT NULL,
    decided_day TEXT NOT NULL, model_version TEXT NOT NULL, input_hash TEXT NOT NULL,
    input_hash_method TEXT NOT NULL, hash_key_version TEXT NOT NULL, probability_of_default REAL NOT NULL,
    threshold REAL NOT NULL, score INTEGER NOT NULL, risk_grade TEXT NOT NULL,
    predicted_default INTEGER NOT NULL, reasons TEXT NOT NULL, batch_index INTEGER,
    synthetic INTEGER NOT NULL, bins TEXT
);
CREATE INDEX IF NOT EXISTS decisions_by_day ON decisions (decided_day, decided_at);
"""
INSERT: Final = (
    "INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"  # 17 columns
)


def to_row(record: DecisionRecord) -> tuple[object, ...]:
    """Flatten a record into the SQLite table's columns (reasons and bins as JSON text)."""
    d = record.decision
    reasons = [{"code": r.code, "text": r.text, "impact": r.impact} for r in d.reasons]
    return (
        record.key,
        record.request_id,
        record.decided_at,
        record.day,
        record.model_version,
        record.input_hash,
        HASH_METHOD,
        record.hash_key_version,
        d.probability_of_default,
        d.threshold,
        d.score,
        d.risk_grade,
        int(d.predicted_default),
        json.dumps(reasons),
        record.batch_index,
        int(record.synthetic),
        None if record.bins is None else json.dumps(dict(record.bins)),
    )


class SqliteDecisionLog:
    """The decision store of local runs: one SQLite file, one transaction per request, no overwrite."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(self.path, timeout=5)) as connection:
                connection.executescript(SCHEMA)
                with connection:  # one transaction: all records of a request, or none
                    yield connection
        except (OSError, sqlite3.Error) as err:
            raise AuditUnavailableError(f"the decision log {self.path} refused the write ({err})") from err

    def write(self, records: Sequence[DecisionRecord], *, deadline: float | None) -> None:
        """Insert every record in one transaction (an existing key is an error); the deadline is not needed."""
        with self._connection() as connection:
            connection.executemany(INSERT, [to_row(r) for r in records])

    def read_day(self, day: str, *, since: str) -> Iterator[StoredBins]:
        """Yield the bins of one UTC day's decisions taken at or after `since`."""
        query = (
            "SELECT model_version, synthetic, bins FROM decisions WHERE decided_day = ? AND decided_at >= ?"
        )
        with self._connection() as connection:
            rows = connection.execute(query, (day, since)).fetchall()
        for version, synthetic, bins in rows:
            yield StoredBins(
                model_version=str(version),
                synthetic=bool(synthetic),
                bins=None if bins is None else json.loads(bins),
            )
