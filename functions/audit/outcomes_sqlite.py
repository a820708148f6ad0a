"""Outcomes and final decisions in the local decision log: two tables beside `decisions` in the same file.

Each call is one transaction: a refused batch (a conflict), a locked file or a corrupt one leaves nothing half
written, and the error names the file and the cause (`AuditUnavailableError`).
"""

import json
import sqlite3
from collections.abc import Sequence
from typing import Final

import numpy as np

from functions.audit.decision import SqliteDecisionLog
from functions.audit.outcomes import (
    FinalDecision,
    FinalExistsError,
    JoinedLog,
    Outcome,
    OutcomeReceipt,
    Stored,
    UnknownDecisionError,
    sort_outcomes,
)

GROUP_INPUTS: Final = ("sex", "marriage", "age")  # the inputs override analysis groups by
OUTCOME_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS outcomes (
    request_id TEXT PRIMARY KEY, defaulted INTEGER NOT NULL, observed_on TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS finals (
    request_id TEXT PRIMARY KEY, action TEXT NOT NULL, override_reason TEXT NOT NULL,
    reviewer_hash TEXT NOT NULL, hash_key_version TEXT NOT NULL, recorded_at TEXT NOT NULL
);
"""
JOINED: Final = """
SELECT substr(d.decided_at, 1, 7), d.model_version, d.probability_of_default, d.predicted_default,
       coalesce(o.defaulted, -1), coalesce(f.action, ''), coalesce(json_extract(d.bins, '$.sex'), -1),
       coalesce(json_extract(d.bins, '$.marriage'), -1), coalesce(json_extract(d.bins, '$.age'), -1)
FROM decisions d LEFT JOIN outcomes o USING (request_id) LEFT JOIN finals f USING (request_id)
WHERE d.decided_day BETWEEN ? AND ? AND d.synthetic = 0
"""  # the group bins, in GROUP_INPUTS order
STORED: Final = """
SELECT d.request_id, d.synthetic, o.defaulted, o.observed_on
FROM decisions d LEFT JOIN outcomes o USING (request_id)
WHERE d.request_id IN (SELECT value FROM json_each(?))
"""  # the keys travel as one JSON array parameter: no query text is built from them


class SqliteOutcomeLog(SqliteDecisionLog):
    """The local decision log with its outcomes and finals (the store `make run` and the commands use)."""

    def _stored(self, connection: sqlite3.Connection, keys: Sequence[str]) -> dict[str, Stored]:
        stored = {}
        rows = connection.execute(STORED, (json.dumps(sorted(set(keys))),)).fetchall()
        for key, synthetic, defaulted, observed_on in rows:
            outcome = None if defaulted is None else (bool(defaulted), str(observed_on))
            stored[str(key)] = Stored(synthetic=bool(synthetic), outcome=outcome)
        return stored

    def record_outcomes(self, outcomes: Sequence[Outcome]) -> OutcomeReceipt:
        """Record the new outcomes in one transaction; raise OutcomeConflictError writing nothing."""
        with self._connection() as connection:
            connection.executescript(OUTCOME_SCHEMA)
            receipt, new = sort_outcomes(outcomes, self._stored(connection, [o.key for o in outcomes]))
            connection.executemany(
                "INSERT INTO outcomes VALUES (?, ?, ?)",
                [(o.key, int(o.defaulted), o.observed_on) for o in new],
            )
        return receipt

    def record_final(self, final: FinalDecision) -> None:
        """Record a final decision; raise UnknownDecisionError or FinalExistsError."""
        with self._connection() as connection:
            connection.executescript(OUTCOME_SCHEMA)
            if (
                connection.execute("SELECT 1 FROM decisions WHERE request_id = ?", (final.key,)).fetchone()
                is None
            ):
                raise UnknownDecisionError(final.key)
            try:
                connection.execute(
                    "INSERT INTO finals VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        final.key,
                        final.action,
                        final.override_reason,
                        final.reviewer_hash,
                        final.hash_key_version,
                        final.recorded_at,
                    ),
                )
            except sqlite3.IntegrityError as err:
                raise FinalExistsError(final.key) from err

    def read_joined(self, *, since_day: str, until_day: str) -> JoinedLog:
        """Return the non-synthetic decisions of these UTC days joined to their outcomes and finals."""
        with self._connection() as connection:
            connection.executescript(OUTCOME_SCHEMA)
            rows = connection.execute(JOINED, (since_day, until_day)).fetchall()
        return to_joined(rows)


def to_joined(rows: Sequence[tuple[object, ...]]) -> JoinedLog:
    """Turn rows of (month, version, PD, predicted default, outcome, action, group bins...) into columns."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * (6 + len(GROUP_INPUTS))
    return JoinedLog(
        month=np.asarray(columns[0], dtype=str),
        model_version=np.asarray(columns[1], dtype=str),
        probability_of_default=np.asarray(columns[2], dtype=np.float64),
        predicted_default=np.asarray(columns[3], dtype=bool),
        outcome=np.asarray(columns[4], dtype=np.int8),
        final_action=np.asarray(columns[5], dtype=str),
        groups={name: np.asarray(columns[6 + i], dtype=np.int64) for i, name in enumerate(GROUP_INPUTS)},
    )
