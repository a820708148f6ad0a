"""The credit strategy's part of a decision record: decision, rule or band, line action, EL, strategy version, arm,
and the caller's client reference as a keyed hash only (docs/strategy.md). Both stores keep the same fields.
"""

import hashlib
import hmac
import sqlite3
from collections.abc import Sequence
from dataclasses import astuple, dataclass, fields
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:  # records only carry the outcomes' values: the drift job need not load the engine or PyYAML
    from functions.scoring.strategy.engine import Outcomes


@dataclass(frozen=True)
class StrategyRecord:
    """What the strategy decided for one client, as recorded (money in NT$)."""

    decision: str
    decided_by: str
    line_action: str
    line_percent: float
    new_limit: float
    expected_loss: float
    strategy_version: str
    arm: str
    client_reference_hash: str | None = None  # HMAC-SHA256 of the client reference under the audit key


FIELDS: Final = tuple(field.name for field in fields(StrategyRecord))
_TEXT: Final = {"decision", "decided_by", "line_action", "strategy_version", "arm", "client_reference_hash"}
SQLITE_COLUMNS: Final = tuple(f"{name} {'TEXT' if name in _TEXT else 'REAL'}" for name in FIELDS)


def reference_hash(reference: str, *, key: bytes) -> str:
    """Return the hex HMAC-SHA256 of a client reference (the reference itself is never stored)."""
    return hmac.new(key, b"client_reference:" + reference.encode(), hashlib.sha256).hexdigest()


def strategy_records(
    outcomes: "Outcomes", client_references: Sequence[str | None], *, key: bytes
) -> list[StrategyRecord]:
    """Return one record per row of the strategy's outcomes, with each client reference hashed under `key`."""
    return [
        StrategyRecord(
            decision=row["decision"],
            decided_by=row["decided_by"],
            line_action=row["line_action"],
            line_percent=row["line_percent"],
            new_limit=row["new_limit"],
            expected_loss=row["expected_loss"],
            strategy_version=row["strategy_version"],
            arm=row["arm"],
            client_reference_hash=None if reference is None else reference_hash(reference, key=key),
        )
        for row, reference in zip(outcomes.records(), client_references, strict=True)
    ]


def to_attributes(record: StrategyRecord, number: Any) -> dict[str, Any]:
    """Return the DynamoDB attributes of a strategy record; `number` renders a number attribute."""
    return {
        name: ({"S": value} if name in _TEXT else number(float(value)))
        for name, value in zip(FIELDS, astuple(record), strict=True)
        if value is not None
    }


def to_columns(record: StrategyRecord | None) -> tuple[object, ...]:
    """Return the SQLite columns of a strategy record (all NULL for a decision recorded without a strategy)."""
    return (None,) * len(FIELDS) if record is None else astuple(record)


def add_columns(connection: sqlite3.Connection) -> None:
    """Add the strategy's columns to a decision log written before them (existing rows keep NULL)."""
    present = {row[1] for row in connection.execute("PRAGMA table_info(decisions)")}
    for name, column in zip(FIELDS, SQLITE_COLUMNS, strict=True):
        if name not in present:
            connection.execute(f"ALTER TABLE decisions ADD COLUMN {column}")
